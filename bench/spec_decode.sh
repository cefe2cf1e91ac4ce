#!/usr/bin/env bash
# Speculative decoding, measured: decode tok/s on GSM8K reasoning traces with and without it, per
# method, in one run with the configurations alternated question block by question block (so
# machine noise hits each alike). Greedy, one path, 2 threads: plain, --spec ngram, --draft DRAFT,
# and (`--methods ngram-fixed`) n-gram lookup without its adaptive draft length
# (EDGEREASON_NGRAM_ADAPT=0: every match of 2+ tokens drafts up to K).
# Reports per method: decode tok/s (generated tokens / decode time over all questions), the ratio
# to plain, the acceptance rate, tokens per decode step, and whether every answer's tokens equal
# plain decoding's (they must: greedy speculation is exact).
#
#   bench/spec_decode.sh [-m MODEL] [--draft DRAFT] [--questions N] [--blocks B] [-n MAX_TOKENS]
#       [--draft-max K] [-t THREADS] [--methods ngram,draft] [--out DIR]
# A method may carry its own K: --methods ngram:4,ngram-fixed:1.
# Defaults: -m qwen2.5-coder-1.5b --draft qwen2.5-coder-0.5b --questions 10 --blocks 2 -n 320
# --draft-max 4 -t 2 --methods ngram,draft (plain always runs). Needs build/bin/edgereason (or
# $EDGEREASON_BIN) and the models installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${EDGEREASON_BIN:-$here/build/bin/edgereason}
model=qwen2.5-coder-1.5b draft=qwen2.5-coder-0.5b questions=10 blocks=2 n=320 kmax=4 threads=2 out="" spec=ngram,draft
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model=$2; shift 2 ;;
    --draft) draft=$2; shift 2 ;;
    --questions) questions=$2; shift 2 ;;
    --blocks) blocks=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    --draft-max) kmax=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --methods) spec=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "spec_decode: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "spec_decode: no $bin (build first)" >&2; exit 1; }
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/spec-decode.XXXXXX")
mkdir -p "$out"
per=$(( (questions + blocks - 1) / blocks ))
methods=(plain)
declare -A ks=()
for mk in ${spec//,/ }; do
  m=${mk%%:*}
  if [ "$m" != "$mk" ]; then ks[$m]=${mk#*:}; else ks[$m]=$kmax; fi
  case "$m" in
    ngram|ngram-fixed|draft) methods+=("$m") ;;
    *) echo "spec_decode: unknown method '$m' in --methods (ngram, ngram-fixed, draft)" >&2; exit 2 ;;
  esac
done
for ((b = 0; b < blocks; b++)); do
  off=$((b * per))
  for m in "${methods[@]}"; do
    flags=()
    envs=()
    case "$m" in
      ngram) flags=(--spec ngram --draft-max "${ks[$m]}") ;;
      ngram-fixed) flags=(--spec ngram --draft-max "${ks[$m]}") envs=(EDGEREASON_NGRAM_ADAPT=0) ;;
      draft) flags=(--draft "$draft" --draft-max "${ks[$m]}") ;;
    esac
    echo "spec_decode: block $((b + 1))/$blocks, $m: questions $off..$((off + per - 1))" >&2
    env "${envs[@]}" "$bin" eval -m "$model" --dataset gsm8k --offset "$off" --limit "$per" --temp 0 -n "$n" -t "$threads" \
      --power none --no-progress --overwrite -o "$out/$m.$b.jsonl" "${flags[@]}" >/dev/null
  done
done
kspec=""
for m in "${!ks[@]}"; do kspec+="$m=${ks[$m]} "; done
python3 - "$out" "$blocks" "$model" "$draft" "$kspec" "${methods[*]}" <<'PY'
import json, sys, glob
out, blocks, model, draft = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ks = dict(kv.split("=") for kv in sys.argv[5].split())
methods = sys.argv[6].split()
def load(m):
    recs = {}
    for b in range(blocks):
        for line in open(f"{out}/{m}.{b}.jsonl"):
            r = json.loads(line)
            if r.get("record") == "question":
                recs[r["id"]] = r
    return recs
plain = load("plain")
def stats(recs):
    toks = sum(sum(p["thinking_tokens"] + p["answer_tokens"] for p in r["paths"]) - len(r["paths"]) for r in recs.values())
    dec = sum(r["decode_ms"] for r in recs.values()) / 1000
    d = sum((r.get("speculative") or {}).get("drafted", 0) for r in recs.values())
    a = sum((r.get("speculative") or {}).get("accepted", 0) for r in recs.values())
    steps = sum((r.get("speculative") or {}).get("decode_steps", 0) for r in recs.values())
    return toks, dec, d, a, steps
pt, pd, _, _, _ = stats(plain)
print(f"| method | questions | decode tok/s | vs plain | drafted | accepted | acceptance | tokens/step | answers = plain |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
print(f"| plain | {len(plain)} | {pt/pd:.2f} | 1.00 | — | — | — | 1.00 | — |")
for m, label in (("ngram", "ngram (K={})"), ("ngram-fixed", "ngram, fixed length (K={})"),
                 ("draft", f"draft {draft} (K={{}})")):
    if m not in methods:
        continue
    label = label.format(ks[m])
    recs = load(m)
    t, d, dr, ac, steps = stats(recs)
    key = lambda r: [(p.get("thinking_text"), p.get("answer_text"), p["thinking_tokens"], p["answer_tokens"])
                     for p in r["paths"]]
    same = sum(1 for k, r in recs.items() if k in plain and key(r) == key(plain[k]))
    tps = t / d
    print(f"| {label} | {len(recs)} | {tps:.2f} | {tps/(pt/pd):.2f} | {dr} | {ac} | {ac/dr if dr else 0:.1%} | "
          f"{t/steps if steps else 0:.2f} | {same}/{len(recs)} |")
print(f"\n{model}, greedy, {blocks} blocks alternated; records in {out}")
PY
