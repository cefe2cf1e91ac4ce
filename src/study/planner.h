// The planner: the most accurate configuration whose latency (mean or p90 per question) meets a
// deadline, the runners-up, and why — accuracy, latency margin, and what excluded the others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "study/pareto.h"

namespace er::study {

enum class Metric { kMean, kP90 };
std::string_view metric_name(Metric m);  // "mean", "p90"
std::optional<Metric> metric_from_name(std::string_view name);
double latency_of(const ConfigSummary& s, Metric m);

struct Plan {
  double deadline_s = 0;
  Metric metric = Metric::kP90;
  std::optional<size_t> choice;        // index into the summaries; empty: nothing meets the deadline
  std::vector<size_t> runners_up;      // next best that meet it, best first
  std::vector<size_t> excluded;        // over the deadline, most accurate first
  std::vector<std::string> why;        // sentences
};

// Ranking among those that meet the deadline: accuracy, then lower latency, then lower energy,
// then the earlier configuration.
Plan make_plan(const std::vector<ConfigSummary>& s, double deadline_s, Metric m, size_t n_runners_up = 3);

std::string plan_text(const std::vector<ConfigSummary>& s, const Plan& p);
nlohmann::ordered_json plan_json(const std::vector<ConfigSummary>& s, const Plan& p);
nlohmann::ordered_json summary_json(const ConfigSummary& s);

// "1.23 s", "850 ms".
std::string format_seconds(double s);

}  // namespace er::study
