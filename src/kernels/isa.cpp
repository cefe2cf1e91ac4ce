// Run-time ISA detection (cpuid via __builtin_cpu_supports) and the EDGEREASON_ISA override.
#include "kernels/isa.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace er::kernels {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view s) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (s == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

Isa default_isa() {
  Isa best = Isa::kScalar;
  for (Isa isa : supported_isas()) best = isa;
  const char* env = std::getenv("EDGEREASON_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::optional<Isa> want = isa_from_name(env);
  if (!want) {
    std::fprintf(stderr, "edgereason: ignoring EDGEREASON_ISA='%s' (expected scalar, avx2 or avx512)\n", env);
    return best;
  }
  if (!isa_supported(*want)) {
    std::fprintf(stderr, "edgereason: EDGEREASON_ISA=%s is not supported by this CPU; using %s\n", env,
                 std::string(isa_name(best)).c_str());
    return best;
  }
  return *want;
}

}  // namespace er::kernels
