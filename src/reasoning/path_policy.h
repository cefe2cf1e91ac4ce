// PathPolicy: the thinking-policy state machine of one path — budget forcing, s1's Wait extension,
// the answer budget, leaked closes, deadline forcing — over a ThinkSplitter. Model-free: it gets
// each token's text and answers with an engine::PathAction, so tests drive it with scripts.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generator.h"
#include "reasoning/think_splitter.h"

namespace er::reasoning {

using TokenId = engine::TokenId;

struct PolicyConfig {
  SplitterConfig split;
  std::optional<int64_t> think_budget;    // force the close at this many thinking tokens
  std::optional<int64_t> answer_budget;   // sampled tokens allowed after the close (nullopt: no cap)
  std::optional<int64_t> min_think;       // s1: an earlier close (or end) is replaced by "Wait"
  std::vector<TokenId> close_tokens;      // forced close text + answer prefix, encoded
  std::vector<TokenId> wait_tokens;       // s1's extension text, encoded
  std::vector<TokenId> never_in_answer;   // single-token delimiters banned once the span closed
  int64_t max_new_tokens = 256;           // the generator's cap (forced tokens are cut to it)
};

class PathPolicy {
 public:
  // `piece` maps a token to its text; it must outlive the policy.
  PathPolicy(PolicyConfig config, std::function<std::string_view(TokenId)> piece);

  // The generator's callbacks for this path (see engine::PathController).
  engine::PathAction on_token(TokenId token, float logprob, bool eog);
  engine::PathAction before_step();
  std::span<const TokenId> banned() const { return banned_; }
  // The path ended: releases everything held back.
  void finish(engine::StopReason reason);

  // Deadline: the thinking budget may change while decoding; force_close_now() closes at the next
  // step; stop_now() ends the path at the next step (early stop, cancel, deadline).
  void set_think_budget(std::optional<int64_t> b) { cfg_.think_budget = b; }
  void force_close_now() { force_pending_ = true; }
  void stop_now() { stop_pending_ = true; }

  // Streaming: text released since the last call is passed to `sink` by on_token/finish.
  void set_sink(ThinkSplitter::Sink sink) { sink_ = std::move(sink); }

  const ThinkSplitter& splitter() const { return split_; }
  bool thinking() const { return !split_.closed(); }
  bool finished() const { return finished_; }
  int64_t n_tokens() const { return split_.n_tokens(); }
  int64_t thinking_tokens_so_far() const { return split_.thinking_tokens_so_far(); }
  // Tokens this path could still generate under its budgets.
  int64_t remaining_budget() const;

  bool forced_close() const { return forced_close_; }
  std::optional<int64_t> forced_close_at() const { return forced_close_at_; }
  int64_t waits() const { return waits_; }
  int64_t forced_tokens() const { return forced_; }
  int64_t sampled_tokens() const { return sampled_; }
  int64_t rolled_back() const { return rolled_back_; }
  double sum_logprob() const { return sum_logprob_; }

 private:
  // Appends forced tokens (cut to the room left) to the splitter; returns how many.
  size_t push_forced(std::span<const TokenId> toks, bool as_delimiter);
  engine::PathAction close_now(int32_t already_rolled_back);
  void update_bans();
  ThinkSplitter::PushResult track_push(TokenId t, bool forced, float logprob, bool as_delimiter = false);
  void take_back(int64_t k);  // removes the last k tokens (all held back by the splitter)

  PolicyConfig cfg_;
  std::function<std::string_view(TokenId)> piece_;
  ThinkSplitter split_;
  ThinkSplitter::Sink sink_;
  std::vector<TokenId> banned_;    // for the next sample
  std::vector<TokenId> tokens_;    // (n_tokens,) kept tokens
  std::vector<float> logprobs_;    // (n_tokens,) per kept token; forced ones are 0
  std::vector<uint8_t> forced_flags_;
  bool finished_ = false;
  bool force_pending_ = false;
  bool stop_pending_ = false;
  bool forced_close_ = false;
  std::optional<int64_t> forced_close_at_;
  int64_t answer_steps_ = 0;       // sampled tokens after the close (rolled-back ones included)
  int64_t waits_ = 0;
  int64_t forced_ = 0;
  int64_t sampled_ = 0;
  int64_t rolled_back_ = 0;
  double sum_logprob_ = 0;
};

}  // namespace er::reasoning
