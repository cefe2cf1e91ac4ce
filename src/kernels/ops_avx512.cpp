// AVX-512 float ops: softmax, SwiGLU and grouped attention 16 lanes at a time (ggml's own AVX-512
// code paths); rmsnorm, rope, add, scale and round_f16 come from the AVX2 table. Bit-identical to
// the scalar reference (ops.h).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ops.h"

namespace er::kernels {
namespace {

// ggml_v_expf (ggml-cpu/vec.h, AVX-512 variant), operation for operation.
inline __m512 exp_ps(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0F)));
  const __m512 res = _mm512_scalef_ps(j, n);
  if (_mm512_kortestz(d, d)) return res;
  const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ),
                                          _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(d, res, alt);
}

// _mm512_reduce_add_ps spelled out (GCC 12's tree: 256-bit halves, 128-bit halves, lanes 0+2 and
// 1+3, then the two), so the order never depends on the compiler.
inline float reduce16(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
  __m128 s = _mm_add_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 16-lane halving tree of each of v[0..7], as one vector (lane g = tree of v[g]).
inline __m256 reduce16_x8(const __m512* v) {
  __m256 x[4];
  for (int p = 0; p < 4; ++p) {
    const __m256 a = _mm256_add_ps(_mm512_extractf32x8_ps(v[2 * p], 1), _mm512_castps512_ps256(v[2 * p]));
    const __m256 b = _mm256_add_ps(_mm512_extractf32x8_ps(v[2 * p + 1], 1), _mm512_castps512_ps256(v[2 * p + 1]));
    const __m256 s = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x31), _mm256_permute2f128_ps(a, b, 0x20));
    x[p] = _mm256_permute_ps(s, 0xD8);  // (x0, x2, x1, x3): hadd then pairs 0+2 and 1+3
  }
  const __m256 t0 = _mm256_hadd_ps(x[0], x[1]), t1 = _mm256_hadd_ps(x[2], x[3]);
  const __m256 u = _mm256_hadd_ps(t0, t1);  // (g0, g2, g4, g6 | g1, g3, g5, g7)
  return _mm256_permutevar8x32_ps(u, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline __mmask16 tail_mask(int64_t m) { return static_cast<__mmask16>(m >= 16 ? 0xFFFF : (1u << m) - 1u); }

// max(x), lanes past n read -inf.
float max_of(const float* x, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - i), x + i));
  }
  return _mm512_reduce_max_ps(vmax);
}

// sum of exp(x - max) in chunks of 16 (each chunk's halving tree into a double); the exps are
// stored to y when it is not null (y may be x). Lanes past n read -inf, so exp = 0 (ggml's masked
// padding).
double exp_sum(const float* x, float max, int64_t n, float* y) {
  const __m512 vm = _mm512_set1_ps(max);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + i), vm));
    if (y != nullptr) _mm512_mask_storeu_ps(y + i, m, e);
    sum += static_cast<double>(reduce16(e));
  }
  return sum;
}

void softmax(float* x, int64_t n) {
  const double sum = exp_sum(x, max_of(x, n), n, x);
  const __m512 vi = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vi));
  }
}

void swiglu(const float* g, const float* u, float* y, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 gv = _mm512_loadu_ps(g + i);
    const __m512 silu = _mm512_div_ps(gv, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
    _mm512_storeu_ps(y + i, _mm512_mul_ps(silu, _mm512_loadu_ps(u + i)));
  }
  for (; i < n; ++i) y[i] = g[i] / (1.0f + __builtin_expf(-g[i])) * u[i];  // ggml's scalar tail
}

// ---- attention ---------------------------------------------------------------------------------

struct KF16 {
  using T = uint16_t;
  static constexpr bool kF16 = true;
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static float scalar(uint16_t h) { return _cvtsh_ss(h); }
};
struct KF32 {
  using T = float;
  static constexpr bool kF16 = false;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static float scalar(float f) { return f; }
};

// NG query heads (NG <= 8) against every key: the head of each sum reduced to 16 lanes
// (kTinyBlas: one accumulator over d; kVecDot: four over the 64-element steps, then
// (a0 + a2) + (a1 + a3)), each key's chunks loaded once for all heads.
template <int NG, typename L>
inline void dot_heads_tinyblas(const float* q, const typename L::T* kj, int64_t d, __m512* h) {
  for (int g = 0; g < NG; ++g) h[g] = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += 16) {
    const __m512 kv = L::load(kj + i);
    for (int g = 0; g < NG; ++g) h[g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), kv, h[g]);
  }
}
template <int NG, typename L>
inline void dot_heads_vecdot(const float* q, const typename L::T* kj, int64_t d, __m512* h) {
  const int64_t np = d - d % 64;
  for (int g0 = 0; g0 < NG; g0 += 4) {  // at most 16 accumulators live
    constexpr int kMax = NG < 4 ? NG : 4;
    __m512 acc[kMax][4];
    for (int g = 0; g < kMax; ++g)
      for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
      for (int c = 0; c < 4; ++c) {
        const __m512 kv = L::load(kj + i + 16 * c);
        for (int g = 0; g < kMax && g0 + g < NG; ++g) {
          acc[g][c] = _mm512_fmadd_ps(_mm512_loadu_ps(q + (g0 + g) * d + i + 16 * c), kv, acc[g][c]);
        }
      }
    }
    for (int g = 0; g < kMax && g0 + g < NG; ++g) {
      h[g0 + g] = _mm512_add_ps(_mm512_add_ps(acc[g][0], acc[g][2]), _mm512_add_ps(acc[g][1], acc[g][3]));
    }
  }
}

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

template <int NG, typename L>
void scores_group(const float* q, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                  DotOrder order, float* s) {
  int64_t j = 0;
  if constexpr (NG >= 3 && NG <= 4) {
    // Two keys per reduce16_x8 (its 8 trees are independent, so packing changes no sum): the
    // horizontal sums, not the products, dominate at these group sizes.
    for (; j + 2 <= n_kv; j += 2) {
      const typename L::T* kj = k + j * stride;
      __m512 h[8];
      if (order == DotOrder::kTinyBlas) {
        dot_heads_tinyblas<NG, L>(q, kj, d, h);
        dot_heads_tinyblas<NG, L>(q, kj + stride, d, h + 4);
      } else {
        dot_heads_vecdot<NG, L>(q, kj, d, h);
        dot_heads_vecdot<NG, L>(q, kj + stride, d, h + 4);
      }
      for (int g = NG; g < 4; ++g) h[g] = h[4 + g] = _mm512_setzero_ps();
      alignas(32) float sums[8];
      _mm256_store_ps(sums, reduce16_x8(h));
      for (int g = 0; g < NG; ++g) {
        s[g * n_kv + j] = dot_tail<L>(sums[g], q + g * d, kj, d, order) * scale;
        s[g * n_kv + j + 1] = dot_tail<L>(sums[4 + g], q + g * d, kj + stride, d, order) * scale;
      }
    }
  }
  for (; j < n_kv; ++j) {
    const typename L::T* kj = k + j * stride;
    __m512 h[8];
    if (order == DotOrder::kTinyBlas) {
      dot_heads_tinyblas<NG, L>(q, kj, d, h);
    } else {
      dot_heads_vecdot<NG, L>(q, kj, d, h);
    }
    if constexpr (NG <= 2) {
      for (int g = 0; g < NG; ++g) s[g * n_kv + j] = dot_tail<L>(reduce16(h[g]), q + g * d, kj, d, order) * scale;
    } else {
      for (int g = NG; g < 8; ++g) h[g] = _mm512_setzero_ps();
      alignas(32) float sums[8];
      _mm256_store_ps(sums, reduce16_x8(h));
      for (int g = 0; g < NG; ++g) s[g * n_kv + j] = dot_tail<L>(sums[g], q + g * d, kj, d, order) * scale;
    }
  }
}

template <typename L>
void scores(const float* q, int ng, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
            DotOrder order, float* s) {
  switch (ng) {
    case 1: return scores_group<1, L>(q, k, stride, n_kv, d, scale, order, s);
    case 2: return scores_group<2, L>(q, k, stride, n_kv, d, scale, order, s);
    case 3: return scores_group<3, L>(q, k, stride, n_kv, d, scale, order, s);
    case 4: return scores_group<4, L>(q, k, stride, n_kv, d, scale, order, s);
    case 5: return scores_group<5, L>(q, k, stride, n_kv, d, scale, order, s);
    case 6: return scores_group<6, L>(q, k, stride, n_kv, d, scale, order, s);
    case 7: return scores_group<7, L>(q, k, stride, n_kv, d, scale, order, s);
    default: return scores_group<8, L>(q, k, stride, n_kv, d, scale, order, s);
  }
}

// out (NG, d): lane l of `lanes` (16 or 64) holds the positions j = l mod lanes, in order, then
// all lanes are combined by the halving tree (the lane order of llama.cpp's KQV product over the
// transposed V cache). A pass keeps LP lanes x 16 dims of all NG heads in registers, so each
// cached value is loaded and converted once for the group.
// With fewer positions than lanes (early decode), lanes l >= n_kv hold +0 (sums of 0 * v from +0)
// and are neither computed nor added: x + (+0) is x except that -0 becomes +0, and a tree with a
// +0 leaf never returns -0, so the result is the full tree's once +0 is added to it.
template <int NG, typename L>
void values_group(const float* p, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, int lanes,
                  float* out) {
  constexpr int LP = NG == 1 ? 16 : NG <= 3 ? 8 : NG <= 6 ? 4 : 2;  // lanes per pass, LP * NG <= 24
  const int live = static_cast<int>(std::min<int64_t>(lanes, n_kv));  // lanes that hold a position
  const int n_pass = (live + LP - 1) / LP;
  for (int64_t i = 0; i < d; i += 16) {
    __m512 part[NG][64];
    for (int pass = 0; pass < n_pass; ++pass) {
      __m512 acc[NG][LP];
      for (int g = 0; g < NG; ++g)
        for (int l = 0; l < LP; ++l) acc[g][l] = _mm512_setzero_ps();
      int64_t j0 = LP * pass;
      for (; j0 + LP <= n_kv; j0 += lanes) {
        for (int l = 0; l < LP; ++l) {
          const __m512 vv = L::load(v + (j0 + l) * stride + i);
          for (int g = 0; g < NG; ++g) acc[g][l] = _mm512_fmadd_ps(_mm512_set1_ps(p[g * n_kv + j0 + l]), vv, acc[g][l]);
        }
      }
      if (j0 < n_kv) {  // a partial last block: missing positions add 0 * (a valid row)
        const int64_t m = n_kv - j0;
        for (int l = 0; l < LP; ++l) {
          const int64_t row = l < m ? j0 + l : j0;
          const __m512 vv = L::load(v + row * stride + i);
          for (int g = 0; g < NG; ++g) {
            acc[g][l] = _mm512_fmadd_ps(_mm512_set1_ps(l < m ? p[g * n_kv + row] : 0.0f), vv, acc[g][l]);
          }
        }
      }
      for (int g = 0; g < NG; ++g)
        for (int l = 0; l < LP; ++l) part[g][LP * pass + l] = acc[g][l];
    }
    for (int g = 0; g < NG; ++g) {
      int n = live;  // lanes [n, lanes) are +0
      for (int half = lanes / 2; half >= 1; half /= 2) {
        for (int l = 0; l + half < n; ++l) part[g][l] = _mm512_add_ps(part[g][l], part[g][l + half]);
        n = std::min(n, half);
      }
      _mm512_storeu_ps(out + g * d + i, live < lanes ? _mm512_add_ps(part[g][0], _mm512_setzero_ps()) : part[g][0]);
    }
  }
}

template <typename L>
void values(const float* p, int ng, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
            float* out) {
  const int lanes = order == DotOrder::kTinyBlas ? 16 : 64;
  switch (ng) {
    case 1: return values_group<1, L>(p, v, stride, n_kv, d, lanes, out);
    case 2: return values_group<2, L>(p, v, stride, n_kv, d, lanes, out);
    case 3: return values_group<3, L>(p, v, stride, n_kv, d, lanes, out);
    case 4: return values_group<4, L>(p, v, stride, n_kv, d, lanes, out);
    case 5: return values_group<5, L>(p, v, stride, n_kv, d, lanes, out);
    case 6: return values_group<6, L>(p, v, stride, n_kv, d, lanes, out);
    case 7: return values_group<7, L>(p, v, stride, n_kv, d, lanes, out);
    default: return values_group<8, L>(p, v, stride, n_kv, d, lanes, out);
  }
}

// Head sizes that are not a multiple of 16 take the AVX2 ops (bit-identical).
void attn_scores_f16(const float* q, int ng, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     DotOrder order, float* s) {
  if (d % 16 != 0) return detail::ops_avx2().attn_scores_f16(q, ng, k, stride, n_kv, d, scale, order, s);
  scores<KF16>(q, ng, k, stride, n_kv, d, scale, order, s);
}
void attn_scores_f32(const float* q, int ng, const float* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     DotOrder order, float* s) {
  if (d % 16 != 0) return detail::ops_avx2().attn_scores_f32(q, ng, k, stride, n_kv, d, scale, order, s);
  scores<KF32>(q, ng, k, stride, n_kv, d, scale, order, s);
}
void attn_values_f16(float* p, int ng, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
                     float* out) {
  if (d % 16 != 0) return detail::ops_avx2().attn_values_f16(p, ng, v, stride, n_kv, d, order, out);
  detail::ops_avx2().round_f16(p, p, static_cast<int64_t>(ng) * n_kv);  // p to f16 values, as ggml
  values<KF16>(p, ng, v, stride, n_kv, d, order, out);
}
void attn_values_f32(float* p, int ng, const float* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
                     float* out) {
  if (d % 16 != 0) return detail::ops_avx2().attn_values_f32(p, ng, v, stride, n_kv, d, order, out);
  values<KF32>(p, ng, v, stride, n_kv, d, order, out);
}

// As the AVX2 argmax, 16 lanes (masked tail loads read -inf, never taken).
int64_t argmax(const float* x, int64_t n) {
  __m512 best = _mm512_set1_ps(-INFINITY);
  __m512i best_i = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), idx = best_i;
  const __m512i step = _mm512_set1_epi32(16);
  for (int64_t i = 0; i < n; i += 16, idx = _mm512_add_epi32(idx, step)) {
    const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - i), x + i);
    const __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, gt, v);
    best_i = _mm512_mask_mov_epi32(best_i, gt, idx);
  }
  alignas(64) float bv[16];
  alignas(64) int32_t bi[16];
  _mm512_store_ps(bv, best);
  _mm512_store_si512(bi, best_i);
  return detail::argmax_lanes(bv, bi, 16, x, n, n);
}

bool all_finite(const float* x, int64_t n) {
  const __m512 inf = _mm512_set1_ps(INFINITY);
  __mmask16 ok = 0xFFFF;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    ok &= static_cast<__mmask16>(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, x + i), inf, _CMP_LT_OQ) | ~m);
  }
  return ok == 0xFFFF;
}

double log_sum_exp(const float* x, int64_t n) {
  const float max = max_of(x, n);
  return static_cast<double>(max) + __builtin_log(exp_sum(x, max, n, nullptr));
}

}  // namespace

const Ops& detail::ops_avx512() {
  static const Ops kOps = [] {
    Ops o = detail::ops_avx2();
    o.softmax = softmax;
    o.swiglu = swiglu;
    o.attn_scores_f16 = attn_scores_f16;
    o.attn_scores_f32 = attn_scores_f32;
    o.attn_values_f16 = attn_values_f16;
    o.attn_values_f32 = attn_values_f32;
    o.log_sum_exp = log_sum_exp;
    o.argmax = argmax;
    o.all_finite = all_finite;
    return o;
  }();
  return kOps;
}

}  // namespace er::kernels
