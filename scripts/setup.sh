#!/usr/bin/env bash
# Sets up edgereason on Debian 12: system packages, models, then a configured and built tree.
# Idempotent: a second run only re-checks. Usage: scripts/setup.sh [--no-models] [--no-build] [--native]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

models=1
build=1
native=OFF
build_dir=${EDGEREASON_BUILD_DIR:-build}
for arg in "$@"; do
  case "$arg" in
    --no-models) models=0 ;;
    --no-build) build=0 ;;
    --native) native=ON ;;
    -h|--help)
      sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
      echo "  --no-models  skip scripts/get-models.sh"
      echo "  --no-build   install packages (and models) only"
      echo "  --native     build with -march=native (this CPU only)"
      echo "  EDGEREASON_BUILD_DIR  build directory (default: build)"
      exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# The Debian packages the build, the tests and the scripts need (README "Dependencies").
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang libclang-rt-14-dev           # libFuzzer and sanitizer runtimes for tests/fuzz
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libpcre2-dev libtomlplusplus-dev libhwy-dev
  libcpp-httplib-dev libsqlite3-dev
  chromium                           # headless browser for the HTML report test (skipped without it)
  python3 python3-pip python3-venv unzip time
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present" >&2
fi

if [ "$models" = 1 ]; then
  scripts/get-models.sh
fi

if [ "$build" = 1 ]; then
  echo "setup: configuring and building in $build_dir/ (Release, native=$native)" >&2
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEREASON_NATIVE="$native" >/dev/null
  cmake --build "$build_dir" --target edgereason
  echo "setup: done. Try: $build_dir/bin/edgereason info -m smollm2" >&2
fi
