#!/usr/bin/env bash
# `edgereason quantize` against llama.cpp's quantizer (tests/quantize/compare_llamacpp.py): every
# target, llama.cpp's mix and --pure, from an F16 SmolLM2 made by our quantize; tensor types,
# tensor bytes and metadata identical, and llama.cpp loads our outputs with logits agreeing with
# ours. About 3 minutes on 2 cores.
#
#   scripts/compare-quantize.sh [--bin build/bin/edgereason] [--types q4_k_m,q8_0] [--no-logits]
#
# Needs the llama-cpp-python venv (scripts/llamacpp-venv.sh; $EDGEREASON_LLAMACPP_VENV or
# ~/.cache/edgereason/llamacpp-venv) and models/smollm2.gguf; without either it says so and
# exits 0 (skipped), unless --require is given.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

bin=build/bin/edgereason
require=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=${2:?}; shift ;;
    --require) require=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

skip() {
  if [ "$require" = 1 ]; then echo "compare-quantize: $1" >&2; exit 1; fi
  echo "compare-quantize: skipped: $1" >&2
  exit 0
}
venv=${EDGEREASON_LLAMACPP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/edgereason/llamacpp-venv}
py=$venv/bin/python
[ -x "$py" ] || skip "no llama-cpp-python venv at $venv (scripts/llamacpp-venv.sh makes it)"
"$py" -c 'import llama_cpp, numpy' 2>/dev/null || skip "$py cannot import llama_cpp and numpy"
model=${EDGEREASON_MODELS:-models}/smollm2.gguf
[ -f "$model" ] || skip "no $model (scripts/get-models.sh)"
logits_bin=$(dirname "$bin")/er_last_logits
[ -x "$bin" ] && [ -x "$logits_bin" ] || { echo "compare-quantize: build $bin and $logits_bin first" >&2; exit 1; }

exec "$py" tests/quantize/compare_llamacpp.py --bin "$bin" --logits-bin "$logits_bin" --model "$model" "${args[@]}"
