// Float ops and attention: exact small cases, outputs recorded from llama.cpp, and every SIMD level
// bit for bit against the scalar path.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/f16.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

#include "support/test_rng.h"
#include "support/test_support.h"

namespace er::kernels {
namespace {

using Rng = test::TestRng;

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

// ggml-cpu's outputs (llama-cpp-python 0.3.36, AVX-512 build) for fixed, exactly representable
// inputs, as float bits: made by the probe in docs/engine.md ("Checking an op against ggml").
namespace ggml_ref {
constexpr uint32_t kSoftmax53[53] = {0x355f8d8e, 0x38b2260a, 0x3c0df74d, 0x364311b1, 0x399b732f, 0x3cf7c14b, 0x372a36ec, 0x3a87a4b4, 0x3dd83003, 0x381486da, 0x3b6cb892, 0x35a2a241, 0x39019a32, 0x3c4e8f31, 0x368de975, 0x39e22da6, 0x3d343da0, 0x3777a920, 0x3ac55c26, 0x3e1d4687, 0x38581aec, 0x3bac36a9, 0x35eca17d, 0x393c91fe, 0x3c964564, 0x36ce7b0c, 0x3a248b33, 0x3d831fd5, 0x37b42c0e, 0x3b0f941b, 0x3e64d5a2, 0x389d3732, 0x3bfa91b2, 0x362c25dc, 0x39892f20, 0x3cdaa4a0, 0x371636bc, 0x3a6f68e5, 0x3dbec8e9, 0x3803130b, 0x3b50e7d1, 0x358f861b, 0x38e4bf51, 0x3c3649b9, 0x367a7943, 0x39c79a06, 0x3d1f0fd8, 0x375a8f4e, 0x3aae2b69, 0x3e0acb8e, 0x383eb64e, 0x3b97fa58, 0x35d0d370};
constexpr uint32_t kSwiglu37[37] = {0x38c3621b, 0xbdc39a7d, 0xb979565b, 0xbf8ced72, 0xba0d525d, 0xc054c031, 0xba8847cf, 0xc0d5a077, 0xbaa9d048, 0xc131af3a, 0x3ac54c32, 0x413cd3ec, 0x3c9a340c, 0x4124f4f7, 0x3db07757, 0x40f6fb44, 0x3e8b943d, 0x4080ff4a, 0x3f059ebf, 0xbf3fffb2, 0x00000000, 0x381a9f8c, 0x3fa33ba4, 0x39629f94, 0x4001613e, 0x3a802576, 0x3fcd2cbc, 0x3b7ff54a, 0x00000000, 0xbc3d61ce, 0xc02ea9af, 0xbccd7d03, 0xc0d1e248, 0xbd3ddab9, 0xc137b88d, 0xbd7872a0, 0xc18bfe60};
constexpr uint32_t kRmsnorm100[100] = {0x404c3682, 0x3d7e21b3, 0x3fd4278f, 0x3f2eb72c, 0x3f0155b9, 0x3ffbdcd4, 0x3c9137d4, 0x4032afb2, 0x3e47acc4, 0x3f9928e2, 0x3f84bd08, 0x3e882457, 0x4022cd97, 0x80000000, 0x400b8ba6, 0x3ecc3682, 0x3f4e7b61, 0x3fbb31f8, 0x3dc7acc4, 0xc03f731a, 0x3d59d3be, 0x3fd1e2b0, 0x3f2c724c, 0x3ef997f5, 0x3ffaba64, 0x00000000, 0x4030fc0a, 0x3e3585c9, 0x3f95c193, 0x3f827829, 0x3e750e35, 0x4021ab27, 0xbcd9d3be, 0x400946c7, 0x3ebe9946, 0x3f4567e4, 0x3fb7caa8, 0x3d7e21b3, 0xc026c61d, 0x3c9137d4, 0x3fcc3682, 0x3f235ece, 0x3ee2e73b, 0x3ff630a5, 0xbd3585c9, 0xc01c9031, 0x3e082457, 0x3f8ef2f4, 0x3f7997f4, 0x3e3e9946, 0xc014e7bf, 0xbda35ece, 0x40054e3f, 0x3ea35ece, 0x3f3585c9, 0x3fb0fc0a, 0x00000000, 0xc00fccc8, 0xbd3585c9, 0x3fc32305, 0x3f137cb3, 0x3ebe9946, 0x3fee3f98, 0xbdebfab8, 0xc0062813, 0x3d7e21b3, 0x3f84bd08, 0x3f6770fa, 0x3dd9d3be, 0xbffe21b3, 0xbe235ece, 0xbfeff33f, 0x3e750e36, 0x3f1ed510, 0x3fa6c61d, 0xbdb585c9, 0xbff50e35, 0xbe082457, 0x3fb6a839, 0x3ef997f4, 0x3e8cae15, 0xbfd4b8c7, 0xbe59d3be, 0xbfe2e73b, 0xbd1137d4, 0x3f6e3f98, 0x3f4e7b61, 0x00000000, 0xbfd5db37, 0xbe882457, 0xbfc7acc4, 0x3e082457, 0x3f0155b9, 0x3f9928e1, 0xbe50c041, 0xbfcdea2a, 0xbe7e21b3, 0xbfa35ece, 0x3ebe9946, 0x3e1a4b51};
constexpr uint32_t kRopeNormal[32] = {0x402631eb, 0xbfaa66f2, 0x3f48ab70, 0x4016a9a2, 0x4018fdf5, 0xbfc6bafe, 0x3daae98f, 0x40021efa, 0x3f6c07dd, 0xbfbc5cc3, 0xc004841f, 0xbfd0fe20, 0x40080000, 0xbfb00000, 0x3f800000, 0xc0200000, 0xbfa0940f, 0xbfef9d09, 0xbf0fa279, 0xbfcaec9e, 0xbfe2d46e, 0xbfca6571, 0x4003f650, 0xbfd08e8c, 0xbd7dd2e0, 0x4024aeae, 0xbf9ffb63, 0x400acccd, 0xbf800000, 0x3fb00000, 0xc0080000, 0x3e800000};
constexpr uint32_t kRopeNeox[32] = {0x4021612c, 0xbfd40713, 0x401973e3, 0xbfb18e44, 0x3f0e1482, 0xc00b3d44, 0xbfb72dcf, 0xbf9d163c, 0x3e043468, 0x3f9bd3a4, 0x402b12f5, 0xbfd9aa03, 0x40080000, 0xbfb00000, 0x3f800000, 0xc0200000, 0xbfaa358e, 0x3e36b54e, 0xbfe1e890, 0x3f175f87, 0x4002e51c, 0xbfad6dac, 0xbffc63e6, 0x40209766, 0x3dcdc19a, 0xc01c7c6e, 0xbf9b5d3e, 0x400676dc, 0xbf800000, 0x3fb00000, 0xc0080000, 0x3e800000};
}  // namespace ggml_ref

float input(int i, int a, int m, float div) { return static_cast<float>((i * a) % m - m / 2) / div; }

void expect_bits(const float* got, const uint32_t* want, int n, const char* what, Isa isa) {
  for (int i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &got[i], 4);
    ASSERT_EQ(u, want[i]) << what << " element " << i << " (" << got[i] << ") " << isa_name(isa);
  }
}

TEST(Ops, MatchLlamaCppBitForBit) {
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    std::vector<float> x(53);
    for (int i = 0; i < 53; ++i) x[i] = input(i, 37, 101, 8.0f);
    op.softmax(x.data(), 53);
    expect_bits(x.data(), ggml_ref::kSoftmax53, 53, "softmax", isa);

    std::vector<float> g(37), u(37), y(37);
    for (int i = 0; i < 37; ++i) {
      g[i] = input(i, 53, 101, 4.0f);
      u[i] = input(i, 29, 65, 16.0f);
    }
    op.swiglu(g.data(), u.data(), y.data(), 37);  // 32 in vector chunks, a 5-element libm tail
    expect_bits(y.data(), ggml_ref::kSwiglu37, 37, "swiglu", isa);

    std::vector<float> r(100), w(100), n(100);
    for (int i = 0; i < 100; ++i) {
      r[i] = input(i, 41, 97, 16.0f);
      w[i] = input(i, 13, 31, 8.0f);
    }
    op.rmsnorm(r.data(), w.data(), n.data(), 100, 1e-6f);
    expect_bits(n.data(), ggml_ref::kRmsnorm100, 100, "rmsnorm", isa);

    for (bool neox : {false, true}) {
      RopeParams p;
      p.n_rot = 12;  // 6 pairs: in the normal layout pairs 4 and 5 are ggml's unfused epilogue
      p.neox = neox;
      std::vector<float> cs(12), h(32);
      rope_cache(p, 1234, cs.data());
      for (int i = 0; i < 32; ++i) h[i] = input(i, 19, 47, 8.0f);
      op.rope(h.data(), 2, 16, cs.data(), 12, neox);
      expect_bits(h.data(), neox ? ggml_ref::kRopeNeox : ggml_ref::kRopeNormal, 32, neox ? "rope neox" : "rope", isa);
    }
  }
}

// ggml_geglu_split (ggml_vec_geglu_f32 through ggml's f16 GELU table; the same scalar loop in
// every llama.cpp CPU build) on gate x up pairs, from the probe in docs/engine.md run on
// llama-cpp-python 0.3.36: {gate, up, output bits}.
struct GegluCase {
  float gate, up;
  uint32_t bits;
};
constexpr GegluCase kGgmlGeglu[] = {
    {-10.5f, 1.5f, 0x00000000u},        {-10.0f, -2.0f, 0x00000000u},        {-9.98999977f, 0.300000012f, 0x80000000u},
    {-3.33333325f, 0.100000001f, 0xb8f30000u}, {-0.707099974f, -1.25f, 0x3e590800u}, {-9.99999994e-09f, 3.0f, 0x80000000u},
    {0.0f, 7.0f, 0x00000000u},          {9.99999975e-06f, -0.5f, 0xb6280000u}, {0.123456784f, 2.5f, 0x3e2d9800u},
    {0.5f, -3.75f, 0xbfa5f000u},        {1.0f, 0.0625f, 0x3d576000u},        {1.41421354f, 1.10000002f, 0x3fb76ccdu},
    {2.71828175f, -0.899999976f, 0xc01c2666u}, {9.9989996f, 0.769999981f, 0x40f66666u}, {10.0f, 1.29999995f, 0x41500000u},
    {17.25f, -2.20000005f, 0xc217cccdu}};
// FNV-1a 64 of ggml's 65,536 outputs, float bits little-endian, for every f16 value as the gate
// (non-finite ones replaced by 0) and up = 1: the whole table.
constexpr uint64_t kGgmlGeluTableFnv = 0x8b4ee33cb28e8e00ull;

TEST(Ops, GegluMatchesLlamaCppBitForBit) {
  for (const GegluCase& c : kGgmlGeglu) {
    float y = 0.0f;
    geglu(&c.gate, &c.up, &y, 1);
    uint32_t u;
    std::memcpy(&u, &y, 4);
    EXPECT_EQ(u, c.bits) << "geglu(" << c.gate << ", " << c.up << ") = " << y;
  }
  std::vector<float> g(65536), up(65536, 1.0f), y(65536);
  for (uint32_t h = 0; h < 65536; ++h) {
    g[h] = f16_to_f32(static_cast<uint16_t>(h));
    if (!std::isfinite(g[h])) g[h] = 0.0f;
  }
  geglu(g.data(), up.data(), y.data(), 65536);
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (float v : y) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int k = 0; k < 4; ++k) fnv = (fnv ^ ((u >> (8 * k)) & 0xffu)) * 0x100000001b3ull;
  }
  EXPECT_EQ(fnv, kGgmlGeluTableFnv);
  // In place, and against the exact GELU (the table's f16 rounding is the only difference).
  std::vector<float> a = {-2.0f, -0.25f, 0.75f, 3.0f}, b = {1.0f, 2.0f, -1.0f, 0.5f};
  std::vector<float> want(4);
  for (size_t i = 0; i < 4; ++i) {
    const double x = a[i];
    want[i] = static_cast<float>(0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * b[i]);
  }
  geglu(a.data(), b.data(), a.data(), 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(a[i], want[i], 1e-3 * std::fabs(want[i]) + 1e-6) << i;
}

TEST(Ops, SimdMatchesScalarBitForBit) {
  Rng rng(8);
  const Ops& ref = ops(Isa::kScalar);
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    for (int64_t n : {1, 7, 16, 64, 100, 896, 4097}) {
      std::vector<float> x = rng.floats(n, -6.0f, 6.0f), w = rng.floats(n), u = rng.floats(n);
      x[0] = -100.0f;  // exp underflow (|n| > 126) and the 2^n scaling
      std::vector<float> a(x.size()), b(x.size());
      ref.rmsnorm(x.data(), w.data(), a.data(), n, 1e-6f);
      op.rmsnorm(x.data(), w.data(), b.data(), n, 1e-6f);
      EXPECT_EQ(a, b) << "rmsnorm n=" << n << " " << isa_name(isa);
      a = x;
      b = x;
      ref.softmax(a.data(), n);
      op.softmax(b.data(), n);
      EXPECT_EQ(a, b) << "softmax n=" << n << " " << isa_name(isa);
      ref.swiglu(x.data(), u.data(), a.data(), n);
      op.swiglu(x.data(), u.data(), b.data(), n);
      EXPECT_EQ(a, b) << "swiglu n=" << n << " " << isa_name(isa);
    }
    for (bool neox : {false, true}) {
      for (int n_rot : {64, 128, 12, 6}) {
        RopeParams p;
        p.n_rot = n_rot;
        p.neox = neox;
        std::vector<float> cs(static_cast<size_t>(n_rot));
        rope_cache(p, 1234, cs.data());
        const std::vector<float> x = rng.floats(4 * 128);
        std::vector<float> a = x, b = x;
        ref.rope(a.data(), 4, 128, cs.data(), n_rot, neox);
        op.rope(b.data(), 4, 128, cs.data(), n_rot, neox);
        EXPECT_EQ(a, b) << "rope n_rot=" << n_rot << " neox=" << neox << " " << isa_name(isa);
      }
    }
  }
}

TEST(Ops, LogSumExpMatchesScalarBitForBitAndDoubleExpClosely) {
  Rng rng(9);
  const Ops& ref = ops(Isa::kScalar);
  for (int64_t n : {1, 5, 16, 17, 100, 4097, 49152}) {
    std::vector<float> x = rng.floats(n, -20.0f, 20.0f);
    x[0] = -200.0f;  // underflows to 0 after the max is taken off
    double m = x[0], sum = 0.0;
    for (float v : x) m = std::max(m, static_cast<double>(v));
    for (float v : x) sum += std::exp(static_cast<double>(v) - m);
    const double want = m + std::log(sum), got_ref = ref.log_sum_exp(x.data(), n);
    EXPECT_NEAR(got_ref, want, 1e-5 * (1.0 + std::fabs(want))) << "n=" << n;
    for (Isa isa : supported_isas()) {
      const double got = ops(isa).log_sum_exp(x.data(), n);
      EXPECT_EQ(std::memcmp(&got, &got_ref, sizeof got), 0) << "n=" << n << " " << isa_name(isa) << ": " << got
                                                            << " vs " << got_ref;
    }
  }
  // One finite value among -inf: log_sum_exp is that value.
  const std::vector<float> one = {-INFINITY, 2.5f, -INFINITY};
  for (Isa isa : supported_isas()) EXPECT_DOUBLE_EQ(ops(isa).log_sum_exp(one.data(), 3), 2.5) << isa_name(isa);
}

TEST(Ops, RmsnormRowsEqualsRmsnormPerRowAtEveryLevel) {
  Rng rng(13);
  for (int64_t n : {1, 3, 4, 7, 64, 576, 1537}) {
    for (int64_t n_rows : {1, 2, 3, 4, 5, 8, 9}) {
      const std::vector<float> x = rng.floats(n_rows * n, -3.0f, 3.0f), w = rng.floats(n, -2.0f, 2.0f);
      for (Isa isa : supported_isas()) {
        const Ops& op = ops(isa);
        std::vector<float> want(x.size()), got(x.size()), in_place = x;
        for (int64_t r = 0; r < n_rows; ++r) ops(Isa::kScalar).rmsnorm(&x[r * n], w.data(), &want[r * n], n, 1e-5f);
        op.rmsnorm_rows(x.data(), w.data(), got.data(), n_rows, n, 1e-5f);
        op.rmsnorm_rows(in_place.data(), w.data(), in_place.data(), n_rows, n, 1e-5f);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << isa_name(isa) << " rows=" << n_rows << " n=" << n;
        EXPECT_EQ(std::memcmp(in_place.data(), want.data(), got.size() * sizeof(float)), 0)
            << "in place " << isa_name(isa) << " rows=" << n_rows << " n=" << n;
      }
    }
  }
}

TEST(Ops, ArgmaxIsTheFirstLargestValueAtEveryLevel) {
  Rng rng(11);
  const Ops& ref = ops(Isa::kScalar);
  // The plain definition the reference must meet: first index of the largest value above -inf.
  const auto naive = [](const std::vector<float>& x) {
    int64_t best = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isnan(x[i]) && x[i] > -INFINITY && (x[static_cast<size_t>(best)] <= -INFINITY ||
                                                   std::isnan(x[static_cast<size_t>(best)]) ||
                                                   x[i] > x[static_cast<size_t>(best)])) {
        best = static_cast<int64_t>(i);
      }
    }
    return best;
  };
  for (int64_t n : {1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 4097, 49152, 151936}) {
    for (int variant = 0; variant < 7; ++variant) {
      std::vector<float> x = rng.floats(n, -20.0f, 20.0f);
      const size_t last = static_cast<size_t>(n - 1), mid = static_cast<size_t>(n / 2);
      switch (variant) {
        case 1: x[last] = 30.0f; break;                        // the largest in the tail
        case 2: x[mid] = x[last] = 30.0f; break;               // a tie: the first one wins
        case 3: std::fill(x.begin(), x.end(), 1.0f); break;    // all equal: index 0
        case 4: std::fill(x.begin(), x.end(), -INFINITY); x[last] = -5.0f; break;
        case 5: std::fill(x.begin(), x.end(), -INFINITY); break;  // nothing above -inf: 0
        case 6: x[0] = NAN; x[mid] = NAN; break;               // NaN is never taken
        default: break;
      }
      const int64_t want = naive(x);
      EXPECT_EQ(ref.argmax(x.data(), n), want) << "scalar n=" << n << " variant " << variant;
      for (Isa isa : supported_isas()) {
        EXPECT_EQ(ops(isa).argmax(x.data(), n), want) << isa_name(isa) << " n=" << n << " variant " << variant;
      }
    }
  }
}

TEST(Ops, AllFiniteFindsNanAndPlusInfAnywhere) {
  Rng rng(12);
  for (int64_t n : {1, 7, 8, 9, 16, 17, 100, 49152}) {
    const std::vector<float> x = rng.floats(n, -20.0f, 20.0f);
    for (Isa isa : supported_isas()) {
      const Ops& op = ops(isa);
      EXPECT_TRUE(op.all_finite(x.data(), n)) << isa_name(isa) << " n=" << n;
      for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
        for (float bad : {NAN, INFINITY}) {
          std::vector<float> y = x;
          y[static_cast<size_t>(at)] = bad;
          EXPECT_FALSE(op.all_finite(y.data(), n)) << isa_name(isa) << " n=" << n << " at " << at << " " << bad;
        }
        std::vector<float> y = x;
        y[static_cast<size_t>(at)] = -INFINITY;  // a banned token: allowed
        EXPECT_TRUE(op.all_finite(y.data(), n)) << isa_name(isa) << " n=" << n << " at " << at;
      }
    }
  }
}

TEST(Ops, ToF16MatchesScalarBitForBitOnEdgeValues) {
  // Ties to even, the subnormal range, overflow to inf, NaN, signed zero and ordinary values.
  Rng rng(10);
  std::vector<float> x = rng.floats(1000, -70000.0f, 70000.0f);
  const std::vector<float> small = rng.floats(200, -1e-4f, 1e-4f);
  x.insert(x.end(), small.begin(), small.end());
  for (float v : {0.0f, -0.0f, 1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11), 65504.0f, 65519.0f,
                  65520.0f, -65520.0f, std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(3.0f, -26),
                  std::ldexp(1.0f, -14), INFINITY, -INFINITY, NAN}) {
    x.push_back(v);
  }
  std::vector<uint16_t> want(x.size());
  ops(Isa::kScalar).to_f16(x.data(), want.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(want[want.size() - 15], 0x0000);  // +0
  EXPECT_EQ(want[want.size() - 14], 0x8000);  // -0
  EXPECT_EQ(want[want.size() - 13], 0x3c00);  // 1 + 2^-11 ties to even: 1
  EXPECT_EQ(want[want.size() - 12], 0x3c02);  // 1 + 3 * 2^-11 ties to even: up
  EXPECT_EQ(want[want.size() - 9], 0x7c00);   // 65520 overflows
  EXPECT_EQ(want[want.size() - 7], 0x0001);   // 2^-24: the smallest subnormal
  for (Isa isa : supported_isas()) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, x.size()}) {
      std::vector<uint16_t> got(n, 0xdead);
      ops(isa).to_f16(x.data() + (x.size() - n), got.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[x.size() - n + i]) << isa_name(isa) << " n=" << n << " x=" << x[x.size() - n + i];
      }
    }
  }
}

TEST(Ops, DotOrdersSumAsDocumented) {
  // 64 products of 1 and one of 2^-24: kTinyBlas puts the small one in a lane of its own (kept
  // until the tree: 64 + 2^-24 rounds to 64); kVecDot's tail adds it in double: also 64. A value
  // that survives only in one order: 2^-20 at position 64 (the kVecDot tail, double: kept).
  std::vector<float> q(80, 0.0f), k(80, 0.0f);
  for (int i = 0; i < 64; ++i) q[i] = k[i] = 1.0f;
  q[64] = 1.0f;
  k[64] = std::ldexp(1.0f, -20);
  std::vector<uint16_t> kh(80);
  for (int i = 0; i < 80; ++i) kh[i] = f32_to_f16(k[i]);
  for (Isa isa : supported_isas()) {
    float s;
    ops(isa).attn_scores_f16(q.data(), 1, kh.data(), 80, 1, 80, 1.0f, DotOrder::kVecDot, &s);
    EXPECT_EQ(s, 64.0f + std::ldexp(1.0f, -20)) << isa_name(isa);
    ops(isa).attn_scores_f32(q.data(), 1, k.data(), 80, 1, 80, 1.0f, DotOrder::kVecDot, &s);
    EXPECT_EQ(s, 64.0f + std::ldexp(1.0f, -20)) << isa_name(isa);
  }
}

// ---- attention ---------------------------------------------------------------------------------

// Naive double-precision attention for one query/head over the (f16-rounded where the cache is f16)
// inputs.
std::vector<float> naive_attention(const AttentionShape& s, const std::vector<float>& q, int64_t n_q,
                                   int64_t first_pos, const std::vector<float>& k, const std::vector<float>& v,
                                   bool f16, int64_t window = 0) {
  const int64_t width = static_cast<int64_t>(s.n_head) * s.head_dim;
  const int64_t kv_width = static_cast<int64_t>(s.n_head_kv) * s.head_dim;
  auto round = [&](float x) { return f16 ? f16_to_f32(f32_to_f16(x)) : x; };
  std::vector<float> out(static_cast<size_t>(n_q * width));
  for (int64_t i = 0; i < n_q; ++i) {
    const int64_t n_kv = first_pos + i + 1;
    const int64_t j0 = window > 0 ? std::max<int64_t>(0, n_kv - window) : 0;  // the window's first position
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / (s.n_head / s.n_head_kv);
      std::vector<double> p(static_cast<size_t>(n_kv), 0.0);
      double max = -1e300, sum = 0.0;
      for (int64_t j = j0; j < n_kv; ++j) {
        double dot = 0.0;
        for (int d = 0; d < s.head_dim; ++d) {
          dot += static_cast<double>(round(q[i * width + h * s.head_dim + d])) * k[j * kv_width + kvh * s.head_dim + d];
        }
        p[j] = dot * s.scale;
        max = std::fmax(max, p[j]);
      }
      for (int64_t j = j0; j < n_kv; ++j) sum += (p[j] = std::exp(p[j] - max));
      for (int d = 0; d < s.head_dim; ++d) {
        double o = 0.0;
        for (int64_t j = j0; j < n_kv; ++j) o += p[j] / sum * v[j * kv_width + kvh * s.head_dim + d];
        out[i * width + h * s.head_dim + d] = static_cast<float>(o);
      }
    }
  }
  return out;
}

// Values as an f16 cache stores them (h), and those f16 values back as f32 (r): what a naive
// reference must compute with to see the cache's numbers.
struct F16Copy {
  std::vector<uint16_t> h;
  std::vector<float> r;
};
F16Copy f16_copy(const std::vector<float>& x) {
  F16Copy c{std::vector<uint16_t>(x.size()), std::vector<float>(x.size())};
  for (size_t i = 0; i < x.size(); ++i) {
    c.h[i] = f32_to_f16(x[i]);
    c.r[i] = f16_to_f32(c.h[i]);
  }
  return c;
}

TEST(Attention, SinglePositionReturnsItsValue) {
  const AttentionShape s{2, 1, 4, 0.5f};
  const std::vector<float> q = {1, 2, 3, 4, -1, -2, -3, -4}, k = {1, 1, 1, 1}, v = {0.5f, -1.5f, 2.0f, 3.0f};
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, 8, 4);
  for (Isa isa : supported_isas()) {
    std::vector<float> out(8, NAN);
    const AttentionTask task{q.data(), 1, 0, KvCacheView{DType::kF32, k.data(), v.data(), 4, 4}, out.data()};
    attention(s, &task, 1, scratch, pool, isa);
    EXPECT_EQ(out, (std::vector<float>{0.5f, -1.5f, 2.0f, 3.0f, 0.5f, -1.5f, 2.0f, 3.0f})) << isa_name(isa);
  }
}

TEST(Attention, PrefillAndDecodeMatchNaiveForF32AndF16Caches) {
  Rng rng(9);
  const AttentionShape s{8, 2, 64, 0.125f};
  const int64_t n_ctx = 40, kv_width = 2 * 64, width = 8 * 64;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width, -2, 2), vf = rng.floats(n_ctx * kv_width);
  const auto [kh, kr] = f16_copy(kf);  // kr: the f16 values for the naive reference
  const auto [vh, vr] = f16_copy(vf);
  const std::vector<float> q = rng.floats(n_ctx * width, -2, 2);
  // Head-major copies: (kv_head, pos, d).
  std::vector<float> kf_hm(kf.size()), vf_hm(vf.size());
  std::vector<uint16_t> kh_hm(kh.size()), vh_hm(vh.size());
  for (int64_t pos = 0; pos < n_ctx; ++pos) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t d = 0; d < 64; ++d) {
        const size_t from = static_cast<size_t>(pos * kv_width + h * 64 + d), to = static_cast<size_t>((h * n_ctx + pos) * 64 + d);
        kf_hm[to] = kf[from];
        vf_hm[to] = vf[from];
        kh_hm[to] = kh[from];
        vh_hm[to] = vh[from];
      }
    }
  }
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 64);
  for (bool f16 : {false, true}) {
    const KvCacheView kv = f16 ? KvCacheView{DType::kF16, kh.data(), vh.data(), kv_width, 64}
                               : KvCacheView{DType::kF32, kf.data(), vf.data(), kv_width, 64};
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
      // The same cache head-major (the engine's layout: each head's positions contiguous) gives
      // the same bits for prefill and decode.
      const KvCacheView hm = f16 ? KvCacheView{DType::kF16, kh_hm.data(), vh_hm.data(), 64, n_ctx * 64}
                                 : KvCacheView{DType::kF32, kf_hm.data(), vf_hm.data(), 64, n_ctx * 64};
      std::vector<float> out_hm(out.size()), dec_hm(dec.size());
      const AttentionTask prefill_hm{q.data() + 10 * width, 30, 10, hm, out_hm.data()};
      attention(s, &prefill_hm, 1, scratch, pool, isa);
      EXPECT_TRUE(test::same_bits(out_hm, out)) << "head-major prefill";
      const AttentionTask tasks_hm[3] = {{q.data() + 12 * width, 1, 12, hm, dec_hm.data()},
                                         {q.data() + 25 * width, 1, 25, hm, dec_hm.data() + width},
                                         {q.data() + 39 * width, 1, 39, hm, dec_hm.data() + 2 * width}};
      attention(s, tasks_hm, 3, scratch, pool, isa);
      EXPECT_TRUE(test::same_bits(dec_hm, dec)) << "head-major decode";
    }
  }
}

TEST(Attention, SlidingWindowMatchesNaiveAndScalarBits) {
  // 4 query heads on one KV head (Gemma 3 270M's grouping), head_dim 32, window 7: a 30-token
  // prefill after a 10-token prefix and decode rows, with f32 and f16 caches.
  Rng rng(21);
  AttentionShape s{4, 1, 32, 0.125f};
  const int64_t n_ctx = 40, width = 4 * 32, kv_width = 32;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width, -2, 2), vf = rng.floats(n_ctx * kv_width);
  const auto [kh, kr] = f16_copy(kf);  // kr: the f16 values for the naive reference
  const auto [vh, vr] = f16_copy(vf);
  const std::vector<float> q = rng.floats(n_ctx * width, -2, 2);
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 32);
  for (bool f16 : {false, true}) {
    const KvCacheView kv = f16 ? KvCacheView{DType::kF16, kh.data(), vh.data(), kv_width, 32}
                               : KvCacheView{DType::kF32, kf.data(), vf.data(), kv_width, 32};
    const std::vector<float> qs(q.begin() + 10 * width, q.end());
    const std::vector<float> want = naive_attention(s, qs, 30, 10, f16 ? kr : kf, f16 ? vr : vf, f16, 7);
    const std::vector<float> unwindowed = naive_attention(s, qs, 30, 10, f16 ? kr : kf, f16 ? vr : vf, f16);
    std::vector<float> ref_prefill, ref_decode;
    for (Isa isa : supported_isas()) {
      s.window = 7;
      std::vector<float> out(30 * width), dec(2 * width);
      const AttentionTask prefill{qs.data(), 30, 10, kv, out.data()};
      attention(s, &prefill, 1, scratch, pool, isa);
      expect_all_near(out, want, f16 ? 2e-3f : 2e-5f, f16 ? "windowed prefill f16" : "windowed prefill f32");
      // The window changes the result (the test can fail): the last rows differ from full attention.
      double diff = 0.0;
      for (int64_t d = 0; d < width; ++d) diff += std::fabs(out[29 * width + d] - unwindowed[29 * width + d]);
      EXPECT_GT(diff, 1e-2) << isa_name(isa);
      const AttentionTask tasks[2] = {{q.data() + 12 * width, 1, 12, kv, dec.data()},
                                      {q.data() + 39 * width, 1, 39, kv, dec.data() + width}};
      attention(s, tasks, 2, scratch, pool, isa);
      for (int t = 0; t < 2; ++t) {
        const int64_t r = (t == 0 ? 12 : 39) - 10;
        for (int64_t d = 0; d < width; ++d) ASSERT_NEAR(dec[t * width + d], want[r * width + d], f16 ? 2e-3f : 2e-5f);
      }
      // Every level gives the scalar reference's bits.
      if (isa == Isa::kScalar) {
        ref_prefill = out;
        ref_decode = dec;
      } else {
        EXPECT_TRUE(test::same_bits(out, ref_prefill)) << "windowed prefill " << isa_name(isa);
        EXPECT_TRUE(test::same_bits(dec, ref_decode)) << "windowed decode " << isa_name(isa);
      }
      // A window that covers every position gives full attention's bits.
      s.window = 40;
      std::vector<float> wide(30 * width), full(30 * width);
      const AttentionTask t_wide{qs.data(), 30, 10, kv, wide.data()};
      attention(s, &t_wide, 1, scratch, pool, isa);
      s.window = 0;
      const AttentionTask t_full{qs.data(), 30, 10, kv, full.data()};
      attention(s, &t_full, 1, scratch, pool, isa);
      EXPECT_TRUE(test::same_bits(wide, full)) << isa_name(isa);
    }
  }
}

TEST(Attention, LargeGroupsAndOddHeadDimMatchNaive) {
  // 10 query heads on one KV head (processed as groups of 8 + 2), head_dim 36 (vector tails).
  Rng rng(12);
  const AttentionShape s{10, 1, 36, 1.0f / 6.0f};
  const int64_t n_ctx = 19, kv_width = 36, width = 10 * 36;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width), vf = rng.floats(n_ctx * kv_width);
  const auto [kh, kr] = f16_copy(kf);  // kr: the f16 values for the naive reference
  const auto [vh, vr] = f16_copy(vf);
  const std::vector<float> q = rng.floats(n_ctx * width);
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 36);
  for (bool f16 : {false, true}) {
    const KvCacheView kv = f16 ? KvCacheView{DType::kF16, kh.data(), vh.data(), kv_width, 36}
                               : KvCacheView{DType::kF32, kf.data(), vf.data(), kv_width, 36};
    const std::vector<float> want = naive_attention(s, q, n_ctx, 0, f16 ? kr : kf, f16 ? vr : vf, f16);
    for (Isa isa : supported_isas()) {
      std::vector<float> out(n_ctx * width);
      const AttentionTask task{q.data(), n_ctx, 0, kv, out.data()};
      attention(s, &task, 1, scratch, pool, isa);
      expect_all_near(out, want, f16 ? 2e-3f : 2e-5f, f16 ? "f16" : "f32");
    }
  }
}

TEST(Ops, GroupedAttentionOpsMatchScalarBitForBit) {
  Rng rng(13);
  const Ops& ref = ops(Isa::kScalar);
  for (Isa isa : supported_isas()) {
    const Ops& op = ops(isa);
    for (DotOrder order : {DotOrder::kTinyBlas, DotOrder::kVecDot}) {
      for (int ng : {1, 3, 4, 6, 8}) {
        for (int64_t d : {8, 20, 64, 128, 144}) {
          if (order == DotOrder::kTinyBlas && d % 16 != 0) continue;  // (kTinyBlas REQUIRES it)
          for (int64_t n_kv : {1, 2, 9, 37, 63, 64, 65, 127, 128, 129, 130, 200}) {
            const int64_t stride = 3 * d;
            const std::vector<float> q = rng.floats(ng * d), kf = rng.floats(n_kv * stride), p0 = rng.floats(ng * n_kv, 0, 1);
            std::vector<float> qh(q.size());  // the f16 ops take q as f16 values (attention() rounds it)
            ref.round_f16(q.data(), qh.data(), static_cast<int64_t>(q.size()));
            std::vector<uint16_t> kh(kf.size());
            for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_f16(kf[i]);
            SCOPED_TRACE(testing::Message() << isa_name(isa) << " ng=" << ng << " d=" << d << " n_kv=" << n_kv
                                            << " order=" << static_cast<int>(order));
            std::vector<float> a(static_cast<size_t>(ng * n_kv)), b(a.size());
            ref.attn_scores_f16(qh.data(), ng, kh.data(), stride, n_kv, d, 0.5f, order, a.data());
            op.attn_scores_f16(qh.data(), ng, kh.data(), stride, n_kv, d, 0.5f, order, b.data());
            EXPECT_EQ(a, b) << "scores f16";
            ref.attn_scores_f32(q.data(), ng, kf.data(), stride, n_kv, d, 0.5f, order, a.data());
            op.attn_scores_f32(q.data(), ng, kf.data(), stride, n_kv, d, 0.5f, order, b.data());
            EXPECT_EQ(a, b) << "scores f32";
            std::vector<float> pa = p0, pb = p0, oa(static_cast<size_t>(ng * d)), ob(oa.size());
            ref.attn_values_f16(pa.data(), ng, kh.data(), stride, n_kv, d, order, oa.data());
            op.attn_values_f16(pb.data(), ng, kh.data(), stride, n_kv, d, order, ob.data());
            EXPECT_EQ(pa, pb) << "p rounded to f16 identically";
            EXPECT_TRUE(test::same_bits(oa, ob)) << "values f16";
            pa = p0;
            pb = p0;
            ref.attn_values_f32(pa.data(), ng, kf.data(), stride, n_kv, d, order, oa.data());
            op.attn_values_f32(pb.data(), ng, kf.data(), stride, n_kv, d, order, ob.data());
            EXPECT_TRUE(test::same_bits(oa, ob)) << "values f32";
            // Products that underflow to -0 in every live lane: the padded lanes' +0 makes the sum +0.
            std::fill(pa.begin(), pa.end(), 1e-30f);
            pb = pa;
            std::vector<float> tiny(kf.size(), -1e-30f);
            ref.attn_values_f32(pa.data(), ng, tiny.data(), stride, n_kv, d, order, oa.data());
            op.attn_values_f32(pb.data(), ng, tiny.data(), stride, n_kv, d, order, ob.data());
            EXPECT_TRUE(test::same_bits(oa, ob)) << "values f32, signed zeros";
          }
        }
      }
    }
  }
}

TEST(Attention, OrderFollowsTheBatchSizeAsInLlamaCpp) {
  // One query in the whole call runs ggml_vec_dot's order, two or more tinyBLAS's: attention()
  // must equal the scalar ops composed with that order, bit for bit, at every level.
  Rng rng(14);
  const AttentionShape s{4, 2, 64, 0.125f};
  const int64_t n_ctx = 70, kv_width = 2 * 64, width = 4 * 64;
  const std::vector<float> kf = rng.floats(n_ctx * kv_width, -2, 2), vf = rng.floats(n_ctx * kv_width);
  const std::vector<uint16_t> kh = f16_copy(kf).h, vh = f16_copy(vf).h;
  const std::vector<float> q = rng.floats(2 * width, -2, 2);
  const KvCacheView kv{DType::kF16, kh.data(), vh.data(), kv_width, 64};
  const Ops& ref = ops(Isa::kScalar);
  // want[t] for queries at positions 68 and 69 (prefix of 68 cached positions) in `order`.
  auto expected = [&](int t, DotOrder order) {
    std::vector<float> out(static_cast<size_t>(width)), qh(64), sc(static_cast<size_t>(n_ctx));
    const int64_t n_kv = 68 + t + 1;
    for (int h = 0; h < 4; ++h) {
      ref.round_f16(q.data() + t * width + h * 64, qh.data(), 64);
      ref.attn_scores_f16(qh.data(), 1, kh.data() + (h / 2) * 64, kv_width, n_kv, 64, 0.125f, order, sc.data());
      ref.softmax(sc.data(), n_kv);
      ref.attn_values_f16(sc.data(), 1, vh.data() + (h / 2) * 64, kv_width, n_kv, 64, order, out.data() + h * 64);
    }
    return out;
  };
  ThreadPool pool(2);
  AttentionScratch scratch;
  scratch.reserve(2, n_ctx, 64);
  for (Isa isa : supported_isas()) {
    std::vector<float> one(static_cast<size_t>(width)), two(static_cast<size_t>(2 * width));
    const AttentionTask single{q.data(), 1, 68, kv, one.data()};
    attention(s, &single, 1, scratch, pool, isa);
    EXPECT_EQ(one, expected(0, DotOrder::kVecDot)) << isa_name(isa);
    const AttentionTask batch{q.data(), 2, 68, kv, two.data()};
    attention(s, &batch, 1, scratch, pool, isa);
    const std::vector<float> want0 = expected(0, DotOrder::kTinyBlas), want1 = expected(1, DotOrder::kTinyBlas);
    EXPECT_TRUE(std::equal(want0.begin(), want0.end(), two.begin())) << isa_name(isa);
    EXPECT_TRUE(std::equal(want1.begin(), want1.end(), two.begin() + width)) << isa_name(isa);
  }
}

}  // namespace
}  // namespace er::kernels
