#!/usr/bin/env bash
# The framework comparison of the EdgeReasoning study, on this machine: the same GSM8K slice and
# bench test through edgereason in-process, `edgereason serve` and llama.cpp's server
# (llama-cpp-python's llama_cpp.server: same GGUF, same threads), on loopback, A/B-alternated,
# then both servers under load. Writes the table to OUT/compare.md (bench/compare_engines.py).
#
#   scripts/compare-engines.sh                      # SmolLM2, 10 questions, 2 rounds
#   scripts/compare-engines.sh --quick --check      # CI: 3 questions, 1 round, fails on any failure
#   scripts/compare-engines.sh --model qwen2.5-coder-1.5b --questions 20 --rounds 3
#   scripts/compare-engines.sh --benchmarks         # also puts the table in BENCHMARKS.md
#
# Options are bench/compare_engines.py's (--help), plus --quick, --benchmarks and --bin PATH.
# Needs build/bin/edgereason (scripts/setup.sh), an installed model (scripts/get-models.sh) and
# llama-cpp-python with its server (scripts/llamacpp-venv.sh --server, built here when missing:
# about 6 minutes on 2 cores). Nothing else may run meanwhile: timings are compared.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

args=()
benchmarks=0
for arg in "$@"; do
  case "$arg" in
    --quick) args+=(--questions 3 --rounds 1 --reps 1 --n-predict 48 --pg 64,32 --num-prompts 4 --out bench/results/compare-engines-quick) ;;
    --benchmarks) benchmarks=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; python3 bench/compare_engines.py --llamacpp-python x --help | sed -n '/^options:/,$p'; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

# On a CPU with AMX, llama-cpp-python's native build crashes on multi-token prompts (see
# scripts/llamacpp-venv.sh): build it without AMX from the start rather than twice.
venv_args=(--server)
grep -qw amx_int8 /proc/cpuinfo 2>/dev/null && venv_args+=(--no-amx)
py=$(scripts/llamacpp-venv.sh "${venv_args[@]}")
echo "compare-engines: llama.cpp: $(scripts/llamacpp-venv.sh --describe)" >&2
out=$(python3 bench/compare_engines.py --llamacpp-python "$py" "${args[@]}")
echo "$out"

if [ "$benchmarks" = 1 ]; then
  # Replaces the section between the markers in BENCHMARKS.md with this run's table.
  python3 - "$out" "$(scripts/llamacpp-venv.sh --describe)" <<'PY'
import re, sys, datetime
table, build = sys.argv[1], sys.argv[2]
path = "BENCHMARKS.md"
text = open(path).read()
begin, end = "<!-- compare-engines:begin -->", "<!-- compare-engines:end -->"
body = (f"{begin}\nMeasured {datetime.date.today().isoformat()} with `scripts/compare-engines.sh`; {build}.\n\n"
        f"{table.strip()}\n{end}")
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: body, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Engines compared: in-process, serve, llama.cpp's server\n\n" + body + "\n"
open(path, "w").write(text)
print("compare-engines: BENCHMARKS.md updated", file=sys.stderr)
PY
fi
