// The quant traits table, the dispatch over it, and the plain/32-weight block references (ggml-quants.c).
#include "kernels/quant.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/f16.h"

namespace er::kernels {
namespace {

// One row per supported type. Block geometry must agree with core/dtype.h (checked below).
constexpr std::array kQuantTable = {
    QuantTraits{DType::kF32, 1, 4, quantize_row_f32, dequantize_row_f32},
    QuantTraits{DType::kF16, 1, 2, quantize_row_f16, dequantize_row_f16},
    QuantTraits{DType::kBF16, 1, 2, quantize_row_bf16, dequantize_row_bf16},
    QuantTraits{DType::kQ4_0, kQK4_0, sizeof(block_q4_0), quantize_row_q4_0, dequantize_row_q4_0},
    QuantTraits{DType::kQ4_1, kQK4_1, sizeof(block_q4_1), quantize_row_q4_1, dequantize_row_q4_1},
    QuantTraits{DType::kQ5_0, kQK5_0, sizeof(block_q5_0), quantize_row_q5_0, dequantize_row_q5_0},
    QuantTraits{DType::kQ5_1, kQK5_1, sizeof(block_q5_1), quantize_row_q5_1, dequantize_row_q5_1},
    QuantTraits{DType::kQ8_0, kQK8_0, sizeof(block_q8_0), quantize_row_q8_0, dequantize_row_q8_0},
    QuantTraits{DType::kQ4_K, kQK_K, sizeof(block_q4_K), quantize_row_q4_K, dequantize_row_q4_K},
    QuantTraits{DType::kQ6_K, kQK_K, sizeof(block_q6_K), quantize_row_q6_K, dequantize_row_q6_K},
};

int64_t checked_blocks(const QuantTraits& tr, int64_t n) {
  ER_CHECK(n >= 0 && n % tr.block_elems == 0,
           std::string(dtype_name(tr.type)) + ": row of " + std::to_string(n) +
               " weights is not a multiple of the block size " + std::to_string(tr.block_elems));
  return n / tr.block_elems;
}

// The value of largest magnitude in x[0..n) (the first one on ties), as q4_0/q5_0 pick it.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* min_out, float* max_out) {
  float min = FLT_MAX;
  float max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *min_out = min;
  *max_out = max;
}

}  // namespace

const QuantTraits* quant_traits(DType t) {
  for (const auto& row : kQuantTable) {
    if (row.type == t) return &row;
  }
  return nullptr;
}

bool can_quantize(DType t) { return quant_traits(t) != nullptr; }
bool can_dequantize(DType t) { return quant_traits(t) != nullptr; }

Status quantize_row(DType t, const float* x, void* y, int64_t n) {
  const QuantTraits* tr = quant_traits(t);
  if (tr == nullptr) {
    return Status::unsupported("no quantizer for type " + std::string(dtype_name(t)));
  }
  if (n < 0 || n % tr->block_elems != 0) {
    return Status::invalid(std::string(dtype_name(t)) + ": row of " + std::to_string(n) +
                           " values is not a multiple of the block size " +
                           std::to_string(tr->block_elems));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      return Status::invalid("cannot quantize a non-finite value at index " + std::to_string(i));
    }
  }
  tr->quantize(x, y, n);
  return Status::ok();
}

void dequantize_row(DType t, const void* x, float* y, int64_t n) {
  const QuantTraits* tr = quant_traits(t);
  ER_CHECK(tr != nullptr, "no dequantizer for type " + std::string(dtype_name(t)));
  checked_blocks(*tr, n);
  tr->dequantize(x, y, n);
}

// ---- plain types -------------------------------------------------------------------------------

void quantize_row_f32(const float* x, void* y, int64_t n) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}
void dequantize_row_f32(const void* x, float* y, int64_t n) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}

// f16/bf16 rows go through memcpy per element: GGUF data need not be 2-byte aligned for callers
// who pass arbitrary offsets.
void quantize_row_f16(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}
void dequantize_row_f16(const void* x, float* y, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = f16_to_f32(h);
  }
}
void quantize_row_bf16(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = f32_to_bf16(x[i]);
    std::memcpy(out + 2 * i, &b, 2);
  }
}
void dequantize_row_bf16(const void* x, float* y, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, in + 2 * i, 2);
    y[i] = bf16_to_f32(b);
  }
}

// ---- Q4_0 / Q4_1 -------------------------------------------------------------------------------

void quantize_row_q4_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_0*>(vy);
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    const float d = signed_absmax(x, kQK4_0) / -8;  // the extreme value maps to q = 0 exactly
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      // Truncation of (v + 8.5) is round-half-up for the non-negative v + 8 (as llama.cpp).
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q4_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q4_0*>(vx);
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = (x[i].qs[j] & 0x0F) - 8;
      const int q1 = (x[i].qs[j] >> 4) - 8;
      y[j] = static_cast<float>(q0) * d;
      y[j + kQK4_0 / 2] = static_cast<float>(q1) * d;
    }
  }
}

void quantize_row_q4_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_1*>(vy);
  const int64_t nb = n / kQK4_1;
  for (int64_t i = 0; i < nb; ++i, x += kQK4_1) {
    float min, max;
    min_max(x, kQK4_1, &min, &max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((x[j + kQK4_1 / 2] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q4_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q4_1*>(vx);
  const int64_t nb = n / kQK4_1;
  for (int64_t i = 0; i < nb; ++i, y += kQK4_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + kQK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

// ---- Q5_0 / Q5_1 -------------------------------------------------------------------------------

namespace {
// Packs 32 five-bit quants: low nibbles into qs (j with j + 16), 5th bits into qh bit j.
void pack_q5(const int* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q[j] & 0x10) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + 16] & 0x10) >> 4) << (j + 16);
  }
  const uint8_t le[4] = {static_cast<uint8_t>(qh), static_cast<uint8_t>(qh >> 8),
                         static_cast<uint8_t>(qh >> 16), static_cast<uint8_t>(qh >> 24)};
  std::memcpy(qh_bytes, le, 4);
}

// Unpacks 32 five-bit quants (0..31).
void unpack_q5(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  const uint32_t qh = static_cast<uint32_t>(qh_bytes[0]) | static_cast<uint32_t>(qh_bytes[1]) << 8 |
                      static_cast<uint32_t>(qh_bytes[2]) << 16 | static_cast<uint32_t>(qh_bytes[3]) << 24;
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) << 4) & 0x10);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10);
  }
}
}  // namespace

void quantize_row_q5_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_0*>(vy);
  const int64_t nb = n / kQK5_0;
  int q[kQK5_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
    const float d = signed_absmax(x, kQK5_0) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK5_0; ++j) q[j] = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void dequantize_row_q5_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(vx);
  const int64_t nb = n / kQK5_0;
  int q[kQK5_0];
  for (int64_t i = 0; i < nb; ++i, y += kQK5_0) {
    const float d = f16_to_f32(x[i].d);
    unpack_q5(x[i].qs, x[i].qh, q);
    for (int j = 0; j < kQK5_0; ++j) y[j] = static_cast<float>(q[j] - 16) * d;
  }
}

void quantize_row_q5_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_1*>(vy);
  const int64_t nb = n / kQK5_1;
  int q[kQK5_1];
  for (int64_t i = 0; i < nb; ++i, x += kQK5_1) {
    float min, max;
    min_max(x, kQK5_1, &min, &max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    // llama.cpp does not clamp here: (max - min) * id + 0.5 stays below 32 for finite input.
    for (int j = 0; j < kQK5_1; ++j) q[j] = std::min(31, static_cast<int>((x[j] - min) * id + 0.5f));
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void dequantize_row_q5_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q5_1*>(vx);
  const int64_t nb = n / kQK5_1;
  int q[kQK5_1];
  for (int64_t i = 0; i < nb; ++i, y += kQK5_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    unpack_q5(x[i].qs, x[i].qh, q);
    for (int j = 0; j < kQK5_1; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

// ---- Q8_0 --------------------------------------------------------------------------------------

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    // roundf: half away from zero, as llama.cpp's reference.
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  }
}

void dequantize_row_q8_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// The compile-time half of the "one table" promise: our block sizes are GGUF's.
static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
              sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q4_K) == 144 &&
              sizeof(block_q6_K) == 210);

}  // namespace er::kernels
