// Deadline arithmetic: how many decode steps fit in the time left (reference.md §2's decode model:
// a step at context c costs n + m·c seconds, so K more steps cost K·step + m·K(K−1)/2).
#pragma once

#include <cmath>
#include <cstdint>

namespace er::reasoning {

// The largest K >= 0 with K·step_s + m_s·K(K−1)/2 <= left_s (step_s > 0, m_s >= 0: seconds per
// step now, and the increase per step as the context grows by one token per path per step).
inline int64_t deadline_steps(double left_s, double step_s, double m_s) {
  if (!(left_s > 0) || !(step_s > 0)) return 0;
  double k = left_s / step_s;
  if (m_s > 0) {  // m/2·K² + (step − m/2)·K − left = 0
    const double a = m_s / 2, b = step_s - m_s / 2;
    k = (-b + std::sqrt(b * b + 4 * a * left_s)) / (2 * a);
  }
  auto cost = [&](int64_t n) { return static_cast<double>(n) * step_s + m_s * static_cast<double>(n) * static_cast<double>(n - 1) / 2; };
  int64_t n = static_cast<int64_t>(std::floor(k));
  while (n > 0 && cost(n) > left_s) --n;  // guard the rounding
  while (cost(n + 1) <= left_s) ++n;
  return n;
}

// Thinking tokens still allowed: the steps that fit, less one for the forced close (fed as one
// batch step) and answer_budget for the answer; 0 when they do not all fit.
inline int64_t deadline_think_left(int64_t steps, int64_t answer_budget) {
  const int64_t left = steps - 1 - answer_budget;
  return left > 0 ? left : 0;
}

}  // namespace er::reasoning
