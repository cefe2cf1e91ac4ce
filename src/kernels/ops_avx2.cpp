// AVX2 + FMA + F16C float ops (compiled with those flags only; internal linkage except ops_avx2).
// Bit-identical to the scalar reference (ops.h): the same operations in the same order, eight
// lanes at a time.
#include <immintrin.h>

#include <cmath>  // INFINITY; math calls below are builtins, never std:: inline copies
#include <cstdint>

#include "kernels/ops.h"

namespace er::kernels {
namespace {

// hsum_float_8: the 8-lane halving tree ((4+0)+(6+2)) + ((5+1)+(7+3)).
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 8-lane halving tree of each of v[0..7], as one vector (lane g = tree of v[g]).
inline __m256 hsum8_x8(const __m256* v) {
  __m256 x[4];
  for (int p = 0; p < 4; ++p) {  // lanes i + (i + 4) of v[2p] (low half) and v[2p + 1] (high half)
    const __m256 a = v[2 * p], b = v[2 * p + 1];
    const __m256 s = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x31), _mm256_permute2f128_ps(a, b, 0x20));
    x[p] = _mm256_permute_ps(s, 0xD8);  // (x0, x2, x1, x3): hadd then pairs 0+2 and 1+3
  }
  const __m256 t0 = _mm256_hadd_ps(x[0], x[1]), t1 = _mm256_hadd_ps(x[2], x[3]);
  const __m256 u = _mm256_hadd_ps(t0, t1);  // (g0, g2, g4, g6 | g1, g3, g5, g7)
  return _mm256_permutevar8x32_ps(u, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// ggml::expf (ggml_v_expf's AVX-512 variant) on 8 lanes. 2^n (|n| <= 192) is applied as two
// exact power-of-two factors so the only rounding is the last product, as _mm512_scalef_ps.
inline __m256 exp_ps(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 special = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256i ni = _mm256_cvtps_epi32(_mm256_andnot_ps(special, n));  // n is integral
  const __m256i h = _mm256_srai_epi32(ni, 1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
  const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, s1), s2);
  const __m256 alt = _mm256_blendv_ps(_mm256_set1_ps(INFINITY), _mm256_setzero_ps(),
                                      _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ));
  return _mm256_blendv_ps(res, alt, special);
}

// y = (x * scale) * w with scale from the row's sum of squares.
void rmsnorm_apply(const float* x, const float* w, float* y, int64_t n, double sum, float eps) {
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / __builtin_sqrtf(mean + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;  // in order, as ggml (a vector sum would round differently)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  rmsnorm_apply(x, w, y, n, sum, eps);
}

// Four rows at a time: a 4 x 4 transpose puts element i of the four rows in one vector, so each
// row's sum still adds its squares (rounded to float, widened) one after the other, in its own
// double lane; four rows' dependency chains then overlap instead of running one after another.
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const float* x0 = x + r * n;
    const float* x1 = x0 + n;
    const float* x2 = x1 + n;
    const float* x3 = x2 + n;
    __m256d acc = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      __m128 a = _mm_loadu_ps(x0 + i), b = _mm_loadu_ps(x1 + i), c = _mm_loadu_ps(x2 + i), d = _mm_loadu_ps(x3 + i);
      a = _mm_mul_ps(a, a);
      b = _mm_mul_ps(b, b);
      c = _mm_mul_ps(c, c);
      d = _mm_mul_ps(d, d);
      _MM_TRANSPOSE4_PS(a, b, c, d);  // a: element i of rows 0..3, b: i + 1, ...
      acc = _mm256_add_pd(acc, _mm256_cvtps_pd(a));
      acc = _mm256_add_pd(acc, _mm256_cvtps_pd(b));
      acc = _mm256_add_pd(acc, _mm256_cvtps_pd(c));
      acc = _mm256_add_pd(acc, _mm256_cvtps_pd(d));
    }
    alignas(32) double sum[4];
    _mm256_store_pd(sum, acc);
    for (int k = 0; k < 4; ++k) {
      const float* xk = x + (r + k) * n;
      for (int64_t j = i; j < n; ++j) sum[k] += static_cast<double>(xk[j] * xk[j]);
      rmsnorm_apply(xk, w, y + (r + k) * n, n, sum[k], eps);
    }
  }
  for (; r < n_rows; ++r) rmsnorm(x + r * n, w, y + r * n, n, eps);
}

// x0' = fma(x0, c, -(x1 s)), x1' = fma(x0, s, x1 c) on 8 pairs.
inline void rotate8(__m256 x0, __m256 x1, __m256 c, __m256 s, __m256* y0, __m256* y1) {
  *y0 = _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s));
  *y1 = _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c));
}

void rope(float* x, int64_t n_head, int64_t head_dim, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  const int n_fused = neox ? half : half - half % 4;
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t h = 0; h < n_head; ++h) {
    float* v = x + h * head_dim;
    int i = 0;
    for (; i + 8 <= n_fused; i += 8) {
      // de-interleave 8 (cos, sin) pairs
      const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * i), even);
      const __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * i + 8), even);
      const __m256 c = _mm256_permute2f128_ps(a, b, 0x20), s = _mm256_permute2f128_ps(a, b, 0x31);
      __m256 x0, x1, y0, y1;
      if (neox) {
        x0 = _mm256_loadu_ps(v + i);
        x1 = _mm256_loadu_ps(v + i + half);
      } else {
        const __m256 p = _mm256_permutevar8x32_ps(_mm256_loadu_ps(v + 2 * i), even);
        const __m256 q = _mm256_permutevar8x32_ps(_mm256_loadu_ps(v + 2 * i + 8), even);
        x0 = _mm256_permute2f128_ps(p, q, 0x20);
        x1 = _mm256_permute2f128_ps(p, q, 0x31);
      }
      rotate8(x0, x1, c, s, &y0, &y1);
      if (neox) {
        _mm256_storeu_ps(v + i, y0);
        _mm256_storeu_ps(v + i + half, y1);
      } else {
        const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
        _mm256_storeu_ps(v + 2 * i, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(v + 2 * i + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
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

// max(x).
float max_of(const float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float max = _mm_cvtss_f32(m4);
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  return max;
}

// sum of exp(x - max) in chunks of 16 (each chunk's 16-lane halving tree into a double); the
// exps are stored to y when it is not null (y may be x).
double exp_sum(const float* x, float max, int64_t n, float* y) {
  const __m256 vm = _mm256_set1_ps(max);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    alignas(32) float buf[16];
    const float* p = x + i;
    if (i + 16 > n) {  // last partial chunk: -inf past n, so its lanes are exp = 0
      for (int64_t l = 0; l < 16; ++l) buf[l] = i + l < n ? x[i + l] : -INFINITY;
      p = buf;
    }
    const __m256 lo = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(p), vm));
    const __m256 hi = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(p + 8), vm));
    if (y != nullptr) {
      if (p == buf) {
        _mm256_store_ps(buf, lo);
        _mm256_store_ps(buf + 8, hi);
        for (int64_t l = 0; i + l < n; ++l) y[i + l] = buf[l];
      } else {
        _mm256_storeu_ps(y + i, lo);
        _mm256_storeu_ps(y + i + 8, hi);
      }
    }
    sum += static_cast<double>(hsum8(_mm256_add_ps(lo, hi)));  // the 16-lane halving tree
  }
  return sum;
}

void softmax(float* x, int64_t n) {
  const float inv = static_cast<float>(1.0 / exp_sum(x, max_of(x, n), n, x));
  const __m256 vi = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
  for (; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* g, const float* u, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const int64_t n_vec = n - n % 16;  // ggml's vector range; its scalar tail uses libm expf
  int64_t i = 0;
  for (; i < n_vec; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 silu = _mm256_div_ps(gv, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), gv))));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) y[i] = g[i] / (1.0f + __builtin_expf(-g[i])) * u[i];
}

void add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

void scale(float* x, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
  for (; i < n; ++i) x[i] *= s;
}

void round_f16(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; i < n; ++i) y[i] = _cvtsh_ss(static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT)));
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) y[i] = static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

// ---- attention ---------------------------------------------------------------------------------

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

struct KF16 {
  using T = uint16_t;
  static constexpr bool kF16 = true;
  static __m256 load(const uint16_t* p) { return load_f16(p); }
  static float scalar(uint16_t h) { return _cvtsh_ss(h); }
};
struct KF32 {
  using T = float;
  static constexpr bool kF16 = false;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(float f) { return f; }
};

// a . b over d (contiguous, d % 8 == 0) in `order`, reduced to the 8 lanes whose halving tree is
// the head of the sum (kVecDot adds the d % 64 tail afterwards, see dot_tail).
template <typename L>
inline __m256 dot_lanes(const float* a, const typename L::T* b, int64_t d, DotOrder order) {
  if (order == DotOrder::kTinyBlas) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
      lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), L::load(b + i), lo);
      hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), L::load(b + i + 8), hi);
    }
    return _mm256_add_ps(lo, hi);
  }
  __m256 acc[8];
  for (auto& v : acc) v = _mm256_setzero_ps();
  const int64_t np = d - d % 64;
  for (int64_t i = 0; i < np; i += 64) {
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), L::load(b + i + 8 * k), acc[k]);
  }
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_add_ps(acc[k], acc[k + 4]);  // 64 -> 32 lanes
  for (int k = 0; k < 2; ++k) acc[k] = _mm256_add_ps(acc[k], acc[k + 2]);  // 32 -> 16
  return _mm256_add_ps(acc[0], acc[1]);                                     // 16 -> 8
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

template <typename L>
void attn_scores(const float* q, int n_group, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d,
                 float scale, DotOrder order, float* s) {
  for (int64_t j = 0; j < n_kv; ++j) {
    const typename L::T* kj = k + j * stride;
    __m256 h[8];
    for (int g = 0; g < 8; ++g) h[g] = g < n_group ? dot_lanes<L>(q + g * d, kj, d, order) : _mm256_setzero_ps();
    alignas(32) float sums[8];
    _mm256_store_ps(sums, hsum8_x8(h));
    for (int g = 0; g < n_group; ++g) s[g * n_kv + j] = dot_tail<L>(sums[g], q + g * d, kj, d, order) * scale;
  }
}

// out (d,) of one head: lane l of `lanes` holds positions j = l mod lanes; a pass keeps 8 lanes
// x 8 dims in registers, then the lanes are combined by the halving tree.
template <typename L>
void values_head(const float* p, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, int lanes,
                 float* out) {
  for (int64_t i = 0; i < d; i += 8) {
    __m256 part[64];
    for (int pass = 0; pass < lanes / 8; ++pass) {
      __m256 acc[8];
      for (auto& a : acc) a = _mm256_setzero_ps();
      int64_t j0 = 8 * pass;
      for (; j0 + 8 <= n_kv; j0 += lanes) {
        for (int l = 0; l < 8; ++l) {
          acc[l] = _mm256_fmadd_ps(_mm256_set1_ps(p[j0 + l]), L::load(v + (j0 + l) * stride + i), acc[l]);
        }
      }
      if (j0 < n_kv) {  // a partial last block: missing positions add 0 * (a valid row)
        const int64_t m = n_kv - j0;
        for (int l = 0; l < 8; ++l) {
          const int64_t row = l < m ? j0 + l : j0;
          acc[l] = _mm256_fmadd_ps(_mm256_set1_ps(l < m ? p[row] : 0.0f), L::load(v + row * stride + i), acc[l]);
        }
      }
      for (int l = 0; l < 8; ++l) part[8 * pass + l] = acc[l];
    }
    for (int half = lanes / 2; half >= 1; half /= 2) {
      for (int l = 0; l < half; ++l) part[l] = _mm256_add_ps(part[l], part[l + half]);
    }
    _mm256_storeu_ps(out + i, part[0]);
  }
}

template <typename L>
void attn_values(const float* p, int n_group, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d,
                 DotOrder order, float* out) {
  const int lanes = order == DotOrder::kTinyBlas ? 16 : 64;
  for (int g = 0; g < n_group; ++g) values_head<L>(p + g * n_kv, v, stride, n_kv, d, lanes, out + g * d);
}

// Head sizes that are not a multiple of 8 take the scalar reference (bit-identical by definition).
void attn_scores_f16(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                     float scale, DotOrder order, float* s) {
  if (d % 8 != 0) return detail::ops_scalar().attn_scores_f16(q, n_group, k, stride, n_kv, d, scale, order, s);
  attn_scores<KF16>(q, n_group, k, stride, n_kv, d, scale, order, s);
}
void attn_scores_f32(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                     float scale, DotOrder order, float* s) {
  if (d % 8 != 0) return detail::ops_scalar().attn_scores_f32(q, n_group, k, stride, n_kv, d, scale, order, s);
  attn_scores<KF32>(q, n_group, k, stride, n_kv, d, scale, order, s);
}
void attn_values_f16(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d,
                     DotOrder order, float* out) {
  if (d % 8 != 0) return detail::ops_scalar().attn_values_f16(p, n_group, v, stride, n_kv, d, order, out);
  round_f16(p, p, static_cast<int64_t>(n_group) * n_kv);
  attn_values<KF16>(p, n_group, v, stride, n_kv, d, order, out);
}
void attn_values_f32(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d,
                     DotOrder order, float* out) {
  if (d % 8 != 0) return detail::ops_scalar().attn_values_f32(p, n_group, v, stride, n_kv, d, order, out);
  attn_values<KF32>(p, n_group, v, stride, n_kv, d, order, out);
}

double log_sum_exp(const float* x, int64_t n) {
  const float max = max_of(x, n);
  return static_cast<double>(max) + __builtin_log(exp_sum(x, max, n, nullptr));
}

// Per lane l the first largest value at indices = l (mod 8) above -inf (strict >: NaN never
// taken, the first occurrence kept); detail::argmax_lanes merges the lanes.
int64_t argmax(const float* x, int64_t n) {
  __m256 best = _mm256_set1_ps(-INFINITY);
  __m256i best_i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), idx = best_i;
  const __m256i step = _mm256_set1_epi32(8);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8, idx = _mm256_add_epi32(idx, step)) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 gt = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
    best = _mm256_blendv_ps(best, v, gt);
    best_i = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best_i), _mm256_castsi256_ps(idx), gt));
  }
  alignas(32) float bv[8];
  alignas(32) int32_t bi[8];
  _mm256_store_ps(bv, best);
  _mm256_store_si256(reinterpret_cast<__m256i*>(bi), best_i);
  return detail::argmax_lanes(bv, bi, 8, x, i, n);
}

bool all_finite(const float* x, int64_t n) {
  const __m256 inf = _mm256_set1_ps(INFINITY);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_loadu_ps(x + i), inf, _CMP_LT_OQ));
  bool res = _mm256_movemask_ps(ok) == 0xFF;
  for (; i < n; ++i) res &= x[i] < INFINITY;
  return res;
}

constexpr Ops kAvx2Ops = {rmsnorm,         rmsnorm_rows,    rope,            softmax,         swiglu,         add,
                          scale,           round_f16,       attn_scores_f16, attn_scores_f32, attn_values_f16,
                          attn_values_f32, log_sum_exp,     to_f16,          argmax,         all_finite};

}  // namespace

const Ops& detail::ops_avx2() { return kAvx2Ops; }

}  // namespace er::kernels
