// Float ops and attention: exact small cases, ggml formulas, and every SIMD level against the scalar path.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/f16.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace er::kernels {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  float uniform(float lo, float hi) {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<float>(z >> 40) / 16777216.0f;
  }
  std::vector<float> floats(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }

 private:
  uint64_t s_;
};

void expect_all_near(const std::vector<float>& got, const std::vector<float>& want, float rel, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * (1.0f + std::fabs(want[i]))) << what << " at " << i;
  }
}

TEST(Ops, RmsnormExactCase) {
  // x = (3, 4): mean(x^2) = 12.5, eps 0 -> scale 1/sqrt(12.5)
  const std::vector<float> x = {3.0f, 4.0f}, w = {1.0f, 2.0f};
  for (Isa isa : supported_isas()) {
    std::vector<float> y(2);
    ops(isa).rmsnorm(x.data(), w.data(), y.data(), 2, 0.0f);
    const float s = 1.0f / std::sqrt(12.5f);
    EXPECT_EQ(y[0], (3.0f * s) * 1.0f) << isa_name(isa);
    EXPECT_EQ(y[1], (4.0f * s) * 2.0f) << isa_name(isa);
  }
}

TEST(Ops, SoftmaxExactCase) {
  for (Isa isa : supported_isas()) {
    std::vector<float> x = {0.0f, std::log(3.0f), -INFINITY};
    ops(isa).softmax(x.data(), 3);
    EXPECT_NEAR(x[0], 0.25f, 1e-7f) << isa_name(isa);
    EXPECT_NEAR(x[1], 0.75f, 1e-7f);
    EXPECT_EQ(x[2], 0.0f);
  }
}

TEST(Ops, RopeCacheFollowsGgml) {
  RopeParams p;
  p.n_rot = 8;
  p.freq_base = 10000.0f;
  std::vector<float> cs(8);
  rope_cache(p, 5, cs.data());
  // theta_i = 5 * 10000^(-2i/8), computed by repeated float multiplication.
  float theta = 5.0f;
  const float step = std::pow(10000.0f, -2.0f / 8.0f);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(cs[2 * i], std::cos(theta));
    EXPECT_EQ(cs[2 * i + 1], std::sin(theta));
    theta *= step;
  }
  const float ff[4] = {1.0f, 2.0f, 4.0f, 8.0f};
  p.freq_factors = ff;
  p.freq_scale = 0.5f;
  rope_cache(p, 5, cs.data());
  EXPECT_EQ(cs[2], std::cos(0.5f * (5.0f * step / 2.0f)));
}

TEST(Ops, RopeRotatesPairsInBothOrderings) {
  // One head of 6 dims, n_rot 4: pairs (0,1),(2,3) normal or (0,2),(1,3) NeoX; dims 4-5 untouched.
  const float cs[4] = {0.0f, 1.0f, -1.0f, 0.0f};  // pair 0 by +90 degrees, pair 1 by 180
  for (Isa isa : supported_isas()) {
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    ops(isa).rope(x.data(), 1, 6, cs, 4, false);
    EXPECT_EQ(x, (std::vector<float>{-2, 1, -3, -4, 5, 6})) << isa_name(isa);
    x = {1, 2, 3, 4, 5, 6};
    ops(isa).rope(x.data(), 1, 6, cs, 4, true);
    EXPECT_EQ(x, (std::vector<float>{-3, -2, 1, -4, 5, 6})) << isa_name(isa);
  }
}

TEST(Ops, SwigluAddScaleExact) {
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    std::vector<float> g = {0.0f, 1.0f}, u = {3.0f, 2.0f}, y(2);
    op.swiglu(g.data(), u.data(), y.data(), 2);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_NEAR(y[1], 2.0f / (1.0f + std::exp(-1.0f)), 1e-6f) << isa_name(isa);
    op.add(g.data(), u.data(), y.data(), 2);
    EXPECT_EQ(y, (std::vector<float>{3.0f, 3.0f}));
    op.scale(y.data(), 0.5f, 2);
    EXPECT_EQ(y, (std::vector<float>{1.5f, 1.5f}));
  }
}

TEST(Ops, SimdMatchesScalarOnRandomData) {
  Rng rng(8);
  const Ops& ref = ops(Isa::kScalar);
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    for (int64_t n : {1, 7, 64, 100, 896, 4097}) {
      const std::vector<float> x = rng.floats(n, -6.0f, 6.0f), w = rng.floats(n), u = rng.floats(n);
      std::vector<float> a(x.size()), b(x.size());
      ref.rmsnorm(x.data(), w.data(), a.data(), n, 1e-6f);
      op.rmsnorm(x.data(), w.data(), b.data(), n, 1e-6f);
      expect_all_near(b, a, 1e-6f, "rmsnorm");
      a = x;
      b = x;
      ref.softmax(a.data(), n);
      op.softmax(b.data(), n);
      expect_all_near(b, a, 1e-6f, "softmax");
      ref.swiglu(x.data(), u.data(), a.data(), n);
      op.swiglu(x.data(), u.data(), b.data(), n);
      expect_all_near(b, a, 1e-6f, "swiglu");
      std::vector<uint16_t> h1(static_cast<size_t>(n)), h2(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        h1[static_cast<size_t>(i)] = f32_to_f16(x[static_cast<size_t>(i)]);
        h2[static_cast<size_t>(i)] = f32_to_f16(w[static_cast<size_t>(i)]);
      }
      EXPECT_NEAR(op.dot_f16(h1.data(), h2.data(), n), ref.dot_f16(h1.data(), h2.data(), n), 1e-5f * n);
      EXPECT_NEAR(op.dot_f32(x.data(), w.data(), n), ref.dot_f32(x.data(), w.data(), n), 1e-5f * n);
    }
    for (bool neox : {false, true}) {
      RopeParams p;
      p.n_rot = 64;
      p.neox = neox;
      std::vector<float> cs(64);
      rope_cache(p, 1234, cs.data());
      const std::vector<float> x = rng.floats(4 * 128);
      std::vector<float> a = x, b = x;
      ref.rope(a.data(), 4, 128, cs.data(), 64, neox);
      op.rope(b.data(), 4, 128, cs.data(), 64, neox);
      expect_all_near(b, a, 1e-6f, "rope");
    }
  }
}

// ---- attention ---------------------------------------------------------------------------------

// Naive double-precision attention for one query/head over the (f16-rounded where the cache is f16)
// inputs.
std::vector<float> naive_attention(const AttentionShape& s, const std::vector<float>& q, int64_t n_q,
                                   int64_t first_pos, const std::vector<float>& k, const std::vector<float>& v,
                                   bool f16) {
  const int64_t width = static_cast<int64_t>(s.n_head) * s.head_dim;
  const int64_t kv_width = static_cast<int64_t>(s.n_head_kv) * s.head_dim;
  auto round = [&](float x) { return f16 ? f16_to_f32(f32_to_f16(x)) : x; };
  std::vector<float> out(static_cast<size_t>(n_q * width));
  for (int64_t i = 0; i < n_q; ++i) {
    const int64_t n_kv = first_pos + i + 1;
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / (s.n_head / s.n_head_kv);
      std::vector<double> p(static_cast<size_t>(n_kv));
      double max = -1e300, sum = 0.0;
      for (int64_t j = 0; j < n_kv; ++j) {
        double dot = 0.0;
        for (int d = 0; d < s.head_dim; ++d) {
          dot += static_cast<double>(round(q[i * width + h * s.head_dim + d])) * k[j * kv_width + kvh * s.head_dim + d];
        }
        p[j] = dot * s.scale;
        max = std::fmax(max, p[j]);
      }
      for (auto& x : p) sum += (x = std::exp(x - max));
      for (int d = 0; d < s.head_dim; ++d) {
        double o = 0.0;
        for (int64_t j = 0; j < n_kv; ++j) o += p[j] / sum * v[j * kv_width + kvh * s.head_dim + d];
        out[i * width + h * s.head_dim + d] = static_cast<float>(o);
      }
    }
  }
  return out;
}

TEST(Attention, SinglePositionReturnsItsValue) {
  const AttentionShape s{2, 1, 4, 0.5f};
  const std::vector<float> q = {1, 2, 3, 4, -1, -2, -3, -4}, k = {1, 1, 1, 1}, v = {0.5f, -1.5f, 2.0f, 3.0f};
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, 8, 4);
  for (Isa isa : supported_isas()) {
    std::vector<float> out(8, NAN);
    const AttentionTask task{q.data(), 1, 0, KvCacheView{DType::kF32, k.data(), v.data(), 4}, out.data()};
    attention(s, &task, 1, scratch, pool, isa);
    EXPECT_EQ(out, (std::vector<float>{0.5f, -1.5f, 2.0f, 3.0f, 0.5f, -1.5f, 2.0f, 3.0f})) << isa_name(isa);
  }
}

TEST(Attention, PrefillAndDecodeMatchNaiveForF32AndF16Caches) {
  Rng rng(9);
  const AttentionShape s{8, 2, 64, 0.125f};
  const int64_t n_ctx = 40, kv_width = 2 * 64, width = 8 * 64;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width, -2, 2), vf = rng.floats(n_ctx * kv_width);
  std::vector<uint16_t> kh(kf.size()), vh(vf.size());
  std::vector<float> kr(kf.size()), vr(vf.size());  // f16-rounded values for the naive reference
  for (size_t i = 0; i < kf.size(); ++i) {
    kh[i] = f32_to_f16(kf[i]);
    vh[i] = f32_to_f16(vf[i]);
    kr[i] = f16_to_f32(kh[i]);
    vr[i] = f16_to_f32(vh[i]);
  }
  const std::vector<float> q = rng.floats(n_ctx * width, -2, 2);
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 64);
  for (bool f16 : {false, true}) {
    const KvCacheView kv = f16 ? KvCacheView{DType::kF16, kh.data(), vh.data(), kv_width}
                               : KvCacheView{DType::kF32, kf.data(), vf.data(), kv_width};
    // Prefill of 30 tokens after a 10-token prefix, then three decode "paths" at different lengths.
    const std::vector<float> want = naive_attention(s, std::vector<float>(q.begin() + 10 * width, q.end()), 30, 10,
                                                    f16 ? kr : kf, f16 ? vr : vf, f16);
    for (Isa isa : supported_isas()) {
      std::vector<float> out(30 * width);
      const AttentionTask prefill{q.data() + 10 * width, 30, 10, kv, out.data()};
      attention(s, &prefill, 1, scratch, pool, isa);
      // p is rounded to f16 before weighting v with an f16 cache (as ggml): ~1e-3 relative.
      expect_all_near(out, want, f16 ? 2e-3f : 2e-5f, f16 ? "prefill f16" : "prefill f32");

      std::vector<float> dec(3 * width);
      const AttentionTask tasks[3] = {{q.data() + 12 * width, 1, 12, kv, dec.data()},
                                      {q.data() + 25 * width, 1, 25, kv, dec.data() + width},
                                      {q.data() + 39 * width, 1, 39, kv, dec.data() + 2 * width}};
      attention(s, tasks, 3, scratch, pool, isa);
      for (int t = 0; t < 3; ++t) {
        const int64_t row = (t == 0 ? 12 : t == 1 ? 25 : 39) - 10;
        for (int64_t d = 0; d < width; ++d) {
          ASSERT_NEAR(dec[t * width + d], out[row * width + d], 1e-5f) << "decode task " << t << " " << isa_name(isa);
        }
      }
    }
  }
}

TEST(Attention, LargeGroupsAndOddHeadDimMatchNaive) {
  // 10 query heads on one KV head (processed as groups of 8 + 2), head_dim 36 (vector tails).
  Rng rng(12);
  const AttentionShape s{10, 1, 36, 1.0f / 6.0f};
  const int64_t n_ctx = 19, kv_width = 36, width = 10 * 36;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width), vf = rng.floats(n_ctx * kv_width);
  std::vector<uint16_t> kh(kf.size()), vh(vf.size());
  std::vector<float> kr(kf.size()), vr(vf.size());
  for (size_t i = 0; i < kf.size(); ++i) {
    kh[i] = f32_to_f16(kf[i]);
    vh[i] = f32_to_f16(vf[i]);
    kr[i] = f16_to_f32(kh[i]);
    vr[i] = f16_to_f32(vh[i]);
  }
  const std::vector<float> q = rng.floats(n_ctx * width);
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 36);
  for (bool f16 : {false, true}) {
    const KvCacheView kv = f16 ? KvCacheView{DType::kF16, kh.data(), vh.data(), kv_width}
                               : KvCacheView{DType::kF32, kf.data(), vf.data(), kv_width};
    const std::vector<float> want = naive_attention(s, q, n_ctx, 0, f16 ? kr : kf, f16 ? vr : vf, f16);
    for (Isa isa : supported_isas()) {
      std::vector<float> out(n_ctx * width);
      const AttentionTask task{q.data(), n_ctx, 0, kv, out.data()};
      attention(s, &task, 1, scratch, pool, isa);
      expect_all_near(out, want, f16 ? 2e-3f : 2e-5f, f16 ? "f16" : "f32");
    }
  }
}

TEST(Ops, GroupedAttentionOpsMatchScalar) {
  Rng rng(13);
  const Ops& ref = ops(Isa::kScalar);
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    for (int ng : {1, 3, 8}) {
      for (int64_t d : {8, 20, 128}) {
        const int64_t n_kv = 37, stride = 3 * d;
        const std::vector<float> q = rng.floats(ng * d), kf = rng.floats(n_kv * stride), p0 = rng.floats(ng * n_kv, 0, 1);
        std::vector<uint16_t> kh(kf.size());
        for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_f16(kf[i]);
        std::vector<float> a(static_cast<size_t>(ng * n_kv)), b(a.size());
        ref.attn_scores_f16(q.data(), ng, kh.data(), stride, n_kv, d, 0.5f, a.data());
        op.attn_scores_f16(q.data(), ng, kh.data(), stride, n_kv, d, 0.5f, b.data());
        expect_all_near(b, a, 1e-5f, "scores f16");
        ref.attn_scores_f32(q.data(), ng, kf.data(), stride, n_kv, d, 0.5f, a.data());
        op.attn_scores_f32(q.data(), ng, kf.data(), stride, n_kv, d, 0.5f, b.data());
        expect_all_near(b, a, 1e-5f, "scores f32");
        std::vector<float> pa = p0, pb = p0, oa(static_cast<size_t>(ng * d)), ob(oa.size());
        ref.attn_values_f16(pa.data(), ng, kh.data(), stride, n_kv, d, oa.data());
        op.attn_values_f16(pb.data(), ng, kh.data(), stride, n_kv, d, ob.data());
        EXPECT_EQ(pa, pb) << "p rounded to f16 identically";
        expect_all_near(ob, oa, 1e-5f, "values f16");
        pa = p0;
        pb = p0;
        ref.attn_values_f32(pa.data(), ng, kf.data(), stride, n_kv, d, oa.data());
        op.attn_values_f32(pb.data(), ng, kf.data(), stride, n_kv, d, ob.data());
        expect_all_near(ob, oa, 1e-5f, "values f32");
      }
    }
  }
}

}  // namespace
}  // namespace er::kernels
