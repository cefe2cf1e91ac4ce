// The precision comparison of a sweep with `quantizations`: the configurations that differ only in
// their quantization side by side, with latency, weight bytes and energy per token, accuracy, and
// each variant against the release (answers that differ, decode slowdown against the byte ratio,
// the weight consistency check of a float upcast).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "study/pareto.h"
#include "study/store.h"

namespace er::study {

struct PrecisionRow {
  size_t summary = 0;         // index into the summaries given
  std::string quantization;   // "release", "f16", ...
  std::optional<int64_t> weight_bytes_per_token;  // from the cell's bench row
  std::optional<double> decode_s_per_step;        // mean decode time / decode steps per question
  std::optional<double> j_per_token;              // mean energy / generated tokens per question
  // Against the group's release (unset for the release itself, or in a group without one).
  int64_t n_common = 0;           // questions both answered
  int64_t n_answers_differ = 0;   // of those, how many voted answers differ
  std::optional<double> decode_ratio;  // decode_s_per_step / the release's
  std::optional<double> bytes_ratio;   // weight_bytes_per_token / the release's
  nlohmann::json weights_vs_release;   // the bench row's consistency check (null when none)
};

struct PrecisionGroup {
  std::string label;  // the release configuration's label ("smollm2 gsm8k[0:30] unlimited N=1 t=1")
  std::vector<PrecisionRow> rows;  // release first, then in config order
};

// Groups of configurations equal but for their quantization, each with a variant (a group of a
// release alone is left out). `bench`: Store::bench_records().
std::vector<PrecisionGroup> precision_groups(const std::vector<ConfigSummary>& summaries,
                                             const std::vector<QuestionRow>& questions,
                                             const std::vector<std::pair<int64_t, nlohmann::json>>& bench);

}  // namespace er::study
