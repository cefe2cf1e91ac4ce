// Scoring: Wilson interval and simple distribution summaries.
#include "eval/score.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace er::eval {

Proportion wilson_interval(int64_t k, int64_t n, double z) {
  Proportion r;
  r.k = k;
  r.n = n;
  if (n <= 0) {
    r.lo = 0;
    r.hi = 1;
    return r;
  }
  const double nn = static_cast<double>(n);
  r.p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double centre = (r.p + z2 / (2 * nn)) / denom;
  const double half = z * std::sqrt(r.p * (1 - r.p) / nn + z2 / (4 * nn * nn)) / denom;
  r.lo = std::max(0.0, centre - half);
  r.hi = std::min(1.0, centre + half);
  return r;
}

double percentile(std::span<const double> values, double p) {
  if (values.empty()) return 0;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (rank - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

Distribution describe(std::span<const double> values) {
  Distribution d;
  d.n = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  double sum = 0;
  for (double x : values) sum += x;
  d.mean = sum / static_cast<double>(values.size());
  d.p50 = percentile(values, 50);
  d.p90 = percentile(values, 90);
  return d;
}

}  // namespace er::eval
