// Instruction-set levels the kernels are built for, what this CPU supports, and the EDGEREASON_ISA override.
//
// Every SIMD kernel lives in a file compiled with that level's target flags only, so the default
// build runs on any x86-64; which level runs is chosen at run time from cpuid. The choice is an
// explicit value (kernels::Workspace and kernels::ops() take it), never a hidden global.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace er::kernels {

enum class Isa {
  kScalar = 0,  // portable C++ reference kernels
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/DQ/VL + VNNI (also needs the AVX2 level)
};

std::string_view isa_name(Isa isa);                    // "scalar", "avx2", "avx512"
std::optional<Isa> isa_from_name(std::string_view s);  // inverse of isa_name

// True when this CPU (and this build) can run kernels of level `isa`.
bool isa_supported(Isa isa);

// Every supported level, lowest first (always starts with kScalar). Tests loop over it.
std::vector<Isa> supported_isas();

// The best supported level, lowered to EDGEREASON_ISA=scalar|avx2|avx512 when that variable is
// set (a request above what the CPU supports falls back to the best supported level, and an
// unknown name is ignored; both print one warning to stderr).
Isa default_isa();

}  // namespace er::kernels
