#!/usr/bin/env bash
# bench-vs-llamacpp.sh — edgereason against llama.cpp (llama-cpp-python) on the same model files,
# same thread count, alternating A/B process by process, medians, ratios, targets. BENCHMARKS.md
# describes the method.
#
# Usage: scripts/bench-vs-llamacpp.sh [-m MODEL]... [-r REPS] [-t THREADS] [--inner N] [--quick]
#   -m MODEL    installed name or .gguf path, repeatable (default: smollm2 and the largest
#               installed model)
#   -r REPS     A/B rounds: each round runs every test once with edgereason, then once with
#               llama.cpp, each a separate process (default 5)
#   -t THREADS  threads of both engines (default 2)
#   --inner N   timed repetitions inside each process, after 1 warm-up (default 2)
#   --quick     smoke run: -r 1 --inner 1, smollm2 only
#   --out DIR   where the summary goes (default bench/results)
#
# Builds nothing: needs build/bin/edgereason (or $EDGEREASON_BIN) and the llama-cpp-python venv
# (scripts/llamacpp-venv.sh). Runs `edgereason probe -o` first if no device profile is saved, and
# a 2 s `edgereason probe` before every tg128 round (the decode bandwidth is compared with it).
# Writes DIR/<date>.md and DIR/<date>.json (<date>-quick.* with --quick); every process's raw
# output and /usr/bin/time -v report go under DIR/raw/ (git-ignored). Progress on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

models=()
reps=5
threads=2
inner=2
quick=0
out_dir=bench/results
while [ $# -gt 0 ]; do
  case "$1" in
    -m|--model) models+=("${2:?-m needs a model}"); shift 2 ;;
    -r|--reps) reps=${2:?-r needs a number}; shift 2 ;;
    -t|--threads) threads=${2:?-t needs a number}; shift 2 ;;
    --inner) inner=${2:?--inner needs a number}; shift 2 ;;
    --out) out_dir=${2:?--out needs a directory}; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-vs-llamacpp: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for v in "$reps" "$threads" "$inner"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-vs-llamacpp: -r, -t and --inner take positive integers (got '$v')" >&2; exit 2; }
done
if [ "$quick" = 1 ]; then
  reps=1
  inner=1
  [ ${#models[@]} -gt 0 ] || models=(smollm2)
fi

log() { echo "bench-vs-llamacpp: $*" >&2; }

# --- what must already be there ---------------------------------------------------------------
er=${EDGEREASON_BIN:-build/bin/edgereason}
if [ ! -x "$er" ]; then
  log "$er is missing; build it first:"
  log "  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build edgereason"
  log "  (or scripts/setup.sh --no-models)"
  exit 1
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/edgereason
venv=${EDGEREASON_LLAMACPP_VENV:-$cache/llamacpp-venv}
py=$venv/bin/python
if ! [ -x "$py" ] || ! "$py" -c 'import llama_cpp' 2>/dev/null; then
  log "no llama-cpp-python venv at $venv; create it first (about 6 minutes):"
  log "  scripts/llamacpp-venv.sh"
  exit 1
fi
[ -x /usr/bin/time ] || { log "/usr/bin/time is missing: apt-get install time (scripts/setup.sh)"; exit 1; }
command -v python3 >/dev/null || { log "python3 is missing"; exit 1; }

models_dir=${EDGEREASON_MODELS:-models}
largest=$(find "$models_dir" -maxdepth 1 -name '*.gguf' -printf '%s %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2- || true)
largest_name=
[ -z "$largest" ] || largest_name=$(basename "$largest" .gguf)
if [ ${#models[@]} -eq 0 ]; then
  models=(smollm2)
  [ -z "$largest_name" ] || [ "$largest_name" = smollm2 ] || models+=("$largest_name")
fi

profile=$cache/host-profile.json
if [ ! -f "$profile" ]; then
  log "no device profile at $profile: running '$er probe -o -t $threads' (~10 s)"
  "$er" probe -o -t "$threads" >&2
fi

# --- the run -----------------------------------------------------------------------------------
date_tag=$(date +%Y-%m-%d)
[ "$quick" = 1 ] && date_tag="$date_tag-quick"
stamp=$(date +%Y%m%d-%H%M%S)
raw=$out_dir/raw/$stamp
mkdir -p "$raw"
meta=$raw/meta.json

# Tests: name, edgereason bench flags, peer flags (the same).
tests=("pp512|-p 512 -n 0" "tg128|-p 0 -n 128 --paths 1" "tg128x4|-p 0 -n 128 --paths 4" "tg128x8|-p 0 -n 128 --paths 8")

# Machine, versions, date.
compiler=unknown
build_dir=$(dirname "$(dirname "$er")")
if [ -f "$build_dir/CMakeCache.txt" ]; then
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
  [ -n "$cxx" ] && compiler=$("$cxx" --version 2>/dev/null | head -n 1 || echo "$cxx")
fi
lcp_version=$("$py" -c 'import llama_cpp; print(llama_cpp.__version__)')
# Which llama.cpp build (flags, AMX on/off, the multi-token check) the peer is: scripts/llamacpp-venv.sh.
lcp_build=$(EDGEREASON_LLAMACPP_VENV=$venv scripts/llamacpp-venv.sh --describe 2>/dev/null || echo "build unknown")
ER_META_LCP_BUILD=$lcp_build ER_META_BIN=$er ER_META_COMPILER=$compiler ER_META_LCP=$lcp_version ER_META_PROFILE=$profile \
ER_META_LARGEST=$largest_name ER_META_MODELS="${models[*]}" ER_META_RUN="$threads $reps $inner $quick" python3 - "$meta" <<'EOF'
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
mem_kib = int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0)
threads, reps, inner, quick = (int(x) for x in os.environ["ER_META_RUN"].split())
json.dump({
  "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
  "cpu": sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'"),
  "arch": platform.machine(),
  # The CPU features the two engines' kernel choices depend on (x86: VNNI, AMX; ARM: dotprod, i8mm).
  "cpu_flags": [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
                            "asimd", "asimddp", "i8mm", "sve", "bf16")
                if f in sh("grep -m1 -E '^(flags|Features)' /proc/cpuinfo").split()],
  "llama_cpp_build": os.environ["ER_META_LCP_BUILD"],
  "n_cpus": os.cpu_count(),
  "mem_gib": round(mem_kib / 1048576, 1),
  "kernel": platform.release(),
  "virtualization": sh("lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p'"),
  "load_start": sh("cut -d' ' -f1-3 /proc/loadavg"),
  "git_describe": sh("git describe --always --dirty --tags"),
  "edgereason_bin": os.environ["ER_META_BIN"],
  "compiler": os.environ["ER_META_COMPILER"],
  "llama_cpp_python": os.environ["ER_META_LCP"],
  "largest_installed_model": os.environ["ER_META_LARGEST"],
  "models": [os.path.basename(m)[:-5] if m.endswith(".gguf") else os.path.basename(m)
             for m in os.environ["ER_META_MODELS"].split()],
  "threads": threads, "reps": reps, "inner": inner, "quick": bool(quick),
  "profile": os.environ["ER_META_PROFILE"],
}, open(sys.argv[1], "w"), indent=2)
EOF

# CPU cores busy with other work, over 1 s while nothing of ours runs (from /proc/stat).
background_cpu() {
  local a b
  read -ra a < <(head -n 1 /proc/stat)
  sleep 1
  read -ra b < <(head -n 1 /proc/stat)
  # fields: cpu user nice system idle iowait irq softirq steal
  python3 -c 'import sys
a = [int(x) for x in sys.argv[1].split()]; b = [int(x) for x in sys.argv[2].split()]
d = [y - x for x, y in zip(a, b)]
total = sum(d[:8]); idle = d[3] + d[4]
print("%.2f" % ((total - idle) / total * int(sys.argv[3]) if total else 0))' "${a[*]:1:8}" "${b[*]:1:8}" "$(nproc)"
}

n_total=$(( ${#models[@]} * ${#tests[@]} * reps * 2 ))
i=0
for m in "${models[@]}"; do
  mname=$(basename "$m" .gguf)
  "$er" info -m "$m" --json >"$raw/$mname.info.json"
  for ((r = 1; r <= reps; r++)); do
    for t in "${tests[@]}"; do
      tname=${t%%|*}
      read -ra flags <<<"${t#*|}"
      bg=$(background_cpu)
      echo "$bg" >>"$raw/background-cpu.txt"
      for engine in edgereason llamacpp; do
        i=$((i + 1))
        base=$raw/$mname.$tname.$engine.r$r
        if [ "$tname" = tg128 ] && [ "$engine" = edgereason ]; then
          # The memory bandwidth of a VM drifts within minutes: a short probe right before this
          # round's decode runs is what its achieved bandwidth is compared with.
          "$er" probe --seconds 2 -t "$threads" --json >"$raw/$mname.probe.r$r.json" 2>"$raw/$mname.probe.r$r.err" ||
            log "probe before $mname tg128 round $r failed (see $raw/$mname.probe.r$r.err)"
        fi
        if [ "$engine" = edgereason ]; then
          cmd=("$er" bench -m "$m" "${flags[@]}" -t "$threads" -r "$inner" --warmup 1 -o json)
        else
          cmd=("$py" bench/llamacpp_peer.py -m "$m" "${flags[@]}" -t "$threads" -r "$inner" --warmup 1 -o json)
        fi
        if ! /usr/bin/time -v -o "$base.time" "${cmd[@]}" >"$base.json" 2>"$base.err"; then
          log "FAILED: ${cmd[*]} (see $base.err)"
          tail -n 5 "$base.err" >&2
          exit 1
        fi
        ts=$(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))[0]["median_ts"])' "$base.json")
        log "[$i/$n_total] $mname $tname $engine round $r/$reps: $ts tok/s (other jobs: $bg cores)"
      done
    done
  done
done

python3 - "$meta" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
mkdir -p "$out_dir"
python3 bench/llamacpp_compare.py --raw "$raw" --md "$out_dir/$date_tag.md" --json "$out_dir/$date_tag.json"
log "wrote $out_dir/$date_tag.md and $out_dir/$date_tag.json (raw outputs: $raw)"
cat "$out_dir/$date_tag.md"
