// Grading completions produced elsewhere (another engine, an earlier run) against a dataset's gold
// answers with the same extraction and equivalence as `eval`, so results are comparable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "eval/dataset.h"
#include "core/stats.h"

namespace er::eval {

// Field names tried, in order, when none is given.
inline constexpr const char* kCompletionFields[] = {"completion", "output", "text", "response",
                                                    "answer_text", "generated_text", "prediction"};

struct GradeOptions {
  std::string outputs_path;   // JSONL: one completion record per line
  std::string id_field;       // empty: "id", else "index" / "idx" (0-based position in the dataset)
  std::string text_field;     // empty: the first of kCompletionFields present; or "paths" records
                              // as `eval` writes them (each path's answer_text is re-graded)
  BadLinePolicy on_bad_line = BadLinePolicy::kFail;  // malformed / unmatched / duplicate records
  std::string output_path;    // graded JSONL; "" or "-": stdout
  bool overwrite = false;
};

struct GradeSummary {
  std::string dataset, task, outputs;
  int64_t n_records = 0;     // completion records graded
  int64_t n_correct = 0;
  int64_t n_unparsed = 0;
  int64_t n_missing = 0;     // dataset questions without a completion
  stats::Proportion accuracy;       // over n_records
  std::vector<std::string> skipped;  // "FILE:LINE: reason" for skipped output lines
  int64_t skipped_dataset_lines = 0;
  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

Result<GradeSummary> grade_outputs(const Dataset& ds, const GradeOptions& opts);

}  // namespace er::eval
