// Scoring: accuracy with a Wilson 95% interval, and mean / p50 / p90 of per-question measurements.
#pragma once

#include <cstdint>
#include <span>

namespace er::eval {

// Wilson score interval for k successes in n trials (z = 1.959964 for 95%):
// centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n).
struct Proportion {
  int64_t k = 0, n = 0;
  double p = 0;          // k / n (0 when n = 0)
  double lo = 0, hi = 0; // the interval, within [0, 1]; [0, 1] when n = 0
};
Proportion wilson_interval(int64_t k, int64_t n, double z = 1.959963984540054);

struct Distribution {
  int64_t n = 0;
  double mean = 0, p50 = 0, p90 = 0;  // 0 when n = 0
};
// Percentiles interpolate linearly between closest ranks (rank = p/100·(n−1), numpy's default).
Distribution describe(std::span<const double> values);
double percentile(std::span<const double> values, double p);

}  // namespace er::eval
