// Activation quantizers and dot products: exact cases, reference vs float64, every SIMD level vs scalar.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/f16.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/quant_act.h"

namespace er::kernels {
namespace {

// Fixed-seed splitmix64 with uniform floats in [lo, hi).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 40) / 16777216.0f; }
  std::vector<float> floats(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }

 private:
  uint64_t s_;
};

const DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                        DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};

size_t row_bytes(DType t, int64_t n) { return static_cast<size_t>(*dtype_row_bytes(t, static_cast<uint64_t>(n))); }

void put_f16(std::vector<uint8_t>& v, size_t off, float f) {
  const uint16_t h = f32_to_f16(f);
  std::memcpy(v.data() + off, &h, 2);
}

// A weight row of type t: either quantized from random floats, or (raw) random bytes with every
// scale field set to a sane f16, which reaches quant values the quantizers never emit (Q8_0's
// -128, Q6_K's scale -128, all 6-bit Q4_K scales).
std::vector<uint8_t> make_row(DType t, int64_t n, Rng& rng, bool raw) {
  std::vector<uint8_t> out(row_bytes(t, n));
  const bool plain = t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
  if (!raw || plain) {
    const std::vector<float> x = rng.floats(n, -2.0f, 2.0f);
    EXPECT_TRUE(quantize_row(t, x.data(), out.data(), n).is_ok());
    return out;
  }
  for (auto& b : out) b = static_cast<uint8_t>(rng.next());
  const int64_t bs = dtype_traits(t).block_bytes;
  for (size_t off = 0; off < out.size(); off += static_cast<size_t>(bs)) {
    switch (t) {
      case DType::kQ8_0: case DType::kQ4_0: case DType::kQ5_0: put_f16(out, off, rng.uniform(-0.05f, 0.05f)); break;
      case DType::kQ4_1: case DType::kQ5_1: put_f16(out, off, rng.uniform(0.0f, 0.05f)); put_f16(out, off + 2, rng.uniform(-0.5f, 0.5f)); break;
      case DType::kQ4_K: put_f16(out, off, rng.uniform(0.0f, 0.01f)); put_f16(out, off + 2, rng.uniform(0.0f, 0.01f)); break;
      case DType::kQ6_K: put_f16(out, off + 208, rng.uniform(-0.01f, 0.01f)); break;
      default: break;
    }
  }
  return out;
}

std::vector<uint8_t> make_act(DType w, const std::vector<float>& x) {
  std::vector<uint8_t> a(act_row_bytes(w, static_cast<int64_t>(x.size())));
  quantize_activations(w, x.data(), a.data(), static_cast<int64_t>(x.size()), Isa::kScalar);
  return a;
}

// sum |w_i a_i| and sum w_i a_i in double over the dequantized rows. Q4_1's offset term uses the
// stored s = f16(d * sum(q)) in place of sum(a), as the format defines it (ggml does the same).
void float64_dot(DType w, int64_t n, const std::vector<uint8_t>& wrow, const std::vector<uint8_t>& arow,
                 double* dot, double* abs_sum) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  dequantize_row(w, wrow.data(), wf.data(), n);
  dequantize_act(act_type_for(w), arow.data(), af.data(), n);
  *dot = 0.0;
  *abs_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double wi = wf[i];
    if (w == DType::kQ4_1 || w == DType::kQ5_1) {
      uint16_t m16;  // the block offset m (at byte 2 of both block types)
      std::memcpy(&m16, wrow.data() + (i / 32) * dtype_traits(w).block_bytes + 2, 2);
      const auto& act = reinterpret_cast<const block_q8_1*>(arow.data())[i / 32];
      wi -= f16_to_f32(m16);  // d q
      if (i % 32 == 0) *dot += static_cast<double>(f16_to_f32(m16)) * f16_to_f32(act.s);
    }
    *dot += wi * af[i];
    *abs_sum += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
}

// ---- exact activation quantization -------------------------------------------------------------

TEST(ActQuant, Q8_0RoundsHalfToEvenWithScaleFromAmax) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax = 127: d = 1, id = 1
  x[1] = 2.5f;    // ties go to even (the AVX2 path of ggml-cpu): 2
  x[2] = -3.5f;   // -4
  x[3] = 0.5f;    // 0
  x[4] = -126.6f; // -127
  for (Isa isa : supported_isas()) {
    block_q8_0 b;
    quantize_activations(DType::kQ8_0, x.data(), &b, 32, isa);
    EXPECT_EQ(f16_to_f32(b.d), 1.0f) << isa_name(isa);
    EXPECT_EQ(b.qs[0], 127);
    EXPECT_EQ(b.qs[1], 2);
    EXPECT_EQ(b.qs[2], -4);
    EXPECT_EQ(b.qs[3], 0);
    EXPECT_EQ(b.qs[4], -127);
    EXPECT_EQ(b.qs[5], 0);
  }
}

TEST(ActQuant, Q8_1StoresScaledSum) {
  std::vector<float> x(32, 1.0f);
  x[0] = 127.0f;  // d = 1; qs = 127 + 31 * 1
  for (Isa isa : supported_isas()) {
    block_q8_1 b;
    quantize_activations(DType::kQ4_1, x.data(), &b, 32, isa);
    EXPECT_EQ(f16_to_f32(b.d), 1.0f);
    EXPECT_EQ(f16_to_f32(b.s), 158.0f) << isa_name(isa);
  }
}

TEST(ActQuant, Q8_KUsesSignedMaxAndBsums) {
  std::vector<float> x(256, 0.0f);
  x[3] = 5.0f;
  x[7] = -10.0f;   // largest magnitude, negative: iscale = 12.7, q = -127
  x[20] = 10.0f;   // same magnitude later: the first one wins the sign
  x[40] = 0.3f;    // 3.81 -> 4
  for (Isa isa : supported_isas()) {
    block_q8_K b;
    quantize_activations(DType::kQ4_K, x.data(), &b, 256, isa);
    EXPECT_FLOAT_EQ(b.d, 1.0f / 12.7f) << isa_name(isa);
    EXPECT_EQ(b.qs[7], -127);
    EXPECT_EQ(b.qs[20], 127);
    EXPECT_EQ(b.qs[3], 64);  // 63.5 rounds to even
    EXPECT_EQ(b.qs[40], 4);
    EXPECT_EQ(b.bsums[0], 64 - 127);
    EXPECT_EQ(b.bsums[1], 127);
    EXPECT_EQ(b.bsums[2], 4);
    EXPECT_EQ(b.bsums[3], 0);
  }
}

TEST(ActQuant, AllZeroBlocks) {
  std::vector<float> x(256, 0.0f);
  for (DType w : kTypes) {
    for (Isa isa : supported_isas()) {
      std::vector<uint8_t> a(act_row_bytes(w, 256), 0xAB);
      quantize_activations(w, x.data(), a.data(), 256, isa);
      std::vector<float> back(256, 1.0f);
      dequantize_act(act_type_for(w), a.data(), back.data(), 256);
      for (float v : back) ASSERT_EQ(v, 0.0f) << dtype_name(w) << " " << isa_name(isa);
    }
  }
}

TEST(ActQuant, SimdQuantizersAreBitExact) {
  Rng rng(11);
  for (DType w : kTypes) {
    for (int64_t n : {256, 512, 2048}) {
      std::vector<float> x = rng.floats(n, -3.0f, 3.0f);
      x[5] = 0.0f;
      x[17] = -3.0f;  // exact ties of |max|
      x[18] = 3.0f;
      const std::vector<uint8_t> ref = make_act(w, x);
      for (Isa isa : supported_isas()) {
        std::vector<uint8_t> got(ref.size());
        quantize_activations(w, x.data(), got.data(), n, isa);
        EXPECT_EQ(std::memcmp(got.data(), ref.data(), ref.size()), 0)
            << dtype_name(w) << " n=" << n << " " << isa_name(isa);
      }
    }
  }
}

// ---- reference dot products --------------------------------------------------------------------

TEST(VecDotRef, Q8_0HandBuilt) {
  block_q8_0 w{}, a{};
  w.d = f32_to_f16(0.5f);
  a.d = f32_to_f16(0.25f);
  for (int j = 0; j < 32; ++j) {
    w.qs[j] = static_cast<int8_t>(j - 16);
    a.qs[j] = 2;
  }
  // sum (j - 16) * 2 = 2 * (496 - 512) = -32; * 0.5 * 0.25 = -4
  EXPECT_EQ(vec_dot_q8_0_q8_0_ref(32, &w, &a), -4.0f);
}

TEST(VecDotRef, Q4_0HandBuilt) {
  block_q4_0 w{};
  block_q8_0 a{};
  w.d = f32_to_f16(1.0f);
  a.d = f32_to_f16(1.0f);
  for (int j = 0; j < 16; ++j) w.qs[j] = static_cast<uint8_t>(9 | (7 << 4));  // +1 (low), -1 (high)
  for (int j = 0; j < 32; ++j) a.qs[j] = static_cast<int8_t>(j);
  // sum_{j<16} j - sum_{j>=16} j = 120 - 376
  EXPECT_EQ(vec_dot_q4_0_q8_0_ref(32, &w, &a), -256.0f);
}

TEST(VecDotRef, Q5_0HandBuilt) {
  block_q5_0 w{};
  block_q8_0 a{};
  w.d = f32_to_f16(1.0f);
  a.d = f32_to_f16(1.0f);
  for (int j = 0; j < 16; ++j) w.qs[j] = 0x00;       // low 4 bits 0 everywhere
  const uint32_t qh = 0xFFFF0000u;                    // weights 16..31 have the 5th bit: q = 16
  std::memcpy(w.qh, &qh, 4);
  for (int j = 0; j < 32; ++j) a.qs[j] = 1;
  // weights: 0..15 -> 0 - 16 = -16, 16..31 -> 16 - 16 = 0  =>  sum = -256
  EXPECT_EQ(vec_dot_q5_0_q8_0_ref(32, &w, &a), -256.0f);
}

// The paths each type can take (quant_act.h MatmulPath).
std::vector<MatmulPath> paths_for(DType w) {
  switch (w) {
    case DType::kF32: case DType::kF16: case DType::kBF16: return {MatmulPath::kVecDot, MatmulPath::kTinyBlas};
    case DType::kQ4_K: return {MatmulPath::kVecDot, MatmulPath::kRepackGemm};
    case DType::kQ6_K: return {MatmulPath::kVecDot, MatmulPath::kTiled};
    default: return {MatmulPath::kVecDot};
  }
}

TEST(VecDotRef, MatchesFloat64ForEveryTypeAndPath) {
  Rng rng(1);
  for (DType w : kTypes) {
    for (bool raw : {false, true}) {
      for (int64_t n : {256, 768, 4096}) {
        const std::vector<uint8_t> wrow = make_row(w, n, rng, raw);
        const std::vector<uint8_t> arow = make_act(w, rng.floats(n));
        double want, abs_sum;
        float64_dot(w, n, wrow, arow, &want, &abs_sum);
        for (MatmulPath path : paths_for(w)) {
          const float got = vec_dot_ref(w, n, wrow.data(), arow.data(), path);
          EXPECT_NEAR(got, want, 2e-6 * abs_sum + 1e-30)
              << dtype_name(w) << " n=" << n << " raw=" << raw << " path " << static_cast<int>(path);
        }
      }
    }
  }
}

// ---- SIMD vs scalar ----------------------------------------------------------------------------

TEST(VecDotSimd, EveryTypeIsaAndPathMatchesScalarBitForBit) {
  Rng rng(2);
  for (DType w : kTypes) {
    for (bool raw : {false, true}) {
      // Plain types also get lengths that are not a multiple of the vector width.
      const bool plain = w == DType::kF32 || w == DType::kF16 || w == DType::kBF16;
      std::vector<int64_t> lengths = {256, 512, 1536, 4352};
      if (plain) lengths.insert(lengths.end(), {1, 7, 33, 100});
      if (!plain && dtype_traits(w).block_elems == 32) lengths.insert(lengths.end(), {32, 96, 160});
      for (int64_t n : lengths) {
        const std::vector<uint8_t> wrow = make_row(w, n, rng, raw);
        const std::vector<uint8_t> arow = make_act(w, rng.floats(n, -4.0f, 4.0f));
        for (MatmulPath path : paths_for(w)) {
          const float ref = vec_dot(w, n, wrow.data(), arow.data(), Isa::kScalar, path);
          EXPECT_EQ(ref, vec_dot_ref(w, n, wrow.data(), arow.data(), path));
          for (Isa isa : supported_isas()) {
            const float got = vec_dot(w, n, wrow.data(), arow.data(), isa, path);
            EXPECT_EQ(got, ref) << dtype_name(w) << " n=" << n << " raw=" << raw << " " << isa_name(isa) << " path "
                                << static_cast<int>(path);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace er::kernels
