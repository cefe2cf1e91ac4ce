// Scalar activation quantizers and reference dot products (ggml-cpu semantics, see quant_act.h).
#include "kernels/quant_act.h"

#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/f16.h"
#include "kernels/quant.h"

namespace er::kernels {

bool matmul_supports(DType w) {
  switch (w) {
    case DType::kF32: case DType::kF16: case DType::kBF16: case DType::kQ8_0:
    case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1: case DType::kQ4_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

DType act_type_for(DType w) {
  switch (w) {
    case DType::kF32: return DType::kF32;
    case DType::kF16: return DType::kF16;
    case DType::kBF16: return DType::kBF16;
    case DType::kQ8_0: case DType::kQ4_0: case DType::kQ5_0: return DType::kQ8_0;
    case DType::kQ4_1: case DType::kQ5_1: return DType::kQ8_1;
    case DType::kQ4_K: case DType::kQ6_K: return DType::kQ8_K;
    default: break;
  }
  ER_CHECK(false, "matmul does not support weight type " + std::string(dtype_name(w)));
  return DType::kF32;
}

// ---- quantizers --------------------------------------------------------------------------------

namespace {
// Shared by q8_0 and q8_1: scale and round one block of 32 as ggml-cpu's AVX2 path does.
// Returns the f32 value of the stored f16 d; writes the quants and their sum.
float quantize_block_q8(const float* x, int8_t* qs, int* sum_out) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  int sum = 0;
  for (int j = 0; j < kQK8_0; ++j) {
    const int q = nearest_int(x[j] * id);  // round half to even, as _mm256_round_ps
    qs[j] = static_cast<int8_t>(q);
    sum += q;
  }
  *sum_out = sum;
  return d;
}
}  // namespace

void quantize_act_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    int sum;
    y[i].d = f32_to_f16(quantize_block_q8(x, y[i].qs, &sum));
  }
}

void quantize_act_q8_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_1*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    int sum;
    const float d = quantize_block_q8(x, y[i].qs, &sum);
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

void quantize_act_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0.0f;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void quantize_act_f16(const float* x, void* y, int64_t n) { quantize_row_f16(x, y, n); }
void quantize_act_bf16(const float* x, void* y, int64_t n) { quantize_row_bf16(x, y, n); }

// ---- reference dot products --------------------------------------------------------------------

namespace {
uint16_t load_u16(const void* p, int64_t i) {
  uint16_t h;
  std::memcpy(&h, static_cast<const uint8_t*>(p) + 2 * i, 2);
  return h;
}
}  // namespace

float vec_dot_f32_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

float vec_dot_f16_ref(int64_t n, const void* w, const void* a) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(f16_to_f32(load_u16(w, i)) * f16_to_f32(load_u16(a, i)));
  }
  return static_cast<float>(sum);
}

float vec_dot_bf16_ref(int64_t n, const void* w, const void* a) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(bf16_to_f32(load_u16(w, i)) * bf16_to_f32(load_u16(a, i)));
  }
  return static_cast<float>(sum);
}

float vec_dot_q8_0_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    sumf += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return sumf;
}

float vec_dot_q4_0_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q4_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      sumi += ((x[b].qs[j] & 0x0F) - 8) * y[b].qs[j];
      sumi += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + kQK8_0 / 2];
    }
    sumf += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return sumf;
}

float vec_dot_q4_1_q8_1_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q4_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      sumi += (x[b].qs[j] & 0x0F) * y[b].qs[j];
      sumi += (x[b].qs[j] >> 4) * y[b].qs[j + kQK8_0 / 2];
    }
    // w = d q + m:  sum(w a) = dx dy sum(q qa) + m (dy sum(qa)) = dx dy sumi + m s
    sumf += (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) * static_cast<float>(sumi) +
            f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  return sumf;
}

namespace {
// The 32 five-bit quants (0..31) of a Q5 block: low nibbles from qs (j, j + 16), 5th bits from qh.
void q5_quants(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);  // little-endian
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}
}  // namespace

float vec_dot_q5_0_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q5_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sumf = 0.0f;
  int q[kQK5_0];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    q5_quants(x[b].qs, x[b].qh, q);
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += (q[j] - 16) * y[b].qs[j];
    sumf += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return sumf;
}

float vec_dot_q5_1_q8_1_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q5_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  float sumf = 0.0f;
  int q[kQK5_1];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    q5_quants(x[b].qs, x[b].qh, q);
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += q[j] * y[b].qs[j];
    sumf += (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) * static_cast<float>(sumi) +
            f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  return sumf;
}

float vec_dot_q4_K_q8_K_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q4_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t isum = 0;   // sum_s sc[s] * sum_{32} q * qa
    int32_t msum = 0;   // sum_s m[s] * sum_{32} qa
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      q4_K_scale_min(s, x[b].scales, &sc, &m);
      const uint8_t* q = x[b].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);  // even sub-blocks in low nibbles, odd in high
      int32_t dot = 0;
      for (int j = 0; j < 32; ++j) dot += ((q[j] >> shift) & 0x0F) * y[b].qs[32 * s + j];
      isum += sc * dot;
      msum += m * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
    }
    const float d = f16_to_f32(x[b].d) * y[b].d;
    const float dmin = f16_to_f32(x[b].dmin) * y[b].d;
    sumf += d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
  }
  return sumf;
}

float vec_dot_q6_K_q8_K_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q6_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int q[kQK_K];  // (256,) 6-bit quants minus 32, in weight order
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        q[128 * h + l + 0] = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        q[128 * h + l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        q[128 * h + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        q[128 * h + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      }
    }
    int32_t isum = 0;
    for (int s = 0; s < 16; ++s) {
      int32_t dot = 0;
      for (int j = 0; j < 16; ++j) dot += q[16 * s + j] * y[b].qs[16 * s + j];
      isum += x[b].scales[s] * dot;
    }
    sumf += (f16_to_f32(x[b].d) * y[b].d) * static_cast<float>(isum);
  }
  return sumf;
}

float vec_dot_ref(DType w, int64_t n, const void* wrow, const void* arow) {
  switch (w) {
    case DType::kF32: return vec_dot_f32_ref(n, wrow, arow);
    case DType::kF16: return vec_dot_f16_ref(n, wrow, arow);
    case DType::kBF16: return vec_dot_bf16_ref(n, wrow, arow);
    case DType::kQ8_0: return vec_dot_q8_0_q8_0_ref(n, wrow, arow);
    case DType::kQ4_0: return vec_dot_q4_0_q8_0_ref(n, wrow, arow);
    case DType::kQ4_1: return vec_dot_q4_1_q8_1_ref(n, wrow, arow);
    case DType::kQ5_0: return vec_dot_q5_0_q8_0_ref(n, wrow, arow);
    case DType::kQ5_1: return vec_dot_q5_1_q8_1_ref(n, wrow, arow);
    case DType::kQ4_K: return vec_dot_q4_K_q8_K_ref(n, wrow, arow);
    case DType::kQ6_K: return vec_dot_q6_K_q8_K_ref(n, wrow, arow);
    default: break;
  }
  ER_CHECK(false, "no reference dot product for " + std::string(dtype_name(w)));
  return 0.0f;
}

void dequantize_act(DType t, const void* a, float* out, int64_t n) {
  switch (t) {
    case DType::kQ8_1: {
      const auto* y = static_cast<const block_q8_1*>(a);
      for (int64_t i = 0; i < n; ++i) {
        out[i] = f16_to_f32(y[i / kQK8_0].d) * static_cast<float>(y[i / kQK8_0].qs[i % kQK8_0]);
      }
      return;
    }
    case DType::kQ8_K: {
      const auto* y = static_cast<const block_q8_K*>(a);
      for (int64_t i = 0; i < n; ++i) out[i] = y[i / kQK_K].d * static_cast<float>(y[i / kQK_K].qs[i % kQK_K]);
      return;
    }
    default:
      dequantize_row(t, a, out, n);
  }
}

}  // namespace er::kernels
