#!/bin/sh
# Runs an aarch64 program under user-mode emulation: the cross-build's test runner
# (CMAKE_CROSSCOMPILING_EMULATOR in cmake/aarch64-linux-gnu.cmake). EDGEREASON_QEMU_CPU picks the
# emulated CPU at run time: "max" (default: NEON, dotprod, i8mm, so every kernel level runs),
# "cortex-a72" (NEON only, as a Raspberry Pi 4), "cortex-a76" (+ dotprod, as a Raspberry Pi 5).
# The loader and shared libraries are the multiarch arm64 packages in /lib/aarch64-linux-gnu
# (qemu finds them without -L; the libc6-arm64-cross copy hangs in pthread_create under qemu 7.2).
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64) || {
  echo "qemu-aarch64: not installed (scripts/setup.sh --cross-arm64 installs qemu-user-static)" >&2
  exit 127
}
# Tests that assert a speed floor skip it when they see EDGEREASON_EMULATED.
EDGEREASON_EMULATED="qemu-aarch64 -cpu ${EDGEREASON_QEMU_CPU:-max}"
export EDGEREASON_EMULATED
exec "$qemu" -cpu "${EDGEREASON_QEMU_CPU:-max}" "$@"
