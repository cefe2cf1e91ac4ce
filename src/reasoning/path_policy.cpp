// PathPolicy: budget forcing, s1 Wait extension, answer budget, leaked-close suppression.
#include "reasoning/path_policy.h"

#include <algorithm>

namespace er::reasoning {

PathPolicy::PathPolicy(PolicyConfig config, std::function<std::string_view(TokenId)> piece)
    : cfg_(std::move(config)), piece_(std::move(piece)), split_(cfg_.split) {
  banned_.reserve(cfg_.never_in_answer.size() + 4);
  logprobs_.reserve(static_cast<size_t>(std::max<int64_t>(cfg_.max_new_tokens, 0)));
  forced_flags_.reserve(static_cast<size_t>(std::max<int64_t>(cfg_.max_new_tokens, 0)));
  tokens_.reserve(static_cast<size_t>(std::max<int64_t>(cfg_.max_new_tokens, 0)));
}

ThinkSplitter::PushResult PathPolicy::track_push(TokenId t, bool forced, float logprob, bool as_delimiter) {
  tokens_.push_back(t);
  logprobs_.push_back(forced ? 0.0f : logprob);
  forced_flags_.push_back(forced ? 1 : 0);
  if (forced) {
    ++forced_;
  } else {
    ++sampled_;
    sum_logprob_ += logprob;
  }
  return split_.push(piece_(t), as_delimiter);
}

void PathPolicy::take_back(int64_t k) {
  split_.rollback(k);
  for (int64_t i = 0; i < k; ++i) {
    if (forced_flags_.back() != 0) {
      --forced_;
    } else {
      --sampled_;
      sum_logprob_ -= logprobs_.back();
    }
    tokens_.pop_back();
    logprobs_.pop_back();
    forced_flags_.pop_back();
  }
  rolled_back_ += k;
}

size_t PathPolicy::push_forced(std::span<const TokenId> toks, bool as_delimiter) {
  const int64_t room = std::max<int64_t>(0, cfg_.max_new_tokens - n_tokens());
  const size_t n = std::min(toks.size(), static_cast<size_t>(room));
  for (size_t i = 0; i < n; ++i) track_push(toks[i], true, 0.0f, as_delimiter);
  return n;
}

engine::PathAction PathPolicy::close_now(int32_t already_rolled_back) {
  const int64_t k = split_.partial_tokens();  // a half-written delimiter gives way to the forced one
  take_back(k);
  forced_close_ = true;
  forced_close_at_ = split_.thinking_tokens_so_far();
  const size_t n = push_forced(cfg_.close_tokens, /*as_delimiter=*/true);
  engine::PathAction a;
  a.rollback = already_rolled_back + static_cast<int32_t>(k);
  a.force = std::span<const TokenId>(cfg_.close_tokens.data(), n);
  return a;
}

void PathPolicy::update_bans() {
  if (split_.closed()) banned_.insert(banned_.end(), cfg_.never_in_answer.begin(), cfg_.never_in_answer.end());
}

engine::PathAction PathPolicy::on_token(TokenId token, float logprob, bool eog) {
  engine::PathAction a;
  if (finished_) {
    a.stop = true;
    return a;
  }
  banned_.clear();
  const bool s1_active = cfg_.min_think.has_value() && !cfg_.wait_tokens.empty();
  if (eog) {
    // s1: ending before the minimum is a close attempt too.
    if (s1_active && !split_.closed() && split_.thinking_tokens_so_far() < *cfg_.min_think) {
      ++rolled_back_;
      ++waits_;
      const size_t n = push_forced(cfg_.wait_tokens, /*as_delimiter=*/false);
      a.force = std::span<const TokenId>(cfg_.wait_tokens.data(), n);
      if (n == 0) a.stop = true;
      split_.commit(sink_);
      update_bans();
    }
    return a;  // without force the generator ends the path
  }
  const bool was_closed = split_.closed();
  const ThinkSplitter::PushResult r = track_push(token, false, logprob);
  if (was_closed) ++answer_steps_;
  if (r.event == ThinkSplitter::Event::kClosed && s1_active && split_.thinking_tokens_so_far() < *cfg_.min_think) {
    // s1: suppress the early close and append "Wait".
    const int64_t k = n_tokens() - r.first_token;
    take_back(k);
    ++waits_;
    const size_t n = push_forced(cfg_.wait_tokens, /*as_delimiter=*/false);
    a.rollback = static_cast<int32_t>(k);
    a.force = std::span<const TokenId>(cfg_.wait_tokens.data(), n);
  } else if (r.event == ThinkSplitter::Event::kLeak) {
    // The delimiter again after the span ended: take it back and ban its first token once.
    const int64_t k = n_tokens() - r.first_token;
    const TokenId first = tokens_[static_cast<size_t>(r.first_token)];
    take_back(k);
    banned_.push_back(first);
    a.rollback = static_cast<int32_t>(k);
  }
  if (a.force.empty() && !split_.closed() && cfg_.think_budget && split_.thinking_tokens_so_far() >= *cfg_.think_budget) {
    a = close_now(a.rollback);
  }
  if (split_.closed() && cfg_.answer_budget && answer_steps_ >= *cfg_.answer_budget && a.force.empty()) {
    a.stop = true;
    a.reason = engine::StopReason::kMaxTokens;
  }
  split_.commit(sink_);
  update_bans();
  return a;
}

engine::PathAction PathPolicy::before_step() {
  engine::PathAction a;
  if (finished_ || stop_pending_) {
    a.stop = true;
    return a;
  }
  const bool over_budget = cfg_.think_budget && split_.thinking_tokens_so_far() >= *cfg_.think_budget;
  if (!split_.closed() && (force_pending_ || over_budget)) {
    force_pending_ = false;
    a = close_now(0);
    split_.commit(sink_);
    banned_.clear();
    update_bans();
  }
  return a;
}

void PathPolicy::finish(engine::StopReason reason) {
  (void)reason;
  if (finished_) return;
  finished_ = true;
  split_.commit(sink_, /*final=*/true);
}

int64_t PathPolicy::remaining_budget() const {
  if (finished_) return 0;
  const int64_t max_left = std::max<int64_t>(0, cfg_.max_new_tokens - n_tokens());
  int64_t left = max_left;
  if (!split_.closed()) {
    if (cfg_.think_budget) {
      const int64_t answer = cfg_.answer_budget ? *cfg_.answer_budget : max_left;
      left = std::max<int64_t>(0, *cfg_.think_budget - split_.thinking_tokens_so_far()) +
             static_cast<int64_t>(cfg_.close_tokens.size()) + answer;
    }
  } else if (cfg_.answer_budget) {
    left = std::max<int64_t>(0, *cfg_.answer_budget - answer_steps_);
  }
  return std::min(left, max_left);
}

}  // namespace er::reasoning
