// AVX2 + FMA + F16C float ops (compiled with those flags only; internal linkage except ops_avx2).
#include <immintrin.h>

#include <cmath>  // INFINITY; math calls below are builtins, never std:: inline copies
#include <cstdint>

#include "kernels/ops.h"

namespace er::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(x) to a few ulp (Cephes expf polynomial); inputs are clamped to [-87.3, 88.7].
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n in [-126, 128]; split so each factor stays a normal float.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256 s0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 s1 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s0), s1);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Sum of squares in double (as ggml), 4 doubles per lane group.
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 sq = _mm256_mul_ps(v, v);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  }
  alignas(32) double parts[4];
  _mm256_store_pd(parts, _mm256_add_pd(acc0, acc1));
  double sum = (parts[0] + parts[1]) + (parts[2] + parts[3]);
  for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / __builtin_sqrtf(mean + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rope(float* x, int64_t n_head, int64_t head_dim, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    float* v = x + h * head_dim;
    int i = 0;
    if (neox) {
      for (; i + 8 <= half; i += 8) {
        // de-interleave 8 (cos, sin) pairs
        const __m256 a = _mm256_loadu_ps(cs + 2 * i), b = _mm256_loadu_ps(cs + 2 * i + 8);
        const __m256 lo = _mm256_permute2f128_ps(a, b, 0x20), hi = _mm256_permute2f128_ps(a, b, 0x31);
        const __m256 c = _mm256_shuffle_ps(lo, hi, 0x88), s = _mm256_shuffle_ps(lo, hi, 0xDD);
        const __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + i + half);
        _mm256_storeu_ps(v + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
        _mm256_storeu_ps(v + i + half, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
      }
    }
    for (; i < half; ++i) {
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
      v[i1] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
    }
  }
}

void softmax(float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float max = _mm_cvtss_f32(m4);
  for (; i < n; ++i) max = __builtin_fmaxf(max, x[i]);
  const __m256 vm = _mm256_set1_ps(max);
  __m256d acc = _mm256_setzero_pd();
  double sum = 0.0;
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_pd(acc, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e)),
                                           _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1))));
  }
  alignas(32) double parts[4];
  _mm256_store_pd(parts, acc);
  sum = (parts[0] + parts[1]) + (parts[2] + parts[3]);
  for (; i < n; ++i) {
    x[i] = __builtin_expf(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  const __m256 vi = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
  for (; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* g, const float* u, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 silu = _mm256_div_ps(gv, _mm256_add_ps(one, exp_ps(_mm256_xor_ps(gv, sign))));
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

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

float dot_f16(const uint16_t* a, const uint16_t* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load_f16(a + i), load_f16(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load_f16(a + i + 8), load_f16(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16(a + i), load_f16(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += _cvtsh_ss(a[i]) * _cvtsh_ss(b[i]);
  return s;
}

void axpy_f32(float s, const float* x, float* y, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * x[i];
}

void axpy_f16(float s, const uint16_t* x, float* y, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, load_f16(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * _cvtsh_ss(x[i]);
}

// ---- grouped attention -------------------------------------------------------------------------

struct KF16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) { return load_f16(p); }
  static float scalar(uint16_t h) { return _cvtsh_ss(h); }
};
struct KF32 {
  using T = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(float f) { return f; }
};

// The 8 horizontal sums of a[0..7] as one vector (lane g = sum of a[g]).
inline __m256 hsum8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Each key is loaded and converted once for all NG query heads.
template <int NG, typename L>
void scores_group(const float* q, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                  float* s) {
  for (int64_t j = 0; j < n_kv; ++j) {
    const typename L::T* kj = k + j * stride;
    __m256 acc[8];
    for (int g = 0; g < 8; ++g) acc[g] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= d; i += 8) {
      const __m256 kv = L::load(kj + i);
      for (int g = 0; g < NG; ++g) acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * d + i), kv, acc[g]);
    }
    alignas(32) float sums[8];
    _mm256_store_ps(sums, hsum8(acc));
    for (int g = 0; g < NG; ++g) {
      float v = sums[g];
      for (int64_t ii = i; ii < d; ++ii) v += q[g * d + ii] * L::scalar(kj[ii]);
      s[g * n_kv + j] = v * scale;
    }
  }
}

// out (NG, d): 8 output dims of all NG heads stay in registers while the positions stream by.
template <int NG, typename L>
void values_group(const float* p, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m256 acc[NG];
    for (int g = 0; g < NG; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n_kv; ++j) {
      const __m256 vv = L::load(v + j * stride + i);
      for (int g = 0; g < NG; ++g) acc[g] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + g * n_kv + j), vv, acc[g]);
    }
    for (int g = 0; g < NG; ++g) _mm256_storeu_ps(out + g * d + i, acc[g]);
  }
  for (; i < d; ++i) {
    for (int g = 0; g < NG; ++g) {
      float a = 0.0f;
      for (int64_t j = 0; j < n_kv; ++j) a += p[g * n_kv + j] * L::scalar(v[j * stride + i]);
      out[g * d + i] = a;
    }
  }
}

template <typename L>
void attn_scores(const float* q, int n_group, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d,
                 float scale, float* s) {
  switch (n_group) {
    case 1: return scores_group<1, L>(q, k, stride, n_kv, d, scale, s);
    case 2: return scores_group<2, L>(q, k, stride, n_kv, d, scale, s);
    case 3: return scores_group<3, L>(q, k, stride, n_kv, d, scale, s);
    case 4: return scores_group<4, L>(q, k, stride, n_kv, d, scale, s);
    case 5: return scores_group<5, L>(q, k, stride, n_kv, d, scale, s);
    case 6: return scores_group<6, L>(q, k, stride, n_kv, d, scale, s);
    case 7: return scores_group<7, L>(q, k, stride, n_kv, d, scale, s);
    default: return scores_group<8, L>(q, k, stride, n_kv, d, scale, s);
  }
}

template <typename L>
void attn_values(const float* p, int n_group, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d,
                 float* out) {
  switch (n_group) {
    case 1: return values_group<1, L>(p, v, stride, n_kv, d, out);
    case 2: return values_group<2, L>(p, v, stride, n_kv, d, out);
    case 3: return values_group<3, L>(p, v, stride, n_kv, d, out);
    case 4: return values_group<4, L>(p, v, stride, n_kv, d, out);
    case 5: return values_group<5, L>(p, v, stride, n_kv, d, out);
    case 6: return values_group<6, L>(p, v, stride, n_kv, d, out);
    case 7: return values_group<7, L>(p, v, stride, n_kv, d, out);
    default: return values_group<8, L>(p, v, stride, n_kv, d, out);
  }
}

void round_f16(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; i < n; ++i) y[i] = _cvtsh_ss(static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT)));
}

void attn_scores_f16(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                     float scale, float* s) {
  attn_scores<KF16>(q, n_group, k, stride, n_kv, d, scale, s);
}
void attn_scores_f32(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                     float scale, float* s) {
  attn_scores<KF32>(q, n_group, k, stride, n_kv, d, scale, s);
}
void attn_values_f16(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  round_f16(p, p, static_cast<int64_t>(n_group) * n_kv);
  attn_values<KF16>(p, n_group, v, stride, n_kv, d, out);
}
void attn_values_f32(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  attn_values<KF32>(p, n_group, v, stride, n_kv, d, out);
}

constexpr Ops kAvx2Ops = {rmsnorm,  rope,     softmax,         swiglu,          add,
                          scale,    dot_f32,  dot_f16,         axpy_f32,        axpy_f16,
                          attn_scores_f16, attn_scores_f32, attn_values_f16, attn_values_f32, round_f16};

}  // namespace

const Ops& detail::ops_avx2() { return kAvx2Ops; }

}  // namespace er::kernels
