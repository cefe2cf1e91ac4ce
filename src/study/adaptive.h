// The study that decides (docs/study.md, "The default study"): a grid planned to fit a time
// budget, run in rounds that spend questions where the decision is made. Every cell starts with
// a few questions; after each round, a cell whose accuracy interval (Wilson, 95 %) lies wholly
// under the interval of a cell with a lower mean latency is dominated and stops; the rest go on
// until every cell still running has the slice's questions (the cap) or the budget is spent.
//
// Deterministic and resumable: question i of every cell is the slice's i-th question, a round
// runs the same positions for every cell still running, and every decision is taken on the stored
// records of the previous round's prefix only, so a rerun after a kill re-derives the same
// decisions and runs only what is missing. The decisions are also stored (edgereason_meta key
// "study_decisions", JSON) for the report and for readers of the database.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/stats.h"
#include "core/status.h"
#include "study/config.h"
#include "study/runner.h"
#include "study/store.h"

namespace er::study {

// "90m", "45m", "2h", "300s", "1h30m", "1.5h" → seconds (> 0). A bad value is a bad-input Status
// quoting it.
Result<double> parse_duration(std::string_view text);

// ---- The cost model: seconds per question of a cell ----

// Decode tokens/s of one path on this 2-core machine (2 threads), built in: smollm2 150 and
// qwen2.5-coder-1.5b 16 (measured here), qwen2.5-coder-0.5b 32 (a guess: 45 was guessed first;
// on a loaded machine it ran 1.3× slower than that relative to smollm2); any other
// model 150 × 98 MB / its file size (the smollm2 rate scaled by the bytes each token reads; 0:
// unknown size, taken as 1 GB). `source` says which.
struct DecodeRate {
  double tok_s = 0;
  std::string source;  // "measured on the 2-core machine", "a guess", "from the file size"
};
DecodeRate builtin_decode_rate(const std::string& model_name, int64_t file_bytes);

// Time of an N-path question relative to one path: 1 + 0.36 (N − 1) (BENCHMARKS.md: the N = 8
// aggregate is 1.8–2.9× the 1-path rate; this takes the slow end: N = 8 costs 3.5×).
double paths_time_factor(int64_t paths);

struct CostModel {
  std::map<std::string, double> tok_s;     // model → built-in decode rate (1 path, 2 threads)
  std::map<std::string, double> cell_s;    // cell hash → measured mean seconds per question
  std::map<std::string, double> model_scale;  // model → measured / built-in over its records
  // model → bits per weight of the release file (its bytes × 8 / its weights); with it a
  // quantization variant's rate is the release's × release bits / the variant's nominal bits
  // (nominal_bits_per_weight). Absent: variants are taken at the release's rate.
  std::map<std::string, double> release_bits;
  // Seconds one question of `cell` takes: the cell's measured mean when it has records; else the
  // built-in estimate (a 200-token prompt at 10× the decode rate, then question_token_cap tokens
  // at paths_time_factor; one thread runs at 0.55× two) times the model's measured scale.
  double question_seconds(const Cell& cell) const;
  // The built-in estimate alone.
  double builtin_seconds(const Cell& cell) const;
  // One generation under `cell`'s model, threads and paths: n_prompt tokens of prompt at 10× the
  // decode rate, then n_gen tokens per path (built in, times the model's measured scale).
  double generation_seconds(const Cell& cell, int64_t n_prompt, int64_t n_gen) const;
};
// Fills cell_s and model_scale from the database's records of `cells`.
Status calibrate(CostModel& cost, const std::vector<Cell>& cells, Store& store);
// How many questions each configuration (by cell hash) has in the database.
Result<std::map<std::string, int64_t>> records_per_cell(Store& store);

// ---- Rounds ----

// The cumulative question counts of the rounds: first, then doubling, ending at cap
// (10, 100 → 10 20 40 80 100). first is clamped to [1, cap].
std::vector<int64_t> round_targets(int64_t first, int64_t cap);

// ---- Planning to a budget ----

struct PlanEstimate {
  int64_t cells = 0;
  int64_t first_round_questions = 0;
  double first_round_s = 0;
  int64_t full_questions = 0;  // every cell to the cap (what remains of it)
  double full_s = 0;
  int64_t planned_questions = 0;  // what the budget allows, rounds in order, no cell dominated
  double planned_s = 0;
};
// What remains to run of `cfg` in rounds (`done` = the records each cell's hash already has).
PlanEstimate estimate_plan(const SweepConfig& cfg, const CostModel& cost, int64_t first, double budget_s,
                           const std::map<std::string, int64_t>& done);

// The grid fitted to the budget. The first round (`first` questions per cell) must take at most
// half of `budget_s` (the other half is for the rounds that decide). While it does not:
//   1. the first round halves, down to 5 questions (every axis value kept);
//   2. then the most expensive non-base value of an axis (a thinking policy, a budget, a path
//      count, a precision) is dropped, over all models; values whose cells already have records
//      are kept;
//   3. then the most expensive model (its costliest cell), keeping at least one;
//   4. then the first round halves again (down to 2 questions).
// Each step is said in `dropped`.
struct BudgetFit {
  SweepConfig cfg;
  int64_t first = 10;
  std::vector<std::string> dropped;
};
BudgetFit fit_to_budget(const SweepConfig& cfg, const CostModel& cost, int64_t first, double budget_s,
                        const std::map<std::string, int64_t>& done);

// The configuration as TOML that parse_sweep_config reads back to the same grid (the keys the
// study uses: name, grid, models, quantizations (when not just the release), policies, budgets,
// paths, threads, max_tokens, answer_budget, temperature, seed, vote, slices). `header` is written first as comments.
std::string sweep_toml(const SweepConfig& cfg, const std::string& header);

// ---- Dominance ----

struct CellStats {
  std::string hash, label;
  stats::Proportion acc;
  double mean_s = 0;
};
// The cell's stats over the records of its first `upto` questions (`order`: the slice's question
// ids in order).
CellStats cell_stats(const Cell& cell, const std::vector<std::string>& order, int64_t upto,
                     const std::vector<const QuestionRecord*>& records);

// Which of `cells` a cell `c` is dominated by: the first d (in order) with a lower mean latency
// whose Wilson lower bound is above c's upper bound; nullopt when none. Cells with no questions
// neither dominate nor are dominated.
std::optional<size_t> dominated_by(const std::vector<CellStats>& cells, size_t c);

struct Decision {
  std::string cell, label;  // the dominated cell
  int64_t after = 0;        // questions it had when it stopped
  CellStats stats, by;      // its and the dominating cell's stats then
  int64_t round = 0;        // the round it would have entered (1-based)
};

// ---- The adaptive run ----

struct AdaptiveOptions {
  SweepOptions sweep;          // command, progress, interrupted, shard (title is set per round)
  int64_t first = 10;          // questions per cell in the first round
  double budget_s = 0;         // 0: no budget; else rounds stop when it is spent (between questions)
  std::FILE* decisions = stderr;  // where dominance decisions are said (null: quiet)
};

struct AdaptiveSummary {
  std::vector<int64_t> targets;
  int64_t rounds_done = 0;      // rounds completed
  int64_t n_new = 0;
  bool interrupted = false;     // by the user (interrupted())
  bool out_of_budget = false;
  std::vector<Decision> decisions;
  std::vector<CellStats> final;  // every cell's stats over all its records, grid order
  std::vector<bool> running;     // not dominated
  std::vector<int64_t> done;     // questions each cell has
  int64_t cap = 0;
  double seconds = 0;
};

// Runs `cfg` in rounds. With a shard (sweep.shard), no cell is dominated (that needs every shard's
// results): every cell runs to the cap, round by round, deterministically per shard.
Result<AdaptiveSummary> run_adaptive(const SweepConfig& cfg, Store& store, CellBackend& backend,
                                     const AdaptiveOptions& opts);

// The decisions stored by run_adaptive (empty when none).
Result<std::vector<Decision>> read_decisions(Store& store);

// One line per cell: label, questions, accuracy [lo, hi], mean s, and running / dominated by X
// after N / stopped by the budget at N of CAP.
std::string adaptive_table(const AdaptiveSummary& s);

}  // namespace er::study
