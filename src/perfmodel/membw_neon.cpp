// Bandwidth-test loops at the AArch64 NEON level (every AArch64 level uses them; built without
// memcpy/memset pattern replacement): copy and triad vectorized by the compiler, read with four
// 128-bit sums.
#include <arm_neon.h>

#include "perfmodel/membw_loops.h"

namespace er::perfmodel::stream {

void copy_neon(double* c, const double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) c[i] = a[i];
}

void triad_neon(double* a, const double* b, const double* c, double q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
}

double read_neon(const double* a, int64_t n) {
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = vaddq_f64(s0, vld1q_f64(a + i));
    s1 = vaddq_f64(s1, vld1q_f64(a + i + 2));
    s2 = vaddq_f64(s2, vld1q_f64(a + i + 4));
    s3 = vaddq_f64(s3, vld1q_f64(a + i + 6));
  }
  double s = vaddvq_f64(vaddq_f64(vaddq_f64(s0, s1), vaddq_f64(s2, s3)));
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace er::perfmodel::stream
