// Scalar reference float ops (llama.cpp x86 semantics, see ops.h), the rope cache and ISA dispatch.
#include "kernels/ops.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/f16.h"
#include "kernels/ggml_numerics.h"

namespace er::kernels {

void rope_cache(const RopeParams& p, int64_t pos, float* cos_sin) {
  ER_CHECK(p.n_rot > 0 && p.n_rot % 2 == 0, "rope: n_rot must be positive and even");
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  float theta = static_cast<float>(pos);  // ggml: theta_extrap = p, theta = freq_scale * theta_extrap
  for (int i = 0; i < p.n_rot / 2; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0f;
    const float t = p.freq_scale * (theta / ff);
    cos_sin[2 * i] = std::cos(t);
    cos_sin[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

float gelu_f16_entry(uint16_t h) {
  // ggml_gelu_f32 as GCC compiles it with FMA available: 1 + a x^2 contracts to fma(a x, x, 1).
  constexpr float kCoefA = 0.044715f;
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  const float x = f16_to_f32(h);
  const float inner = kSqrt2OverPi * x * std::fma(kCoefA * x, x, 1.0f);
  return f16_to_f32(f32_to_f16(0.5f * x * (1.0f + std::tanh(inner))));
}

namespace {

// ggml_table_gelu_f16 as floats (each entry an f16 value), built once on first use.
const float* gelu_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = gelu_f16_entry(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

}  // namespace

void geglu(const float* gate, const float* up, float* y, int64_t n) {
  const float* table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    if (g <= -10.0f) {
      y[i] = 0.0f;
    } else if (g >= 10.0f) {
      y[i] = g * up[i];
    } else {
      y[i] = table[f32_to_f16(g)] * up[i];
    }
  }
}

namespace {

void rmsnorm_ref(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rmsnorm_rows_ref(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) rmsnorm_ref(x + r * n, w, y + r * n, n, eps);
}

void rope_ref(float* x, int64_t n_head, int64_t head_dim, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  const int n_fused = neox ? half : half - half % 4;  // ggml's normal-layout epilogue is not fused
  for (int64_t h = 0; h < n_head; ++h) {
    float* v = x + h * head_dim;
    for (int i = 0; i < half; ++i) {
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1], c = cs[2 * i], s = cs[2 * i + 1];
      if (i < n_fused) {
        v[i0] = std::fma(x0, c, -(x1 * s));
        v[i1] = std::fma(x0, s, x1 * c);
      } else {
        // The products are rounded on their own: volatile keeps GCC's -O3 vectorizer from fusing
        // them (it does, even under -ffp-contract=off).
        volatile float x0c = x0 * c, x1s = x1 * s, x0s = x0 * s, x1c = x1 * c;
        v[i0] = x0c - x1s;
        v[i1] = x0s + x1c;
      }
    }
  }
}

void softmax_ref(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    float lanes[16];
    for (int64_t l = 0; l < 16; ++l) {
      lanes[l] = i0 + l < n ? (x[i0 + l] = ggml::expf(x[i0 + l] - max)) : 0.0f;
    }
    sum += static_cast<double>(ggml::reduce_halving(lanes, 16));
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

double log_sum_exp_ref(const float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    float lanes[16];
    for (int64_t l = 0; l < 16; ++l) lanes[l] = i0 + l < n ? ggml::expf(x[i0 + l] - max) : 0.0f;
    sum += static_cast<double>(ggml::reduce_halving(lanes, 16));
  }
  return static_cast<double>(max) + std::log(sum);
}

int64_t argmax_ref(const float* x, int64_t n) {
  int64_t best = 0;
  float best_v = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > best_v) {
      best_v = x[i];
      best = i;
    }
  }
  return best;
}

bool all_finite_ref(const float* x, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= x[i] < INFINITY;  // false for NaN and +inf
  return ok;
}

void swiglu_ref(const float* g, const float* u, float* y, int64_t n) {
  const int64_t n_vec = n - n % 16;  // ggml's 16-wide loop, then its scalar tail
  for (int64_t i = 0; i < n_vec; ++i) y[i] = ggml::silu(g[i]) * u[i];
  for (int64_t i = n_vec; i < n; ++i) y[i] = ggml::silu_libm(g[i]) * u[i];
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void scale_ref(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void to_f16_ref(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void round_f16_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(f32_to_f16(x[i]));
}

float load(uint16_t h) { return f16_to_f32(h); }
float load(float f) { return f; }

// One attention dot product a . b of n elements (b_i = load(b[i * b_stride])) in `order`, fused
// multiply-adds as ggml's. Over head dims (KQ) kVecDot adds the n % 64 tail one by one (f16: in
// double; f32: rounded products in float). Over positions (KQV, `padded`) there is no tail:
// llama.cpp's KV length is a multiple of 256, the extra positions weighted by p = 0.
template <typename K>
float attn_dot(const float* a, const K* b, int64_t b_stride, int64_t n, DotOrder order, bool padded) {
  constexpr bool kF16 = sizeof(K) == 2;
  float lanes[64] = {};
  if (order == DotOrder::kTinyBlas) {
    for (int64_t i = 0; i < n; ++i) lanes[i % 16] = std::fma(a[i], load(b[i * b_stride]), lanes[i % 16]);
    return ggml::reduce_halving(lanes, 16);
  }
  const int64_t np = padded ? n : n - n % 64;
  for (int64_t i = 0; i < np; ++i) lanes[i % 64] = std::fma(a[i], load(b[i * b_stride]), lanes[i % 64]);
  const float head = ggml::reduce_halving(lanes, 64);
  if (kF16) {
    double sum = head;
    for (int64_t i = np; i < n; ++i) sum += static_cast<double>(a[i] * load(b[i * b_stride]));
    return static_cast<float>(sum);
  }
  float sum = head;
  for (int64_t i = np; i < n; ++i) {
    volatile float prod = a[i] * load(b[i * b_stride]);  // rounded on its own (ggml's scalar tail)
    sum += prod;
  }
  return sum;
}

template <typename K>
void attn_scores_ref(const float* q, int n_group, const K* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     DotOrder order, float* s) {
  for (int g = 0; g < n_group; ++g) {
    for (int64_t j = 0; j < n_kv; ++j) s[g * n_kv + j] = attn_dot(q + g * d, k + j * stride, 1, d, order, false) * scale;
  }
}

template <typename V>
void attn_values_ref(const float* p, int n_group, const V* v, int64_t stride, int64_t n_kv, int64_t d, DotOrder order,
                     float* out) {
  for (int g = 0; g < n_group; ++g) {
    for (int64_t i = 0; i < d; ++i) out[g * d + i] = attn_dot(p + g * n_kv, v + i, stride, n_kv, order, true);
  }
}

void attn_scores_f16_ref(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                         float scale, DotOrder order, float* s) {
  attn_scores_ref(q, n_group, k, stride, n_kv, d, scale, order, s);
}
void attn_scores_f32_ref(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                         float scale, DotOrder order, float* s) {
  attn_scores_ref(q, n_group, k, stride, n_kv, d, scale, order, s);
}
void attn_values_f16_ref(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d,
                         DotOrder order, float* out) {
  round_f16_ref(p, p, static_cast<int64_t>(n_group) * n_kv);
  attn_values_ref(p, n_group, v, stride, n_kv, d, order, out);
}
void attn_values_f32_ref(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d,
                         DotOrder order, float* out) {
  attn_values_ref(p, n_group, v, stride, n_kv, d, order, out);
}

constexpr Ops kScalarOps = {rmsnorm_ref,         rmsnorm_rows_ref,    rope_ref,            softmax_ref,         swiglu_ref,
                            add_ref,             scale_ref,           round_f16_ref,       attn_scores_f16_ref,
                            attn_scores_f32_ref, attn_values_f16_ref, attn_values_f32_ref, log_sum_exp_ref,     to_f16_ref,
                            argmax_ref,          all_finite_ref};

}  // namespace

const Ops& detail::ops_scalar() { return kScalarOps; }

const Ops& ops(Isa isa) {
  ER_CHECK(isa_supported(isa), "ops: ISA " + std::string(isa_name(isa)) + " not supported here");
  switch (isa) {
    case Isa::kScalar: return detail::ops_scalar();
#if defined(__x86_64__)
    case Isa::kAvx2: return detail::ops_avx2();
    case Isa::kAvx512: return detail::ops_avx512();
#elif defined(__aarch64__)
    case Isa::kNeon: case Isa::kDotprod: case Isa::kI8mm: return detail::ops_neon();
#endif
    default: break;
  }
  return detail::ops_scalar();
}

}  // namespace er::kernels
