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
// Everything except the exported functions has internal linkage (see gemm_tile.h); no std:: math.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"

namespace er::kernels::detail {
namespace {

// f16 <-> f32 through the FPU's FCVT (exact widening; narrowing rounds to nearest even, as F16C and
// core/f16.h do).
inline float f16(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
inline uint16_t to_f16(float f) {
  const __fp16 v = static_cast<__fp16>(f);
  uint16_t h;
  std::memcpy(&h, &v, 2);
  return h;
}

// Prefetches `Bytes` bytes at p into L1 (the same offset of the next row tile: keeps enough DRAM
// misses in flight for the short rows of quantized weights; 64-byte lines on A76 / A78).
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

// hsum_float_8 / ggml::reduce8 of the 8 lanes (lo = lanes 0-3, hi = 4-7):
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
inline float reduce8(float32x4_t lo, float32x4_t hi) {
  const float32x4_t a = vaddq_f32(hi, lo);
  const float32x2_t b = vadd_f32(vget_low_f32(a), vget_high_f32(a));
  return vpadds_f32(b);
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
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p + 2 * i))));
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

// ---- 32-element block types: Q8_0, Q4_0, Q5_0 (x Q8_0) and Q4_1, Q5_1 (x Q8_1) ------------------

// W gives a block's 32 weights as signed bytes in activation order (q0: weights 0-15, q1: 16-31);
// Q4_1 / Q5_1 keep their unsigned values (0..15 / 0..31, which fit) and add m_w s_a separately.
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

// Lane k of the result = the sum of products 4k .. 4k + 3 of 16 weight and activation bytes. SMULL
// products are exact in int16 and so are pair sums: |q_w| <= 128 and |q_a| <= 127 (the quantizers
// never emit -128), so a pair is at most 2 * 128 * 127 = 32512.
inline int32x4_t lanes16(int8x16_t w, int8x16_t a) {
  const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a));
  const int16x8_t p1 = vmull_high_s8(w, a);
  return vpaddlq_s16(vpaddq_s16(p0, p1));
}

// Per output and block ggml's 8 lanes (two vectors), acc = fma(d_w d_a, lane sum, acc); at the end
// the 8-lane tree (+ the in-order float sum of m_w s_a for Q4_1 / Q5_1).
template <typename W>
struct KernBlock32 {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  using Block = typename W::Block;
  using Act = typename W::Act;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<KernBlock32, 4, NR, NC>(t);
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
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK8_0;
    for (int64_t b = 0; b < nb; ++b) {
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
        const Block& x = reinterpret_cast<const Block*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        int8x16_t q0, q1;
        W::q(x, &q0, &q1);
        const float dw = f16(x.d);
        unroll<NC>([&](auto cc) {
          constexpr int c = decltype(cc)::value;
          if constexpr (W::kHasMin) summs[r][c] += f16(x.m) * sa[c];
          const float dd = dw * da[c];
          acc[r][c][0] = vfmaq_n_f32(acc[r][c][0], vcvtq_f32_s32(lanes16(q0, a[c][0])), dd);
          acc[r][c][1] = vfmaq_n_f32(acc[r][c][1], vcvtq_f32_s32(lanes16(q1, a[c][1])), dd);
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

// ---- K-quants x Q8_K ---------------------------------------------------------------------------

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

// Q4_K, llama.cpp's repacked kernels: per output and 64 weights (gemm) or 256 (gemv) the exact
// integers isum = sum_s sc_s (q . q_a)_s and msum = sum_s m_s bsum_s, then acc = fma(isum, d_w d_a,
// acc), acc_min = fma(msum, dmin_w d_a, acc_min); result acc - acc_min. A sub-block's products
// (nibble <= 15 times |q_a| <= 127) summed four to an int16 lane stay below 7620, then widen while
// multiplied by the 6-bit scale (SMLAL by element).
struct KernQ4K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if (t.path == MatmulPath::kRepackGemm) {
      run_passes<Gemm, 2, NR, NC>(t);
    } else {
      run_passes<Gemv, 2, NR, NC>(t);
    }
  }

  // sum of products of 32 nibbles (two vectors) and 32 activations, four per int16 lane.
  static int16x8_t dot32(uint8x16_t q0, uint8x16_t q1, int8x16_t a0, int8x16_t a1) {
    const int8x16_t w0 = vreinterpretq_s8_u8(q0), w1 = vreinterpretq_s8_u8(q1);
    int16x8_t p = vmull_s8(vget_low_s8(w0), vget_low_s8(a0));
    p = vmlal_high_s8(p, w0, a0);
    p = vmlal_s8(p, vget_low_s8(w1), vget_low_s8(a1));
    return vmlal_high_s8(p, w1, a1);
  }

  template <bool kGemm>
  struct Path {
    template <int NR, int NC>
    static void pass(const TileArgs& t) {
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
        for (int c = 0; c < NC; ++c) y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
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
            const int16_t s_lo = sc[r][2 * k], s_hi = sc[r][2 * k + 1];
            for (int c = 0; c < NC; ++c) {
              const int16x8_t plo = dot32(lo0, lo1, a[c][0], a[c][1]);
              const int16x8_t phi = dot32(hi0, hi1, a[c][2], a[c][3]);
              int32x4_t s = isum[r][c];
              s = vmlal_n_s16(s, vget_low_s16(plo), s_lo);
              s = vmlal_high_n_s16(s, plo, s_lo);
              s = vmlal_n_s16(s, vget_low_s16(phi), s_hi);
              s = vmlal_high_n_s16(s, phi, s_hi);
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
  using Gemm = Path<true>;
  using Gemv = Path<false>;
};

// Q6_K chunk j (32 weights: sub-blocks 2j, 2j + 1) as unsigned 6-bit values, weights 0-15 and
// 16-31 of the chunk: low nibbles from ql (bytes 0-31 or 32-63 of the half j / 4; the high nibble
// for j % 4 >= 2), the top 2 bits from qh bit pair j % 4 (SLI inserts them above the nibble).
template <int I>
inline void q6k_chunk(const uint8_t* ql, const uint8_t* qh, uint8x16_t* v0, uint8x16_t* v1) {
  const uint8x16_t l0 = vld1q_u8(ql + 32 * (I % 2)), l1 = vld1q_u8(ql + 32 * (I % 2) + 16);
  const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
  const uint8x16_t m3 = vdupq_n_u8(3);
  // bits 2I, 2I + 1 of qh down to bits 0-1; SLI then puts them above the nibble (it keeps the low
  // 4 bits of its first operand).
  uint8x16_t t0, t1;
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
  if constexpr (I < 2) {
    *v0 = vsliq_n_u8(l0, t0, 4);
    *v1 = vsliq_n_u8(l1, t1, 4);
  } else {
    *v0 = vsliq_n_u8(vshrq_n_u8(l0, 4), t0, 4);
    *v1 = vsliq_n_u8(vshrq_n_u8(l1, 4), t1, 4);
  }
}

// Q6_K: per output and block ggml's 8 lanes of integer partial sums (lane k: the positions p with
// p % 32 in [4k, 4k + 4), each product times its sub-block scale, minus 32 (bsums[2k] sc[2k] +
// bsums[2k + 1] sc[2k + 1])). vec_dot path (batch < 8): acc[k] = fma(d_a d_w, lane_k, acc[k]) and
// the 8-lane tree; tiled path: acc = fma(isum d_w, d_a, acc) on the lane total. Products (q <= 63,
// |q_a| <= 127) summed four to an int16 lane stay below 32004, then widen times the scale (SMLAL by
// element).
struct KernQ6K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    run_passes<KernQ6K, 2, NR, NC>(t);
  }
  template <int NR, int NC>
  static void pass(const TileArgs& t) {
    const bool tiled = t.path == MatmulPath::kTiled;
    float32x4_t acc[NR][NC][2];
    float acc_t[NR][NC] = {};
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c][0] = acc[r][c][1] = vdupq_n_f32(0.0f);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      const block_q8_K* y[NC];
      for (int c = 0; c < NC; ++c) y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
      for (int r = 0; r < NR; ++r) {
        const block_q6_K& x = reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(&x) + ahead);
        const int8x16_t sc8 = vld1q_s8(x.scales);
        const int16x8_t sc[2] = {vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8)};
        int32x4_t lane[NC][2];
        for (int c = 0; c < NC; ++c) lane[c][0] = lane[c][1] = vdupq_n_s32(0);
        unroll<8>([&](auto jc) {
          constexpr int j = decltype(jc)::value;
          uint8x16_t v0, v1;
          q6k_chunk<j % 4>(x.ql + 64 * (j / 4), x.qh + 32 * (j / 4), &v0, &v1);
          const int8x16_t w0 = vreinterpretq_s8_u8(v0), w1 = vreinterpretq_s8_u8(v1);
          for (int c = 0; c < NC; ++c) {
            const int8x16_t a0 = vld1q_s8(y[c]->qs + 32 * j), a1 = vld1q_s8(y[c]->qs + 32 * j + 16);
            // int16 lane m: products 4m .. 4m + 3 (m < 4: of weights 0-15, sub-block 2j; else 2j + 1)
            const int16x8_t p = vpaddq_s16(vpaddq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(a0)), vmull_high_s8(w0, a0)),
                                           vpaddq_s16(vmull_s8(vget_low_s8(w1), vget_low_s8(a1)), vmull_high_s8(w1, a1)));
            lane[c][0] = vmlal_laneq_s16(lane[c][0], vget_low_s16(p), sc[(2 * j) / 8], (2 * j) % 8);
            lane[c][1] = vmlal_high_laneq_s16(lane[c][1], p, sc[(2 * j + 1) / 8], (2 * j + 1) % 8);
          }
        });
        const float dx = f16(x.d);
        for (int c = 0; c < NC; ++c) {
          // corr_k = bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]: pairwise sums of the products.
          const int16x8_t bs0 = vld1q_s16(y[c]->bsums), bs1 = vld1q_s16(y[c]->bsums + 8);
          const int32x4_t corr0 = vpaddq_s32(vmull_s16(vget_low_s16(bs0), vget_low_s16(sc[0])), vmull_high_s16(bs0, sc[0]));
          const int32x4_t corr1 = vpaddq_s32(vmull_s16(vget_low_s16(bs1), vget_low_s16(sc[1])), vmull_high_s16(bs1, sc[1]));
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
