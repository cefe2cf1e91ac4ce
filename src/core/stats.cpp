// Summary statistics (see stats.h).
#include "core/stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace er::stats {

double mean(std::span<const double> v) {
  if (v.empty()) return 0;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double sample_stddev(std::span<const double> v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double sq = 0;
  for (double x : v) sq += (x - m) * (x - m);  // two-pass: no cancellation for large, close values
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

double percentile(std::span<const double> v, double p) {
  if (v.empty()) return 0;
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return s[lo] + (s[hi] - s[lo]) * frac;
}

double median(std::span<const double> v) { return percentile(v, 50.0); }

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

Distribution describe(std::span<const double> values) {
  Distribution d;
  d.n = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  d.mean = mean(values);
  d.p50 = percentile(values, 50);
  d.p90 = percentile(values, 90);
  return d;
}

}  // namespace er::stats
