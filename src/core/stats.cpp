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

double t_critical_95(int64_t df) {
  // Two-sided 95% (the 0.975 quantile), df = 1..30.
  static constexpr double kTable[30] = {12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
                                        2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
                                        2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
                                        2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
                                        2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
                                        2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
  if (df < 1) return 0;
  if (df <= 30) return kTable[df - 1];
  // Cornish–Fisher expansion of the t quantile around the normal one.
  const double z = kZ95, v = static_cast<double>(df);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

MeanInterval mean_interval(std::span<const double> v) {
  MeanInterval r;
  r.n = static_cast<int64_t>(v.size());
  r.mean = r.lo = r.hi = mean(v);
  if (v.size() < 2) return r;
  const double half = t_critical_95(r.n - 1) * sample_stddev(v) / std::sqrt(static_cast<double>(v.size()));
  r.lo = r.mean - half;
  r.hi = r.mean + half;
  r.defined = true;
  return r;
}

LineFit line_fit(std::span<const double> x, std::span<const double> y) {
  LineFit r;
  const size_t n = std::min(x.size(), y.size());
  r.n = static_cast<int64_t>(n);
  if (n == 0) return r;
  const double mx = mean(x.first(n)), my = mean(y.first(n));
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  r.intercept = my;
  if (n < 3 || !(sxx > 0)) return r;
  r.slope = sxy / sxx;
  r.intercept = my - r.slope * mx;
  double sse = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = y[i] - (r.intercept + r.slope * x[i]);
    sse += e * e;
  }
  r.slope_se = std::sqrt(sse / static_cast<double>(n - 2) / sxx);
  const double half = t_critical_95(r.n - 2) * r.slope_se;
  r.slope_lo = r.slope - half;
  r.slope_hi = r.slope + half;
  r.defined = true;
  return r;
}

}  // namespace er::stats
