// f16/bf16 conversions (core/f16.h) checked exhaustively against the compiler's IEEE _Float16 and float64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/f16.h"
#include "kernels/quant.h"

namespace er {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// The compiler's IEEE half type: _Float16 (GCC 12 has it in C++ on x86-64 only), __fp16 on AArch64
// (a storage type whose conversions are the FCVT instructions, round to nearest even).
#if defined(__aarch64__)
using Half = __fp16;
#else
using Half = _Float16;
#endif

uint16_t bits_of(Half h) {
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
Half half_of(uint16_t u) {
  Half h;
  std::memcpy(&h, &u, 2);
  return h;
}

bool f16_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

// The compiler's conversion (libgcc or F16C) is IEEE round-to-nearest-even: our reference.
uint16_t ieee_f32_to_f16(float f) { return bits_of(static_cast<Half>(f)); }

TEST(F16, AllPatternsConvertExactlyAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto h16 = static_cast<uint16_t>(h);
    const float f = f16_to_f32(h16);
    if (f16_is_nan(h16)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;
      EXPECT_TRUE(f16_is_nan(f32_to_f16(f))) << h;
      continue;
    }
    ASSERT_EQ(bits_of(f), bits_of(static_cast<float>(half_of(h16)))) << "f16 bits " << h;
    ASSERT_EQ(f32_to_f16(f), h16) << "round trip of f16 bits " << h;
  }
}

TEST(F16, RoundToNearestEvenCases) {
  struct Case {
    float in;
    uint16_t out;
  };
  const Case cases[] = {
      {1.0f, 0x3C00},
      {1.0f + 0x1p-11f, 0x3C00},          // tie between 1 and 1 + 2^-10: to even (1)
      {1.0f + 3 * 0x1p-11f, 0x3C02},      // tie between 1 + 2^-10 and 1 + 2^-9: to even
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3C01},  // just above the tie: up
      {-1.0f - 0x1p-11f, 0xBC00},
      {65504.0f, 0x7BFF},                 // largest finite
      {65519.99f, 0x7BFF},                // below the overflow tie
      {65520.0f, 0x7C00},                 // the tie rounds to even: infinity
      {1e10f, 0x7C00},
      {-1e10f, 0xFC00},
      {0x1p-14f, 0x0400},                 // smallest normal
      {0x1p-24f, 0x0001},                 // smallest subnormal
      {0x1p-25f, 0x0000},                 // tie between 0 and 2^-24: to even (0)
      {0x1p-25f + 0x1p-40f, 0x0001},      // just above: up
      {3 * 0x1p-25f, 0x0002},             // tie between 1 and 2 subnormal ulps: to even
      {5 * 0x1p-25f, 0x0002},             // tie between 2 and 3: to even
      {0x1p-14f - 0x1p-25f, 0x0400},      // rounds up into the normal range
      {-0.0f, 0x8000},
      {INFINITY, 0x7C00},
      {-INFINITY, 0xFC00},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(f32_to_f16(c.in), c.out) << std::hexfloat << c.in;
    EXPECT_EQ(ieee_f32_to_f16(c.in), c.out) << "the reference disagrees on " << std::hexfloat << c.in;
  }
  EXPECT_TRUE(f16_is_nan(f32_to_f16(std::nanf(""))));
  EXPECT_TRUE(f16_is_nan(f32_to_f16(float_of(0x7f800001u))));  // signaling NaN, low payload
}

// Every f32 next to an f16 rounding boundary (each midpoint and its neighbours), both signs.
TEST(F16, MatchesIeeeAroundEveryRoundingBoundary) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const double lo = static_cast<double>(f16_to_f32(static_cast<uint16_t>(h)));
    const double hi = static_cast<double>(f16_to_f32(static_cast<uint16_t>(h + 1)));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: f16 midpoints fit in f32
    const uint32_t m = bits_of(mid);
    for (uint32_t b : {m - 2, m - 1, m, m + 1, m + 2, bits_of(static_cast<float>(lo))}) {
      for (uint32_t sign : {0u, 0x80000000u}) {
        const float f = float_of(b | sign);
        ASSERT_EQ(f32_to_f16(f), ieee_f32_to_f16(f)) << std::hexfloat << f;
      }
    }
  }
}

TEST(F16, MatchesIeeeOnStridedFloats) {
  // Every 4099th bit pattern covers all exponents and many mantissas (~1M values).
  for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
    const float f = float_of(static_cast<uint32_t>(u));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), ieee_f32_to_f16(f)) << std::hexfloat << f;
  }
}

// bf16 round-to-nearest-even from float64 arithmetic (independent of the bit trick in f16.h).
uint16_t bf16_reference(float f) {
  const uint32_t u = bits_of(f);
  const uint32_t trunc = u & 0xFFFF0000u;
  const double down = static_cast<double>(float_of(trunc));
  const double up_bits_value = static_cast<double>(float_of(trunc + 0x10000u));  // may be inf
  const double x = static_cast<double>(f);
  const double d_down = std::fabs(x - down);
  const double d_up = std::isinf(up_bits_value) ? std::fabs(x - std::ldexp(std::copysign(1.0, x), 128))
                                                : std::fabs(x - up_bits_value);
  uint32_t r = trunc;
  if (d_up < d_down || (d_up == d_down && ((trunc >> 16) & 1u))) r = trunc + 0x10000u;
  return static_cast<uint16_t>(r >> 16);
}

TEST(BF16, AllPatternsRoundTripAndRoundingMatchesFloat64) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    ASSERT_EQ(bits_of(f), b << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), b);
  }
  for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
    const float f = float_of(static_cast<uint32_t>(u));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), bf16_reference(f)) << std::hexfloat << f;
  }
  EXPECT_EQ(f32_to_bf16(float_of(0x3F808000u)), 0x3F80);  // tie: to even
  EXPECT_EQ(f32_to_bf16(float_of(0x3F818000u)), 0x3F82);  // tie: to even (up)
  EXPECT_EQ(f32_to_bf16(float_of(0x7F7FFFFFu)), 0x7F80);  // max float rounds to inf
}

// The row functions are the scalar conversions applied element by element.
TEST(F16, RowFunctionsUseTheScalarConversions) {
  std::vector<float> x;
  for (int i = -300; i < 300; ++i) x.push_back(static_cast<float>(i) * 0.37f + 1e-3f);
  std::vector<uint8_t> q(x.size() * 2);
  std::vector<float> y(x.size());
  kernels::quantize_row_f16(x.data(), q.data(), static_cast<int64_t>(x.size()));
  kernels::dequantize_row_f16(q.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], f16_to_f32(f32_to_f16(x[i])));
  kernels::quantize_row_bf16(x.data(), q.data(), static_cast<int64_t>(x.size()));
  kernels::dequantize_row_bf16(q.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], bf16_to_f32(f32_to_bf16(x[i])));
}

}  // namespace
}  // namespace er
