// Activation block formats (Q8_1, Q8_K), activation quantizers and the scalar reference dot products.
//
// llama.cpp's CPU backend multiplies a weight row by an activation row after converting the
// activations to the weight type's "vec_dot_type":
//   F32 -> F32, F16 -> F16, BF16 -> BF16, Q8_0 -> Q8_0, Q4_0 -> Q8_0, Q4_1 -> Q8_1,
//   Q5_0 -> Q8_0, Q5_1 -> Q8_1, Q4_K -> Q8_K, Q6_K -> Q8_K.
// The quantizers here produce exactly the bytes ggml-cpu produces on x86 (see docs/kernels.md):
//   q8_0 / q8_1: d = amax / 127 (stored as f16), q = round_half_even(x * (127 / amax)) — the
//                AVX2 path of ggml-cpu's quantize_row_q8_0/q8_1, which llama.cpp runs on any
//                AVX2 machine; q8_1 also stores s = f16(d * sum(q)).
//   q8_K:        ggml's quantize_row_q8_K_ref: iscale = -127 / (signed value of largest
//                magnitude), q = min(127, nearest_int(iscale * x)), d = 1 / iscale (float),
//                bsums[j] = sum of q over 16-element group j.
// The reference dot products define the arithmetic every SIMD level reproduces bit for bit: that
// of llama.cpp's x86 build (ggml's AVX2 vec_dot functions, which its AVX-512 build also runs, and
// llamafile's tinyBLAS, which computes the same per-block sums for these types):
//   Q8_0/Q4_0/Q5_0 (x Q8_0), Q4_1/Q5_1 (x Q8_1): 8 float lanes; lane k takes the exact integer
//       sum of products 4k .. 4k + 3 of each 32-block, acc[k] = fma(d_w * d_a, sum, acc[k]);
//       the result is the 8-lane halving tree, plus (Q4_1/Q5_1) the in-order float sum of m_w * s_a.
//   F32/F16/BF16: the DotOrder of ops.h (16 lanes for a batch through tinyBLAS, 64 lanes plus a
//       tail for ggml_vec_dot); matmul picks the order as llama.cpp does.
//   Q4_K (x Q8_K): llama.cpp repacks Q4_K weights on x86 (q4_K_8x8): per 256-block (its gemv)
//       or per 64 weights (its gemm, batch rows in groups of 4) the exact integers
//       isum = sum_s sc_s q.q_a and msum = sum_s m_s bsum_s, acc = fma(isum, d_w d_a, acc),
//       acc_min = fma(msum, dmin_w d_a, acc_min); the result is acc - acc_min.
//   Q6_K (x Q8_K): a batch of < 8 rows takes ggml_vec_dot_q6_K_q8_K (8 lanes of partial integer
//       sums, acc[k] = fma(d_a d_w, lane_k, acc[k]), the 8-lane tree); >= 8 rows take the tiled
//       K-quant matmul: acc = fma(isum * d_w, d_a, acc) per block.
// BF16 gets F16's orders; llama.cpp's AVX512-BF16 dot instructions are not mirrored.
//
// PRECONDITIONS: n is a multiple of the activation block size (32 for Q8_0/Q8_1, 256 for Q8_K).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "kernels/quant_formats.h"

namespace er::kernels {

// Q8_1: like Q8_0 plus s = d * sum(qs) (f16), which the Q4_1 dot product needs for its offset.
struct block_q8_1 {
  uint16_t d;             // f16 scale
  uint16_t s;             // f16 d * sum(qs)
  int8_t qs[kQK8_0];      // quants
};
static_assert(sizeof(block_q8_1) == 36, "wrong q8_1 block size/padding");

// Q8_K: 256 quants with a float scale and the sums of each 16 quants (for the K-quant mins).
struct block_q8_K {
  float d;                       // scale (float, not f16)
  int8_t qs[kQK_K];              // quants in [-127, 127]
  int16_t bsums[kQK_K / 16];     // bsums[j] = sum of qs[16 j .. 16 j + 15]
};
static_assert(sizeof(block_q8_K) == 292, "wrong q8_K block size/padding");

// The activation ("vec_dot") type for weight type `w`, or nullopt when matmul does not support `w`.
// Supported weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K (Q5_0/Q5_1 are
// the fallbacks llama.cpp's K-quant mixes use for rows whose length is not a multiple of 256).
bool matmul_supports(DType w);
DType act_type_for(DType w);  // REQUIRES: matmul_supports(w)

// Scalar activation quantizers. `y` receives n / block activation blocks (or n halves).
void quantize_act_q8_0(const float* x, void* y, int64_t n);
void quantize_act_q8_1(const float* x, void* y, int64_t n);
void quantize_act_q8_K(const float* x, void* y, int64_t n);
void quantize_act_f16(const float* x, void* y, int64_t n);   // round to nearest even
void quantize_act_bf16(const float* x, void* y, int64_t n);  // round to nearest even

// Scalar reference dot products of one weight row (`w`, n weights) and one activation row
// (`a`, n activations of the matching type), summed in llama.cpp's order (see the top).
float vec_dot_f32_ref(int64_t n, const void* w, const void* a, DotOrder order);
float vec_dot_f16_ref(int64_t n, const void* w, const void* a, DotOrder order);
float vec_dot_bf16_ref(int64_t n, const void* w, const void* a, DotOrder order);
float vec_dot_q8_0_q8_0_ref(int64_t n, const void* w, const void* a);
float vec_dot_q4_0_q8_0_ref(int64_t n, const void* w, const void* a);
float vec_dot_q4_1_q8_1_ref(int64_t n, const void* w, const void* a);
float vec_dot_q5_0_q8_0_ref(int64_t n, const void* w, const void* a);
float vec_dot_q5_1_q8_1_ref(int64_t n, const void* w, const void* a);
float vec_dot_q4_K_q8_K_ref(int64_t n, const void* w, const void* a, bool gemm);
float vec_dot_q6_K_q8_K_ref(int64_t n, const void* w, const void* a, bool tiled);

// llama.cpp's code path for one matmul call, which fixes the summation order (see the top):
//   kVecDot:     ggml_vec_dot per output (one token, or shapes tinyBLAS declines); for Q4_K the
//                repacked gemv
//   kTinyBlas:   F32/F16/BF16 weights, >= 2 rows, weight rows % 4 == 0, row length % 16 == 0
//   kTiled:      Q6_K weights, >= 8 rows
//   kRepackGemm: Q4_K weights, the first n - n % 4 of n >= 4 rows
// The quantized 32-block types compute the same on every path.
enum class MatmulPath { kVecDot, kTinyBlas, kTiled, kRepackGemm };

// The reference dot product for weight type `w` on `path` (dispatches to the functions above).
float vec_dot_ref(DType w, int64_t n, const void* wrow, const void* arow, MatmulPath path = MatmulPath::kVecDot);

// Dequantizes an activation row of type `t` (Q8_0, Q8_1, Q8_K, F16, BF16, F32) for tests.
void dequantize_act(DType t, const void* a, float* out, int64_t n);

}  // namespace er::kernels
