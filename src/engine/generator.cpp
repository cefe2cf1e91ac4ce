// Generator: prefill, fork, batched decode loop, per-path sampling, controller actions, stops.
#include "engine/generator.h"

#include <algorithm>
#include <limits>
#include <string>

namespace er::engine {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "none";
    case StopReason::kEndOfGeneration: return "eos";
    case StopReason::kMaxTokens: return "length";
    case StopReason::kContextFull: return "context";
    case StopReason::kStoppedByCaller: return "stopped";
  }
  return "none";
}

Generator::Generator(model::Context& ctx) : owned_(std::make_unique<ContextDecoder>(ctx)), dec_(*owned_) {
  batch_.resize(static_cast<size_t>(std::max<int64_t>(dec_.n_seq(), dec_.max_batch())));
  masked_.resize(static_cast<size_t>(dec_.n_vocab()));
}

Generator::Generator(Decoder& dec) : dec_(dec) {
  batch_.resize(static_cast<size_t>(std::max<int64_t>(dec_.n_seq(), dec_.max_batch())));
  masked_.resize(static_cast<size_t>(dec_.n_vocab()));
}

namespace {
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

Result<GenerateResult> Generator::generate(std::span<const TokenId> prompt, const GenerateOptions& opts,
                                           const TokenCallback& on_token, PathController* controller) {
  const Clock::time_point t0 = Clock::now();
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  const int32_t n_vocab = dec_.n_vocab();
  if (opts.max_new_tokens < 1) return Status::invalid("${max_new_tokens} (tokens to generate) must be at least 1");
  if (opts.n_paths < 1 || opts.n_paths > dec_.n_seq()) {
    return Status::invalid("${n_paths} " + std::to_string(opts.n_paths) + " must be in [1, " + std::to_string(dec_.n_seq()) + "]");
  }
  if (opts.n_paths > dec_.max_batch()) {
    return Status::invalid("${n_paths} " + std::to_string(opts.n_paths) + " exceeds the batch size " + std::to_string(dec_.max_batch()));
  }
  if (n_prompt < 1) return Status::invalid("the prompt is empty");
  if (n_prompt >= dec_.n_ctx()) {
    return Status::invalid("the prompt has " + std::to_string(n_prompt) + " tokens, which does not fit the context of " +
                           std::to_string(dec_.n_ctx()) + " tokens (raise -c)");
  }
  ER_RETURN_IF_ERROR(opts.sampler.validate());

  const size_t n_paths = static_cast<size_t>(opts.n_paths);
  GenerateResult res;
  res.n_prompt = n_prompt;
  res.t_start = t0;
  res.paths.resize(n_paths);
  const int64_t room = dec_.n_ctx() - n_prompt;
  const int64_t max_new = std::min(opts.max_new_tokens, room);
  const StopReason full_reason = max_new < opts.max_new_tokens ? StopReason::kContextFull : StopReason::kMaxTokens;
  for (PathResult& p : res.paths) {
    p.tokens.reserve(static_cast<size_t>(max_new));
    p.logprobs.reserve(static_cast<size_t>(max_new));
    p.forced.reserve(static_cast<size_t>(max_new));
  }
  // One entry per step; a controller's rollbacks can add steps beyond max_new.
  res.token_times_ms.reserve(2 * static_cast<size_t>(max_new) + 16);

  // Samplers and per-path histories (prompt + generated) for the repetition penalty.
  std::vector<std::unique_ptr<sampling::Sampler>> samplers;
  samplers.reserve(n_paths);
  std::vector<std::vector<TokenId>> history(n_paths);
  for (size_t p = 0; p < n_paths; ++p) {
    sampling::SamplerConfig sc = opts.sampler;
    sc.seed = opts.sampler.seed + static_cast<uint64_t>(p);
    samplers.push_back(std::make_unique<sampling::Sampler>(sc, n_vocab));
    history[p].reserve(static_cast<size_t>(n_prompt + max_new));
    history[p].assign(prompt.begin(), prompt.end());
  }
  // Per path: positions of prompt + tokens already in its KV, whether it is live, its logits row.
  std::vector<int64_t> fed(n_paths, n_prompt);
  std::vector<uint8_t> alive(n_paths, 1);
  std::vector<int64_t> row_of(n_paths, -1);
  std::vector<int> live;  // paths still generating, in order
  live.reserve(n_paths);

  // Prefill sequence 0 in chunks of max_batch; logits of the last prompt token only.
  dec_.clear(0);
  const int64_t max_batch = dec_.max_batch();
  for (int64_t start = 0; start < n_prompt; start += max_batch) {
    const int64_t n = std::min(max_batch, n_prompt - start);
    for (int64_t i = 0; i < n; ++i) {
      batch_[static_cast<size_t>(i)] = {prompt[static_cast<size_t>(start + i)], start + i, 0, start + i == n_prompt - 1};
    }
    ER_RETURN_IF_ERROR(dec_.eval(std::span(batch_.data(), static_cast<size_t>(n))));
  }
  for (int p = 1; p < opts.n_paths; ++p) dec_.fork(0, p, n_prompt);
  if (opts.drafter != nullptr) {
    if (opts.draft_max < 1) return Status::invalid("${draft_max} must be at least 1 (got " + std::to_string(opts.draft_max) + ")");
    ER_RETURN_IF_ERROR(opts.drafter->begin(prompt, opts.n_paths));
  }
  drafts_.assign(n_paths, {});
  const int64_t max_rows = dec_.max_logits();
  res.prefill_ms = ms_since(t0);
  if (controller != nullptr) controller->on_prefill(res.prefill_ms);

  // The token at position `pos` of path p's sequence (prompt, then generated tokens).
  auto token_at = [&](size_t p, int64_t pos) {
    return pos < n_prompt ? prompt[static_cast<size_t>(pos)] : res.paths[p].tokens[static_cast<size_t>(pos - n_prompt)];
  };
  auto end_path = [&](size_t p, StopReason r) {
    if (alive[p] == 0) return;
    alive[p] = 0;
    res.paths[p].stop = r;
    if (controller != nullptr) controller->on_path_end(static_cast<int>(p), r);
  };
  auto append = [&](size_t p, TokenId t, float logprob, bool forced) {
    PathResult& pr = res.paths[p];
    pr.tokens.push_back(t);
    pr.logprobs.push_back(logprob);
    pr.forced.push_back(forced ? 1 : 0);
    history[p].push_back(t);
  };
  // Applies a controller's action: rollback, force, stop (see PathAction).
  auto apply = [&](size_t p, const PathAction& a) {
    PathResult& pr = res.paths[p];
    if (a.rollback > 0) {
      const size_t k = std::min(static_cast<size_t>(a.rollback), pr.tokens.size());
      const size_t keep = pr.tokens.size() - k;
      pr.tokens.resize(keep);
      pr.logprobs.resize(keep);
      pr.forced.resize(keep);
      history[p].resize(static_cast<size_t>(n_prompt) + keep);
      pr.n_rolled_back += static_cast<int64_t>(k);
      // At least the last kept token is fed again: its logits start the path's next step.
      fed[p] = std::min(fed[p], n_prompt + static_cast<int64_t>(keep) - 1);
    }
    const int64_t space = max_new - static_cast<int64_t>(pr.tokens.size());
    const size_t n_force = std::min(a.force.size(), static_cast<size_t>(std::max<int64_t>(space, 0)));
    for (size_t i = 0; i < n_force; ++i) append(p, a.force[i], 0.0f, true);
    if (a.stop) {
      end_path(p, a.reason);
    } else if (static_cast<int64_t>(pr.tokens.size()) >= max_new) {
      end_path(p, full_reason);
    }
  };
  // Samples path p from logits row `row` and handles the token; false when the path ended.
  // Logits that are NaN or +inf mean the weights or the activations overflowed: generation stops
  // with an error instead of sampling garbage (-inf is a legitimate "never").
  Status numeric_error;
  auto sample = [&](size_t p, int64_t row, TokenId draft = -1, bool* accepted = nullptr) {
    sampling::Sampler& s = *samplers[p];
    std::span<const float> logits(dec_.logits(row), static_cast<size_t>(n_vocab));
    if (!sampling::all_finite(logits)) {
      if (numeric_error.is_ok()) {
        numeric_error = Status::invalid("the logits of path " + std::to_string(p) + " after " +
                                        std::to_string(res.paths[p].tokens.size()) +
                                        " generated tokens are not finite (NaN or +inf): the model's weights "
                                        "or activations overflowed");
      }
      end_path(p, StopReason::kStoppedByCaller);
      return false;
    }
    if (controller != nullptr) {
      const std::span<const TokenId> ban = controller->banned(static_cast<int>(p));
      if (!ban.empty()) {
        std::copy(logits.begin(), logits.end(), masked_.begin());
        for (const TokenId b : ban) {
          if (b >= 0 && b < n_vocab) masked_[static_cast<size_t>(b)] = -std::numeric_limits<float>::infinity();
        }
        logits = std::span<const float>(masked_.data(), masked_.size());
      }
    }
    const TokenId t = draft >= 0 ? s.sample_draft(logits, history[p], draft, accepted) : s.sample(logits, history[p]);
    const float lp = s.last_logprob();
    if (!opts.ignore_eos && dec_.is_eog(t)) {
      if (controller != nullptr) {
        const PathAction a = controller->on_token(static_cast<int>(p), t, lp, true);
        if (!a.force.empty()) {
          apply(p, a);
          return alive[p] != 0;
        }
      }
      end_path(p, StopReason::kEndOfGeneration);
      return false;
    }
    append(p, t, lp, false);
    if (on_token && !on_token(static_cast<int>(p), t)) {
      end_path(p, StopReason::kStoppedByCaller);
      return false;
    }
    if (controller != nullptr) {
      apply(p, controller->on_token(static_cast<int>(p), t, lp, false));
    } else if (static_cast<int64_t>(res.paths[p].tokens.size()) >= max_new) {
      end_path(p, full_reason);
    }
    return alive[p] != 0;
  };

  // First token of every path from the prompt's logits.
  for (size_t p = 0; p < n_paths; ++p) {
    fed[p] = n_prompt;
    if (sample(p, 0)) live.push_back(static_cast<int>(p));
  }
  if (!numeric_error.is_ok()) return numeric_error;
  res.ttft_ms = ms_since(t0);
  res.token_times_ms.push_back(res.ttft_ms);
  for (PathResult& pr : res.paths) pr.last_token_ms = res.ttft_ms;
  if (controller != nullptr) controller->on_step(0, res.ttft_ms);

  // Decode: one batched step for all live paths; each feeds the inputs it has pending (its last
  // sampled token, or tokens a controller forced or asked to re-feed).
  while (!live.empty()) {
    if (controller != nullptr) {
      size_t kept = 0;
      for (const int p : live) {
        apply(static_cast<size_t>(p), controller->before_step(p));
        if (alive[static_cast<size_t>(p)] != 0) live[kept++] = p;
      }
      live.resize(kept);
      if (live.empty()) break;
    }
    int64_t n = 0;
    int64_t rows = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      const size_t p = static_cast<size_t>(live[i]);
      const int64_t len = n_prompt + static_cast<int64_t>(res.paths[p].tokens.size());
      const int64_t pending = len - fed[p];  // >= 1
      // Leave one entry for each later path; a path that cannot feed everything samples later.
      const int64_t cap = max_batch - n - static_cast<int64_t>(live.size() - i - 1);
      const int64_t take = std::min(pending, cap);
      for (int64_t k = 0; k < take; ++k) {
        const int64_t pos = fed[p] + k;
        batch_[static_cast<size_t>(n++)] = {token_at(p, pos), pos, static_cast<int>(p), k == take - 1 && take == pending};
      }
      row_of[p] = take == pending ? rows++ : -1;
      fed[p] += take;
      // Speculation: drafted tokens after the path's complete pending inputs, each a row group
      // of its own, leaving one entry and one logits row for each later path.
      drafts_[p].clear();
      if (opts.drafter != nullptr && take == pending) {
        const int64_t later = static_cast<int64_t>(live.size() - i - 1);
        const int64_t k = std::min({static_cast<int64_t>(opts.draft_max), max_batch - n - later, max_rows - rows - later,
                                    max_new - static_cast<int64_t>(res.paths[p].tokens.size()) - 1});
        if (k > 0) {
          ER_RETURN_IF_ERROR(opts.drafter->propose(static_cast<int>(p), history[p], static_cast<int>(k), drafts_[p]));
          if (static_cast<int64_t>(drafts_[p].size()) > k) drafts_[p].resize(static_cast<size_t>(k));
          for (size_t j = 0; j < drafts_[p].size(); ++j) {
            const TokenId d = drafts_[p][j];
            if (d < 0 || d >= n_vocab) return Status::invalid("a drafted token " + std::to_string(d) + " is outside the vocabulary");
            batch_[static_cast<size_t>(n++)] = {d, len + static_cast<int64_t>(j), static_cast<int>(p), true, true};
            ++rows;
          }
        }
      }
    }
    const Clock::time_point t_eval = Clock::now();
    ER_RETURN_IF_ERROR(dec_.eval(std::span(batch_.data(), static_cast<size_t>(n))));
    const double eval_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_eval).count();
    res.kv_bytes_read += dec_.last_kv_bytes_read();
    ++res.n_decode_steps;
    obs_paths_.clear();
    obs_drafted_.clear();
    obs_accepted_.clear();
    size_t kept = 0;
    const double now_ms = ms_since(t0);
    for (size_t i = 0; i < live.size(); ++i) {
      const size_t p = static_cast<size_t>(live[i]);
      bool still = true;
      if (row_of[p] >= 0) {
        res.paths[p].last_token_ms = now_ms;
        const std::vector<TokenId>& d = drafts_[p];
        if (d.empty()) {
          still = sample(p, row_of[p]);
        } else {
          // Row j verifies draft j: sampled as plain decoding would at that position, the draft
          // kept while the samples accept it (its KV is then in place) and the path is not
          // changed otherwise (a controller's forced tokens, rollback or stop end the run; the
          // accepted token is then fed again with what was forced, as plain decoding would).
          const int64_t len = fed[p];
          const size_t before = res.paths[p].tokens.size();
          const int64_t accepted_before = res.n_accepted;
          res.n_drafted += static_cast<int64_t>(d.size());
          for (size_t j = 0;; ++j) {
            fed[p] = std::min(fed[p], len + static_cast<int64_t>(j));
            bool accepted = false;
            const bool has = j < d.size();
            still = sample(p, row_of[p] + static_cast<int64_t>(j), has ? d[j] : -1, has ? &accepted : nullptr);
            if (!accepted) break;
            ++res.n_accepted;
            if (!still || res.paths[p].tokens.size() != before + j + 1) break;
            // Plain decoding asks the controller before every step, so before the next row too
            // (a thinking budget reached, an early stop, a cancel): an action ends the run, with
            // the accepted token fed again beside what it forces.
            if (controller != nullptr) {
              const PathAction a = controller->before_step(static_cast<int>(p));
              if (a.rollback > 0 || !a.force.empty() || a.stop) {
                apply(p, a);
                still = alive[p] != 0;
                break;
              }
            }
            fed[p] = len + static_cast<int64_t>(j) + 1;
          }
          obs_paths_.push_back(static_cast<int>(p));
          obs_drafted_.push_back(static_cast<int>(d.size()));
          obs_accepted_.push_back(static_cast<int>(res.n_accepted - accepted_before));
        }
      }
      if (still) live[kept++] = live[i];
    }
    if (opts.drafter != nullptr && opts.sampler.greedy()) {
      opts.drafter->observe({rows, eval_ms, obs_paths_, obs_drafted_, obs_accepted_});
    }
    live.resize(kept);
    if (!numeric_error.is_ok()) return numeric_error;
    res.token_times_ms.push_back(now_ms);
    if (controller != nullptr) controller->on_step(res.n_decode_steps, now_ms);
  }
  if (!numeric_error.is_ok()) return numeric_error;
  for (const PathResult& pr : res.paths) {
    res.n_generated += static_cast<int64_t>(pr.tokens.size());
    for (const uint8_t f : pr.forced) res.n_forced += f;
  }
  res.e2e_ms = ms_since(t0);
  res.decode_ms = res.e2e_ms - res.ttft_ms;
  return res;
}

}  // namespace er::engine
