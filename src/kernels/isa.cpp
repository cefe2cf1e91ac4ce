// Run-time ISA detection (x86-64: cpuid via __builtin_cpu_supports; AArch64: the kernel's hwcaps)
// and the EDGEREASON_ISA override.
#include "kernels/isa.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
// Bits of AT_HWCAP / AT_HWCAP2 (Linux arch/arm64 uapi hwcap.h), for C libraries whose headers
// predate them.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#endif

namespace er::kernels {

namespace {
constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kDotprod, Isa::kI8mm};
}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
    case Isa::kDotprod: return "dotprod";
    case Isa::kI8mm: return "i8mm";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view s) {
  for (Isa isa : kAllIsas) {
    if (s == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

const std::vector<Isa>& built_isas() {
#if defined(__x86_64__)
  static const std::vector<Isa> levels{Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
#elif defined(__aarch64__)
  static const std::vector<Isa> levels{Isa::kScalar, Isa::kNeon, Isa::kDotprod, Isa::kI8mm};
#else
  static const std::vector<Isa> levels{Isa::kScalar};
#endif
  return levels;
}

std::string built_isa_names() {
  const std::vector<Isa>& levels = built_isas();
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (i > 0) out += i + 1 == levels.size() ? " or " : ", ";
    out += isa_name(levels[i]);
  }
  return out;
}

bool isa_supported(Isa isa) {
  if (isa == Isa::kScalar) return true;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  switch (isa) {
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  const bool neon = (hwcap & HWCAP_ASIMD) != 0;
  const bool dotprod = neon && (hwcap & HWCAP_ASIMDDP) != 0;
  switch (isa) {
    case Isa::kNeon: return neon;
    case Isa::kDotprod: return dotprod;
    case Isa::kI8mm: return dotprod && (hwcap2 & HWCAP2_I8MM) != 0;
    default: return false;
  }
#elif defined(__aarch64__)
  return isa == Isa::kNeon;  // ASIMD is architectural on AArch64; no hwcaps to ask for the rest
#else
  return false;
#endif
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : built_isas()) {
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
    std::fprintf(stderr, "edgereason: ignoring EDGEREASON_ISA='%s' (expected %s)\n", env, built_isa_names().c_str());
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
