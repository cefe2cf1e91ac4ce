// Small float ops of the forward pass (rmsnorm, rope, softmax, SwiGLU, add, attention pieces), scalar + SIMD.
//
// Each op computes exactly what llama.cpp's CPU backend computes on x86 with AVX-512 (the build
// the golden files come from), in the same order, so that every level (scalar reference, AVX2,
// AVX-512) returns bit-identical results and agrees bit for bit with llama.cpp (ggml_numerics.h
// says why that matters):
//   rmsnorm: sum of x^2 in double, sequentially; scale = 1 / sqrtf(float(sum / n) + eps);
//            y = (x * scale) * w
//   rope:    theta_i as ggml_rope_cache_init (repeated float multiplication, cosf/sinf);
//            x0' = fma(x0, cos, -(x1 sin)), x1' = fma(x0, sin, x1 cos) (GCC's contraction of
//            ggml's rotate_pairs); in the normal (non-NeoX) layout the last n_pairs % 4 pairs
//            are not fused (x0 cos - x1 sin, x0 sin + x1 cos), as ggml's vectorized epilogue
//   softmax: e = ggml::expf(x - max) in chunks of 16 (zero past n), each chunk summed by the
//            16-lane halving tree into a double; y = e * float(1 / sum)
//   swiglu:  y = silu(g) * u, silu(g) = g / (1 + ggml::expf(0 - g)) in chunks of 16; the n % 16
//            tail uses libm expf (ggml's scalar loop)
//   geglu:   y = gelu(g) * u through ggml's f16 GELU table (portable, below; not in Ops)
// Pick the level with ops(isa); nothing is global.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/isa.h"

namespace er::kernels {

struct RopeParams {
  int n_rot = 0;            // rotated dimensions per head (<= head_dim, even)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // linear position scaling (1 = none)
  bool neox = false;        // NeoX ordering (Qwen2/3) vs normal (Llama GGUF)
  const float* freq_factors = nullptr;  // (n_rot / 2,) Llama-3 "rope_freqs" divisors, or none
};

// The (cos, sin) pairs of one position: cos_sin[2 i] = cos(theta_i), cos_sin[2 i + 1] = sin(theta_i)
// for i < n_rot / 2. cos_sin: (n_rot,) floats.
void rope_cache(const RopeParams& p, int64_t pos, float* cos_sin);

// The summation order of an attention dot product, which in llama.cpp depends on the batch:
//   kTinyBlas: a batch of >= 2 tokens runs KQ and KQV through llamafile's tinyBLAS: 16 lanes,
//              element i into lane i % 16 (fma, in order), then the 16-lane halving tree.
//   kVecDot:   a single token runs ggml_vec_dot_f16/f32: 64 lanes (four 16-lane accumulators)
//              over the first n - n % 64 elements, the 64-lane halving tree, then the tail
//              added one element at a time (f16: in double; f32: rounded products in float).
//              Over positions (KQV) there is no tail: llama.cpp pads the KV length to a
//              multiple of 256 with p = 0.
enum class DotOrder { kTinyBlas, kVecDot };

struct Ops {
  // y (n,) = x / sqrt(mean(x^2) + eps) * w. y may alias x.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // rmsnorm of n_rows rows of n floats (row r at x + r n, y + r n), each row's result bit-identical
  // to rmsnorm's: the rows' sequential double sums advance side by side.
  void (*rmsnorm_rows)(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);
  // Rotates n_head heads of head_dim floats at x (n_head * head_dim,) in place with one position's
  // cos_sin from rope_cache.
  void (*rope)(float* x, int64_t n_head, int64_t head_dim, const float* cos_sin, int n_rot, bool neox);
  // x (n,) <- softmax(x).
  void (*softmax)(float* x, int64_t n);
  // y (n,) = silu(gate) * up. y may alias either input.
  void (*swiglu)(const float* gate, const float* up, float* y, int64_t n);
  // y (n,) = a + b. y may alias either input.
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  // x (n,) *= s.
  void (*scale)(float* x, float s, int64_t n);
  // y (n,) = x rounded to the nearest f16 value (as float). y may alias x.
  void (*round_f16)(const float* x, float* y, int64_t n);

  // Grouped attention (the G query heads that share one KV head, G <= kMaxAttnGroup):
  // s (G, n_kv) = (q (G, d) . k_j) * scale, k_j at k + j * stride, summed in `order`
  // (kTinyBlas REQUIRES d % 16 == 0). With an f16 cache the caller passes q already rounded to
  // f16 values (llama.cpp converts q to f16 for the f16 x f16 product).
  void (*attn_scores_f16)(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                          float scale, DotOrder order, float* s);
  void (*attn_scores_f32)(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                          float scale, DotOrder order, float* s);
  // out (G, d) = sum_j p[g * n_kv + j] * v_j, summed over j in `order` (llama.cpp's KQV product
  // runs over the transposed V cache, so the lanes hold positions). The f16 version first rounds
  // p in place to f16 values (the softmax output is converted to f16 for that product).
  void (*attn_values_f16)(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d,
                          DotOrder order, float* out);
  void (*attn_values_f32)(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d,
                          DotOrder order, float* out);
  // log(sum_i exp(x_i)) = max + log(sum), the sum as softmax's (ggml::expf(x - max) in chunks of
  // 16, each chunk's halving tree added into a double): the sampler's normalizer for token
  // log-probabilities. Every level returns the same bits. REQUIRES: n >= 1.
  double (*log_sum_exp)(const float* x, int64_t n);
  // y (n,) = x as f16 bits, rounded to nearest even (F16C's _cvtps_ph(x, 0); f32_to_f16): the KV
  // cache store. Every level returns the same bits.
  void (*to_f16)(const float* x, uint16_t* y, int64_t n);
  // The index of the first largest value of x (n,) among those above -inf, NaN ignored; 0 when
  // no value is above -inf: greedy sampling. Every level returns the same index.
  int64_t (*argmax)(const float* x, int64_t n);
  // True when no value of x (n,) is NaN or +inf (-inf is allowed): the logits check.
  bool (*all_finite)(const float* x, int64_t n);
};

inline constexpr int kMaxAttnGroup = 8;  // query heads per KV head handled in one pass

// GELU (tanh approximation) of one value as llama.cpp tabulates it: gelu(h) =
// 0.5 h (1 + tanhf(sqrt(2/pi) h (1 + 0.044715 h^2))) in float, rounded to f16, for the f16 value h.
float gelu_f16_entry(uint16_t h);

// y (n,) = gelu(gate) * up, GeGLU (Gemma's feed-forward), as ggml_vec_geglu_f32 with
// GGML_GELU_FP16 (what llama.cpp's CPU backend runs on every CPU, a scalar loop): gate <= -10
// gives 0, gate >= 10 gives gate * up, otherwise gate is rounded to f16 (nearest even) and looked
// up in the 65,536-entry table of gelu_f16_entry. One portable implementation serves every ISA
// level (there is nothing to vectorize in llama.cpp's either). y may alias either input.
void geglu(const float* gate, const float* up, float* y, int64_t n);

// The ops of level `isa` (scalar reference for Isa::kScalar).
// REQUIRES: isa_supported(isa).
const Ops& ops(Isa isa);

namespace detail {
// The end of every SIMD argmax: lane l of n_lanes holds the first largest value bv[l] of its
// elements at index bi[l] (bv[l] is -inf when none was above -inf, bi[l] then meaningless); the
// result is the largest lane value, the smallest index on a tie, continued over the scalar tail
// x[from, n) with the reference's rule.
inline int64_t argmax_lanes(const float* bv, const int32_t* bi, int n_lanes, const float* x, int64_t from, int64_t n) {
  int64_t out = 0;
  float out_v = -INFINITY;
  for (int l = 0; l < n_lanes; ++l) {
    if (bv[l] > out_v || (bv[l] == out_v && bv[l] > -INFINITY && bi[l] < out)) {
      out_v = bv[l];
      out = bi[l];
    }
  }
  for (int64_t i = from; i < n; ++i) {
    if (x[i] > out_v) {
      out_v = x[i];
      out = i;
    }
  }
  return out;
}

const Ops& ops_scalar();
#if defined(__x86_64__)
const Ops& ops_avx2();
const Ops& ops_avx512();  // the AVX2 table with AVX-512 softmax, SwiGLU and attention ops
#elif defined(__aarch64__)
const Ops& ops_neon();    // every AArch64 level (the float ops need nothing past ARMv8.0)
#endif
}  // namespace detail

}  // namespace er::kernels
