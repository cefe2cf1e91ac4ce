// Sampler tests: greedy, each filter's effect, seeds, repetition penalty, config validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/rng.h"
#include "sampling/sampler.h"

namespace er::sampling {
namespace {

SamplerConfig plain(float temp) {
  SamplerConfig c;
  c.temperature = temp;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.min_p = 0.0f;
  return c;
}

TEST(Sampling, GreedyPicksFirstMaximum) {
  Sampler s(plain(0.0f), 5);
  const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  EXPECT_EQ(s.sample(logits, {}), 1);
  EXPECT_NEAR(s.last_logprob(), 3.0 - std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(-2.0) + std::exp(0.5)), 1e-5);
}

TEST(Sampling, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[static_cast<size_t>(i)] = std::sin(i * 0.37f);
  auto run = [&](uint64_t seed) {
    SamplerConfig c = plain(1.0f);
    c.seed = seed;
    Sampler s(c, 100);
    std::vector<TokenId> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits, {}));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampling, TopKOneIsGreedy) {
  SamplerConfig c = plain(5.0f);
  c.top_k = 1;
  Sampler s(c, 4);
  const std::vector<float> logits = {0.1f, 0.2f, 0.9f, 0.3f};
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits, {}), 2);
}

TEST(Sampling, TopPKeepsOnlyTheNucleus) {
  // Probabilities ≈ 0.64, 0.24, 0.09, 0.03: top-p 0.7 keeps the first two only.
  SamplerConfig c = plain(1.0f);
  c.top_p = 0.7f;
  Sampler s(c, 4);
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  std::map<TokenId, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s.sample(logits, {})]++;
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_EQ(seen.count(3), 0u);
}

TEST(Sampling, MinPDropsUnlikelyTokens) {
  SamplerConfig c = plain(1.0f);
  c.min_p = 0.2f;  // keeps tokens with p >= 0.2 * p_max: e^-1 = 0.37 kept, e^-2 = 0.135 dropped
  Sampler s(c, 3);
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  std::map<TokenId, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s.sample(logits, {})]++;
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen.count(2), 0u);
}

TEST(Sampling, TemperatureFrequenciesMatchSoftmax) {
  Sampler s(plain(2.0f), 2);
  const std::vector<float> logits = {1.0f, 0.0f};
  int n0 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) n0 += s.sample(logits, {}) == 0;
  const double p0 = 1.0 / (1.0 + std::exp(-0.5));  // softmax([0.5, 0])
  EXPECT_NEAR(static_cast<double>(n0) / n, p0, 0.02);
}

TEST(Sampling, RepetitionPenaltyDemotesRecentTokens) {
  SamplerConfig c = plain(0.0f);
  c.repeat_penalty = 2.0f;
  Sampler s(c, 3);
  const std::vector<float> logits = {2.0f, 1.5f, -1.0f};
  const std::vector<TokenId> history = {0};
  EXPECT_EQ(s.sample(logits, history), 1);  // 2.0 / 2 = 1.0 < 1.5
  EXPECT_EQ(s.sample(logits, {}), 0);
}

TEST(Sampling, ValidateNamesTheField) {
  const auto error = [](const SamplerConfig& c) {
    const Status st = c.validate();
    EXPECT_FALSE(st.is_ok());
    EXPECT_TRUE(st.is_bad_input()) << st.message();
    return st.message();
  };
  const auto with = [](auto set) {
    SamplerConfig c;
    set(c);
    return c;
  };
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.top_p = 0.0f; })), "top_p must be in (0, 1] (1 = off) (got 0)");
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.top_p = 1.5f; })), "top_p must be in (0, 1] (1 = off) (got 1.5)");
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.top_k = -1; })), "top_k must be >= 0 (0 = off) (got -1)");
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.min_p = -0.1f; })).rfind("min_p must be in [0, 1)", 0), 0u);
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.min_p = 1.5f; })).rfind("min_p must be in [0, 1)", 0), 0u);
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.repeat_penalty = 0.0f; })).rfind("repeat_penalty must be", 0), 0u);
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.repeat_penalty = -1.0f; })).rfind("repeat_penalty must be", 0), 0u);
  EXPECT_EQ(error(with([](SamplerConfig& c) { c.repeat_last_n = -1; })).rfind("repeat_last_n must be >= 0", 0), 0u);
  EXPECT_TRUE(SamplerConfig{}.validate().is_ok());
}

TEST(Sampling, NegativeTemperatureAndNonFiniteValuesAreRefused) {
  SamplerConfig c;
  c.temperature = -0.5f;
  EXPECT_EQ(c.validate().message(), "temperature must be a finite number >= 0 (0 = greedy) (got -0.5)");
  c.temperature = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(c.validate().is_ok());
  c.temperature = 0.0f;  // greedy
  EXPECT_TRUE(c.validate().is_ok());
  c.repeat_penalty = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(c.validate().is_ok());
}

TEST(Sampling, NegativeSeedThatWrappedIsRefused) {
  SamplerConfig c;
  c.seed = static_cast<uint64_t>(int64_t{-1});  // what a "-1" parsed into the unsigned field becomes
  const Status st = c.validate();
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message().rfind("seed must be in [0, 9223372036854775807]", 0), 0u) << st.message();
  c.seed = static_cast<uint64_t>(INT64_MAX);
  EXPECT_TRUE(c.validate().is_ok());
}

TEST(Sampling, MessagesMarkTheFieldForFrontEndsToSpell) {
  SamplerConfig c;
  c.top_p = 2.0f;
  const Status st = c.validate();
  EXPECT_TRUE(st.names_field("top_p"));
  EXPECT_EQ(st.renamed([](std::string_view f) { return "<" + std::string(f) + ">"; }).message(),
            "<top_p> must be in (0, 1] (1 = off) (got 2)");
  c = SamplerConfig{};
  c.temperature = -1.0f;
  EXPECT_TRUE(c.validate().names_field("temperature"));
  c = SamplerConfig{};
  c.seed = ~uint64_t{0};
  EXPECT_TRUE(c.validate().names_field("seed"));
}

TEST(Rng, UniformInRangeAndDeterministic) {
  Rng a(7), b(7);
  for (int i = 0; i < 1000; ++i) {
    const double x = a.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    ASSERT_EQ(x, b.uniform());
  }
}

}  // namespace
}  // namespace er::sampling
