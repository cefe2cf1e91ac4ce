// Register-resident int8 loops for the peak rate at the AArch64 dotprod level (built with
// -march=armv8.2-a+dotprod): eight independent SDOT chains of 16 byte pairs.
#include <arm_neon.h>

#include "perfmodel/peak_compute.h"

namespace er::perfmodel::peak {

int64_t int8_dotprod(int64_t iters) {
  int8x16_t u0 = vdupq_n_s8(1), u1 = vdupq_n_s8(2), u2 = vdupq_n_s8(3), u3 = vdupq_n_s8(4);
  int8x16_t s = vdupq_n_s8(-2);
  int32x4_t a[8];
  for (auto& v : a) v = vdupq_n_s32(0);
  for (int64_t i = 0; i < iters; ++i) {
    __asm__("" : "+w"(u0), "+w"(u1), "+w"(u2), "+w"(u3), "+w"(s));
    a[0] = vdotq_s32(a[0], u0, s);
    a[1] = vdotq_s32(a[1], u1, s);
    a[2] = vdotq_s32(a[2], u2, s);
    a[3] = vdotq_s32(a[3], u3, s);
    a[4] = vdotq_s32(a[4], s, u0);
    a[5] = vdotq_s32(a[5], s, u1);
    a[6] = vdotq_s32(a[6], s, u2);
    a[7] = vdotq_s32(a[7], s, u3);
  }
  int32x4_t t = a[0];
  for (int k = 1; k < 8; ++k) t = vaddq_s32(t, a[k]);
  return static_cast<int64_t>(vaddvq_s32(t));
}

}  // namespace er::perfmodel::peak
