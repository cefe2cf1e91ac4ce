// AArch64 Advanced SIMD (ARMv8.0 NEON) tile kernels and activation quantizers, compiled with no
// extra target flags: every AArch64 CPU runs them (Cortex-A53 / A72 and later). The dotprod and
// i8mm levels reuse the quantizers here and fall back to these kernels where they have none.
//
// Bit-identical to the scalar references (quant_act.h: llama.cpp's x86 arithmetic, summation order
// included). A NEON register holds 4 floats, so ggml's 8 float lanes per output of the quantized
// dot products are two vectors per output, and the float types' 16 (tinyBLAS) and 64 (ggml_vec_dot)
// lanes are 4 and 16 vectors. Without SDOT, int8 x int8 products go through SMULL (exact in int16)
// and pairwise adds, which keep ggml's lane grouping (lane k = products 4k .. 4k + 3) exactly.
// fma appears only where the reference has one (vfmaq_*, __builtin_fmaf); the build's
// -ffp-contract=off keeps every other a * b + c unfused.
// Everything except the exported functions has internal linkage (see gemm_tile.h; the pieces shared
// with the dotprod and i8mm levels are neon_common.h's, included in the anonymous namespace); no
// std:: math.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"

namespace er::kernels::detail {
namespace {

#include "kernels/neon_common.h"

// f32 -> f16 through the FPU's FCVT (rounds to nearest even, as F16C and core/f16.h do).
inline uint16_t to_f16(float f) {
  const __fp16 v = static_cast<__fp16>(f);
  uint16_t h;
  std::memcpy(&h, &v, 2);
  return h;
}

// The first 4 lanes of ggml::reduce_halving once the wider halves are folded: (v0 + v2) + (v1 + v3).
inline float reduce4(float32x4_t v) { return vpadds_f32(vadd_f32(vget_low_f32(v), vget_high_f32(v))); }

// Runs K::pass<R, C> over an NR x NC tile in passes that fit the register file: at most kOut
// outputs and 2 columns per pass, rows split in steps of kOut / 2 first. ggml's 8 lanes are 2
// accumulators per output and without SDOT each product group needs 4-5 temporaries, so the block
// kernels take 4 outputs (4 x 2 spilled); the K-quant kernels 2 (their unpacked weights and
// activations take more registers). Every pass prefetches for the whole tile (w_ahead).
template <typename K, int kOut, int NR, int NC>
inline void run_passes(const TileArgs& t) {
  constexpr int kRowStep = kOut > 2 ? kOut / 2 : 1;
  if constexpr (NR * NC <= kOut && NC <= 2) {
    K::template pass<NR, NC>(t);
  } else {
    TileArgs s = t;
    if (s.w_ahead == 0) s.w_ahead = NR * t.w_stride;  // what each row prefetches: the next tile
    if constexpr (NR > kRowStep) {
      run_passes<K, kOut, kRowStep, NC>(s);
      s.w += kRowStep * t.w_stride;
      s.y += kRowStep;
      run_passes<K, kOut, NR - kRowStep, NC>(s);
    } else {
      run_passes<K, kOut, NR, 2>(s);
      s.a += 2 * t.a_stride;
      s.y += 2 * t.y_stride;
      run_passes<K, kOut, NR, NC - 2>(s);
    }
  }
}

// ---- plain float types -------------------------------------------------------------------------

inline float f32_at(const uint8_t* p, int64_t i) {
  float f;
  std::memcpy(&f, p + 4 * i, 4);
  return f;
}
inline float f16_at(const uint8_t* p, int64_t i) {
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return f16(h);
}
inline float bf16_at(const uint8_t* p, int64_t i) {
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Loads elements i .. i + 3 as floats; ggml_vec_dot's tail after the 64-element steps (f32 adds
// rounded products in float, f16 and bf16 in double).
struct LoadF32 {
  static constexpr int kBytes = 4;
  static float32x4_t load4(const uint8_t* p, int64_t i) { return vld1q_f32(reinterpret_cast<const float*>(p + 4 * i)); }
  static float scalar(const uint8_t* p, int64_t i) { return f32_at(p, i); }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    for (int64_t i = i0; i < n; ++i) head += f32_at(w, i) * f32_at(a, i);
    return head;
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static float32x4_t load4(const uint8_t* p, int64_t i) {
    return f16x4(p + 2 * i);
  }
  static float scalar(const uint8_t* p, int64_t i) { return f16_at(p, i); }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    double sum = head;
    for (int64_t i = i0; i < n; ++i) sum += static_cast<double>(f16_at(w, i) * f16_at(a, i));
    return static_cast<float>(sum);
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static float32x4_t load4(const uint8_t* p, int64_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p + 2 * i)), 16));
  }
  static float scalar(const uint8_t* p, int64_t i) { return bf16_at(p, i); }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    double sum = head;
    for (int64_t i = i0; i < n; ++i) sum += static_cast<double>(bf16_at(w, i) * bf16_at(a, i));
    return static_cast<float>(sum);
  }
};

// f16 / bf16 / f32 weights in llama.cpp's orders (ops.h DotOrder). kTinyBlas: 16 lanes per output
// (4 vectors), element i into lane i % 16, then the 16-lane halving tree; a register tile of 2 x 2
// outputs (16 accumulators) per pass. kVecDot: 64 lanes (16 vectors) over the first n - n % 64,
// the 64-lane halving tree, then the tail; one output at a time.
template <typename L>
struct KernFloat {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    if (t.path == MatmulPath::kTinyBlas) {
      tinyblas_split<NR, NC>(t, ahead);
    } else {
      for (int c = 0; c < NC; ++c) {
        for (int r = 0; r < NR; ++r) {
          const uint8_t* w = t.w + r * t.w_stride;
          t.y[c * t.y_stride + r] = vecdot(w, t.a + c * t.a_stride, t.n, ahead);
        }
      }
    }
  }

  template <int NR, int NC>
  static void tinyblas_split(const TileArgs& t, size_t ahead) {
    if constexpr (NR > 2) {
      tinyblas_split<2, NC>(t, ahead);
      TileArgs s = t;
      s.w += 2 * t.w_stride;
      s.y += 2;
      tinyblas_split<NR - 2, NC>(s, ahead);
    } else if constexpr (NC > 2) {
      tinyblas_split<NR, 2>(t, ahead);
      TileArgs s = t;
      s.a += 2 * t.a_stride;
      s.y += 2 * t.y_stride;
      tinyblas_split<NR, NC - 2>(s, ahead);
    } else {
      tinyblas<NR, NC>(t, ahead);
    }
  }

  template <int NR, int NC>
  static void tinyblas(const TileArgs& t, size_t ahead) {
    float32x4_t acc[NR][NC][4];
    unroll<NR>([&](auto r) {
      unroll<NC>([&](auto c) { unroll<4>([&](auto g) { acc[r][c][g] = vdupq_n_f32(0.0f); }); });
    });
    int64_t i = 0;
    for (; i + 16 <= t.n; i += 16) {
      for (int r = 0; r < NR; ++r) __builtin_prefetch(t.w + r * t.w_stride + ahead + i * L::kBytes, 0, 3);
      unroll<4>([&](auto g) {
        float32x4_t w[NR], a[NC];
        unroll<NR>([&](auto r) { w[r] = L::load4(t.w + r * t.w_stride, i + 4 * g); });
        unroll<NC>([&](auto c) { a[c] = L::load4(t.a + c * t.a_stride, i + 4 * g); });
        unroll<NR>([&](auto r) {
          unroll<NC>([&](auto c) { acc[r][c][g] = vfmaq_f32(acc[r][c][g], w[r], a[c]); });
        });
      });
    }
    unroll<NR>([&](auto r) {
      unroll<NC>([&](auto c) {
        float32x4_t v[4] = {acc[r][c][0], acc[r][c][1], acc[r][c][2], acc[r][c][3]};
        if (i < t.n) {  // (the driver picks kTinyBlas for n % 16 == 0 only; this is the definition)
          alignas(16) float lanes[16];
          for (int g = 0; g < 4; ++g) vst1q_f32(lanes + 4 * g, v[g]);
          const uint8_t* w = t.w + r * t.w_stride;
          const uint8_t* a = t.a + c * t.a_stride;
          for (int64_t k = i; k < t.n; ++k) lanes[k % 16] = __builtin_fmaf(L::scalar(w, k), L::scalar(a, k), lanes[k % 16]);
          for (int g = 0; g < 4; ++g) v[g] = vld1q_f32(lanes + 4 * g);
        }
        // 16-lane halving tree: lanes i + 8, then i + 4, then the last four.
        t.y[c * t.y_stride + r] = reduce4(vaddq_f32(vaddq_f32(v[0], v[2]), vaddq_f32(v[1], v[3])));
      });
    });
  }

  static float vecdot(const uint8_t* w, const uint8_t* a, int64_t n, size_t ahead) {
    float32x4_t acc[16];
    unroll<16>([&](auto k) { acc[k] = vdupq_n_f32(0.0f); });
    const int64_t np = n - n % 64;
    for (int64_t i = 0; i < np; i += 64) {
      prefetch_lines<64 * L::kBytes>(w + ahead + i * L::kBytes);
      unroll<16>([&](auto k) { acc[k] = vfmaq_f32(acc[k], L::load4(w, i + 4 * k), L::load4(a, i + 4 * k)); });
    }
    // 64-lane halving tree: lanes i + 32, i + 16, i + 8, i + 4, then the last four.
    unroll<8>([&](auto k) { acc[k] = vaddq_f32(acc[k], acc[k + 8]); });
    unroll<4>([&](auto k) { acc[k] = vaddq_f32(acc[k], acc[k + 4]); });
    unroll<2>([&](auto k) { acc[k] = vaddq_f32(acc[k], acc[k + 2]); });
    const float head = reduce4(vaddq_f32(acc[0], acc[1]));
    return L::tail(head, w, a, np, n);
  }
};

// ---- quantized types: 32-element blocks (Q8_0, Q4_0, Q5_0 x Q8_0; Q4_1, Q5_1 x Q8_1), Q4_K, Q6_K --

// The integer products of the shared kernel passes (neon_common.h: the weights' unpacking, the
// passes' loops and float steps) without SDOT: SMULL products are exact in int16 and pairwise adds
// keep ggml's lane grouping.
struct SmullOps {
  static constexpr bool kBStride = false;  // row-major only (the x8 layout is the dotprod level's)

  // Lane k of the result = the sum of products 4k .. 4k + 3 of 16 weight and activation bytes.
  // Products and pair sums are exact in int16: |q_w| <= 128 and |q_a| <= 127 (the quantizers
  // never emit -128), so a pair is at most 2 * 128 * 127 = 32512.
  static int32x4_t lanes16(int8x16_t w, int8x16_t a) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    const int16x8_t p1 = vmull_high_s8(w, a);
    return vpaddlq_s16(vpaddq_s16(p0, p1));
  }

  // sum of products of 32 nibbles (two vectors) and 32 activations, four per int16 lane.
  static int16x8_t dot32(uint8x16_t q0, uint8x16_t q1, int8x16_t a0, int8x16_t a1) {
    const int8x16_t w0 = vreinterpretq_s8_u8(q0), w1 = vreinterpretq_s8_u8(q1);
    int16x8_t p = vmull_s8(vget_low_s8(w0), vget_low_s8(a0));
    p = vmlal_high_s8(p, w0, a0);
    p = vmlal_s8(p, vget_low_s8(w1), vget_low_s8(a1));
    return vmlal_high_s8(p, w1, a1);
  }
  // Q4_K: a sub-block's products (nibble <= 15 times |q_a| <= 127) summed four to an int16 lane
  // stay below 7620, then widen while multiplied by the 6-bit scale (SMLAL by element).
  static int32x4_t q4k_subblocks(int32x4_t s, uint8x16_t lo0, uint8x16_t lo1, uint8x16_t hi0, uint8x16_t hi1,
                                 const int8x16_t a[4], int16_t s_lo, int16_t s_hi) {
    const int16x8_t plo = dot32(lo0, lo1, a[0], a[1]);
    const int16x8_t phi = dot32(hi0, hi1, a[2], a[3]);
    s = vmlal_n_s16(s, vget_low_s16(plo), s_lo);
    s = vmlal_high_n_s16(s, plo, s_lo);
    s = vmlal_n_s16(s, vget_low_s16(phi), s_hi);
    return vmlal_high_n_s16(s, phi, s_hi);
  }

  // Q6_K: products (q <= 63, |q_a| <= 127) summed four to an int16 lane stay below 32004, then
  // widen times the scale (SMLAL by element).
  struct Q6KScales {
    int16x8_t s[2];  // sub-blocks 0-7, 8-15
  };
  static Q6KScales q6k_scales(const int16x8_t sc16[2]) { return {{sc16[0], sc16[1]}}; }
  template <int j>
  static void q6k_lanes(int32x4_t lane[2], int8x16_t w0, int8x16_t w1, const int8_t* a, const Q6KScales& sc) {
    const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
    // int16 lane m: products 4m .. 4m + 3 (m < 4: of weights 0-15, sub-block 2j; else 2j + 1)
    const int16x8_t p = vpaddq_s16(vpaddq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(a0)), vmull_high_s8(w0, a0)),
                                   vpaddq_s16(vmull_s8(vget_low_s8(w1), vget_low_s8(a1)), vmull_high_s8(w1, a1)));
    lane[0] = vmlal_laneq_s16(lane[0], vget_low_s16(p), sc.s[(2 * j) / 8], (2 * j) % 8);
    lane[1] = vmlal_high_laneq_s16(lane[1], p, sc.s[(2 * j + 1) / 8], (2 * j + 1) % 8);
  }
};

// The tile kernels (gemm_tile.h): up to 4 x 4 outputs, in passes of kOut outputs (run_passes).
template <typename Pass, int kOut>
struct Tiles4x4 : Pass {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<Pass, kOut, NR, NC>(t);
  }
};
template <typename W>
using KernBlock32 = Tiles4x4<Block32Pass<W, SmullOps>, 4>;
using KernQ4K = Tiles4x4<Q4KPass<SmullOps>, 2>;
using KernQ6K = Tiles4x4<Q6KPass<SmullOps>, 2>;

// ---- activation quantizers (bit-exact with quant_act.cpp) --------------------------------------

// max(0, |x_0|, ..., |x_31|) as std::fmax folds it (FMAXNM ignores a NaN operand, like fmax).
inline float absmax_32(const float* x) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int j = 0; j < 32; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
  return vmaxnmvq_f32(m);
}

// q_j = round_half_even(x_j * id) for 32 values (FCVTNS), narrowed by truncation as the
// reference's static_cast<int8_t>; returns the int32 sum of the q_j.
inline int32_t round_pack_32(const float* x, float id, int8_t* qs) {
  int32x4_t q[8];
  for (int u = 0; u < 8; ++u) q[u] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * u), id));
  for (int h = 0; h < 2; ++h) {
    const int16x8_t s0 = vcombine_s16(vmovn_s32(q[4 * h]), vmovn_s32(q[4 * h + 1]));
    const int16x8_t s1 = vcombine_s16(vmovn_s32(q[4 * h + 2]), vmovn_s32(q[4 * h + 3]));
    vst1q_s8(qs + 16 * h, vcombine_s8(vmovn_s16(s0), vmovn_s16(s1)));
  }
  int32x4_t s = vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]));
  s = vaddq_s32(s, vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7])));
  return vaddvq_s32(s);
}

void quant_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const float amax = absmax_32(x);
    y[i].d = to_f16(amax / 127.f);
    round_pack_32(x, amax != 0.0f ? 127.f / amax : 0.0f, y[i].qs);
  }
}

void quant_q8_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_1*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const float amax = absmax_32(x);
    const float d = amax / 127.f;
    y[i].d = to_f16(d);
    const int32_t sum = round_pack_32(x, amax != 0.0f ? 127.f / amax : 0.0f, y[i].qs);
    y[i].s = to_f16(d * static_cast<float>(sum));
  }
}

void quant_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < kQK_K; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxnmvq_f32(m);
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    float max = 0.0f;  // the first value of largest magnitude, as the reference picks it
    for (int j = 0; j < kQK_K; ++j) {
      if (__builtin_fabsf(x[j]) == amax) {
        max = x[j];
        break;
      }
    }
    const float iscale = -127.f / max;
    const int32x4_t lim = vdupq_n_s32(127);
    for (int j = 0; j < kQK_K; j += 16) {
      int32x4_t q[4];
      for (int u = 0; u < 4; ++u) q[u] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * u), iscale)), lim);
      const int16x8_t s0 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
      const int16x8_t s1 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
      const int8x16_t qs = vcombine_s8(vmovn_s16(s0), vmovn_s16(s1));
      vst1q_s8(y[i].qs + j, qs);
      y[i].bsums[j / 16] = static_cast<int16_t>(vaddlvq_s8(qs));
    }
    y[i].d = 1.0f / iscale;
  }
}

void quant_f16(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1_u16(reinterpret_cast<uint16_t*>(y + 2 * i), vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  }
  for (; i < n; ++i) {
    const uint16_t h = to_f16(x[i]);
    std::memcpy(y + 2 * i, &h, 2);
  }
}

// f32 -> bf16, round to nearest even, NaN kept quiet (as core/f16.h f32_to_bf16).
inline uint16_t bf16_scalar(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return static_cast<uint16_t>((x + (0x7fffu + ((x >> 16) & 1u))) >> 16);
}

void quant_bf16(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t rne = vshrq_n_u32(vaddq_u32(u, vaddq_u32(odd, vdupq_n_u32(0x7fff))), 16);
    const uint32x4_t nan = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(64));
    const uint32x4_t is_nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
    vst1_u16(reinterpret_cast<uint16_t*>(y + 2 * i), vmovn_u32(vbslq_u32(is_nan, nan, rne)));
  }
  for (; i < n; ++i) {
    const uint16_t b = bf16_scalar(x[i]);
    std::memcpy(y + 2 * i, &b, 2);
  }
}

constexpr GemmKernel kNeon[] = {
    {DType::kF32, nullptr, tile_entry<KernFloat<LoadF32>>, 4, 4, 4},
    {DType::kF16, quant_f16, tile_entry<KernFloat<LoadF16>>, 4, 4, 4},
    {DType::kBF16, quant_bf16, tile_entry<KernFloat<LoadBF16>>, 4, 4, 4},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ8_0>>, 4, 4, 4},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ4_0>>, 4, 4, 4},
    {DType::kQ8_1, quant_q8_1, tile_entry<KernBlock32<WQ4_1>>, 4, 4, 4},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ5_0>>, 4, 4, 4},
    {DType::kQ8_1, quant_q8_1, tile_entry<KernBlock32<WQ5_1>>, 4, 4, 4},
    {DType::kQ8_K, quant_q8_K, tile_entry<KernQ4K>, 4, 4, 4},
    {DType::kQ8_K, quant_q8_K, tile_entry<KernQ6K>, 4, 4, 4},
};
constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                            DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};
static_assert(sizeof kNeon / sizeof kNeon[0] == sizeof kTypes / sizeof kTypes[0]);

}  // namespace

ActQuantFn act_quantizer_neon(DType act) {
  switch (act) {
    case DType::kQ8_0: return quant_q8_0;
    case DType::kQ8_1: return quant_q8_1;
    case DType::kQ8_K: return quant_q8_K;
    case DType::kF16: return quant_f16;
    case DType::kBF16: return quant_bf16;
    default: return nullptr;
  }
}

const GemmKernel* gemm_kernel_neon(DType w) {
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; ++i) {
    if (kTypes[i] == w) return &kNeon[i];
  }
  return nullptr;
}

}  // namespace er::kernels::detail
