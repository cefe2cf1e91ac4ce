// Summary statistics against hand-computed values: mean, Bessel-corrected stddev, median, numpy-style percentiles.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/stats.h"

namespace er::stats {
namespace {

TEST(ReportStats, MeanAndSampleStddev) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(mean(v), 5.0);
  EXPECT_DOUBLE_EQ(sample_stddev(v), std::sqrt(32.0 / 7.0));  // sum of squares 32, n - 1 = 7
  EXPECT_EQ(sample_stddev(std::vector<double>{3.0}), 0.0);
  EXPECT_EQ(mean(std::vector<double>{}), 0.0);
}

TEST(ReportStats, StddevOfLargeCloseValuesHasNoCancellation) {
  const std::vector<double> v = {1e12 + 1, 1e12 + 2, 1e12 + 3};
  EXPECT_DOUBLE_EQ(sample_stddev(v), 1.0);
}

TEST(ReportStats, MedianOddEvenAndUnsorted) {
  EXPECT_DOUBLE_EQ(median(std::vector<double>{3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(median(std::vector<double>{4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median(std::vector<double>{7}), 7.0);
  EXPECT_EQ(median(std::vector<double>{}), 0.0);
}

TEST(ReportStats, PercentilesInterpolateLikeNumpy) {
  const std::vector<double> v = {4, 1, 3, 2};  // sorted 1 2 3 4
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile(v, 90), 3.7);   // rank 2.7
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);   // rank 1.5
  EXPECT_DOUBLE_EQ(percentile(v, 99), 3.97);  // rank 2.97
  std::vector<double> hundred;
  for (int i = 1; i <= 101; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(hundred, 99), 100.0);
}


TEST(ReportStats, TCriticalValuesMatchTheTables) {
  // Reference: scipy.stats.t.ppf(0.975, df).
  EXPECT_NEAR(t_critical_95(1), 12.706204736, 1e-6);
  EXPECT_NEAR(t_critical_95(4), 2.776445105, 1e-6);
  EXPECT_NEAR(t_critical_95(30), 2.042272456, 1e-6);
  EXPECT_NEAR(t_critical_95(31), 2.039513446, 1e-4);
  EXPECT_NEAR(t_critical_95(40), 2.021075390, 1e-4);
  EXPECT_NEAR(t_critical_95(100), 1.983971519, 1e-4);
  EXPECT_NEAR(t_critical_95(100000), kZ95, 1e-4);
  EXPECT_EQ(t_critical_95(0), 0.0);
  for (int64_t df = 1; df < 200; ++df) EXPECT_GT(t_critical_95(df), t_critical_95(df + 1)) << df;  // falls to z
}

TEST(ReportStats, MeanIntervalIsTheTInterval) {
  const std::vector<double> v = {1, 2, 3, 4, 5};  // mean 3, s = sqrt(2.5), t(4) = 2.776445
  const MeanInterval m = mean_interval(v);
  ASSERT_TRUE(m.defined);
  EXPECT_EQ(m.n, 5);
  EXPECT_DOUBLE_EQ(m.mean, 3.0);
  const double half = 2.776445105 * std::sqrt(2.5) / std::sqrt(5.0);
  EXPECT_NEAR(m.lo, 3.0 - half, 1e-8);
  EXPECT_NEAR(m.hi, 3.0 + half, 1e-8);
  const MeanInterval one = mean_interval(std::vector<double>{7});
  EXPECT_FALSE(one.defined);
  EXPECT_EQ(one.lo, 7.0);
  EXPECT_EQ(one.hi, 7.0);
}

TEST(ReportStats, LineFitSlopeAndItsInterval) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {3.1, 4.9, 7.0, 9.1, 10.9};
  const LineFit f = line_fit(x, y);  // reference: the closed form evaluated in Python
  ASSERT_TRUE(f.defined);
  EXPECT_NEAR(f.slope, 1.98, 1e-12);
  EXPECT_NEAR(f.intercept, 1.06, 1e-12);
  EXPECT_NEAR(f.slope_se, 0.034641016151377296, 1e-12);
  EXPECT_NEAR(f.slope_lo, 1.8697568261476039, 1e-8);  // n − 2 = 3 df: t = 3.182
  EXPECT_GT(f.slope_lo, 0.0);
  // A flat cloud: the interval holds 0.
  const LineFit flat = line_fit(std::vector<double>{1, 2, 3, 4}, std::vector<double>{1, 2, 1, 2});
  ASSERT_TRUE(flat.defined);
  EXPECT_LT(flat.slope_lo, 0.0);
  EXPECT_GT(flat.slope_hi, 0.0);
  EXPECT_FALSE(line_fit(std::vector<double>{2, 2, 2}, std::vector<double>{1, 2, 3}).defined);  // no spread in x
  EXPECT_FALSE(line_fit(std::vector<double>{1, 2}, std::vector<double>{1, 2}).defined);        // too few points
}

}  // namespace
}  // namespace er::stats
