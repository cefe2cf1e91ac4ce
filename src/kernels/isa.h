// Instruction-set levels the kernels are built for, what this CPU supports, and the EDGEREASON_ISA override.
//
// Every SIMD kernel lives in a file compiled with that level's target flags only, so the default
// build runs on any CPU of its architecture; which level runs is chosen at run time (x86-64: cpuid;
// AArch64: getauxval(AT_HWCAP / AT_HWCAP2)). A build only contains its own architecture's levels:
// an x86-64 build has scalar, avx2 and avx512; an AArch64 build has scalar, neon, dotprod and i8mm.
// The choice is an explicit value (kernels::Workspace and kernels::ops() take it), never a hidden
// global.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace er::kernels {

enum class Isa {
  kScalar = 0,   // portable C++ reference kernels (every architecture)
  // x86-64
  kAvx2 = 1,     // AVX2 + FMA + F16C
  kAvx512 = 2,   // AVX-512 F/BW/DQ/VL + VNNI (also needs the AVX2 level)
  // AArch64
  kNeon = 3,     // ARMv8.0 Advanced SIMD (ASIMD): every AArch64 CPU
  kDotprod = 4,  // + ARMv8.2 SDOT/UDOT (Cortex-A55/A75 and later: Orin's A78AE, Pi 5's A76)
  kI8mm = 5,     // + ARMv8.6 SMMLA int8 matrix multiply (Neoverse V1/N2, Cortex-A710, Thor)
};

std::string_view isa_name(Isa isa);                    // "scalar", "avx2", "avx512", "neon", "dotprod", "i8mm"
std::optional<Isa> isa_from_name(std::string_view s);  // inverse of isa_name

// The levels this build has, lowest first (always starts with kScalar); each level needs the ones
// before it.
const std::vector<Isa>& built_isas();

// "scalar, avx2 or avx512" (this build's levels), for messages.
std::string built_isa_names();

// True when this CPU (and this build) can run kernels of level `isa`.
bool isa_supported(Isa isa);

// Every supported level, lowest first (always starts with kScalar). Tests loop over it.
std::vector<Isa> supported_isas();

// The best supported level, lowered to EDGEREASON_ISA=<level> when that variable is set (a request
// above what the CPU supports falls back to the best supported level, and an unknown name is
// ignored; both print one warning to stderr).
Isa default_isa();

}  // namespace er::kernels
