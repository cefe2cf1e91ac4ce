// AArch64 i8mm (ARMv8.6 SMMLA) tile kernels, compiled with -march=armv8.2-a+dotprod+i8mm only.
// Bit-identical to the scalar references (quant_act.h: llama.cpp's x86 arithmetic, summation
// order included).
//
// SMMLA (vmmlaq_s32) multiplies two 2 x 8 int8 matrices, the second transposed: with the first
// operand [8 weights of row r | the same 8 of row r + 1] and the second [the matching 8
// activations of column c0 | of column c1], its four int32 lanes accumulate the dot products
// (r, c0), (r, c1), (r + 1, c0), (r + 1, c1) of 8 products each: 32 multiply-adds per
// instruction against SDOT's 16. A lane's products are summed in no particular order, so SMMLA
// serves only where llama.cpp scales exact integer totals of more than 4 products:
//   - Q4_K (both paths): per 64 weights (kRepackGemm) or per 256 (gemv) the totals
//     isum = sum_s sc_s (q . q_a)_s and msum = sum_s m_s bsum_s. Row-major tiles (matrices that
//     can't be repacked) and the x16 layout (repack.h) for nc >= 2; the x16 layout's nc == 1
//     (decode) uses SDOT with one lane per weight row, as the dotprod level.
//   - Q6_K on the tiled path (>= 8 batch rows): the per-block total
//     isum = sum_s sc_s (q . q_a)_s - 32 sum_s sc_s bsum_s. Its vec_dot path keeps ggml's 8 lanes
//     of 4 products each and runs on SDOT here. Row-major and x8 (TileArgs::w_bstride).
// The 32-block types keep 8 float lanes of 4-product sums per block and the float types are
// not integer sums at all: those stay with the dotprod / NEON levels.
//
// Layout of the SMMLA operands. Weights: two rows' 8 consecutive quants, from a row-major pair of
// 16-byte loads by a 64-bit zip, or from the x16 layout's 4-byte chunks j and j + 1 of rows r,
// r + 1 by a 32-bit zip. Activations: per block and column pair, the 256 quants of the two
// columns interleaved in 8-byte groups into a stack buffer (64-bit zips), so each right
// operand is one load. Sub-block scales multiply the per-sub-block dot products in int32 (lanes
// (sc[r], sc[r], sc[r + 1], sc[r + 1]) from a TBL); the min and bsum corrections are themselves
// SMMLA products of the rows' 8 (16) scale bytes with the columns' bsums split into
// 256 hi + lo (both int8). All integers are exact, so the float steps see llama.cpp's values.
//
// Everything except the two exported functions has internal linkage (see gemm_tile.h; the pieces
// shared with the NEON and dotprod levels are neon_common.h's, included in the anonymous namespace).
#include <arm_neon.h>

#include <cstddef>
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

// ---- helpers -------------------------------------------------------------------------------------

// GCC declines to inline large generic lambdas on its own (their captures then go through memory):
// the lambdas given to unroll_inline (neon_common.h) are marked with this.
#define ER_I8MM_INLINE __attribute__((always_inline))

// p, hidden from the optimizer: loads through the result are not hoisted out of the loop that
// calls this (GCC otherwise lifts all activation buffer loads out of the row loops and spills them).
template <typename T>
inline T* opaque(T* p) {
  asm("" : "+r"(p));
  return p;
}

// [bytes 0-7 of a | bytes 0-7 of b] and [bytes 8-15 of a | bytes 8-15 of b].
inline uint8x16_t zip1_64(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}
inline uint8x16_t zip2_64(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}
// [a.u32[0], b.u32[0], a.u32[1], b.u32[1]] and the same of u32 lanes 2, 3.
inline uint8x16_t zip1_32(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u32(vzip1q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}
inline uint8x16_t zip2_32(uint8x16_t a, uint8x16_t b) {
  return vreinterpretq_u8_u32(vzip2q_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
}

inline int32x4_t mmla(int32x4_t acc, uint8x16_t w, int8x16_t a) { return vmmlaq_s32(acc, vreinterpretq_s8_u8(w), a); }

// The quants of one Q8_K block of columns y0, y1 as SMMLA right operands: group g (0..31) at
// buf + 16 g holds [qs[8 g .. 8 g + 7] of y0 | the same of y1].
inline void interleave_q8_K(const block_q8_K* y0, const block_q8_K* y1, int8_t* buf) {
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    const uint8x16_t a = vreinterpretq_u8_s8(vld1q_s8(y0->qs + 16 * i)), b = vreinterpretq_u8_s8(vld1q_s8(y1->qs + 16 * i));
    vst1q_s8(buf + 32 * i, vreinterpretq_s8_u8(zip1_64(a, b)));
    vst1q_s8(buf + 32 * i + 16, vreinterpretq_s8_u8(zip2_64(a, b)));
  }
}

// v = 256 hi + lo, both int8 (lo the low byte, signed): exact for v <= 32639. The bsums and their
// pairs stay within +-4064.
inline void split_bytes(int16x8_t v, int8x8_t* lo, int8x8_t* hi) {
  *lo = vmovn_s16(v);
  *hi = vshrn_n_s16(vsubq_s16(v, vmovl_s8(*lo)), 8);
}

// Writes a 2 x 2 SMMLA-layout vector (r0 c0, r0 c1, r0 + 1 c0, r0 + 1 c1) for rows < nr, cols < nc.
inline void store_pair(const TileArgs& t, int r0, int c0, float32x4_t v, int nr, int nc) {
  float* y = t.y + static_cast<int64_t>(c0) * t.y_stride + r0;
  const bool c1 = c0 + 1 < nc, r1 = r0 + 1 < nr;
  y[0] = vgetq_lane_f32(v, 0);
  if (c1) y[t.y_stride] = vgetq_lane_f32(v, 1);
  if (r1) y[1] = vgetq_lane_f32(v, 2);
  if (c1 && r1) y[t.y_stride + 1] = vgetq_lane_f32(v, 3);
}

// ---- Q4_K ----------------------------------------------------------------------------------------

// One 256-weight block of 4 weight rows (a quad): row i's values in u32 lane i; byte s % 4 of
// sc[s / 4] (mn[s / 4]) is the 6-bit scale (min) of sub-block s.
struct Q4KQuad {
  uint8x16_t sc[2], mn[2];
  float32x4_t d, dmin;
};

// get_scale_min_k4 for 4 rows from their scale bytes 0-3 (u0), 4-7 (u1), 8-11 (u2).
inline void q4k_unpack_scales(uint8x16_t u0, uint8x16_t u1, uint8x16_t u2, Q4KQuad* q) {
  const uint8x16_t m6 = vdupq_n_u8(63);
  q->sc[0] = vandq_u8(u0, m6);
  q->mn[0] = vandq_u8(u1, m6);
  q->sc[1] = vsliq_n_u8(u2, vshrq_n_u8(u0, 6), 4);                   // (u2 & 15) | (u0 >> 6) << 4
  q->mn[1] = vsliq_n_u8(vshrq_n_u8(u2, 4), vshrq_n_u8(u1, 6), 4);    // (u2 >> 4) | (u1 >> 6) << 4
}

struct Q4KTables {
  uint8_t mmla_sc[8][2][16];  // TBL {sc[0], sc[1]}: lanes (row 2p, 2p, 2p + 1, 2p + 1) <- sub-block s
  uint8_t sdot_sc[4][16];     // TBL: lane i <- byte s of row i's u32
  uint8_t gemm_mask[4][16];   // bytes 2k, 2k + 1 of each 8-byte half (the sub-blocks of 64 weights k)
};
constexpr Q4KTables make_q4k_tables() {
  Q4KTables t{};
  for (int s = 0; s < 4; ++s) {
    for (int lane = 0; lane < 4; ++lane) {
      for (int byte = 0; byte < 4; ++byte) {
        for (int p = 0; p < 2; ++p) {
          t.mmla_sc[s][p][4 * lane + byte] = static_cast<uint8_t>(byte == 0 ? 4 * (2 * p + lane / 2) + s : 0xFF);
          t.mmla_sc[s + 4][p][4 * lane + byte] = static_cast<uint8_t>(byte == 0 ? 16 + 4 * (2 * p + lane / 2) + s : 0xFF);
        }
        t.sdot_sc[s][4 * lane + byte] = static_cast<uint8_t>(byte == 0 ? 4 * lane + s : 0xFF);
      }
    }
    for (int i = 0; i < 16; ++i) t.gemm_mask[s][i] = (i % 8) / 2 == s ? 0xFF : 0;
  }
  return t;
}
constexpr Q4KTables kQ4K = make_q4k_tables();

// Weight source: a Q4_K x16 group block (repack.h). Quad m = rows 4m .. 4m + 3.
struct Q4KX16Src {
  const uint8_t* gb;

  Q4KQuad quad(int m) const {
    Q4KQuad q;
    q.d = f16x4(gb + 8 * m);
    q.dmin = f16x4(gb + 32 + 8 * m);
    q4k_unpack_scales(vld1q_u8(gb + 64 + 16 * m), vld1q_u8(gb + 128 + 16 * m), vld1q_u8(gb + 192 + 16 * m), &q);
    return q;
  }
  // z[g][p] = [row 4m + 2p | row 4m + 2p + 1], bytes 32 k + 16 h + 8 g .. + 7 of each row's qs:
  // chunks (k, 4h + 2g) and (k, 4h + 2g + 1) of the rows, zipped.
  void quants(int m, int k, int h, uint8x16_t z[2][2]) const {
    const uint8_t* p = gb + 256 + 64 * (8 * k + 4 * h) + 16 * m;
    const uint8x16_t w0 = vld1q_u8(p), w1 = vld1q_u8(p + 64), w2 = vld1q_u8(p + 128), w3 = vld1q_u8(p + 192);
    z[0][0] = zip1_32(w0, w1);
    z[0][1] = zip2_32(w0, w1);
    z[1][0] = zip1_32(w2, w3);
    z[1][1] = zip2_32(w2, w3);
  }
};

// Weight source: block b of NR row-major rows (rows past NR - 1 repeat row NR - 1).
template <int NR>
struct Q4KRowSrc {
  const uint8_t* w;  // block b of row 0
  size_t stride;

  const block_q4_K* row(int i) const {
    return reinterpret_cast<const block_q4_K*>(w + static_cast<size_t>(i < NR ? i : NR - 1) * stride);
  }
  Q4KQuad quad(int m) const {
    // The first 16 bytes of each row's block: (d | dmin, scales 0-3, 4-7, 8-11) as u32, transposed.
    const uint32x4_t r0 = vreinterpretq_u32_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(row(4 * m))));
    const uint32x4_t r1 = vreinterpretq_u32_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(row(4 * m + 1))));
    const uint32x4_t r2 = vreinterpretq_u32_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(row(4 * m + 2))));
    const uint32x4_t r3 = vreinterpretq_u32_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(row(4 * m + 3))));
    const uint32x4_t t0 = vtrn1q_u32(r0, r1), t1 = vtrn2q_u32(r0, r1), t2 = vtrn1q_u32(r2, r3), t3 = vtrn2q_u32(r2, r3);
    const auto u64 = [](uint32x4_t v) { return vreinterpretq_u64_u32(v); };
    const uint32x4_t ddm = vreinterpretq_u32_u64(vtrn1q_u64(u64(t0), u64(t2)));
    const uint32x4_t u0 = vreinterpretq_u32_u64(vtrn1q_u64(u64(t1), u64(t3)));
    const uint32x4_t u1 = vreinterpretq_u32_u64(vtrn2q_u64(u64(t0), u64(t2)));
    const uint32x4_t u2 = vreinterpretq_u32_u64(vtrn2q_u64(u64(t1), u64(t3)));
    Q4KQuad q;
    q.d = vcvt_f32_f16(vreinterpret_f16_u16(vmovn_u32(ddm)));
    q.dmin = vcvt_f32_f16(vreinterpret_f16_u16(vshrn_n_u32(ddm, 16)));
    q4k_unpack_scales(vreinterpretq_u8_u32(u0), vreinterpretq_u8_u32(u1), vreinterpretq_u8_u32(u2), &q);
    return q;
  }
  void quants(int m, int k, int h, uint8x16_t z[2][2]) const {
    uint8x16_t x[4];
    for (int i = 0; i < 4; ++i) x[i] = vld1q_u8(row(4 * m + i)->qs + 32 * k + 16 * h);
    z[0][0] = zip1_64(x[0], x[1]);
    z[1][0] = zip2_64(x[0], x[1]);
    z[0][1] = zip1_64(x[2], x[3]);
    z[1][1] = zip2_64(x[2], x[3]);
  }
};

// Q4_K on SMMLA: NQ quads of rows by NC columns (column pairs (0, 1), (2, 3); an odd last column
// is paired with itself). Per quad and block the sub-block dot products of rows (2p, 2p + 1) x a
// column pair accumulate in dl (even sub-block 2k, low nibbles) and dh (2k + 1, high nibbles),
// then isum = dl sc_2k + dh sc_2k+1 and msum by SMMLA of the rows' mins with the columns' bsum
// pairs; the float steps per 64 weights (kGemm) or per block, as llama.cpp's repacked kernels.
// make_src(b) returns block b's weight source (and prefetches).
template <int NQ, int NC, bool kGemm, typename MakeSrc>
void q4k_mmla(const TileArgs& t, int nr, MakeSrc make_src) {
  constexpr int NCP = (NC + 1) / 2;
  float32x4_t acc[NQ][2][NCP], accm[NQ][2][NCP];
  for (int m = 0; m < NQ; ++m)
    for (int p = 0; p < 2; ++p)
      for (int c = 0; c < NCP; ++c) acc[m][p][c] = accm[m][p][c] = vdupq_n_f32(0.0f);
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const int32x4_t zero = vdupq_n_s32(0);
  alignas(16) int8_t abuf[NCP][512];
  const int64_t nb = t.n / kQK_K;
  for (int64_t b = 0; b < nb; ++b) {
    const auto src = make_src(b);
    int8x16_t bl[NCP], bh[NCP];  // the column pair's B_s = 256 hi + lo, s = 0..7 per half
    float32x4_t da[NCP];         // (d_a c0, d_a c1, d_a c0, d_a c1)
    for (int c = 0; c < NCP; ++c) {
      const block_q8_K* y0 = act_block(t, 2 * c, b);
      const block_q8_K* y1 = act_block(t, 2 * c + 1 < NC ? 2 * c + 1 : NC - 1, b);
      interleave_q8_K(y0, y1, abuf[c]);
      int8x8_t l0, h0, l1, h1;
      split_bytes(q4k_bsum_pairs(y0), &l0, &h0);
      split_bytes(q4k_bsum_pairs(y1), &l1, &h1);
      bl[c] = vcombine_s8(l0, l1);
      bh[c] = vcombine_s8(h0, h1);
      da[c] = float32x4_t{y0->d, y1->d, y0->d, y1->d};
    }
    for (int m = 0; m < NQ; ++m) {
      const int8_t* ab = opaque(&abuf[0][0]);
      const Q4KQuad q = src.quad(m);
      const uint8x16x2_t sc = {{q.sc[0], q.sc[1]}};
      // mins of rows (4m + 2p, 4m + 2p + 1): [row: m_0 .. m_7 | next row: m_0 .. m_7]
      const int8x16_t mins[2] = {vreinterpretq_s8_u8(zip1_32(q.mn[0], q.mn[1])),
                                 vreinterpretq_s8_u8(zip2_32(q.mn[0], q.mn[1]))};
      const float32x4_t dw[2] = {vzip1q_f32(q.d, q.d), vzip2q_f32(q.d, q.d)};
      const float32x4_t dmw[2] = {vzip1q_f32(q.dmin, q.dmin), vzip2q_f32(q.dmin, q.dmin)};
      float32x4_t dd[2][NCP], dm[2][NCP], a[2][NCP], am[2][NCP];
      int32x4_t isum[2][NCP];
      for (int p = 0; p < 2; ++p) {
        for (int c = 0; c < NCP; ++c) {
          dd[p][c] = vmulq_f32(dw[p], da[c]);
          dm[p][c] = vmulq_f32(dmw[p], da[c]);
          a[p][c] = acc[m][p][c];
          am[p][c] = accm[m][p][c];
          isum[p][c] = zero;
        }
      }
#pragma GCC unroll 1
      for (int k = 0; k < 4; ++k) {  // 64 weights: sub-block 2k (low nibbles), 2k + 1 (high nibbles)
        int32x4_t dl[2][NCP], dh[2][NCP];
        for (int p = 0; p < 2; ++p)
          for (int c = 0; c < NCP; ++c) dl[p][c] = dh[p][c] = zero;
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          uint8x16_t z[2][2];
          src.quants(m, k, h, z);
#pragma GCC unroll 2
          for (int g = 0; g < 2; ++g) {
#pragma GCC unroll 2
            for (int p = 0; p < 2; ++p) {
              const uint8x16_t lo = vandq_u8(z[g][p], m4), hi = vshrq_n_u8(z[g][p], 4);
#pragma GCC unroll 2
              for (int c = 0; c < NCP; ++c) {
                dl[p][c] = mmla(dl[p][c], lo, vld1q_s8(ab + 512 * c + 16 * (8 * k + 2 * h + g)));
                dh[p][c] = mmla(dh[p][c], hi, vld1q_s8(ab + 512 * c + 16 * (8 * k + 4 + 2 * h + g)));
              }
            }
          }
        }
#pragma GCC unroll 2
        for (int p = 0; p < 2; ++p) {
          const int32x4_t svl = vreinterpretq_s32_u8(vqtbl2q_u8(sc, vld1q_u8(kQ4K.mmla_sc[2 * k][p])));
          const int32x4_t svh = vreinterpretq_s32_u8(vqtbl2q_u8(sc, vld1q_u8(kQ4K.mmla_sc[2 * k + 1][p])));
#pragma GCC unroll 2
          for (int c = 0; c < NCP; ++c) {
            const int32x4_t is = vmlaq_s32(vmulq_s32(dl[p][c], svl), dh[p][c], svh);
            if constexpr (kGemm) {
              const int8x16_t mask = vreinterpretq_s8_u8(vld1q_u8(kQ4K.gemm_mask[k]));
              const int32x4_t mh = vmmlaq_s32(zero, mins[p], vandq_s8(bh[c], mask));
              const int32x4_t ms = vmmlaq_s32(vshlq_n_s32(mh, 8), mins[p], vandq_s8(bl[c], mask));
              a[p][c] = vfmaq_f32(a[p][c], vcvtq_f32_s32(is), dd[p][c]);
              am[p][c] = vfmaq_f32(am[p][c], vcvtq_f32_s32(ms), dm[p][c]);
            } else {
              isum[p][c] = vaddq_s32(isum[p][c], is);
            }
          }
        }
      }
      for (int p = 0; p < 2; ++p) {
        for (int c = 0; c < NCP; ++c) {
          if constexpr (!kGemm) {
            const int32x4_t ms = vmmlaq_s32(vshlq_n_s32(vmmlaq_s32(zero, mins[p], bh[c]), 8), mins[p], bl[c]);
            a[p][c] = vfmaq_f32(a[p][c], vcvtq_f32_s32(isum[p][c]), dd[p][c]);
            am[p][c] = vfmaq_f32(am[p][c], vcvtq_f32_s32(ms), dm[p][c]);
          }
          acc[m][p][c] = a[p][c];
          accm[m][p][c] = am[p][c];
        }
      }
    }
  }
  for (int m = 0; m < NQ; ++m) {
    for (int p = 0; p < 2; ++p) {
      if (4 * m + 2 * p >= nr) continue;
      for (int c = 0; c < NCP; ++c) store_pair(t, 4 * m + 2 * p, 2 * c, vsubq_f32(acc[m][p][c], accm[m][p][c]), nr, NC);
    }
  }
}

// Row-major Q4_K (matrices whose rows can't take the x16 layout): SMMLA tiles of up to 8 x 4
// (one column is paired with itself).
struct KernQ4K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if (t.path == MatmulPath::kRepackGemm) {
      run_path<NR, NC, true>(t);
    } else {
      run_path<NR, NC, false>(t);
    }
  }
  template <int NR, int NC, bool kGemm>
  static void run_path(const TileArgs& t) {
    const size_t ahead = NR * t.w_stride;  // the same block of the next row tile
    q4k_mmla<(NR + 3) / 4, NC, kGemm>(t, NR, [&](int64_t b) ER_I8MM_INLINE {
      const Q4KRowSrc<NR> src{t.w + b * static_cast<int64_t>(sizeof(block_q4_K)), t.w_stride};
      for (int r = 0; r < NR; ++r) prefetch_lines<sizeof(block_q4_K)>(reinterpret_cast<const uint8_t*>(src.row(r)) + ahead);
      return src;
    });
  }
};

// Q4_K x16, one column (decode): SDOT with one int32 lane per weight row (4 rows per register),
// each chunk's low nibbles against 4 activations of sub-block 2k and its high nibbles against 4
// of 2k + 1; mins by SDOT of the rows' min bytes with the column's bsum pairs (256 hi + lo).
template <bool kGemm>
void q4k_x16_sdot(const TileArgs& t) {
  float32x4_t acc[4], accm[4];
  for (int m = 0; m < 4; ++m) acc[m] = accm[m] = vdupq_n_f32(0.0f);
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const int32x4_t zero = vdupq_n_s32(0);
  const int64_t nb = t.n / kQK_K;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* gb = t.w + b * static_cast<int64_t>(kQ4KGroupBlockBytes);
    prefetch_lines<static_cast<int>(kQ4KGroupBlockBytes)>(gb + 2 * kQ4KGroupBlockBytes);
    const Q4KX16Src src{gb};
    const block_q8_K* y = act_block(t, 0, b);
    int8x8_t l, h;
    split_bytes(q4k_bsum_pairs(y), &l, &h);
    const int8x16_t bl = vcombine_s8(l, l), bh = vcombine_s8(h, h);
    const float da = y->d;
    unroll_inline<4>([&](auto mc) ER_I8MM_INLINE {
      constexpr int m = decltype(mc)::value;
      const Q4KQuad q = src.quad(m);
      const float32x4_t dd = vmulq_n_f32(q.d, da), dm = vmulq_n_f32(q.dmin, da);
      const int8x16_t mn[2] = {vreinterpretq_s8_u8(q.mn[0]), vreinterpretq_s8_u8(q.mn[1])};
      int32x4_t isum = zero;
      unroll_inline<4>([&](auto kc) ER_I8MM_INLINE {
        constexpr int k = decltype(kc)::value;
        const int8x16_t a[4] = {vld1q_s8(y->qs + 64 * k), vld1q_s8(y->qs + 64 * k + 16), vld1q_s8(y->qs + 64 * k + 32),
                                vld1q_s8(y->qs + 64 * k + 48)};
        int32x4_t dl = zero, dh = zero;
        const uint8_t* qs = gb + 256 + 64 * 8 * k + 16 * m;
        unroll_inline<8>([&](auto jc) ER_I8MM_INLINE {
          constexpr int j = decltype(jc)::value;
          const uint8x16_t w = vld1q_u8(qs + 64 * j);
          dl = vdotq_laneq_s32(dl, vreinterpretq_s8_u8(vandq_u8(w, m4)), a[j / 4], j % 4);
          dh = vdotq_laneq_s32(dh, vreinterpretq_s8_u8(vshrq_n_u8(w, 4)), a[2 + j / 4], j % 4);
        });
        const int32x4_t svl = vreinterpretq_s32_u8(vqtbl1q_u8(q.sc[k / 2], vld1q_u8(kQ4K.sdot_sc[(2 * k) % 4])));
        const int32x4_t svh = vreinterpretq_s32_u8(vqtbl1q_u8(q.sc[k / 2], vld1q_u8(kQ4K.sdot_sc[(2 * k + 1) % 4])));
        const int32x4_t is = vmlaq_s32(vmulq_s32(dl, svl), dh, svh);
        if constexpr (kGemm) {
          const int8x16_t mask = vreinterpretq_s8_u8(vld1q_u8(kQ4K.gemm_mask[k]));
          const int32x4_t mh = vdotq_laneq_s32(zero, mn[k / 2], vandq_s8(bh, mask), k / 2);
          const int32x4_t ms = vdotq_laneq_s32(vshlq_n_s32(mh, 8), mn[k / 2], vandq_s8(bl, mask), k / 2);
          acc[m] = vfmaq_f32(acc[m], vcvtq_f32_s32(is), dd);
          accm[m] = vfmaq_f32(accm[m], vcvtq_f32_s32(ms), dm);
        } else {
          isum = vaddq_s32(isum, is);
        }
      });
      if constexpr (!kGemm) {
        const int32x4_t mh = vdotq_laneq_s32(vdotq_laneq_s32(zero, mn[0], bh, 0), mn[1], bh, 1);
        const int32x4_t ms = vdotq_laneq_s32(vdotq_laneq_s32(vshlq_n_s32(mh, 8), mn[0], bl, 0), mn[1], bl, 1);
        acc[m] = vfmaq_f32(acc[m], vcvtq_f32_s32(isum), dd);
        accm[m] = vfmaq_f32(accm[m], vcvtq_f32_s32(ms), dm);
      }
    });
  }
  for (int m = 0; m < 4; ++m) vst1q_f32(t.y + 4 * m, vsubq_f32(acc[m], accm[m]));
}

template <int NC, bool kGemm>
void q4k_x16_mmla(const TileArgs& t) {
  q4k_mmla<4, NC, kGemm>(t, kQ4KGroupRows, [&](int64_t b) ER_I8MM_INLINE {
    const uint8_t* gb = t.w + b * static_cast<int64_t>(kQ4KGroupBlockBytes);
    prefetch_lines<static_cast<int>(kQ4KGroupBlockBytes)>(gb + 2 * kQ4KGroupBlockBytes);
    return Q4KX16Src{gb};
  });
}

template <int NC>
void q4k_x16_nc(const TileArgs& t) {
  if (t.path == MatmulPath::kRepackGemm) {
    q4k_x16_mmla<NC, true>(t);
  } else {
    q4k_x16_mmla<NC, false>(t);
  }
}

// Q4_K x16 tiles: one whole group of 16 rows (TileArgs::w at its first byte) by nc <= 4 columns.
void tile_q4_K_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always kQ4KGroupRows
  switch (nc) {
    case 1:
      if (t.path == MatmulPath::kRepackGemm) {
        q4k_x16_sdot<true>(t);
      } else {
        q4k_x16_sdot<false>(t);
      }
      break;
    case 2: q4k_x16_nc<2>(t); break;
    case 3: q4k_x16_nc<3>(t); break;
    default: q4k_x16_nc<4>(t); break;
  }
}

// ---- Q6_K ----------------------------------------------------------------------------------------

// TBL indices into {scales of row r0, scales of row r1}: the signed scale of sub-block s in the top
// byte of the lanes (r0, r0, r1, r1) (an arithmetic shift by 24 then sign-extends it).
struct Q6KTables {
  uint8_t sc[16][16];
};
constexpr Q6KTables make_q6k_tables() {
  Q6KTables t{};
  for (int s = 0; s < 16; ++s) {
    for (int i = 0; i < 16; ++i) t.sc[s][i] = i % 4 == 3 ? static_cast<uint8_t>((i / 8) * 16 + s) : 0xFF;
  }
  return t;
}
constexpr Q6KTables kQ6K = make_q6k_tables();

// Q6_K quants of one 16-byte ql register (positions o .. o + 15 of the ql half) with the qh
// register of the same positions mod 32: U = 0 for ql bytes 0-31 (qh bits 0-1 / 4-5), 1 for
// 32-63 (bits 2-3 / 6-7). Low nibbles: weights 32 U + l, high nibbles: 64 + 32 U + l (l = o mod 32).
template <int U>
inline uint8x16_t q6k_lo(uint8x16_t ql, uint8x16_t qh) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  if constexpr (U == 0) return vsliq_n_u8(ql, vandq_u8(qh, m3), 4);
  return vsliq_n_u8(ql, vandq_u8(vshrq_n_u8(qh, 2), m3), 4);
}
template <int U>
inline uint8x16_t q6k_hi(uint8x16_t ql, uint8x16_t qh) {
  if constexpr (U == 0) return vorrq_u8(vshrq_n_u8(ql, 4), vandq_u8(qh, vdupq_n_u8(0x30)));
  return vsliq_n_u8(vshrq_n_u8(ql, 4), vshrq_n_u8(qh, 6), 4);
}

template <int NR>
inline void q6k_prefetch(const TileArgs& t, const uint8_t* w0, size_t ahead) {
  if (t.w_bstride != 0) {  // x8: the group's blocks are one stream
    prefetch_lines<static_cast<int>(NR * sizeof(block_q6_K))>(w0 + ahead);
  } else {
    for (int r = 0; r < NR; ++r) prefetch_lines<sizeof(block_q6_K)>(w0 + r * t.w_stride + ahead);
  }
}

// Tiled path (>= 8 batch rows): acc = fma(isum d_w, d_a, acc) per block on the exact total
// isum = sum_s sc_s (q . q_a)_s - 32 sum_s sc_s bsum_s, by SMMLA on row pairs x column pairs.
template <int NR, int NC>
void q6k_tiled(const TileArgs& t) {
  constexpr int NRP = (NR + 1) / 2, NCP = (NC + 1) / 2;
  float32x4_t acc[NRP][NCP];
  for (int p = 0; p < NRP; ++p)
    for (int c = 0; c < NCP; ++c) acc[p][c] = vdupq_n_f32(0.0f);
  const int32x4_t zero = vdupq_n_s32(0);
  const int64_t nb = t.n / kQK_K;
  const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(block_q6_K);
  const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
  alignas(16) int8_t abuf[NCP][512];
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w0 = t.w + b * static_cast<int64_t>(bstride);
    q6k_prefetch<NR>(t, w0, ahead);
    int8x16_t bsl[NCP][2], bsh[NCP][2];  // [c0 bsums 8i .. 8i + 7 | c1 ...] = 256 hi + lo
    float32x4_t da[NCP];
    for (int c = 0; c < NCP; ++c) {
      const block_q8_K* y0 = act_block(t, 2 * c, b);
      const block_q8_K* y1 = act_block(t, 2 * c + 1 < NC ? 2 * c + 1 : NC - 1, b);
      interleave_q8_K(y0, y1, abuf[c]);
      for (int i = 0; i < 2; ++i) {
        int8x8_t l0, h0, l1, h1;
        split_bytes(vld1q_s16(y0->bsums + 8 * i), &l0, &h0);
        split_bytes(vld1q_s16(y1->bsums + 8 * i), &l1, &h1);
        bsl[c][i] = vcombine_s8(l0, l1);
        bsh[c][i] = vcombine_s8(h0, h1);
      }
      da[c] = float32x4_t{y0->d, y1->d, y0->d, y1->d};
    }
#pragma GCC unroll 1
    for (int p = 0; p < NRP; ++p) {  // (a run-time loop: fully unrolled, GCC spills the accumulators)
      const int r0 = 2 * p, r1 = 2 * p + 1 < NR ? 2 * p + 1 : NR - 1;
      const int8_t* ab = opaque(&abuf[0][0]);
      const block_q6_K* x0 = reinterpret_cast<const block_q6_K*>(w0 + r0 * t.w_stride);
      const block_q6_K* x1 = reinterpret_cast<const block_q6_K*>(w0 + r1 * t.w_stride);
      const int8x16_t sc0 = vld1q_s8(x0->scales), sc1 = vld1q_s8(x1->scales);
      const int8x16x2_t sct = {{sc0, sc1}};
      // sum_s sc_s bsum_s by SMMLA: [r0 sc_0..7 | r1 sc_0..7], [r0 sc_8..15 | r1 sc_8..15]
      const int8x16_t asc0 = vreinterpretq_s8_u8(zip1_64(vreinterpretq_u8_s8(sc0), vreinterpretq_u8_s8(sc1)));
      const int8x16_t asc1 = vreinterpretq_s8_u8(zip2_64(vreinterpretq_u8_s8(sc0), vreinterpretq_u8_s8(sc1)));
      int32x4_t isum[NCP];
      for (int c = 0; c < NCP; ++c) {
        const int32x4_t ch = vmmlaq_s32(vmmlaq_s32(zero, asc0, bsh[c][0]), asc1, bsh[c][1]);
        const int32x4_t corr = vmmlaq_s32(vmmlaq_s32(vshlq_n_s32(ch, 8), asc0, bsl[c][0]), asc1, bsl[c][1]);
        isum[c] = vmulq_n_s32(corr, -32);
      }
      unroll_inline<2>([&](auto hc) ER_I8MM_INLINE {  // 128 weights
        constexpr int h = decltype(hc)::value;
        uint8x16_t ql0[4], ql1[4];
        for (int i = 0; i < 4; ++i) {
          ql0[i] = vld1q_u8(x0->ql + 64 * h + 16 * i);
          ql1[i] = vld1q_u8(x1->ql + 64 * h + 16 * i);
        }
        const uint8x16_t qh0[2] = {vld1q_u8(x0->qh + 32 * h), vld1q_u8(x0->qh + 32 * h + 16)};
        const uint8x16_t qh1[2] = {vld1q_u8(x1->qh + 32 * h), vld1q_u8(x1->qh + 32 * h + 16)};
        unroll_inline<2>([&](auto tc) ER_I8MM_INLINE {  // qh bytes 16 T .. 16 T + 15
          constexpr int T = decltype(tc)::value;
          const uint8x16_t qhz[2] = {zip1_64(qh0[T], qh1[T]), zip2_64(qh0[T], qh1[T])};
          unroll_inline<2>([&](auto uc) ER_I8MM_INLINE {  // ql bytes 32 U + 16 T .. + 15: sub-blocks 8h + 2U + T (lo), + 4 (hi)
            constexpr int U = decltype(uc)::value;
            int32x4_t dl[NCP], dh[NCP];
            for (int c = 0; c < NCP; ++c) dl[c] = dh[c] = zero;
            unroll_inline<2>([&](auto ec) ER_I8MM_INLINE {
              constexpr int e = decltype(ec)::value;
              const uint8x16_t qlz = e == 0 ? zip1_64(ql0[2 * U + T], ql1[2 * U + T]) : zip2_64(ql0[2 * U + T], ql1[2 * U + T]);
              const uint8x16_t lo = q6k_lo<U>(qlz, qhz[e]), hi = q6k_hi<U>(qlz, qhz[e]);
              constexpr int g = 16 * h + 4 * U + 2 * T + e;  // 8-weight group of the low nibbles
              for (int c = 0; c < NCP; ++c) {
                dl[c] = mmla(dl[c], lo, vld1q_s8(ab + 512 * c + 16 * g));
                dh[c] = mmla(dh[c], hi, vld1q_s8(ab + 512 * c + 16 * (g + 8)));
              }
            });
            constexpr int s = 8 * h + 2 * U + T;
            const int32x4_t svl = vshrq_n_s32(vreinterpretq_s32_s8(vqtbl2q_s8(sct, vld1q_u8(kQ6K.sc[s]))), 24);
            const int32x4_t svh = vshrq_n_s32(vreinterpretq_s32_s8(vqtbl2q_s8(sct, vld1q_u8(kQ6K.sc[s + 4]))), 24);
            for (int c = 0; c < NCP; ++c) isum[c] = vmlaq_s32(vmlaq_s32(isum[c], dl[c], svl), dh[c], svh);
          });
        });
      });
      const float dw0 = f16(x0->d), dw1 = f16(x1->d);
      const float32x4_t dw = float32x4_t{dw0, dw0, dw1, dw1};
      for (int c = 0; c < NCP; ++c) acc[p][c] = vfmaq_f32(acc[p][c], vmulq_f32(vcvtq_f32_s32(isum[c]), dw), da[c]);
    }
  }
  for (int p = 0; p < NRP; ++p) {
    for (int c = 0; c < NCP; ++c) store_pair(t, 2 * p, 2 * c, acc[p][c], NR, NC);
  }
}

// vec_dot path (< 8 batch rows, decode): ggml_vec_dot_q6_K_q8_K's 8 lanes per output, lane k the
// products at positions p % 32 in [4k, 4k + 4) times their sub-block scale, minus
// 32 (bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]); acc[k] = fma(d_a d_w, lane_k, acc[k]); the
// 8-lane tree. SDOT lanes are exactly ggml's: a 16-byte quant register is one sub-block and
// lanes 0-3 (positions 0-15 of a 32-chunk) or 4-7 (16-31).
template <int NR, int NC>
void q6k_vecdot(const TileArgs& t) {
  float32x4_t acc[NR][NC][2];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c][0] = acc[r][c][1] = vdupq_n_f32(0.0f);
  const int32x4_t zero = vdupq_n_s32(0);
  const int64_t nb = t.n / kQK_K;
  const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(block_q6_K);
  const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w0 = t.w + b * static_cast<int64_t>(bstride);
    q6k_prefetch<NR>(t, w0, ahead);
    const block_q8_K* y[NC];
    int16x8_t bs[NC][2];
    for (int c = 0; c < NC; ++c) {
      y[c] = act_block(t, c, b);
      bs[c][0] = vld1q_s16(y[c]->bsums);
      bs[c][1] = vld1q_s16(y[c]->bsums + 8);
    }
#pragma GCC unroll 1
    for (int r = 0; r < NR; ++r) {  // (a run-time loop: fully unrolled, GCC spills the accumulators)
      const block_q6_K* x = reinterpret_cast<const block_q6_K*>(w0 + r * t.w_stride);
      const int8x16_t sc8 = vld1q_s8(x->scales);
      const int16x8_t sc16[2] = {vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8)};
      const int32x4_t sc32[4] = {vmovl_s16(vget_low_s16(sc16[0])), vmovl_high_s16(sc16[0]),
                                 vmovl_s16(vget_low_s16(sc16[1])), vmovl_high_s16(sc16[1])};
      int32x4_t lane[NC][2];
      for (int c = 0; c < NC; ++c) {
        for (int i = 0; i < 2; ++i) {
          lane[c][i] = vmulq_n_s32(q6k_bsum_corr(bs[c][i], sc16[i]), -32);
        }
      }
      unroll_inline<2>([&](auto hc) ER_I8MM_INLINE {
        constexpr int h = decltype(hc)::value;
        uint8x16_t ql[4];
        for (int i = 0; i < 4; ++i) ql[i] = vld1q_u8(x->ql + 64 * h + 16 * i);
        const uint8x16_t qh[2] = {vld1q_u8(x->qh + 32 * h), vld1q_u8(x->qh + 32 * h + 16)};
        unroll_inline<2>([&](auto tc) ER_I8MM_INLINE {
          constexpr int T = decltype(tc)::value;
          unroll_inline<2>([&](auto uc) ER_I8MM_INLINE {
            constexpr int U = decltype(uc)::value;
            // weights 128h + 32U + 16T .. + 15 (sub-block 8h + 2U + T) and + 64 (sub-block + 4)
            const int8x16_t lo = vreinterpretq_s8_u8(q6k_lo<U>(ql[2 * U + T], qh[T]));
            const int8x16_t hi = vreinterpretq_s8_u8(q6k_hi<U>(ql[2 * U + T], qh[T]));
            for (int c = 0; c < NC; ++c) {
              const int8x16_t al = vld1q_s8(y[c]->qs + 128 * h + 32 * U + 16 * T);
              const int8x16_t ah = vld1q_s8(y[c]->qs + 128 * h + 64 + 32 * U + 16 * T);
              lane[c][T] = vmlaq_laneq_s32(lane[c][T], vdotq_s32(zero, lo, al), sc32[2 * h], 2 * U + T);
              lane[c][T] = vmlaq_laneq_s32(lane[c][T], vdotq_s32(zero, hi, ah), sc32[2 * h + 1], 2 * U + T);
            }
          });
        });
      });
      const float dw = f16(x->d);
      for (int c = 0; c < NC; ++c) {
        const float32x4_t d = vdupq_n_f32(y[c]->d * dw);
        acc[r][c][0] = vfmaq_f32(acc[r][c][0], d, vcvtq_f32_s32(lane[c][0]));
        acc[r][c][1] = vfmaq_f32(acc[r][c][1], d, vcvtq_f32_s32(lane[c][1]));
      }
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = reduce8(acc[r][c][0], acc[r][c][1]);
  }
}

// Q6_K, row-major or x8 (TileArgs::w_bstride): tiles of up to 8 x 4.
struct KernQ6K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if (t.path == MatmulPath::kTiled) {
      q6k_tiled<NR, NC>(t);
    } else {
      q6k_vecdot<NR, NC>(t);
    }
  }
};

ActQuantFn quantizer_q8_K() {
  const ActQuantFn f = act_quantizer_neon(DType::kQ8_K);
  return f != nullptr ? f : quantize_act_q8_K;
}

const GemmKernel* kernel_q4_K() {
  static const GemmKernel k = {DType::kQ8_K, quantizer_q8_K(), tile_entry<KernQ4K>, 8, 8, 4};
  return &k;
}
const GemmKernel* kernel_q6_K() {
  static const GemmKernel k = {DType::kQ8_K, quantizer_q8_K(), tile_entry<KernQ6K>, 8, 8, 4};
  return &k;
}
const GemmKernel* kernel_q4_K_x16() {
  static const GemmKernel k = {DType::kQ8_K, quantizer_q8_K(), tile_q4_K_x16, kQ4KGroupRows, kQ4KGroupRows, 4};
  return &k;
}

}  // namespace

const GemmKernel* gemm_kernel_i8mm(DType w) {
  switch (w) {
    case DType::kQ4_K: return kernel_q4_K();
    case DType::kQ6_K: return kernel_q6_K();
    default: return nullptr;  // the dotprod level serves
  }
}

const GemmKernel* gemm_kernel_layout_i8mm(Layout layout, DType w) {
  if (layout == Layout::kQ4Kx16 && w == DType::kQ4_K) return kernel_q4_K_x16();
  if (layout == Layout::kX8 && w == DType::kQ6_K) return kernel_q6_K();  // honours w_bstride, 8-row tiles
  return nullptr;
}

}  // namespace er::kernels::detail

#undef ER_I8MM_INLINE
