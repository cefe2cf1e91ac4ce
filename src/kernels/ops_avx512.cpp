// AVX-512 grouped attention ops (16 lanes per pass); the other float ops come from the AVX2 table.
#include <immintrin.h>

#include <cstdint>

#include "kernels/ops.h"

namespace er::kernels {
namespace {

struct KF16 {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};
struct KF32 {
  using T = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
};

// Lane g (g < 8) = the horizontal sum of a[g].
inline __m256 hsum8x16(const __m512* a) {
  __m256 h[8];
  for (int g = 0; g < 8; ++g) {
    h[g] = _mm256_add_ps(_mm512_castps512_ps256(a[g]),
                         _mm512_castps512_ps256(_mm512_shuffle_f32x4(a[g], a[g], 0x4E)));
  }
  const __m256 t0 = _mm256_hadd_ps(h[0], h[1]), t1 = _mm256_hadd_ps(h[2], h[3]);
  const __m256 t2 = _mm256_hadd_ps(h[4], h[5]), t3 = _mm256_hadd_ps(h[6], h[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// REQUIRES: d % 16 == 0 (the dispatcher below falls back to AVX2 otherwise).
template <int NG, typename L>
void scores_group(const float* q, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                  float* s) {
  for (int64_t j = 0; j < n_kv; ++j) {
    const typename L::T* kj = k + j * stride;
    __m512 acc[8];
    for (int g = 0; g < 8; ++g) acc[g] = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
      const __m512 kv = L::load(kj + i);
      for (int g = 0; g < NG; ++g) acc[g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), kv, acc[g]);
    }
    alignas(32) float sums[8];
    _mm256_store_ps(sums, hsum8x16(acc));
    for (int g = 0; g < NG; ++g) s[g * n_kv + j] = sums[g] * scale;
  }
}

template <int NG, typename L>
void values_group(const float* p, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  for (int64_t i = 0; i < d; i += 16) {
    __m512 acc[NG];
    for (int g = 0; g < NG; ++g) acc[g] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_kv; ++j) {
      const __m512 vv = L::load(v + j * stride + i);
      for (int g = 0; g < NG; ++g) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(p[g * n_kv + j]), vv, acc[g]);
    }
    for (int g = 0; g < NG; ++g) _mm512_storeu_ps(out + g * d + i, acc[g]);
  }
}

template <typename L>
void scores(const float* q, int ng, const typename L::T* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
            float* s) {
  switch (ng) {
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
void values(const float* p, int ng, const typename L::T* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  switch (ng) {
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

void attn_scores_f16(const float* q, int ng, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     float* s) {
  if (d % 16 != 0) return detail::ops_avx2().attn_scores_f16(q, ng, k, stride, n_kv, d, scale, s);
  scores<KF16>(q, ng, k, stride, n_kv, d, scale, s);
}
void attn_scores_f32(const float* q, int ng, const float* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     float* s) {
  if (d % 16 != 0) return detail::ops_avx2().attn_scores_f32(q, ng, k, stride, n_kv, d, scale, s);
  scores<KF32>(q, ng, k, stride, n_kv, d, scale, s);
}
void attn_values_f16(float* p, int ng, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  if (d % 16 != 0) return detail::ops_avx2().attn_values_f16(p, ng, v, stride, n_kv, d, out);
  detail::ops_avx2().round_f16(p, p, static_cast<int64_t>(ng) * n_kv);  // p to f16 values, as ggml
  values<KF16>(p, ng, v, stride, n_kv, d, out);
}
void attn_values_f32(float* p, int ng, const float* v, int64_t stride, int64_t n_kv, int64_t d, float* out) {
  if (d % 16 != 0) return detail::ops_avx2().attn_values_f32(p, ng, v, stride, n_kv, d, out);
  values<KF32>(p, ng, v, stride, n_kv, d, out);
}

}  // namespace

const Ops& detail::ops_avx512() {
  static const Ops kOps = [] {
    Ops o = detail::ops_avx2();
    o.attn_scores_f16 = attn_scores_f16;
    o.attn_scores_f32 = attn_scores_f32;
    o.attn_values_f16 = attn_values_f16;
    o.attn_values_f32 = attn_values_f32;
    return o;
  }();
  return kOps;
}

}  // namespace er::kernels
