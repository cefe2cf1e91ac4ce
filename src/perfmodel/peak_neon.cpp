// Register-resident AArch64 loops for the peak rate. NEON (ARMv8.0, no flags): 16 independent
// 4-lane FMA chains cover the FMA latency x throughput of Cortex-A7x / Neoverse cores; the int8
// loop is the smull + sadalp pair that int8 dot products use without SDOT.
#include <arm_neon.h>

#include "perfmodel/peak_compute.h"

namespace er::perfmodel::peak {

double fma_neon(int64_t iters) {
  const float32x4_t a = vdupq_n_f32(0.999999f);
  const float32x4_t b = vdupq_n_f32(1e-6f);
  float32x4_t x[16];
  for (int k = 0; k < 16; ++k) x[k] = vdupq_n_f32(0.1f * static_cast<float>(k + 1));
  for (int64_t i = 0; i < iters; ++i) {
    for (auto& v : x) v = vfmaq_f32(b, v, a);
  }
  float32x4_t s = x[0];
  for (int k = 1; k < 16; ++k) s = vaddq_f32(s, x[k]);
  return static_cast<double>(vaddvq_f32(s));
}

int64_t int8_neon(int64_t iters) {
  int8x16_t u0 = vdupq_n_s8(1), u1 = vdupq_n_s8(2), u2 = vdupq_n_s8(3), u3 = vdupq_n_s8(4);
  int8x16_t s = vdupq_n_s8(-2);
  int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    // The empty asm makes the operands look new every iteration, so the products are not hoisted.
    __asm__("" : "+w"(u0), "+w"(u1), "+w"(u2), "+w"(u3), "+w"(s));
    a0 = vpadalq_s16(a0, vmull_s8(vget_low_s8(u0), vget_low_s8(s)));
    a0 = vpadalq_s16(a0, vmull_high_s8(u0, s));
    a1 = vpadalq_s16(a1, vmull_s8(vget_low_s8(u1), vget_low_s8(s)));
    a1 = vpadalq_s16(a1, vmull_high_s8(u1, s));
    a2 = vpadalq_s16(a2, vmull_s8(vget_low_s8(u2), vget_low_s8(s)));
    a2 = vpadalq_s16(a2, vmull_high_s8(u2, s));
    a3 = vpadalq_s16(a3, vmull_s8(vget_low_s8(u3), vget_low_s8(s)));
    a3 = vpadalq_s16(a3, vmull_high_s8(u3, s));
  }
  return static_cast<int64_t>(vaddvq_s32(vaddq_s32(vaddq_s32(a0, a1), vaddq_s32(a2, a3))));
}

}  // namespace er::perfmodel::peak
