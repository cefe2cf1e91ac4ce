#!/usr/bin/env python3
"""Prints the markdown table of docs/eval-results.md from the files scripts/eval-smollm2.sh writes.

Usage: scripts/eval-table.py [DIR]   (default bench/results/eval)
Per run: accuracy with its Wilson 95% interval (from eval's summary), any-path accuracy (a question
counts when at least one path's answer is correct: the ceiling a vote could reach), mean thinking
and answer tokens, mean / p50 / p90 latency per question and estimated joules per question.
"""
import json
import pathlib
import sys

RUNS = ["gsm8k-greedy", "gsm8k-budget64", "gsm8k-budget128", "gsm8k-budget256",
        "gsm8k-t0.6-n1", "gsm8k-t0.6-n4", "gsm8k-t0.6-n8", "mmlu-greedy"]


def main() -> int:
    d = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/eval")
    print("| run | correct | accuracy (95% CI) | any path correct | thinking tok | answer tok | "
          "latency mean / p50 / p90 (s) | J/question (est.) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in RUNS:
        sp, rp = d / f"{name}.summary.json", d / f"{name}.jsonl"
        if not sp.exists():
            print(f"| {name} | not run | | | | | | |")
            continue
        s = json.loads(sp.read_text())
        any_ok = n = 0
        for line in rp.read_text().splitlines():
            r = json.loads(line)
            if r.get("record") != "question":
                continue
            n += 1
            any_ok += any(p.get("correct") for p in r.get("paths", [])) or bool(r.get("correct"))
        lo, hi = s["accuracy_ci95"]
        e = s["e2e_ms"]
        print(f"| {name} | {s['n_correct']}/{s['n_graded']} | {100 * s['accuracy']:.0f}% "
              f"({100 * lo:.1f}–{100 * hi:.1f}%) | {any_ok}/{n} | {s['thinking_tokens']['mean']:.0f} | "
              f"{s['answer_tokens']['mean']:.0f} | {e['mean'] / 1e3:.2f} / {e['p50'] / 1e3:.2f} / "
              f"{e['p90'] / 1e3:.2f} | {s['joules_per_question']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
