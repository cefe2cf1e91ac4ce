// Bandwidth-test loops at the AVX2 level (built with -mavx2 -mfma and without memcpy/memset
// pattern replacement): copy and triad vectorized by the compiler, read with four 256-bit sums.
#include <immintrin.h>

#include "perfmodel/membw_loops.h"

namespace er::perfmodel::stream {

void copy_avx2(double* c, const double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) c[i] = a[i];
}

void triad_avx2(double* a, const double* b, const double* c, double q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
}

double read_avx2(const double* a, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_pd(s0, _mm256_loadu_pd(a + i));
    s1 = _mm256_add_pd(s1, _mm256_loadu_pd(a + i + 4));
    s2 = _mm256_add_pd(s2, _mm256_loadu_pd(a + i + 8));
    s3 = _mm256_add_pd(s3, _mm256_loadu_pd(a + i + 12));
  }
  alignas(32) double out[4];
  _mm256_store_pd(out, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  double s = out[0] + out[1] + out[2] + out[3];
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace er::perfmodel::stream
