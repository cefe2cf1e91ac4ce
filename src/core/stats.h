// Summary statistics, one definition each for the whole project: mean, sample standard deviation,
// median and percentiles of measurements, the Wilson interval of a proportion, the mean/p50/p90
// summary of per-question measurements, the t-interval of a mean and the least-squares line with
// the t-interval of its slope.
#pragma once

#include <cstdint>
#include <span>

namespace er::stats {

// Arithmetic mean; 0 for no values.
double mean(std::span<const double> v);
// Sample standard deviation (Bessel's correction, n - 1), as llama-bench reports; 0 below 2 values.
double sample_stddev(std::span<const double> v);
// The p-th percentile (0 <= p <= 100) with linear interpolation between closest ranks (numpy's
// default): rank = p / 100 * (n - 1). 0 for no values.
double percentile(std::span<const double> v, double p);
// percentile(v, 50): the mean of the two middle values for an even count.
double median(std::span<const double> v);

// Wilson score interval for k successes in n trials (z = 1.959964 for 95%):
// centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n).
struct Proportion {
  int64_t k = 0, n = 0;
  double p = 0;           // k / n (0 when n = 0)
  double lo = 0, hi = 0;  // the interval, within [0, 1]; [0, 1] when n = 0
};
inline constexpr double kZ95 = 1.959963984540054;
Proportion wilson_interval(int64_t k, int64_t n, double z = kZ95);

// Count, mean, p50 and p90 (0 when empty).
struct Distribution {
  int64_t n = 0;
  double mean = 0, p50 = 0, p90 = 0;
};
Distribution describe(std::span<const double> values);

// The two-sided 95% critical value of Student's t with `df` degrees of freedom (12.706 at 1,
// 2.045 at 29, → 1.960): exact table values up to 30, the Cornish–Fisher expansion above (error
// < 1e-4). 0 for df < 1.
double t_critical_95(int64_t df);

// The mean with its 95% t-interval: mean ± t(n−1)·s/√n. Below 2 values the interval is the mean
// itself with `defined` false (no spread to estimate).
struct MeanInterval {
  int64_t n = 0;
  double mean = 0, lo = 0, hi = 0;
  bool defined = false;
};
MeanInterval mean_interval(std::span<const double> v);

// Ordinary least squares y = intercept + slope·x, with the slope's 95% t-interval (n − 2 degrees of
// freedom). `defined` is false below 3 points or when every x is the same (no slope to estimate).
struct LineFit {
  int64_t n = 0;
  double slope = 0, intercept = 0;
  double slope_se = 0, slope_lo = 0, slope_hi = 0;
  bool defined = false;
};
LineFit line_fit(std::span<const double> x, std::span<const double> y);

}  // namespace er::stats
