#!/usr/bin/env bash
# Creates, when missing, the Python virtual environment with llama.cpp (the PyPI package
# llama-cpp-python, pinned, compiled from source for this CPU) that the peer benchmark
# (bench/llamacpp_peer.py) and the golden-file tools (tools/make_golden_*.py) use.
# Idempotent: when the venv already imports the pinned version it only prints its python.
#
#   scripts/llamacpp-venv.sh            # prints the venv's python on stdout (progress on stderr)
#   py=$(scripts/llamacpp-venv.sh) && "$py" bench/llamacpp_peer.py -m smollm2
#
# Where: ${XDG_CACHE_HOME:-~/.cache}/edgereason/llamacpp-venv (outside the repository), or
# $EDGEREASON_LLAMACPP_VENV. The build takes about 6 minutes on 2 cores; its log is kept beside
# the venv (llamacpp-build.log). --force rebuilds.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
NUMPY_VERSION=2.4.6
CMAKE_ARGS_PINNED="-DGGML_NATIVE=ON"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "llamacpp-venv: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

cache=${XDG_CACHE_HOME:-$HOME/.cache}/edgereason
venv=${EDGEREASON_LLAMACPP_VENV:-$cache/llamacpp-venv}
py=$venv/bin/python
log=$(dirname "$venv")/llamacpp-build.log
mkdir -p "$(dirname "$venv")"

installed_version() {
  [ -x "$py" ] || return 1
  "$py" -c 'import llama_cpp, sys; sys.stdout.write(llama_cpp.__version__)' 2>/dev/null
}

# One builder at a time (two benchmark scripts starting together must not both build).
exec 9>"$venv.lock"
flock 9

if [ "$force" = 0 ] && [ "$(installed_version || true)" = "$LLAMA_CPP_PYTHON_VERSION" ]; then
  echo "llamacpp-venv: llama-cpp-python $LLAMA_CPP_PYTHON_VERSION present in $venv" >&2
  echo "$py"
  exit 0
fi

command -v python3 >/dev/null || { echo "llamacpp-venv: python3 is missing (scripts/setup.sh installs it)" >&2; exit 1; }
python3 -c 'import venv, ensurepip' 2>/dev/null || {
  echo "llamacpp-venv: python3-venv is missing (scripts/setup.sh installs it)" >&2; exit 1; }
command -v cmake >/dev/null || { echo "llamacpp-venv: cmake is missing (scripts/setup.sh installs it)" >&2; exit 1; }

echo "llamacpp-venv: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION ($CMAKE_ARGS_PINNED) into $venv" >&2
echo "llamacpp-venv: about 6 minutes on 2 cores; log: $log" >&2
rm -rf "$venv"
python3 -m venv "$venv"
{
  # From source (--no-binary) and without pip's wheel cache, so that the library is compiled
  # with this CPU's instruction set rather than reused from a build made elsewhere.
  CMAKE_ARGS="$CMAKE_ARGS_PINNED" FORCE_CMAKE=1 \
    "$py" -m pip install --no-cache-dir --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" "numpy==$NUMPY_VERSION"
} >"$log" 2>&1 || {
  echo "llamacpp-venv: the build failed; the last lines of $log:" >&2
  tail -n 20 "$log" >&2
  rm -rf "$venv"
  exit 1
}

got=$(installed_version || true)
if [ "$got" != "$LLAMA_CPP_PYTHON_VERSION" ]; then
  echo "llamacpp-venv: the venv imports llama_cpp '$got', expected $LLAMA_CPP_PYTHON_VERSION (see $log)" >&2
  exit 1
fi
printf 'llama-cpp-python==%s numpy==%s CMAKE_ARGS=%s built %s\n' "$LLAMA_CPP_PYTHON_VERSION" "$NUMPY_VERSION" \
  "$CMAKE_ARGS_PINNED" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$venv/edgereason-stamp"
echo "llamacpp-venv: ready: $py" >&2
echo "$py"
