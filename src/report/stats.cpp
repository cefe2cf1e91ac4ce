// Summary statistics of repeated measurements (see stats.h).
#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace er::report {

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

double median(std::span<const double> v) { return percentile(v, 50.0); }

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

}  // namespace er::report
