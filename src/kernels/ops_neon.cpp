// AArch64 NEON float ops (ARMv8.0 Advanced SIMD, no extra flags; internal linkage except
// ops_neon). Bit-identical to the scalar reference (ops.h): the same operations in the same order,
// four lanes at a time, several vectors in flight to realise the 16- and 64-lane orders.
//
// The fused forms (vfmaq / vfmsq, by vector, lane or scalar: FMLA / FMLS) appear exactly where the
// reference calls std::fma and nowhere else; every other product is vmulq_f32 (the build's
// -ffp-contract=off keeps GCC from fusing it). Horizontal sums never use vaddvq_f32 (pairwise, the
// wrong tree): tree4 and the explicit vector adds below give the halving order of
// ggml_numerics.h. FCVTN / FCVTL convert f32 <-> f16 like F16C under Linux's default FPCR (round
// to nearest even, no flush to zero, NaNs kept quiet with their payload).
// NaN payloads: where two different NaNs meet, which one comes out depends on operand order
// (AArch64 returns the first operand's), which GCC picks freely for + and * here as in the
// reference, so only such a result's payload or sign may differ from the reference's.
#include <arm_neon.h>

#include <cmath>  // INFINITY; math calls below are builtins, never std:: inline copies
#include <cstdint>

#include "core/f16.h"
#include "kernels/ops.h"

namespace er::kernels {
namespace {

// The 4-lane halving tree (v0 + v2) + (v1 + v3): the last two levels of every tree here.
inline float tree4(float32x4_t v) { return vpadds_f32(vadd_f32(vget_low_f32(v), vget_high_f32(v))); }

// The 16-lane halving tree of lanes 4k..4k+3 in a[k], down to 4 lanes: i + (i + 8), then i + (i + 4).
inline float32x4_t tree16_to4(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3) {
  return vaddq_f32(vaddq_f32(a0, a2), vaddq_f32(a1, a3));
}

// ggml::expf's constants, built once per call outside the loops. The multiplicands travel as lanes
// of two vectors (FMLA / FMLS by element are fused too) and 2^k is built on the bits of 1.0f, so
// they take 7 registers. The empty asm hides the values from GCC, which otherwise propagates
// them back into one literal-pool load per use inside the loop.
struct ExpConsts {
  float32x4_t m0, m1, r, one, c4, c2, lim;
  ExpConsts()
      : m0{0x1.715476p+0f, 0x1.62e4p-1f, 0x1.7f7d1cp-20f, 0x1.0e4020p-7f},
        m1{0x1.555e66p-3f, 0x1.ffffecp-1f, 0.0f, 0.0f},
        r(vdupq_n_f32(0x1.8p23f)),
        one(vdupq_n_f32(1.0f)),
        c4(vdupq_n_f32(0x1.573e2ep-5f)),
        c2(vdupq_n_f32(0x1.fffdb6p-2f)),
        lim(vdupq_n_f32(192.0f)) {
    asm("" : "+w"(m0), "+w"(m1), "+w"(r), "+w"(one), "+w"(c4), "+w"(c2), "+w"(lim));
  }
};

// ggml::expf (ggml_v_expf's AVX-512 variant) on N vectors at once. 2^n (|n| <= 192) is applied as
// two exact power-of-two factors so the only rounding is the last product, as _mm512_scalef_ps.
// Returns false if some lane has |n| > 192 or NaN (x < -133, overflow, NaN: rare), whose results
// are then wrong: the caller recomputes that chunk with exp_full. One test per chunk instead of
// blends on every vector, and nothing kept for the rare case, which keeps the N-way interleave in
// registers.
template <int N>
inline bool exp_fast(const ExpConsts& kc, float32x4_t* x) {
  uint32x4_t ok = vdupq_n_u32(~0u);
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k) {
    const float32x4_t n = vsubq_f32(vfmaq_laneq_f32(kc.r, x[k], kc.m0, 0), kc.r);
    // fma(-n, c, y) is y - n c rounded once: FMLS.
    const float32x4_t b = vfmsq_laneq_f32(vfmsq_laneq_f32(x[k], n, kc.m0, 1), n, kc.m0, 2);
    const float32x4_t u = vmulq_f32(b, b);
    const float32x4_t p1 = vfmaq_laneq_f32(kc.c4, b, kc.m0, 3);
    const float32x4_t p2 = vfmaq_laneq_f32(kc.c2, b, kc.m1, 0);
    const float32x4_t p3 = vfmaq_laneq_f32(kc.one, b, kc.m1, 1);
    const float32x4_t j = vfmaq_f32(p3, vfmaq_f32(p2, p1, u), u);
    const int32x4_t ni = vcvtq_s32_f32(n);  // n is integral
    const int32x4_t h = vshrq_n_s32(ni, 1);
    const int32x4_t one_bits = vreinterpretq_s32_f32(kc.one);  // 2^k = (k << 23) + bits(1.0f)
    const float32x4_t s1 = vreinterpretq_f32_s32(vaddq_s32(vshlq_n_s32(h, 23), one_bits));
    const float32x4_t s2 = vreinterpretq_f32_s32(vaddq_s32(vshlq_n_s32(vsubq_s32(ni, h), 23), one_bits));
    x[k] = vmulq_f32(vmulq_f32(j, s1), s2);
    ok = vandq_u32(ok, vcaleq_f32(n, kc.lim));  // |n| <= 192; false for NaN
  }
  // All lanes set? XTN to 64 bits and one compare (cheaper than UMINV).
  return vget_lane_u64(vreinterpret_u64_u16(vmovn_u32(ok)), 0) == ~uint64_t{0};
}

// ggml::expf on one vector, every case: NaN gives n itself, |n| > 192 gives 0 (n <= 0) or inf.
inline float32x4_t exp_full(float32x4_t x) {
  const float32x4_t r = vdupq_n_f32(0x1.8p23f);
  const float32x4_t n = vsubq_f32(vfmaq_f32(r, x, vdupq_n_f32(0x1.715476p+0f)), r);
  float32x4_t e = x;
  exp_fast<1>(ExpConsts(), &e);
  const float32x4_t big = vbslq_f32(vclezq_f32(n), vdupq_n_f32(0.0f), vdupq_n_f32(INFINITY));
  const float32x4_t special = vbslq_f32(vceqq_f32(n, n), big, n);
  return vbslq_f32(vcaleq_f32(n, vdupq_n_f32(192.0f)), e, special);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // The squares are rounded to float and widened four at a time; the double sum itself stays in
  // order, one element after the other, as ggml (a vector sum would round differently).
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    const float32x4_t sq = vmulq_f32(v, v);
    const float64x2_t lo = vcvt_f64_f32(vget_low_f32(sq)), hi = vcvt_high_f64_f32(sq);
    sum += vgetq_lane_f64(lo, 0);
    sum += vgetq_lane_f64(lo, 1);
    sum += vgetq_lane_f64(hi, 0);
    sum += vgetq_lane_f64(hi, 1);
  }
  for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / __builtin_sqrtf(mean + eps);
  const float32x4_t vs = vdupq_n_f32(scale);
  i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(w + i)));
  for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rmsnorm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) rmsnorm(x + r * n, w, y + r * n, n, eps);
}

// x0' = fma(x0, c, -(x1 s)), x1' = fma(x0, s, x1 c) on 4 pairs.
inline void rotate4(float32x4_t x0, float32x4_t x1, float32x4_t c, float32x4_t s, float32x4_t* y0,
                    float32x4_t* y1) {
  *y0 = vfmaq_f32(vnegq_f32(vmulq_f32(x1, s)), x0, c);
  *y1 = vfmaq_f32(vmulq_f32(x1, c), x0, s);
}

void rope(float* x, int64_t n_head, int64_t head_dim, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  const int n_fused = neox ? half : half - half % 4;
  for (int64_t h = 0; h < n_head; ++h) {
    float* v = x + h * head_dim;
    int i = 0;
    for (; i + 4 <= n_fused; i += 4) {
      const float32x4x2_t t = vld2q_f32(cs + 2 * i);  // de-interleaved (cos, sin) pairs
      float32x4_t y0, y1;
      if (neox) {
        rotate4(vld1q_f32(v + i), vld1q_f32(v + i + half), t.val[0], t.val[1], &y0, &y1);
        vst1q_f32(v + i, y0);
        vst1q_f32(v + i + half, y1);
      } else {
        const float32x4x2_t p = vld2q_f32(v + 2 * i);  // de-interleaved (x0, x1) pairs
        rotate4(p.val[0], p.val[1], t.val[0], t.val[1], &y0, &y1);
        vst2q_f32(v + 2 * i, (float32x4x2_t{{y0, y1}}));
      }
    }
    for (; i < half; ++i) {
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1], c = cs[2 * i], s = cs[2 * i + 1];
      if (i < n_fused) {
        v[i0] = __builtin_fmaf(x0, c, -(x1 * s));
        v[i1] = __builtin_fmaf(x0, s, x1 * c);
      } else {
        // The products are rounded on their own: volatile keeps GCC's -O3 vectorizer from fusing
        // them (it does, even under -ffp-contract=off).
        volatile float x0c = x0 * c, x1s = x1 * s, x0s = x0 * s, x1c = x1 * c;
        v[i0] = x0c - x1s;
        v[i1] = x0s + x1c;
      }
    }
  }
}

// max(x) as the reference's `x > max ? x : max` (NaN never taken), four vector accumulators.
// FMAX would let a NaN through; the select may end on a zero of the other sign, which changes
// neither x - max nor exp of it.
float max_of(const float* x, int64_t n) {
  float32x4_t m[4];
  for (auto& v : m) v = vdupq_n_f32(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 4; ++k) {
      const float32x4_t v = vld1q_f32(x + i + 4 * k);
      m[k] = vbslq_f32(vcgtq_f32(v, m[k]), v, m[k]);
    }
  }
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    m[0] = vbslq_f32(vcgtq_f32(v, m[0]), v, m[0]);
  }
  float max = -INFINITY;
  for (int k = 0; k < 4; ++k) {
    for (int l = 0; l < 4; ++l) {
      const float v = m[k][l];
      max = v > max ? v : max;
    }
  }
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  return max;
}

// sum of exp(x - max) in chunks of 16 (each chunk's 16-lane halving tree into a double); the exps
// are stored to y when it is not null (y may be x). The lanes of the last chunk past n are zeroed
// after the exp, as the reference's padding (whatever exp(pad - max) would be).
double exp_sum(const float* x, float max, int64_t n, float* y) {
  const float32x4_t vm = vdupq_n_f32(max);
  const ExpConsts kc;
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t e[4];
    for (int k = 0; k < 4; ++k) e[k] = vsubq_f32(vld1q_f32(x + i + 4 * k), vm);
    if (!exp_fast<4>(kc, e)) {
      for (int k = 0; k < 4; ++k) e[k] = exp_full(vsubq_f32(vld1q_f32(x + i + 4 * k), vm));
    }
    if (y != nullptr) {
      for (int k = 0; k < 4; ++k) vst1q_f32(y + i + 4 * k, e[k]);
    }
    sum += static_cast<double>(tree4(tree16_to4(e[0], e[1], e[2], e[3])));
  }
  if (i < n) {
    const int64_t m = n - i;
    float buf[16] = {};
    for (int64_t l = 0; l < m; ++l) buf[l] = x[i + l];
    float32x4_t e[4];
    for (int k = 0; k < 4; ++k) e[k] = exp_full(vsubq_f32(vld1q_f32(buf + 4 * k), vm));
    for (int k = 0; k < 4; ++k) vst1q_f32(buf + 4 * k, e[k]);
    for (int64_t l = m; l < 16; ++l) buf[l] = 0.0f;
    if (y != nullptr) {
      for (int64_t l = 0; l < m; ++l) y[i + l] = buf[l];
    }
    for (int k = 0; k < 4; ++k) e[k] = vld1q_f32(buf + 4 * k);
    sum += static_cast<double>(tree4(tree16_to4(e[0], e[1], e[2], e[3])));
  }
  return sum;
}

void softmax(float* x, int64_t n) {
  const float inv = static_cast<float>(1.0 / exp_sum(x, max_of(x, n), n, x));
  const float32x4_t vi = vdupq_n_f32(inv);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vi));
  for (; i < n; ++i) x[i] *= inv;
}

double log_sum_exp(const float* x, int64_t n) {
  const float max = max_of(x, n);
  return static_cast<double>(max) + __builtin_log(exp_sum(x, max, n, nullptr));
}

// Per lane l the first largest value at indices = l (mod 4) above -inf (strict >: NaN never
// taken, the first occurrence kept); detail::argmax_lanes merges the lanes.
int64_t argmax(const float* x, int64_t n) {
  float32x4_t best = vdupq_n_f32(-INFINITY);
  const int32_t lane0[4] = {0, 1, 2, 3};
  int32x4_t idx = vld1q_s32(lane0), best_i = idx;
  const int32x4_t step = vdupq_n_s32(4);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4, idx = vaddq_s32(idx, step)) {
    const float32x4_t v = vld1q_f32(x + i);
    const uint32x4_t gt = vcgtq_f32(v, best);
    best = vbslq_f32(gt, v, best);
    best_i = vbslq_s32(gt, idx, best_i);
  }
  float bv[4];
  int32_t bi[4];
  vst1q_f32(bv, best);
  vst1q_s32(bi, best_i);
  return detail::argmax_lanes(bv, bi, 4, x, i, n);
}

bool all_finite(const float* x, int64_t n) {
  const float32x4_t inf = vdupq_n_f32(INFINITY);
  uint32x4_t ok = vdupq_n_u32(0xFFFFFFFFu);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) ok = vandq_u32(ok, vcltq_f32(vld1q_f32(x + i), inf));
  bool res = vminvq_u32(ok) == 0xFFFFFFFFu;
  for (; i < n; ++i) res &= x[i] < INFINITY;
  return res;
}

void swiglu(const float* g, const float* u, float* y, int64_t n) {
  const float32x4_t one = vdupq_n_f32(1.0f), zero = vdupq_n_f32(0.0f);
  const int64_t n_vec = n - n % 16;  // ggml's vector range; its scalar tail uses libm expf
  const ExpConsts kc;
  for (int64_t i = 0; i < n_vec; i += 16) {
    float32x4_t e[4];
    for (int k = 0; k < 4; ++k) e[k] = vsubq_f32(zero, vld1q_f32(g + i + 4 * k));  // 0 - g, as ggml_v_silu
    if (!exp_fast<4>(kc, e)) {
      for (int k = 0; k < 4; ++k) e[k] = exp_full(vsubq_f32(zero, vld1q_f32(g + i + 4 * k)));
    }
    for (int k = 0; k < 4; ++k) {
      const float32x4_t silu = vdivq_f32(vld1q_f32(g + i + 4 * k), vaddq_f32(one, e[k]));
      vst1q_f32(y + i + 4 * k, vmulq_f32(silu, vld1q_f32(u + i + 4 * k)));
    }
  }
  for (int64_t i = n_vec; i < n; ++i) y[i] = g[i] / (1.0f + __builtin_expf(-g[i])) * u[i];
}

void add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

void scale(float* x, float s, int64_t n) {
  const float32x4_t vs = vdupq_n_f32(s);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vs));
  for (; i < n; ++i) x[i] *= s;
}

// The last n % 4 elements go through a zero-padded vector, so every element takes the same
// hardware conversion.
void to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
    vst1q_u16(y + i, vreinterpretq_u16_f16(h));
  }
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  if (i < n) {
    float buf[4] = {};
    uint16_t out[4];
    for (int64_t l = 0; i + l < n; ++l) buf[l] = x[i + l];
    vst1_u16(out, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(buf))));
    for (int64_t l = 0; i + l < n; ++l) y[i + l] = out[l];
  }
}

void round_f16(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  if (i < n) {
    float buf[4] = {};
    for (int64_t l = 0; i + l < n; ++l) buf[l] = x[i + l];
    vst1q_f32(buf, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(buf))));
    for (int64_t l = 0; i + l < n; ++l) y[i + l] = buf[l];
  }
}

// ---- attention ---------------------------------------------------------------------------------

// Cache element loaders: DC consecutive vectors (4 DC elements) at p. The scalar form (kVecDot's
// tail) is the reference's software conversion.
struct KF16 {
  using T = uint16_t;
  static constexpr bool kF16 = true;
  static float32x4_t load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  template <int DC>
  static void load_n(const uint16_t* p, float32x4_t* out) {
    if constexpr (DC == 1) {
      out[0] = load(p);
    } else {
      for (int c = 0; c < DC; c += 2) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p + 4 * c));
        out[c] = vcvt_f32_f16(vget_low_f16(h));
        out[c + 1] = vcvt_high_f32_f16(h);
      }
    }
  }
  static float scalar(uint16_t h) { return f16_to_f32(h); }
};
struct KF32 {
  using T = float;
  static constexpr bool kF16 = false;
  static float32x4_t load(const float* p) { return vld1q_f32(p); }
  template <int DC>
  static void load_n(const float* p, float32x4_t* out) {
    for (int c = 0; c < DC; ++c) out[c] = vld1q_f32(p + 4 * c);
  }
  static float scalar(float f) { return f; }
};

// GCC keeps a register-blocked accumulator array in registers only when every loop that indexes
// it is unrolled (otherwise it stores the whole array back on every iteration), hence the unroll
// pragmas on the small constant loops below.

// NB query heads (q rows d apart) against one key, kTinyBlas order: element i into lane i % 16,
// i.e. vector (i % 16) / 4, the four vectors of every head live at once so each key chunk is
// loaded (and converted) once for the block. d % 4 == 0; a last partial 16-block (d % 16 != 0,
// not used by llama.cpp) updates only its first vectors, as the reference's lanes.
template <typename L, int NB>
inline void dots_tinyblas(const float* q, const typename L::T* kj, int64_t d, float* out) {
  float32x4_t acc[NB][4];
#pragma GCC unroll 16
  for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) acc[g][t] = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    float32x4_t kv[4];
    L::template load_n<4>(kj + i, kv);
#pragma GCC unroll 16
    for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) acc[g][t] = vfmaq_f32(acc[g][t], vld1q_f32(q + g * d + i + 4 * t), kv[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < 3; ++t) {
    if (i + 4 * t >= d) break;
    const float32x4_t kv = L::load(kj + i + 4 * t);
#pragma GCC unroll 16
    for (int g = 0; g < NB; ++g) acc[g][t] = vfmaq_f32(acc[g][t], vld1q_f32(q + g * d + i + 4 * t), kv);
  }
#pragma GCC unroll 16
  for (int g = 0; g < NB; ++g) out[g] = tree4(tree16_to4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]));
}

// kVecDot order over the first d - d % 64 elements: 64 lanes, element i into vector (i % 64) / 4
// (v_0..v_15). The 64-lane tree starts v_c + v_(c+8), then + (v_(c+4) + v_(c+12)), so the vectors
// are accumulated in the four groups {m, m+4, m+8, m+12} (m = 0..3) and each group is folded to
// x_m = (v_m + v_(m+8)) + (v_(m+4) + v_(m+12)) as soon as it is done: 4 NB accumulators live
// instead of 16 NB. Then (x_0 + x_2) + (x_1 + x_3) and the 4-lane tree.
template <typename L, int NB>
inline void dots_vecdot(const float* q, const typename L::T* kj, int64_t d, float* out) {
  const int64_t np = d - d % 64;
  float32x4_t z[NB][2];
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    float32x4_t acc[NB][4];
#pragma GCC unroll 16
    for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) acc[g][t] = vdupq_n_f32(0.0f);
    }
    for (int64_t s = 0; s < np; s += 64) {
      const int64_t o = s + 4 * m;
      float32x4_t kv[4];  // vectors m, m+4, m+8, m+12 of this 64-step
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) kv[t] = L::load(kj + o + 16 * t);
#pragma GCC unroll 16
      for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) acc[g][t] = vfmaq_f32(acc[g][t], vld1q_f32(q + g * d + o + 16 * t), kv[t]);
      }
    }
#pragma GCC unroll 16
    for (int g = 0; g < NB; ++g) {
      const float32x4_t x = vaddq_f32(vaddq_f32(acc[g][0], acc[g][2]), vaddq_f32(acc[g][1], acc[g][3]));
      z[g][m & 1] = m < 2 ? x : vaddq_f32(z[g][m & 1], x);
    }
  }
#pragma GCC unroll 16
  for (int g = 0; g < NB; ++g) out[g] = tree4(vaddq_f32(z[g][0], z[g][1]));
}

// kVecDot's tail (d % 64 elements) added to the reduced head, as the scalar reference.
template <typename L>
inline float dot_tail(float head, const float* a, const typename L::T* b, int64_t d, DotOrder order) {
  if (order == DotOrder::kTinyBlas) return head;
  const int64_t np = d - d % 64;
  if constexpr (L::kF16) {
    double sum = head;
    for (int64_t i = np; i < d; ++i) sum += static_cast<double>(a[i] * L::scalar(b[i]));
    return static_cast<float>(sum);
  } else {
    float sum = head;
    for (int64_t i = np; i < d; ++i) {
      volatile float prod = a[i] * L::scalar(b[i]);  // rounded on its own (ggml's scalar tail)
      sum += prod;
    }
    return sum;
  }
}

// The heads of one block against key row kj, their sums at h[0..NB).
template <typename L, DotOrder O, int NB>
inline void dots(const float* q, const typename L::T* kj, int64_t d, float* h) {
  if constexpr (O == DotOrder::kTinyBlas) {
    dots_tinyblas<L, NB>(q, kj, d, h);
  } else {
    dots_vecdot<L, NB>(q, kj, d, h);
  }
}

// All heads against each key in turn, in blocks of NBs heads (at most 3: 12 accumulators, the 12
// query vectors GCC's scheduler loads ahead and the key chunk fit the 32 registers; 4 spilled).
// Later blocks find the key row still in L1.
template <typename L, DotOrder O, int... NBs>
void scores_blocks(const float* q, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                   float* s) {
  constexpr int G = (NBs + ...);
  for (int64_t j = 0; j < n_kv; ++j) {
    const typename L::T* kj = k + j * stride;
    float h[G];
    int g0 = 0;
    ((dots<L, O, NBs>(q + g0 * d, kj, d, h + g0), g0 += NBs), ...);
    for (int g = 0; g < G; ++g) s[g * n_kv + j] = dot_tail<L>(h[g], q + g * d, kj, d, O) * scale;
  }
}

template <typename L, DotOrder O>
void scores_order(const float* q, int ng, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d,
                  float scale, float* s) {
  switch (ng) {
    case 1: return scores_blocks<L, O, 1>(q, k, stride, n_kv, d, scale, s);
    case 2: return scores_blocks<L, O, 2>(q, k, stride, n_kv, d, scale, s);
    case 3: return scores_blocks<L, O, 3>(q, k, stride, n_kv, d, scale, s);
    case 4: return scores_blocks<L, O, 2, 2>(q, k, stride, n_kv, d, scale, s);
    case 5: return scores_blocks<L, O, 3, 2>(q, k, stride, n_kv, d, scale, s);
    case 6: return scores_blocks<L, O, 3, 3>(q, k, stride, n_kv, d, scale, s);
    case 7: return scores_blocks<L, O, 3, 2, 2>(q, k, stride, n_kv, d, scale, s);
    default: return scores_blocks<L, O, 3, 3, 2>(q, k, stride, n_kv, d, scale, s);
  }
}

template <typename L>
void scores(const float* q, int ng, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
            DotOrder order, float* s) {
  if (order == DotOrder::kTinyBlas) return scores_order<L, DotOrder::kTinyBlas>(q, ng, k, stride, n_kv, d, scale, s);
  scores_order<L, DotOrder::kVecDot>(q, ng, k, stride, n_kv, d, scale, s);
}

// Values: out (NB, 4 DC dims at i) = sum_j p_j v_j with lane l of LANES (16 or 64) holding the
// positions j = l mod LANES in order, then the LANES-lane halving tree (llama.cpp's KQV product
// over the transposed V cache). A pass keeps LP lanes x DC vectors x NB heads in registers; its
// lanes are l + S k (S = LANES / LP, k < LP), exactly the lanes that the tree's first log2(LP)
// levels combine, so each pass folds its lanes in registers into lane l of the S-lane level and
// only S vectors per (head, dim vector) remain for the rest of the tree.
// Lanes without a position are +0, as in the reference (whose tree adds them too): a pass whose
// lanes are all empty leaves +0, and the full tree is computed, so signed zeros come out as the
// reference's.
template <typename L, int LANES, int NB, int LP, int DC>
void values_chunk(const float* p, int64_t n_kv, const typename L::T* v, int64_t stride, int64_t d, int64_t i,
                  float* out) {
  constexpr int S = LANES / LP;
  float32x4_t part[S][NB][DC];
  for (int l = 0; l < S; ++l) {
    float32x4_t acc[LP][NB][DC];
#pragma GCC unroll 16
    for (int k = 0; k < LP; ++k) {
#pragma GCC unroll 16
      for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 16
        for (int c = 0; c < DC; ++c) acc[k][g][c] = vdupq_n_f32(0.0f);
      }
    }
    // Positions j0 + l + S k: whole blocks of LANES positions, then the partial last block.
    int64_t j0 = 0;
    for (; j0 + LANES <= n_kv; j0 += LANES) {
#pragma GCC unroll 16
      for (int k = 0; k < LP; ++k) {
        const int64_t row = j0 + l + S * k;
        float32x4_t vv[DC];
        L::template load_n<DC>(v + row * stride + i, vv);
#pragma GCC unroll 16
        for (int g = 0; g < NB; ++g) {
          const float pg = p[g * n_kv + row];
#pragma GCC unroll 16
          for (int c = 0; c < DC; ++c) acc[k][g][c] = vfmaq_n_f32(acc[k][g][c], vv[c], pg);
        }
      }
    }
#pragma GCC unroll 16
    for (int k = 0; k < LP; ++k) {
      const int64_t row = j0 + l + S * k;
      if (row >= n_kv) break;
      float32x4_t vv[DC];
      L::template load_n<DC>(v + row * stride + i, vv);
#pragma GCC unroll 16
      for (int g = 0; g < NB; ++g) {
        const float pg = p[g * n_kv + row];
#pragma GCC unroll 16
        for (int c = 0; c < DC; ++c) acc[k][g][c] = vfmaq_n_f32(acc[k][g][c], vv[c], pg);
      }
    }
#pragma GCC unroll 16
    for (int half = LP / 2; half >= 1; half /= 2) {
#pragma GCC unroll 16
      for (int k = 0; k < half; ++k) {
#pragma GCC unroll 16
        for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 16
          for (int c = 0; c < DC; ++c) acc[k][g][c] = vaddq_f32(acc[k][g][c], acc[k + half][g][c]);
        }
      }
    }
#pragma GCC unroll 16
    for (int g = 0; g < NB; ++g) {
#pragma GCC unroll 16
      for (int c = 0; c < DC; ++c) part[l][g][c] = acc[0][g][c];
    }
  }
  for (int g = 0; g < NB; ++g) {
    for (int c = 0; c < DC; ++c) {
      float32x4_t t[S];
#pragma GCC unroll 64
      for (int l = 0; l < S; ++l) t[l] = part[l][g][c];
#pragma GCC unroll 8
      for (int half = S / 2; half >= 1; half /= 2) {
#pragma GCC unroll 32
        for (int l = 0; l < half; ++l) t[l] = vaddq_f32(t[l], t[l + half]);
      }
      vst1q_f32(out + g * d + i + 4 * c, t[0]);
    }
  }
}

// Two lanes per pass; vectors per chunk so that a head block holds <= 16 accumulators, each
// cached vector feeding NB x 2 multiply-adds and each p value DC of them. (Four lanes per pass
// for a single head spilled: GCC's scheduler hoists all 16 row loads.)
constexpr int kValuesLp = 2;
template <int NB>
inline constexpr int kValuesDc = NB <= 2 ? 4 : 2;

// One head block over dims [i, i + 16) (or [i, i + 4) for the d % 16 remainder, DC = 1).
template <typename L, int LANES, int NB>
inline void values_block(const float* p, int64_t n_kv, const typename L::T* v, int64_t stride, int64_t d, int64_t i,
                         bool remainder, float* out) {
  constexpr int DC = kValuesDc<NB>;
  if (remainder) return values_chunk<L, LANES, NB, kValuesLp, 1>(p, n_kv, v, stride, d, i, out);
  for (int64_t c = 0; c < 16; c += 4 * DC) {
    values_chunk<L, LANES, NB, kValuesLp, DC>(p, n_kv, v, stride, d, i + c, out);
  }
}

// The head blocks run inside the dim loop, so the later blocks read the rows the first one just
// brought in.
template <typename L, int LANES, int NB0, int NB1>
void values_heads(const float* p, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  for (int64_t i = 0; i < d;) {
    const bool rem = i + 16 > d;
    values_block<L, LANES, NB0>(p, n_kv, v, stride, d, i, rem, out);
    if constexpr (NB1 > 0) values_block<L, LANES, NB1>(p + NB0 * n_kv, n_kv, v, stride, d, i, rem, out + NB0 * d);
    i += rem ? 4 : 16;
  }
}

template <typename L, int LANES>
void values_lanes(const float* p, int ng, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d,
                  float* out) {
  switch (ng) {
    case 1: return values_heads<L, LANES, 1, 0>(p, v, stride, n_kv, d, out);
    case 2: return values_heads<L, LANES, 2, 0>(p, v, stride, n_kv, d, out);
    case 3: return values_heads<L, LANES, 3, 0>(p, v, stride, n_kv, d, out);
    case 4: return values_heads<L, LANES, 4, 0>(p, v, stride, n_kv, d, out);
    case 5: return values_heads<L, LANES, 3, 2>(p, v, stride, n_kv, d, out);
    case 6: return values_heads<L, LANES, 3, 3>(p, v, stride, n_kv, d, out);
    case 7: return values_heads<L, LANES, 4, 3>(p, v, stride, n_kv, d, out);
    default: return values_heads<L, LANES, 4, 4>(p, v, stride, n_kv, d, out);
  }
}

template <typename L>
void values(const float* p, int ng, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
            float* out) {
  if (order == DotOrder::kTinyBlas) return values_lanes<L, 16>(p, ng, v, stride, n_kv, d, out);
  values_lanes<L, 64>(p, ng, v, stride, n_kv, d, out);
}

// Head sizes that are not a multiple of 4 take the scalar reference (bit-identical by definition);
// kVecDot scores handle any d (their vector part is whole 64-blocks).
void attn_scores_f16(const float* q, int ng, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     DotOrder order, float* s) {
  if (order == DotOrder::kTinyBlas && d % 4 != 0) {
    return detail::ops_scalar().attn_scores_f16(q, ng, k, stride, n_kv, d, scale, order, s);
  }
  scores<KF16>(q, ng, k, stride, n_kv, d, scale, order, s);
}
void attn_scores_f32(const float* q, int ng, const float* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     DotOrder order, float* s) {
  if (order == DotOrder::kTinyBlas && d % 4 != 0) {
    return detail::ops_scalar().attn_scores_f32(q, ng, k, stride, n_kv, d, scale, order, s);
  }
  scores<KF32>(q, ng, k, stride, n_kv, d, scale, order, s);
}
void attn_values_f16(float* p, int ng, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
                     float* out) {
  if (d % 4 != 0) return detail::ops_scalar().attn_values_f16(p, ng, v, stride, n_kv, d, order, out);
  round_f16(p, p, static_cast<int64_t>(ng) * n_kv);  // p to f16 values, as ggml
  values<KF16>(p, ng, v, stride, n_kv, d, order, out);
}
void attn_values_f32(float* p, int ng, const float* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
                     float* out) {
  if (d % 4 != 0) return detail::ops_scalar().attn_values_f32(p, ng, v, stride, n_kv, d, order, out);
  values<KF32>(p, ng, v, stride, n_kv, d, order, out);
}

constexpr Ops kNeonOps = {rmsnorm,         rmsnorm_rows,    rope,            softmax,         swiglu,         add,
                          scale,           round_f16,       attn_scores_f16, attn_scores_f32, attn_values_f16,
                          attn_values_f32, log_sum_exp,     to_f16,          argmax,         all_finite};

}  // namespace

const Ops& detail::ops_neon() { return kNeonOps; }

}  // namespace er::kernels
