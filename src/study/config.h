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

// Another engine's OpenAI-compatible server a sweep measures beside the local models
// ([[backends]] tables): its cells go through the client backend.
struct Backend {
  std::string name;          // a label; its cells' model is "SERVED_MODEL@NAME"
  std::string url;           // "openai:http://host:port" ("http://..." is taken as that)
  std::string flavor = "openai";
  std::string served_model;  // "" = the server's first model (filled by the checks)
  std::string server_version;  // filled by the checks
};

struct SweepConfig {
  std::string path;         // the file it came from ("<built-in>" for study's own)
  std::string text;         // the TOML as read (echoed in the database and the report)
  std::string name = "sweep";
  std::vector<std::string> models;    // the in-process engine's (may be empty with backends)
  std::vector<Backend> backends;
  // The precisions of every local model: "release" (the file as shipped) and quantize targets in
  // lowercase (study/variant.h), each a variant made on first use.
  std::vector<std::string> quantizations = {"release"};
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
  // "cross": every combination of the lists. "around-base": the first value of each axis is the
  // base configuration (thinking = the first policy with its first budget, the first paths, the
  // first threads) and each model's cells vary one axis at a time around it, as the paper does:
  // a cell is kept when it differs from its model's base in at most one of thinking, paths and
  // threads. (Precision joins as one more such axis when the sweep has a quantizations key.)
  std::string grid = "cross";

  // The grid in a fixed order: slice, model (the local ones, each × quantization, then the
  // backends), policy (× budget), threads (local models only), paths (outermost first); with
  // grid = "around-base", only the cells at most one axis away from the base.
  std::vector<Cell> cells() const;
};

// What the configuration's names and numbers are checked against before anything runs: each
// returns a bad-input Status whose message says why (the config loader adds file, line and key).
// An empty function: no such check.
struct ConfigChecks {
  // The model exists (and can be loaded).
  std::function<Status(const std::string& model)> model;
  // The dataset exists.
  std::function<Status(const std::string& dataset)> dataset;
  // The number of questions of a dataset that `dataset` accepted: a slice whose offset is at or
  // past the end is refused (key 'slices.offset').
  std::function<Result<int64_t>(const std::string& dataset)> dataset_size;
  // Whether the engine can hold `model` with a context of n_ctx positions (Cell::context_size())
  // for n_seq paths, e.g. its KV cache fits this machine. Called once per model with the largest
  // number of paths (refusals name 'max_tokens' when one path does not fit either, else 'paths').
  std::function<Status(const std::string& model, int64_t n_ctx, int64_t n_seq)> context;
  // A backend: its flavor is known, its server answers, it can express every cell's policy (a
  // probe cell per policy is given); fills served_model when empty, and server_version.
  std::function<Status(Backend& backend, const std::vector<Cell>& policy_probes)> backend;
};

// Parses and validates: keys, types and ranges (threads within what the engine accepts,
// model::kMaxContextThreads; paths within model::kMaxContextSequences), then `checks`. `path` is
// used in messages only.
Result<SweepConfig> parse_sweep_config(std::string_view text, const std::string& path, const ConfigChecks& checks);
// Reads `path` (a missing or unreadable file is a bad-input Status) and parses it.
Result<SweepConfig> load_sweep_config(const std::string& path, const ConfigChecks& checks);

}  // namespace er::study
