// AArch64 ARMv8.2 dotprod (SDOT) tile kernels, compiled with -march=armv8.2-a+dotprod only
// (Cortex-A55 / A75 and later: Orin's A78AE, Raspberry Pi 5's A76). The float weight types are
// served by the NEON level; the activation converters are the NEON ones (gemm_neon.cpp).
//
// Bit-identical to the scalar references (quant_act.h: llama.cpp's x86 arithmetic, summation order
// included). SDOT's int32 lane i is the sum of the four products of bytes 4i .. 4i + 3: exactly
// ggml's lane grouping of the 32-element block types, so one SDOT gives four of an output's 8 lanes
// and the float steps (acc = fma(d_w d_a, lane, acc), the 8-lane tree) are ggml's unchanged. All
// quants here are signed bytes (Q4_K / Q4_1 nibbles 0..15 and Q6_K's 0..63 included), so SDOT's
// signed x signed product is exact without ggml's offset tricks.
//
// Layouts (repack.h): the block kernels honour TileArgs::w_bstride (x8: 8-row tiles, one sequential
// stream); Q4_K x16 and Q4_1 x16 keep one weight row per int32 lane, vdotq_laneq_s32 multiplying 4
// bytes of 4 rows by one broadcast 4-byte activation group.
// Everything except the exported functions has internal linkage (see gemm_tile.h; the pieces shared
// with the NEON and i8mm levels are neon_common.h's, included in the anonymous namespace); no
// std:: math.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"
#include "kernels/repack.h"

namespace er::kernels::detail {
namespace {

#include "kernels/neon_common.h"

// Runs K::pass<R, C> over an NR x NC tile in passes that fit the register file: at most 8 outputs
// (16 float accumulators of ggml's 8 lanes; an 8-row x8 decode tile is one pass) and 2 columns,
// rows split in fours first. Every pass prefetches for the whole tile (w_ahead).
template <typename K, int NR, int NC>
inline void run_passes(const TileArgs& t) {
  if constexpr (NR * NC <= 8 && (NC <= 2 || NR == 1)) {
    K::template pass<NR, NC>(t);
  } else {
    TileArgs s = t;
    if (s.w_ahead == 0) s.w_ahead = NR * t.w_stride;  // row-major: each row prefetches the next tile's
    if constexpr (NR > 4) {
      run_passes<K, 4, NC>(s);
      s.w += 4 * t.w_stride;
      s.y += 4;
      run_passes<K, NR - 4, NC>(s);
    } else {
      run_passes<K, NR, 2>(s);
      s.a += 2 * t.a_stride;
      s.y += 2 * t.y_stride;
      run_passes<K, NR, NC - 2>(s);
    }
  }
}

// The TileFn of K for any nc: column groups of K::kMaxCols. (At the i8mm level the x8 layout runs
// these kernels with the i8mm kernel's column count.)
template <typename K>
void tile_any_cols(const TileArgs& t, int nr, int nc) {
  TileArgs s = t;
  for (; nc > K::kMaxCols; nc -= K::kMaxCols) {
    tile_entry<K>(s, nr, K::kMaxCols);
    s.a += K::kMaxCols * t.a_stride;
    s.y += K::kMaxCols * t.y_stride;
  }
  tile_entry<K>(s, nr, nc);
}

// ---- row-major (and x8) quantized types: 32-element blocks, Q4_K, Q6_K -----------------------------

// The integer products of the shared kernel passes (neon_common.h: the weights' unpacking, the
// passes' loops and float steps): SDOT's int32 lane i is the sum of the four products of bytes
// 4i .. 4i + 3, exactly ggml's lane grouping.
struct SdotOps {
  static constexpr bool kBStride = true;  // the block and Q6_K kernels also serve the x8 layout

  static int32x4_t lanes16(int8x16_t w, int8x16_t a) { return vdotq_s32(vdupq_n_s32(0), w, a); }

  // Q4_K: a sub-block's dot product is 2 SDOTs into 4 int32 partial sums, multiplied by its scale
  // in integers.
  static int32x4_t q4k_subblocks(int32x4_t s, uint8x16_t lo0, uint8x16_t lo1, uint8x16_t hi0, uint8x16_t hi1,
                                 const int8x16_t a[4], int32_t s_lo, int32_t s_hi) {
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t dlo = vdotq_s32(vdotq_s32(zero, vreinterpretq_s8_u8(lo0), a[0]), vreinterpretq_s8_u8(lo1), a[1]);
    const int32x4_t dhi = vdotq_s32(vdotq_s32(zero, vreinterpretq_s8_u8(hi0), a[2]), vreinterpretq_s8_u8(hi1), a[3]);
    return vmlaq_n_s32(vmlaq_n_s32(s, dlo, s_lo), dhi, s_hi);
  }

  // Q6_K: per 32 weights, two SDOTs give the 8 lanes of one chunk and an MLA by element multiplies
  // each by its sub-block scale.
  struct Q6KScales {
    int32x4_t s[4];  // sub-blocks 0-3, 4-7, 8-11, 12-15
  };
  static Q6KScales q6k_scales(const int16x8_t sc16[2]) {
    return {{vmovl_s16(vget_low_s16(sc16[0])), vmovl_high_s16(sc16[0]), vmovl_s16(vget_low_s16(sc16[1])),
             vmovl_high_s16(sc16[1])}};
  }
  template <int j>
  static void q6k_lanes(int32x4_t lane[2], int8x16_t w0, int8x16_t w1, const int8_t* a, const Q6KScales& sc) {
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t d0 = vdotq_s32(zero, w0, vld1q_s8(a));
    const int32x4_t d1 = vdotq_s32(zero, w1, vld1q_s8(a + 16));
    lane[0] = vmlaq_laneq_s32(lane[0], d0, sc.s[(2 * j) / 4], (2 * j) % 4);
    lane[1] = vmlaq_laneq_s32(lane[1], d1, sc.s[(2 * j + 1) / 4], (2 * j + 1) % 4);
  }
};

// The tile kernels (gemm_tile.h): up to 8 x 4 outputs (an 8-row x8 decode tile is one pass).
// Row-major Q4_K serves the matrices the loader can't repack to x16 (below).
template <typename Pass>
struct Tiles8x4 : Pass {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<Pass, NR, NC>(t);
  }
};
template <typename W>
using KernBlock32 = Tiles8x4<Block32Pass<W, SdotOps>>;
using KernQ4K = Tiles8x4<Q4KPass<SdotOps>>;
using KernQ6K = Tiles8x4<Q6KPass<SdotOps>>;

// ---- Q4_K x16 (repack.h) ------------------------------------------------------------------------

// One weight row per int32 lane: a 16-byte load of a qs chunk is 4 bytes of 4 rows, so
// vdotq_laneq_s32 against the column's activation dword j gives each of the 4 rows its 4 products,
// low nibbles with sub-block 2k's activations and high nibbles with 2k + 1's; after the 8 chunks of
// a 64-weight step every lane holds its row's exact sub-block dot products. Scales multiply in
// integers (get_scale_min_k4 on u32 lanes, as the AVX-512 kernel), the mins meet the column's
// (B_2k, B_2k+1) bsum pair by MLA by element. llama.cpp's float steps are unchanged: per 64 weights
// (kRepackGemm) or per block (gemv) acc = fma(isum, d_w d_a, acc), acc_min = fma(msum, dmin_w d_a,
// acc_min); result acc - acc_min. The 16 rows are 4 quads, each quad's integer work done before the
// next (all of a group block's lines are in L1 after the first), at most 2 columns per pass.
struct KernQ4Kx16 {
  // Group blocks ahead to prefetch (matmul sets no w_ahead for this layout). A 128-bit block takes
  // ~4x the AVX-512 kernel's time, but ARM DRAM latency is also higher than the x86 host's; 4 blocks
  // (9 KiB) rather than AVX-512's 2. Not measured on ARM hardware.
  static constexpr size_t kPrefetchAhead = 4 * kQ4KGroupBlockBytes;

  template <int NC, bool kGemm>
  static void run(const TileArgs& t) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const uint32x4_t m6 = vdupq_n_u32(0x3f3f3f3fu), m2 = vdupq_n_u32(0x03030303u);
    const uint32x4_t ml4 = vdupq_n_u32(0x0f0f0f0fu), mbyte = vdupq_n_u32(0xffu);
    const int32x4_t zero = vdupq_n_s32(0);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : kPrefetchAhead;
    float32x4_t acc[NC][4], acc_min[NC][4];  // [column][quad]: rows 4q .. 4q + 3
    for (int c = 0; c < NC; ++c)
      for (int q = 0; q < 4; ++q) acc[c][q] = acc_min[c][q] = vdupq_n_f32(0.0f);
    const int64_t nb = t.n / kQK_K;
    const uint8_t* gb = t.w;
    for (int64_t b = 0; b < nb; ++b, gb += kQ4KGroupBlockBytes) {
      prefetch_lines<static_cast<int>(kQ4KGroupBlockBytes)>(gb + ahead);
      const block_q8_K* y[NC];
      float da[NC];
      int32x4_t bp[NC][2];  // B_s = bsums[2s] + bsums[2s + 1], s = 0-3 and 4-7
      for (int c = 0; c < NC; ++c) {
        y[c] = act_block(t, c, b);
        da[c] = y[c]->d;
        const int16x8_t pairs = q4k_bsum_pairs(y[c]);
        bp[c][0] = vmovl_s16(vget_low_s16(pairs));
        bp[c][1] = vmovl_high_s16(pairs);
      }
      for (int q = 0; q < 4; ++q) {
        const float32x4_t dw = f16x4(gb + 8 * q), dmw = f16x4(gb + 32 + 8 * q);
        const uint32x4_t u0 = vld1q_u32(reinterpret_cast<const uint32_t*>(gb + 64 + 16 * q));
        const uint32x4_t u1 = vld1q_u32(reinterpret_cast<const uint32_t*>(gb + 128 + 16 * q));
        const uint32x4_t u2 = vld1q_u32(reinterpret_cast<const uint32_t*>(gb + 192 + 16 * q));
        // get_scale_min_k4 for 4 rows: bytes of sc[0] = scales 0-3, sc[1] = 4-7; mn likewise mins.
        const uint32x4_t sc[2] = {vandq_u32(u0, m6),
                                  vorrq_u32(vandq_u32(u2, ml4), vshlq_n_u32(vandq_u32(vshrq_n_u32(u0, 6), m2), 4))};
        const uint32x4_t mn[2] = {vandq_u32(u1, m6),
                                  vorrq_u32(vandq_u32(vshrq_n_u32(u2, 4), ml4), vshlq_n_u32(vandq_u32(vshrq_n_u32(u1, 6), m2), 4))};
        int32x4_t isum[NC], msum[NC];
        for (int c = 0; c < NC; ++c) isum[c] = msum[c] = zero;
        const uint8_t* qs = gb + 256 + 16 * q;
        unroll<4>([&](auto kc) {  // 64 weights: sub-block 2k (low nibbles), 2k + 1 (high)
          constexpr int k = decltype(kc)::value;
          // bytes 2 (k % 2) and 2 (k % 2) + 1 of each row's scale / min word
          const uint32x4_t s_src = k % 2 == 0 ? sc[k / 2] : vshrq_n_u32(sc[k / 2], 16);
          const uint32x4_t m_src = k % 2 == 0 ? mn[k / 2] : vshrq_n_u32(mn[k / 2], 16);
          const int32x4_t s_lo = vreinterpretq_s32_u32(vandq_u32(s_src, mbyte));
          const int32x4_t s_hi = vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(s_src, 8), mbyte));
          const int32x4_t m_lo = vreinterpretq_s32_u32(vandq_u32(m_src, mbyte));
          const int32x4_t m_hi = vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(m_src, 8), mbyte));
          int8x16_t alo[NC][2], ahi[NC][2];
          int32x4_t dlo[NC], dhi[NC];
          for (int c = 0; c < NC; ++c) {
            alo[c][0] = vld1q_s8(y[c]->qs + 64 * k);
            alo[c][1] = vld1q_s8(y[c]->qs + 64 * k + 16);
            ahi[c][0] = vld1q_s8(y[c]->qs + 64 * k + 32);
            ahi[c][1] = vld1q_s8(y[c]->qs + 64 * k + 48);
            dlo[c] = dhi[c] = zero;
          }
          unroll<8>([&](auto jc) {
            constexpr int j = decltype(jc)::value;
            const uint8x16_t w = vld1q_u8(qs + 64 * (8 * k + j));
            const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(w, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(w, 4));
            for (int c = 0; c < NC; ++c) {
              dlo[c] = vdotq_laneq_s32(dlo[c], lo, alo[c][j / 4], j % 4);
              dhi[c] = vdotq_laneq_s32(dhi[c], hi, ahi[c][j / 4], j % 4);
            }
          });
          for (int c = 0; c < NC; ++c) {
            const int32x4_t is = vmlaq_s32(vmulq_s32(dlo[c], s_lo), dhi[c], s_hi);
            const int32x4_t ms = vmlaq_laneq_s32(vmulq_laneq_s32(m_lo, bp[c][(2 * k) / 4], (2 * k) % 4), m_hi,
                                                 bp[c][(2 * k + 1) / 4], (2 * k + 1) % 4);
            if constexpr (kGemm) {
              acc[c][q] = vfmaq_f32(acc[c][q], vcvtq_f32_s32(is), vmulq_n_f32(dw, da[c]));
              acc_min[c][q] = vfmaq_f32(acc_min[c][q], vcvtq_f32_s32(ms), vmulq_n_f32(dmw, da[c]));
            } else {
              isum[c] = vaddq_s32(isum[c], is);
              msum[c] = vaddq_s32(msum[c], ms);
            }
          }
        });
        if constexpr (!kGemm) {
          for (int c = 0; c < NC; ++c) {
            acc[c][q] = vfmaq_f32(acc[c][q], vcvtq_f32_s32(isum[c]), vmulq_n_f32(dw, da[c]));
            acc_min[c][q] = vfmaq_f32(acc_min[c][q], vcvtq_f32_s32(msum[c]), vmulq_n_f32(dmw, da[c]));
          }
        }
      }
    }
    for (int c = 0; c < NC; ++c)
      for (int q = 0; q < 4; ++q) vst1q_f32(t.y + c * t.y_stride + 4 * q, vsubq_f32(acc[c][q], acc_min[c][q]));
  }
};

void tile_q4_K_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ4KGroupRows)
  const bool gemm = t.path == MatmulPath::kRepackGemm;
  TileArgs s = t;
  for (; nc > 0; nc -= 2) {  // two columns per pass; wider tiles rerun the group block from L1
    if (nc == 1) {
      gemm ? KernQ4Kx16::run<1, true>(s) : KernQ4Kx16::run<1, false>(s);
      return;
    }
    gemm ? KernQ4Kx16::run<2, true>(s) : KernQ4Kx16::run<2, false>(s);
    s.a += 2 * t.a_stride;
    s.y += 2 * t.y_stride;
  }
}

// ---- Q4_1 x16 (repack.h) ------------------------------------------------------------------------

// One weight row per int32 lane. llama.cpp keeps 8 float lanes per row (lane l: the 4 products of
// weights 4l .. 4l + 3: low nibbles of qs dword l for l < 4, high nibbles of dword l - 4), so the
// 16 rows' lanes are 32 vectors: one pass keeps 8 rows (two quads x 8 lanes, 16 accumulators) of
// one column, and a group runs as two passes over its blocks, each reading its half of every
// 64-byte chunk line (the second from cache). Per block: acc = fma(d_w d_a, lane, acc) with the
// lane from vdotq_laneq_s32 (4 rows' dword j against activation dword j, or j + 4 for the high
// nibbles); summs += m_w s_a (mul, then add) per row; at the end hsum_float_8's tree per row, then
// + summs.
struct KernQ41x16 {
  static constexpr size_t kPrefetchAhead = 16384;  // matmul's w_ahead for this layout

  // Rows 8 h .. 8 h + 7 of the group, column `a` / `y`.
  static void half(const TileArgs& t, const uint8_t* a, float* y, int h, bool prefetch) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int32x4_t zero = vdupq_n_s32(0);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : kPrefetchAhead;
    float32x4_t acc[2][8], summs[2];  // (constant indices only, so they stay in registers)
    unroll<2>([&](auto q) {
      summs[q] = vdupq_n_f32(0.0f);
      unroll<8>([&](auto l) { acc[q][l] = vdupq_n_f32(0.0f); });
    });
    const int64_t nb = t.n / kQK4_1;
    const uint8_t* gb = t.w;
    const auto* act = reinterpret_cast<const block_q8_1*>(a);
    for (int64_t b = 0; b < nb; ++b, gb += kQ4_1GroupBlockBytes) {
      if (prefetch) prefetch_lines<static_cast<int>(kQ4_1GroupBlockBytes)>(gb + ahead);
      const int8x16_t a0 = vld1q_s8(act[b].qs), a1 = vld1q_s8(act[b].qs + 16);
      const float da = f16(act[b].d), sa = f16(act[b].s);
      unroll<2>([&](auto qc) {
        constexpr int q = decltype(qc)::value;
        const int row = 8 * h + 4 * q;
        summs[q] = vaddq_f32(summs[q], vmulq_n_f32(f16x4(gb + 32 + 2 * row), sa));
        const float32x4_t dd = vmulq_n_f32(f16x4(gb + 2 * row), da);
        unroll<4>([&](auto jc) {
          constexpr int j = decltype(jc)::value;
          const uint8x16_t w = vld1q_u8(gb + 64 + 64 * j + 4 * row);
          const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(w, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(w, 4));
          acc[q][j] = vfmaq_f32(acc[q][j], vcvtq_f32_s32(vdotq_laneq_s32(zero, lo, a0, j)), dd);
          acc[q][j + 4] = vfmaq_f32(acc[q][j + 4], vcvtq_f32_s32(vdotq_laneq_s32(zero, hi, a1, j)), dd);
        });
      });
    }
    unroll<2>([&](auto q) {
      // hsum_float_8: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), then + summs.
      const float32x4_t* v = acc[q];
      const float32x4_t t0 = vaddq_f32(v[4], v[0]), t1 = vaddq_f32(v[5], v[1]);
      const float32x4_t t2 = vaddq_f32(v[6], v[2]), t3 = vaddq_f32(v[7], v[3]);
      const float32x4_t r = vaddq_f32(vaddq_f32(t0, t2), vaddq_f32(t1, t3));
      vst1q_f32(y + 8 * h + 4 * q, vaddq_f32(r, summs[q]));
    });
  }
};

void tile_q4_1_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ4_1GroupRows)
  for (int c = 0; c < nc; ++c) {
    const uint8_t* a = t.a + c * t.a_stride;
    float* y = t.y + c * t.y_stride;
    // The first pass streams the group's lines in (and prefetches ahead); the second finds them in cache.
    KernQ41x16::half(t, a, y, 0, c == 0);
    KernQ41x16::half(t, a, y, 1, false);
  }
}

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                            DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};

}  // namespace

const GemmKernel* gemm_kernel_dotprod(DType w) {
  // F32 / F16 / BF16 have no integer products: the NEON kernels serve them.
  static const GemmKernel kTable[] = {
      {DType::kQ8_0, act_quantizer_neon(DType::kQ8_0), tile_any_cols<KernBlock32<WQ8_0>>, 8, 8, 4},
      {DType::kQ8_0, act_quantizer_neon(DType::kQ8_0), tile_any_cols<KernBlock32<WQ4_0>>, 8, 8, 4},
      {DType::kQ8_1, act_quantizer_neon(DType::kQ8_1), tile_any_cols<KernBlock32<WQ4_1>>, 8, 8, 4},
      {DType::kQ8_0, act_quantizer_neon(DType::kQ8_0), tile_any_cols<KernBlock32<WQ5_0>>, 8, 8, 4},
      {DType::kQ8_1, act_quantizer_neon(DType::kQ8_1), tile_any_cols<KernBlock32<WQ5_1>>, 8, 8, 4},
      {DType::kQ8_K, act_quantizer_neon(DType::kQ8_K), tile_any_cols<KernQ4K>, 8, 4, 4},
      {DType::kQ8_K, act_quantizer_neon(DType::kQ8_K), tile_any_cols<KernQ6K>, 8, 8, 4},
  };
  static_assert(sizeof kTable / sizeof kTable[0] == sizeof kTypes / sizeof kTypes[0]);
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; ++i) {
    if (kTypes[i] == w) return &kTable[i];
  }
  return nullptr;
}

const GemmKernel* gemm_kernel_layout_dotprod(Layout layout, DType w) {
  static const GemmKernel kQ4Kx16 = {DType::kQ8_K, act_quantizer_neon(DType::kQ8_K), tile_q4_K_x16, kQ4KGroupRows,
                                     kQ4KGroupRows, 4};
  static const GemmKernel kQ41x16 = {DType::kQ8_1, act_quantizer_neon(DType::kQ8_1), tile_q4_1_x16, kQ4_1GroupRows,
                                     kQ4_1GroupRows, 4};
  switch (layout) {
    case Layout::kQ4Kx16: return w == DType::kQ4_K ? &kQ4Kx16 : nullptr;
    case Layout::kQ4_1x16: return w == DType::kQ4_1 ? &kQ41x16 : nullptr;
    case Layout::kX8:  // the block kernels take 8 rows and honour w_bstride
      switch (w) {
        case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
        case DType::kQ6_K:
          return gemm_kernel_dotprod(w);
        default: return nullptr;
      }
    default: return nullptr;
  }
}

}  // namespace er::kernels::detail
