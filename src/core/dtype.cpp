// The GGML type table (llama.cpp ggml.c type_traits), checked at compile time where layouts are fixed.
#include "core/dtype.h"

#include <array>
#include <cctype>

#include "core/check.h"
#include "core/checked_math.h"

namespace er {
namespace {

constexpr std::array kTable = {
    DTypeTraits{DType::kF32, "f32", 1, 4},          DTypeTraits{DType::kF16, "f16", 1, 2},
    DTypeTraits{DType::kQ4_0, "q4_0", 32, 18},      DTypeTraits{DType::kQ4_1, "q4_1", 32, 20},
    DTypeTraits{DType::kQ5_0, "q5_0", 32, 22},      DTypeTraits{DType::kQ5_1, "q5_1", 32, 24},
    DTypeTraits{DType::kQ8_0, "q8_0", 32, 34},      DTypeTraits{DType::kQ8_1, "q8_1", 32, 36},
    DTypeTraits{DType::kQ2_K, "q2_K", 256, 84},     DTypeTraits{DType::kQ3_K, "q3_K", 256, 110},
    DTypeTraits{DType::kQ4_K, "q4_K", 256, 144},    DTypeTraits{DType::kQ5_K, "q5_K", 256, 176},
    DTypeTraits{DType::kQ6_K, "q6_K", 256, 210},    DTypeTraits{DType::kQ8_K, "q8_K", 256, 292},
    DTypeTraits{DType::kIQ2_XXS, "iq2_xxs", 256, 66}, DTypeTraits{DType::kIQ2_XS, "iq2_xs", 256, 74},
    DTypeTraits{DType::kIQ3_XXS, "iq3_xxs", 256, 98}, DTypeTraits{DType::kIQ1_S, "iq1_s", 256, 50},
    DTypeTraits{DType::kIQ4_NL, "iq4_nl", 32, 18},  DTypeTraits{DType::kIQ3_S, "iq3_s", 256, 110},
    DTypeTraits{DType::kIQ2_S, "iq2_s", 256, 82},   DTypeTraits{DType::kIQ4_XS, "iq4_xs", 256, 136},
    DTypeTraits{DType::kI8, "i8", 1, 1},            DTypeTraits{DType::kI16, "i16", 1, 2},
    DTypeTraits{DType::kI32, "i32", 1, 4},          DTypeTraits{DType::kI64, "i64", 1, 8},
    DTypeTraits{DType::kF64, "f64", 1, 8},          DTypeTraits{DType::kIQ1_M, "iq1_m", 256, 56},
    DTypeTraits{DType::kBF16, "bf16", 1, 2},        DTypeTraits{DType::kTQ1_0, "tq1_0", 256, 54},
    DTypeTraits{DType::kTQ2_0, "tq2_0", 256, 66},   DTypeTraits{DType::kMXFP4, "mxfp4", 32, 17},
};

// The block layouts of reference.md §8, checked against their field sums.
static_assert(2 + 16 == 18, "q4_0: f16 d + 16 B nibbles");
static_assert(2 + 2 + 16 == 20, "q4_1: f16 d + f16 m + 16 B nibbles");
static_assert(2 + 32 == 34, "q8_0: f16 d + 32 int8");
static_assert(2 + 2 + 12 + 128 == 144, "q4_K: d, dmin, 12 B scales, 128 B nibbles");
static_assert(128 + 64 + 16 + 2 == 210, "q6_K: ql, qh, scales, d");

}  // namespace

std::optional<DTypeTraits> dtype_traits(uint32_t type_id) {
  for (const auto& row : kTable) {
    if (static_cast<uint32_t>(row.type) == type_id) return row;
  }
  return std::nullopt;
}

DTypeTraits dtype_traits(DType t) {
  auto row = dtype_traits(static_cast<uint32_t>(t));
  ER_CHECK(row.has_value(), "unknown DType " + std::to_string(static_cast<uint32_t>(t)));
  return *row;
}

std::string_view dtype_name(DType t) { return dtype_traits(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& row : kTable) {
    if (row.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) ==
             std::tolower(static_cast<unsigned char>(row.name[i]));
    }
    if (same) return row.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> dtype_row_bytes(DType t, uint64_t n_elems) {
  const DTypeTraits tr = dtype_traits(t);
  if (n_elems % tr.block_elems != 0) return std::nullopt;
  return checked_mul(n_elems / tr.block_elems, tr.block_bytes);
}

}  // namespace er
