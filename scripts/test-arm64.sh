#!/usr/bin/env bash
# The aarch64 build, tested under emulation on an x86-64 host: cross-builds the Release
# configuration (cmake/aarch64-linux-gnu.cmake), runs the platform-dependent unit tests (kernels,
# quantization, model, engine, GGUF, tokenizers, sampling, session) and the tiny-fixture golden
# tests under qemu-aarch64 with `-cpu max` (NEON, dotprod, i8mm: every ARM kernel level runs) and
# the kernel and model tests again with `-cpu cortex-a72` (NEON only: the level detection falls
# back), then checks one real model: SmolLM2's greedy 32-token continuations of a few prompts
# under emulation (both CPUs) must equal the x86 build's.
# Usage: scripts/test-arm64.sh [--build-dir DIR] [--x86-bin PATH] [--no-model-check]
# Needs scripts/setup.sh --cross-arm64 (cross compiler, qemu-user-static, arm64 -dev packages).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
dir=build-arm64
x86_bin=build/bin/edgereason
model_check=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) dir=${2:?}; shift ;;
    --x86-bin) x86_bin=${2:?}; shift ;;
    --no-model-check) model_check=0 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-arm64: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
say() { printf '\n== test-arm64: %s\n' "$*" >&2; }
for tool in aarch64-linux-gnu-g++ qemu-aarch64-static; do
  command -v "$tool" >/dev/null || { echo "test-arm64: $tool is missing (scripts/setup.sh --cross-arm64)" >&2; exit 1; }
done
jobs=$(nproc)

# The tests whose code differs by architecture (kernels, quantization, the model and engine, GGUF
# reading, tokenizers, sampling, threads, the session pipeline, the probe's ARM loops, the golden
# files); the rest (reports, the study, eval grading, the server's API, fitting) is portable logic
# the x86 run covers, as are the CLI integration tests and benchmarks.
arm_tests='^test_(kernels|quant|model|engine|fixtures|gguf|tokenizer|chat_template|sampling|thread_pool|session|reasoning|perfmodel_probe)'
say "cross-building the Release configuration for aarch64 ($dir/; tests matching $arm_tests)"
cmake -S . -B "$dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DEDGEREASON_WERROR=ON -DEDGEREASON_INTEGRATION_TESTS=OFF -DEDGEREASON_BENCH=OFF \
  "-DEDGEREASON_TEST_ONLY=$arm_tests" >/dev/null
cmake --build "$dir" -j "$jobs"
file "$dir/bin/edgereason" | grep -q "ARM aarch64" || { echo "test-arm64: $dir/bin/edgereason is not an aarch64 binary" >&2; exit 1; }
# Nothing x86-specific in the ARM binary (and the reverse is checked on the x86 one below).
if aarch64-linux-gnu-nm -C "$dir/bin/edgereason" | grep -Eq 'avx2|avx512'; then
  echo "test-arm64: x86 kernel symbols in the aarch64 binary" >&2; exit 1
fi
if [ -x "$x86_bin" ] && nm -C "$x86_bin" | grep -Eq 'neon|dotprod|i8mm'; then
  echo "test-arm64: ARM kernel symbols in the x86-64 binary $x86_bin" >&2; exit 1
fi

# The CLI integration tests start the binary directly (no emulator) and the real-model goldens
# take hours under emulation: both are left to the x86 run; the check below covers a real model.
say "unit and tiny-fixture golden tests under qemu -cpu max (neon, dotprod, i8mm)"
# (LongContext, an 8192-token prefill, takes 7 minutes emulated; it runs on x86.)
EDGEREASON_QEMU_CPU=max ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 1800 \
  -L 'unit|golden' -E 'RealModels/|LongContext\.'
# The fixtures are made from a seeded stream with no implicit fma anywhere (-ffp-contract=off):
# the aarch64 generator must write the x86 one's bytes.
if [ -f build/fixtures/manifest.json ]; then
  python3 - build/fixtures/manifest.json "$dir/fixtures/manifest.json" <<'PY'
import json, sys
a, b = ({f["name"]: f["sha256"] for f in json.load(open(p))["fixtures"]} for p in sys.argv[1:3])
diff = sorted(n for n in a if a[n] != b.get(n))
print(f"  fixtures: {len(a) - len(diff)} of {len(a)} identical to the x86 build's")
sys.exit(1 if diff else 0)
PY
fi
say "kernel and model tests under qemu -cpu cortex-a72 (neon only)"
EDGEREASON_QEMU_CPU=cortex-a72 ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 1800 \
  -R '^unit\.(Matmul|TileKernels|Repack|GetRow|ActQuant|VecDot|Ops|Attention|ModelRepack|Isa|Forward|Engine)|^golden\.Fixtures/' 

say "probe under emulation (the ARM measurement loops run; the rates mean nothing here)"
for cpu in max cortex-a72; do
  EDGEREASON_QEMU_CPU=$cpu cmake/qemu-aarch64.sh "$dir/bin/edgereason" probe --seconds 1 --json 2>/dev/null |
    python3 -c 'import json, sys
d = json.load(sys.stdin); c = d["compute"]
want = {"max": "i8mm", "cortex-a72": "neon"}[sys.argv[1]]
print(f"  {sys.argv[1]}: features {d['"'"'isa'"'"']}, compute level {c['"'"'isa'"'"']} ({c['"'"'int8_kernel'"'"']})")
sys.exit(0 if c["isa"] == want else 1)' "$cpu" || { echo "test-arm64: probe under -cpu $cpu failed" >&2; exit 1; }
done

if [ "$model_check" = 1 ]; then
  models_dir=${EDGEREASON_MODELS:-models}
  if [ ! -f "$models_dir/smollm2.gguf" ]; then
    echo "test-arm64: $models_dir/smollm2.gguf is missing (scripts/get-models.sh smollm2)" >&2; exit 1
  fi
  [ -x "$x86_bin" ] || { echo "test-arm64: the x86 build $x86_bin is missing (build it first)" >&2; exit 1; }
  say "SmolLM2 greedy continuations: aarch64 under emulation against the x86-64 build"
  prompts=("The capital of France is" "def fibonacci(n):" "Q: A farmer has 12 cows and buys 7 more. How many cows does he have? A:")
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  fails=0
  for i in "${!prompts[@]}"; do
    p=${prompts[$i]}
    "$x86_bin" run -m "$models_dir/smollm2.gguf" -p "$p" -n 32 --temp 0 --ignore-eos -t 2 --json >"$tmp/x86.$i.json" 2>/dev/null
    for cpu in max cortex-a72; do
      EDGEREASON_QEMU_CPU=$cpu cmake/qemu-aarch64.sh "$dir/bin/edgereason" run -m "$models_dir/smollm2.gguf" -p "$p" -n 32 \
        --temp 0 --ignore-eos -t 2 --json >"$tmp/arm.$cpu.$i.json" 2>/dev/null
      if python3 - "$tmp/x86.$i.json" "$tmp/arm.$cpu.$i.json" "$cpu" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
same = a["text"] == b["text"] and a["tokens"]["generated"] == b["tokens"]["generated"] == 32
print(f"  {'same' if same else 'DIFFERENT'} ({sys.argv[3]}, isa {b['config'].get('isa')}): {a['prompt_text']!r} -> {b['text']!r}")
if not same:
    print(f"  x86: {a['text']!r}")
sys.exit(0 if same else 1)
PY
      then :; else fails=$((fails + 1)); fi
    done
  done
  [ "$fails" = 0 ] || { echo "test-arm64: $fails continuation(s) differ from the x86 build" >&2; exit 1; }
fi
say "all aarch64 checks passed"
