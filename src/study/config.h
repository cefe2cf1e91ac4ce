// A sweep configuration (TOML, examples/sweep.toml documents every key) and its validation. Every
// error names the file, the line and the key ("sweep.toml:7: key 'paths': ...") and is found
// before any work starts (the CLI maps it to exit code 2).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "study/grid.h"

namespace er::study {

struct SweepConfig {
  std::string path;         // the file it came from ("<built-in>" for study's own)
  std::string text;         // the TOML as read (echoed in the database and the report)
  std::string name = "sweep";
  std::vector<std::string> models;
  std::vector<Policy> policies = {Policy::kUnlimited};
  std::vector<int64_t> budgets;          // for the budgeted policies
  std::vector<int64_t> paths = {1};
  std::vector<int64_t> threads = {1};
  std::vector<Slice> slices;
  int64_t max_tokens = 256;
  int64_t answer_budget = 64;
  double temperature = 0;
  uint64_t seed = 1;
  std::string vote = "majority";
  bool bench = false;

  // The grid in a fixed order: slice, model, policy (× budget), threads, paths (outermost first).
  std::vector<Cell> cells() const;
};

// Checks that a model or dataset named in the config exists; returns a not-found / invalid Status
// whose message says why (the config loader adds file, line and key). Empty: no check.
struct ConfigChecks {
  std::function<Status(const std::string& model)> model;
  std::function<Status(const std::string& dataset)> dataset;
};

// Parses and validates. `path` is used in messages only.
Result<SweepConfig> parse_sweep_config(std::string_view text, const std::string& path, const ConfigChecks& checks);
// Reads `path` (a missing or unreadable file is a bad-input Status) and parses it.
Result<SweepConfig> load_sweep_config(const std::string& path, const ConfigChecks& checks);

}  // namespace er::study
