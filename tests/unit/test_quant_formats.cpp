// Quant block formats: hand-built blocks (exact), float64 re-derivations, and round-trip error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/f16.h"
#include "kernels/quant.h"

namespace er::kernels {
namespace {

// splitmix64: a fixed, portable stream (std:: distributions are implementation-defined).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

std::vector<float> normal_floats(uint64_t seed, int64_t n, double sigma) {
  Rng rng{seed};
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(sigma * rng.normal());
  return v;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(*dtype_row_bytes(t, x.size()));
  EXPECT_TRUE(quantize_row(t, x.data(), out.data(), static_cast<int64_t>(x.size())).is_ok());
  return out;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, bytes.data(), y.data(), n);
  return y;
}

double rms_relative_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

const DType kQuantTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                             DType::kQ8_0, DType::kQ4_K, DType::kQ6_K};

// ---- the traits table ----------------------------------------------------------------------------

TEST(QuantTraits, AgreeWithTheDTypeTable) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                  DType::kQ5_1, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    const QuantTraits* tr = quant_traits(t);
    ASSERT_NE(tr, nullptr) << dtype_name(t);
    EXPECT_EQ(tr->type, t);
    EXPECT_EQ(tr->block_elems, dtype_traits(t).block_elems) << dtype_name(t);
    EXPECT_EQ(tr->block_bytes, dtype_traits(t).block_bytes) << dtype_name(t);
    EXPECT_TRUE(can_quantize(t));
    EXPECT_TRUE(can_dequantize(t));
  }
}

TEST(QuantTraits, UnsupportedTypesAreRefused) {
  for (DType t : {DType::kQ2_K, DType::kQ3_K, DType::kQ5_K, DType::kIQ4_NL, DType::kI32}) {
    EXPECT_FALSE(can_quantize(t)) << dtype_name(t);
    EXPECT_EQ(quant_traits(t), nullptr);
  }
  float x[256] = {};
  uint8_t y[512];
  const Status s = quantize_row(DType::kQ2_K, x, y, 256);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
}

TEST(QuantRow, RejectsBadLengthsAndNonFiniteValues) {
  std::vector<float> x(64, 1.0f);
  std::vector<uint8_t> y(1024);
  EXPECT_EQ(quantize_row(DType::kQ4_0, x.data(), y.data(), 31).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(quantize_row(DType::kQ4_K, x.data(), y.data(), 64).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(quantize_row(DType::kQ8_0, x.data(), y.data(), -32).code(), StatusCode::kInvalidInput);
  x[5] = std::nanf("");
  const Status s = quantize_row(DType::kQ8_0, x.data(), y.data(), 64);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("index 5"), std::string::npos) << s.message();
  x[5] = INFINITY;
  EXPECT_FALSE(quantize_row(DType::kF16, x.data(), y.data(), 64).is_ok());
  EXPECT_TRUE(quantize_row(DType::kQ8_0, x.data(), y.data(), 0).is_ok());
}

// ---- hand-built blocks (exact) -------------------------------------------------------------------

TEST(QuantHandBuilt, Q4_0) {
  block_q4_0 b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 8)) << j;        // -4.0 .. 3.5
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(7 - j)) << j;   // 3.5 .. -4.0
  }
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[16], 3.5f);
}

TEST(QuantHandBuilt, Q4_1) {
  block_q4_1 b{};
  b.d = 0x3400;  // 0.25
  b.m = 0xBC00;  // -1.0
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((15 - j) | (j << 4));
  float y[32];
  dequantize_row_q4_1(&b, y, 32);
  EXPECT_EQ(y[0], 2.75f);    // 15 * 0.25 - 1
  EXPECT_EQ(y[15], -1.0f);   // 0 * 0.25 - 1
  EXPECT_EQ(y[16], -1.0f);
  EXPECT_EQ(y[31], 2.75f);
  EXPECT_EQ(y[5], 1.5f);     // 10 * 0.25 - 1
}

TEST(QuantHandBuilt, Q5_0AndQ5_1) {
  block_q5_0 b{};
  b.d = 0x3C00;  // 1.0
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  // 5th bit set for weights 0, 3 (low half) and 16, 31 (high half): bits 0, 3, 16, 31.
  b.qh[0] = 0x09;
  b.qh[2] = 0x01;
  b.qh[3] = 0x80;
  float y[32];
  dequantize_row_q5_0(&b, y, 32);
  EXPECT_EQ(y[0], 0.0f);     // (0 | 16) - 16
  EXPECT_EQ(y[1], -15.0f);   // 1 - 16
  EXPECT_EQ(y[3], 3.0f);     // (3 | 16) - 16
  EXPECT_EQ(y[16], 0.0f);    // (0 | 16) - 16
  EXPECT_EQ(y[17], -15.0f);
  EXPECT_EQ(y[31], 15.0f);   // (15 | 16) - 16

  block_q5_1 c{};
  c.d = 0x3800;  // 0.5
  c.m = 0x4000;  // 2.0
  std::memcpy(c.qs, b.qs, 16);
  std::memcpy(c.qh, b.qh, 4);
  dequantize_row_q5_1(&c, y, 32);
  EXPECT_EQ(y[0], 10.0f);    // 16 * 0.5 + 2
  EXPECT_EQ(y[1], 2.5f);     // 1 * 0.5 + 2
  EXPECT_EQ(y[31], 17.5f);   // 31 * 0.5 + 2
}

TEST(QuantHandBuilt, Q8_0) {
  block_q8_0 b{};
  b.d = 0x4000;  // 2.0
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 127);
  float y[32];
  dequantize_row_q8_0(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 2.0f * static_cast<float>(j * 8 - 127)) << j;
}

TEST(QuantHandBuilt, Q4_K) {
  // Sub-block scales/mins, packed by hand per the layout comment in quant_formats.h.
  const uint8_t sc[8] = {1, 2, 3, 4, 33, 40, 63, 17};
  const uint8_t mn[8] = {0, 5, 10, 63, 1, 2, 48, 32};
  block_q4_K b{};
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  for (int s = 0; s < 4; ++s) {
    b.scales[s] = static_cast<uint8_t>(sc[s] | ((sc[s + 4] >> 4) << 6));
    b.scales[s + 4] = static_cast<uint8_t>(mn[s] | ((mn[s + 4] >> 4) << 6));
    b.scales[s + 8] = static_cast<uint8_t>((sc[s + 4] & 0xF) | ((mn[s + 4] & 0xF) << 4));
  }
  for (int s = 0; s < 8; ++s) {
    uint8_t got_sc, got_m;
    q4_K_scale_min(s, b.scales, &got_sc, &got_m);
    EXPECT_EQ(got_sc, sc[s]) << s;
    EXPECT_EQ(got_m, mn[s]) << s;
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i * 7) & 0xFF);
  float y[256];
  dequantize_row_q4_K(&b, y, 256);
  for (int k = 0; k < 256; ++k) {
    // Weight k: 64-weight chunk k / 64 owns qs[32 * chunk ..]; its first 32 weights are low nibbles.
    const int chunk = k / 64, w = k % 64;
    const uint8_t byte = b.qs[32 * chunk + w % 32];
    const int q = w < 32 ? (byte & 0xF) : (byte >> 4);
    const int s = k / 32;
    const double expect = 1.0 * sc[s] * q - 0.5 * mn[s];
    ASSERT_EQ(y[k], static_cast<float>(expect)) << "weight " << k;
  }
  EXPECT_EQ(y[0], 0.0f);             // sc 1, q 0, m 0
  EXPECT_EQ(y[32], 2.0f * 0 - 2.5f); // sub-block 1: q = high nibble of qs[0] = 0
}

TEST(QuantHandBuilt, Q6_K) {
  block_q6_K b{};
  b.d = 0x3000;  // 0.125
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s * 17 - 128);  // -128 .. 127
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>((i * 37 + 11) & 0xFF);
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>((i * 53 + 5) & 0xFF);
  float y[256];
  dequantize_row_q6_K(&b, y, 256);
  for (int k = 0; k < 256; ++k) {
    // Weight k: half h, group g (of 32) inside it, lane l. Groups 0/1 use the low nibbles of
    // ql[l] / ql[l + 32], groups 2/3 the high nibbles; qh[l] holds the 2 high bits of group g at 2g.
    const int h = k / 128, g = (k % 128) / 32, l = k % 32;
    const uint8_t low_byte = b.ql[64 * h + l + (g & 1) * 32];
    const int low = (g >= 2 ? low_byte >> 4 : low_byte) & 0xF;
    const int high = (b.qh[32 * h + l] >> (2 * g)) & 3;
    const int q = (low | (high << 4)) - 32;
    const double expect = 0.125 * b.scales[k / 16] * q;
    ASSERT_EQ(y[k], static_cast<float>(expect)) << "weight " << k;
  }
}

// Exact quantization of values that lie on the grid: the round trip returns them unchanged.
TEST(QuantHandBuilt, OnGridValuesRoundTripExactly) {
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j) x[j] = 0.5f * static_cast<float>((j % 16) - 8);  // first is -4
  EXPECT_EQ(dequantize(DType::kQ4_0, quantize(DType::kQ4_0, x), 64), x);
  EXPECT_EQ(dequantize(DType::kQ4_1, quantize(DType::kQ4_1, x), 64), x);
  EXPECT_EQ(dequantize(DType::kQ5_0, quantize(DType::kQ5_0, x), 64), x);
  for (int j = 0; j < 64; ++j) x[j] = j % 32 == 0 ? -31.75f : 0.25f * static_cast<float>(j % 32 - 16);
  EXPECT_EQ(dequantize(DType::kQ8_0, quantize(DType::kQ8_0, x), 64), x);  // amax 31.75 = 127/4 per block

  const std::vector<uint8_t> q = quantize(DType::kQ4_0, std::vector<float>(32, 0.0f));
  ASSERT_EQ(q.size(), 18u);
  const auto* b = reinterpret_cast<const block_q4_0*>(q.data());
  EXPECT_EQ(b->d, 0x8000);  // d = 0 / -8 = -0, as llama.cpp writes it
  for (uint8_t v : b->qs) EXPECT_EQ(v, 0x88);  // all-zero block: q = 8 (weight 0)
}

TEST(QuantHandBuilt, NearestIntRoundsHalfToEven) {
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(-0.5f), 0);
  EXPECT_EQ(nearest_int(-1.5f), -2);
  EXPECT_EQ(nearest_int(-2.49f), -2);
  EXPECT_EQ(nearest_int(4194303.f), 4194303);
  EXPECT_EQ(nearest_int(-4194303.f), -4194303);
}

// ---- dequantization vs a float64 re-derivation on random bytes ----------------------------------

// A random finite f16 in a sane range (|v| in [2^-14, 2^4)), or zero.
uint16_t random_scale_f16(Rng& rng) {
  const uint16_t exp = static_cast<uint16_t>(1 + rng.next() % 19);  // 1..19 (bias 15)
  return static_cast<uint16_t>((rng.next() & 0x8000u) | (exp << 10) | (rng.next() & 0x3ffu));
}

TEST(QuantReference, DequantizeMatchesFloat64OnRandomBlocks) {
  Rng rng{42};
  for (DType t : kQuantTypes) {
    const QuantTraits& tr = *quant_traits(t);
    const int64_t n = tr.block_elems * 16;
    std::vector<uint8_t> bytes(static_cast<size_t>(tr.block_bytes * 16));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng.next());
    // Overwrite the f16 fields with sane scales so that products stay finite.
    for (int64_t i = 0; i < 16; ++i) {
      uint8_t* blk = bytes.data() + i * tr.block_bytes;
      auto put = [&](size_t off) {
        const uint16_t h = random_scale_f16(rng);
        std::memcpy(blk + off, &h, 2);
      };
      if (t == DType::kQ6_K) {
        put(offsetof(block_q6_K, d));
      } else {
        put(0);
        if (t == DType::kQ4_1 || t == DType::kQ5_1 || t == DType::kQ4_K) put(2);
      }
    }
    const std::vector<float> got = dequantize(t, bytes, n);
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t* blk = bytes.data() + (k / tr.block_elems) * tr.block_bytes;
      const int w = static_cast<int>(k % tr.block_elems);
      auto f16_at = [&](size_t off) {
        uint16_t h;
        std::memcpy(&h, blk + off, 2);
        return static_cast<double>(f16_to_f32(h));
      };
      double expect = 0;
      if (t == DType::kQ4_0 || t == DType::kQ4_1) {
        const size_t qs = t == DType::kQ4_0 ? 2 : 4;
        const int q = w < 16 ? blk[qs + w] & 0xF : blk[qs + w - 16] >> 4;
        expect = t == DType::kQ4_0 ? f16_at(0) * (q - 8) : f16_at(0) * q + f16_at(2);
      } else if (t == DType::kQ5_0 || t == DType::kQ5_1) {
        const size_t qh = t == DType::kQ5_0 ? 2 : 4;
        const uint32_t bits = blk[qh] | blk[qh + 1] << 8 | blk[qh + 2] << 16 | uint32_t{blk[qh + 3]} << 24;
        const int low = w < 16 ? blk[qh + 4 + w] & 0xF : blk[qh + 4 + w - 16] >> 4;
        const int q = low | static_cast<int>((bits >> w) & 1) << 4;
        expect = t == DType::kQ5_0 ? f16_at(0) * (q - 16) : f16_at(0) * q + f16_at(2);
      } else if (t == DType::kQ8_0) {
        expect = f16_at(0) * static_cast<int8_t>(blk[2 + w]);
      } else if (t == DType::kQ4_K) {
        const auto* b = reinterpret_cast<const block_q4_K*>(blk);
        uint8_t sc, m;
        q4_K_scale_min(w / 32, b->scales, &sc, &m);
        const uint8_t byte = b->qs[32 * (w / 64) + w % 32];
        const int q = (w % 64) < 32 ? byte & 0xF : byte >> 4;
        expect = f16_at(0) * sc * q - f16_at(2) * m;
      } else {  // Q6_K
        const auto* b = reinterpret_cast<const block_q6_K*>(blk);
        const int h = w / 128, g = (w % 128) / 32, l = w % 32;
        const uint8_t lb = b->ql[64 * h + l + (g & 1) * 32];
        const int q = (((g >= 2 ? lb >> 4 : lb) & 0xF) | (((b->qh[32 * h + l] >> (2 * g)) & 3) << 4)) - 32;
        expect = f16_at(offsetof(block_q6_K, d)) * b->scales[w / 16] * q;
      }
      // Every product is exact in float and each result is rounded once, so equality holds.
      ASSERT_EQ(got[k], static_cast<float>(expect)) << dtype_name(t) << " weight " << k;
    }
  }
}

// ---- quantize -> dequantize error bounds ---------------------------------------------------------

struct ErrorBound {
  DType type;
  double max_rms_rel;
};

TEST(QuantRoundTrip, ErrorBoundsOnGaussianData) {
  const ErrorBound bounds[] = {
      // Measured on this data: q8_0 0.54%, q4_0 8.6%, q4_1 7.8%, q5_0 4.3%, q5_1 3.8%,
      // q4_K 7.1%, q6_K 1.8%, f16 0.02%, bf16 0.17%.
      {DType::kQ8_0, 0.01}, {DType::kQ4_0, 0.10}, {DType::kQ4_1, 0.10}, {DType::kQ5_0, 0.05},
      {DType::kQ5_1, 0.05}, {DType::kQ4_K, 0.085}, {DType::kQ6_K, 0.025}, {DType::kF16, 0.001},
      {DType::kBF16, 0.005}, {DType::kF32, 0.0}};
  for (const auto& [t, bound] : bounds) {
    for (double sigma : {0.02, 1.0, 300.0}) {
      const std::vector<float> x = normal_floats(7, 256 * 64, sigma);
      const std::vector<float> y = dequantize(t, quantize(t, x), static_cast<int64_t>(x.size()));
      const double err = rms_relative_error(x, y);
      EXPECT_LE(err, bound) << dtype_name(t) << " sigma " << sigma;
      if (t != DType::kF32) {
        EXPECT_GT(err, 0.0) << dtype_name(t);  // the test can fail
      }
    }
  }
}

TEST(QuantRoundTrip, KQuantsBeatTheirSimpleCounterparts) {
  const std::vector<float> x = normal_floats(11, 256 * 32, 0.05);
  auto err = [&](DType t) {
    return rms_relative_error(x, dequantize(t, quantize(t, x), static_cast<int64_t>(x.size())));
  };
  EXPECT_LT(err(DType::kQ4_K), err(DType::kQ4_0));
  EXPECT_LT(err(DType::kQ6_K), err(DType::kQ5_0));
  EXPECT_LT(err(DType::kQ8_0), err(DType::kQ6_K));
}

TEST(QuantRoundTrip, ZeroAndConstantBlocks) {
  for (DType t : kQuantTypes) {
    const int64_t n = quant_traits(t)->block_elems * 2;
    const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    EXPECT_EQ(dequantize(t, quantize(t, zeros), n), zeros) << dtype_name(t);
    // A constant block is representable within one quantization step of its value.
    const std::vector<float> c(static_cast<size_t>(n), -0.75f);
    for (float v : dequantize(t, quantize(t, c), n)) EXPECT_NEAR(v, -0.75f, 0.05) << dtype_name(t);
  }
}

TEST(QuantRoundTrip, QuantizeIsDeterministicAndRowsAreIndependent) {
  for (DType t : kQuantTypes) {
    const int64_t blk = quant_traits(t)->block_elems;
    const std::vector<float> x = normal_floats(3, blk * 4, 1.0);
    const std::vector<uint8_t> whole = quantize(t, x);
    EXPECT_EQ(whole, quantize(t, x)) << dtype_name(t);
    // Quantizing block by block gives the same bytes as the whole row.
    std::vector<uint8_t> pieces;
    for (int64_t b = 0; b < 4; ++b) {
      const std::vector<float> part(x.begin() + b * blk, x.begin() + (b + 1) * blk);
      const std::vector<uint8_t> q = quantize(t, part);
      pieces.insert(pieces.end(), q.begin(), q.end());
    }
    EXPECT_EQ(whole, pieces) << dtype_name(t);
  }
}

}  // namespace
}  // namespace er::kernels
