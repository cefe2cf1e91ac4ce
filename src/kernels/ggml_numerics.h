// Internal: scalar definitions of the float arithmetic llama.cpp's CPU backend performs on x86 with
// AVX-512 (ggml-cpu built GGML_NATIVE on an AVX-512 machine), shared by the scalar reference
// kernels. Every SIMD kernel reproduces these bit for bit. Not for callers outside src/kernels/.
//
// Why mirror rather than approximate: a model's logits are a chaotic function of its inputs.
// Activations are requantized to 8 bits before every matmul and attention rounds q and the
// probabilities to f16, so a one-ulp difference early on flips a rounding somewhere and grows
// layer by layer (llama.cpp itself drifts by up to 7e-2 relative L2 between its batched and
// token-by-token evaluation of the same prompt). Agreeing with llama.cpp's logits therefore means
// doing the same arithmetic in the same order. See docs/engine.md.
#pragma once

#include <cmath>
#include <cstdint>

namespace er::kernels::ggml {

// ggml_v_expf, the AVX-512 variant (ggml-cpu/vec.h), one lane: n = round(x / ln 2), the reduced
// argument b = x - n ln2 in two steps, a degree-5 polynomial j ~ exp(b), then j * 2^n
// (_mm512_scalef_ps, one rounding). |n| > 192 gives 0 or inf. Max error ~1.5 ulp; what matters
// here is that every level returns exactly this value.
inline float expf(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::isnan(n)) return n;
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  return std::ldexp(j, static_cast<int>(n));  // exact j * 2^n, one rounding like scalef
}

// ggml_v_silu: x / (1 + exp(0 - x)) with the vector exp above.
inline float silu(float x) { return x / (1.0f + ggml::expf(0.0f - x)); }

// ggml_silu_f32, the scalar tail of ggml's vector loops (libm expf).
inline float silu_libm(float x) { return x / (1.0f + ::expf(-x)); }

// _mm512_reduce_add_ps (GCC 12): lanes i and i + 8 are added, then i and i + 4, i and i + 2, and
// the last two. lanes: (16,). Generalized to any power-of-two count, the same halving tree is
// what ggml's 4 x 16-lane dot products reduce with (sum[0] + sum[2], sum[1] + sum[3], then the
// 16-lane tree), so reduce_halving(a, 64) is that too.
inline float reduce_halving(float* lanes, int n) {
  for (int half = n / 2; half >= 1; half /= 2) {
    for (int i = 0; i < half; ++i) lanes[i] = lanes[i] + lanes[i + half];
  }
  return lanes[0];
}

// hsum_float_8 / tinyBLAS hsum(__m256): (hi128 + lo128), then lanes 0+2 and 1+3, then the two:
// the 8-lane halving tree.
inline float reduce8(const float* v) {
  const float a0 = v[4] + v[0], a1 = v[5] + v[1], a2 = v[6] + v[2], a3 = v[7] + v[3];
  return (a0 + a2) + (a1 + a3);
}

}  // namespace er::kernels::ggml
