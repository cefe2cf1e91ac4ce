// Fitting the analytic models (analytic.h) to measurements: linear least squares by Householder QR
// in double, non-negative least squares (Lawson–Hanson) on top of it, the deterministic hold-out
// split, and MAPE / R² on held-out points.
//
// Every fit minimises the squared *relative* error Σ((model − y)/y)², the quantity MAPE reports,
// so a 20 ms prefill counts as much as a 2 s one. Each model is linear in its coefficients given
// the inputs (the warm-up power model given τ, which a 1-D search picks). Coefficients keep their
// physical signs: latency coefficients (a, b, c; m, n), the log power models' a and b and the
// warm-up model's P∞ are >= 0, so a noisy or narrow set of points gives a coefficient of 0 (the
// constrained optimum), never a time that falls as the context grows.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "perfmodel/analytic.h"

namespace er::perfmodel {

// x minimising Σ_i w_i·(A_i·x − y_i)² (w empty: all 1). A: n rows of k columns, n >= k.
// Errors: fewer rows than columns, rows of different lengths, a rank-deficient A (a column that is
// a combination of the others, e.g. every point at one input size).
Result<std::vector<double>> least_squares(const std::vector<std::vector<double>>& a, std::span<const double> y,
                                          std::span<const double> w = {});

// x minimising the same objective subject to x_j >= 0 for every j with nonneg[j] (nonneg empty:
// every coefficient). Lawson–Hanson's active-set method on the weighted, column-scaled system;
// exact (to rounding) for these 2–3 coefficient problems. Errors as least_squares: A must have
// full column rank, so that the constrained optimum is unique. Coefficients held at their bound
// are exactly 0.
Result<std::vector<double>> nonnegative_least_squares(const std::vector<std::vector<double>>& a,
                                                      std::span<const double> y, std::span<const double> w = {},
                                                      const std::vector<bool>& nonneg = {});

// Mean absolute percentage error, 100·mean(|p − a| / |a|). REQUIRES: same sizes, non-empty, a ≠ 0.
double mape_pct(std::span<const double> predicted, std::span<const double> actual);
// Coefficient of determination 1 − SS_res / SS_tot; empty when SS_tot = 0 (fewer than two
// distinct actual values). REQUIRES: same sizes, non-empty.
std::optional<double> r_squared(std::span<const double> predicted, std::span<const double> actual);

// Indices 0..n−1 split into training and held-out points: a Fisher–Yates shuffle driven by
// splitmix64(seed), then the first round(fraction·n) held out, at least one when fraction > 0,
// but never leaving fewer than min_train for training. Both lists sorted. Same inputs, same split.
struct HoldoutSplit {
  std::vector<size_t> train;
  std::vector<size_t> test;
};
HoldoutSplit holdout_split(size_t n, double fraction, uint64_t seed, size_t min_train);

// Measurements, one per point.
struct PrefillSample {
  int64_t n_prompt = 0;
  double seconds = 0;
};
struct DecodeSample {
  int64_t n_prompt = 0;  // context before the first timed decode step
  int64_t n_gen = 0;     // timed decode steps
  double seconds = 0;
};
struct PowerSample {
  int64_t tokens = 0;  // I for prefill power, O for decode power
  double watts = 0;
};
struct EnergySample {
  double seconds = 0;  // decode time T
  double joules = 0;   // energy over it
};

// L_p = a·Î² + b·Î + c (needs 3 distinct Î).
Result<PrefillLatencyModel> fit_prefill_latency(std::span<const PrefillSample> s, int64_t pad);
// L_d = n·O + m·(I·O + O(O−1)/2) (needs points that separate the two columns).
Result<DecodeLatencyModel> fit_decode_latency(std::span<const DecodeSample> s);
// W = a·ln(x) + b.
Result<LogPowerModel> fit_log_power(std::span<const PowerSample> s);
// C up to a threshold, then a·ln(I) + b: every distinct I (and 0) is tried as the threshold (the
// log part needing at least 2 distinct I above it), keeping the least squared relative error.
Result<PrefillPowerModel> fit_prefill_power(std::span<const PowerSample> s);
// E(T) = P∞·T − ΔP·τ·(1 − e^(−T/τ)): for each τ linear in (P∞, ΔP); τ by a log grid over
// [1 ms, 1e4 s] refined by golden-section search.
Result<WarmupPowerModel> fit_warmup_energy(std::span<const EnergySample> s);

}  // namespace er::perfmodel
