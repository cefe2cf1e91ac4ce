#include "study/pareto.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/stats.h"

namespace er::study {

std::vector<ConfigSummary> summarize(const std::vector<ConfigRow>& configs, const std::vector<QuestionRow>& qs) {
  std::map<int64_t, std::vector<const QuestionRecord*>> by;
  for (const QuestionRow& r : qs) by[r.config_id].push_back(&r.q);
  std::vector<ConfigSummary> out;
  for (const ConfigRow& c : configs) {
    auto it = by.find(c.id);
    if (it == by.end() || it->second.empty()) continue;
    const auto& v = it->second;
    ConfigSummary s;
    s.config_id = c.id;
    s.cell = c.cell;
    s.label = c.label;
    s.n = static_cast<int64_t>(v.size());
    s.n_expected = c.n_questions;
    std::vector<double> e2e;
    double energy = 0;
    bool all_energy = true;
    for (const QuestionRecord* q : v) {
      s.n_correct += q->correct ? 1 : 0;
      e2e.push_back(q->e2e_ms / 1000.0);
      s.prefill_mean_s += q->prefill_ms / 1000.0;
      s.decode_mean_s += q->decode_ms / 1000.0;
      s.prompt_tokens_mean += static_cast<double>(q->n_prompt);
      s.thinking_tokens_mean += static_cast<double>(q->thinking_tokens);
      s.answer_tokens_mean += static_cast<double>(q->answer_tokens);
      s.max_path_tokens_mean += static_cast<double>(q->max_path_tokens);
      if (q->power) {
        energy += q->power->total_j;
        s.energy_estimated = s.energy_estimated || q->power->estimated;
      } else {
        all_energy = false;
      }
    }
    const double n = static_cast<double>(s.n);
    s.prefill_mean_s /= n;
    s.decode_mean_s /= n;
    s.prompt_tokens_mean /= n;
    s.thinking_tokens_mean /= n;
    s.answer_tokens_mean /= n;
    s.max_path_tokens_mean /= n;
    s.tokens_mean = s.thinking_tokens_mean + s.answer_tokens_mean;
    s.accuracy = static_cast<double>(s.n_correct) / n;
    const stats::Proportion acc = stats::wilson_interval(s.n_correct, s.n);
    s.acc_lo = acc.lo;
    s.acc_hi = acc.hi;
    s.mean_s = stats::mean(e2e);
    s.p50_s = stats::percentile(e2e, 50);
    s.p90_s = stats::percentile(e2e, 90);
    if (all_energy) s.energy_j = energy / n;
    out.push_back(std::move(s));
  }
  return out;
}

std::string_view cost_name(Cost c) {
  switch (c) {
    case Cost::kMeanLatency: return "mean_s";
    case Cost::kP90Latency: return "p90_s";
    case Cost::kEnergy: return "energy_j";
    case Cost::kTokens: return "tokens";
  }
  return "?";
}

std::optional<double> cost_of(const ConfigSummary& s, Cost c) {
  switch (c) {
    case Cost::kMeanLatency: return s.mean_s;
    case Cost::kP90Latency: return s.p90_s;
    case Cost::kEnergy: return s.energy_j;
    case Cost::kTokens: return s.tokens_mean;
  }
  return std::nullopt;
}

std::vector<size_t> pareto_frontier(const std::vector<ConfigSummary>& s, Cost c) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < s.size(); ++i)
    if (cost_of(s[i], c)) idx.push_back(i);
  // Cheapest first; at equal cost the most accurate first; then the earlier configuration.
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const double ca = *cost_of(s[a], c), cb = *cost_of(s[b], c);
    if (ca != cb) return ca < cb;
    return s[a].accuracy > s[b].accuracy;
  });
  std::vector<size_t> front;
  double best = -1;
  for (size_t i : idx)
    if (s[i].accuracy > best) {
      front.push_back(i);
      best = s[i].accuracy;
    }
  return front;
}

}  // namespace er::study
