// Q4_K x16 repacking (repack.h).
#include "kernels/repack.h"

#include <cstring>
#include <string>

#include "core/check.h"

namespace er::kernels {
namespace {

constexpr size_t kQsOffset = 256;  // d, dmin, scales before the quants

void pack_block(const block_q4_K* const* rows, uint8_t* out) {
  for (int r = 0; r < kQ4KGroupRows; ++r) {
    const block_q4_K& x = *rows[r];
    std::memcpy(out + 2 * r, &x.d, 2);
    std::memcpy(out + 32 + 2 * r, &x.dmin, 2);
    for (int i = 0; i < 3; ++i) std::memcpy(out + 64 + 64 * i + 4 * r, x.scales + 4 * i, 4);
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 8; ++j) {
        std::memcpy(out + kQsOffset + 64 * (8 * k + j) + 4 * r, x.qs + 32 * k + 4 * j, 4);
      }
    }
  }
}

}  // namespace

bool can_repack_q4_K_x16(int64_t n_rows, int64_t n_cols) {
  return n_rows > 0 && n_cols > 0 && n_rows % kQ4KGroupRows == 0 && n_cols % kQK_K == 0 &&
         static_cast<size_t>(n_cols / kQK_K) * sizeof(block_q4_K) <= kMaxRepackRowBytes;
}

size_t q4_K_x16_group_bytes(int64_t n_cols) {
  return static_cast<size_t>(n_cols / kQK_K) * kQ4KGroupBlockBytes;
}

void repack_q4_K_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  ER_CHECK(can_repack_q4_K_x16(n_rows, n_cols),
           "repack_q4_K_x16: shape " + std::to_string(n_rows) + " x " + std::to_string(n_cols) + " not repackable");
  const int64_t nb = n_cols / kQK_K;
  const auto* in = static_cast<const block_q4_K*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < n_rows / kQ4KGroupRows; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      const block_q4_K* rows[kQ4KGroupRows];
      for (int r = 0; r < kQ4KGroupRows; ++r) rows[r] = in + (g * kQ4KGroupRows + r) * nb + b;
      pack_block(rows, out + (g * nb + b) * kQ4KGroupBlockBytes);
    }
  }
}

void repack_q4_K_x16_inplace(void* data, int64_t n_rows, int64_t n_cols, uint8_t* scratch) {
  ER_CHECK(can_repack_q4_K_x16(n_rows, n_cols),
           "repack_q4_K_x16_inplace: shape " + std::to_string(n_rows) + " x " + std::to_string(n_cols) +
               " not repackable");
  const size_t group = q4_K_x16_group_bytes(n_cols);
  auto* p = static_cast<uint8_t*>(data);
  for (int64_t g = 0; g < n_rows / kQ4KGroupRows; ++g) {
    std::memcpy(scratch, p + g * group, group);
    repack_q4_K_x16(scratch, p + g * group, kQ4KGroupRows, n_cols);
  }
}

void unpack_q4_K_x16_block(const uint8_t* group, int row, int64_t b, block_q4_K* out) {
  const uint8_t* in = group + b * kQ4KGroupBlockBytes;
  std::memcpy(&out->d, in + 2 * row, 2);
  std::memcpy(&out->dmin, in + 32 + 2 * row, 2);
  for (int i = 0; i < 3; ++i) std::memcpy(out->scales + 4 * i, in + 64 + 64 * i + 4 * row, 4);
  for (int k = 0; k < 4; ++k) {
    for (int j = 0; j < 8; ++j) {
      std::memcpy(out->qs + 32 * k + 4 * j, in + kQsOffset + 64 * (8 * k + j) + 4 * row, 4);
    }
  }
}

void unpack_q4_K_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out) {
  auto* blocks = static_cast<block_q4_K*>(out);
  for (int64_t b = 0; b < n_cols / kQK_K; ++b) unpack_q4_K_x16_block(group, row, b, blocks + b);
}

namespace {

// Block bytes of an x8-capable type, 0 for the others.
size_t x8_block_bytes(DType type) {
  switch (type) {
    case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1: case DType::kQ6_K:
      return dtype_traits(type).block_bytes;
    default:
      return 0;
  }
}

}  // namespace

bool can_repack_x8(DType type, int64_t n_rows, int64_t n_cols) {
  const size_t bb = x8_block_bytes(type);
  if (bb == 0 || n_rows <= 0 || n_cols <= 0 || n_rows % kX8Rows != 0) return false;
  const auto row = dtype_row_bytes(type, static_cast<uint64_t>(n_cols));
  return row.has_value() && *row <= kMaxRepackRowBytes;
}

void repack_x8(DType type, const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  ER_CHECK(can_repack_x8(type, n_rows, n_cols), "repack_x8: " + std::string(dtype_name(type)) + " " +
                                                    std::to_string(n_rows) + " x " + std::to_string(n_cols) +
                                                    " not repackable");
  const size_t bb = x8_block_bytes(type);
  const size_t row = static_cast<size_t>(*dtype_row_bytes(type, static_cast<uint64_t>(n_cols)));
  const size_t nb = row / bb;
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < n_rows / kX8Rows; ++g) {
    const uint8_t* gin = in + static_cast<size_t>(g) * kX8Rows * row;
    uint8_t* gout = out + static_cast<size_t>(g) * kX8Rows * row;
    for (size_t b = 0; b < nb; ++b) {
      for (int r = 0; r < kX8Rows; ++r) std::memcpy(gout + (kX8Rows * b + r) * bb, gin + r * row + b * bb, bb);
    }
  }
}

void unpack_x8_row(DType type, const uint8_t* group, int row, int64_t n_cols, void* out) {
  const size_t bb = x8_block_bytes(type);
  ER_CHECK(bb != 0 && row >= 0 && row < kX8Rows, "unpack_x8_row: bad type or row");
  const size_t nb = static_cast<size_t>(*dtype_row_bytes(type, static_cast<uint64_t>(n_cols))) / bb;
  auto* o = static_cast<uint8_t*>(out);
  for (size_t b = 0; b < nb; ++b) std::memcpy(o + b * bb, group + (kX8Rows * b + static_cast<size_t>(row)) * bb, bb);
}

// ---- the 32-weight block types in groups of 16 rows (Q4_1 x16, Q8_0 x16) ----------------------

namespace {

static_assert(kQ4_1GroupRows == 16 && kQ8_0GroupRows == 16 && kQ6KGroupRows == 16);

// Rows a multiple of 16, whole blocks, rows at most kMaxRepackRowBytes.
template <typename Block, int QK>
bool can_repack_blocks_x16(int64_t n_rows, int64_t n_cols) {
  return n_rows > 0 && n_cols > 0 && n_rows % 16 == 0 && n_cols % QK == 0 &&
         static_cast<size_t>(n_cols / QK) * sizeof(Block) <= kMaxRepackRowBytes;
}

// Calls put(group block, block, r) for every block of every row of row-major `src`, with the
// 16 * sizeof(Block)-byte group block of its row group and block index in `dst`.
template <typename Block, int QK, typename Put>
void repack_blocks_x16(const char* what, const void* src, void* dst, int64_t n_rows, int64_t n_cols, Put put) {
  ER_CHECK((can_repack_blocks_x16<Block, QK>(n_rows, n_cols)),
           std::string(what) + ": shape " + std::to_string(n_rows) + " x " + std::to_string(n_cols) + " not repackable");
  const int64_t nb = n_cols / QK;
  const auto* in = static_cast<const Block*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < n_rows / 16; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* o = out + (g * nb + b) * 16 * sizeof(Block);
      for (int r = 0; r < 16; ++r) put(o, in[(g * 16 + r) * nb + b], r);
    }
  }
}

// Calls get(group block, block) for every block of row `row` (0..15) of the group at `group`.
template <typename Block, int QK, typename Get>
void unpack_blocks_x16(const char* what, const uint8_t* group, int row, int64_t n_cols, void* out, Get get) {
  ER_CHECK(row >= 0 && row < 16, std::string(what) + ": bad row");
  auto* blocks = static_cast<Block*>(out);
  for (int64_t b = 0; b < n_cols / QK; ++b) get(group + b * 16 * sizeof(Block), blocks[b]);
}

}  // namespace

bool can_repack_q4_1_x16(int64_t n_rows, int64_t n_cols) { return can_repack_blocks_x16<block_q4_1, kQK4_1>(n_rows, n_cols); }

void repack_q4_1_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  repack_blocks_x16<block_q4_1, kQK4_1>("repack_q4_1_x16", src, dst, n_rows, n_cols,
                                        [](uint8_t* o, const block_q4_1& x, int r) {
                                          std::memcpy(o + 2 * r, &x.d, 2);
                                          std::memcpy(o + 32 + 2 * r, &x.m, 2);
                                          for (int j = 0; j < 4; ++j) std::memcpy(o + 64 + 64 * j + 4 * r, x.qs + 4 * j, 4);
                                        });
}

void unpack_q4_1_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out) {
  unpack_blocks_x16<block_q4_1, kQK4_1>("unpack_q4_1_x16_row", group, row, n_cols, out,
                                        [row](const uint8_t* in, block_q4_1& x) {
                                          std::memcpy(&x.d, in + 2 * row, 2);
                                          std::memcpy(&x.m, in + 32 + 2 * row, 2);
                                          for (int j = 0; j < 4; ++j) std::memcpy(x.qs + 4 * j, in + 64 + 64 * j + 4 * row, 4);
                                        });
}

bool can_repack_q8_0_x16(int64_t n_rows, int64_t n_cols) { return can_repack_blocks_x16<block_q8_0, kQK8_0>(n_rows, n_cols); }

void repack_q8_0_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  repack_blocks_x16<block_q8_0, kQK8_0>("repack_q8_0_x16", src, dst, n_rows, n_cols,
                                        [](uint8_t* o, const block_q8_0& x, int r) {
                                          std::memcpy(o + 2 * r, &x.d, 2);
                                          for (int i = 0; i < kQK8_0; ++i) {
                                            o[32 + 64 * (i / 4) + 4 * r + i % 4] = static_cast<uint8_t>(x.qs[i]) ^ 0x80u;
                                          }
                                        });
}

void unpack_q8_0_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out) {
  unpack_blocks_x16<block_q8_0, kQK8_0>("unpack_q8_0_x16_row", group, row, n_cols, out,
                                        [row](const uint8_t* in, block_q8_0& x) {
                                          std::memcpy(&x.d, in + 2 * row, 2);
                                          for (int i = 0; i < kQK8_0; ++i) {
                                            x.qs[i] = static_cast<int8_t>(in[32 + 64 * (i / 4) + 4 * row + i % 4] ^ 0x80u);
                                          }
                                        });
}

// ---- Q6_K x16 ------------------------------------------------------------------------------------

namespace {

// The 6-bit value (0..63) of weight w (0..255) of a Q6_K block, and its bytes (ggml's
// dequantize_row_q6_K: weight 128 h + 32 i + l takes the low nibble of ql[64 h + 32 (i % 2) + l]
// for i < 2, the high one otherwise, and bits 2 i, 2 i + 1 of qh[32 h + l]).
int q6_get(const block_q6_K& x, int w) {
  const int h = w / 128, i = (w % 128) / 32, l = w % 32;
  const int lo = (x.ql[64 * h + 32 * (i % 2) + l] >> (4 * (i / 2))) & 15;
  const int hi = (x.qh[32 * h + l] >> (2 * i)) & 3;
  return lo | hi << 4;
}

// Sets weight w to v in a block whose ql and qh start zeroed (each weight's bits are set once).
void q6_set(block_q6_K& x, int w, int v) {
  const int h = w / 128, i = (w % 128) / 32, l = w % 32;
  x.ql[64 * h + 32 * (i % 2) + l] |= static_cast<uint8_t>((v & 15) << (4 * (i / 2)));
  x.qh[32 * h + l] |= static_cast<uint8_t>((v >> 4) << (2 * i));
}

}  // namespace

bool can_repack_q6_K_x16(int64_t n_rows, int64_t n_cols) { return can_repack_blocks_x16<block_q6_K, kQK_K>(n_rows, n_cols); }

void repack_q6_K_x16(const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  repack_blocks_x16<block_q6_K, kQK_K>("repack_q6_K_x16", src, dst, n_rows, n_cols, [](uint8_t* o, const block_q6_K& x, int r) {
    std::memcpy(o + 2 * r, &x.d, 2);
    for (int s = 0; s < 16; ++s) o[kQ6KScalesOffset + 16 * s + r] = static_cast<uint8_t>(x.scales[s]);
    for (int k = 0; k < 8; ++k) {
      uint8_t* q = o + kQ6KQuantsOffset + kQ6KLaneBytes * k + 4 * r;
      for (int i = 0; i < 4; ++i) {
        for (int v = 0; v < 4; ++v) {
          q[64 * v + i] = static_cast<uint8_t>((q6_get(x, 32 * v + 4 * k + i) & 15) | (q6_get(x, 32 * (v + 4) + 4 * k + i) & 15) << 4);
        }
        for (int u = 0; u < 2; ++u) {
          int bits = 0;
          for (int m = 0; m < 4; ++m) bits |= (q6_get(x, 32 * (4 * u + m) + 4 * k + i) >> 4) << (2 * m);
          q[256 + 64 * u + i] = static_cast<uint8_t>(bits);
        }
      }
    }
  });
}

void unpack_q6_K_x16_row(const uint8_t* group, int row, int64_t n_cols, void* out) {
  unpack_blocks_x16<block_q6_K, kQK_K>("unpack_q6_K_x16_row", group, row, n_cols, out, [row](const uint8_t* in, block_q6_K& x) {
    std::memcpy(&x.d, in + 2 * row, 2);
    for (int s = 0; s < 16; ++s) x.scales[s] = static_cast<int8_t>(in[kQ6KScalesOffset + 16 * s + row]);
    std::memset(x.ql, 0, sizeof x.ql);
    std::memset(x.qh, 0, sizeof x.qh);
    for (int k = 0; k < 8; ++k) {
      const uint8_t* q = in + kQ6KQuantsOffset + kQ6KLaneBytes * k + 4 * row;
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 8; ++j) {
          const int lo = (q[64 * (j % 4) + i] >> (4 * (j / 4))) & 15;
          const int hi = (q[256 + 64 * (j / 4) + i] >> (2 * (j % 4))) & 3;
          q6_set(x, 32 * j + 4 * k + i, lo | hi << 4);
        }
      }
    }
  });
}

int group_rows(Layout layout) {
  switch (layout) {
    case Layout::kQ4Kx16: return kQ4KGroupRows;
    case Layout::kQ4_1x16: return kQ4_1GroupRows;
    case Layout::kQ8_0x16: return kQ8_0GroupRows;
    case Layout::kQ6Kx16: return kQ6KGroupRows;
    case Layout::kX8: return kX8Rows;
    case Layout::kRowMajor: break;
  }
  return 1;
}

bool can_repack(Layout layout, DType type, int64_t n_rows, int64_t n_cols) {
  switch (layout) {
    case Layout::kQ4Kx16: return type == DType::kQ4_K && can_repack_q4_K_x16(n_rows, n_cols);
    case Layout::kQ4_1x16: return type == DType::kQ4_1 && can_repack_q4_1_x16(n_rows, n_cols);
    case Layout::kQ8_0x16: return type == DType::kQ8_0 && can_repack_q8_0_x16(n_rows, n_cols);
    case Layout::kQ6Kx16: return type == DType::kQ6_K && can_repack_q6_K_x16(n_rows, n_cols);
    case Layout::kX8: return can_repack_x8(type, n_rows, n_cols);
    case Layout::kRowMajor: break;
  }
  return true;
}

void repack(Layout layout, DType type, const void* src, void* dst, int64_t n_rows, int64_t n_cols) {
  switch (layout) {
    case Layout::kQ4Kx16: repack_q4_K_x16(src, dst, n_rows, n_cols); return;
    case Layout::kQ4_1x16: repack_q4_1_x16(src, dst, n_rows, n_cols); return;
    case Layout::kQ8_0x16: repack_q8_0_x16(src, dst, n_rows, n_cols); return;
    case Layout::kQ6Kx16: repack_q6_K_x16(src, dst, n_rows, n_cols); return;
    case Layout::kX8: repack_x8(type, src, dst, n_rows, n_cols); return;
    case Layout::kRowMajor: break;
  }
  const auto row = dtype_row_bytes(type, static_cast<uint64_t>(n_cols));
  ER_CHECK(row.has_value(), "repack: bad row length " + std::to_string(n_cols));
  std::memcpy(dst, src, static_cast<size_t>(n_rows) * static_cast<size_t>(*row));
}

void unpack_row(Layout layout, DType type, const uint8_t* data, int64_t row, size_t row_bytes, int64_t n_cols,
                void* out) {
  const int g = group_rows(layout);
  const uint8_t* group = data + (row / g) * g * row_bytes;
  const int r = static_cast<int>(row % g);
  switch (layout) {
    case Layout::kQ4Kx16: unpack_q4_K_x16_row(group, r, n_cols, out); return;
    case Layout::kQ4_1x16: unpack_q4_1_x16_row(group, r, n_cols, out); return;
    case Layout::kQ8_0x16: unpack_q8_0_x16_row(group, r, n_cols, out); return;
    case Layout::kQ6Kx16: unpack_q6_K_x16_row(group, r, n_cols, out); return;
    case Layout::kX8: unpack_x8_row(type, group, r, n_cols, out); return;
    case Layout::kRowMajor: break;
  }
  std::memcpy(out, data + row * row_bytes, row_bytes);
}

}  // namespace er::kernels
