// Summary statistics of repeated measurements: mean, sample standard deviation, median, percentiles.
#pragma once

#include <span>

namespace er::report {

// Arithmetic mean; 0 for no values.
double mean(std::span<const double> v);
// Sample standard deviation (Bessel's correction, n - 1), as llama-bench reports; 0 below 2 values.
double sample_stddev(std::span<const double> v);
// Median (mean of the two middle values for an even count); 0 for no values.
double median(std::span<const double> v);
// The p-th percentile (0 <= p <= 100) with linear interpolation between closest ranks (numpy's
// default): rank = p / 100 * (n - 1). 0 for no values.
double percentile(std::span<const double> v, double p);

}  // namespace er::report
