#!/usr/bin/env python3
"""Aggregate decode throughput of an OpenAI-compatible server under K concurrent clients.

Each of K client threads sends R chat requests back to back (greedy, max_tokens tokens, a
different prompt per client); the aggregate rate is the completion tokens of all requests over
the wall time from the first request to the last answer. Rounds alternate K = 1, 2, 4, ... so
machine noise hits every K alike; the table reports the median aggregate rate per K and its
ratio to K = 1.

With --fixed-length every request sets ignore_eos, so each decodes exactly max_tokens tokens
(the method of vLLM's serving benchmarks): the rate is then the server's capacity at K clients.
Without it, requests end at their end-of-sequence token, so the round's wall time is that of the
client whose answers happen to be longest, and K clients share passes only while all of them are
still decoding.

  python3 bench/serve_concurrency.py --base-url http://127.0.0.1:8080 [--clients 1,2,4]
      [--requests 3] [--max-tokens 128] [--rounds 3] [--fixed-length] [--json]

Standard library only (urllib), so it runs wherever the server's users are.
"""
import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request

PROMPTS = [
    "Write a short story about a robot that learns to paint.",
    "Explain how a bicycle stays upright, step by step.",
    "Describe the water cycle to a ten-year-old.",
    "List the steps to bake bread at home, with reasons.",
    "Tell the history of the printing press in a few paragraphs.",
    "Explain what a prime number is and give examples.",
    "Describe a day in the life of a lighthouse keeper.",
    "Explain why the sky is blue in simple words.",
]


def ask(base, prompt, max_tokens, key, fixed_length=False):
    req_body = {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if fixed_length:
        req_body["ignore_eos"] = True
    body = json.dumps(req_body).encode()
    req = urllib.request.Request(base + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    if key:
        req.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(req, timeout=600) as r:
        j = json.load(r)
    return j["usage"]["completion_tokens"]


def one_round(base, k, n_requests, max_tokens, key, fixed_length):
    tokens = [0] * k
    errors = []

    def client(i):
        try:
            for r in range(n_requests):
                tokens[i] += ask(base, PROMPTS[(i + r) % len(PROMPTS)], max_tokens, key, fixed_length)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            errors.append(f"client {i}: {e}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(k)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError("; ".join(errors))
    return sum(tokens) / wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", default="1,2,4")
    ap.add_argument("--requests", type=int, default=3, help="requests per client per round")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--fixed-length", action="store_true",
                    help="ignore_eos on every request: each decodes exactly --max-tokens tokens")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    ks = [int(x) for x in a.clients.split(",")]
    rates = {k: [] for k in ks}
    ask(a.base_url, "Hello", 8, a.api_key)  # warm-up
    for rnd in range(a.rounds):
        for k in ks:
            rates[k].append(one_round(a.base_url, k, a.requests, a.max_tokens, a.api_key, a.fixed_length))
            print(f"round {rnd + 1}: {k} client(s): {rates[k][-1]:.1f} tok/s", file=sys.stderr)
    base = statistics.median(rates[ks[0]])
    rows = [{"clients": k, "median_tok_s": statistics.median(rates[k]),
             "ratio": statistics.median(rates[k]) / base, "rounds": rates[k]} for k in ks]
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print("| clients | aggregate tok/s (median) | vs 1 client |")
        print("|---:|---:|---:|")
        for r in rows:
            print(f"| {r['clients']} | {r['median_tok_s']:.1f} | {r['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
