// Scalar activation quantizers and reference dot products (ggml-cpu semantics, see quant_act.h).
#include "kernels/quant_act.h"

#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/f16.h"
#include "kernels/ggml_numerics.h"
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

namespace {

// A float dot product in llama.cpp's order (ops.h DotOrder): kTinyBlas 16 lanes, kVecDot 64 lanes
// plus the n % 64 tail (F32: float sum of rounded products; F16/BF16: double sum).
template <typename Load>
float float_dot(int64_t n, const void* w, const void* a, DotOrder order, bool double_tail, Load load) {
  float lanes[64] = {};
  if (order == DotOrder::kTinyBlas) {
    for (int64_t i = 0; i < n; ++i) lanes[i % 16] = std::fma(load(w, i), load(a, i), lanes[i % 16]);
    return ggml::reduce_halving(lanes, 16);
  }
  const int64_t np = n - n % 64;
  for (int64_t i = 0; i < np; ++i) lanes[i % 64] = std::fma(load(w, i), load(a, i), lanes[i % 64]);
  const float head = ggml::reduce_halving(lanes, 64);
  if (double_tail) {
    double sum = head;
    for (int64_t i = np; i < n; ++i) sum += static_cast<double>(load(w, i) * load(a, i));
    return static_cast<float>(sum);
  }
  float sum = head;
  for (int64_t i = np; i < n; ++i) sum += load(w, i) * load(a, i);
  return sum;
}

float load_f32(const void* p, int64_t i) {
  float f;
  std::memcpy(&f, static_cast<const uint8_t*>(p) + 4 * i, 4);
  return f;
}
float load_f16(const void* p, int64_t i) { return f16_to_f32(load_u16(p, i)); }
float load_bf16(const void* p, int64_t i) { return bf16_to_f32(load_u16(p, i)); }

// The 32-weight block types on x86 (ggml's AVX2 vec_dot and tinyBLAS alike): 8 lanes, lane k
// takes the exact integer sum of products 4k .. 4k + 3 of each block, acc[k] = fma(d_w d_a, sum,
// acc[k]); the result is the 8-lane halving tree (+ the float sum of m_w s_a for Q4_1/Q5_1).
struct Lanes8 {
  float acc[8] = {};
  void add_block(float d, const int* q_w, const int8_t* q_a) {
    for (int k = 0; k < 8; ++k) {
      int sum = 0;
      for (int j = 4 * k; j < 4 * k + 4; ++j) sum += q_w[j] * q_a[j];
      acc[k] = std::fma(d, static_cast<float>(sum), acc[k]);
    }
  }
  float result() const { return ggml::reduce8(acc); }
};

// The 32 weights of a 4-bit block in activation order: low nibbles of qs[0..15], then high.
void q4_quants(const uint8_t* qs, int offset, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) - offset;
    q[j + 16] = (qs[j] >> 4) - offset;
  }
}

}  // namespace

float vec_dot_f32_ref(int64_t n, const void* w, const void* a, DotOrder order) {
  return float_dot(n, w, a, order, false, load_f32);
}

float vec_dot_f16_ref(int64_t n, const void* w, const void* a, DotOrder order) {
  return float_dot(n, w, a, order, true, load_f16);
}

float vec_dot_bf16_ref(int64_t n, const void* w, const void* a, DotOrder order) {
  return float_dot(n, w, a, order, true, load_bf16);
}

float vec_dot_q8_0_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  Lanes8 acc;
  int q[kQK8_0];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    for (int j = 0; j < kQK8_0; ++j) q[j] = x[b].qs[j];
    acc.add_block(f16_to_f32(x[b].d) * f16_to_f32(y[b].d), q, y[b].qs);
  }
  return acc.result();
}

float vec_dot_q4_0_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q4_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  Lanes8 acc;
  int q[kQK8_0];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    q4_quants(x[b].qs, 8, q);
    acc.add_block(f16_to_f32(x[b].d) * f16_to_f32(y[b].d), q, y[b].qs);
  }
  return acc.result();
}

float vec_dot_q4_1_q8_1_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q4_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  Lanes8 acc;
  float summs = 0.0f;  // w = d q + m:  sum(w a) = d_w d_a sum(q q_a) + m s_a
  int q[kQK8_0];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    summs += f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
    q4_quants(x[b].qs, 0, q);
    acc.add_block(f16_to_f32(x[b].d) * f16_to_f32(y[b].d), q, y[b].qs);
  }
  return acc.result() + summs;
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
  Lanes8 acc;
  int q[kQK5_0];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    q5_quants(x[b].qs, x[b].qh, q);
    for (int& v : q) v -= 16;
    acc.add_block(f16_to_f32(x[b].d) * f16_to_f32(y[b].d), q, y[b].qs);
  }
  return acc.result();
}

float vec_dot_q5_1_q8_1_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const block_q5_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  Lanes8 acc;
  float summs = 0.0f;
  int q[kQK5_1];
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    summs += f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
    q5_quants(x[b].qs, x[b].qh, q);
    acc.add_block(f16_to_f32(x[b].d) * f16_to_f32(y[b].d), q, y[b].qs);
  }
  return acc.result() + summs;
}

float vec_dot_q4_K_q8_K_ref(int64_t n, const void* w, const void* a, bool gemm) {
  const auto* x = static_cast<const block_q4_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float dd = f16_to_f32(x[b].d) * y[b].d, dm = f16_to_f32(x[b].dmin) * y[b].d;
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
      if (gemm && s % 2 == 1) {  // the gemm kernel applies the scales per 64 weights
        acc = std::fma(static_cast<float>(isum), dd, acc);
        acc_min = std::fma(static_cast<float>(msum), dm, acc_min);
        isum = msum = 0;
      }
    }
    if (!gemm) {
      acc = std::fma(static_cast<float>(isum), dd, acc);
      acc_min = std::fma(static_cast<float>(msum), dm, acc_min);
    }
  }
  return acc - acc_min;
}

namespace {
// The 256 quants of a Q6_K block as unsigned 6-bit values (0..63) in weight order.
void q6_K_quants(const block_q6_K& x, int* q) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = x.ql + 64 * h;
    const uint8_t* qh = x.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      q[128 * h + l + 0] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
      q[128 * h + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
      q[128 * h + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
      q[128 * h + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
    }
  }
}
}  // namespace

float vec_dot_q6_K_q8_K_ref(int64_t n, const void* w, const void* a, bool tiled) {
  const auto* x = static_cast<const block_q6_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float lanes[8] = {};
  float acc = 0.0f;
  int q[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    q6_K_quants(x[b], q);
    // Lane k: positions p with p % 32 in [4k, 4k + 4), each times its sub-block scale, minus
    // 32 * (bsums[2k] sc[2k] + bsums[2k + 1] sc[2k + 1]) (ggml's AVX2 lanes; the total is exact).
    int32_t lane[8] = {};
    for (int p = 0; p < kQK_K; ++p) lane[(p % 32) / 4] += x[b].scales[p / 16] * q[p] * y[b].qs[p];
    for (int k = 0; k < 8; ++k) {
      lane[k] -= 32 * (y[b].bsums[2 * k] * x[b].scales[2 * k] + y[b].bsums[2 * k + 1] * x[b].scales[2 * k + 1]);
    }
    if (tiled) {
      int32_t isum = 0;
      for (int32_t v : lane) isum += v;
      // (ggml's add(acc, mul(isum d_w, d_a)), which GCC contracts to one fma)
      acc = std::fma(static_cast<float>(isum) * f16_to_f32(x[b].d), y[b].d, acc);
    } else {
      const float d = y[b].d * f16_to_f32(x[b].d);
      for (int k = 0; k < 8; ++k) lanes[k] = std::fma(d, static_cast<float>(lane[k]), lanes[k]);
    }
  }
  return tiled ? acc : ggml::reduce8(lanes);
}

float vec_dot_ref(DType w, int64_t n, const void* wrow, const void* arow, MatmulPath path) {
  const DotOrder order = path == MatmulPath::kTinyBlas ? DotOrder::kTinyBlas : DotOrder::kVecDot;
  switch (w) {
    case DType::kF32: return vec_dot_f32_ref(n, wrow, arow, order);
    case DType::kF16: return vec_dot_f16_ref(n, wrow, arow, order);
    case DType::kBF16: return vec_dot_bf16_ref(n, wrow, arow, order);
    case DType::kQ8_0: return vec_dot_q8_0_q8_0_ref(n, wrow, arow);
    case DType::kQ4_0: return vec_dot_q4_0_q8_0_ref(n, wrow, arow);
    case DType::kQ4_1: return vec_dot_q4_1_q8_1_ref(n, wrow, arow);
    case DType::kQ5_0: return vec_dot_q5_0_q8_0_ref(n, wrow, arow);
    case DType::kQ5_1: return vec_dot_q5_1_q8_1_ref(n, wrow, arow);
    case DType::kQ4_K: return vec_dot_q4_K_q8_K_ref(n, wrow, arow, path == MatmulPath::kRepackGemm);
    case DType::kQ6_K: return vec_dot_q6_K_q8_K_ref(n, wrow, arow, path == MatmulPath::kTiled);
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
