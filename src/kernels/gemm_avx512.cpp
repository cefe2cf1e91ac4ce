// AVX-512 (F/BW/DQ/VL + VNNI) tile kernels, compiled with those target flags only.
//
// Two 32-weight blocks fill one zmm. Signed x signed products use VNNI's u8 x s8 dpbusd with an
// offset: the weights are made unsigned (Q8_0: q ^ 0x80 = q + 128; Q4_0: the raw nibble = q + 8)
// and the accumulator starts at -offset * sum(a) per lane group, so every block's integer sum is
// exactly the scalar reference's. K-quants accumulate sub-block scales in integers (maddubs +
// dpwssd) and touch floats once per 256 weights.
// Everything except gemm_kernel_avx512 has internal linkage (see gemm_tile.h).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"

namespace er::kernels::detail {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
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

// Two f16 values as floats in lanes 0 and 8 of a zmm, zero elsewhere (one lane per 32-block).
inline __m512 pair_lanes(uint16_t h0, uint16_t h1) {
  const __m128i v = _mm_cvtsi32_si128(static_cast<int>(h0) | static_cast<int>(h1) << 16);  // [h0, h1, 0...]
  const __m512 f = _mm512_cvtph_ps(_mm256_zextsi128_si256(v));  // lanes 0, 1; zeros above
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2), f);
}

// Prefetches `bytes` bytes at p (one line per 64) into L1: the same offset of the next row tile,
// so the short rows of quantized weights keep enough misses in flight for DRAM bandwidth.
template <int Bytes>
inline void prefetch_lines(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}

// ---- plain float types -------------------------------------------------------------------------

struct LoadF32 {
  static constexpr int kBytes = 4;  // per element
  static __m512 load(const uint8_t* p, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + i);
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 load(const uint8_t* p, int64_t i) { return _mm512_cvtph_ps(load256(p + 2 * i)); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load(const uint8_t* p, int64_t i) { return widen(load256(p + 2 * i)); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p + 2 * i)); }
};

template <typename L>
struct KernFloat {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
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
    if (i < t.n) {
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
};

// ---- 32-element block types, two blocks per zmm ------------------------------------------------

// Weight bytes of blocks b and b + 1 (zero when `two` is false) as unsigned operands for dpbusd,
// and the per-lane-group offset those unsigned values carry.
inline __m512i nibbles_pair(const uint8_t* q0, const uint8_t* q1, bool two) {
  const __m128i x0 = load128(q0);
  const __m128i x1 = two ? load128(q1) : _mm_setzero_si128();
  // [x0 | x1] -> [x0, x0, x1, x1] (128-bit lanes), then the odd lanes take the high nibbles.
  const __m512i z = _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(x0), x1, 1));
  const __m512i d = _mm512_shuffle_i64x2(z, z, 0x50);
  return _mm512_and_si512(_mm512_mask_srli_epi16(d, 0xFF00FF00u, d, 4), _mm512_set1_epi8(0x0F));
}

// The f16 scales of blocks b and b + 1 (h1 = 0 when absent) as floats, d0 in lanes 0-7, d1 in 8-15.
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
  static __m512i wq(const Block* b, bool two) {
    const __m512i q = join(load256(b[0].qs), two ? load256(b[1].qs) : _mm256_setzero_si256());
    return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};
struct WQ4_0 {
  using Block = block_q4_0;
  using Act = block_q8_0;
  static constexpr int kOffset = 8;  // nibble == q + 8
  static __m512i wq(const Block* b, bool two) { return nibbles_pair(b[0].qs, b[1].qs, two); }
};
struct WQ4_1 {
  using Block = block_q4_1;
  using Act = block_q8_1;
  static constexpr int kOffset = 0;
  static __m512i wq(const Block* b, bool two) { return nibbles_pair(b[0].qs, b[1].qs, two); }
};

// Q5: the 5th bits of blocks b and b + 1 (qh bit j = weight j) as 0x10 / 0x00 bytes, in the
// byte order nibbles_pair produces (weights 0-31 of b, then of b + 1).
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
  static __m512i wq(const Block* b, bool two) {
    return _mm512_or_si512(nibbles_pair(b[0].qs, b[1].qs, two), fifth_bits_pair(b[0].qh, b[1].qh, two));
  }
};
struct WQ5_1 {
  using Block = block_q5_1;
  using Act = block_q8_1;
  static constexpr int kOffset = 0;
  static __m512i wq(const Block* b, bool two) {
    return _mm512_or_si512(nibbles_pair(b[0].qs, b[1].qs, two), fifth_bits_pair(b[0].qh, b[1].qh, two));
  }
};

template <typename W>
struct KernBlock32 {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  using Block = typename W::Block;
  using Act = typename W::Act;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    __m512 acc[NR][NC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    const int64_t nb = t.n / kQK8_0;
    for (int64_t b = 0; b < nb; b += 2) {
      const bool two = b + 1 < nb;
      __m512i wq[NR];
      __m512 dx[NR];
      [[maybe_unused]] __m512 mx[NR];  // Q4_1: block offsets m in lanes 0 and 8, zero elsewhere
      for (int r = 0; r < NR; ++r) {
        const Block* blk = reinterpret_cast<const Block*>(t.w + r * t.w_stride) + b;
        prefetch_lines<2 * sizeof(Block)>(reinterpret_cast<const uint8_t*>(blk) + NR * t.w_stride);
        wq[r] = W::wq(blk, two);
        dx[r] = scales_pair(&blk[0].d, &blk[1].d, two);
        if constexpr (W::kOffset == 0) mx[r] = pair_lanes(blk[0].m, two ? blk[1].m : 0);
      }
      for (int c = 0; c < NC; ++c) {
        const Act* act = reinterpret_cast<const Act*>(t.a + c * t.a_stride) + b;
        const __m512i aq = join(load256(act[0].qs), two ? load256(act[1].qs) : _mm256_setzero_si256());
        const __m512 dy = scales_pair(&act[0].d, &act[1].d, two);
        __m512i init = _mm512_setzero_si512();
        if constexpr (W::kOffset != 0) {
          // -offset * (sum of a over each 4-byte lane group), so lanes sum to sum((q_w) * a).
          init = _mm512_sub_epi32(init, _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                            _mm512_set1_epi8(static_cast<char>(W::kOffset)), aq));
        }
        for (int r = 0; r < NR; ++r) {
          const __m512i isum = _mm512_dpbusd_epi32(init, wq[r], aq);
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dx[r], dy), acc[r][c]);
        }
        if constexpr (W::kOffset == 0) {
          // + m * s per block (s = d_a * sum(q_a)), one lane per block.
          const __m512 sy = pair_lanes(act[0].s, two ? act[1].s : 0);
          for (int r = 0; r < NR; ++r) acc[r][c] = _mm512_fmadd_ps(mx[r], sy, acc[r][c]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = hsum(acc[r][c]);
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

// Index vector for permutexvar_epi16: lane l (0..31) picks element base + l / group.
inline __m512i idx16(int base, int group) {
  alignas(64) int16_t v[32];
  for (int l = 0; l < 32; ++l) v[l] = static_cast<int16_t>(base + l / group);
  return _mm512_load_si512(v);
}

struct KernQ4K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    __m512 acc[NR][NC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i kIdx[4] = {idx16(0, 16), idx16(2, 16), idx16(4, 16), idx16(6, 16)};
    const __m256i kMinIdx = _mm512_castsi512_si256(idx16(8, 2));  // lane j -> min j / 2
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      __m512i msc[NR];     // int16 lanes 0-7 scales, 8-15 mins
      __m256i mins16[NR];  // lane j = min of sub-block j / 2, pairs with bsums[j]
      float d[NR], dmin[NR];
      for (int r = 0; r < NR; ++r) {
        const block_q4_K& x = reinterpret_cast<const block_q4_K*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(block_q4_K)>(reinterpret_cast<const uint8_t*>(&x) + NR * t.w_stride);
        const __m256i v = _mm256_cvtepu8_epi16(q4k_unpack_scales(x.scales));
        msc[r] = _mm512_castsi256_si512(v);
        mins16[r] = _mm256_permutexvar_epi16(kMinIdx, v);
        d[r] = f16(x.d);
        dmin[r] = f16(x.dmin);
      }
      __m512i isum[NR][NC];
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) isum[r][c] = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {  // 64 weights: sub-block 2k in low nibbles, 2k + 1 in high
        __m512i wq[NR], sv[NR];
        for (int r = 0; r < NR; ++r) {
          const block_q4_K& x = reinterpret_cast<const block_q4_K*>(t.w + r * t.w_stride)[b];
          const __m256i q = load256(x.qs + 32 * k);
          wq[r] = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
          sv[r] = _mm512_permutexvar_epi16(kIdx[k], msc[r]);
        }
        for (int c = 0; c < NC; ++c) {
          const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
          const __m512i a = load512(y.qs + 64 * k);
          for (int r = 0; r < NR; ++r) {
            isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(wq[r], a), sv[r]);
          }
        }
      }
      for (int c = 0; c < NC; ++c) {
        const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
        const __m256i bsums = load256(y.bsums);
        const __m512 dy = _mm512_set1_ps(y.d);
        for (int r = 0; r < NR; ++r) {
          // dy * (d * isum - dmin * msum)
          const __m512 msum = _mm512_cvtepi32_ps(_mm512_zextsi256_si512(_mm256_madd_epi16(mins16[r], bsums)));
          const __m512 v = _mm512_fnmadd_ps(msum, _mm512_set1_ps(dmin[r]),
                                            _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(d[r])));
          acc[r][c] = _mm512_fmadd_ps(v, dy, acc[r][c]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = hsum(acc[r][c]);
  }
};

struct KernQ6K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    __m512 acc[NR][NC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m3 = _mm512_set1_epi8(0x30);
    // High bits to bits 4-5: chunk j = 0 takes qh bits 0-1 (first 256-bit half, << 4) and 2-3
    // (second half, << 2); chunk j = 1 takes bits 4-5 (as they are) and 6-7 (>> 2).
    // Scale index for chunk (h, j): lane l -> sub-block 8 h + 4 j + l / 8.
    const __m512i kIdx[4] = {idx16(0, 8), idx16(4, 8), idx16(8, 8), idx16(12, 8)};
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      __m512i sc16[NR];  // int16 lanes 0-15: the sub-block scales
      __m512i sc32[NR];  // 32 * scales (lanes 0-15), upper lanes zero
      for (int r = 0; r < NR; ++r) {
        const block_q6_K& x = reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(&x) + NR * t.w_stride);
        const __m256i s = _mm256_cvtepi8_epi16(load128(x.scales));
        sc16[r] = _mm512_castsi256_si512(s);
        sc32[r] = _mm512_zextsi256_si512(_mm256_slli_epi16(s, 5));
      }
      __m512i isum[NR][NC];
      for (int c = 0; c < NC; ++c) {
        // q was taken as q6 + 32: start from -32 * sum_s sc[s] * bsums[s].
        const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
        const __m512i nbs = _mm512_zextsi256_si512(_mm256_sub_epi16(_mm256_setzero_si256(), load256(y.bsums)));
        for (int r = 0; r < NR; ++r) isum[r][c] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), sc32[r], nbs);
      }
      for (int h = 0; h < 2; ++h) {
        for (int j = 0; j < 2; ++j) {  // 64 weights 128 h + 64 j .. + 63
          __m512i wq[NR], sv[NR];
          for (int r = 0; r < NR; ++r) {
            const block_q6_K& x = reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b];
            const __m512i ql = load512(x.ql + 64 * h);
            const __m512i qh = _mm512_broadcast_i64x4(load256(x.qh + 32 * h));
            const __m512i low = j == 0 ? _mm512_and_si512(ql, m4) : _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
            // fixed shifts with a merge mask on the second half (variable word shifts are slow)
            const __m512i high = j == 0 ? _mm512_mask_slli_epi16(_mm512_slli_epi16(qh, 4), 0xFFFF0000u, qh, 2)
                                        : _mm512_mask_srli_epi16(qh, 0xFFFF0000u, qh, 2);
            wq[r] = _mm512_or_si512(low, _mm512_and_si512(high, m3));
            sv[r] = _mm512_permutexvar_epi16(kIdx[2 * h + j], sc16[r]);
          }
          for (int c = 0; c < NC; ++c) {
            const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
            const __m512i a = load512(y.qs + 128 * h + 64 * j);
            for (int r = 0; r < NR; ++r) {
              isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(wq[r], a), sv[r]);
            }
          }
        }
      }
      for (int r = 0; r < NR; ++r) {
        const float dx = f16(reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b].d);
        for (int c = 0; c < NC; ++c) {
          const float dy = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b].d;
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(dx * dy), acc[r][c]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = hsum(acc[r][c]);
  }
};

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
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ8_0>>, 4, 4, 4},
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ4_0>>, 4, 4, 4},
      {DType::kQ8_1, act_quantizer_avx2(DType::kQ8_1), tile_entry<KernBlock32<WQ4_1>>, 4, 4, 4},
      {DType::kQ8_0, act_quantizer_avx2(DType::kQ8_0), tile_entry<KernBlock32<WQ5_0>>, 4, 4, 4},
      {DType::kQ8_1, act_quantizer_avx2(DType::kQ8_1), tile_entry<KernBlock32<WQ5_1>>, 4, 4, 4},
      {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_entry<KernQ4K>, 4, 2, 4},
      {DType::kQ8_K, act_quantizer_avx2(DType::kQ8_K), tile_entry<KernQ6K>, 4, 4, 2},
  };
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; ++i) {
    if (kTypes[i] == w) return &kTable[i];
  }
  return nullptr;
}

}  // namespace er::kernels::detail
