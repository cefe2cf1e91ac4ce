// Quantized block layouts, byte for byte as llama.cpp's ggml-common.h defines them (reference.md §8).
//
// Every block is a plain struct of uint8/uint16 fields with no padding, so a tensor's bytes in a
// GGUF file can be read as an array of blocks. Half-precision fields hold f16 bits (core/f16.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace er::kernels {

inline constexpr int kQK4_0 = 32;   // weights per Q4_0 block
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;   // weights per K-quant super-block
inline constexpr int kKScaleBytes = 12;  // Q4_K/Q5_K: 8 packed 6-bit scales + 8 packed 6-bit mins

// Q4_0: w = d * (q - 8), q in [0, 15]. qs[j] holds weight j (low nibble) and j + 16 (high).
struct block_q4_0 {
  uint16_t d;                 // f16 scale
  uint8_t qs[kQK4_0 / 2];     // nibbles
};
static_assert(sizeof(block_q4_0) == 18, "wrong q4_0 block size/padding");

// Q4_1: w = d * q + m, q in [0, 15]. Same nibble order as Q4_0.
struct block_q4_1 {
  uint16_t d;                 // f16 scale
  uint16_t m;                 // f16 offset (the block minimum)
  uint8_t qs[kQK4_1 / 2];     // nibbles
};
static_assert(sizeof(block_q4_1) == 20, "wrong q4_1 block size/padding");

// Q5_0: w = d * (q - 16), q in [0, 31]; the 5th bit of weight j is bit j of qh (little-endian u32).
struct block_q5_0 {
  uint16_t d;                 // f16 scale
  uint8_t qh[4];              // 5th bits
  uint8_t qs[kQK5_0 / 2];     // low nibbles
};
static_assert(sizeof(block_q5_0) == 22, "wrong q5_0 block size/padding");

// Q5_1: w = d * q + m, q in [0, 31]. Same bit order as Q5_0.
struct block_q5_1 {
  uint16_t d;                 // f16 scale
  uint16_t m;                 // f16 offset
  uint8_t qh[4];              // 5th bits
  uint8_t qs[kQK5_1 / 2];     // low nibbles
};
static_assert(sizeof(block_q5_1) == 24, "wrong q5_1 block size/padding");

// Q8_0: w = d * q, q in [-127, 127].
struct block_q8_0 {
  uint16_t d;                 // f16 scale
  int8_t qs[kQK8_0];          // quants
};
static_assert(sizeof(block_q8_0) == 34, "wrong q8_0 block size/padding");

// Q4_K: 8 sub-blocks of 32 weights; sub-block s has a 6-bit scale sc[s] and 6-bit min m[s]:
// w = d * sc[s] * q - dmin * m[s], q in [0, 15]. Within each 64 weights, qs[32 bytes] holds the
// first 32 in low nibbles and the next 32 in high nibbles. scales[12] packing (get_scale_min_k4):
// s < 4: sc = scales[s] & 63, m = scales[s + 4] & 63; s >= 4: the low 4 bits sit in
// scales[s + 4] (sc low nibble, m high nibble) and the high 2 bits in the top bits of
// scales[s - 4] (sc) and scales[s] (m).
struct block_q4_K {
  uint16_t d;                     // f16 super-block scale for the sub-block scales
  uint16_t dmin;                  // f16 super-block scale for the sub-block mins
  uint8_t scales[kKScaleBytes];   // packed 6-bit scales and mins
  uint8_t qs[kQK_K / 2];          // nibbles
};
static_assert(sizeof(block_q4_K) == 144, "wrong q4_K block size/padding");

// Q6_K: 16 sub-blocks of 16 weights; w = d * scales[s] * (q - 32), q in [0, 63]. Per 128 weights:
// ql[64] holds low nibbles (weights l and l + 64 in ql[l], l + 32 and l + 96 in ql[l + 32]) and
// qh[32] the high 2 bits (weights l, l + 32, l + 64, l + 96 at bit pairs 0, 2, 4, 6 of qh[l]).
struct block_q6_K {
  uint8_t ql[kQK_K / 2];          // low 4 bits
  uint8_t qh[kQK_K / 4];          // high 2 bits
  int8_t scales[kQK_K / 16];      // 8-bit sub-block scales
  uint16_t d;                     // f16 super-block scale
};
static_assert(sizeof(block_q6_K) == 210, "wrong q6_K block size/padding");
static_assert(offsetof(block_q6_K, d) == 208, "q6_K d must follow the scales");

// The 6-bit scale and min of Q4_K sub-block `j` (0..7) from the packed scales (llama.cpp's
// get_scale_min_k4).
inline void q4_K_scale_min(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j - 0] >> 6) << 4));
  }
}

}  // namespace er::kernels
