// The eval loop: each question → task prompt → an injected solver (the Reasoner in the CLI, a fake
// in tests) → grading of every path and the vote → one JSONL record; resumable; with a summary.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "eval/dataset.h"
#include "eval/grader.h"
#include "core/stats.h"

namespace er::eval {

// One reasoning path as the solver returns it.
struct PathAnswer {
  std::string answer_text;    // after the thinking span: what is graded
  std::string thinking_text;  // the thinking span (tags excluded)
  int64_t thinking_tokens = 0;
  int64_t answer_tokens = 0;
  bool forced_close = false;  // a budget or deadline closed the thinking
  std::string stop;           // stop reason name ("eog", "max_tokens", ...)
  double mean_logprob = 0;
  double finish_ms = 0;       // when the path ended (the vote's "reached first" order)
};

struct SolveOutcome {
  std::vector<PathAnswer> paths;          // at least one
  std::optional<int> winner_path;         // set when the solver voted itself (e.g. weighted vote);
                                          // otherwise eval takes the majority (reasoning::VoteTally:
                                          // ties to the answer reached first, by finish_ms then path)
  int64_t n_prompt = 0;
  double prefill_ms = 0, ttft_ms = 0, decode_ms = 0, e2e_ms = 0;
  nlohmann::ordered_json energy = nullptr;  // {source, prefill_j, decode_j, total_j, estimated} or null
  bool cancelled = false;                   // cut short (Ctrl-C): not recorded, the eval stops
  // Speculative decoding's record (drafted, accepted, acceptance_rate, ...) or null: none.
  nlohmann::ordered_json speculative = nullptr;
  // Set when the question could not be answered (another engine's server timed out, answered
  // HTTP 500, sent a broken stream): recorded as a "failed" record with the reason, not graded
  // (never a silent wrong answer), and retried by --resume. `paths` may be empty then.
  std::string failure;         // the kind: "timeout", "http", "malformed", "truncated", ...
  std::string failure_reason;  // what happened, for the record
};

// Answers one question given its task prompt. A failed Status stops the eval (records so far stay).
using SolveFn = std::function<Result<SolveOutcome>(const Question& q, const std::string& prompt)>;

enum class ProgressMode { kAuto, kOff };  // auto: a bar on a terminal, else a plain line every ~10%

struct EvalOptions {
  std::string output_path;         // "" or "-": records to stdout
  bool resume = false;             // continue output_path: skip ids already there, repair a torn tail
  bool overwrite = false;          // replace an existing output_path
  nlohmann::ordered_json config;   // echoed in the header line (model, policy, sampler, paths, ...);
                                   // --resume requires the same config as the file's header
  int64_t offset = 0;              // questions skipped at the start of the set
  int64_t limit = -1;              // at most this many questions (-1: all)
  bool save_text = true;           // keep each path's answer and thinking text in the records
  ProgressMode progress = ProgressMode::kAuto;
  std::FILE* progress_stream = stderr;
  std::function<bool()> interrupted;  // polled between questions: stop cleanly when true
};

struct EvalSummary {
  std::string dataset, task;
  int64_t n_selected = 0;   // questions in [offset, offset + limit)
  int64_t n_graded = 0;     // with a record (this run or resumed)
  int64_t n_new = 0;        // graded in this run
  int64_t n_correct = 0;
  int64_t n_unparsed = 0;   // no answer extracted (counted wrong)
  int64_t n_failed = 0;     // failed in this run (a "failed" record each; not graded, --resume retries)
  stats::Proportion accuracy;      // over n_graded, Wilson 95%
  stats::Distribution e2e_ms, prefill_ms, decode_ms, thinking_tokens, answer_tokens;
  std::optional<double> joules_per_question;  // null unless every record has energy.total_j
  std::string energy_source;                  // the records' energy.source ("" without energy)
  bool energy_estimated = false;              // any record's energy was modelled, not measured
  int64_t skipped_lines = 0;
  bool interrupted = false;
  nlohmann::ordered_json to_json() const;
  std::string to_text() const;  // a few human-readable lines
};

// The header line's fields besides `config`: record, dataset, dataset_path, task, grader_version.
// Question records: see docs/eval.md.
Result<EvalSummary> run_eval(const Dataset& ds, const SolveFn& solve, const EvalOptions& opts);

// Writes a summary object (EvalSummary or GradeSummary to_json) to PATH, pretty-printed; errors
// name the --summary-json flag and the file. Shared by `eval` and `grade`.
Status write_summary_json(const std::string& path, const nlohmann::ordered_json& summary);

// One question graded: every path against the gold answer, and the vote (majority over the
// graded answers in path order, ties to the lowest path: reasoning::VoteTally's rule; or the
// solver's own winner when it set one and that path has an answer).
struct GradedPath {
  Graded graded;
  int64_t thinking_tokens = 0, answer_tokens = 0;
  bool forced_close = false;
  std::string stop;
};
struct GradedQuestion {
  std::vector<GradedPath> paths;
  int winner_path = -1;                                // -1: no path gave an answer
  std::vector<std::pair<std::string, int>> tally;      // answer key -> votes, first-reached order
  std::optional<std::string> extracted;                // the winner's
  bool correct = false;                                // the winner's (no winner: wrong)
  int64_t thinking_tokens = 0, answer_tokens = 0;      // over the paths
};
GradedQuestion grade_question(const Dataset& ds, const Question& q, const SolveOutcome& out);

// Builds one question's record from the solver's outcome (grade_question, then the JSON of
// docs/eval.md).
nlohmann::ordered_json make_question_record(const Dataset& ds, const Question& q, const SolveOutcome& out,
                                            bool save_text);

// Summary over question records (JSON objects as make_question_record writes them).
EvalSummary summarize_records(const Dataset& ds, const std::vector<nlohmann::ordered_json>& records,
                              int64_t n_selected);

}  // namespace er::eval
