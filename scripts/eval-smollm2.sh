#!/usr/bin/env bash
# Reproduces the accuracy runs of docs/eval-results.md: SmolLM2 on the first 100 GSM8K questions
# (greedy: unlimited thinking and --think-budget 64/128/256; T = 0.6 with N = 1, 4, 8 paths and a
# majority vote, at most 512 tokens per path) and on the first 100 MMLU-STEM questions (greedy).
# Usage: scripts/eval-smollm2.sh [-m MODEL] [--limit K] [--out DIR] [--only NAME...]
#   Writes DIR/<run>.jsonl (per question) and DIR/<run>.summary.json; default DIR bench/results/eval.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${EDGEREASON_BIN:-$here/build/bin/edgereason}
model=smollm2 limit=100 out=$here/bench/results/eval only=()
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model=${2:?}; shift ;;
    --limit) limit=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    --only) shift; only=("$@"); break ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "eval-smollm2: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "eval-smollm2: $bin not built (cmake --build build)" >&2; exit 2; }
mkdir -p "$out"
common=(-m "$model" --limit "$limit" -t 2 --no-text --no-progress)
greedy=(--temp 0 -n 1024)
sampled=(--temp 0.6 --top-p 0.95 --top-k 0 --min-p 0 --seed 1 -n 512)
runs=(
  "gsm8k-greedy|--dataset gsm8k ${greedy[*]}"
  "gsm8k-budget64|--dataset gsm8k ${greedy[*]} --think-budget 64 --answer-budget 32"
  "gsm8k-budget128|--dataset gsm8k ${greedy[*]} --think-budget 128 --answer-budget 32"
  "gsm8k-budget256|--dataset gsm8k ${greedy[*]} --think-budget 256 --answer-budget 32"
  "gsm8k-t0.6-n1|--dataset gsm8k ${sampled[*]} --paths 1"
  "gsm8k-t0.6-n4|--dataset gsm8k ${sampled[*]} --paths 4"
  "gsm8k-t0.6-n8|--dataset gsm8k ${sampled[*]} --paths 8"
  "mmlu-greedy|--dataset mmlu_stem ${greedy[*]}"
)
for r in "${runs[@]}"; do
  name=${r%%|*} args=${r#*|}
  if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
  echo "== $name: edgereason eval ${common[*]} $args" >&2
  # shellcheck disable=SC2086
  "$bin" eval "${common[@]}" $args -o "$out/$name.jsonl" --overwrite --summary-json "$out/$name.summary.json"
done
