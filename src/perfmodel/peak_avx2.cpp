// Register-resident AVX2 loops for the peak rate (built with -mavx2 -mfma): 12 independent FMA
// chains cover the FMA latency x throughput of current cores; the int8 loop is the maddubs + madd
// pair that int8 dot products use without VNNI.
#include <immintrin.h>

#include "perfmodel/peak_compute.h"

namespace er::perfmodel::peak {

double fma_avx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-6f);
  __m256 x0 = _mm256_set1_ps(0.1f), x1 = _mm256_set1_ps(0.2f), x2 = _mm256_set1_ps(0.3f), x3 = _mm256_set1_ps(0.4f);
  __m256 x4 = _mm256_set1_ps(0.5f), x5 = _mm256_set1_ps(0.6f), x6 = _mm256_set1_ps(0.7f), x7 = _mm256_set1_ps(0.8f);
  __m256 x8 = _mm256_set1_ps(0.9f), x9 = _mm256_set1_ps(1.0f), x10 = _mm256_set1_ps(1.1f), x11 = _mm256_set1_ps(1.2f);
  for (int64_t i = 0; i < iters; ++i) {
    x0 = _mm256_fmadd_ps(x0, a, b);
    x1 = _mm256_fmadd_ps(x1, a, b);
    x2 = _mm256_fmadd_ps(x2, a, b);
    x3 = _mm256_fmadd_ps(x3, a, b);
    x4 = _mm256_fmadd_ps(x4, a, b);
    x5 = _mm256_fmadd_ps(x5, a, b);
    x6 = _mm256_fmadd_ps(x6, a, b);
    x7 = _mm256_fmadd_ps(x7, a, b);
    x8 = _mm256_fmadd_ps(x8, a, b);
    x9 = _mm256_fmadd_ps(x9, a, b);
    x10 = _mm256_fmadd_ps(x10, a, b);
    x11 = _mm256_fmadd_ps(x11, a, b);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
                           _mm256_add_ps(_mm256_add_ps(x4, x5), _mm256_add_ps(x6, x7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(x8, x9), _mm256_add_ps(x10, x11)));
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return static_cast<double>(out[0]) + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

int64_t int8_avx2(int64_t iters) {
  // Four different unsigned operands (identical products would be computed once and reused); four
  // chains keep every value in the 16 ymm registers.
  __m256i u0 = _mm256_set1_epi8(1), u1 = _mm256_set1_epi8(2), u2 = _mm256_set1_epi8(3), u3 = _mm256_set1_epi8(4);
  __m256i s = _mm256_set1_epi8(-2);  // signed operand
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    // The empty asm makes the operands look new every iteration, so the products are not hoisted.
    __asm__("" : "+x"(u0), "+x"(u1), "+x"(u2), "+x"(u3), "+x"(s));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(u0, s), ones));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s), ones));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(u2, s), ones));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(u3, s), ones));
  }
  const __m256i t = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
  alignas(32) int32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), t);
  int64_t sum = 0;
  for (int32_t v : out) sum += v;
  return sum;
}

}  // namespace er::perfmodel::peak
