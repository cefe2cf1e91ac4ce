// AVX-512 (F/BW/DQ/VL + VNNI) tile kernels, compiled with those target flags only. Bit-identical
// to the scalar references (quant_act.h: llama.cpp's x86 arithmetic, summation order included).
//
// llama.cpp's quantized dot products keep 8 float lanes per output (ggml's AVX2 code), so one zmm
// holds two outputs: weight rows r and r + 1 in its halves against an activation block broadcast
// to both. Signed x signed products use VNNI's u8 x s8 dpbusd with an offset: the weights are made
// unsigned (Q8_0: q ^ 0x80 = q + 128; Q4_0: the raw nibble = q + 8) and the accumulator starts at
// -offset * sum(a) per lane group, so every integer lane is exact. K-quants multiply sub-block
// scales in integers (maddubs + dpwssd); where llama.cpp scales each block's (or 64 weights')
// exact total, the 8-lane partial sums of 16 outputs are transposed into one vector of totals.
// Everything except gemm_kernel_avx512 has internal linkage (see gemm_tile.h).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"
#include "kernels/repack.h"

namespace er::kernels::detail {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// [lo | hi] as one zmm.
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline float hsum(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, 0x4E)));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// hsum_float_8: the 8-lane halving tree.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Prefetches `bytes` bytes at p (one line per 64) into L1: the same offset of the next row tile,
// so the short rows of quantized weights keep enough misses in flight for DRAM bandwidth.
template <int Bytes>
inline void prefetch_lines(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}

// ---- plain float types -------------------------------------------------------------------------

// ggml_vec_dot's tail after the 64-element steps: f32 adds rounded products in float, f16 and
// bf16 in double.
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

struct LoadF32 {
  static constexpr int kBytes = 4;  // per element
  static __m512 load(const uint8_t* p, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + i);
  }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    for (int64_t i = i0; i < n; ++i) head += f32_at(w, i) * f32_at(a, i);
    return head;
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 load(const uint8_t* p, int64_t i) { return _mm512_cvtph_ps(load256(p + 2 * i)); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
  }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    double sum = head;
    for (int64_t i = i0; i < n; ++i) sum += static_cast<double>(f16_at(w, i) * f16_at(a, i));
    return static_cast<float>(sum);
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load(const uint8_t* p, int64_t i) { return widen(load256(p + 2 * i)); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p + 2 * i)); }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    double sum = head;
    for (int64_t i = i0; i < n; ++i) sum += static_cast<double>(bf16_at(w, i) * bf16_at(a, i));
    return static_cast<float>(sum);
  }
};

// f16 / bf16 / f32 weights (ops.h DotOrder): kTinyBlas keeps one 16-lane accumulator per output
// over the row (a register tile of NR x NC outputs); kVecDot four (elements i into accumulator
// (i / 16) % 4) over the first n - n % 64, then (a0 + a2) + (a1 + a3), the tree, and the tail.
template <typename L>
struct KernFloat {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if (t.path == MatmulPath::kTinyBlas) {
      tinyblas<NR, NC>(t);
    } else {
      for (int c = 0; c < NC; ++c) vecdot<NR>(t, c);
    }
  }

  template <int NR, int NC>
  static void tinyblas(const TileArgs& t) {
    __m512 acc[NR][NC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= t.n; i += 16) {
      __m512 w[NR];
      for (int r = 0; r < NR; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(t.w + (r + NR) * t.w_stride + i * L::kBytes), _MM_HINT_T0);
        w[r] = L::load(t.w + r * t.w_stride, i);
      }
      for (int c = 0; c < NC; ++c) {
        const __m512 a = L::load(t.a + c * t.a_stride, i);
        for (int r = 0; r < NR; ++r) acc[r][c] = _mm512_fmadd_ps(w[r], a, acc[r][c]);
      }
    }
    if (i < t.n) {  // (the driver picks kTinyBlas for n % 16 == 0 only; zeros change nothing)
      const __mmask16 m = static_cast<__mmask16>((1u << (t.n - i)) - 1u);
      __m512 w[NR];
      for (int r = 0; r < NR; ++r) w[r] = L::load_tail(t.w + r * t.w_stride, i, m);
      for (int c = 0; c < NC; ++c) {
        const __m512 a = L::load_tail(t.a + c * t.a_stride, i, m);
        for (int r = 0; r < NR; ++r) acc[r][c] = _mm512_fmadd_ps(w[r], a, acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = hsum(acc[r][c]);
  }

  template <int NR>
  static void vecdot(const TileArgs& t, int c) {
    __m512 acc[NR][4];
    for (int r = 0; r < NR; ++r)
      for (int k = 0; k < 4; ++k) acc[r][k] = _mm512_setzero_ps();
    const uint8_t* act = t.a + c * t.a_stride;
    const int64_t np = t.n - t.n % 64;
    for (int64_t i = 0; i < np; i += 64) {
      for (int k = 0; k < 4; ++k) {
        const __m512 a = L::load(act, i + 16 * k);
        for (int r = 0; r < NR; ++r) {
          if (k == 0) {
            _mm_prefetch(reinterpret_cast<const char*>(t.w + (r + NR) * t.w_stride + i * L::kBytes), _MM_HINT_T0);
          }
          acc[r][k] = _mm512_fmadd_ps(L::load(t.w + r * t.w_stride, i + 16 * k), a, acc[r][k]);
        }
      }
    }
    for (int r = 0; r < NR; ++r) {
      const float head = hsum(_mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][2]), _mm512_add_ps(acc[r][1], acc[r][3])));
      t.y[c * t.y_stride + r] = L::tail(head, t.w + r * t.w_stride, act, np, t.n);
    }
  }
};

// ---- 32-element block types: two weight rows per zmm -------------------------------------------

// The weight bytes of one block of two rows (q0, q1; zero when `two` is false) as unsigned
// operands for dpbusd, each row in the weight order of its block (low nibbles, then high).
inline __m512i nibbles_pair(const uint8_t* q0, const uint8_t* q1, bool two) {
  const __m128i x0 = load128(q0);
  const __m128i x1 = two ? load128(q1) : _mm_setzero_si128();
  // [x0 | x1] -> [x0, x0, x1, x1] (128-bit lanes), then the odd lanes take the high nibbles.
  const __m512i z = _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(x0), x1, 1));
  const __m512i d = _mm512_shuffle_i64x2(z, z, 0x50);
  return _mm512_and_si512(_mm512_mask_srli_epi16(d, 0xFF00FF00u, d, 4), _mm512_set1_epi8(0x0F));
}

// Two f16 scales (h1 = 0 when absent) as floats, d0 in lanes 0-7, d1 in 8-15.
inline __m512 scales_pair(const uint16_t* h0, const uint16_t* h1, bool two) {
  __m128i v = _mm_cvtsi32_si128(*h0);
  if (two) v = _mm_insert_epi16(v, *h1, 1);
  const __m512 f = _mm512_castps128_ps512(_mm_cvtph_ps(v));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), f);
}

struct WQ8_0 {
  using Block = block_q8_0;
  using Act = block_q8_0;
  static constexpr int kOffset = 128;  // q ^ 0x80 == q + 128
  static __m512i wq(const Block* b0, const Block* b1, bool two) {
    const __m512i q = join(load256(b0->qs), two ? load256(b1->qs) : _mm256_setzero_si256());
    return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};
struct WQ4_0 {
  using Block = block_q4_0;
  using Act = block_q8_0;
  static constexpr int kOffset = 8;  // nibble == q + 8
  static __m512i wq(const Block* b0, const Block* b1, bool two) { return nibbles_pair(b0->qs, b1->qs, two); }
};
struct WQ4_1 {
  using Block = block_q4_1;
  using Act = block_q8_1;
  static constexpr int kOffset = 0;
  static __m512i wq(const Block* b0, const Block* b1, bool two) { return nibbles_pair(b0->qs, b1->qs, two); }
};

// Q5: the 5th bits of the two rows' blocks (qh bit j = weight j) as 0x10 / 0x00 bytes, in the
// byte order nibbles_pair produces.
inline __m512i fifth_bits_pair(const uint8_t* qh0, const uint8_t* qh1, bool two) {
  uint32_t h0, h1 = 0;
  std::memcpy(&h0, qh0, 4);
  if (two) std::memcpy(&h1, qh1, 4);
  const __mmask64 m = static_cast<__mmask64>(h0) | static_cast<__mmask64>(h1) << 32;
  return _mm512_maskz_mov_epi8(m, _mm512_set1_epi8(0x10));
}
struct WQ5_0 {
  using Block = block_q5_0;
  using Act = block_q8_0;
  static constexpr int kOffset = 16;  // 5-bit value == q + 16
  static __m512i wq(const Block* b0, const Block* b1, bool two) {
    return _mm512_or_si512(nibbles_pair(b0->qs, b1->qs, two), fifth_bits_pair(b0->qh, b1->qh, two));
  }
};
struct WQ5_1 {
  using Block = block_q5_1;
  using Act = block_q8_1;
  static constexpr int kOffset = 0;
  static __m512i wq(const Block* b0, const Block* b1, bool two) {
    return _mm512_or_si512(nibbles_pair(b0->qs, b1->qs, two), fifth_bits_pair(b0->qh, b1->qh, two));
  }
};

// A tile with more than 8 (row pair, column) accumulators (16 outputs) is run as two column halves.
template <int NR, int NC>
inline constexpr bool kTooWide = (NR + 1) / 2 * NC > 8;
template <typename K, int NR, int NC>
inline void split_columns(const TileArgs& t) {
  K::template run<NR, NC / 2>(t);
  TileArgs rest = t;
  rest.a += (NC / 2) * t.a_stride;
  rest.y += (NC / 2) * t.y_stride;
  K::template run<NR, NC - NC / 2>(rest);
}

// One zmm holds the 8 lanes of two outputs: weight rows r and r + 1 in the low and high halves,
// the activation block broadcast to both. Each half accumulates exactly ggml's 8-lane sequence
// (quant_act.h) and is reduced on its own at the end. Every block type starts with its f16 d
// (then m for Q4_1/Q5_1; s for Q8_1 activations), so one dword per row and column gives all the
// scales of a block. Q4_1/Q5_1's in-order sum of m_w s_a runs in output lanes: lane o of summs[o / 16]
// is output o = 2 (p NC + c) + h (row 2p + h, column c).
struct Block32Lanes {
  alignas(64) int32_t dx[4][16];     // pair p: d of row 2p in lanes 0-7, of row 2p + 1 in 8-15
  alignas(64) int32_t m[2][16];      // output o: m of its row
  alignas(64) int32_t s[2][16];      // output o: s of its column
  alignas(64) int32_t d_col[4][16];  // column c's d in every lane
};
// Indices into the 16 floats (d_0, m_0, ..., d_7, m_7) of the rows and the 8 floats (d_0, s_0, ...,
// d_3, s_3) of the columns.
constexpr Block32Lanes make_block32_lanes(int nc) {
  Block32Lanes t{};
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 16; ++l) t.dx[p][l] = 2 * (2 * p + l / 8);
  for (int o = 0; o < 32; ++o) {
    const int pc = o / 2, h = o % 2;
    t.m[o / 16][o % 16] = 2 * (2 * (pc / nc) + h) + 1;
    t.s[o / 16][o % 16] = 2 * (pc % nc) + 1;
  }
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 16; ++l) t.d_col[c][l] = 2 * c;
  return t;
}
constexpr Block32Lanes kB32Lanes[4] = {make_block32_lanes(1), make_block32_lanes(2), make_block32_lanes(3),
                                       make_block32_lanes(4)};
inline __m512i load_lanes(const int32_t* v) { return _mm512_load_si512(v); }

// The first dword of n (<= 4) blocks at p, p + stride, ...: (d, m) / (d, s) f16 pairs.
template <int N>
inline __m128i first_dwords(const uint8_t* p, size_t stride) {
  int32_t v;
  std::memcpy(&v, p, 4);
  __m128i x = _mm_cvtsi32_si128(v);
  if constexpr (N > 1) { std::memcpy(&v, p + stride, 4); x = _mm_insert_epi32(x, v, 1); }
  if constexpr (N > 2) { std::memcpy(&v, p + 2 * stride, 4); x = _mm_insert_epi32(x, v, 2); }
  if constexpr (N > 3) { std::memcpy(&v, p + 3 * stride, 4); x = _mm_insert_epi32(x, v, 3); }
  return x;
}

template <typename W>
struct KernBlock32 {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  using Block = typename W::Block;
  using Act = typename W::Act;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    constexpr int RP = (NR + 1) / 2;  // row pairs
    constexpr bool kHasMin = W::kOffset == 0;
    constexpr int kSum = RP * NC > 8 ? 2 : 1;  // output-lane vectors of summs
    const Block32Lanes& lanes = kB32Lanes[NC - 1];
    __m512 acc[RP][NC];
    for (int p = 0; p < RP; ++p)
      for (int c = 0; c < NC; ++c) acc[p][c] = _mm512_setzero_ps();
    [[maybe_unused]] __m512 summs[kSum];
    for (auto& v : summs) v = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK8_0;
    const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(Block);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    for (int64_t b = 0; b < nb; ++b) {
      // (d, m) of every row, (d, s) of every column, as floats: elements 2 r, 2 r + 1 / 2 c, 2 c + 1.
      const uint8_t* w0 = t.w + b * bstride;
      const __m256i wdm16 = _mm256_inserti128_si256(_mm256_castsi128_si256(first_dwords<NR < 4 ? NR : 4>(w0, t.w_stride)),
                                                    first_dwords<(NR > 4 ? NR - 4 : 1)>(w0 + 4 * t.w_stride * (NR > 4), t.w_stride), 1);
      const __m512 wdm = _mm512_cvtph_ps(wdm16);
      const __m512 ads = _mm512_castps256_ps512(_mm256_cvtph_ps(first_dwords<NC>(t.a + b * sizeof(Act), t.a_stride)));
      if (t.w_bstride != 0) prefetch_lines<static_cast<int>(NR * sizeof(Block))>(w0 + ahead);
      __m512i wq[RP];
      __m512 dx[RP];
      for (int p = 0; p < RP; ++p) {
        const bool two = 2 * p + 1 < NR;
        const Block* b0 = reinterpret_cast<const Block*>(w0 + 2 * p * t.w_stride);
        const Block* b1 = two ? reinterpret_cast<const Block*>(w0 + (2 * p + 1) * t.w_stride) : b0;
        if (t.w_bstride == 0) {
          prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(b0) + ahead);
          if (two) prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(b1) + ahead);
        }
        wq[p] = W::wq(b0, b1, two);
        dx[p] = _mm512_permutexvar_ps(load_lanes(lanes.dx[p]), wdm);
      }
      if constexpr (kHasMin) {
        for (int k = 0; k < kSum; ++k) {
          summs[k] = _mm512_add_ps(summs[k], _mm512_mul_ps(_mm512_permutexvar_ps(load_lanes(lanes.m[k]), wdm),
                                                           _mm512_permutexvar_ps(load_lanes(lanes.s[k]), ads)));
        }
      }
      for (int c = 0; c < NC; ++c) {
        const Act& act = reinterpret_cast<const Act*>(t.a + c * t.a_stride)[b];
        const __m512i aq = _mm512_broadcast_i64x4(load256(act.qs));
        const __m512 dy = _mm512_permutexvar_ps(load_lanes(lanes.d_col[c]), ads);
        __m512i init = _mm512_setzero_si512();
        if constexpr (W::kOffset != 0) {
          // -offset * (sum of a over each 4-byte lane group), so lanes sum to sum(q_w * a).
          init = _mm512_sub_epi32(init, _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                            _mm512_set1_epi8(static_cast<char>(W::kOffset)), aq));
        }
        for (int p = 0; p < RP; ++p) {
          const __m512i isum = _mm512_dpbusd_epi32(init, wq[p], aq);
          acc[p][c] = _mm512_fmadd_ps(_mm512_mul_ps(dx[p], dy), _mm512_cvtepi32_ps(isum), acc[p][c]);
        }
      }
    }
    alignas(64) float m[32];
    if constexpr (kHasMin) {
      for (int k = 0; k < kSum; ++k) _mm512_store_ps(m + 16 * k, summs[k]);
    }
    for (int p = 0; p < RP; ++p) {
      for (int c = 0; c < NC; ++c) {
        const int o = 2 * (p * NC + c);
        t.y[c * t.y_stride + 2 * p] = hsum8(_mm512_castps512_ps256(acc[p][c])) + (kHasMin ? m[o] : 0.0f);
        if (2 * p + 1 < NR) {
          t.y[c * t.y_stride + 2 * p + 1] = hsum8(_mm512_extractf32x8_ps(acc[p][c], 1)) + (kHasMin ? m[o + 1] : 0.0f);
        }
      }
    }
  }
};

// ---- K-quants x Q8_K ---------------------------------------------------------------------------

// Q4_K's 12 packed bytes -> bytes 0-7 the 8 sub-block scales, 8-15 the 8 mins (get_scale_min_k4).
inline __m128i q4k_unpack_scales(const uint8_t* packed) {
  uint32_t u[3], out[4];
  std::memcpy(u, packed, 12);
  out[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  out[2] = u[1] & 0x3f3f3f3fu;
  out[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  out[0] = u[0] & 0x3f3f3f3fu;
  return load128(out);
}

// permutexvar_epi16 index tables (built at compile time; the kernels load them per block).
struct Idx16 {
  alignas(64) int16_t v[32];
};
// Q4_K: (scales 0-7, mins 8-15) of row 2p in words 0-15, of row 2p + 1 in words 16-31.
//   kQ4.scale[s]: sub-block s's scale over each half.
//   kQ4.mins_gather: from two such vectors (4 rows), row r's mins to words 8r..8r+7.
struct Q4Tables {
  Idx16 scale[8];
  Idx16 mins_gather;
};
constexpr Q4Tables make_q4_tables() {
  Q4Tables t{};
  for (int s = 0; s < 8; ++s)
    for (int l = 0; l < 32; ++l) t.scale[s].v[l] = static_cast<int16_t>((l < 16 ? 0 : 16) + s);
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 8; ++j) t.mins_gather.v[8 * r + j] = static_cast<int16_t>(32 * (r / 2) + (r % 2 ? 24 : 8) + j);
  return t;
}
constexpr Q4Tables kQ4 = make_q4_tables();
// Q6_K: the 16 scales of row 2p in words 0-15, of row 2p + 1 in 16-31; chunk j (32 weights)
// takes scale 2j in words 0-7 and 2j + 1 in words 8-15 of each half.
struct Q6Tables {
  Idx16 chunk[8];
};
constexpr Q6Tables make_q6_tables() {
  Q6Tables t{};
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) t.chunk[j].v[l] = static_cast<int16_t>((l < 16 ? 0 : 16) + 2 * j + (l % 16) / 8);
  return t;
}
constexpr Q6Tables kQ6 = make_q6_tables();
inline __m512i load_idx(const Idx16& i) { return _mm512_load_si512(i.v); }

// The K-quant kernels hold, like KernBlock32, two weight rows per zmm (row r in the low half,
// r + 1 in the high half) against an activation chunk broadcast to both halves, so each output
// owns 8 int32 lanes of partial sums per block. Where llama.cpp needs each block's exact integer
// total per output (Q4_K, tiled Q6_K), reduce8x16 turns 8 such vectors (16 outputs) into one
// vector of 16 totals; integer sums are exact, so any adding order gives llama.cpp's integers.

// lane o of the result = the sum of the 8 lanes of output o, where output 2i + h is half h of v[i].
inline __m512i reduce8x16(const __m512i* v) {
  __m512i w[4], x[2];
  for (int j = 0; j < 4; ++j) {  // 128-bit chunk q of w[j] <- output 4j + q (4 lanes)
    w[j] = _mm512_add_epi32(_mm512_shuffle_i32x4(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  for (int m = 0; m < 2; ++m) {  // chunk q of x[m]: lanes 0-1 output 8m + q, lanes 2-3 output 8m + 4 + q
    x[m] = _mm512_add_epi32(_mm512_unpacklo_epi64(w[2 * m], w[2 * m + 1]), _mm512_unpackhi_epi64(w[2 * m], w[2 * m + 1]));
  }
  const __m512i t1 = _mm512_unpacklo_epi32(x[0], x[1]), t2 = _mm512_unpackhi_epi32(x[0], x[1]);
  // chunk q: outputs q, 8 + q, 4 + q, 12 + q
  const __m512i z = _mm512_add_epi32(_mm512_unpacklo_epi64(t1, t2), _mm512_unpackhi_epi64(t1, t2));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15), z);
}

// Output lane o of a tile of RP row pairs x NC columns: row 2p + h, column c for o = 2(p NC + c) + h.
struct LaneMap {
  alignas(64) int32_t rows[16];
  alignas(64) int32_t cols[16];
};
constexpr LaneMap make_lane_map(int nc) {
  LaneMap m{};
  for (int o = 0; o < 16; ++o) {
    m.rows[o] = 2 * ((o / 2) / nc) + o % 2;
    m.cols[o] = (o / 2) % nc;
  }
  return m;
}
constexpr LaneMap kLaneMap[4] = {make_lane_map(1), make_lane_map(2), make_lane_map(3), make_lane_map(4)};
// Q4_K mins per 64 weights in output lanes: word pair o of mins[k] indexes (m_2k, m_2k+1) of
// row(o) in the 64-word mins table (two zmm, permutex2var); of bsums[k], (B_2k, B_2k+1) of col(o).
struct Q4LaneTables {
  Idx16 mins[4];
  Idx16 bsums[4];
};
constexpr Q4LaneTables make_q4_lanes(int nc) {
  const LaneMap m = make_lane_map(nc);
  Q4LaneTables t{};
  for (int k = 0; k < 4; ++k) {
    for (int o = 0; o < 16; ++o) {
      for (int e = 0; e < 2; ++e) {
        t.mins[k].v[2 * o + e] = static_cast<int16_t>(8 * m.rows[o] + 2 * k + e);
        t.bsums[k].v[2 * o + e] = static_cast<int16_t>(8 * m.cols[o] + 2 * k + e);
      }
    }
  }
  return t;
}
constexpr Q4LaneTables kQ4Lanes[4] = {make_q4_lanes(1), make_q4_lanes(2), make_q4_lanes(3), make_q4_lanes(4)};

template <int NC>
inline __m512i lane_rows() { return _mm512_load_si512(kLaneMap[NC - 1].rows); }
template <int NC>
inline __m512i lane_cols() { return _mm512_load_si512(kLaneMap[NC - 1].cols); }

// Writes the 2 RP NC outputs of `out` (lane o as above) for rows < nr.
template <int RP, int NC>
inline void store_tile(const TileArgs& t, __m512 out, int nr) {
  alignas(64) float v[16];
  _mm512_store_ps(v, out);
  for (int p = 0; p < RP; ++p) {
    for (int c = 0; c < NC; ++c) {
      for (int h = 0; h < 2; ++h) {
        if (2 * p + h < nr) t.y[c * t.y_stride + 2 * p + h] = v[2 * (p * NC + c) + h];
      }
    }
  }
}

// The activation scales d_a of columns 0..NC-1 as floats in the lanes of lane_cols().
template <int NC>
inline __m512 col_scales(const TileArgs& t, int64_t b, __m512i cols) {
  alignas(64) float v[16] = {};
  for (int c = 0; c < NC; ++c) v[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b].d;
  return _mm512_permutexvar_ps(cols, _mm512_load_ps(v));
}


// Calls f(std::integral_constant<int, I>) for I = 0 .. N-1, unrolled.
template <int N, typename F, int... I>
inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
inline void unroll(F&& f) {
  unroll_impl<N>(f, std::make_integer_sequence<int, N>{});
}

// Q4_K, llama.cpp's repacked kernels: gemm (kRepackGemm) applies the float scales per 64 weights
// (sub-blocks 2k, 2k + 1), gemv (kVecDot) per 256. Either way each step needs exact integer
// totals per output: isum via reduce8x16, msum directly in output lanes (vpmaddwd of the two
// mins of row(o) with the two bsum pairs of col(o)).
struct KernQ4K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if constexpr (kTooWide<NR, NC>) {
      split_columns<KernQ4K, NR, NC>(t);
    } else if (t.path == MatmulPath::kRepackGemm) {
      run_path<NR, NC, true>(t);
    } else {
      run_path<NR, NC, false>(t);
    }
  }

  template <int NR, int NC, bool kGemm>
  static void run_path(const TileArgs& t) {
    constexpr int RP = (NR + 1) / 2;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i rows = lane_rows<NC>(), cols = lane_cols<NC>();
    __m512 acc = _mm512_setzero_ps(), acc_min = _mm512_setzero_ps();  // lane o: output o
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      const block_q4_K* x[2 * RP];
      for (int r = 0; r < 2 * RP; ++r) x[r] = reinterpret_cast<const block_q4_K*>(t.w + (r < NR ? r : NR - 1) * t.w_stride) + b;
      // d and dmin of every row: (d_0, dmin_0, d_1, dmin_1, ...) as floats.
      alignas(32) uint32_t dd[8] = {};
      for (int r = 0; r < NR; ++r) {
        std::memcpy(&dd[r], &x[r]->d, 4);  // d and dmin are adjacent f16s
        prefetch_lines<sizeof(block_q4_K)>(reinterpret_cast<const uint8_t*>(x[r]) + NR * t.w_stride);
      }
      const __m512 dd_f = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dd)));
      const __m512i row2 = _mm512_add_epi32(rows, rows);
      const __m512 d_a = col_scales<NC>(t, b, cols);
      const __m512 scale = _mm512_mul_ps(_mm512_permutexvar_ps(row2, dd_f), d_a);
      const __m512 scale_min = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_add_epi32(row2, _mm512_set1_epi32(1)), dd_f), d_a);

      // int16 lanes: (scales, mins) of row 2p | of row 2p + 1, per row pair; the mins of all rows
      // (row r at words 8r..8r+7 of mins_lo, mins_hi); the 8 bsum pairs of each column (column c
      // at words 8c..8c+7 of bp_all).
      __m512i sm[4];
      for (int p = 0; p < 4; ++p) {
        sm[p] = p < RP ? join(_mm256_cvtepu8_epi16(q4k_unpack_scales(x[2 * p]->scales)),
                              _mm256_cvtepu8_epi16(q4k_unpack_scales(x[2 * p + 1]->scales)))
                       : _mm512_setzero_si512();
      }
      const __m512i gather = load_idx(kQ4.mins_gather);
      const __m512i mins_lo = _mm512_permutex2var_epi16(sm[0], gather, sm[1]);
      const __m512i mins_hi = RP > 2 ? _mm512_permutex2var_epi16(sm[2], gather, sm[3]) : _mm512_setzero_si512();
      alignas(64) int16_t bpairs[32] = {};
      for (int c = 0; c < NC; ++c) {
        const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
        const __m128i bp = _mm_hadd_epi16(load128(y.bsums), load128(y.bsums + 8));  // bsum 2s + 2s+1
        _mm_store_si128(reinterpret_cast<__m128i*>(bpairs + 8 * c), bp);
      }
      const __m512i bp_all = _mm512_load_si512(bpairs);

      __m512i isum[8];
      __m512i msum = _mm512_setzero_si512();
      for (int i = 0; i < 8; ++i) isum[i] = _mm512_setzero_si512();
      unroll<4>([&](auto kc) {  // 64 weights: sub-block 2k (low nibbles), 2k + 1 (high)
        constexpr int k = decltype(kc)::value;
        if constexpr (kGemm) {
          for (int i = 0; i < 8; ++i) isum[i] = _mm512_setzero_si512();
        }
        __m512i a_lo[NC], a_hi[NC];
        unroll<NC>([&](auto cc) {
          constexpr int c = decltype(cc)::value;
          const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
          a_lo[c] = _mm512_broadcast_i64x4(load256(y.qs + 64 * k));
          a_hi[c] = _mm512_broadcast_i64x4(load256(y.qs + 64 * k + 32));
        });
        unroll<RP>([&](auto pc) {
          constexpr int p = decltype(pc)::value;
          const __m512i raw = join(load256(x[2 * p]->qs + 32 * k), load256(x[2 * p + 1]->qs + 32 * k));
          const __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          const __m512i sc_lo = _mm512_permutexvar_epi16(load_idx(kQ4.scale[2 * k]), sm[p]);
          const __m512i sc_hi = _mm512_permutexvar_epi16(load_idx(kQ4.scale[2 * k + 1]), sm[p]);
          unroll<NC>([&](auto cc) {
            constexpr int c = decltype(cc)::value;
            __m512i& s = isum[p * NC + c];
            s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(lo, a_lo[c]), sc_lo);
            s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(hi, a_hi[c]), sc_hi);
          });
        });
        // msum of sub-blocks 2k, 2k + 1 in output lanes: (m_2k, m_2k+1)(row o) . (B_2k, B_2k+1)(col o)
        const __m512i m_pair = _mm512_permutex2var_epi16(mins_lo, load_idx(kQ4Lanes[NC - 1].mins[k]), mins_hi);
        const __m512i b_pair = _mm512_permutexvar_epi16(load_idx(kQ4Lanes[NC - 1].bsums[k]), bp_all);
        msum = _mm512_add_epi32(msum, _mm512_madd_epi16(m_pair, b_pair));
        if constexpr (kGemm) {
          acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(reduce8x16(isum)), scale, acc);
          acc_min = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), scale_min, acc_min);
          msum = _mm512_setzero_si512();
        }
      });
      if constexpr (!kGemm) {
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(reduce8x16(isum)), scale, acc);
        acc_min = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), scale_min, acc_min);
      }
    }
    store_tile<RP, NC>(t, _mm512_sub_ps(acc, acc_min), NR);
  }
};

// Q6_K: chunk j (32 weights, sub-blocks 2j and 2j + 1) of both rows of a pair as unsigned 6-bit
// values, from the pair's ql bytes of half j / 4 (ql[j % 2]: bytes 0-31 or 32-63 of each row) and
// qh bytes: j % 4 selects the nibble and the qh bit pair.
template <int J>
inline __m512i q6k_chunk(const __m512i* ql, __m512i qh) {
  constexpr int i = J % 4;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i lo = i < 2 ? _mm512_and_si512(ql[i % 2], m4) : _mm512_and_si512(_mm512_srli_epi16(ql[i % 2], 4), m4);
  __m512i hb;  // bits 2i, 2i + 1 of qh to bits 4, 5
  if constexpr (i == 0) hb = _mm512_slli_epi16(qh, 4);
  if constexpr (i == 1) hb = _mm512_slli_epi16(qh, 2);
  if constexpr (i == 2) hb = qh;
  if constexpr (i == 3) hb = _mm512_srli_epi16(qh, 2);
  return _mm512_or_si512(lo, _mm512_and_si512(hb, _mm512_set1_epi8(0x30)));
}

struct KernQ6K {
  static constexpr int kMaxRows = 8;
  static constexpr int kMaxCols = 4;
  // The tiled path reduces at most 8 integer vectors (16 outputs) at a time, so its wide tiles
  // run as two column halves; the vec_dot path (N-path decode: each path is its own row group)
  // takes up to 16 (8 rows x 4 columns) in one pass, so each 6-bit unpack serves 4 columns.
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    if constexpr (kTooWide<NR, NC>) {
      if (t.path == MatmulPath::kTiled) {
        split_columns<KernQ6K, NR, NC>(t);
      } else {
        run_fit<NR, NC>(t);
      }
    } else {
      run_fit<NR, NC>(t);
    }
  }

  template <int NR, int NC>
  static void run_fit(const TileArgs& t) {
    constexpr int RP = (NR + 1) / 2;
    constexpr bool kWide = RP * NC > 8;  // vec_dot only: run sends wide tiled tiles to split_columns
    const bool tiled = !kWide && t.path == MatmulPath::kTiled;
    const __m512i rows = lane_rows<NC>(), cols = lane_cols<NC>();
    __m512 acc[RP][NC];  // vec_dot: 8 float lanes per output; tiled: acc[0][0] lane o = output o
    for (int p = 0; p < RP; ++p)
      for (int c = 0; c < NC; ++c) acc[p][c] = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK_K;
    const size_t bstride = t.w_bstride != 0 ? t.w_bstride : sizeof(block_q6_K);
    const size_t ahead = t.w_ahead != 0 ? t.w_ahead : NR * t.w_stride;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w0 = t.w + b * bstride;
      const block_q6_K* x[2 * RP];
      for (int r = 0; r < 2 * RP; ++r) x[r] = reinterpret_cast<const block_q6_K*>(w0 + (r < NR ? r : NR - 1) * t.w_stride);
      if (t.w_bstride != 0) {
        prefetch_lines<static_cast<int>(NR * sizeof(block_q6_K))>(w0 + ahead);
      } else {
        for (int r = 0; r < NR; ++r) prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(x[r]) + ahead);
      }
      // Each column's 8 activation chunks (32 bytes, broadcast to both halves) and bsums: held
      // in registers for up to 2 columns, loaded where used for wider tiles (registers go to isum).
      constexpr bool kHold = NC <= 2;
      __m512i a[kHold ? NC : 1][8], bsums[NC];
      const block_q8_K* ys[NC];
      for (int c = 0; c < NC; ++c) {
        ys[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
        if constexpr (kHold) {
          for (int j = 0; j < 8; ++j) a[c][j] = _mm512_broadcast_i64x4(load256(ys[c]->qs + 32 * j));
        }
        bsums[c] = _mm512_broadcast_i64x4(load256(ys[c]->bsums));
      }
      __m512i isum[kWide ? RP * NC : 8];  // reduce8x16 reads 8
      for (auto& v : isum) v = _mm512_setzero_si512();
      unroll<RP>([&](auto pc) {
        constexpr int p = decltype(pc)::value;
        // int16 lanes: the 16 scales of row 2p | of row 2p + 1
        const __m512i sc = join(_mm256_cvtepi8_epi16(load128(x[2 * p]->scales)), _mm256_cvtepi8_epi16(load128(x[2 * p + 1]->scales)));
        unroll<2>([&](auto hc) {
          constexpr int h = decltype(hc)::value;
          const __m512i ql[2] = {join(load256(x[2 * p]->ql + 64 * h), load256(x[2 * p + 1]->ql + 64 * h)),
                                 join(load256(x[2 * p]->ql + 64 * h + 32), load256(x[2 * p + 1]->ql + 64 * h + 32))};
          const __m512i qh = join(load256(x[2 * p]->qh + 32 * h), load256(x[2 * p + 1]->qh + 32 * h));
          unroll<4>([&](auto ic) {
            constexpr int j = 4 * h + decltype(ic)::value;
            const __m512i q = q6k_chunk<j>(ql, qh);
            const __m512i sv = _mm512_permutexvar_epi16(load_idx(kQ6.chunk[j]), sc);
            unroll<NC>([&](auto cc) {
              constexpr int c = decltype(cc)::value;
              const __m512i aj = kHold ? a[kHold ? c : 0][j] : _mm512_broadcast_i64x4(load256(ys[c]->qs + 32 * j));
              isum[p * NC + c] = _mm512_dpwssd_epi32(isum[p * NC + c], _mm512_maddubs_epi16(q, aj), sv);
            });
          });
        });
        // lane k -= 32 (bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]), ggml's offset for q6 - 32
        unroll<NC>([&](auto cc) {
          constexpr int c = decltype(cc)::value;
          const __m512i corr = _mm512_madd_epi16(bsums[c], sc);
          isum[p * NC + c] = _mm512_sub_epi32(isum[p * NC + c], _mm512_slli_epi32(corr, 5));
        });
      });
      if constexpr (!kWide) {
        if (tiled) {  // acc = fma(isum d_w, d_a, acc)
          alignas(32) uint16_t dh[16] = {};
          for (int r = 0; r < NR; ++r) dh[r] = x[r]->d;
          const __m512 d_w = _mm512_permutexvar_ps(rows, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh))));
          const __m512 d_a = col_scales<NC>(t, b, cols);
          acc[0][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(reduce8x16(isum)), d_w), d_a, acc[0][0]);
        }
      }
      if (!tiled) {  // acc[k] = fma(d_a d_w, lane_k, acc[k])
        for (int p = 0; p < RP; ++p) {
          const __m512 dw = scales_pair(&x[2 * p]->d, &x[2 * p + 1]->d, true);
          for (int c = 0; c < NC; ++c) {
            const float da = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b].d;
            acc[p][c] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(da), dw), _mm512_cvtepi32_ps(isum[p * NC + c]), acc[p][c]);
          }
        }
      }
    }
    if constexpr (!kWide) {
      if (tiled) {
        store_tile<RP, NC>(t, acc[0][0], NR);
        return;
      }
    }
    for (int p = 0; p < RP; ++p) {
      for (int c = 0; c < NC; ++c) {
        t.y[c * t.y_stride + 2 * p] = hsum8(_mm512_castps512_ps256(acc[p][c]));
        if (2 * p + 1 < NR) t.y[c * t.y_stride + 2 * p + 1] = hsum8(_mm512_extractf32x8_ps(acc[p][c], 1));
      }
    }
  }
};

// Q4_K in the x16 layout (repack.h): a tile is one group of 16 rows, so each int32 lane of a zmm
// is one weight row. Per 4 bytes of each row (64 bytes, one load) the low nibbles meet 4
// activations of sub-block 2k and the high nibbles 4 of sub-block 2k + 1 (dpbusd against the
// column's broadcast dword), so per sub-block every lane holds that row's exact dot product; the
// sub-block scales multiply in integers (vpmulld) and the mins go through vpmaddwd of the
// (m_2k, m_2k+1) pair with the column's (B_2k, B_2k+1) bsum pair. The float steps are llama.cpp's
// (quant_act.h): per 64 weights (kRepackGemm) or per block (gemv), acc = fma(isum, d_w d_a, acc),
// acc_min = fma(msum, dmin_w d_a, acc_min); result acc - acc_min.
struct KernQ4Kx16 {
  static constexpr MatmulPath kBatchedPath = MatmulPath::kRepackGemm;  // run<NC, true>'s order
  static constexpr int kPrefetchAhead = 2 * static_cast<int>(kQ4KGroupBlockBytes);

  template <int NC, bool kGemm>
  static void run(const TileArgs& t) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m6 = _mm512_set1_epi32(0x3f3f3f3f), m2 = _mm512_set1_epi32(0x03030303);
    const __m512i ml4 = _mm512_set1_epi32(0x0f0f0f0f), mbyte = _mm512_set1_epi32(0xff);
    const __m512i mword_hi = _mm512_set1_epi32(0xff00);
    __m512 acc[NC], acc_min[NC];
    for (int c = 0; c < NC; ++c) acc[c] = acc_min[c] = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK_K;
    const uint8_t* gb = t.w;
    for (int64_t b = 0; b < nb; ++b, gb += kQ4KGroupBlockBytes) {
      prefetch_lines<static_cast<int>(kQ4KGroupBlockBytes)>(gb + kPrefetchAhead);
      const __m512 d_w = _mm512_cvtph_ps(load256(gb));
      const __m512 dmin_w = _mm512_cvtph_ps(load256(gb + 32));
      const __m512i u0 = _mm512_loadu_si512(gb + 64), u1 = _mm512_loadu_si512(gb + 128);
      const __m512i u2 = _mm512_loadu_si512(gb + 192);
      // get_scale_min_k4 for 16 rows: bytes of sc[0] = scales 0-3, sc[1] = 4-7; mn likewise mins.
      const __m512i sc[2] = {
          _mm512_and_si512(u0, m6),
          _mm512_or_si512(_mm512_and_si512(u2, ml4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), m2), 4))};
      const __m512i mn[2] = {
          _mm512_and_si512(u1, m6),
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), ml4),
                          _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), m2), 4))};
      const block_q8_K* y[NC];
      __m512 dd[NC], dm[NC];
      alignas(16) int32_t bp[NC][4];  // (B_2k, B_2k+1) int16 pairs of each column
      __m512i isum[NC], msum[NC];
      for (int c = 0; c < NC; ++c) {
        y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
        const __m512 da = _mm512_set1_ps(y[c]->d);
        dd[c] = _mm512_mul_ps(d_w, da);
        dm[c] = _mm512_mul_ps(dmin_w, da);
        _mm_store_si128(reinterpret_cast<__m128i*>(bp[c]), _mm_hadd_epi16(load128(y[c]->bsums), load128(y[c]->bsums + 8)));
        isum[c] = msum[c] = _mm512_setzero_si512();
      }
      const uint8_t* qs = gb + 256;
      // Plain unrolled loops: GCC declines to inline a generic-lambda unroll this large.
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const int sh = 16 * (k % 2);
        const __m512i s_src = _mm512_srli_epi32(sc[k / 2], sh);
        const __m512i s_lo = _mm512_and_si512(s_src, mbyte), s_hi = _mm512_and_si512(_mm512_srli_epi32(s_src, 8), mbyte);
        const __m512i m_src = _mm512_srli_epi32(mn[k / 2], sh);
        const __m512i m_pair = _mm512_or_si512(_mm512_and_si512(m_src, mbyte), _mm512_slli_epi32(_mm512_and_si512(m_src, mword_hi), 8));
        __m512i a_lo[NC], a_hi[NC];
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) a_lo[c] = a_hi[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const __m512i w = _mm512_loadu_si512(qs + 64 * (8 * k + j));
          const __m512i lo = _mm512_and_si512(w, m4), hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
#pragma GCC unroll 4
          for (int c = 0; c < NC; ++c) {
            int32_t alo, ahi;
            std::memcpy(&alo, y[c]->qs + 64 * k + 4 * j, 4);
            std::memcpy(&ahi, y[c]->qs + 64 * k + 32 + 4 * j, 4);
            a_lo[c] = _mm512_dpbusd_epi32(a_lo[c], lo, _mm512_set1_epi32(alo));
            a_hi[c] = _mm512_dpbusd_epi32(a_hi[c], hi, _mm512_set1_epi32(ahi));
          }
        }
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
          const __m512i is = _mm512_add_epi32(_mm512_mullo_epi32(a_lo[c], s_lo), _mm512_mullo_epi32(a_hi[c], s_hi));
          const __m512i ms = _mm512_madd_epi16(m_pair, _mm512_set1_epi32(bp[c][k]));
          if constexpr (kGemm) {
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), dd[c], acc[c]);
            acc_min[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ms), dm[c], acc_min[c]);
          } else {
            isum[c] = _mm512_add_epi32(isum[c], is);
            msum[c] = _mm512_add_epi32(msum[c], ms);
          }
        }
      }
      if constexpr (!kGemm) {
        for (int c = 0; c < NC; ++c) {
          acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), dd[c], acc[c]);
          acc_min[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum[c]), dm[c], acc_min[c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(t.y + c * t.y_stride, _mm512_sub_ps(acc[c], acc_min[c]));
  }
};

// One pass of kernel K over a 16-row x16 tile of NC columns: its batched order (run<NC, true>)
// on K::kBatchedPath, else the per-row vec_dot order.
template <typename K, int NC>
void run_x16_path(const TileArgs& t) {
  if (t.path == K::kBatchedPath) {
    K::template run<NC, true>(t);
  } else {
    K::template run<NC, false>(t);
  }
}

// A 16-row x16 tile of nc <= 4 columns in one pass of kernel K.
template <typename K>
void tile_x16_columns(const TileArgs& t, int nc) {
  switch (nc) {
    case 1: run_x16_path<K, 1>(t); break;
    case 2: run_x16_path<K, 2>(t); break;
    case 3: run_x16_path<K, 3>(t); break;
    default: run_x16_path<K, 4>(t); break;
  }
}

void tile_q4_K_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ4KGroupRows)
  tile_x16_columns<KernQ4Kx16>(t, nc);
}

// The x16 kernels' rows: lane r of l[k] is ggml lane k of row r; hsum_float_8's tree per row,
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), for all 16 rows at once.
inline __m512 hsum8_rows(const __m512* l) {
  const __m512 t0 = _mm512_add_ps(l[4], l[0]), t1 = _mm512_add_ps(l[5], l[1]);
  const __m512 t2 = _mm512_add_ps(l[6], l[2]), t3 = _mm512_add_ps(l[7], l[3]);
  return _mm512_add_ps(_mm512_add_ps(t0, t2), _mm512_add_ps(t1, t3));
}

// Q4_1 in the x16 layout (repack.h): one int32 lane per weight row. llama.cpp keeps 8 float
// lanes per row (lane l: the 4 products of weights 4 l .. 4 l + 3, low nibbles for l < 4, high
// for l >= 4), so here lane l of the 16 rows is vector acc[c][l]: per block, the nibbles of qs
// dword j meet the column's activation dword j (lane j) and j + 4 (lane j + 4) in dpbusd, and
// acc = fma(d_w d_a, isum, acc) as llama.cpp; summs (m_w s_a, mul then add) runs per row in a
// lane. At the end each row's 8 lanes are summed in hsum_float_8's tree, then summs is added.
struct KernQ41x16 {
  template <int NC>
  static void run(const TileArgs& t) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[NC][8], summs[NC];
    for (int c = 0; c < NC; ++c) {
      summs[c] = _mm512_setzero_ps();
      for (int l = 0; l < 8; ++l) acc[c][l] = _mm512_setzero_ps();
    }
    const int64_t nb = t.n / kQK4_1;
    const uint8_t* gb = t.w;
    for (int64_t b = 0; b < nb; ++b, gb += kQ4_1GroupBlockBytes) {
      prefetch_lines<static_cast<int>(kQ4_1GroupBlockBytes)>(gb + t.w_ahead);
      const __m512 dw = _mm512_cvtph_ps(load256(gb));
      const __m512 mw = _mm512_cvtph_ps(load256(gb + 32));
      __m512i q[8];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i w = _mm512_loadu_si512(gb + 64 + 64 * j);
        q[j] = _mm512_and_si512(w, m4);
        q[j + 4] = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
      }
#pragma GCC unroll 2
      for (int c = 0; c < NC; ++c) {
        const block_q8_1* y = reinterpret_cast<const block_q8_1*>(t.a + c * t.a_stride) + b;
        summs[c] = _mm512_add_ps(summs[c], _mm512_mul_ps(mw, _mm512_set1_ps(f16(y->s))));
        const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(f16(y->d)));
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
          int32_t av;
          std::memcpy(&av, y->qs + 4 * l, 4);
          const __m512i isum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[l], _mm512_set1_epi32(av));
          acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(isum), acc[c][l]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(t.y + c * t.y_stride, _mm512_add_ps(hsum8_rows(acc[c]), summs[c]));
  }
};

void tile_q4_1_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ4_1GroupRows)
  // At most two columns per pass (8 accumulators each); wider tiles rerun the group block from L1.
  if (nc == 1) {
    KernQ41x16::run<1>(t);
    return;
  }
  KernQ41x16::run<2>(t);
  if (nc > 2) {
    TileArgs rest = t;
    rest.a += 2 * t.a_stride;
    rest.y += 2 * t.y_stride;
    if (nc == 3) {
      KernQ41x16::run<1>(rest);
    } else {
      KernQ41x16::run<2>(rest);
    }
  }
}

// Q8_0 in the x16 layout (repack.h): one int32 lane per weight row, as Q4_1 x16. The weights are
// stored + 128 (unsigned for dpbusd), so each lane vector l starts from -128 times the sum of the
// column's activation dword l and holds, after dpbusd, the exact ggml lane-l integer sum of the 16
// rows; acc_l = fma(d_w d_a, isum_l, acc_l) as llama.cpp (ggml_vec_dot_q8_0_q8_0, tinyBLAS_Q0),
// and at the end hsum_float_8's tree per row. The weight vectors are reloaded from L1 per column
// (plain loads) so a pass holds two columns' 16 accumulators.
struct KernQ80x16 {
  template <int NC>
  static void run(const TileArgs& t) {
    __m512 acc[NC][8];
    for (int c = 0; c < NC; ++c)
      for (int l = 0; l < 8; ++l) acc[c][l] = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK8_0;
    const uint8_t* gb = t.w;
    const __m256i k128 = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t b = 0; b < nb; ++b, gb += kQ8_0GroupBlockBytes) {
      prefetch_lines<static_cast<int>(kQ8_0GroupBlockBytes)>(gb + t.w_ahead);
      const __m512 dw = _mm512_cvtph_ps(load256(gb));
#pragma GCC unroll 2
      for (int c = 0; c < NC; ++c) {
        const block_q8_0* y = reinterpret_cast<const block_q8_0*>(t.a + c * t.a_stride) + b;
        const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(f16(y->d)));
        // lane l: -128 * (a_4l + ... + a_4l+3)
        alignas(32) int32_t off[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(off),
                           _mm256_sub_epi32(_mm256_setzero_si256(),
                                            _mm256_dpbusd_epi32(_mm256_setzero_si256(), k128, load256(y->qs))));
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
          int32_t av;
          std::memcpy(&av, y->qs + 4 * l, 4);
          const __m512i w = _mm512_loadu_si512(gb + 32 + 64 * l);
          const __m512i isum = _mm512_dpbusd_epi32(_mm512_set1_epi32(off[l]), w, _mm512_set1_epi32(av));
          acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(isum), acc[c][l]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(t.y + c * t.y_stride, hsum8_rows(acc[c]));
  }
};

void tile_q8_0_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ8_0GroupRows)
  for (int c = 0; c < nc; c += 2) {
    TileArgs tc = t;
    tc.a += c * t.a_stride;
    tc.y += c * t.y_stride;
    if (nc - c == 1) {
      KernQ80x16::run<1>(tc);
    } else {
      KernQ80x16::run<2>(tc);
    }
  }
}

// Q6_K in the x16 layout (repack.h): one int32 lane per weight row. llama.cpp's vec_dot keeps 8
// int32 lanes per row and block (ggml_vec_dot_q6_K_q8_K; KernQ6K above): lane k = sum over the
// chunks j of sc[2 j + k / 4] * (the 4 products of weights 32 j + 4 k + 0..3), less
// 32 (B_2k sc_2k + B_2k+1 sc_2k+1) for the -32 offset (B: the activation's 16-weight sums), then
// acc_k = fma(d_a d_w, lane_k, acc_k) and hsum_float_8's tree per row at the end. Here lane k of
// the 16 rows is one vector: per (chunk, lane) one 64-byte vector of 6-bit values (a shift, a
// mask and a ternary op), vpmaddubsw against the column's activation dword and vpdpwssd with the
// rows' scales (the scale word duplicated in both halves of each row's dword); the offset term
// goes in first as one vpdpwssd of the rows' (32 sc_2k, 32 sc_2k+1) pairs with (-B_2k, -B_2k+1).
// The tiled path (ggml's K-quant matmul, batches of >= 8) takes each block's exact integer total
// per row (the sum of the lanes) and acc = fma(total d_w, d_a, acc).
struct KernQ6Kx16 {
  static constexpr MatmulPath kBatchedPath = MatmulPath::kTiled;  // run<NC, true>'s order
  // Per block, shared by the columns: the rows' duplicated scale words of sub-block 2 j (k < 4)
  // and 2 j + 1 (k >= 4), and the offset pairs of lane k.
  struct alignas(64) Scales {
    __m512i sub[2][8];  // [k / 4][j]
    __m512i off[8];     // [k]
  };

  static void block_scales(const uint8_t* gb, Scales* s) {
    const __m512i dup_lo = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4,
                                            4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i dup_hi = _mm512_add_epi16(dup_lo, _mm512_set1_epi16(16));
    const __m512i pair = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                                          20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int j = 0; j < 8; ++j) {
      // words 0-15: sub-block 2 j of rows 0-15; words 16-31: sub-block 2 j + 1
      const __m512i w = _mm512_cvtepi8_epi16(load256(gb + kQ6KScalesOffset + 32 * j));
      s->sub[0][j] = _mm512_permutexvar_epi16(dup_lo, w);
      s->sub[1][j] = _mm512_permutexvar_epi16(dup_hi, w);
      s->off[j] = _mm512_slli_epi16(_mm512_permutexvar_epi16(pair, w), 5);
    }
  }

  // One pass over the group for NC <= 4 columns (the unpacked weights serve every column).
  template <int NC, bool kTiled>
  static void run(const TileArgs& t) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[NC][8];
    for (int c = 0; c < NC; ++c)
      for (int k = 0; k < 8; ++k) acc[c][k] = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK_K;
    const uint8_t* gb = t.w;
    Scales sc;
    for (int64_t b = 0; b < nb; ++b, gb += kQ6KGroupBlockBytes) {
      prefetch_lines<static_cast<int>(kQ6KGroupBlockBytes)>(gb + t.w_ahead);
      block_scales(gb, &sc);
      const __m512 d_w = _mm512_cvtph_ps(load256(gb));
      const block_q8_K* y[NC];
      __m512 dd[NC];
      alignas(32) int32_t nbs[NC][8];  // (-B_2k, -B_2k+1) int16 pairs
      __m512i tot[NC];
      for (int c = 0; c < NC; ++c) {
        y[c] = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride) + b;
        dd[c] = _mm512_mul_ps(_mm512_set1_ps(y[c]->d), d_w);
        _mm256_store_si256(reinterpret_cast<__m256i*>(nbs[c]), _mm256_sub_epi16(_mm256_setzero_si256(), load256(y[c]->bsums)));
        tot[c] = _mm512_setzero_si512();
      }
      const uint8_t* qb = gb + kQ6KQuantsOffset;
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k, qb += kQ6KLaneBytes) {
        __m512i ql[4], qh[2];
        for (int v = 0; v < 4; ++v) ql[v] = _mm512_loadu_si512(qb + 64 * v);
        for (int u = 0; u < 2; ++u) qh[u] = _mm512_loadu_si512(qb + 256 + 64 * u);
        __m512i is0[NC], is1[NC];
        for (int c = 0; c < NC; ++c) {
          is0[c] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), sc.off[k], _mm512_set1_epi32(nbs[c][k]));
          is1[c] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const __m512i lo = j < 4 ? _mm512_and_si512(ql[j % 4], m4) : _mm512_and_si512(_mm512_srli_epi16(ql[j % 4], 4), m4);
          const __m512i h = qh[j / 4];
          const int m = j % 4;
          const __m512i hs = m == 0 ? _mm512_slli_epi16(h, 4) : m == 1 ? _mm512_slli_epi16(h, 2) : m == 2 ? h : _mm512_srli_epi16(h, 2);
          const __m512i q = _mm512_ternarylogic_epi32(lo, hs, m30, 0xF8);  // lo | (hs & 0x30)
          const __m512i s = sc.sub[k / 4][j];
#pragma GCC unroll 4
          for (int c = 0; c < NC; ++c) {
            int32_t av;
            std::memcpy(&av, y[c]->qs + 32 * j + 4 * k, 4);
            const __m512i p = _mm512_maddubs_epi16(q, _mm512_set1_epi32(av));
            if (j % 2 == 0) {
              is0[c] = _mm512_dpwssd_epi32(is0[c], p, s);
            } else {
              is1[c] = _mm512_dpwssd_epi32(is1[c], p, s);
            }
          }
        }
        for (int c = 0; c < NC; ++c) {
          const __m512i lane = _mm512_add_epi32(is0[c], is1[c]);
          if constexpr (kTiled) {
            tot[c] = _mm512_add_epi32(tot[c], lane);
          } else {
            acc[c][k] = _mm512_fmadd_ps(dd[c], _mm512_cvtepi32_ps(lane), acc[c][k]);
          }
        }
      }
      if constexpr (kTiled) {  // acc = fma(total d_w, d_a, acc)
        for (int c = 0; c < NC; ++c) {
          acc[c][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(tot[c]), d_w), _mm512_set1_ps(y[c]->d), acc[c][0]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(t.y + c * t.y_stride, kTiled ? acc[c][0] : hsum8_rows(acc[c]));
  }
};

void tile_q6_K_x16(const TileArgs& t, int nr, int nc) {
  (void)nr;  // always one whole group (kQ6KGroupRows)
  tile_x16_columns<KernQ6Kx16>(t, nc);
}

constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                            DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};

}  // namespace

const GemmKernel* gemm_kernel_avx512(DType w) {
  // Activation converters are the AVX2 ones (bit-exact with the scalar references; the tile work
  // dwarfs them).
  static const GemmKernel kTable[] = {
      {DType::kF32, nullptr, tile_entry<KernFloat<LoadF32>>, 4, 4, 4},
      {DType::kF16, act_quantizer_avx2(DType::kF16), tile_entry<KernFloat<LoadF16>>, 4, 4, 4},
      {DType::kBF16, act_quantizer_avx2(DType::kBF16), tile_entry<KernFloat<LoadBF16>>, 4, 4, 4},
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ8_0>>, 8, 8, 4},
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ4_0>>, 8, 8, 4},
      {DType::kQ8_1, act_quantizer_avx2(DType::kQ8_1), tile_entry<KernBlock32<WQ4_1>>, 8, 8, 4},
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ5_0>>, 8, 8, 4},
      {DType::kQ8_1, act_quantizer_avx2(DType::kQ8_1), tile_entry<KernBlock32<WQ5_1>>, 8, 8, 4},
      {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_entry<KernQ4K>, 8, 4, 4},
      {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_entry<KernQ6K>, 8, 4, 4},
  };
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; ++i) {
    if (kTypes[i] == w) return &kTable[i];
  }
  return nullptr;
}

const GemmKernel* gemm_kernel_q4_K_x16_avx512() {
  static const GemmKernel k = {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_q4_K_x16, kQ4KGroupRows,
                               kQ4KGroupRows, 4};
  return &k;
}

const GemmKernel* gemm_kernel_q8_0_x16_avx512() {
  static const GemmKernel k = {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_q8_0_x16, kQ8_0GroupRows,
                               kQ8_0GroupRows, 4};
  return &k;
}

const GemmKernel* gemm_kernel_q6_K_x16_avx512() {
  static const GemmKernel k = {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_q6_K_x16, kQ6KGroupRows,
                               kQ6KGroupRows, 4};
  return &k;
}

const GemmKernel* gemm_kernel_q4_1_x16_avx512() {
  static const GemmKernel k = {DType::kQ8_1, act_quantizer_avx2(DType::kQ8_1), tile_q4_1_x16, kQ4_1GroupRows,
                               kQ4_1GroupRows, 4};
  return &k;
}

}  // namespace er::kernels::detail
