// Fitting: least squares recovers known coefficients (exactly without noise, closely with it),
// rank-deficient inputs are refused, the hold-out split is deterministic, MAPE / R² by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "perfmodel/fit.h"

namespace er::perfmodel {
namespace {

// Deterministic multiplicative noise in [1 − amp, 1 + amp].
class Noise {
 public:
  explicit Noise(uint64_t seed) : s_(seed) {}
  double factor(double amp) {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(s_ >> 11) / static_cast<double>(1ull << 53);  // [0, 1)
    return 1 + amp * (2 * u - 1);
  }

 private:
  uint64_t s_;
};

void expect_rel(double got, double want, double tol, const char* what) {
  EXPECT_NEAR(got, want, std::fabs(want) * tol) << what;
}

TEST(PerfmodelFit, LeastSquaresSolvesAnExactSystem) {
  // y = 2·x0 − 3·x1 + 0.5, four points: the solution is exact.
  const std::vector<std::vector<double>> a = {{1, 0, 1}, {0, 1, 1}, {2, 3, 1}, {5, -1, 1}};
  std::vector<double> y;
  for (const auto& r : a) y.push_back(2 * r[0] - 3 * r[1] + 0.5);
  Result<std::vector<double>> x = least_squares(a, y);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  EXPECT_NEAR((*x)[0], 2, 1e-12);
  EXPECT_NEAR((*x)[1], -3, 1e-12);
  EXPECT_NEAR((*x)[2], 0.5, 1e-12);
}

TEST(PerfmodelFit, LeastSquaresMatchesTheNormalEquationsOnAnOverdeterminedSystem) {
  // Fit y = b·x + c to (0,1), (1,2), (2,2): hand-solved normal equations give b = 0.5, c = 7/6.
  const std::vector<std::vector<double>> a = {{0, 1}, {1, 1}, {2, 1}};
  const std::vector<double> y = {1, 2, 2};
  Result<std::vector<double>> x = least_squares(a, y);
  ASSERT_TRUE(x.is_ok());
  EXPECT_NEAR((*x)[0], 0.5, 1e-12);
  EXPECT_NEAR((*x)[1], 7.0 / 6.0, 1e-12);
  // Weights: with the last point weighted 0 the line passes through the first two.
  const std::vector<double> w = {1, 1, 0};
  Result<std::vector<double>> xw = least_squares(a, y, w);
  ASSERT_TRUE(xw.is_ok());
  EXPECT_NEAR((*xw)[0], 1, 1e-12);
  EXPECT_NEAR((*xw)[1], 1, 1e-12);
}

TEST(PerfmodelFit, LeastSquaresRefusesUnderdeterminedAndRankDeficientSystems) {
  EXPECT_FALSE(least_squares({{1, 2, 3}, {4, 5, 6}}, std::vector<double>{1, 2}).is_ok());
  // Second column = 2 × first.
  Result<std::vector<double>> r = least_squares({{1, 2}, {2, 4}, {3, 6}}, std::vector<double>{1, 2, 3});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_FALSE(least_squares({{1, 0}, {2, 0}}, std::vector<double>{1, 2}).is_ok());  // zero column
}

TEST(PerfmodelFit, MapeAndR2ByHand) {
  const std::vector<double> actual = {1, 2, 3};
  const std::vector<double> predicted = {1.1, 1.8, 3.3};
  // |0.1|/1, |0.2|/2, |0.3|/3 = 10% each.
  EXPECT_NEAR(mape_pct(predicted, actual), 10.0, 1e-12);
  // SS_tot = 1 + 0 + 1 = 2; SS_res = 0.01 + 0.04 + 0.09 = 0.14; R² = 1 − 0.07 = 0.93.
  ASSERT_TRUE(r_squared(predicted, actual).has_value());
  EXPECT_NEAR(*r_squared(predicted, actual), 0.93, 1e-12);
  EXPECT_FALSE(r_squared(std::vector<double>{1, 2}, std::vector<double>{5, 5}).has_value());
}

TEST(PerfmodelFit, HoldoutSplitIsDeterministicAndPartitions) {
  const HoldoutSplit a = holdout_split(20, 0.25, 7, 3);
  const HoldoutSplit b = holdout_split(20, 0.25, 7, 3);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.test.size(), 5u);
  EXPECT_EQ(a.train.size(), 15u);
  std::set<size_t> all(a.train.begin(), a.train.end());
  all.insert(a.test.begin(), a.test.end());
  EXPECT_EQ(all.size(), 20u);
  // Another seed gives another split (for this seed pair; a fixed fact of splitmix64).
  EXPECT_NE(holdout_split(20, 0.25, 8, 3).test, a.test);
  // At least one held out when fraction > 0, but never fewer than min_train for training.
  EXPECT_EQ(holdout_split(10, 0.01, 1, 3).test.size(), 1u);
  EXPECT_EQ(holdout_split(4, 0.5, 1, 3).test.size(), 1u);
  EXPECT_EQ(holdout_split(3, 0.5, 1, 3).test.size(), 0u);
  EXPECT_EQ(holdout_split(10, 0.0, 1, 3).test.size(), 0u);
}

TEST(PerfmodelFit, PrefillLatencyRecoveredExactly) {
  const PrefillLatencyModel truth{1.5636e-7, 2.3096e-6, 0.04598, 128};
  std::vector<PrefillSample> s;
  for (int64_t i = 100; i <= 4100; i += 250) s.push_back({i, truth.seconds(i)});
  Result<PrefillLatencyModel> m = fit_prefill_latency(s, 128);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  expect_rel(m->a, truth.a, 1e-6, "a");
  expect_rel(m->b, truth.b, 1e-6, "b");
  expect_rel(m->c, truth.c, 1e-6, "c");
  EXPECT_EQ(m->pad, 128);
  // All prompts padding to the same two lengths cannot determine three coefficients.
  std::vector<PrefillSample> two = {{1, 0.1}, {100, 0.1}, {129, 0.2}, {200, 0.2}};
  EXPECT_FALSE(fit_prefill_latency(two, 128).is_ok());
}

TEST(PerfmodelFit, DecodeLatencyRecoveredExactlyAndWithNoise) {
  const DecodeLatencyModel truth{1.4968e-7, 0.023634};
  std::vector<DecodeSample> s;
  for (int64_t i : {128, 512, 1024, 2048, 4096}) {
    for (int64_t o : {1, 16, 128, 1024}) s.push_back({i, o, truth.seconds(i, o)});
  }
  Result<DecodeLatencyModel> m = fit_decode_latency(s);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  expect_rel(m->m, truth.m, 1e-6, "m");
  expect_rel(m->n, truth.n, 1e-6, "n");
  // ±2% noise: n (which carries most of the time) within 1%, and every noise-free point predicted
  // within 1.5% (m alone is weakly determined: its term is at most 3% of these times).
  Noise noise(42);
  std::vector<DecodeSample> noisy = s;
  for (DecodeSample& p : noisy) p.seconds *= noise.factor(0.02);
  Result<DecodeLatencyModel> mn = fit_decode_latency(noisy);
  ASSERT_TRUE(mn.is_ok());
  expect_rel(mn->n, truth.n, 0.01, "n with noise");
  for (const DecodeSample& p : s) expect_rel(mn->seconds(p.n_prompt, p.n_gen), p.seconds, 0.015, "prediction with noise");
}

TEST(PerfmodelFit, LogPowerAndPiecewisePrefillPowerRecovered) {
  const LogPowerModel truth{3.214, 0.757};
  std::vector<PowerSample> s;
  for (int64_t o : {1, 2, 4, 8, 16, 32, 64}) s.push_back({o, truth.watts(o)});
  Result<LogPowerModel> m = fit_log_power(s);
  ASSERT_TRUE(m.is_ok());
  expect_rel(m->a, truth.a, 1e-6, "a");
  expect_rel(m->b, truth.b, 1e-6, "b");

  PrefillPowerModel pp;
  pp.constant_w = 12;
  pp.threshold = 256;
  pp.log = {2.5, 1.0};  // 2.5·ln(512) + 1 = 16.6 W just above the threshold
  std::vector<PowerSample> ps;
  for (int64_t i : {64, 128, 256, 512, 1024, 2048, 4096}) ps.push_back({i, pp.watts(i)});
  Result<PrefillPowerModel> f = fit_prefill_power(ps);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->threshold, 256);
  expect_rel(f->constant_w, 12, 1e-9, "C");
  expect_rel(f->log.a, 2.5, 1e-6, "a");
  expect_rel(f->log.b, 1.0, 1e-6, "b");
}

TEST(PerfmodelFit, WarmupEnergyRecovered) {
  const WarmupPowerModel truth{25.4, 9.0, 1.6};
  std::vector<EnergySample> s;
  for (double t : {0.3, 0.7, 1.5, 3.0, 6.0, 12.0, 24.0}) s.push_back({t, truth.energy_j(t)});
  Result<WarmupPowerModel> m = fit_warmup_energy(s);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  expect_rel(m->p_inf_w, truth.p_inf_w, 1e-6, "P_inf");
  expect_rel(m->delta_p_w, truth.delta_p_w, 1e-5, "dP");
  expect_rel(m->tau_s, truth.tau_s, 1e-5, "tau");
  // With ±1% noise the steady power stays within 2%.
  Noise noise(3);
  for (EnergySample& p : s) p.joules *= noise.factor(0.01);
  Result<WarmupPowerModel> mn = fit_warmup_energy(s);
  ASSERT_TRUE(mn.is_ok());
  expect_rel(mn->p_inf_w, truth.p_inf_w, 0.02, "P_inf with noise");
  EXPECT_FALSE(fit_warmup_energy(std::vector<EnergySample>{{1, 10}, {2, 20}}).is_ok());
}

}  // namespace
}  // namespace er::perfmodel
