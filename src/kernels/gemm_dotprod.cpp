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
// Everything except the exported functions has internal linkage (see gemm_tile.h); no std:: math.
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

// f16 -> f32 through the FPU's FCVT (exact).
inline float f16(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
// 4 f16 at p as floats.
inline float32x4_t f16x4(const uint8_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)))); }

// Prefetches `Bytes` bytes at p into L1 (one PRFM per 64-byte line).
template <int Bytes>
inline void prefetch_lines(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
}

// Calls f(std::integral_constant<int, I>) for I = 0 .. N-1. Lane indices and shift counts of the
// intrinsics must be compile-time constants (also at -O0), and accumulator arrays indexed only by
// constants are split into registers by GCC's SRA; indexed in plain loops (unrolled only later),
// they stay in memory with a store after every update.
template <typename F, int... I>
inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
inline void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>{});
}

// hsum_float_8 / ggml::reduce8 of 8 lanes (lo = lanes 0-3, hi = 4-7):
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
inline float reduce8(float32x4_t lo, float32x4_t hi) {
  const float32x4_t a = vaddq_f32(hi, lo);
  return vpadds_f32(vadd_f32(vget_low_f32(a), vget_high_f32(a)));
}

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

// ---- 32-element block types: Q8_0, Q4_0, Q5_0 (x Q8_0) and Q4_1, Q5_1 (x Q8_1) ------------------

inline void nibbles(const uint8_t* qs, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t v = vld1q_u8(qs);
  *lo = vandq_u8(v, vdupq_n_u8(0x0F));
  *hi = vshrq_n_u8(v, 4);
}

// Q5: the 32 bits of qh (bit j = 5th bit of weight j) as 0xFF / 0x00 bytes for weights 0-15, 16-31.
inline void fifth_bit_masks(const uint8_t* qh_bytes, uint8x16_t* m0, uint8x16_t* m1) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const uint8x16_t rep = vreinterpretq_u8_u32(vdupq_n_u32(qh));  // bytes 0-3 of qh, repeated
  static constexpr uint8_t kIdx0[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t kIdx1[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit);
  *m0 = vtstq_u8(vqtbl1q_u8(rep, vld1q_u8(kIdx0)), bit);
  *m1 = vtstq_u8(vqtbl1q_u8(rep, vld1q_u8(kIdx1)), bit);
}

// W gives a block's 32 weights as signed bytes in activation order (q0: weights 0-15, q1: 16-31);
// Q4_1 / Q5_1 keep their unsigned values (0..15 / 0..31) and add m_w s_a separately.
struct WQ8_0 {
  using Block = block_q8_0;
  using Act = block_q8_0;
  static constexpr bool kHasMin = false;
  static void q(const Block& b, int8x16_t* q0, int8x16_t* q1) {
    *q0 = vld1q_s8(b.qs);
    *q1 = vld1q_s8(b.qs + 16);
  }
};
struct WQ4_0 {
  using Block = block_q4_0;
  using Act = block_q8_0;
  static constexpr bool kHasMin = false;
  static void q(const Block& b, int8x16_t* q0, int8x16_t* q1) {
    uint8x16_t lo, hi;
    nibbles(b.qs, &lo, &hi);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8));
  }
};
struct WQ4_1 {
  using Block = block_q4_1;
  using Act = block_q8_1;
  static constexpr bool kHasMin = true;
  static void q(const Block& b, int8x16_t* q0, int8x16_t* q1) {
    uint8x16_t lo, hi;
    nibbles(b.qs, &lo, &hi);
    *q0 = vreinterpretq_s8_u8(lo);
    *q1 = vreinterpretq_s8_u8(hi);
  }
};
struct WQ5_0 {
  using Block = block_q5_0;
  using Act = block_q8_0;
  static constexpr bool kHasMin = false;
  static void q(const Block& b, int8x16_t* q0, int8x16_t* q1) {
    uint8x16_t lo, hi, m0, m1;
    nibbles(b.qs, &lo, &hi);
    fifth_bit_masks(b.qh, &m0, &m1);
    // (nibble | 16 * bit) - 16 == nibble - 16 * !bit
    const uint8x16_t v16 = vdupq_n_u8(16);
    *q0 = vreinterpretq_s8_u8(vsubq_u8(lo, vbicq_u8(v16, m0)));
    *q1 = vreinterpretq_s8_u8(vsubq_u8(hi, vbicq_u8(v16, m1)));
  }
};
struct WQ5_1 {
  using Block = block_q5_1;
  using Act = block_q8_1;
  static constexpr bool kHasMin = true;
  static void q(const Block& b, int8x16_t* q0, int8x16_t* q1) {
    uint8x16_t lo, hi, m0, m1;
    nibbles(b.qs, &lo, &hi);
    fifth_bit_masks(b.qh, &m0, &m1);
    const uint8x16_t v16 = vdupq_n_u8(16);
    *q0 = vreinterpretq_s8_u8(vorrq_u8(lo, vandq_u8(v16, m0)));
    *q1 = vreinterpretq_s8_u8(vorrq_u8(hi, vandq_u8(v16, m1)));
  }
};

// Per output and block, two SDOTs give ggml's 8 integer lanes; acc = fma(d_w d_a, lane, acc), at
// the end the 8-lane tree (+ the in-order float sum of m_w s_a for Q4_1 / Q5_1). Row r's block b
// is at w + r * w_stride + b * w_bstride (x8: w_stride one block, w_bstride 8 blocks, so the 8 rows
// of a tile read one sequential stream, prefetched w_ahead bytes ahead).
template <typename W>
struct KernBlock32 {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  using Block = typename W::Block;
  using Act = typename W::Act;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<KernBlock32, NR, NC>(t);
  }
  template <int NR, int NC>
  static void pass(const TileArgs& t) {
    // (every index of acc / summs a constant, so GCC keeps them in registers: see unroll)
    float32x4_t acc[NR][NC][2];
    [[maybe_unused]] float summs[NR][NC];
    unroll<NR>([&](auto r) {
      unroll<NC>([&](auto c) {
        acc[r][c][0] = acc[r][c][1] = vdupq_n_f32(0.0f);
        if constexpr (W::kHasMin) summs[r][c] = 0.0f;
      });
    });
    const int32x4_t zero = vdupq_n_s32(0);
    const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(Block);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK8_0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w0 = t.w + b * bstride;
      if (t.w_bstride != 0) prefetch_lines<static_cast<int>(NR * sizeof(Block))>(w0 + ahead);
      int8x16_t a[NC][2];
      float da[NC];
      [[maybe_unused]] float sa[NC];
      unroll<NC>([&](auto cc) {
        constexpr int c = decltype(cc)::value;
        const Act& y = reinterpret_cast<const Act*>(t.a + c * t.a_stride)[b];
        a[c][0] = vld1q_s8(y.qs);
        a[c][1] = vld1q_s8(y.qs + 16);
        da[c] = f16(y.d);
        if constexpr (W::kHasMin) sa[c] = f16(y.s);
      });
      unroll<NR>([&](auto rc) {
        constexpr int r = decltype(rc)::value;
        const Block& x = *reinterpret_cast<const Block*>(w0 + r * t.w_stride);
        if (t.w_bstride == 0) prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        int8x16_t q0, q1;
        W::q(x, &q0, &q1);
        const float dw = f16(x.d);
        unroll<NC>([&](auto cc) {
          constexpr int c = decltype(cc)::value;
          if constexpr (W::kHasMin) summs[r][c] += f16(x.m) * sa[c];
          const float dd = dw * da[c];
          acc[r][c][0] = vfmaq_n_f32(acc[r][c][0], vcvtq_f32_s32(vdotq_s32(zero, q0, a[c][0])), dd);
          acc[r][c][1] = vfmaq_n_f32(acc[r][c][1], vcvtq_f32_s32(vdotq_s32(zero, q1, a[c][1])), dd);
        });
      });
    }
    unroll<NR>([&](auto r) {
      unroll<NC>([&](auto c) {
        float v = reduce8(acc[r][c][0], acc[r][c][1]);
        if constexpr (W::kHasMin) v += summs[r][c];
        t.y[c * t.y_stride + r] = v;
      });
    });
  }
};

// ---- K-quants x Q8_K, row-major ----------------------------------------------------------------

// Unpacks Q4_K's 12 packed bytes into bytes 0-7 = the 8 sub-block scales and 8-15 = the 8 mins
// (the get_scale_min_k4 layout, four sub-blocks per 32-bit word operation).
inline void q4k_unpack_scales(const uint8_t* packed, uint8_t out[16]) {
  uint32_t u[3], o[4];
  std::memcpy(u, packed, 12);
  o[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);  // mins 4-7
  o[2] = u[1] & 0x3f3f3f3fu;                                                  // mins 0-3
  o[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);          // scales 4-7
  o[0] = u[0] & 0x3f3f3f3fu;                                                  // scales 0-3
  std::memcpy(out, o, 16);
}

// Q4_K (row-major; the loader repacks most Q4_K matrices to x16, below), llama.cpp's repacked
// kernels: per output and 64 weights (gemm) or 256 (gemv) the exact integers isum = sum_s sc_s
// (q . q_a)_s and msum = sum_s m_s bsum_s, then acc = fma(isum, d_w d_a, acc), acc_min =
// fma(msum, dmin_w d_a, acc_min); result acc - acc_min. A sub-block's dot product is 2 SDOTs into
// 4 int32 partial sums, multiplied by its scale in integers.
struct KernQ4K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if (t.path == MatmulPath::kRepackGemm) {
      run_passes<Path<true>, NR, NC>(t);
    } else {
      run_passes<Path<false>, NR, NC>(t);
    }
  }

  template <bool kGemm>
  struct Path {
    template <int NR, int NC>
    static void pass(const TileArgs& t) {
      float acc[NR][NC] = {}, acc_min[NR][NC] = {};
      const int32x4_t zero = vdupq_n_s32(0);
      const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
      const int64_t nb = t.n / kQK_K;
      for (int64_t b = 0; b < nb; ++b) {
        alignas(16) uint8_t sc[NR][16];  // bytes 0-7 scales, 8-15 mins
        float d[NR], dmin[NR];
        const block_q4_K* x[NR];
        for (int r = 0; r < NR; ++r) {
          x[r] = reinterpret_cast<const block_q4_K*>(t.w + r * t.w_stride) + b;
          prefetch_lines<sizeof(block_q4_K)>(reinterpret_cast<const uint8_t*>(x[r]) + ahead);
          q4k_unpack_scales(x[r]->scales, sc[r]);
          d[r] = f16(x[r]->d);
          dmin[r] = f16(x[r]->dmin);
        }
        const block_q8_K* y[NC];
        for (int c = 0; c < NC; ++c) y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
        int32x4_t isum[NR][NC];
        int32_t msum[NR][NC] = {};
        for (int r = 0; r < NR; ++r)
          for (int c = 0; c < NC; ++c) isum[r][c] = zero;
        for (int k = 0; k < 4; ++k) {  // 64 weights: sub-block 2k (low nibbles), 2k + 1 (high)
          int8x16_t a[NC][4];
          int32_t b0[NC], b1[NC];
          for (int c = 0; c < NC; ++c) {
            for (int i = 0; i < 4; ++i) a[c][i] = vld1q_s8(y[c]->qs + 64 * k + 16 * i);
            b0[c] = y[c]->bsums[4 * k] + y[c]->bsums[4 * k + 1];
            b1[c] = y[c]->bsums[4 * k + 2] + y[c]->bsums[4 * k + 3];
          }
          for (int r = 0; r < NR; ++r) {
            uint8x16_t lo0, hi0, lo1, hi1;
            nibbles(x[r]->qs + 32 * k, &lo0, &hi0);
            nibbles(x[r]->qs + 32 * k + 16, &lo1, &hi1);
            const int32_t s_lo = sc[r][2 * k], s_hi = sc[r][2 * k + 1];
            for (int c = 0; c < NC; ++c) {
              const int32x4_t dlo = vdotq_s32(vdotq_s32(zero, vreinterpretq_s8_u8(lo0), a[c][0]), vreinterpretq_s8_u8(lo1), a[c][1]);
              const int32x4_t dhi = vdotq_s32(vdotq_s32(zero, vreinterpretq_s8_u8(hi0), a[c][2]), vreinterpretq_s8_u8(hi1), a[c][3]);
              const int32x4_t s = vmlaq_n_s32(vmlaq_n_s32(isum[r][c], dlo, s_lo), dhi, s_hi);
              const int32_t ms = sc[r][8 + 2 * k] * b0[c] + sc[r][9 + 2 * k] * b1[c];
              if constexpr (kGemm) {
                acc[r][c] = __builtin_fmaf(static_cast<float>(vaddvq_s32(s)), d[r] * y[c]->d, acc[r][c]);
                acc_min[r][c] = __builtin_fmaf(static_cast<float>(ms), dmin[r] * y[c]->d, acc_min[r][c]);
              } else {
                isum[r][c] = s;
                msum[r][c] += ms;
              }
            }
          }
        }
        if constexpr (!kGemm) {
          for (int r = 0; r < NR; ++r) {
            for (int c = 0; c < NC; ++c) {
              acc[r][c] = __builtin_fmaf(static_cast<float>(vaddvq_s32(isum[r][c])), d[r] * y[c]->d, acc[r][c]);
              acc_min[r][c] = __builtin_fmaf(static_cast<float>(msum[r][c]), dmin[r] * y[c]->d, acc_min[r][c]);
            }
          }
        }
      }
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = acc[r][c] - acc_min[r][c];
    }
  };
};

// Q6_K chunk j (32 weights: sub-blocks 2j, 2j + 1) as unsigned 6-bit values, weights 0-15 and
// 16-31 of the chunk: low nibbles from ql (bytes 0-31 or 32-63 of the half j / 4; the high nibble
// for j % 4 >= 2), the top 2 bits from qh bit pair j % 4 (SLI inserts them above the nibble).
template <int I>
inline void q6k_chunk(const uint8_t* ql, const uint8_t* qh, int8x16_t* v0, int8x16_t* v1) {
  const uint8x16_t l0 = vld1q_u8(ql + 32 * (I % 2)), l1 = vld1q_u8(ql + 32 * (I % 2) + 16);
  const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
  const uint8x16_t m3 = vdupq_n_u8(3);
  uint8x16_t t0, t1;  // bits 2I, 2I + 1 of qh at bits 0-1
  if constexpr (I == 0) {
    t0 = vandq_u8(h0, m3);
    t1 = vandq_u8(h1, m3);
  } else if constexpr (I == 3) {
    t0 = vshrq_n_u8(h0, 6);
    t1 = vshrq_n_u8(h1, 6);
  } else {
    t0 = vandq_u8(vshrq_n_u8(h0, 2 * I), m3);
    t1 = vandq_u8(vshrq_n_u8(h1, 2 * I), m3);
  }
  if constexpr (I < 2) {  // SLI keeps the low 4 bits of its first operand
    *v0 = vreinterpretq_s8_u8(vsliq_n_u8(l0, t0, 4));
    *v1 = vreinterpretq_s8_u8(vsliq_n_u8(l1, t1, 4));
  } else {
    *v0 = vreinterpretq_s8_u8(vsliq_n_u8(vshrq_n_u8(l0, 4), t0, 4));
    *v1 = vreinterpretq_s8_u8(vsliq_n_u8(vshrq_n_u8(l1, 4), t1, 4));
  }
}

// Q6_K: per output and block ggml's 8 lanes of integer partial sums (lane k: the positions p with
// p % 32 in [4k, 4k + 4), each product times its sub-block scale, minus 32 (bsums[2k] sc[2k] +
// bsums[2k + 1] sc[2k + 1])). Per 32 weights, two SDOTs give the 8 lanes of one chunk and an MLA by
// element multiplies each by its sub-block scale. vec_dot path (batch < 8): acc[k] = fma(d_a d_w,
// lane_k, acc[k]) and the 8-lane tree; tiled path: acc = fma(isum d_w, d_a, acc) on the lane
// total. Honours w_bstride (x8).
struct KernQ6K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<KernQ6K, NR, NC>(t);
  }
  template <int NR, int NC>
  static void pass(const TileArgs& t) {
    const bool tiled = t.path == MatmulPath::kTiled;
    float32x4_t acc[NR][NC][2];
    float acc_t[NR][NC] = {};
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c][0] = acc[r][c][1] = vdupq_n_f32(0.0f);
    const int32x4_t zero = vdupq_n_s32(0);
    const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(block_q6_K);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w0 = t.w + b * bstride;
      if (t.w_bstride != 0) prefetch_lines<static_cast<int>(NR * sizeof(block_q6_K))>(w0 + ahead);
      const block_q8_K* y[NC];
      for (int c = 0; c < NC; ++c) y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
      for (int r = 0; r < NR; ++r) {
        const block_q6_K& x = *reinterpret_cast<const block_q6_K*>(w0 + r * t.w_stride);
        if (t.w_bstride == 0) prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        const int8x16_t sc8 = vld1q_s8(x.scales);
        const int16x8_t sc16[2] = {vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8)};
        const int32x4_t sc[4] = {vmovl_s16(vget_low_s16(sc16[0])), vmovl_high_s16(sc16[0]),
                                 vmovl_s16(vget_low_s16(sc16[1])), vmovl_high_s16(sc16[1])};
        int32x4_t lane[NC][2];
        for (int c = 0; c < NC; ++c) lane[c][0] = lane[c][1] = zero;
        unroll<8>([&](auto jc) {
          constexpr int j = decltype(jc)::value;
          int8x16_t v0, v1;
          q6k_chunk<j % 4>(x.ql + 64 * (j / 4), x.qh + 32 * (j / 4), &v0, &v1);
          for (int c = 0; c < NC; ++c) {
            const int32x4_t d0 = vdotq_s32(zero, v0, vld1q_s8(y[c]->qs + 32 * j));
            const int32x4_t d1 = vdotq_s32(zero, v1, vld1q_s8(y[c]->qs + 32 * j + 16));
            lane[c][0] = vmlaq_laneq_s32(lane[c][0], d0, sc[(2 * j) / 4], (2 * j) % 4);
            lane[c][1] = vmlaq_laneq_s32(lane[c][1], d1, sc[(2 * j + 1) / 4], (2 * j + 1) % 4);
          }
        });
        const float dx = f16(x.d);
        for (int c = 0; c < NC; ++c) {
          // corr_k = bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]: pairwise sums of the products.
          const int16x8_t bs0 = vld1q_s16(y[c]->bsums), bs1 = vld1q_s16(y[c]->bsums + 8);
          const int32x4_t corr0 = vpaddq_s32(vmull_s16(vget_low_s16(bs0), vget_low_s16(sc16[0])), vmull_high_s16(bs0, sc16[0]));
          const int32x4_t corr1 = vpaddq_s32(vmull_s16(vget_low_s16(bs1), vget_low_s16(sc16[1])), vmull_high_s16(bs1, sc16[1]));
          const int32x4_t s0 = vsubq_s32(lane[c][0], vshlq_n_s32(corr0, 5));
          const int32x4_t s1 = vsubq_s32(lane[c][1], vshlq_n_s32(corr1, 5));
          if (tiled) {
            acc_t[r][c] = __builtin_fmaf(static_cast<float>(vaddvq_s32(vaddq_s32(s0, s1))) * dx, y[c]->d, acc_t[r][c]);
          } else {
            const float dd = y[c]->d * dx;
            acc[r][c][0] = vfmaq_n_f32(acc[r][c][0], vcvtq_f32_s32(s0), dd);
            acc[r][c][1] = vfmaq_n_f32(acc[r][c][1], vcvtq_f32_s32(s1), dd);
          }
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = tiled ? acc_t[r][c] : reduce8(acc[r][c][0], acc[r][c][1]);
  }
};

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
        y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
        da[c] = y[c]->d;
        const int16x8_t pairs = vpaddq_s16(vld1q_s16(y[c]->bsums), vld1q_s16(y[c]->bsums + 8));
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
