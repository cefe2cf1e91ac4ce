# Cross-build for 64-bit ARM Linux (Jetson, Raspberry Pi 5, Graviton) from an x86-64 Debian/Ubuntu
# host, with the cross compiler of crossbuild-essential-arm64 and the arm64 -dev packages installed
# through multiarch (scripts/setup.sh --cross-arm64 installs both):
#
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build build-arm64
#   ctest --test-dir build-arm64       # runs the tests under qemu-aarch64 (cmake/qemu-aarch64.sh)
#   EDGEREASON_QEMU_CPU=cortex-a72 ctest --test-dir build-arm64 -L unit   # NEON only
#
# EDGEREASON_QEMU_CPU picks the emulated CPU when the tests run (default "max": NEON, dotprod and
# i8mm; "cortex-a72" is NEON only), so every kernel level can be tested on an x86 machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_er_triple aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${_er_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_er_triple}-g++)
# Multiarch: headers in /usr/include (shared) and /usr/include/aarch64-linux-gnu, libraries and
# CMake package files in /usr/lib/aarch64-linux-gnu. Programs (pkg-config, qemu) come from the host.
set(CMAKE_LIBRARY_ARCHITECTURE ${_er_triple})
set(CMAKE_FIND_ROOT_PATH /usr/${_er_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Never pick up the host's x86-64 libraries or package files.
list(APPEND CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${_er_triple}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Tests (and gtest's test discovery) run through user-mode emulation; the wrapper reads
# EDGEREASON_QEMU_CPU when each test runs, so one build is tested on several emulated CPUs.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/qemu-aarch64.sh)
