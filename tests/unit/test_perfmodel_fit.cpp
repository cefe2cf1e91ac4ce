// Fitting: least squares recovers known coefficients (exactly without noise, closely with it),
// rank-deficient inputs are refused, the hold-out split is deterministic, MAPE / R² by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
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

// Σ w·(A·x − y)² (w empty: 1).
double objective(const std::vector<std::vector<double>>& a, const std::vector<double>& y, const std::vector<double>& w,
                 const std::vector<double>& x) {
  double f = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double r = -y[i];
    for (size_t j = 0; j < x.size(); ++j) r += a[i][j] * x[j];
    f += (w.empty() ? 1.0 : w[i]) * r * r;
  }
  return f;
}

// The constrained optimum by brute force: for every set of constrained coefficients held at 0,
// the least-squares solution on the others; the best one with the required signs.
std::vector<double> brute_force_nnls(const std::vector<std::vector<double>>& a, const std::vector<double>& y,
                                     const std::vector<double>& w, const std::vector<bool>& nonneg) {
  const size_t k = a[0].size();
  std::vector<double> best;
  double best_f = std::numeric_limits<double>::infinity();
  for (uint32_t mask = 0; mask < (1u << k); ++mask) {  // bit j set: coefficient j held at 0
    bool valid = true;
    std::vector<size_t> cols;
    for (size_t j = 0; j < k; ++j) {
      if (mask & (1u << j)) valid = valid && nonneg[j];
      else cols.push_back(j);
    }
    if (!valid) continue;
    std::vector<double> x(k, 0.0);
    if (!cols.empty()) {
      std::vector<std::vector<double>> sub(a.size());
      for (size_t i = 0; i < a.size(); ++i)
        for (size_t c : cols) sub[i].push_back(a[i][c]);
      Result<std::vector<double>> s = least_squares(sub, y, w);
      if (!s.is_ok()) continue;
      for (size_t c = 0; c < cols.size(); ++c) x[cols[c]] = (*s)[c];
    }
    bool feasible = true;
    for (size_t j = 0; j < k; ++j) feasible = feasible && (!nonneg[j] || x[j] >= 0);
    if (!feasible) continue;
    const double f = objective(a, y, w, x);
    if (f < best_f) {
      best_f = f;
      best = x;
    }
  }
  return best;
}

TEST(PerfmodelFit, NonNegativeLeastSquaresGivesTheConstrainedOptimum) {
  // y falls with x: OLS fits y = b·x + c with b = −0.5; with b, c >= 0 the best is b = 0 and c the
  // mean of y (2), by hand.
  const std::vector<std::vector<double>> a = {{0, 1}, {1, 1}, {2, 1}, {3, 1}};
  const std::vector<double> y = {2.75, 2.25, 1.75, 1.25};
  Result<std::vector<double>> ols = least_squares(a, y);
  ASSERT_TRUE(ols.is_ok());
  EXPECT_NEAR((*ols)[0], -0.5, 1e-12);
  Result<std::vector<double>> x = nonnegative_least_squares(a, y);
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  EXPECT_EQ((*x)[0], 0.0);  // held at the bound exactly
  EXPECT_NEAR((*x)[1], 2.0, 1e-12);
  // With the slope free, the OLS solution is kept.
  Result<std::vector<double>> free_b = nonnegative_least_squares(a, y, {}, {false, true});
  ASSERT_TRUE(free_b.is_ok());
  EXPECT_NEAR((*free_b)[0], -0.5, 1e-12);
  EXPECT_NEAR((*free_b)[1], 2.75, 1e-12);
  // A feasible OLS solution is returned as is.
  Result<std::vector<double>> pos = nonnegative_least_squares(a, std::vector<double>{1, 2, 3, 4});
  ASSERT_TRUE(pos.is_ok());
  EXPECT_NEAR((*pos)[0], 1, 1e-12);
  EXPECT_NEAR((*pos)[1], 1, 1e-12);
  // Errors as least squares: rank deficiency, a wrong mask size.
  EXPECT_FALSE(nonnegative_least_squares({{1, 2}, {2, 4}, {3, 6}}, std::vector<double>{1, 2, 3}).is_ok());
  EXPECT_FALSE(nonnegative_least_squares(a, y, {}, {true}).is_ok());
}

TEST(PerfmodelFit, NonNegativeLeastSquaresMatchesBruteForceOverActiveSets) {
  // Random 2- and 3-coefficient problems, weighted and not, with scaled columns like prefill's
  // (Î², Î, 1): Lawson–Hanson's answer equals the best of all active sets, and at least some of
  // them have a coefficient held at 0.
  Noise rng(7);
  int n_bound = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const size_t k = trial % 2 == 0 ? 3 : 2;
    const size_t n = 4 + static_cast<size_t>(trial % 5);
    std::vector<std::vector<double>> a(n, std::vector<double>(k));
    std::vector<double> y(n), w;
    for (size_t i = 0; i < n; ++i) {
      const double x = 50 + 1000 * (rng.factor(1) / 2);
      if (k == 3) {
        a[i] = {x * x, x, 1.0};
      } else {
        a[i] = {rng.factor(1), rng.factor(1) * 100};
      }
      y[i] = rng.factor(1) * 10;  // any sign
      if (trial % 3 == 0) w.push_back(rng.factor(0.9));
    }
    std::vector<bool> nonneg(k, true);
    if (trial % 4 == 1) nonneg[0] = false;
    Result<std::vector<double>> x = nonnegative_least_squares(a, y, w, nonneg);
    ASSERT_TRUE(x.is_ok()) << "trial " << trial << ": " << x.status().message();
    const std::vector<double> want = brute_force_nnls(a, y, w, nonneg);
    ASSERT_EQ(want.size(), k) << "trial " << trial;
    const double f = objective(a, y, w, *x), fw = objective(a, y, w, want);
    EXPECT_LE(f, fw * (1 + 1e-9) + 1e-12) << "trial " << trial;
    for (size_t j = 0; j < k; ++j) {
      double col_max = 0;  // a coefficient's absolute tolerance in units of its column
      for (size_t i = 0; i < n; ++i) col_max = std::max(col_max, std::fabs(a[i][j]));
      if (nonneg[j]) {
        EXPECT_GE((*x)[j], 0.0) << "trial " << trial;
      }
      EXPECT_NEAR((*x)[j], want[j], 1e-6 * std::fabs(want[j]) + 1e-8 / col_max) << "trial " << trial << " j " << j;
      if (nonneg[j] && (*x)[j] == 0.0) ++n_bound;
    }
  }
  EXPECT_GT(n_bound, 50);
}

TEST(PerfmodelFit, DecodeFitNeverLetsTimeFallWithContext) {
  // The symptom of study --quick: decode times that shrink as the context grows (timing noise over
  // a narrow range). OLS gives m < 0; the fit holds m at 0 and n at the constrained optimum.
  std::vector<DecodeSample> s;
  for (int64_t i : {90, 120, 150, 180, 210, 240}) {
    for (int64_t o : {20, 60, 100, 140}) {
      const double per_step = 0.006 - 2e-6 * static_cast<double>(i + o / 2);  // falls with context
      s.push_back({i, o, per_step * static_cast<double>(o)});
    }
  }
  Result<DecodeLatencyModel> m = fit_decode_latency(s);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->m, 0.0);
  EXPECT_GT(m->n, 0.0);
  EXPECT_GE(m->seconds(200, 2000), m->seconds(200, 1000));
  // Prefill: times falling with the prompt length give a = b = 0 or at least a, b, c >= 0.
  std::vector<PrefillSample> p;
  for (int64_t i : {100, 150, 200, 250, 300}) p.push_back({i, 0.3 - 1e-6 * static_cast<double>(i * i)});
  Result<PrefillLatencyModel> pm = fit_prefill_latency(p, 1);
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  EXPECT_GE(pm->a, 0.0);
  EXPECT_GE(pm->b, 0.0);
  EXPECT_GE(pm->c, 0.0);
  EXPECT_GE(pm->seconds(4000), pm->seconds(300));
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
