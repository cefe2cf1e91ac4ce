// Row quantization and dequantization for the GGUF weight types, scalar references matching llama.cpp.
//
// One traits row per supported type (the table lives in quant.cpp): block geometry from
// core/dtype.h plus the reference quantize/dequantize functions. The per-type functions follow
// llama.cpp's quantize_row_<t>_ref / dequantize_row_<t> in ggml-quants.c, operation for
// operation, so that the bytes we write and the floats we read are the ones llama.cpp writes and
// reads (K-quants use its make_qkx2_quants / make_qx_quants searches). quant.cpp and quant_k.cpp
// are compiled with -ffp-contract=off: a fused a*b+c would round differently from ggml-base.
//
// PRECONDITIONS for every per-type function: `n` is a multiple of the type's block size
// (32 for Q*_0/Q*_1, 256 for *_K, 1 for F32/F16/BF16); `x` and `y` hold n values / n/block
// blocks and do not overlap. Quantizers expect finite input (quantize_row checks it).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/quant_formats.h"

namespace er::kernels {

using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);
using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);

// What the kernels know about one weight type.
struct QuantTraits {
  DType type;
  int64_t block_elems;          // weights per block
  int64_t block_bytes;          // bytes per block
  QuantizeRowFn quantize;       // reference quantizer (never null in the table)
  DequantizeRowFn dequantize;   // exact llama.cpp dequantization (never null in the table)
};

// The traits of `t`, or nullptr when the kernels do not support it.
const QuantTraits* quant_traits(DType t);

// Types with a reference quantizer (and dequantizer): F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q4_K, Q6_K.
bool can_quantize(DType t);
bool can_dequantize(DType t);

// Quantizes `n` floats from `x` into `y` (dtype_row_bytes(t, n) bytes).
// Errors: unsupported type; n negative or not a multiple of the block size; non-finite input.
Status quantize_row(DType t, const float* x, void* y, int64_t n);

// Dequantizes `n` weights of type `t` from `x` into `y`.
// REQUIRES: can_dequantize(t), n >= 0 and a multiple of the block size (a CHECK, not a Status:
// callers hold validated tensors).
void dequantize_row(DType t, const void* x, float* y, int64_t n);

// Per-type references. `y` / `x` point at n / block_elems blocks of the type.
void quantize_row_f32(const float* x, void* y, int64_t n);
void quantize_row_f16(const float* x, void* y, int64_t n);
void quantize_row_bf16(const float* x, void* y, int64_t n);
void quantize_row_q4_0(const float* x, void* y, int64_t n);
void quantize_row_q4_1(const float* x, void* y, int64_t n);
void quantize_row_q5_0(const float* x, void* y, int64_t n);
void quantize_row_q5_1(const float* x, void* y, int64_t n);
void quantize_row_q8_0(const float* x, void* y, int64_t n);
void quantize_row_q4_K(const float* x, void* y, int64_t n);
void quantize_row_q6_K(const float* x, void* y, int64_t n);

void dequantize_row_f32(const void* x, float* y, int64_t n);
void dequantize_row_f16(const void* x, float* y, int64_t n);
void dequantize_row_bf16(const void* x, float* y, int64_t n);
void dequantize_row_q4_0(const void* x, float* y, int64_t n);
void dequantize_row_q4_1(const void* x, float* y, int64_t n);
void dequantize_row_q5_0(const void* x, float* y, int64_t n);
void dequantize_row_q5_1(const void* x, float* y, int64_t n);
void dequantize_row_q8_0(const void* x, float* y, int64_t n);
void dequantize_row_q4_K(const void* x, float* y, int64_t n);
void dequantize_row_q6_K(const void* x, float* y, int64_t n);

// llama.cpp's nearest_int: round half to even via the 1.5 * 2^23 trick.
// REQUIRES: |v| <= 4194303.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  static_assert(sizeof bits == sizeof shifted);
  __builtin_memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

}  // namespace er::kernels
