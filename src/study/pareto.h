// Per-configuration summaries of a results database and their Pareto frontiers: accuracy against
// mean / p90 latency, energy per question and generated tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "study/store.h"

namespace er::study {

struct ConfigSummary {
  int64_t config_id = 0;
  Cell cell;
  std::string label;
  int64_t n = 0;           // questions measured
  int64_t n_expected = 0;  // questions in the slice
  int64_t n_correct = 0;
  double accuracy = 0, acc_lo = 0, acc_hi = 1;  // Wilson 95%
  double mean_s = 0, p50_s = 0, p90_s = 0;      // end-to-end latency per question
  double prefill_mean_s = 0, decode_mean_s = 0;
  double prompt_tokens_mean = 0;
  double tokens_mean = 0;          // generated tokens per question, all paths
  double thinking_tokens_mean = 0, answer_tokens_mean = 0;
  double max_path_tokens_mean = 0;  // decode steps per question
  std::optional<double> energy_j;   // mean per question; empty unless every question has one
  bool energy_estimated = false;    // some question's energy was estimated, not measured
  bool projected = false;           // latencies/energy projected onto another device
  std::string projection_note;      // how, when projected
};

// One summary per configuration with at least one question, in config_id order.
std::vector<ConfigSummary> summarize(const std::vector<ConfigRow>& configs, const std::vector<QuestionRow>& qs);

enum class Cost { kMeanLatency, kP90Latency, kEnergy, kTokens };
std::string_view cost_name(Cost c);  // "mean_s", "p90_s", "energy_j", "tokens"
// The cost value, or nullopt when unknown (no energy measured).
std::optional<double> cost_of(const ConfigSummary& s, Cost c);

// Indices of the non-dominated configurations (no other is at least as accurate at no more cost,
// strictly better in one), sorted by cost ascending. Configurations without the cost are left out;
// of exact duplicates the first is kept.
std::vector<size_t> pareto_frontier(const std::vector<ConfigSummary>& s, Cost c);

}  // namespace er::study
