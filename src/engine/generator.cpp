// Generator: prefill, fork, batched decode loop, per-path sampling and stop conditions.
#include "engine/generator.h"

#include <algorithm>
#include <memory>

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

Generator::Generator(model::Context& ctx) : ctx_(ctx) {
  batch_.resize(static_cast<size_t>(std::max<int64_t>(ctx.options().n_seq, ctx.options().max_batch)));
}

namespace {
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

Result<GenerateResult> Generator::generate(std::span<const TokenId> prompt, const GenerateOptions& opts,
                                           const TokenCallback& on_token) {
  const Clock::time_point t0 = Clock::now();
  const model::ContextOptions& co = ctx_.options();
  const tokenizer::Tokenizer& tok = ctx_.model().tokenizer();
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (opts.max_new_tokens < 1) return Status::invalid("-n: the number of tokens to generate must be at least 1");
  if (opts.n_paths < 1 || opts.n_paths > co.n_seq) {
    return Status::invalid("--paths " + std::to_string(opts.n_paths) + " must be in [1, " + std::to_string(co.n_seq) + "]");
  }
  if (n_prompt < 1) return Status::invalid("the prompt is empty");
  if (n_prompt >= co.n_ctx) {
    return Status::invalid("the prompt has " + std::to_string(n_prompt) + " tokens, which does not fit the context of " +
                           std::to_string(co.n_ctx) + " tokens (raise -c)");
  }
  ER_RETURN_IF_ERROR(opts.sampler.validate());

  GenerateResult res;
  res.n_prompt = n_prompt;
  res.t_start = t0;
  res.paths.resize(static_cast<size_t>(opts.n_paths));
  const int64_t room = co.n_ctx - n_prompt;
  const int64_t max_new = std::min(opts.max_new_tokens, room);
  for (PathResult& p : res.paths) {
    p.tokens.reserve(static_cast<size_t>(max_new));
    p.logprobs.reserve(static_cast<size_t>(max_new));
  }
  res.token_times_ms.reserve(static_cast<size_t>(max_new));

  // Samplers and per-path histories (prompt + generated) for the repetition penalty.
  std::vector<std::unique_ptr<sampling::Sampler>> samplers;
  samplers.reserve(static_cast<size_t>(opts.n_paths));
  std::vector<std::vector<TokenId>> history(static_cast<size_t>(opts.n_paths));
  for (int p = 0; p < opts.n_paths; ++p) {
    sampling::SamplerConfig sc = opts.sampler;
    sc.seed = opts.sampler.seed + static_cast<uint64_t>(p);
    samplers.push_back(std::make_unique<sampling::Sampler>(sc, static_cast<int32_t>(tok.n_vocab())));
    history[static_cast<size_t>(p)].reserve(static_cast<size_t>(n_prompt + max_new));
    history[static_cast<size_t>(p)].assign(prompt.begin(), prompt.end());
  }

  // Prefill sequence 0 in chunks of max_batch; logits of the last prompt token only.
  ctx_.clear(0);
  for (int64_t start = 0; start < n_prompt; start += co.max_batch) {
    const int64_t n = std::min(co.max_batch, n_prompt - start);
    for (int64_t i = 0; i < n; ++i) {
      batch_[static_cast<size_t>(i)] = {prompt[static_cast<size_t>(start + i)], start + i, 0, start + i == n_prompt - 1};
    }
    ER_RETURN_IF_ERROR(ctx_.eval(std::span(batch_.data(), static_cast<size_t>(n))));
  }
  for (int p = 1; p < opts.n_paths; ++p) ctx_.fork(0, p, n_prompt);
  res.prefill_ms = ms_since(t0);

  // First token of every path from the prompt's logits.
  std::vector<int> live;  // paths still generating, in order
  live.reserve(static_cast<size_t>(opts.n_paths));
  auto accept = [&](int p, TokenId t, float logprob) {
    PathResult& pr = res.paths[static_cast<size_t>(p)];
    if (!opts.ignore_eos && tok.is_eog(t)) {
      pr.stop = StopReason::kEndOfGeneration;
      return false;
    }
    pr.tokens.push_back(t);
    pr.logprobs.push_back(logprob);
    history[static_cast<size_t>(p)].push_back(t);
    ++res.n_generated;
    if (on_token && !on_token(p, t)) {
      pr.stop = StopReason::kStoppedByCaller;
      return false;
    }
    if (static_cast<int64_t>(pr.tokens.size()) >= max_new) {
      pr.stop = max_new < opts.max_new_tokens ? StopReason::kContextFull : StopReason::kMaxTokens;
      return false;
    }
    return true;
  };
  for (int p = 0; p < opts.n_paths; ++p) {
    sampling::Sampler& s = *samplers[static_cast<size_t>(p)];
    const TokenId t = s.sample(std::span(ctx_.logits(0), static_cast<size_t>(tok.n_vocab())), history[static_cast<size_t>(p)]);
    if (accept(p, t, s.last_logprob())) live.push_back(p);
  }
  res.ttft_ms = ms_since(t0);
  res.token_times_ms.push_back(res.ttft_ms);
  for (int p = 0; p < opts.n_paths; ++p) res.paths[static_cast<size_t>(p)].last_token_ms = res.ttft_ms;

  // Decode: one batched step for all live paths.
  while (!live.empty()) {
    for (size_t i = 0; i < live.size(); ++i) {
      const int p = live[i];
      const PathResult& pr = res.paths[static_cast<size_t>(p)];
      batch_[i] = {pr.tokens.back(), n_prompt + static_cast<int64_t>(pr.tokens.size()) - 1, p, true};
    }
    ER_RETURN_IF_ERROR(ctx_.eval(std::span(batch_.data(), live.size())));
    res.kv_bytes_read += ctx_.last_kv_bytes_read();
    ++res.n_decode_steps;
    size_t kept = 0;
    const double now_ms = ms_since(t0);
    for (size_t i = 0; i < live.size(); ++i) {
      const int p = live[i];
      sampling::Sampler& s = *samplers[static_cast<size_t>(p)];
      const TokenId t = s.sample(std::span(ctx_.logits(static_cast<int64_t>(i)), static_cast<size_t>(tok.n_vocab())),
                                 history[static_cast<size_t>(p)]);
      res.paths[static_cast<size_t>(p)].last_token_ms = now_ms;
      if (accept(p, t, s.last_logprob())) live[kept++] = p;
    }
    live.resize(kept);
    res.token_times_ms.push_back(now_ms);
  }
  res.e2e_ms = ms_since(t0);
  res.decode_ms = res.e2e_ms - res.ttft_ms;
  return res;
}

}  // namespace er::engine
