// Bandwidth-test loops at the AVX-512 level (built with that level's flags, 512-bit vectors
// preferred, and without memcpy/memset pattern replacement): read with four 512-bit sums.
#include <immintrin.h>

#include "perfmodel/membw_loops.h"

namespace er::perfmodel::stream {

void copy_avx512(double* c, const double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) c[i] = a[i];
}

void triad_avx512(double* a, const double* b, const double* c, double q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
}

double read_avx512(const double* a, int64_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_add_pd(s0, _mm512_loadu_pd(a + i));
    s1 = _mm512_add_pd(s1, _mm512_loadu_pd(a + i + 8));
    s2 = _mm512_add_pd(s2, _mm512_loadu_pd(a + i + 16));
    s3 = _mm512_add_pd(s3, _mm512_loadu_pd(a + i + 24));
  }
  double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace er::perfmodel::stream
