// The resumable sweep runner: for every cell of the grid, the questions not yet in the database are
// run through an injected backend (the real eval in the CLI, a fake in tests) and each completed
// question is committed on its own, so that a killed run continues where it stopped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "study/config.h"
#include "study/shard.h"
#include "study/store.h"

namespace er::study {

struct QuestionRef {
  std::string id;
  int64_t index = 0;  // position in the dataset file
};

// Milliseconds of one bench_point generation: prefill (to the first token) and decode (the rest).
struct BenchTiming {
  double prefill_ms = 0;
  double decode_ms = 0;
};

// What the runner needs from the eval machinery.
class CellBackend {
 public:
  virtual ~CellBackend() = default;
  // The cell's questions in order (its dataset slice). Called for every cell before any work.
  virtual Result<std::vector<QuestionRef>> questions(const Cell& cell) = 0;
  // Runs and grades one question under the cell's configuration.
  virtual Result<QuestionRecord> run(const Cell& cell, const QuestionRef& q) = 0;
  // For cells with bench = true: one bench record (JSON). Default: unsupported.
  virtual Result<nlohmann::ordered_json> bench(const Cell& cell);
  // One timed generation for the study's bench grid (fit_bridge.h): a prompt of n_prompt tokens,
  // then n_gen tokens per path with end of sequence ignored, under the cell's model, threads and
  // paths. Default: unsupported.
  virtual Result<BenchTiming> bench_point(const Cell& cell, int64_t n_prompt, int64_t n_gen) {
    (void)n_prompt;
    (void)n_gen;
    return Status::unsupported("the bench grid is not available in this sweep backend (cell " + cell.label() + ")");
  }
  // Seconds one question of `cell` is expected to take at most (every path to its token cap), for
  // the estimate printed before a sweep; nullopt when unknown. Default: unknown.
  virtual std::optional<double> estimate_seconds(const Cell& cell);
  // Facts about the cell's model as it ran (for a local model: its precision, the weight bytes one
  // decode step reads and, for a float upcast, the weight check against the release), stored by
  // the runner after the cell's questions under the meta key cell_facts_key(cell) for the report.
  // Default: none.
  virtual std::optional<nlohmann::ordered_json> cell_facts(const Cell& cell);
};

// The edgereason_meta key a cell's facts are stored under: kCellFactsPrefix + the cell's hash.
inline constexpr std::string_view kCellFactsPrefix = "cell_facts:";
std::string cell_facts_key(const Cell& cell);
std::string cell_facts_key(const std::string& cell_hash);

enum class ProgressStyle { kAuto, kBar, kLines, kOff };  // auto: a bar on a terminal, else lines

struct SweepOptions {
  std::string command = "sweep";      // recorded in the runs table (with " [shard I/N]" when sharded)
  ProgressStyle progress = ProgressStyle::kAuto;
  std::FILE* progress_stream = stderr;
  std::function<bool()> interrupted;  // polled between questions: stop cleanly when true
  bool print_estimate = false;        // print the backend's time estimate before starting
  // Run only this shard's questions (shard_of); a cell's bench runs in the shard of its first
  // question. The database must be this shard's own (claim_sweep_target; checked before any write).
  std::optional<Shard> shard;
  // When set, only the questions it accepts (cell's position in the grid, the question) are part
  // of this run (study's rounds, adaptive.h); the others are neither expected nor run.
  std::function<bool(size_t cell_ordinal, const QuestionRef& q)> select;
  std::string title;  // the progress header's name ("" = "sweep 'NAME'")
};

struct SweepSummary {
  int64_t run_id = 0;
  int64_t n_cells = 0;
  int64_t n_expected = 0;  // questions over all cells (this shard's, with a shard)
  int64_t n_before = 0;    // already in the database when the run started
  int64_t n_new = 0;       // completed in this run
  bool interrupted = false;
  double seconds = 0;
};

// The most tokens one path of `cell` decodes: max_tokens, or less under think-budget (budget +
// answer_budget) and no-think (twice the answer budget).
double question_token_cap(const Cell& cell);
// Relative cost of one question of `cell` (the ETA's weights): its cap on decoded tokens, scaled
// by the batch's extra cost per path.
double question_weight(const Cell& cell);

// Runs the sweep. Every cell's questions are listed first (a backend error there stops before any
// question runs). A backend error on a question stops the sweep (rows so far stay).
Result<SweepSummary> run_sweep(const SweepConfig& cfg, Store& store, CellBackend& backend, const SweepOptions& opts);

// "1h02m", "4m10s", "12s".
std::string format_duration(double seconds);

}  // namespace er::study
