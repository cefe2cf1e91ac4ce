// The thinking-control and vote flags shared by `run`, `bench` and `eval`: --think-budget,
// --answer-budget, --no-think, --prompt-budget, --l1, --l1-max, --min-think, --deadline (with the
// decode step model --deadline-step-ms / --deadline-step-per-ctx-ms), --vote, --early-stop.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "perfmodel/analytic.h"
#include "reasoning/reasoner.h"

namespace er::cli {

struct ThinkingFlags {
  reasoning::ThinkingOptions think;
  std::string vote = "majority";
  bool early_stop = false;
  double deadline_step_ms = 0;          // → think.deadline_step_s
  double deadline_step_per_ctx_ms = 0;  // → think.deadline_step_per_ctx_s
  // Set by apply_profile_decode_model when the deadline plans with a profile's decode fit: that
  // fit (its one-path decode model and range only) and the model's name, for
  // deadline_extrapolation.
  std::optional<perfmodel::ModelCoefficients> deadline_fit;
  std::string deadline_fit_model;
};

// Registers the flags on `app`, writing into `flags` (which must outlive the parse).
void add_thinking_flags(CLI::App* app, ThinkingFlags& flags);

// After parsing: converts units, checks ranges and conflicts (e.g. "--think-budget and --no-think
// cannot be combined"), and returns the vote options. Bad input names the flag.
Result<reasoning::VoteOptions> finish_thinking_flags(ThinkingFlags& flags);

// With --deadline and no --deadline-step-ms / --deadline-step-per-ctx-ms: takes the decode step
// model from the saved host profile (perfmodel::default_profile_path(), written by `probe -o` and
// `fit -o`) when it holds a one-path decode fit for this model (keyed by the GGUF file name without
// `.gguf`, as `fit` names models): step ≈ n + m·context. Returns a note saying where the plan's
// rate comes from ("" when no deadline). A missing or unreadable profile is not an error: the
// deadline policy then measures the rate while decoding.
std::string apply_profile_decode_model(ThinkingFlags& flags, const std::string& model_path);

// With a deadline planned from a profile's decode fit: a warning line when the plan for this
// request leaves the range of contexts the fit saw (the prompt of n_prompt tokens, then as many
// decode steps as the fit says the deadline allows, at most max_new_tokens); "" otherwise.
std::string deadline_extrapolation(const ThinkingFlags& flags, int64_t n_prompt, int64_t max_new_tokens);

// The flags as given, for a record's echo of its configuration (nlohmann-free: key, value text).
std::vector<std::pair<std::string, std::string>> describe_thinking_flags(const ThinkingFlags& flags);

}  // namespace er::cli
