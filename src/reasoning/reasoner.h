// Reasoner: one question end to end under a thinking policy — prompt shaping (NoThink, prompt
// budget, L1), the batched N-path decode with per-path budget forcing / Wait extension / deadline,
// a clean split of every path's text into thinking and answer, and the vote over the paths.
//
// This header is the contract between src/reasoning (which implements it) and its users (cmd_run,
// src/eval, src/study). Spellings of enum names reach records and flags: never change them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/generator.h"
#include "model/forward.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace er::reasoning {

using TokenId = engine::TokenId;

// The study's levers (reference.md §4). At most one of think_budget / no_think / prompt_budget /
// l1 / l1_max / deadline_s selects the policy; min_think may combine with the budgets.
struct ThinkingOptions {
  std::optional<int64_t> think_budget;   // hard budget forcing at N thinking tokens
  int64_t answer_budget = 256;           // tokens allowed after a forced (or natural) close
  bool no_think = false;                 // NoThink prefill (Qwen3: its own enable_thinking=false)
  std::optional<int64_t> prompt_budget;  // "Please limit your answer to N tokens at most."; no cut
  std::optional<int64_t> l1;             // L1 Exact: " Think for N tokens."
  std::optional<int64_t> l1_max;         // L1 Max: " Think for maximum N tokens."
  std::optional<int64_t> min_think;      // s1: suppress a close before N thinking tokens, append "Wait"
  std::optional<double> deadline_s;      // budget from the decode rate, re-checked while decoding
  // Decode model used by the deadline policy: seconds per decode step ≈ n_s + m_s * context.
  // Filled from the device profile's fit or a measurement; the policy re-measures as it goes.
  double deadline_step_s = 0;            // n: seconds per step at zero context (0 = measure)
  double deadline_step_per_ctx_s = 0;    // m: extra seconds per step per context token
  // Texts; empty = the defaults for the model's family (reference.md §4).
  std::string close_text;     // forced end of thinking, e.g. "\n</think>\n\n"
  std::string answer_prefix;  // after the forced close, e.g. "**Final Answer:** \\boxed{"
};

// How the thinking span is delimited for a model (derived from its chat family and vocabulary).
struct ThinkingFormat {
  bool has_think_tags = false;      // <think> … </think> (R1 distills, Qwen3)
  std::string open_tag = "<think>";
  std::string close_tag = "</think>";
  // For models without tags: the thinking span ends at this marker in the generated text.
  std::string final_marker = "Final Answer:";
};
ThinkingFormat thinking_format_for(tokenizer::ChatFamily family, const tokenizer::Tokenizer& tok);

// The rendered prompt for one user question under a policy: system prompt, L1 / prompt-budget
// sentences, NoThink prefill or Qwen3's switch, and the generation prompt.
struct PromptSpec {
  std::string system;    // empty: the template's default
  std::string question;  // the user's text (task instructions already included)
};
std::string render_prompt(const tokenizer::ChatTemplate& tmpl, const ThinkingFormat& fmt, const PromptSpec& spec,
                          const ThinkingOptions& opts);

enum class VoteMode { kMajority, kWeighted };  // "majority", "weighted"
std::string_view vote_mode_name(VoteMode m);
std::optional<VoteMode> vote_mode_from_name(std::string_view name);

struct VoteOptions {
  VoteMode mode = VoteMode::kMajority;
  bool early_stop = false;  // end all paths once the leader cannot be overtaken
};

// Maps a path's answer text to the key it votes with (answers equal under the grader's
// equivalence must map to the same key), or nullopt when no answer can be extracted (no vote).
// Provided by src/eval for the dataset's task; run uses a generic one.
using AnswerKeyFn = std::function<std::optional<std::string>(std::string_view answer_text)>;

struct PathOutcome {
  std::vector<TokenId> tokens;     // every generated token, forced ones included, in order
  std::string text;                // decoded text of tokens
  std::string thinking_text;       // the thinking span (tags excluded)
  std::string answer_text;         // after the thinking span (never contains thinking text)
  int64_t thinking_tokens = 0;
  int64_t answer_tokens = 0;
  int64_t forced_tokens = 0;       // tokens inserted by the policy (close text, prefix, "Wait")
  bool forced_close = false;       // the budget or deadline closed the thinking
  int64_t waits_inserted = 0;      // s1 extensions
  double mean_logprob = 0;         // over the tokens the model sampled
  engine::StopReason stop = engine::StopReason::kNone;
  bool stopped_early = false;      // ended by the vote's early stop
  std::optional<std::string> answer_key;  // what it voted (nullopt: no vote)
};

struct VoteResult {
  std::optional<std::string> winner;         // nullopt: no path gave an answer
  int winner_path = -1;                      // first path that reached the winning answer
  std::vector<std::pair<std::string, double>> tally;  // answer key → votes (or weight), first-reached order
  int64_t tokens_saved = 0;                  // paths' remaining budgets not decoded due to early stop
};

struct ReasonResult {
  engine::GenerateResult gen;  // timings (t_start, prefill/ttft/decode/e2e ms), steps, token times
  std::vector<PathOutcome> paths;
  VoteResult vote;
  int64_t n_prompt = 0;
  std::optional<int64_t> effective_think_budget;  // what the deadline policy settled on
};

// Streams text as it becomes final: (path, piece, is_thinking).
using StreamFn = std::function<void(int path, std::string_view piece, bool thinking)>;

class Reasoner {
 public:
  Reasoner(model::Context& ctx, const tokenizer::Tokenizer& tok, ThinkingFormat fmt);

  // Runs prompt_tokens (already rendered and encoded) with gen.n_paths paths. gen.max_new_tokens
  // caps each path's total tokens. A policy that cannot apply (e.g. no_think for a family without
  // a way to express it) is a bad-input Status naming the flag.
  Result<ReasonResult> run(std::span<const TokenId> prompt_tokens, const ThinkingOptions& think,
                           const engine::GenerateOptions& gen, const VoteOptions& vote,
                           const AnswerKeyFn& answer_key, const StreamFn& stream = {});

  // Stops every path at the next step (Ctrl-C); safe from another thread.
  void cancel();

 private:
  struct Impl;
  model::Context& ctx_;
  const tokenizer::Tokenizer& tok_;
  ThinkingFormat fmt_;
};

}  // namespace er::reasoning
