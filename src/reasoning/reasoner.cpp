// Reasoner: builds each path's policy, steers the batched decode through a PathController,
// re-plans the thinking budget against a deadline, votes, and assembles the record.
#include "reasoning/reasoner.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/check.h"
#include "reasoning/deadline.h"
#include "reasoning/path_policy.h"
#include "reasoning/policy_texts.h"
#include "reasoning/vote.h"

namespace er::reasoning {
namespace {

bool contains_ci(std::string_view hay, std::string_view needle) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (needle.empty() || hay.size() < needle.size()) return needle.empty();
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && lower(hay[i + k]) == lower(needle[k])) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// Steers all paths: forwards the generator's callbacks to each path's policy, votes as paths end,
// stops the rest once the vote is decided, and re-plans the thinking budget for a deadline.
class Controller final : public engine::PathController {
 public:
  Controller(std::vector<PathPolicy>& policies, const ThinkingOptions& think, const VoteOptions& vote,
             const AnswerKeyFn& key, std::atomic<bool>& cancel, const std::atomic<bool>* external_cancel, int64_t n_prompt)
      : policies_(policies), think_(think), vote_opts_(vote), key_(key), cancel_(cancel), external_cancel_(external_cancel),
        n_prompt_(n_prompt),
        tally_(vote.mode), keys_(policies.size()), stopped_early_(policies.size(), 0) {}

  void on_prefill(double prefill_ms) override {
    last_step_ms_ = prefill_ms;
    replan(prefill_ms);
  }
  std::span<const TokenId> banned(int p) override { return policies_[static_cast<size_t>(p)].banned(); }
  engine::PathAction on_token(int p, TokenId t, float logprob, bool eog) override {
    return policies_[static_cast<size_t>(p)].on_token(t, logprob, eog);
  }
  void on_step(int64_t step, double now_ms) override {
    if (step > 0) {
      step_ms_[static_cast<size_t>(n_steps_measured_ % step_ms_.size())] = now_ms - last_step_ms_;
      ++n_steps_measured_;
    }
    last_step_ms_ = now_ms;
    replan(now_ms);
  }
  engine::PathAction before_step(int p) override {
    PathPolicy& pol = policies_[static_cast<size_t>(p)];
    if (cancel_.load(std::memory_order_relaxed) ||
        (external_cancel_ != nullptr && external_cancel_->load(std::memory_order_relaxed))) {
      pol.stop_now();
    }
    return pol.before_step();
  }
  void on_path_end(int p, engine::StopReason reason) override {
    const size_t i = static_cast<size_t>(p);
    PathPolicy& pol = policies_[i];
    // Tokens saved by the early stop: what the path's budgets still allowed when it stopped.
    if (stopped_early_[i] != 0) tokens_saved_ += pol.remaining_budget();
    pol.finish(reason);
    if (reason == engine::StopReason::kStoppedByCaller) return;  // cut short: no vote
    const ThinkSplitter& s = pol.splitter();
    keys_[i] = key_ ? key_(s.closed() ? std::string_view(s.answer_text()) : std::string_view(s.text())) : std::nullopt;
    const double mean = pol.sampled_tokens() > 0 ? pol.sum_logprob() / static_cast<double>(pol.sampled_tokens()) : 0.0;
    tally_.add(p, keys_[i], mean);
    if (!vote_opts_.early_stop || early_stopped_) return;
    int running = 0;
    for (const PathPolicy& q : policies_) running += q.finished() ? 0 : 1;
    if (running == 0 || !tally_.decided(running)) return;
    early_stopped_ = true;
    for (size_t q = 0; q < policies_.size(); ++q) {
      if (policies_[q].finished()) continue;
      stopped_early_[q] = 1;
      policies_[q].stop_now();
    }
  }

  const std::vector<std::optional<std::string>>& keys() const { return keys_; }
  const VoteTally& tally() const { return tally_; }
  int64_t tokens_saved() const { return tokens_saved_; }
  bool early_stopped() const { return early_stopped_; }
  bool stopped_early(size_t p) const { return stopped_early_[p] != 0; }
  std::optional<int64_t> last_budget() const { return last_budget_; }
  double step_s() const { return step_s_; }

 private:
  // Deadline: how many steps fit in the time left, less one for the forced close and the answer
  // budget, bounds every thinking path's budget. A step's time is the mean of the last measured
  // steps, or before any the fitted n + m * context.
  void replan(double now_ms) {
    if (!think_.deadline_s) return;
    int64_t ctx = n_prompt_;
    for (const PathPolicy& p : policies_) ctx = std::max(ctx, n_prompt_ + p.n_tokens());
    double step_s = 0;
    const int64_t n_meas = std::min<int64_t>(n_steps_measured_, static_cast<int64_t>(step_ms_.size()));
    if (n_meas > 0) {
      double sum = 0;
      for (int64_t k = 0; k < n_meas; ++k) sum += step_ms_[static_cast<size_t>(k)];
      step_s = sum / static_cast<double>(n_meas) / 1000.0;
    } else if (think_.deadline_step_s > 0) {
      step_s = think_.deadline_step_s + think_.deadline_step_per_ctx_s * static_cast<double>(ctx);
    } else {
      return;  // nothing to plan with until a step was measured
    }
    step_s_ = step_s;
    const double left_s = *think_.deadline_s - now_ms / 1000.0;
    // Each step adds one token per path to the context: m per step.
    const int64_t steps_left = deadline_steps(left_s, step_s, think_.deadline_step_per_ctx_s);
    const int64_t think_left = deadline_think_left(steps_left, think_.answer_budget);
    for (PathPolicy& p : policies_) {
      if (p.finished()) continue;
      if (steps_left < 1) {
        p.stop_now();  // out of time
        continue;
      }
      if (!p.thinking()) continue;
      const int64_t budget = p.thinking_tokens_so_far() + think_left;
      p.set_think_budget(budget);
      last_budget_ = budget;
    }
  }

  std::vector<PathPolicy>& policies_;
  const ThinkingOptions& think_;
  VoteOptions vote_opts_;
  const AnswerKeyFn& key_;
  std::atomic<bool>& cancel_;
  const std::atomic<bool>* external_cancel_;  // the caller's flag (a request's Ticket), or null
  int64_t n_prompt_;
  VoteTally tally_;
  std::vector<std::optional<std::string>> keys_;
  std::vector<uint8_t> stopped_early_;
  bool early_stopped_ = false;
  int64_t tokens_saved_ = 0;
  std::array<double, 8> step_ms_{};
  int64_t n_steps_measured_ = 0;
  double last_step_ms_ = 0;
  double step_s_ = 0;
  std::optional<int64_t> last_budget_;
};

}  // namespace

Reasoner::Reasoner(model::Context& ctx, const tokenizer::Tokenizer& tok, ThinkingFormat fmt)
    : owned_decoder_(std::make_unique<engine::ContextDecoder>(ctx)),
      owned_vocab_(std::make_unique<TokenizerVocabulary>(tok)),
      dec_(*owned_decoder_),
      vocab_(*owned_vocab_),
      fmt_(std::move(fmt)) {}

Reasoner::Reasoner(engine::Decoder& dec, const Vocabulary& vocab, ThinkingFormat fmt)
    : dec_(dec), vocab_(vocab), fmt_(std::move(fmt)) {}

Reasoner::~Reasoner() = default;

void Reasoner::cancel() { cancel_.store(true); }

Result<ReasonResult> Reasoner::run(std::span<const TokenId> prompt_tokens, const ThinkingOptions& think,
                                   const engine::GenerateOptions& gen, const VoteOptions& vote,
                                   const AnswerKeyFn& answer_key, const StreamFn& stream,
                                   const std::atomic<bool>* cancelled) {
  ER_RETURN_IF_ERROR(validate_thinking_options(think));
  const bool needs_close = think.think_budget || think.deadline_s;
  if (!fmt_.split && think.has_policy()) {
    return Status::invalid("thinking policies need the chat format (the thinking span is not delimited in a plain completion)");
  }
  const std::string close_text = think.close_text.empty() ? default_close_text(fmt_) : think.close_text;
  const std::string prefix = think.answer_prefix.empty() ? default_answer_prefix(fmt_) : think.answer_prefix;
  const std::string forced = close_text + prefix;
  if (needs_close && !contains_ci(forced, fmt_.delimiter())) {
    return Status::invalid("the forced close text '" + forced + "' does not contain the end-of-thinking delimiter '" +
                           fmt_.delimiter() + "'");
  }

  PolicyConfig pc;
  if (!fmt_.split) {
    pc.split.delimiter.clear();
    pc.split.start_in_answer = true;
  } else {
    pc.split.delimiter = fmt_.delimiter();
    pc.split.marker = !fmt_.has_think_tags;
    pc.split.open_tag = fmt_.has_think_tags ? fmt_.open_tag : "";
    pc.split.start_in_answer = think.no_think;
    if (think.has_policy()) pc.answer_budget = think.answer_budget;
  }
  pc.think_budget = think.think_budget;
  pc.min_think = think.min_think;
  pc.close_tokens = vocab_.encode(forced);
  pc.wait_tokens = vocab_.encode(think.wait_text.empty() ? std::string(kWaitText) : think.wait_text);
  if (fmt_.split && fmt_.has_think_tags) {
    const std::vector<TokenId> close = vocab_.encode(fmt_.close_tag);
    if (close.size() == 1) pc.never_in_answer = close;
  }
  const int64_t n_prompt = static_cast<int64_t>(prompt_tokens.size());
  pc.max_new_tokens = std::max<int64_t>(1, std::min(gen.max_new_tokens, dec_.n_ctx() - n_prompt));

  const Vocabulary& vocab = vocab_;
  std::vector<PathPolicy> policies;
  policies.reserve(static_cast<size_t>(std::max(gen.n_paths, 1)));
  for (int p = 0; p < gen.n_paths; ++p) {
    policies.emplace_back(pc, [&vocab](TokenId t) { return vocab.piece(t); });
    if (stream) {
      policies.back().set_sink([&stream, p](std::string_view s, bool thinking) { stream(p, s, thinking); });
    }
  }
  cancel_.store(false);
  Controller ctl(policies, think, vote, answer_key, cancel_, cancelled, n_prompt);
  engine::Generator g(dec_);
  ER_ASSIGN_OR_RETURN(engine::GenerateResult gr, g.generate(prompt_tokens, gen, {}, &ctl));

  ReasonResult rr;
  rr.n_prompt = gr.n_prompt;
  rr.paths.resize(gr.paths.size());
  for (size_t p = 0; p < gr.paths.size(); ++p) {
    PathPolicy& pol = policies[p];
    pol.finish(gr.paths[p].stop);
    const ThinkSplitter& s = pol.splitter();
    ER_CHECK(s.n_tokens() == static_cast<int64_t>(gr.paths[p].tokens.size()),
             "reasoner: the policy and the generator disagree on a path's tokens");
    PathOutcome& o = rr.paths[p];
    o.tokens = gr.paths[p].tokens;
    o.text = s.text();
    o.thinking_text = s.thinking_text();
    o.answer_text = s.answer_text();
    o.thinking_tokens = s.thinking_tokens();
    o.answer_tokens = s.answer_tokens();
    o.delimiter_tokens = s.delimiter_tokens();
    o.forced_tokens = pol.forced_tokens();
    o.sampled_tokens = pol.sampled_tokens();
    o.rolled_back_tokens = pol.rolled_back();
    o.forced_close = pol.forced_close();
    o.forced_close_at = pol.forced_close_at();
    o.closed = s.closed() && fmt_.split;
    o.waits_inserted = pol.waits();
    o.mean_logprob = pol.sampled_tokens() > 0 ? pol.sum_logprob() / static_cast<double>(pol.sampled_tokens()) : 0.0;
    o.stop = gr.paths[p].stop;
    o.stopped_early = ctl.stopped_early(p);
    o.answer_key = ctl.keys()[p];
  }
  rr.vote = ctl.tally().result();
  rr.vote.tokens_saved = ctl.tokens_saved();
  rr.vote.early_stopped = ctl.early_stopped();
  rr.deadline_s = think.deadline_s;
  rr.measured_step_s = ctl.step_s();
  if (think.think_budget) rr.effective_think_budget = think.think_budget;
  if (think.deadline_s) {
    rr.effective_think_budget = !rr.paths.empty() && rr.paths[0].forced_close_at ? rr.paths[0].forced_close_at : ctl.last_budget();
  }
  rr.gen = std::move(gr);
  return rr;
}

}  // namespace er::reasoning
