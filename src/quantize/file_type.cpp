// The quantize targets and llama.cpp's file type names.
#include <algorithm>
#include <cctype>

#include "quantize/quantize.h"

namespace er::quantize {

const std::vector<Target>& targets() {
  static const std::vector<Target> kTargets = {
      {"F32", FileType::kAllF32, DType::kF32, false},   {"F16", FileType::kF16, DType::kF16, false},
      {"BF16", FileType::kBF16, DType::kBF16, false},   {"Q8_0", FileType::kQ8_0, DType::kQ8_0, false},
      {"Q4_0", FileType::kQ4_0, DType::kQ4_0, false},   {"Q4_1", FileType::kQ4_1, DType::kQ4_1, false},
      {"Q5_0", FileType::kQ5_0, DType::kQ5_0, false},   {"Q4_K", FileType::kQ4_K_S, DType::kQ4_K, true},
      {"Q6_K", FileType::kQ6_K, DType::kQ6_K, false},   {"Q4_K_M", FileType::kQ4_K_M, DType::kQ4_K, false},
  };
  return kTargets;
}

std::string target_names() {
  std::string out;
  for (const Target& t : targets()) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

Result<Target> find_target(std::string_view name) {
  const auto same = [&](std::string_view a) {
    return a.size() == name.size() &&
           std::equal(a.begin(), a.end(), name.begin(), [](char x, char y) {
             return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
  };
  for (const Target& t : targets()) {
    if (same(t.name)) return t;
  }
  return Status::invalid("${type} '" + std::string(name) + "' is not a type quantize writes (one of " +
                         target_names() + ")");
}

std::optional<std::string> file_type_name(uint32_t ftype) {
  // llama.cpp's llama_ftype (include/llama.h); 4..6 and 33..35 are retired.
  static const char* const kNames[] = {
      "F32",     "F16",    "Q4_0",   "Q4_1",    nullptr,  nullptr,  nullptr,  "Q8_0",    "Q5_0",    "Q5_1",
      "Q2_K",    "Q3_K_S", "Q3_K_M", "Q3_K_L",  "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M",  "Q6_K",    "IQ2_XXS",
      "IQ2_XS",  "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",  "IQ3_M",   "IQ2_S",   "IQ2_M",
      "IQ4_XS",  "IQ1_M",  "BF16",   nullptr,   nullptr,  nullptr,  "TQ1_0",  "TQ2_0",   "MXFP4_MOE", "NVFP4",
      "Q1_0",    "Q2_0",
  };
  if (ftype >= std::size(kNames) || kNames[ftype] == nullptr) return std::nullopt;
  return std::string(kNames[ftype]);
}

}  // namespace er::quantize
