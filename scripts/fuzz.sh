#!/usr/bin/env bash
# Fuzzes the GGUF reader/writer with libFuzzer for SECONDS (default 60) in build-fuzz/; exits non-zero
# on any finding (crash, sanitizer report, leak, timeout, out-of-memory), whose input lands in
# build-fuzz/fuzz-artifacts/. Needs clang. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS]  (a positive whole number; default 60)" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${EDGEREASON_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs=2  # the reference machine has 2 cores

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEDGEREASON_FUZZ=ON -DEDGEREASON_TESTS=ON -DEDGEREASON_SANITIZE=ON >/dev/null
ninja -C "$build" -j "$jobs" er_fuzz_gguf er_fuzz_gguf_seeds

fuzzer="$(find "$build" -type f -name er_fuzz_gguf -perm -u+x | head -n 1)"
seeder="$(find "$build" -type f -name er_fuzz_gguf_seeds -perm -u+x | head -n 1)"
seeds="$build/fuzz-seeds"      # regenerated every run
corpus="$build/fuzz-corpus"    # grows across runs
artifacts="$build/fuzz-artifacts"
rm -rf "$seeds" "$artifacts"
mkdir -p "$corpus" "$artifacts"
"$seeder" "$seeds"

echo "fuzzing er_fuzz_gguf for ${seconds}s on $jobs processes (corpus: $corpus)"
set +e
"$fuzzer" "$corpus" "$seeds" \
  -fork="$jobs" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=25 \
  -dict="$root/tests/fuzz/gguf.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
  2>&1 | tee "$build/fuzz.log" | grep --line-buffered -E '^#[0-9]+: cov|CRASH|ERROR|SUMMARY|INFO: fuzzed|INFO: exiting'
status="${PIPESTATUS[0]}"
set -e

findings="$(find "$artifacts" -type f | wc -l)"
if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "FUZZ FINDING: exit status $status, $findings artifact(s) in $artifacts (log: $build/fuzz.log)" >&2
  find "$artifacts" -type f >&2
  exit 1
fi
echo "no findings in ${seconds}s (log: $build/fuzz.log)"
