#!/usr/bin/env bash
# Runs the test suite: a Release build, the server against real clients, the aarch64 cross-build
# under emulation, a fresh clone running the main job, an ASan+UBSan build, and the GGUF fuzzer.
# Usage: scripts/test.sh [--quick] [--no-server] [--no-engines] [--no-sanitize] [--no-fuzz] [--no-arm64] [--no-fresh-clone] [--fuzz-seconds N]
#   --quick  the Release build's tests only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

sanitize=1
fuzz=1
arm64=1
fresh=1
server=1
engines=1
fuzz_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) sanitize=0; fuzz=0; arm64=0; fresh=0; server=0; engines=0 ;;
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    --no-arm64) arm64=0 ;;
    --no-fresh-clone) fresh=0 ;;
    --no-server) server=0 ;;
    --no-engines) engines=0 ;;
    --fuzz-seconds) fuzz_seconds=${2:?}; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

jobs=$(nproc)
started=$SECONDS
step() { printf '\n== [%02d:%02d] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*" >&2; }

# A compiler cache, where installed (scripts/setup.sh installs ccache): the fresh-clone stage then
# compiles nothing the Release stage already compiled. Paths inside the source tree are rewritten
# relative to the build directory (CCACHE_BASEDIR = the tree's root; the fresh clone sets its own),
# so a clone elsewhere hits the same entries; paths outside it (/usr/include) stay absolute.
if command -v ccache >/dev/null; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
fi

run_suite() {  # DIR CTEST_EXCLUDE_REGEX CMAKE_ARGS...
  local dir=$1 exclude=$2; shift 2
  cmake -S . -B "$dir" -G Ninja -DEDGEREASON_WERROR=ON "$@" >/dev/null
  local t0=$SECONDS
  cmake --build "$dir" -j "$jobs"
  printf '   (%s built in %d s)\n' "$dir" $((SECONDS - t0)) >&2
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900 ${exclude:+-E "$exclude"}
}

step "Release build and tests (build/)"
run_suite build "" -DCMAKE_BUILD_TYPE=Release

if [ "$server" = 1 ]; then
  step "serve against real clients: the openai package, curl, a schemathesis fuzz (scripts/test-server.sh)"
  scripts/test-server.sh --bin build/bin/edgereason
fi

if [ "$engines" = 1 ]; then
  # The client backend against a server this project did not write: llama-cpp-python's
  # llama_cpp.server (built from source once, about 6 minutes; cached outside the repository).
  step "the client backend against llama.cpp's server and edgereason serve (scripts/compare-engines.sh --quick --check)"
  scripts/compare-engines.sh --quick --check --bin build/bin/edgereason
  # `edgereason quantize` against llama.cpp's quantizer: same tensor types and bytes, outputs load
  # in llama.cpp (skips with a message where the venv or SmolLM2 is absent).
  step "quantize against llama.cpp's llama_model_quantize (scripts/compare-quantize.sh)"
  scripts/compare-quantize.sh --bin build/bin/edgereason
fi

if [ "$arm64" = 1 ]; then
  # Needs the cross compiler and qemu (scripts/setup.sh --cross-arm64); --no-arm64 skips.
  step "aarch64: cross-build and tests under qemu-aarch64 (build-arm64/; scripts/test-arm64.sh)"
  scripts/test-arm64.sh --x86-bin build/bin/edgereason
fi

if [ "$fresh" = 1 ]; then
  step "a fresh clone runs the main job with nothing from outside it (scripts/test-fresh-clone.sh)"
  scripts/test-fresh-clone.sh
fi

if [ "$sanitize" = 1 ]; then
  # The llama.cpp comparisons on the shipped models (one has 1.5 B parameters) take many minutes
  # unoptimized; the sanitizers still see the same code through the tiny-fixture comparisons.
  # -O1 (asserts kept): the sanitizers see the same code, and it runs several times faster than -O0.
  # Warnings are the Release build's job (-Werror there): GCC 12's flow-sensitive warnings give
  # false positives at -O1 under -fsanitize (std::function inside std::regex "may be used
  # uninitialized"), so they do not fail this build.
  step "ASan + UBSan build and tests (build-asan/, -O1; unit and golden tests; the CLI integration tests, the real-model golden runs, the run/eval/sweep comparison on SmolLM2 and the 8192-token context are Release-only)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan 'RealModels/|LongContext\.|OnePipeline\.' -DCMAKE_BUILD_TYPE=Debug -DEDGEREASON_SANITIZE=ON \
      -DEDGEREASON_BENCH=OFF -DEDGEREASON_INTEGRATION_TESTS=OFF "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O1 -g1" \
      -DEDGEREASON_WERROR=OFF
fi

if [ "$fuzz" = 1 ]; then
  step "GGUF reader fuzzing, $fuzz_seconds s (build-fuzz/)"
  scripts/fuzz.sh "$fuzz_seconds"
fi
step "all tests passed"
