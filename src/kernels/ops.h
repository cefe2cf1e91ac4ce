// Small float ops of the forward pass (rmsnorm, rope, softmax, SwiGLU, add, scale), scalar + SIMD.
//
// Numerics follow ggml-cpu so that logits match llama.cpp:
//   rmsnorm: mean(x^2) summed in double, scale = 1 / sqrtf(mean + eps) in float, y = (x * scale) * w
//   rope:    theta_i = pos * base^(-2i/n_rot) computed as ggml_rope_cache_init does (theta starts
//            at pos * freq_scale and is multiplied by powf(base, -2/n_rot) once per pair, in float);
//            normal: pairs (x[2i], x[2i+1]); NeoX: pairs (x[i], x[i + n_rot/2]); dims >= n_rot pass
//   softmax: max, e = exp(x - max), sum in double, y = e * (1 / sum)
//   swiglu:  y = silu(g) * u with silu(g) = g / (1 + exp(-g))
// The SIMD paths use a polynomial exp accurate to a few ulp; everything else is the same float
// arithmetic in a different order. Pick the level with ops(isa); nothing is global.
#pragma once

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

struct Ops {
  // y (n,) = x / sqrt(mean(x^2) + eps) * w. y may alias x.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
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
  // Dot products of attention: float (n,) . float (n,) and f16 bits (n,) . f16 bits (n,),
  // accumulated in float.
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f16)(const uint16_t* a, const uint16_t* b, int64_t n);
  // y (n,) += s * x for float x or f16-bits x.
  void (*axpy_f32)(float s, const float* x, float* y, int64_t n);
  void (*axpy_f16)(float s, const uint16_t* x, float* y, int64_t n);

  // Grouped attention (the G query heads that share one KV head, G <= kMaxAttnGroup):
  // s (G, n_kv) = scale * (q (G, d) . k_j), k_j at k + j * stride; float sums. With an f16 cache
  // the caller passes q already rounded to f16 values.
  void (*attn_scores_f16)(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                          float scale, float* s);
  void (*attn_scores_f32)(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                          float scale, float* s);
  // out (G, d) = sum_j p[g * n_kv + j] * v_j. The f16 version first rounds p in place to f16
  // values (as llama.cpp's f16 vec_dot of softmax(KQ) with V does).
  void (*attn_values_f16)(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d,
                          float* out);
  void (*attn_values_f32)(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d,
                          float* out);
  // y (n,) = x rounded to the nearest f16 value (as float). y may alias x.
  void (*round_f16)(const float* x, float* y, int64_t n);
};

inline constexpr int kMaxAttnGroup = 8;  // query heads per KV head handled in one pass

// The ops of level `isa` (scalar reference for Isa::kScalar).
// REQUIRES: isa_supported(isa).
const Ops& ops(Isa isa);

namespace detail {
const Ops& ops_scalar();
const Ops& ops_avx2();
const Ops& ops_avx512();  // the AVX2 table with AVX-512 attention ops
}  // namespace detail

}  // namespace er::kernels
