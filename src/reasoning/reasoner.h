// Reasoner: one question end to end under a thinking policy — prompt shaping (NoThink, prompt
// budget, L1), the batched N-path decode with per-path budget forcing / Wait extension / deadline,
// a clean split of every path's text into thinking and answer, and the vote over the paths.
//
// This header is the contract between src/reasoning (which implements it) and its users (cmd_run,
// src/eval, src/study). Spellings of enum names reach records and flags: never change them.
//
// Changes to the lead's first version (all additive; no name was renamed or removed):
//   - ThinkingOptions: + wait_text (s1's "Wait", empty = default), + has_policy(),
//     + validate_thinking_options() naming the flag at fault.
//   - ThinkingFormat: + split (false = plain completion: everything is answer text, no delimiter
//     detection), + qwen3_switch (the template has enable_thinking), + family.
//   - PromptSpec: + marker_instruction (tag-less formats: ask for the final-answer marker).
//   - PathOutcome: + delimiter_tokens (tokens of the think tags / marker and of a forced close
//     sequence; thinking + delimiter + answer = tokens.size(), so a forced close at --think-budget
//     N records exactly N thinking tokens), + closed (the thinking span ended), + sampled_tokens,
//     + rolled_back_tokens (s1 suppressions / leaked closes taken back), + forced_close_at.
//     text is the tokens' pieces concatenated (no clean-spaces pass), so thinking_text and
//     answer_text are substrings of it. answer_key is computed from answer_text when the span
//     closed, else from the whole text; paths stopped by cancel or early stop do not vote.
//   - answer_budget applies only when a policy is set (has_policy()); plain runs are unchanged.
//   - Token accounting: the forced close's tokens are "delimiter" tokens; "Wait" tokens are
//     thinking tokens; forced tokens never enter mean_logprob.
//   - VoteResult: + mode, + n_votes (paths that voted), + early_stopped.
//   - ReasonResult: + deadline_s, + measured_step_s (the decode step time the deadline used).
//   - Reasoner: + a second constructor over engine::Decoder and a Vocabulary (tests drive it with
//     a scripted fake model); + generic_answer_key() for `run`.
//   - Flags for run / bench / eval: src/cli/thinking_options.h (add_thinking_flags,
//     finish_thinking_flags → validated ThinkingOptions + VoteOptions).
//   - engine::StopReason is unchanged; a path ended by the vote's early stop has stop "stopped"
//     and stopped_early = true.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
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
  int64_t answer_budget = 256;           // tokens allowed after a forced (or natural) close, when
                                         // a policy is set (has_policy())
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
  std::string wait_text;      // s1 extension text (default "Wait")

  // True when any lever other than answer_budget is set.
  bool has_policy() const;
};
// Checks ranges and conflicts; the message names the flags (e.g. "--no-think and --think-budget
// cannot be combined"). Bad input.
Status validate_thinking_options(const ThinkingOptions& o);

// How the thinking span is delimited for a model (derived from its chat family and vocabulary).
struct ThinkingFormat {
  bool has_think_tags = false;      // <think> … </think> (R1 distills, Qwen3)
  std::string open_tag = "<think>";
  std::string close_tag = "</think>";
  // For models without tags: the thinking span ends at this marker in the generated text
  // (matched ASCII-case-insensitively; the marker and the markup before it on its line, e.g.
  // "**", belong to the answer text).
  std::string final_marker = "Final Answer:";
  bool split = true;                // false: plain completion; the whole output is answer text
  bool qwen3_switch = false;        // the template has Qwen3's enable_thinking switch
  tokenizer::ChatFamily family = tokenizer::ChatFamily::kNone;

  const std::string& delimiter() const { return has_think_tags ? close_tag : final_marker; }
};
ThinkingFormat thinking_format_for(tokenizer::ChatFamily family, const tokenizer::Tokenizer& tok);

// The rendered prompt for one user question under a policy: system prompt, L1 / prompt-budget
// sentences, NoThink prefill or Qwen3's switch, and the generation prompt.
struct PromptSpec {
  std::string system;    // empty: the template's default
  std::string question;  // the user's text (task instructions already included)
  // A whole conversation instead of (system, question): its last message is the user's question,
  // to which the policy's sentences are added; a "system" message replaces `system`.
  std::vector<tokenizer::ChatMessage> messages;
  // Tag-less formats: append the sentence asking for reasoning then the final-answer marker
  // (" Think step by step, then write \"Final Answer:\" followed by your answer.").
  bool marker_instruction = true;
};
std::string render_prompt(const tokenizer::ChatTemplate& tmpl, const ThinkingFormat& fmt, const PromptSpec& spec,
                          const ThinkingOptions& opts);
// The user's question with the prompt-level policies' sentences (L1 Exact / Max, the prompt
// budget) appended: what render_prompt puts in the last user message, and what the client backend
// sends to another engine, whose server renders its own template.
std::string with_policy_sentences(std::string question, const ThinkingOptions& opts);

enum class VoteMode { kMajority, kWeighted };  // "majority", "weighted"
std::string_view vote_mode_name(VoteMode m);
std::optional<VoteMode> vote_mode_from_name(std::string_view name);

struct VoteOptions {
  VoteMode mode = VoteMode::kMajority;
  bool early_stop = false;  // end all paths once the leader cannot be overtaken
};

// Maps a path's answer text to the key it votes with (answers equal under the grader's
// equivalence must map to the same key), or nullopt when no answer can be extracted (no vote).
// Provided by src/eval for the dataset's task; run uses generic_answer_key.
using AnswerKeyFn = std::function<std::optional<std::string>(std::string_view answer_text)>;
// The content of the last brace-balanced \boxed{…}, else the last number; trimmed; nullopt when
// neither is found or the result is empty.
std::optional<std::string> generic_answer_key(std::string_view answer_text);

struct PathOutcome {
  std::vector<TokenId> tokens;     // every generated token, forced ones included, in order
  std::string text;                // decoded text of tokens (their pieces concatenated)
  std::string thinking_text;       // the thinking span (tags excluded)
  std::string answer_text;         // after the thinking span (never contains thinking text)
  int64_t thinking_tokens = 0;
  int64_t answer_tokens = 0;
  int64_t delimiter_tokens = 0;    // tokens of the think tags / final marker, and every token of a
                                   // forced close sequence (close text + answer prefix)
  int64_t forced_tokens = 0;       // tokens inserted by the policy (close text, prefix, "Wait")
  int64_t sampled_tokens = 0;      // tokens the model sampled and that were kept
  int64_t rolled_back_tokens = 0;  // sampled, then taken back (s1 suppression, leaked close)
  bool forced_close = false;       // the budget or deadline closed the thinking
  std::optional<int64_t> forced_close_at;  // thinking tokens when it was forced
  bool closed = false;             // the thinking span ended (naturally or forced)
  int64_t waits_inserted = 0;      // s1 extensions
  double mean_logprob = 0;         // over the tokens the model sampled
  engine::StopReason stop = engine::StopReason::kNone;
  bool stopped_early = false;      // ended by the vote's early stop
  // What it voted (nullopt: no vote). From answer_text when the span closed, else from text.
  std::optional<std::string> answer_key;
};

struct VoteResult {
  std::optional<std::string> winner;         // nullopt: no path gave an answer
  int winner_path = -1;                      // first path that reached the winning answer
  std::vector<std::pair<std::string, double>> tally;  // answer key → votes (or weight), first-reached order
  int64_t tokens_saved = 0;                  // paths' remaining budgets not decoded due to early stop
  VoteMode mode = VoteMode::kMajority;
  int n_votes = 0;                           // paths whose answer could be extracted
  bool early_stopped = false;
};

struct ReasonResult {
  engine::GenerateResult gen;  // timings (t_start, prefill/ttft/decode/e2e ms), steps, token times
  std::vector<PathOutcome> paths;
  VoteResult vote;
  int64_t n_prompt = 0;
  std::optional<int64_t> effective_think_budget;  // what the deadline policy settled on
  std::optional<double> deadline_s;               // the deadline asked for
  double measured_step_s = 0;                     // decode step time the deadline last used
};

// Streams text as it becomes final: (path, piece, is_thinking).
using StreamFn = std::function<void(int path, std::string_view piece, bool thinking)>;

// What the reasoner needs from a tokenizer (tests give a scripted vocabulary).
class Vocabulary {
 public:
  virtual ~Vocabulary() = default;
  virtual int32_t n_vocab() const = 0;
  virtual std::string_view piece(TokenId id) const = 0;                // raw text of one token
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;  // specials parsed, no BOS
  virtual bool is_eog(TokenId id) const = 0;
};
// The Vocabulary of a real tokenizer.
class TokenizerVocabulary final : public Vocabulary {
 public:
  explicit TokenizerVocabulary(const tokenizer::Tokenizer& tok) : tok_(tok) {}
  int32_t n_vocab() const override { return tok_.n_vocab(); }
  std::string_view piece(TokenId id) const override { return tok_.piece(id); }
  std::vector<TokenId> encode(std::string_view text) const override { return tok_.encode(text, false, true); }
  bool is_eog(TokenId id) const override { return tok_.is_eog(id); }

 private:
  const tokenizer::Tokenizer& tok_;
};

class Reasoner {
 public:
  Reasoner(model::Context& ctx, const tokenizer::Tokenizer& tok, ThinkingFormat fmt);
  // Over any decoder and vocabulary (both must outlive the Reasoner).
  Reasoner(engine::Decoder& dec, const Vocabulary& vocab, ThinkingFormat fmt);
  ~Reasoner();

  // Runs prompt_tokens (already rendered and encoded) with gen.n_paths paths. gen.max_new_tokens
  // caps each path's total tokens. A policy that cannot apply (e.g. no_think for a family without
  // a way to express it) is a bad-input Status naming the flag.
  // `cancelled` (optional, the caller's): when it becomes true every path stops at its next step,
  // as with cancel().
  Result<ReasonResult> run(std::span<const TokenId> prompt_tokens, const ThinkingOptions& think,
                           const engine::GenerateOptions& gen, const VoteOptions& vote,
                           const AnswerKeyFn& answer_key, const StreamFn& stream = {},
                           const std::atomic<bool>* cancelled = nullptr);

  // Stops every path at the next step (Ctrl-C); safe from another thread.
  void cancel();

 private:
  std::unique_ptr<engine::Decoder> owned_decoder_;
  std::unique_ptr<Vocabulary> owned_vocab_;
  engine::Decoder& dec_;
  const Vocabulary& vocab_;
  ThinkingFormat fmt_;
  std::atomic<bool> cancel_{false};
};

}  // namespace er::reasoning
