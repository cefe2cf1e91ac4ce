#!/usr/bin/env bash
# Sets up edgereason on Debian 12+ or Ubuntu 24.04+ (x86-64 or aarch64: Jetson with JetPack 7,
# Raspberry Pi OS 12, Graviton): system packages, models, then a configured and built tree.
# Idempotent: a second run only re-checks.
# Usage: scripts/setup.sh [--no-models] [--no-build] [--native] [--cross-arm64]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

models=1
build=1
native=OFF
cross=0
build_dir=${EDGEREASON_BUILD_DIR:-build}
for arg in "$@"; do
  case "$arg" in
    --no-models) models=0 ;;
    --no-build) build=0 ;;
    --native) native=ON ;;
    --cross-arm64) cross=1 ;;
    -h|--help)
      sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
      echo "  --no-models    skip scripts/get-models.sh"
      echo "  --no-build     install packages (and models) only"
      echo "  --native       build with -march=native / -mcpu=native (this CPU only)"
      echo "  --cross-arm64  also prepare the aarch64 cross-build on an x86-64 host: the cross"
      echo "                 compiler, qemu-user-static and the arm64 -dev packages (multiarch),"
      echo "                 then configure and build build-arm64/ (cmake/aarch64-linux-gnu.cmake)"
      echo "  EDGEREASON_BUILD_DIR  build directory (default: build)"
      exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
distro=unknown
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  distro=$(. /etc/os-release && echo "${ID:-unknown} ${VERSION_ID:-}")
fi
command -v apt-get >/dev/null || { say "needs apt (Debian 12+, Ubuntu 24.04+); on $distro install the packages listed in README 'Dependencies' by hand"; exit 1; }
if [ "$cross" = 1 ] && [ "$arch" != amd64 ]; then
  say "--cross-arm64 is for x86-64 hosts (this one is $arch: build natively instead)"
  exit 2
fi

# The libraries the build links (the same names on Debian 12 and Ubuntu 24.04, every architecture).
libs=(googletest libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libpcre2-dev
      libtomlplusplus-dev libcpp-httplib-dev libsqlite3-dev)
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  "${libs[@]}"
  python3 python3-pip python3-venv unzip time
)
# Optional tools: the fuzzer's clang runtime and the headless browser of the HTML report test
# (both tests skip without them, and say so). Ubuntu's chromium is a snap wrapper: left out there.
optional=(clang libclang-rt-dev ccache)
case "$distro" in debian*) optional+=(chromium) ;; esac

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# Arm64 packages for the cross-build, through multiarch: the header-only and data packages are
# shared, the libraries are the :arm64 ones.
cross_packages=()
if [ "$cross" = 1 ]; then
  cross_packages=(crossbuild-essential-arm64 qemu-user-static)
  for p in "${libs[@]}"; do
    case "$p" in
      googletest|nlohmann-json3-dev|libcli11-dev) ;;  # architecture-independent
      *) cross_packages+=("$p:arm64") ;;
    esac
  done
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture to dpkg (multiarch)"
    "${sudo_cmd[@]}" dpkg --add-architecture arm64
    "${sudo_cmd[@]}" apt-get update -qq
  fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${packages[@]}" "${cross_packages[@]}"; do
  installed "$p" || missing+=("$p")
done
missing_opt=()
for p in "${optional[@]}"; do
  installed "$p" || missing_opt+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_opt[@]} -gt 0 ]; then
  say "installing ${#missing[@]} Debian packages on $distro ($arch): ${missing[*]} ${missing_opt[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
      say "apt-get could not install: ${missing[*]}"
      say "(Ubuntu 22.04 / JetPack 6 lacks libtomlplusplus-dev and has CMake 3.22: see README 'Supported platforms')"
      exit 1
    }
  fi
  for p in "${missing_opt[@]}"; do
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
      say "optional package $p is not available here; the tests that need it will skip"
  done
else
  say "Debian packages present"
fi

# CMake 3.25 or newer (Debian 12 has 3.25; older distributions get it from PyPI).
cmake_version=$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')
if [ "$(printf '%s\n3.25\n' "$cmake_version" | sort -V | head -n 1)" != 3.25 ]; then
  say "CMake $cmake_version is older than 3.25: python3 -m pip install --user 'cmake>=3.25' and put ~/.local/bin first on PATH"
  exit 1
fi

if [ "$models" = 1 ]; then
  scripts/get-models.sh
fi

if [ "$build" = 1 ]; then
  say "configuring and building in $build_dir/ (Release, native=$native, $arch)"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEREASON_NATIVE="$native" >/dev/null
  cmake --build "$build_dir" --target edgereason
  say "done. Try: $build_dir/bin/edgereason info -m smollm2"
  if [ "$cross" = 1 ]; then
    say "configuring and building the aarch64 cross-build in build-arm64/"
    cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake >/dev/null
    cmake --build build-arm64 --target edgereason
    say "done. Try: qemu-aarch64-static build-arm64/bin/edgereason info -m smollm2"
  fi
fi
