#!/usr/bin/env python3
"""The study's framework comparison on this machine: one model, three ways of serving it.

  in-process   edgereason's engine called directly (eval -m, bench -m)
  serve        edgereason serve, measured through the client backend (--backend openai:URL)
  llama.cpp    llama-cpp-python's llama_cpp.server (same GGUF, same threads), through the client

Each round runs every engine on the same GSM8K slice (greedy, eval) and the same bench test
(--pg P,G), in an order that rotates from round to round (A/B alternation, so drift in the machine's
speed lands on every engine alike). Then a load test of both servers (bench --concurrency). The
table: accuracy, TTFT, TPOT, tok/s (medians over rounds), the HTTP overhead (serve vs in-process),
how often the engines' greedy answers agree, and the servers under load.

Usage: scripts/compare-engines.sh [options]   (it finds llama-cpp-python's venv and calls this)
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, what, timeout=180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"compare-engines: {what} exited ({proc.returncode}) before it was ready; see its log")
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.5)
    sys.exit(f"compare-engines: {what} was not ready after {timeout} s")


def run(cmd, log):
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    if p.returncode != 0:
        sys.exit(f"compare-engines: command failed ({p.returncode}): {' '.join(cmd)} (see {log.name})")
    return p.stdout


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin/edgereason")
    ap.add_argument("--llamacpp-python", required=True, help="python of the venv with llama_cpp.server")
    ap.add_argument("--model", default="smollm2", help="installed name or .gguf path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--questions", type=int, default=10, help="GSM8K questions per engine and round")
    ap.add_argument("--n-predict", type=int, default=128)
    ap.add_argument("--pg", default="128,64", help="bench test PROMPT,GEN")
    ap.add_argument("--reps", type=int, default=3, help="bench repetitions per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", default="1,2", help="load test LIST ('' for none)")
    ap.add_argument("--num-prompts", type=int, default=8)
    ap.add_argument("--out", default="bench/results/compare-engines")
    ap.add_argument("--check", action="store_true",
                    help="fail unless every engine answered every question and in-process and serve agree (CI)")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "compare.log"), "w")
    er = os.path.abspath(a.bin)
    model_path = os.path.abspath(json.loads(run([er, "info", "-m", a.model, "--json"], log))["path"])
    name = os.path.splitext(os.path.basename(model_path))[0]

    p_serve, p_lcpp = free_port(), free_port()
    serve_log = open(os.path.join(a.out, "serve.log"), "w")
    lcpp_log = open(os.path.join(a.out, "llamacpp-server.log"), "w")
    procs = []
    try:
        procs.append(subprocess.Popen([er, "serve", "-m", model_path, "--port", str(p_serve), "-t", str(a.threads),
                                       "--parallel", "2", "-c", "2048", "--power", "none"],
                                      stdout=serve_log, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([a.llamacpp_python, "-m", "llama_cpp.server", "--model", model_path,
                                       "--model_alias", name, "--port", str(p_lcpp), "--n_threads", str(a.threads),
                                       "--n_threads_batch", str(a.threads), "--n_ctx", "2048",
                                       # by default a new request cancels the one being served; a server under
                                       # load must queue them instead
                                       "--interrupt_requests", "False"],
                                      stdout=lcpp_log, stderr=subprocess.STDOUT))
        u_serve, u_lcpp = f"http://127.0.0.1:{p_serve}", f"http://127.0.0.1:{p_lcpp}"
        wait_ready(u_serve, procs[0], "edgereason serve")
        wait_ready(u_lcpp, procs[1], "llama_cpp.server")

        engines = {
            "in-process": {"eval": ["-m", model_path, "-t", str(a.threads)], "bench": ["-m", model_path, "-t", str(a.threads)]},
            "serve": {"eval": ["--backend", "openai:" + u_serve, "--flavor", "edgereason"],
                      "bench": ["--backend", "openai:" + u_serve, "--flavor", "edgereason"]},
            "llama.cpp": {"eval": ["--backend", "openai:" + u_lcpp, "--flavor", "llamacpp"],
                          "bench": ["--backend", "openai:" + u_lcpp, "--flavor", "llamacpp"]},
        }
        order = list(engines)
        res = {e: {"acc": [], "ttft": [], "tpot": [], "ts": [], "answers": {}, "failed": 0, "e2e": [],
                   "server": ""} for e in order}
        for rnd in range(a.rounds):
            rot = order[rnd % len(order):] + order[:rnd % len(order)]
            print(f"compare-engines: round {rnd + 1}/{a.rounds}: {', '.join(rot)}", file=sys.stderr)
            for e in rot:
                out = os.path.join(a.out, f"eval-{e}-{rnd}.jsonl")
                summ = os.path.join(a.out, f"eval-{e}-{rnd}.json")
                run([er, "eval", *engines[e]["eval"], "--dataset", "gsm8k", "--limit", str(a.questions),
                     "-n", str(a.n_predict), "--temp", "0", "--power", "none", "--no-progress",
                     "-o", out, "--overwrite", "--summary-json", summ], log)
                s = json.load(open(summ))
                res[e]["acc"].append(s["accuracy"])
                res[e]["failed"] += s.get("n_failed", 0)
                res[e]["e2e"].append(s["e2e_ms"]["p50"])
                for line in open(out):
                    j = json.loads(line)
                    if j.get("record") == "config":
                        res[e]["server"] = j["config"].get("server_version", "in-process")
                    if j.get("record") == "question":
                        res[e]["answers"][j["id"]] = j["paths"][0].get("answer_text", "")
                recs = run([er, "bench", *engines[e]["bench"], "--pg", a.pg, "-p", "0", "-n", "0", "-r", str(a.reps),
                            "--warmup", "1", "--power", "none", "-o", "jsonl"], log)
                for line in recs.splitlines():
                    r = json.loads(line)
                    res[e]["ts"].append(r["median_ts"])
                    res[e]["ttft"].append(r["ttft_ms"])
                    res[e]["tpot"].append(r["tpot_ms"])

        load = []
        if a.concurrency:
            for e, u, flavor in (("serve", u_serve, "edgereason"), ("llama.cpp", u_lcpp, "llamacpp")):
                recs = run([er, "bench", "--backend", "openai:" + u, "--flavor", flavor, "--pg", a.pg, "-p", "0", "-n", "0",
                            "--concurrency", a.concurrency, "--num-prompts", str(a.num_prompts), "--power", "none",
                            "-o", "jsonl"], log)
                for line in recs.splitlines():
                    r = json.loads(line)
                    load.append((e, r))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    ip = res["in-process"]
    lines = []
    host = ""
    try:
        host = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        host = next((l.split(":", 1)[1].strip() for l in host.splitlines() if l.startswith("Model name")), "")
    except Exception:
        pass
    lines.append(f"Model {name} ({os.path.basename(model_path)}), {a.threads} threads each, GSM8K first {a.questions} "
                 f"questions greedy (-n {a.n_predict}), bench --pg {a.pg}, {a.rounds} A/B-alternated round(s) of "
                 f"{a.reps} repetitions; CPU: {host or 'unknown'}.")
    lines.append("")
    lines.append("| engine | server | accuracy | answers equal to in-process | failed | TTFT ms | TPOT ms | tok/s | e2e p50 ms (eval) |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for e in order:
        r = res[e]
        same = sum(1 for q, t in r["answers"].items() if ip["answers"].get(q) == t)
        lines.append(f"| {e} | {r['server']} | {fmt(100 * med(r['acc']))}% | {same}/{len(r['answers'])} | {r['failed']} | "
                     f"{fmt(med(r['ttft']))} | {fmt(med(r['tpot']), '.2f')} | {fmt(med(r['ts']), '.2f')} | {fmt(med(r['e2e']), '.0f')} |")
    sv = res["serve"]
    if med(ip["ttft"]) is not None and med(sv["ttft"]) is not None:
        lines.append("")
        lines.append(f"HTTP overhead (serve vs in-process, same engine): TTFT {med(sv['ttft']) - med(ip['ttft']):+.1f} ms, "
                     f"TPOT {med(sv['tpot']) - med(ip['tpot']):+.2f} ms, tok/s ratio {med(sv['ts']) / med(ip['ts']):.3f}.")
    if load:
        lines.append("")
        lines.append("| server under load | concurrency | requests (failed) | tokens / request | req/s | output tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | e2e p50 ms |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for e, r in load:
            per = r['output_throughput'] / r['request_throughput'] if r['request_throughput'] else None
            lines.append(f"| {e} | {r['concurrency']} | {r['n_requests']} ({r['n_failed']}) | {fmt(per, '.1f')} | {fmt(r['request_throughput'], '.2f')} | "
                         f"{fmt(r['output_throughput'], '.1f')} | {fmt(r['ttft_p50_ms'])} / {fmt(r['ttft_p99_ms'])} | "
                         f"{fmt(r['tpot_p50_ms'], '.2f')} / {fmt(r['tpot_p99_ms'], '.2f')} | {fmt(r['e2e_p50_ms'], '.0f')} |")
        lines.append("")
        lines.append("`edgereason serve --parallel 4` decodes concurrent requests in one batch; llama-cpp-python's server "
                     "serves one request at a time (started with `--interrupt_requests False` so that a new request "
                     "queues instead of cancelling the one being served).")
    table = "\n".join(lines) + "\n"
    open(os.path.join(a.out, "compare.md"), "w").write(table)
    print(table)

    if a.check:
        problems = []
        for e in order:
            if res[e]["failed"] or len(res[e]["answers"]) != a.questions:
                problems.append(f"{e}: {len(res[e]['answers'])} of {a.questions} answered, {res[e]['failed']} failed")
        if res["serve"]["answers"] != ip["answers"]:
            problems.append("serve's greedy answers differ from the in-process engine's (same engine: they must be equal)")
        if med(res["serve"]["acc"]) != med(ip["acc"]):
            problems.append("serve's accuracy differs from the in-process engine's")
        for e, r in load:
            if r["n_failed"]:
                problems.append(f"{e} under load: {r['n_failed']} failed requests")
        if problems:
            sys.exit("compare-engines: check failed:\n  " + "\n  ".join(problems))
        print("compare-engines: check passed", file=sys.stderr)


if __name__ == "__main__":
    main()
