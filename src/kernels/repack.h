// Load-time weight repacking: Q4_K rows interleaved in groups of 16 ("Q4_K x16") so the AVX-512
// kernels read every weight byte of a 16-row tile sequentially and keep one output row per int32
// lane (no horizontal sums). The arithmetic is unchanged: the same integers, scaled and summed in
// llama.cpp's order (quant_act.h), so results are bit-identical to the row-major layout.
//
// Layout. A repacked (n_rows, n_cols) tensor occupies exactly the bytes of the original (so it can
// be rewritten in place): row group g (rows 16 g .. 16 g + 15) starts at byte g * 16 * row_bytes
// and holds, for each 256-weight block b, a "group block" of 16 * 144 = 2304 bytes:
//   [0, 32)      d[16]    f16 super-block scales of rows 0..15
//   [32, 64)     dmin[16] f16 super-block min scales
//   [64, 256)    scales:  three arrays of 16 little-endian u32: bytes 0-3, 4-7, 8-11 of each
//                row's 12 packed scale bytes (row r at u32 index r of each array)
//   [256, 2304)  qs: for k = 0..3 (64 weights) and j = 0..7 (4 bytes), 64 bytes: bytes
//                32 k + 4 j .. 32 k + 4 j + 3 of each row's qs, row r at bytes 4 r .. 4 r + 3
//                (low nibbles: weights 64 k + 4 j + 0..3, high nibbles: 64 k + 32 + 4 j + 0..3)
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/quant_formats.h"

namespace er::kernels {

// How a Matrix's bytes are arranged (matmul.h).
enum class Layout : uint8_t {
  kRowMajor,  // GGUF order: n_rows contiguous rows of blocks
  kQ4Kx16,    // Q4_K rows interleaved in groups of 16 (see the top of this file)
  kX8,        // blocks of 8 rows interleaved (below)
  kQ4_1x16,   // Q4_1 rows interleaved in groups of 16 (below)
  kQ8_0x16,   // Q8_0 rows interleaved in groups of 16, quants offset to unsigned (below)
  kQ6Kx16,    // Q6_K rows interleaved in groups of 16, 6-bit quants regrouped by ggml lane (below)
};

inline constexpr int kQ4KGroupRows = 16;
inline constexpr size_t kQ4KGroupBlockBytes = kQ4KGroupRows * sizeof(block_q4_K);  // 2304
// The longest row repacked (bytes); longer rows stay row-major (keeps the fallback's stack
// buffer of matmul.cpp bounded).
inline constexpr size_t kMaxRepackRowBytes = 16 * 1024;

// Whether a Q4_K tensor of this shape can take the x16 layout: rows a multiple of 16, columns a
// multiple of 256, rows at most kMaxRepackRowBytes.
bool can_repack_q4_K_x16(int64_t n_rows, int64_t n_cols);

// Bytes of one 16-row group (16 * row bytes); the scratch size repack_q4_K_x16_inplace needs.
size_t q4_K_x16_group_bytes(int64_t n_cols);

// Repacks row-major Q4_K `src` into `dst` (both n_rows * row bytes; they must not overlap).
// REQUIRES: can_repack_q4_K_x16(n_rows, n_cols).
void repack_q4_K_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// The same in place, one group at a time through `scratch` (q4_K_x16_group_bytes(n_cols) bytes).
void repack_q4_K_x16_inplace(void* data, int64_t n_rows, int64_t n_cols, uint8_t* scratch);

// Rebuilds block `b` of row `row` (0..15) of the group starting at `group` as a GGUF block.
void unpack_q4_K_x16_block(const uint8_t* group, int row, int64_t b, block_q4_K* out);

// Rebuilds row `row` (0..15) of the group starting at `group` as a row-major GGUF row.
void unpack_q4_K_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out);

// ---- x8: block interleave of 8 rows ----------------------------------------------------------
//
// For the 32-weight block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and Q6_K: row group g (rows
// 8 g .. 8 g + 7) starts at byte g * 8 * row_bytes and holds block b of its rows 0..7 back to back
// at (8 b + r) * block_bytes. The blocks themselves are unchanged, so every kernel's arithmetic is
// too (same results, bit for bit); only the addresses differ. One row tile of 8 rows then reads a
// single sequential stream instead of 8 strided ones, which is what lets batch-1 decode approach
// the memory's streaming rate.
inline constexpr int kX8Rows = 8;

// Whether a tensor of this type and shape can take the x8 layout: a type above, rows a multiple
// of 8, whole blocks per row, rows at most kMaxRepackRowBytes.
bool can_repack_x8(DType type, int64_t n_rows, int64_t n_cols);

// Repacks row-major `src` into `dst` (n_rows * row bytes each; they must not overlap).
// REQUIRES: can_repack_x8(type, n_rows, n_cols).
void repack_x8(DType type, const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// Rebuilds row `row` (0..7) of the x8 group starting at `group` as a row-major GGUF row.
void unpack_x8_row(DType type, const uint8_t* group, int row, int64_t n_cols, void* out);

// ---- Q4_1 x16 -----------------------------------------------------------------------------------
//
// Q4_1 rows in groups of 16, one int32 lane per row (as Q4_K x16): row group g starts at byte
// g * 16 * row_bytes and holds, per 32-weight block b, a group block of 16 * 20 = 320 bytes:
//   [0, 32)     d[16]  f16 scales of rows 0..15
//   [32, 64)    m[16]  f16 mins
//   [64, 320)   qs: for j = 0..3, 64 bytes: qs bytes 4 j .. 4 j + 3 of each row, row r at 4 r
// (low nibbles: weights 4 j .. 4 j + 3, the ggml lane j; high nibbles: weights 16 + 4 j ..,
// lane j + 4). The AVX-512 kernel keeps llama.cpp's 8 float lanes per row as 8 vectors of 16 rows,
// so the arithmetic and its order are unchanged.
inline constexpr int kQ4_1GroupRows = 16;
inline constexpr size_t kQ4_1GroupBlockBytes = kQ4_1GroupRows * sizeof(block_q4_1);  // 320

// Rows a multiple of 16, whole blocks, rows at most kMaxRepackRowBytes.
bool can_repack_q4_1_x16(int64_t n_rows, int64_t n_cols);

// Repacks row-major Q4_1 `src` into `dst` (same size; no overlap).
// REQUIRES: can_repack_q4_1_x16(n_rows, n_cols).
void repack_q4_1_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// Rebuilds row `row` (0..15) of the group starting at `group` as a row-major GGUF row.
void unpack_q4_1_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out);

// ---- Q8_0 x16 -----------------------------------------------------------------------------------
//
// Q8_0 rows in groups of 16, one int32 lane per row (as Q4_1 x16): row group g starts at byte
// g * 16 * row_bytes and holds, per 32-weight block b, a group block of 16 * 34 = 544 bytes:
//   [0, 32)     d[16]  f16 scales of rows 0..15
//   [32, 544)   qs: for l = 0..7, 64 bytes: qs bytes 4 l .. 4 l + 3 of each row, row r at 4 r,
//               each stored as q ^ 0x80 (= q + 128: unsigned, the operand vpdpbusd multiplies)
// Lane l holds weights 4 l .. 4 l + 3, the ggml lane l, so the AVX-512 kernel keeps llama.cpp's
// 8 float lanes per row as 8 vectors of 16 rows; the +128 is taken back exactly in the integers.
inline constexpr int kQ8_0GroupRows = 16;
inline constexpr size_t kQ8_0GroupBlockBytes = kQ8_0GroupRows * sizeof(block_q8_0);  // 544

// Rows a multiple of 16, whole blocks, rows at most kMaxRepackRowBytes.
bool can_repack_q8_0_x16(int64_t n_rows, int64_t n_cols);

// Repacks row-major Q8_0 `src` into `dst` (same size; no overlap).
// REQUIRES: can_repack_q8_0_x16(n_rows, n_cols).
void repack_q8_0_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// Rebuilds row `row` (0..15) of the group starting at `group` as a row-major GGUF row.
void unpack_q8_0_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out);

// ---- Q6_K x16 -----------------------------------------------------------------------------------
//
// Q6_K rows in groups of 16, one int32 lane per row (as Q4_K x16): row group g starts at byte
// g * 16 * row_bytes and holds, per 256-weight block b, a group block of 16 * 210 = 3360 bytes:
//   [0, 32)       d[16]  f16 scales of rows 0..15
//   [32, 288)     scales: sub-block s (16 weights) of row r at byte 32 + 16 s + r (int8)
//   [288, 3360)   quants, 384 bytes per ggml lane k = 0..7 at 288 + 384 k. Lane k of chunk j
//                 (32 weights) is weights 32 j + 4 k + 0..3; write q(j, i) for the 6-bit value
//                 (0..63) of weight 32 j + 4 k + i. Row r's 4 bytes sit at 4 r + i of each 64:
//                   [64 v, 64 v + 64)        v = 0..3: q(v, i) & 15 | (q(v + 4, i) & 15) << 4
//                   [256 + 64 u, + 64)       u = 0..1: bits 2 m, 2 m + 1 = q(4 u + m, i) >> 4
// so the AVX-512 kernel gets each (chunk, lane) of 16 rows as one 64-byte vector of 6-bit values
// with a shift, a mask and a ternary logic op, and keeps llama.cpp's 8 lanes per row
// (ggml_vec_dot_q6_K_q8_K) as 8 vectors of 16 rows: the arithmetic and its order are unchanged.
inline constexpr int kQ6KGroupRows = 16;
inline constexpr size_t kQ6KGroupBlockBytes = kQ6KGroupRows * sizeof(block_q6_K);  // 3360
inline constexpr size_t kQ6KScalesOffset = 32;   // after d[16]
inline constexpr size_t kQ6KQuantsOffset = 288;  // after the 16 x 16 scales
inline constexpr size_t kQ6KLaneBytes = 384;     // per ggml lane: 4 x 64 low nibbles, 2 x 64 high bits
static_assert(kQ6KQuantsOffset + 8 * kQ6KLaneBytes == kQ6KGroupBlockBytes);

// Rows a multiple of 16, columns a multiple of 256, rows at most kMaxRepackRowBytes.
bool can_repack_q6_K_x16(int64_t n_rows, int64_t n_cols);

// Repacks row-major Q6_K `src` into `dst` (same size; no overlap).
// REQUIRES: can_repack_q6_K_x16(n_rows, n_cols).
void repack_q6_K_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// Rebuilds row `row` (0..15) of the group starting at `group` as a row-major GGUF row.
void unpack_q6_K_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out);

// ---- any layout ----------------------------------------------------------------------------------

// Rows per group of `layout` (1 for kRowMajor).
int group_rows(Layout layout);

// Whether a (n_rows, n_cols) matrix of `type` can be stored in `layout` (kRowMajor: always): the
// layout's type and its can_repack_* shape rule.
bool can_repack(Layout layout, DType type, int64_t n_rows, int64_t n_cols);

// Repacks row-major `src` into `dst` in `layout` (kRowMajor: a copy).
// REQUIRES: the layout's can_repack_* holds for (type, n_rows, n_cols).
void repack(Layout layout, DType type, const void* src, void* dst, int64_t n_rows, int64_t n_cols);

// Row `row` of a matrix stored in `layout` at `data` (row_bytes per row), rebuilt in GGUF order at out.
void unpack_row(Layout layout, DType type, const uint8_t* data, int64_t row, size_t row_bytes, int64_t n_cols,
                void* out);

}  // namespace er::kernels
