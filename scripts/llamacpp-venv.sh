#!/usr/bin/env bash
# Creates, when missing, the Python virtual environment with llama.cpp (the PyPI package
# llama-cpp-python, pinned, compiled from source for this CPU) that the peer benchmark
# (bench/llamacpp_peer.py) and the golden-file tools (tools/make_golden_*.py) use.
# Idempotent: when the venv already imports the pinned version it only prints its python.
#
#   scripts/llamacpp-venv.sh            # prints the venv's python on stdout (progress on stderr)
#   py=$(scripts/llamacpp-venv.sh) && "$py" bench/llamacpp_peer.py -m smollm2
#   scripts/llamacpp-venv.sh --describe # one line: version, build flags, AMX on/off, check result
#   scripts/llamacpp-venv.sh --server   # also the server's packages (python -m llama_cpp.server),
#                                       # the [server] extra's, pinned, without rebuilding llama.cpp
#
# Where: ${XDG_CACHE_HOME:-~/.cache}/edgereason/llamacpp-venv (outside the repository), or
# $EDGEREASON_LLAMACPP_VENV. The build takes about 6 minutes on 2 cores; its log is kept beside
# the venv (llamacpp-build.log). --force rebuilds; --no-amx builds without AMX from the start.
#
# Every build is checked with a multi-token prompt on an installed model (smollm2, else the
# smallest .gguf in $EDGEREASON_MODELS or models/). On Intel Xeons with AMX, llama-cpp-python
# 0.3.36 built -DGGML_NATIVE=ON segfaults in ggml_backend_amx_mul_mat on any prompt longer than
# one token; when the check crashes on a CPU with amx_int8, the script rebuilds with AMX off
# (-mno-amx-tile -mno-amx-int8 -mno-amx-bf16 on top of -march=native, so AVX-512 and VNNI stay) and
# says so. The build used is recorded in the venv (edgereason-stamp) and by --describe, which
# scripts/bench-vs-llamacpp.sh copies into its results.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
NUMPY_VERSION=2.4.6
CMAKE_ARGS_PINNED="-DGGML_NATIVE=ON"
NO_AMX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# llama-cpp-python's [server] extra, pinned (installing the extra itself would rebuild llama.cpp).
SERVER_PACKAGES="uvicorn==0.55.0 fastapi==0.165.0 pydantic-settings==2.16.3 sse-starlette==3.7.1 starlette-context==0.3.6 PyYAML==6.0.4"

force=0
no_amx=0
describe=0
server=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --no-amx) no_amx=1 ;;
    --describe) describe=1 ;;
    --server) server=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "llamacpp-venv: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/edgereason
venv=${EDGEREASON_LLAMACPP_VENV:-$cache/llamacpp-venv}
py=$venv/bin/python
log=$(dirname "$venv")/llamacpp-build.log
stamp=$venv/edgereason-stamp
mkdir -p "$(dirname "$venv")"

installed_version() {
  [ -x "$py" ] || return 1
  "$py" -c 'import llama_cpp, sys; sys.stdout.write(llama_cpp.__version__)' 2>/dev/null
}
stamp_field() { [ -f "$stamp" ] && sed -n "s/^$1=//p" "$stamp" | tail -n 1; }

if [ "$describe" = 1 ]; then
  v=$(installed_version || true)
  if [ -z "$v" ]; then echo "llama-cpp-python: not installed (scripts/llamacpp-venv.sh)"; exit 1; fi
  printf 'llama-cpp-python %s, %s, AMX %s, multi-token check: %s\n' "$v" \
    "$(stamp_field build_flags || echo "flags unknown")" "$(stamp_field amx || echo unknown)" "$(stamp_field check || echo "not run")"
  exit 0
fi

cpu_has_amx() { grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; }

# The model the check runs: smollm2, else the smallest installed .gguf; empty when none.
check_model() {
  local dir=${EDGEREASON_MODELS:-$here/models}
  if [ -f "$dir/smollm2.gguf" ]; then echo "$dir/smollm2.gguf"; return; fi
  find "$dir" -maxdepth 1 -name '*.gguf' -printf '%s %p\n' 2>/dev/null | sort -n | head -n 1 | cut -d' ' -f2-
}

# Evaluates a multi-token prompt in a child process. Prints ok | crashed:SIGNAL | failed:RC | skipped.
run_check() {
  local model rc
  model=$(check_model)
  if [ -z "$model" ]; then echo skipped; return; fi
  set +e
  "$py" - "$model" >>"$log" 2>&1 <<'PY'
import sys
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=128, n_threads=2, verbose=False)
toks = m.tokenize(b"The quick brown fox jumps over the lazy dog, and then it runs away.")
assert len(toks) > 8, toks
m.eval(toks)
print("llamacpp-venv check: evaluated", len(toks), "prompt tokens")
PY
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then echo ok
  elif [ $rc -gt 128 ]; then echo "crashed:$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
  else echo "failed:$rc"; fi
}

build() {  # build FLAGS_DESCRIPTION AMX(on|off)
  local amx=$1 cflags=""
  [ "$amx" = off ] && cflags=$NO_AMX_FLAGS
  echo "llamacpp-venv: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION ($CMAKE_ARGS_PINNED${cflags:+, CFLAGS $cflags}) into $venv" >&2
  echo "llamacpp-venv: about 6 minutes on 2 cores; log: $log" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  {
    # From source (--no-binary) and without pip's wheel cache, so that the library is compiled
    # with this CPU's instruction set rather than reused from a build made elsewhere. Explicit
    # -mno-* flags win over the ISA that -march=native implies, whatever their order.
    CFLAGS="$cflags" CXXFLAGS="$cflags" CMAKE_ARGS="$CMAKE_ARGS_PINNED" FORCE_CMAKE=1 \
      "$py" -m pip install --no-cache-dir --no-binary llama-cpp-python \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" "numpy==$NUMPY_VERSION"
  } >"$log" 2>&1 || {
    echo "llamacpp-venv: the build failed; the last lines of $log:" >&2
    tail -n 20 "$log" >&2
    rm -rf "$venv"
    exit 1
  }
  local got
  got=$(installed_version || true)
  if [ "$got" != "$LLAMA_CPP_PYTHON_VERSION" ]; then
    echo "llamacpp-venv: the venv imports llama_cpp '$got', expected $LLAMA_CPP_PYTHON_VERSION (see $log)" >&2
    exit 1
  fi
  local amx_word=off
  if [ "$amx" = on ]; then
    if cpu_has_amx; then amx_word=on; else amx_word="n/a (this CPU has none)"; fi
  fi
  {
    printf 'llama-cpp-python==%s numpy==%s CMAKE_ARGS=%s built %s\n' "$LLAMA_CPP_PYTHON_VERSION" "$NUMPY_VERSION" \
      "$CMAKE_ARGS_PINNED" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_flags=CMAKE_ARGS=$CMAKE_ARGS_PINNED${cflags:+ CFLAGS=$cflags}"
    echo "amx=$amx_word"
    echo "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p')"
  } >"$stamp"
}

# Checks the venv; on an AMX crash rebuilds without AMX once. Records the result in the stamp.
check_or_fix() {
  local result
  result=$(run_check)
  if [ "${result%%:*}" = crashed ] && cpu_has_amx && [ "$(stamp_field amx)" = on ]; then
    echo "llamacpp-venv: the -DGGML_NATIVE=ON build crashed ($result) on a multi-token prompt on this AMX CPU" >&2
    echo "llamacpp-venv: (llama.cpp's ggml_backend_amx_mul_mat); rebuilding with AMX off, AVX-512 kept" >&2
    build off
    result=$(run_check)
  fi
  echo "check=$result" >>"$stamp"
  case "$result" in
    ok) echo "llamacpp-venv: multi-token check passed ($(stamp_field build_flags), AMX $(stamp_field amx))" >&2 ;;
    skipped) echo "llamacpp-venv: no model installed, so the multi-token check did not run (scripts/get-models.sh)" >&2 ;;
    *) echo "llamacpp-venv: the built llama.cpp fails a multi-token prompt ($result); see $log" >&2; exit 1 ;;
  esac
}

# The server's packages, when asked for and missing.
ensure_server() {
  [ "$server" = 1 ] || return 0
  "$py" -c 'import llama_cpp.server.app' 2>/dev/null && return 0
  echo "llamacpp-venv: installing the server's packages ($SERVER_PACKAGES)" >&2
  # shellcheck disable=SC2086
  "$py" -m pip install --quiet $SERVER_PACKAGES >>"$log" 2>&1 || {
    echo "llamacpp-venv: installing the server's packages failed; see $log" >&2; exit 1; }
  "$py" -c 'import llama_cpp.server.app' >>"$log" 2>&1 || {
    echo "llamacpp-venv: llama_cpp.server does not import after installing its packages; see $log" >&2; exit 1; }
}

# One builder at a time (two benchmark scripts starting together must not both build).
exec 9>"$venv.lock"
flock 9

command -v python3 >/dev/null || { echo "llamacpp-venv: python3 is missing (scripts/setup.sh installs it)" >&2; exit 1; }

if [ "$force" = 0 ] && [ "$(installed_version || true)" = "$LLAMA_CPP_PYTHON_VERSION" ] &&
   { [ "$no_amx" = 0 ] || [ "$(stamp_field amx)" != on ]; }; then
  # Present. A venv made before the check existed (or before models were installed) is checked now.
  case "$(stamp_field check)" in
    ok) ;;
    *) check_or_fix ;;
  esac
  echo "llamacpp-venv: llama-cpp-python $LLAMA_CPP_PYTHON_VERSION present in $venv ($(stamp_field build_flags || true))" >&2
  ensure_server
  echo "$py"
  exit 0
fi

python3 -c 'import venv, ensurepip' 2>/dev/null || {
  echo "llamacpp-venv: python3-venv is missing (scripts/setup.sh installs it)" >&2; exit 1; }
command -v cmake >/dev/null || { echo "llamacpp-venv: cmake is missing (scripts/setup.sh installs it)" >&2; exit 1; }

if [ "$no_amx" = 1 ]; then build off; else build on; fi
check_or_fix
ensure_server
echo "llamacpp-venv: ready: $py" >&2
echo "$py"
