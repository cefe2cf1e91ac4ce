// AVX2 + FMA + F16C tile kernels and activation quantizers (compiled with -mavx2 -mfma -mf16c only).
//
// Bit-identical to the scalar references (quant_act.h: llama.cpp's x86 arithmetic); integer sums
// per block are exact (maddubs pairs never saturate for these operand ranges).
// Everything except gemm_kernel_avx2 has internal linkage (see gemm_tile.h).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm_tile.h"
#include "kernels/quant_act.h"

namespace er::kernels::detail {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }

// The two f16 at p (a block's d and m, or d and s) as floats in lanes 0 and 1.
inline __m128 f16_pair(const uint16_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(w));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 32 nibbles (16 bytes, weight j low / j + 16 high) -> 32 bytes in [0, 15].
inline __m256i nibbles_32(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Prefetches `Bytes` bytes at p into L1 (the same offset of the next row tile: keeps enough DRAM
// misses in flight for the short rows of quantized weights).
template <int Bytes>
inline void prefetch_lines(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// sum over groups of 4 of u8 x s8 products, as 8 int32 lanes.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// ---- plain float types -------------------------------------------------------------------------

// Loads 8 weights/activations of element type E as floats.
// ggml_vec_dot's tail after the 64-element steps: f32 adds rounded products in float, f16 and
// bf16 in double.
template <typename L>
float tail_double(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
  double sum = head;
  for (int64_t i = i0; i < n; ++i) sum += static_cast<double>(L::scalar(w, i) * L::scalar(a, i));
  return static_cast<float>(sum);
}

struct LoadF32 {
  static constexpr int kBytes = 4;  // per element
  static __m256 load(const uint8_t* p, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static float scalar(const uint8_t* p, int64_t i) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    for (int64_t i = i0; i < n; ++i) head += scalar(w, i) * scalar(a, i);
    return head;
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
  }
  static float scalar(const uint8_t* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return f16(h);
  }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    return tail_double<LoadF16>(head, w, a, i0, n);
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* p, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float scalar(const uint8_t* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  static float tail(float head, const uint8_t* w, const uint8_t* a, int64_t i0, int64_t n) {
    return tail_double<LoadBF16>(head, w, a, i0, n);
  }
};

// f16 / bf16 / f32 weights in llama.cpp's orders (quant_act.h): kTinyBlas 16 lanes (two ymm per
// output), kVecDot 64 lanes (eight ymm per output) plus the tail.
template <typename L>
struct KernFloat {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    for (int c = 0; c < NC; ++c) {
      for (int r = 0; r < NR; ++r) {
        const uint8_t* w = t.w + r * t.w_stride;
        const uint8_t* a = t.a + c * t.a_stride;
        t.y[c * t.y_stride + r] = t.path == MatmulPath::kTinyBlas ? tinyblas(w, a, t.n) : vecdot(w, a, t.n);
      }
    }
  }
  static float tinyblas(const uint8_t* w, const uint8_t* a, int64_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      lo = _mm256_fmadd_ps(L::load(w, i), L::load(a, i), lo);
      hi = _mm256_fmadd_ps(L::load(w, i + 8), L::load(a, i + 8), hi);
    }
    alignas(32) float lanes[16];  // (the driver picks kTinyBlas for n % 16 == 0; this is the definition)
    _mm256_store_ps(lanes, lo);
    _mm256_store_ps(lanes + 8, hi);
    for (; i < n; ++i) lanes[i % 16] = __builtin_fmaf(L::scalar(w, i), L::scalar(a, i), lanes[i % 16]);
    return hsum(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
  }
  static float vecdot(const uint8_t* w, const uint8_t* a, int64_t n) {
    __m256 acc[8];
    for (auto& v : acc) v = _mm256_setzero_ps();
    const int64_t np = n - n % 64;
    for (int64_t i = 0; i < np; i += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(w + (i + 256) * L::kBytes), _MM_HINT_T0);
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(L::load(w, i + 8 * k), L::load(a, i + 8 * k), acc[k]);
    }
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_add_ps(acc[k], acc[k + 4]);
    for (int k = 0; k < 2; ++k) acc[k] = _mm256_add_ps(acc[k], acc[k + 2]);
    const float head = hsum(_mm256_add_ps(acc[0], acc[1]));
    return L::tail(head, w, a, np, n);
  }
};

// ---- 32-element block types: Q8_0, Q4_0 (x Q8_0) and Q4_1 (x Q8_1) -------------------------------

// W gives, per weight row and block: the 32 weights as bytes (`signed_q` for Q8_0/Q4_0, the
// unsigned nibbles for Q4_1), the f32 scale and (Q4_1) the f32 offset.
struct WQ8_0 {
  using Block = block_q8_0;
  using Act = block_q8_0;
  static constexpr bool kSigned = true;
  static __m256i q(const Block& b) { return load256(b.qs); }
};
struct WQ4_0 {
  using Block = block_q4_0;
  using Act = block_q8_0;
  static constexpr bool kSigned = true;
  static __m256i q(const Block& b) { return _mm256_sub_epi8(nibbles_32(b.qs), _mm256_set1_epi8(8)); }
};
struct WQ4_1 {
  using Block = block_q4_1;
  using Act = block_q8_1;
  static constexpr bool kSigned = false;
  static __m256i q(const Block& b) { return nibbles_32(b.qs); }
};

// Q5: the 32 bits of qh (bit j = 5th bit of weight j) as 0x10 / 0x00 bytes.
inline __m256i fifth_bits(const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const __m256i rep = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                                          _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                             0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, bit), bit), _mm256_set1_epi8(0x10));
}
struct WQ5_0 {
  using Block = block_q5_0;
  using Act = block_q8_0;
  static constexpr bool kSigned = true;
  static __m256i q(const Block& b) {
    return _mm256_sub_epi8(_mm256_or_si256(nibbles_32(b.qs), fifth_bits(b.qh)), _mm256_set1_epi8(16));
  }
};
struct WQ5_1 {
  using Block = block_q5_1;
  using Act = block_q8_1;
  static constexpr bool kSigned = false;
  static __m256i q(const Block& b) { return _mm256_or_si256(nibbles_32(b.qs), fifth_bits(b.qh)); }
};

template <typename W>
struct KernBlock32 {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  using Block = typename W::Block;
  using Act = typename W::Act;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    __m256 acc[NR][NC];
    float summs[NR][NC] = {};  // Q4_1: sum over blocks of m * s
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_setzero_ps();
    const int64_t nb = t.n / kQK8_0;
    for (int64_t b = 0; b < nb; ++b) {
      // The block's scales, converted once per block (not once per product): the weight rows'
      // d (and m), the activation columns' d (and s); the unsigned types keep d and m (d and s)
      // in one 32-bit word, converted together.
      __m256i wq[NR];  // signed weights (for the sign trick) or the unsigned nibbles
      float dw[NR], mw[NR], da[NC], sa[NC];
      for (int r = 0; r < NR; ++r) {
        const Block& blk = reinterpret_cast<const Block*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(Block)>(reinterpret_cast<const uint8_t*>(&blk) + NR * t.w_stride);
        wq[r] = W::q(blk);
        if constexpr (W::kSigned) {
          dw[r] = f16(blk.d);
        } else {
          const __m128 dm = f16_pair(&blk.d);
          dw[r] = _mm_cvtss_f32(dm);
          mw[r] = _mm_cvtss_f32(_mm_movehdup_ps(dm));
        }
      }
      for (int c = 0; c < NC; ++c) {
        const Act& act = reinterpret_cast<const Act*>(t.a + c * t.a_stride)[b];
        if constexpr (W::kSigned) {
          da[c] = f16(act.d);
        } else {
          const __m128 ds = f16_pair(&act.d);
          da[c] = _mm_cvtss_f32(ds);
          sa[c] = _mm_cvtss_f32(_mm_movehdup_ps(ds));
        }
      }
      for (int c = 0; c < NC; ++c) {
        const Act& act = reinterpret_cast<const Act*>(t.a + c * t.a_stride)[b];
        const __m256i aq = load256(act.qs);
        for (int r = 0; r < NR; ++r) {
          // signed x signed as |w| x (a * sign(w)); unsigned nibbles multiply directly.
          const __m256i wu = W::kSigned ? _mm256_sign_epi8(wq[r], wq[r]) : wq[r];
          const __m256i as = W::kSigned ? _mm256_sign_epi8(aq, wq[r]) : aq;
          const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(wu, as));
          // (d_w * d_a rounded once, as llama.cpp's _mm256_mul_ps of the two broadcasts)
          acc[r][c] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw[r] * da[c]), acc[r][c]);
          if constexpr (!W::kSigned) summs[r][c] += mw[r] * sa[c];
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = hsum(acc[r][c]) + summs[r][c];
  }
};

// ---- K-quants x Q8_K ---------------------------------------------------------------------------

// Unpacks Q4_K's 12 packed bytes into bytes 0-7 = the 8 sub-block scales and 8-15 = the 8 mins
// (the get_scale_min_k4 layout, four sub-blocks per 32-bit word operation).
inline void q4k_unpack_scales(const uint8_t* packed, uint32_t out[4]) {
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  out[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);  // mins 4-7
  out[2] = u[1] & 0x3f3f3f3fu;                                                  // mins 0-3
  out[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);          // scales 4-7
  out[0] = u[0] & 0x3f3f3f3fu;                                                  // scales 0-3
}

struct KernQ4K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  // Per output and block the exact integers isum and msum, then llama.cpp's repacked-Q4_K float
  // steps (quant_act.h) in scalar registers: per 64 weights (gemm) or per 256 (gemv).
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    const bool gemm = t.path == MatmulPath::kRepackGemm;
    float acc[NR][NC] = {}, acc_min[NR][NC] = {};
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t sc[NR][16];  // bytes 0-7 scales, 8-15 mins
      float d[NR], dmin[NR];
      for (int r = 0; r < NR; ++r) {
        const block_q4_K& x = reinterpret_cast<const block_q4_K*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(block_q4_K)>(reinterpret_cast<const uint8_t*>(&x) + NR * t.w_stride);
        uint32_t u[4];
        q4k_unpack_scales(x.scales, u);
        std::memcpy(sc[r], u, 16);
        d[r] = f16(x.d);
        dmin[r] = f16(x.dmin);
      }
      int32_t isum_b[NR][NC] = {}, msum_b[NR][NC] = {};
      for (int k = 0; k < 4; ++k) {  // 64 weights: sub-blocks 2k (low nibbles), 2k + 1 (high)
        __m256i lo[NR], hi[NR];
        for (int r = 0; r < NR; ++r) {
          const block_q4_K& x = reinterpret_cast<const block_q4_K*>(t.w + r * t.w_stride)[b];
          const __m256i q = load256(x.qs + 32 * k);
          lo[r] = _mm256_and_si256(q, m4);
          hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        }
        for (int c = 0; c < NC; ++c) {
          const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
          const __m256i a0 = load256(y.qs + 64 * k);
          const __m256i a1 = load256(y.qs + 64 * k + 32);
          const int b0 = y.bsums[4 * k] + y.bsums[4 * k + 1], b1 = y.bsums[4 * k + 2] + y.bsums[4 * k + 3];
          for (int r = 0; r < NR; ++r) {
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[r], a0), _mm256_set1_epi16(sc[r][2 * k]));
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[r], a1), _mm256_set1_epi16(sc[r][2 * k + 1]));
            const int isum = hsum_i32(_mm256_add_epi32(p0, p1));
            const int msum = sc[r][8 + 2 * k] * b0 + sc[r][9 + 2 * k] * b1;
            if (gemm) {
              acc[r][c] = __builtin_fmaf(static_cast<float>(isum), d[r] * y.d, acc[r][c]);
              acc_min[r][c] = __builtin_fmaf(static_cast<float>(msum), dmin[r] * y.d, acc_min[r][c]);
            } else {
              isum_b[r][c] += isum;
              msum_b[r][c] += msum;
            }
          }
        }
      }
      if (!gemm) {
        for (int c = 0; c < NC; ++c) {
          const float yd = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b].d;
          for (int r = 0; r < NR; ++r) {
            acc[r][c] = __builtin_fmaf(static_cast<float>(isum_b[r][c]), d[r] * yd, acc[r][c]);
            acc_min[r][c] = __builtin_fmaf(static_cast<float>(msum_b[r][c]), dmin[r] * yd, acc_min[r][c]);
          }
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = acc[r][c] - acc_min[r][c];
  }
};

struct KernQ6K {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxCols = 4;
  template <int NR, int NC>
  static void run(const TileArgs& t) {
    // vec_dot path: ggml's 8 lanes per output; tiled path (>= 8 rows): acc_t = fma(isum d_w, d_a, acc_t).
    const bool tiled = t.path == MatmulPath::kTiled;
    __m256 acc[NR][NC];
    float acc_t[NR][NC] = {};
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m3 = _mm256_set1_epi8(0x30);
    const int64_t nb = t.n / kQK_K;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i isum[NR][NC];
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) isum[r][c] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {  // 128 weights: ql[64 h ..], qh[32 h ..]
        for (int g = 0; g < 4; ++g) {  // 32 weights: sub-blocks 8 h + 2 g, + 1
          __m256i q[NR], scv[NR];
          for (int r = 0; r < NR; ++r) {
            const block_q6_K& x = reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b];
            const __m256i ql = load256(x.ql + 64 * h + 32 * (g & 1));
            const __m256i qh = load256(x.qh + 32 * h);
            const __m256i low = (g < 2) ? _mm256_and_si256(ql, m4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4);
            // high bits of weight group g sit at bit pair g of qh: move them to bits 4-5.
            __m256i high;
            switch (g) {
              case 0: high = _mm256_slli_epi16(qh, 4); break;
              case 1: high = _mm256_slli_epi16(qh, 2); break;
              case 2: high = qh; break;
              default: high = _mm256_srli_epi16(qh, 2); break;
            }
            q[r] = _mm256_or_si256(low, _mm256_and_si256(high, m3));
            const int s0 = 8 * h + 2 * g;
            scv[r] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(x.scales[s0])),
                                             _mm_set1_epi16(x.scales[s0 + 1]), 1);
          }
          for (int c = 0; c < NC; ++c) {
            const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
            const __m256i a = load256(y.qs + 128 * h + 32 * g);
            for (int r = 0; r < NR; ++r) {
              isum[r][c] = _mm256_add_epi32(isum[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], a), scv[r]));
            }
          }
        }
      }
      for (int r = 0; r < NR; ++r) {
        const block_q6_K& x = reinterpret_cast<const block_q6_K*>(t.w + r * t.w_stride)[b];
        prefetch_lines<sizeof(block_q6_K)>(reinterpret_cast<const uint8_t*>(&x) + 2 * NR * t.w_stride);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
        const float dx = f16(x.d);
        for (int c = 0; c < NC; ++c) {
          const block_q8_K& y = reinterpret_cast<const block_q8_K*>(t.a + c * t.a_stride)[b];
          // q was stored as q6 + 32: subtract 32 * sum_s sc[s] * bsums[s].
          const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y.bsums)), 5);
          const __m256i s = _mm256_sub_epi32(isum[r][c], corr);
          if (tiled) {
            acc_t[r][c] = __builtin_fmaf(static_cast<float>(hsum_i32(s)) * dx, y.d, acc_t[r][c]);
          } else {
            acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(y.d * dx), _mm256_cvtepi32_ps(s), acc[r][c]);
          }
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) t.y[c * t.y_stride + r] = tiled ? acc_t[r][c] : hsum(acc[r][c]);
  }
};

// ---- activation quantizers (bit-exact with quant_act.cpp) --------------------------------------

// Rounds 32 floats times `id` to nearest-even int32 and packs them to int8 in order.
inline __m256i round_pack_32(const float* x, __m256 id, __m256i* sum32) {
  __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 0), id));
  __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
  __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
  __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
  if (sum32 != nullptr) *sum32 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
  i0 = _mm256_packs_epi32(i0, i1);
  i2 = _mm256_packs_epi32(i2, i3);
  i0 = _mm256_packs_epi16(i0, i2);
  return _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline float absmax_32(const float* x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
  for (int j = 8; j < 32; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void quant_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const float amax = absmax_32(x);
    y[i].d = static_cast<uint16_t>(_cvtss_sh(amax / 127.f, _MM_FROUND_TO_NEAREST_INT));
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), round_pack_32(x, id, nullptr));
  }
}

void quant_q8_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_1*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const float amax = absmax_32(x);
    const float d = amax / 127.f;
    y[i].d = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
    __m256i sum32;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), round_pack_32(x, id, &sum32));
    y[i].s = static_cast<uint16_t>(_cvtss_sh(d * static_cast<float>(hsum_i32(sum32)), _MM_FROUND_TO_NEAREST_INT));
  }
}

void quant_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    const float amax = _mm_cvtss_f32(s);
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
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int j = 0; j < kQK_K; j += 32) {
      __m256i q[4];
      for (int u = 0; u < 4; ++u) {
        q[u] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * u), vs)), lim);
      }
      const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      const __m256i qs = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + j), qs);
    }
    for (int g = 0; g < kQK_K / 16; g += 2) {  // two 16-sums from 32 quants
      const __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[i].qs + 16 * g)));
      const __m256i q16b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[i].qs + 16 * g + 16)));
      y[i].bsums[g] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(q16, _mm256_set1_epi16(1))));
      y[i].bsums[g + 1] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(q16b, _mm256_set1_epi16(1))));
    }
    y[i].d = 1.0f / iscale;
  }
}

void quant_f16(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + 2 * i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) {
    const uint16_t h = static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
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
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_loadu_ps(x + i);
    const __m256i u = _mm256_castps_si256(f);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rne = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));
    const __m256i v = _mm256_blendv_epi8(rne, nan, is_nan);
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + 2 * i), packed);
  }
  for (; i < n; ++i) {
    const uint16_t b = bf16_scalar(x[i]);
    std::memcpy(y + 2 * i, &b, 2);
  }
}

constexpr GemmKernel kAvx2[] = {
    {DType::kF32, nullptr, tile_entry<KernFloat<LoadF32>>, 4, 4, 2},
    {DType::kF16, quant_f16, tile_entry<KernFloat<LoadF16>>, 4, 4, 2},
    {DType::kBF16, quant_bf16, tile_entry<KernFloat<LoadBF16>>, 4, 4, 2},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ8_0>>, 2, 2, 2},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ4_0>>, 2, 2, 2},
    {DType::kQ8_1, quant_q8_1, tile_entry<KernBlock32<WQ4_1>>, 2, 2, 2},
    {DType::kQ8_0, quant_q8_0, tile_entry<KernBlock32<WQ5_0>>, 2, 2, 2},
    {DType::kQ8_1, quant_q8_1, tile_entry<KernBlock32<WQ5_1>>, 2, 2, 2},
    {DType::kQ8_K, quant_q8_K, tile_entry<KernQ4K>, 2, 2, 2},
    {DType::kQ8_K, quant_q8_K, tile_entry<KernQ6K>, 2, 2, 2},
};
constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                            DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};

}  // namespace

ActQuantFn act_quantizer_avx2(DType act) {
  switch (act) {
    case DType::kQ8_0: return quant_q8_0;
    case DType::kQ8_1: return quant_q8_1;
    case DType::kQ8_K: return quant_q8_K;
    case DType::kF16: return quant_f16;
    case DType::kBF16: return quant_bf16;
    default: return nullptr;
  }
}

const GemmKernel* gemm_kernel_avx2(DType w) {
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; ++i) {
    if (kTypes[i] == w) return &kAvx2[i];
  }
  return nullptr;
}

}  // namespace er::kernels::detail
