// Internal: the ARMv8.0 Advanced SIMD pieces shared by the AArch64 kernel levels (gemm_neon.cpp,
// gemm_dotprod.cpp, gemm_i8mm.cpp): f16 loads, prefetch, compile-time unrolling, ggml's 8-lane
// horizontal sum, the 32-element block types' weight unpacking, the Q4_K / Q6_K scale and quant
// unpacking, and the loops and float steps of the NEON and dotprod levels' row-major block, Q4_K
// and Q6_K kernel passes (each level supplies its integer products; see the end of this file).
//
// Include only INSIDE an anonymous namespace (`namespace er::kernels::detail { namespace {`), after
// <arm_neon.h>, <cstdint>, <cstring>, <type_traits>, <utility> and kernels/gemm_tile.h (TileArgs,
// the block types); this header includes nothing itself. Each includer then gets its own
// internal-linkage copy of every function here, compiled with that file's -march flags, so the
// linker can never merge one level's copy (say an SDOT-compiled one) into a caller of another
// level (the NEON level on a Cortex-A72), as it may with inline functions of external linkage:
// the same discipline as gemm_tile.h. For the same reason only ARMv8.0 NEON is used here (no SDOT,
// SMMLA or other extension), so every level compiles it.
//
// Bit-identical to the scalar references like the kernels that use it: integer work is exact, and
// every float operation is llama.cpp's, in its order (fma only where the reference has one; the
// build's -ffp-contract=off keeps every other a * b + c unfused).
#pragma once

// f16 -> f32 through the FPU's FCVT (exact).
inline float f16(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
// Four consecutive f16 values at p as floats.
inline float32x4_t f16x4(const uint8_t* p) {
  uint16_t h[4];
  std::memcpy(h, p, 8);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

// Prefetches `Bytes` bytes at p into L1, one PRFM per 64-byte line (A76 / A78 / Neoverse lines):
// the same offset of the next row tile keeps enough DRAM misses in flight for the short rows of
// quantized weights.
template <int Bytes>
inline void prefetch_lines(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
}

// Calls f(std::integral_constant<int, I>) for I = 0 .. N-1. Lane indices and shift counts of the
// intrinsics must be compile-time constants (also at -O0), and accumulator arrays indexed only by
// constants are split into registers by GCC's SRA; indexed in plain loops (unrolled only later),
// they stay in memory with a store after every update. unroll leaves all inlining to GCC.
// unroll_inline is always inlined, and so are the calls of f where f is marked always_inline
// (gemm_i8mm.cpp: GCC declines to inline large generic lambdas on its own, and their captures then
// go through memory). Two pairs of functions because always_inline on unroll's helper changes
// GCC's choices for the NEON and dotprod kernels.
template <typename F, int... I>
inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
inline void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>{});
}
template <typename F, int... I>
__attribute__((always_inline)) inline void unroll_inline_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
__attribute__((always_inline)) inline void unroll_inline(F&& f) {
  unroll_inline_impl(f, std::make_integer_sequence<int, N>{});
}

// hsum_float_8 / ggml::reduce8 of an output's 8 lanes (lo = lanes 0-3, hi = 4-7):
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
inline float reduce8(float32x4_t lo, float32x4_t hi) {
  const float32x4_t a = vaddq_f32(hi, lo);
  return vpadds_f32(vadd_f32(vget_low_f32(a), vget_high_f32(a)));
}

// The Q8_K activation block b of column c.
inline const block_q8_K* act_block(const TileArgs& t, int c, int64_t b) {
  return reinterpret_cast<const block_q8_K*>(t.a + static_cast<size_t>(c) * t.a_stride) + b;
}

// ---- 32-element block types: Q8_0, Q4_0, Q5_0 (x Q8_0) and Q4_1, Q5_1 (x Q8_1) ------------------

// The low and high nibbles of 16 bytes at qs.
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
// Q4_1 / Q5_1 keep their unsigned values (0..15 / 0..31, which fit) and add m_w s_a separately.
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

// ---- K-quants -----------------------------------------------------------------------------------

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

// B_s = bsums[2 s] + bsums[2 s + 1], s = 0..7: a Q8_K block's activation sum per Q4_K sub-block.
inline int16x8_t q4k_bsum_pairs(const block_q8_K* y) {
  return vpaddq_s16(vld1q_s16(y->bsums), vld1q_s16(y->bsums + 8));
}

// Q6_K chunk j (32 weights: sub-blocks 2j, 2j + 1) as 6-bit values 0..63 (signed bytes), weights
// 0-15 and 16-31 of the chunk: low nibbles from ql (bytes 0-31 or 32-63 of the half j / 4; the high
// nibble for j % 4 >= 2), the top 2 bits from qh bit pair j % 4 (SLI inserts them above the
// nibble). Call with I = j % 4, ql + 64 (j / 4) and qh + 32 (j / 4).
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

// Q6_K's bsum correction of 8 sub-blocks: lane k = bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]
// (pairwise sums of the exact int32 products; the caller scales by -32).
inline int32x4_t q6k_bsum_corr(int16x8_t bsums, int16x8_t sc) {
  return vpaddq_s32(vmull_s16(vget_low_s16(bsums), vget_low_s16(sc)), vmull_high_s16(bsums, sc));
}

// ---- kernel passes shared by the NEON and dotprod levels ------------------------------------------
//
// One register-sized pass (NR x NC outputs; each level's run_passes splits its tiles into these)
// of the 32-element block, Q4_K and Q6_K row-major kernels. Everything but the integer products is
// the same at both levels; those come from Ops, the level's arithmetic (SmullOps in
// gemm_neon.cpp: SMULL and pairwise adds; SdotOps in gemm_dotprod.cpp: SDOT):
//   kBStride                 honour TileArgs::w_bstride in the block and Q6_K kernels: row r's
//                            block b is at w + r * w_stride + b * w_bstride (x8: w_stride one
//                            block, w_bstride 8 blocks, so the 8 rows of a tile read one
//                            sequential stream, prefetched w_ahead bytes ahead); without it, or
//                            with w_bstride 0, rows are contiguous and each prefetches its own
//   lanes16(w, a)            int32 lane k = the 4 products of bytes 4k .. 4k + 3 of w and a
//                            (ggml's lane grouping)
//   q4k_subblocks(isum, lo0, lo1, hi0, hi1, a, s_lo, s_hi)
//                            isum + s_lo (lo0 lo1 . a[0] a[1]) + s_hi (hi0 hi1 . a[2] a[3]) over
//                            int32 lanes (only the lane total matters)
//   Q6KScales, q6k_scales(sc16), q6k_lanes<j>(lane, q0, q1, a, sc)
//                            Q6_K chunk j's 8 ggml lanes (lane[0]: weights 0-15 = sub-block 2j,
//                            lane[1]: 16-31 = 2j + 1), each product times its sub-block scale,
//                            added to lane

// 32-element block types: per output and block ggml's 8 lanes (two vectors), acc = fma(d_w d_a,
// lane, acc); at the end the 8-lane tree (+ the in-order float sum of m_w s_a for Q4_1 / Q5_1).
template <typename W, typename Ops>
struct Block32Pass {
  using Block = typename W::Block;
  using Act = typename W::Act;
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
    const size_t bstride = Ops::kBStride && t.w_bstride != 0 ? t.w_bstride : sizeof(Block);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK8_0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w0 = t.w + b * bstride;
      if (Ops::kBStride && t.w_bstride != 0) prefetch_lines<static_cast<int>(NR * sizeof(Block))>(w0 + ahead);
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
        if (!Ops::kBStride || t.w_bstride == 0) prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        int8x16_t q0, q1;
        W::q(x, &q0, &q1);
        const float dw = f16(x.d);
        unroll<NC>([&](auto cc) {
          constexpr int c = decltype(cc)::value;
          if constexpr (W::kHasMin) summs[r][c] += f16(x.m) * sa[c];
          const float dd = dw * da[c];
          acc[r][c][0] = vfmaq_n_f32(acc[r][c][0], vcvtq_f32_s32(Ops::lanes16(q0, a[c][0])), dd);
          acc[r][c][1] = vfmaq_n_f32(acc[r][c][1], vcvtq_f32_s32(Ops::lanes16(q1, a[c][1])), dd);
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

// Q4_K row-major, llama.cpp's repacked kernels: per output and 64 weights (kGemm: the
// kRepackGemm path) or 256 (gemv) the exact integers isum = sum_s sc_s (q . q_a)_s and
// msum = sum_s m_s bsum_s, then acc = fma(isum, d_w d_a, acc), acc_min = fma(msum, dmin_w d_a,
// acc_min); result acc - acc_min.
template <typename Ops>
struct Q4KPass {
  template <int NR, int NC>
  static void pass(const TileArgs& t) {
    if (t.path == MatmulPath::kRepackGemm) {
      path<true, NR, NC>(t);
    } else {
      path<false, NR, NC>(t);
    }
  }
  template <bool kGemm, int NR, int NC>
  static void path(const TileArgs& t) {
    float acc[NR][NC] = {}, acc_min[NR][NC] = {};
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
      for (int c = 0; c < NC; ++c) y[c] = act_block(t, c, b);
      int32x4_t isum[NR][NC];
      int32_t msum[NR][NC] = {};
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) isum[r][c] = vdupq_n_s32(0);
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
          const uint8_t s_lo = sc[r][2 * k], s_hi = sc[r][2 * k + 1];
          for (int c = 0; c < NC; ++c) {
            const int32x4_t s = Ops::q4k_subblocks(isum[r][c], lo0, lo1, hi0, hi1, a[c], s_lo, s_hi);
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

// Q6_K: per output and block ggml's 8 lanes of integer partial sums (lane k: the positions p with
// p % 32 in [4k, 4k + 4), each product times its sub-block scale, minus 32 (bsums[2k] sc[2k] +
// bsums[2k + 1] sc[2k + 1])). vec_dot path (batch < 8): acc[k] = fma(d_a d_w, lane_k, acc[k]) and
// the 8-lane tree; tiled path: acc = fma(isum d_w, d_a, acc) on the lane total.
template <typename Ops>
struct Q6KPass {
  template <int NR, int NC>
  static void pass(const TileArgs& t) {
    const bool tiled = t.path == MatmulPath::kTiled;
    float32x4_t acc[NR][NC][2];
    float acc_t[NR][NC] = {};
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c][0] = acc[r][c][1] = vdupq_n_f32(0.0f);
    const size_t bstride = Ops::kBStride && t.w_bstride != 0 ? t.w_bstride : sizeof(block_q6_K);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w0 = t.w + b * bstride;
      if (Ops::kBStride && t.w_bstride != 0) prefetch_lines<static_cast<int>(NR * sizeof(block_q6_K))>(w0 + ahead);
      const block_q8_K* y[NC];
      for (int c = 0; c < NC; ++c) y[c] = act_block(t, c, b);
      for (int r = 0; r < NR; ++r) {
        const block_q6_K& x = *reinterpret_cast<const block_q6_K*>(w0 + r * t.w_stride);
        if (!Ops::kBStride || t.w_bstride == 0) prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        const int8x16_t sc8 = vld1q_s8(x.scales);
        const int16x8_t sc16[2] = {vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8)};
        const typename Ops::Q6KScales sc = Ops::q6k_scales(sc16);
        int32x4_t lane[NC][2];
        for (int c = 0; c < NC; ++c) lane[c][0] = lane[c][1] = vdupq_n_s32(0);
        unroll<8>([&](auto jc) {
          constexpr int j = decltype(jc)::value;
          int8x16_t q0, q1;
          q6k_chunk<j % 4>(x.ql + 64 * (j / 4), x.qh + 32 * (j / 4), &q0, &q1);
          for (int c = 0; c < NC; ++c) Ops::template q6k_lanes<j>(lane[c], q0, q1, y[c]->qs + 32 * j, sc);
        });
        const float dx = f16(x.d);
        for (int c = 0; c < NC; ++c) {
          const int16x8_t bs0 = vld1q_s16(y[c]->bsums), bs1 = vld1q_s16(y[c]->bsums + 8);
          const int32x4_t corr0 = q6k_bsum_corr(bs0, sc16[0]), corr1 = q6k_bsum_corr(bs1, sc16[1]);
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
