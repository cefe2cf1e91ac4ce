// The GGML tensor type table: one row per type (name, block size, bytes per block), as GGUF stores them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace er {

// Numeric values are GGUF's on-disk type ids; they never change.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct DTypeTraits {
  DType type;
  std::string_view name;     // as llama.cpp prints it: "q4_K", "f16", ...
  uint32_t block_elems;      // weights per block (1 for plain types)
  uint32_t block_bytes;      // bytes per block
};

// Traits of a known type id, or nullopt for an id GGUF does not define (or has retired).
std::optional<DTypeTraits> dtype_traits(uint32_t type_id);
// REQUIRES: `t` is a value of the enum above.
DTypeTraits dtype_traits(DType t);
std::string_view dtype_name(DType t);
// Looks a type up by its name, case-insensitively ("Q4_K", "q4_k", "f32").
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of one row of `n_elems` elements; nullopt if n_elems is not a multiple of the block size
// or the size overflows.
std::optional<uint64_t> dtype_row_bytes(DType t, uint64_t n_elems);

}  // namespace er
