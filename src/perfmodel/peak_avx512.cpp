// Register-resident AVX-512 loops for the peak rate (built with the avx512 level's flags): 16
// independent FMA chains, and 16 VNNI dpbusd chains (64 u8 x s8 multiply-adds each).
#include <immintrin.h>

#include "perfmodel/peak_compute.h"

namespace er::perfmodel::peak {

double fma_avx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-6f);
  __m512 x[16];
  for (int k = 0; k < 16; ++k) x[k] = _mm512_set1_ps(0.1f * static_cast<float>(k + 1));
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) x[k] = _mm512_fmadd_ps(x[k], a, b);
  }
  __m512 s = x[0];
  for (int k = 1; k < 16; ++k) s = _mm512_add_ps(s, x[k]);
  return static_cast<double>(_mm512_reduce_add_ps(s));
}

int64_t int8_avx512(int64_t iters) {
  const __m512i u = _mm512_set1_epi8(3);   // unsigned operand
  const __m512i s = _mm512_set1_epi8(-2);  // signed operand
  __m512i acc[16];
  for (__m512i& v : acc) v = _mm512_setzero_si512();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], u, s);
  }
  __m512i t = acc[0];
  for (int k = 1; k < 16; ++k) t = _mm512_add_epi32(t, acc[k]);
  return _mm512_reduce_add_epi32(t);
}

}  // namespace er::perfmodel::peak
