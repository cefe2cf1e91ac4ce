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

}  // namespace
}  // namespace er::stats
