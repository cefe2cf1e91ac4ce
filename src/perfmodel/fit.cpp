// Least squares, metrics, hold-out split and the model fits (see fit.h).
#include "perfmodel/fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/check.h"

namespace er::perfmodel {

Result<std::vector<double>> least_squares(const std::vector<std::vector<double>>& a, std::span<const double> y,
                                          std::span<const double> w) {
  const size_t n = a.size();
  if (n == 0) return Status::invalid("least squares: no points");
  const size_t k = a[0].size();
  if (k == 0) return Status::invalid("least squares: no coefficients");
  if (y.size() != n || (!w.empty() && w.size() != n)) return Status::invalid("least squares: sizes differ");
  if (n < k) {
    return Status::invalid("least squares: " + std::to_string(n) + " points for " + std::to_string(k) + " coefficients");
  }
  // Rows scaled by sqrt(w); columns scaled to unit norm so that the rank test is scale-free
  // (prefill's Î² and 1 differ by 10^7).
  std::vector<double> q(n * k);  // (n, k) row-major, becomes R above the diagonal and Householder vectors below
  std::vector<double> b(n);
  for (size_t i = 0; i < n; ++i) {
    if (a[i].size() != k) return Status::invalid("least squares: rows of different lengths");
    const double s = w.empty() ? 1.0 : std::sqrt(w[i]);
    for (size_t j = 0; j < k; ++j) q[i * k + j] = a[i][j] * s;
    b[i] = y[i] * s;
  }
  std::vector<double> col_scale(k, 0.0);
  for (size_t j = 0; j < k; ++j) {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += q[i * k + j] * q[i * k + j];
    col_scale[j] = std::sqrt(ss);
    if (!(col_scale[j] > 0) || !std::isfinite(col_scale[j])) {
      return Status::invalid("least squares: coefficient " + std::to_string(j) + " has an all-zero column");
    }
    for (size_t i = 0; i < n; ++i) q[i * k + j] /= col_scale[j];
  }
  // Householder QR, applying each reflection to b as well.
  std::vector<double> diag(k);
  for (size_t j = 0; j < k; ++j) {
    double norm = 0;
    for (size_t i = j; i < n; ++i) norm += q[i * k + j] * q[i * k + j];
    norm = std::sqrt(norm);
    if (norm < 1e-10) {
      return Status::invalid("least squares: the points do not determine the model (coefficient " +
                             std::to_string(j) + " is a combination of the others; vary the inputs more)");
    }
    const double alpha = q[j * k + j] > 0 ? -norm : norm;
    q[j * k + j] -= alpha;  // v = x − alpha·e1, stored in column j from row j
    double vnorm2 = 0;
    for (size_t i = j; i < n; ++i) vnorm2 += q[i * k + j] * q[i * k + j];
    for (size_t c = j + 1; c < k; ++c) {
      double dot = 0;
      for (size_t i = j; i < n; ++i) dot += q[i * k + j] * q[i * k + c];
      const double f = 2 * dot / vnorm2;
      for (size_t i = j; i < n; ++i) q[i * k + c] -= f * q[i * k + j];
    }
    double dot = 0;
    for (size_t i = j; i < n; ++i) dot += q[i * k + j] * b[i];
    const double f = 2 * dot / vnorm2;
    for (size_t i = j; i < n; ++i) b[i] -= f * q[i * k + j];
    diag[j] = alpha;
  }
  // Back substitution R x = Qᵀb (R's diagonal in diag, above it in q).
  std::vector<double> x(k);
  for (size_t jj = k; jj-- > 0;) {
    double s = b[jj];
    for (size_t c = jj + 1; c < k; ++c) s -= q[jj * k + c] * x[c];
    x[jj] = s / diag[jj];
  }
  for (size_t j = 0; j < k; ++j) x[j] /= col_scale[j];
  return x;
}

Result<std::vector<double>> nonnegative_least_squares(const std::vector<std::vector<double>>& a,
                                                      std::span<const double> y, std::span<const double> w,
                                                      const std::vector<bool>& nonneg) {
  // The unconstrained optimum first: it checks the inputs and the rank, and when it already has
  // the required signs it is the constrained optimum too.
  ER_ASSIGN_OR_RETURN(std::vector<double> x0, least_squares(a, y, w));
  const size_t n = a.size(), k = a[0].size();
  if (!nonneg.empty() && nonneg.size() != k) return Status::invalid("non-negative least squares: sign mask size differs");
  const auto constrained = [&](size_t j) { return nonneg.empty() || nonneg[j]; };
  bool feasible = true;
  for (size_t j = 0; j < k; ++j) feasible = feasible && (!constrained(j) || x0[j] >= 0);
  if (feasible) return x0;

  // B z = b: rows scaled by sqrt(w), columns to unit norm (z_j = s_j·x_j keeps every sign).
  std::vector<std::vector<double>> bm(n, std::vector<double>(k));
  std::vector<double> b(n), scale(k, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double s = w.empty() ? 1.0 : std::sqrt(w[i]);
    for (size_t j = 0; j < k; ++j) bm[i][j] = a[i][j] * s;
    b[i] = y[i] * s;
  }
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < n; ++i) scale[j] += bm[i][j] * bm[i][j];
    scale[j] = std::sqrt(scale[j]);  // > 0: least_squares refused all-zero columns
    for (size_t i = 0; i < n; ++i) bm[i][j] /= scale[j];
  }
  double b_norm = 0;
  for (double v : b) b_norm += v * v;
  b_norm = std::sqrt(b_norm);
  const double grad_tol = 1e-11 * std::max(b_norm, 1e-300);

  // The least-squares solution on the passive columns, 0 on the others. A has full column rank,
  // so every subset of its columns does too.
  const auto solve_on = [&](const std::vector<bool>& passive) -> Result<std::vector<double>> {
    std::vector<size_t> cols;
    for (size_t j = 0; j < k; ++j)
      if (passive[j]) cols.push_back(j);
    std::vector<double> z(k, 0.0);
    if (cols.empty()) return z;
    std::vector<std::vector<double>> sub(n, std::vector<double>(cols.size()));
    for (size_t i = 0; i < n; ++i)
      for (size_t c = 0; c < cols.size(); ++c) sub[i][c] = bm[i][cols[c]];
    Result<std::vector<double>> s = least_squares(sub, b);
    if (!s.is_ok()) return s.status().with_context("non-negative least squares");
    for (size_t c = 0; c < cols.size(); ++c) z[cols[c]] = (*s)[c];
    return z;
  };

  // Lawson–Hanson: free coefficients are always passive; a constrained one enters the passive set
  // while the objective's gradient pulls it above 0, and leaves it when a step would make it negative.
  std::vector<bool> passive(k);
  for (size_t j = 0; j < k; ++j) passive[j] = !constrained(j);
  ER_ASSIGN_OR_RETURN(std::vector<double> z, solve_on(passive));
  const int max_iter = 30 * static_cast<int>(k) + 30;
  bool converged = false;
  for (int outer = 0; outer < max_iter && !converged; ++outer) {
    std::vector<double> r = b;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < k; ++j) r[i] -= bm[i][j] * z[j];
    size_t enter = k;
    double best = grad_tol;
    for (size_t j = 0; j < k; ++j) {
      if (passive[j]) continue;
      double g = 0;
      for (size_t i = 0; i < n; ++i) g += bm[i][j] * r[i];
      if (g > best) {
        best = g;
        enter = j;
      }
    }
    if (enter == k) {
      converged = true;
      break;
    }
    passive[enter] = true;
    bool first = true;
    for (int inner = 0; inner < max_iter; ++inner) {
      ER_ASSIGN_OR_RETURN(std::vector<double> s, solve_on(passive));
      if (first && s[enter] <= 0) {  // the gradient test was rounding: nothing improves
        passive[enter] = false;
        converged = true;
        break;
      }
      first = false;
      bool ok = true;
      double alpha = 1;
      for (size_t j = 0; j < k; ++j) {
        if (!passive[j] || !constrained(j) || s[j] > 0) continue;
        ok = false;
        alpha = std::min(alpha, z[j] / (z[j] - s[j]));
      }
      if (ok) {
        z = s;
        break;
      }
      for (size_t j = 0; j < k; ++j) {
        z[j] += alpha * (s[j] - z[j]);
        if (passive[j] && constrained(j) && z[j] <= 1e-13 * b_norm) {
          passive[j] = false;
          z[j] = 0;
        }
      }
    }
  }
  if (!converged) return Status::internal("non-negative least squares did not converge");
  std::vector<double> x(k, 0.0);
  for (size_t j = 0; j < k; ++j) x[j] = passive[j] ? z[j] / scale[j] : 0.0;
  return x;
}

double mape_pct(std::span<const double> predicted, std::span<const double> actual) {
  ER_CHECK(predicted.size() == actual.size() && !actual.empty());
  double sum = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    ER_CHECK(actual[i] != 0);
    sum += std::fabs(predicted[i] - actual[i]) / std::fabs(actual[i]);
  }
  return 100.0 * sum / static_cast<double>(actual.size());
}

std::optional<double> r_squared(std::span<const double> predicted, std::span<const double> actual) {
  ER_CHECK(predicted.size() == actual.size() && !actual.empty());
  const double mean = std::accumulate(actual.begin(), actual.end(), 0.0) / static_cast<double>(actual.size());
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    ss_res += (actual[i] - predicted[i]) * (actual[i] - predicted[i]);
    ss_tot += (actual[i] - mean) * (actual[i] - mean);
  }
  if (!(ss_tot > 0)) return std::nullopt;
  return 1.0 - ss_res / ss_tot;
}

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 1/y² weights: least squares on the relative error.
std::vector<double> relative_weights(std::span<const double> y) {
  std::vector<double> w(y.size());
  for (size_t i = 0; i < y.size(); ++i) w[i] = 1.0 / (y[i] * y[i]);
  return w;
}

Status check_positive(std::span<const double> y, const char* what) {
  for (double v : y) {
    if (!(v > 0) || !std::isfinite(v)) return Status::invalid(std::string(what) + ": every measured value must be > 0");
  }
  return Status::ok();
}

}  // namespace

HoldoutSplit holdout_split(size_t n, double fraction, uint64_t seed, size_t min_train) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  uint64_t state = seed;
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(splitmix64(state) % i);
    std::swap(idx[i - 1], idx[j]);
  }
  size_t n_test = fraction > 0 ? std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * static_cast<double>(n)))) : 0;
  n_test = n > min_train ? std::min(n_test, n - min_train) : 0;
  HoldoutSplit s;
  s.test.assign(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_test));
  s.train.assign(idx.begin() + static_cast<std::ptrdiff_t>(n_test), idx.end());
  std::sort(s.test.begin(), s.test.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

Result<PrefillLatencyModel> fit_prefill_latency(std::span<const PrefillSample> s, int64_t pad) {
  if (pad < 1) return Status::invalid("prefill fit: pad must be >= 1");
  std::vector<std::vector<double>> a;
  std::vector<double> y;
  for (const PrefillSample& p : s) {
    if (p.n_prompt < 1) return Status::invalid("prefill fit: prompt sizes must be >= 1");
    const double x = static_cast<double>(padded_length(p.n_prompt, pad));
    a.push_back({x * x, x, 1.0});
    y.push_back(p.seconds);
  }
  ER_RETURN_IF_ERROR(check_positive(y, "prefill fit"));
  const std::vector<double> w = relative_weights(y);
  Result<std::vector<double>> c = nonnegative_least_squares(a, y, w);
  if (!c.is_ok()) return c.status().with_context("prefill latency fit (needs 3 distinct padded prompt sizes)");
  PrefillLatencyModel m;
  m.a = (*c)[0];
  m.b = (*c)[1];
  m.c = (*c)[2];
  m.pad = pad;
  return m;
}

Result<DecodeLatencyModel> fit_decode_latency(std::span<const DecodeSample> s) {
  std::vector<std::vector<double>> a;
  std::vector<double> y;
  for (const DecodeSample& p : s) {
    if (p.n_gen < 1 || p.n_prompt < 0) return Status::invalid("decode fit: n_gen must be >= 1 and n_prompt >= 0");
    const double i = static_cast<double>(p.n_prompt);
    const double o = static_cast<double>(p.n_gen);
    a.push_back({i * o + o * (o - 1) / 2, o});  // columns of m and n
    y.push_back(p.seconds);
  }
  ER_RETURN_IF_ERROR(check_positive(y, "decode fit"));
  const std::vector<double> w = relative_weights(y);
  Result<std::vector<double>> c = nonnegative_least_squares(a, y, w);
  if (!c.is_ok()) return c.status().with_context("decode latency fit (needs several contexts I + O/2)");
  return DecodeLatencyModel{(*c)[0], (*c)[1]};
}

Result<LogPowerModel> fit_log_power(std::span<const PowerSample> s) {
  std::vector<std::vector<double>> a;
  std::vector<double> y;
  for (const PowerSample& p : s) {
    if (p.tokens < 1) return Status::invalid("power fit: token counts must be >= 1");
    a.push_back({std::log(static_cast<double>(p.tokens)), 1.0});
    y.push_back(p.watts);
  }
  ER_RETURN_IF_ERROR(check_positive(y, "power fit"));
  const std::vector<double> w = relative_weights(y);
  Result<std::vector<double>> c = nonnegative_least_squares(a, y, w);
  if (!c.is_ok()) return c.status().with_context("log power fit (needs 2 distinct token counts)");
  return LogPowerModel{(*c)[0], (*c)[1]};
}

Result<PrefillPowerModel> fit_prefill_power(std::span<const PowerSample> s) {
  std::set<int64_t> sizes;
  for (const PowerSample& p : s) sizes.insert(p.tokens);
  std::vector<int64_t> thresholds = {0};
  thresholds.insert(thresholds.end(), sizes.begin(), sizes.end());
  std::optional<PrefillPowerModel> best;
  double best_err = std::numeric_limits<double>::infinity();
  for (int64_t t : thresholds) {
    std::vector<PowerSample> above;
    std::set<int64_t> above_sizes;
    double below_sum = 0, below_wsum = 0;
    for (const PowerSample& p : s) {
      if (p.tokens > t) {
        above.push_back(p);
        above_sizes.insert(p.tokens);
      } else {
        // The constant minimising Σ((C − y)/y)²: Σ(1/y) / Σ(1/y²).
        below_sum += 1.0 / p.watts;
        below_wsum += 1.0 / (p.watts * p.watts);
      }
    }
    if (above_sizes.size() < 2) continue;
    Result<LogPowerModel> log = fit_log_power(above);
    if (!log.is_ok()) continue;
    PrefillPowerModel m;
    m.threshold = t;
    m.log = *log;
    m.constant_w = below_wsum > 0 ? below_sum / below_wsum : log->watts(std::max<int64_t>(t, 1));
    double err = 0;
    for (const PowerSample& p : s) err += std::pow((m.watts(p.tokens) - p.watts) / p.watts, 2);
    if (err < best_err - 1e-15) {
      best_err = err;
      best = m;
    }
  }
  if (!best) return Status::invalid("prefill power fit: needs at least 2 distinct prompt sizes with power measured");
  return *best;
}

namespace {

// For fixed τ: (P∞, ΔP) by least squares and the squared relative error.
struct WarmupTry {
  WarmupPowerModel model;
  double err = std::numeric_limits<double>::infinity();
};

WarmupTry warmup_at(std::span<const EnergySample> s, double tau) {
  std::vector<std::vector<double>> a;
  std::vector<double> y;
  for (const EnergySample& p : s) {
    a.push_back({p.seconds, -tau * (1 - std::exp(-p.seconds / tau))});
    y.push_back(p.joules);
  }
  const std::vector<double> w = relative_weights(y);
  // P∞ >= 0; ΔP keeps its sign free (power may warm up or settle down).
  Result<std::vector<double>> c = nonnegative_least_squares(a, y, w, {true, false});
  WarmupTry t;
  if (!c.is_ok()) return t;
  t.model = {(*c)[0], (*c)[1], tau};
  t.err = 0;
  for (const EnergySample& p : s) t.err += std::pow((t.model.energy_j(p.seconds) - p.joules) / p.joules, 2);
  return t;
}

}  // namespace

Result<WarmupPowerModel> fit_warmup_energy(std::span<const EnergySample> s) {
  std::vector<double> y;
  for (const EnergySample& p : s) {
    if (!(p.seconds > 0)) return Status::invalid("warm-up energy fit: decode times must be > 0");
    y.push_back(p.joules);
  }
  ER_RETURN_IF_ERROR(check_positive(y, "warm-up energy fit"));
  if (s.size() < 3) return Status::invalid("warm-up energy fit: needs at least 3 runs of different lengths");
  // Coarse grid over log τ, then golden-section search in the bracket around the best point.
  constexpr int kGrid = 141;
  const double lo = std::log(1e-3), hi = std::log(1e4);
  int best_i = -1;
  double best_err = std::numeric_limits<double>::infinity();
  for (int i = 0; i < kGrid; ++i) {
    const double e = warmup_at(s, std::exp(lo + (hi - lo) * i / (kGrid - 1))).err;
    if (e < best_err) {
      best_err = e;
      best_i = i;
    }
  }
  if (best_i < 0) return Status::invalid("warm-up energy fit: the runs do not determine P∞ and ΔP (vary their length)");
  double a = lo + (hi - lo) * std::max(0, best_i - 1) / (kGrid - 1);
  double b = lo + (hi - lo) * std::min(kGrid - 1, best_i + 1) / (kGrid - 1);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = warmup_at(s, std::exp(c)).err, fd = warmup_at(s, std::exp(d)).err;
  for (int it = 0; it < 100 && b - a > 1e-10; ++it) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = warmup_at(s, std::exp(c)).err;
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = warmup_at(s, std::exp(d)).err;
    }
  }
  WarmupTry t = warmup_at(s, std::exp((a + b) / 2));
  if (!std::isfinite(t.err)) return Status::invalid("warm-up energy fit: no solution");
  return t.model;
}

}  // namespace er::perfmodel
