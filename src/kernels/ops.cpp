// Scalar reference float ops (ggml-cpu semantics, see ops.h), the rope cache and ISA dispatch.
#include "kernels/ops.h"

#include <cmath>
#include <string>

#include "core/check.h"
#include "core/f16.h"

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

namespace {

void rmsnorm_ref(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rope_ref(float* x, int64_t n_head, int64_t head_dim, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    float* v = x + h * head_dim;
    for (int i = 0; i < half; ++i) {
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
      v[i1] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
    }
  }
}

void softmax_ref(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_ref(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void scale_ref(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

float dot_f32_ref(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16_ref(const uint16_t* a, const uint16_t* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += f16_to_f32(a[i]) * f16_to_f32(b[i]);
  return s;
}

void axpy_f32_ref(float s, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

void axpy_f16_ref(float s, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * f16_to_f32(x[i]);
}

template <typename K, typename Load>
void attn_scores_ref(const float* q, int n_group, const K* k, int64_t stride, int64_t n_kv, int64_t d, float scale,
                     float* s, Load load) {
  for (int g = 0; g < n_group; ++g) {
    for (int64_t j = 0; j < n_kv; ++j) {
      float acc = 0.0f;
      for (int64_t i = 0; i < d; ++i) acc += q[g * d + i] * load(k[j * stride + i]);
      s[g * n_kv + j] = acc * scale;
    }
  }
}

float load_f16(uint16_t h) { return f16_to_f32(h); }
float load_f32(float f) { return f; }

void attn_scores_f16_ref(const float* q, int n_group, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t d,
                         float scale, float* s) {
  attn_scores_ref(q, n_group, k, stride, n_kv, d, scale, s, load_f16);
}
void attn_scores_f32_ref(const float* q, int n_group, const float* k, int64_t stride, int64_t n_kv, int64_t d,
                         float scale, float* s) {
  attn_scores_ref(q, n_group, k, stride, n_kv, d, scale, s, load_f32);
}

template <typename V, typename Load>
void attn_values_ref(const float* p, int n_group, const V* v, int64_t stride, int64_t n_kv, int64_t d, float* out,
                     Load load) {
  for (int g = 0; g < n_group; ++g) {
    float* o = out + g * d;
    for (int64_t i = 0; i < d; ++i) o[i] = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
      for (int64_t i = 0; i < d; ++i) o[i] += p[g * n_kv + j] * load(v[j * stride + i]);
    }
  }
}

void attn_values_f16_ref(float* p, int n_group, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t d,
                         float* out) {
  for (int64_t j = 0; j < n_group * n_kv; ++j) p[j] = f16_to_f32(f32_to_f16(p[j]));
  attn_values_ref(p, n_group, v, stride, n_kv, d, out, load_f16);
}
void attn_values_f32_ref(float* p, int n_group, const float* v, int64_t stride, int64_t n_kv, int64_t d,
                         float* out) {
  attn_values_ref(p, n_group, v, stride, n_kv, d, out, load_f32);
}

void round_f16_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(f32_to_f16(x[i]));
}

constexpr Ops kScalarOps = {rmsnorm_ref,         rope_ref,           softmax_ref,         swiglu_ref,
                            add_ref,             scale_ref,          dot_f32_ref,         dot_f16_ref,
                            axpy_f32_ref,        axpy_f16_ref,       attn_scores_f16_ref, attn_scores_f32_ref,
                            attn_values_f16_ref, attn_values_f32_ref, round_f16_ref};

}  // namespace

const Ops& detail::ops_scalar() { return kScalarOps; }

const Ops& ops(Isa isa) {
  ER_CHECK(isa_supported(isa), "ops: ISA " + std::string(isa_name(isa)) + " not supported here");
  switch (isa) {
    case Isa::kScalar: return detail::ops_scalar();
    case Isa::kAvx2: return detail::ops_avx2();
    case Isa::kAvx512: return detail::ops_avx512();
  }
  return detail::ops_scalar();
}

}  // namespace er::kernels
