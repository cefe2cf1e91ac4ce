#include "engine/speculative.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "model/model_registry.h"
#include "sampling/sampler.h"

namespace er::engine {

const char* spec_method_name(SpecMethod m) {
  switch (m) {
    case SpecMethod::kNone: return "none";
    case SpecMethod::kDraft: return "draft";
    case SpecMethod::kNgram: return "ngram";
  }
  return "none";
}

// ---- n-gram lookup ----

namespace {
// Priors before any step is observed, as kept-token counts out of kPriorTries (the keep rates of
// qwen2.5-coder-1.5b's GSM8K traces: ~0.3 for the first token after a 1-token match, ~0.6-0.7
// after longer ones), so the first steps draft sensibly and the data takes over within a few
// dozen drafts.
constexpr double kPriorTries = 4;
constexpr double kPriorKeep[NgramDrafter::kMaxMatch + 1] = {0, 0.3, 0.6, 0.65, 0.65};
// A step's cost per extra row before two row counts are measured (a fraction of a one-row step).
constexpr double kPriorRowCost = 0.15;
// Weight of the newest eval time in a row count's running mean once it has this many samples.
constexpr int64_t kCostWindow = 32;
}  // namespace

NgramDrafter::NgramDrafter(bool adapt) : adapt_(adapt) {
  for (int n = 1; n <= kMaxMatch; ++n) {
    for (int i = 0; i < kMaxLearned; ++i) {
      tries_[n][i] = kPriorTries;
      hits_[n][i] = kPriorTries * (i == 0 ? kPriorKeep[n] : std::max(kPriorKeep[n], 0.6));
    }
  }
}

Status NgramDrafter::begin(std::span<const int32_t>, int n_paths) {
  last_match_.assign(static_cast<size_t>(std::max(1, n_paths)), 0);
  rows_this_step_ = 0;
  request_steps_ = 0;
  return Status::ok();
}

int NgramDrafter::lookup(std::span<const int32_t> h, int min_match, int k, std::vector<int32_t>& out) {
  out.clear();
  const int64_t H = static_cast<int64_t>(h.size());
  for (int64_t n = std::min<int64_t>(kMaxMatch, H - 1); n >= min_match; --n) {
    const std::span<const int32_t> tail = h.subspan(static_cast<size_t>(H - n));
    // The most recent earlier occurrence (start i < H - n) with at least one token after it.
    for (int64_t i = H - n - 1; i >= 0; --i) {
      if (!std::equal(tail.begin(), tail.end(), h.begin() + i)) continue;
      const int64_t from = i + n;
      const int64_t m = std::min<int64_t>(k, H - from);
      out.assign(h.begin() + from, h.begin() + from + m);
      return static_cast<int>(n);
    }
  }
  return 0;
}

double NgramDrafter::keep_rate(int match, int position) const {
  if (match < 1 || match > kMaxMatch || position < 0) return 0;
  const int i = std::min(position, kMaxLearned - 1);
  return hits_[match][i] / tries_[match][i];
}

double NgramDrafter::step_ms(int64_t rows) const {
  if (rows < 1) return 0;
  if (rows < static_cast<int64_t>(cost_.size()) && cost_[static_cast<size_t>(rows)].n > 0) return cost_[static_cast<size_t>(rows)].ms;
  // Not measured: the line through the nearest measured row counts below and above (or the
  // slope of the two nearest below; kPriorRowCost of the nearest one when only one is known).
  int64_t lo = -1, lo2 = -1, hi = -1;
  for (int64_t r = std::min<int64_t>(rows - 1, static_cast<int64_t>(cost_.size()) - 1); r >= 1; --r) {
    if (cost_[static_cast<size_t>(r)].n == 0) continue;
    if (lo < 0) {
      lo = r;
    } else {
      lo2 = r;
      break;
    }
  }
  for (int64_t r = rows + 1; r < static_cast<int64_t>(cost_.size()); ++r) {
    if (cost_[static_cast<size_t>(r)].n > 0) {
      hi = r;
      break;
    }
  }
  auto at = [&](int64_t r) { return cost_[static_cast<size_t>(r)].ms; };
  if (lo > 0 && hi > 0) return at(lo) + (at(hi) - at(lo)) * static_cast<double>(rows - lo) / static_cast<double>(hi - lo);
  if (lo > 0 && lo2 > 0) {
    const double slope = std::max(0.0, (at(lo) - at(lo2)) / static_cast<double>(lo - lo2));
    return at(lo) + slope * static_cast<double>(rows - lo);
  }
  if (lo > 0) return at(lo) * (1 + kPriorRowCost * static_cast<double>(rows - lo));
  if (hi > 0) return at(hi) / (1 + kPriorRowCost * static_cast<double>(hi - rows));
  return 0;
}

int NgramDrafter::best_length(int match, int k, int64_t rows_before) const {
  const double base = step_ms(live_paths_);
  const double before = step_ms(rows_before);
  if (base <= 0 || before <= 0) return 0;
  const double lambda = static_cast<double>(live_paths_) / base;  // tokens per ms without drafts
  int best = 0;
  double best_gain = 0, expect = 0, keep = 1;
  for (int d = 1; d <= k; ++d) {
    keep *= keep_rate(match, d - 1);
    expect += keep;  // E[kept tokens] of a d-token draft
    const double gain = expect - lambda * (step_ms(rows_before + d) - before);
    if (gain > best_gain) {
      best_gain = gain;
      best = d;
    }
  }
  return best;
}

Status NgramDrafter::propose(int path, std::span<const int32_t> h, int k, std::vector<int32_t>& out) {
  out.clear();
  if (path < 0 || static_cast<size_t>(path) >= last_match_.size())
    return Status::invalid("ngram: path " + std::to_string(path) + " out of range of the request's paths");
  if (!adaptive()) {
    last_match_[static_cast<size_t>(path)] = lookup(h, 2, k, out);
    return Status::ok();
  }
  const int match = lookup(h, 1, k, out);
  const int d = match == 0 ? 0 : best_length(match, static_cast<int>(out.size()), live_paths_ + rows_this_step_);
  out.resize(static_cast<size_t>(d));
  last_match_[static_cast<size_t>(path)] = d > 0 ? match : 0;
  rows_this_step_ += d;
  return Status::ok();
}

void NgramDrafter::observe(const StepOutcome& step) {
  if (!adapt_) return;
  int64_t drafted = 0;
  for (size_t i = 0; i < step.paths.size(); ++i) {
    drafted += step.drafted[i];
    const size_t p = static_cast<size_t>(step.paths[i]);
    const int match = p < last_match_.size() ? last_match_[p] : 0;
    if (match < 1) continue;
    // Position j was tried if every earlier one was kept; kept if j < accepted.
    for (int j = 0; j < step.drafted[i] && j <= step.accepted[i]; ++j) {
      const int l = std::min(j, kMaxLearned - 1);
      tries_[match][l] += 1;
      if (j < step.accepted[i]) hits_[match][l] += 1;
    }
  }
  if (step.rows >= 1 && step.eval_ms > 0) {
    if (static_cast<int64_t>(cost_.size()) <= step.rows) cost_.resize(static_cast<size_t>(step.rows) + 1);
    Cost& c = cost_[static_cast<size_t>(step.rows)];
    c.n += 1;
    c.ms += (step.eval_ms - c.ms) / static_cast<double>(std::min(c.n, kCostWindow));
  }
  live_paths_ = std::max<int64_t>(1, step.rows - drafted);
  rows_this_step_ = 0;
  ++request_steps_;
}

// ---- a draft model ----

Result<std::unique_ptr<ModelDrafter>> ModelDrafter::create(std::shared_ptr<const model::Model> draft, int n_paths,
                                                           int64_t n_ctx, int n_threads) {
  if (!draft) return Status::invalid("no draft model");
  std::unique_ptr<ModelDrafter> d(new ModelDrafter());
  d->model_ = std::move(draft);
  model::ContextOptions co;
  co.n_ctx = n_ctx;
  co.n_seq = std::max(1, n_paths);
  co.max_batch = 512;
  co.n_threads = n_threads;
  ER_ASSIGN_OR_RETURN(d->ctx_, model::Context::create(*d->model_, co));
  d->in_kv_.resize(static_cast<size_t>(co.n_seq));
  d->batch_.resize(static_cast<size_t>(co.max_batch));
  return d;
}

Status ModelDrafter::begin(std::span<const int32_t> prompt, int n_paths) {
  if (n_paths > ctx_->options().n_seq)
    return Status::invalid("the draft model's context has " + std::to_string(ctx_->options().n_seq) + " sequences, not " +
                           std::to_string(n_paths));
  ctx_->clear(0);
  in_kv_[0].clear();
  // Everything but the last prompt token: propose() feeds from where the sequences differ, and
  // always at least one token (for its logits).
  if (prompt.size() > 1) ER_RETURN_IF_ERROR(feed(0, prompt.first(prompt.size() - 1), 0));
  for (int p = 1; p < n_paths; ++p) {
    ctx_->fork(0, p, static_cast<int64_t>(in_kv_[0].size()));
    in_kv_[static_cast<size_t>(p)] = in_kv_[0];
  }
  return Status::ok();
}

Status ModelDrafter::feed(int seq, std::span<const int32_t> tokens, int64_t from) {
  std::vector<int32_t>& kv = in_kv_[static_cast<size_t>(seq)];
  kv.resize(static_cast<size_t>(from));
  const int64_t n_all = static_cast<int64_t>(tokens.size());
  const int64_t max_batch = ctx_->options().max_batch;
  for (int64_t start = from; start < n_all; start += max_batch) {
    const int64_t n = std::min(max_batch, n_all - start);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = start + i;
      batch_[static_cast<size_t>(i)] = {tokens[static_cast<size_t>(pos)], pos, seq, pos == n_all - 1, false};
    }
    ER_RETURN_IF_ERROR(ctx_->eval(std::span(batch_.data(), static_cast<size_t>(n))));
  }
  kv.assign(tokens.begin(), tokens.end());
  return Status::ok();
}

Status ModelDrafter::propose(int path, std::span<const int32_t> history, int k, std::vector<int32_t>& out) {
  out.clear();
  if (path < 0 || path >= ctx_->options().n_seq) return Status::invalid("draft: path " + std::to_string(path) + " out of range");
  const int64_t H = static_cast<int64_t>(history.size());
  if (H < 1 || k < 1) return Status::ok();
  // Room in the draft's context for the history and k - 1 fed drafts.
  const int64_t room = ctx_->options().n_ctx - H;
  if (room < 1) return Status::ok();
  k = static_cast<int>(std::min<int64_t>(k, room));
  std::vector<int32_t>& kv = in_kv_[static_cast<size_t>(path)];
  // Where the history and what the sequence's KV holds part (at least the last token re-fed).
  int64_t common = 0;
  const int64_t lim = std::min<int64_t>(static_cast<int64_t>(kv.size()), H - 1);
  while (common < lim && kv[static_cast<size_t>(common)] == history[static_cast<size_t>(common)]) ++common;
  ER_RETURN_IF_ERROR(feed(path, history, common));
  const int32_t n_vocab = model_->tokenizer().n_vocab();
  for (int j = 0; j < k; ++j) {
    const int32_t t = sampling::argmax(std::span<const float>(ctx_->logits(0), static_cast<size_t>(n_vocab)));
    out.push_back(t);
    if (j + 1 == k || model_->tokenizer().is_eog(t)) break;
    const model::BatchEntry e{t, static_cast<int64_t>(kv.size()), path, true, false};
    ER_RETURN_IF_ERROR(ctx_->eval(std::span(&e, 1)));
    kv.push_back(t);
  }
  return Status::ok();
}

Status check_draft_vocabulary(const model::Model& target, const model::Model& draft, const std::string& draft_name) {
  const tokenizer::Tokenizer& a = target.tokenizer();
  const tokenizer::Tokenizer& b = draft.tokenizer();
  if (a.n_vocab() != b.n_vocab()) {
    return Status::invalid("draft model '" + draft_name + "' has a vocabulary of " + std::to_string(b.n_vocab()) +
                           " tokens, the model of " + std::to_string(a.n_vocab()) +
                           ": a draft model needs the model's tokenizer (e.g. qwen2.5-coder-0.5b for qwen2.5-coder-1.5b)");
  }
  for (int32_t id = 0; id < a.n_vocab(); ++id) {
    if (a.piece(id) != b.piece(id)) {
      return Status::invalid("draft model '" + draft_name + "' has another vocabulary: token " + std::to_string(id) +
                             " is '" + b.piece(id) + "' there and '" + a.piece(id) +
                             "' in the model; a draft model needs the model's tokenizer");
    }
  }
  return Status::ok();
}

Result<std::shared_ptr<const model::Model>> load_draft_model(const model::Model& target, const std::string& name) {
  ER_ASSIGN_OR_RETURN(const std::string path, model::resolve_model(name));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> dm, model::Model::load(path));
  ER_RETURN_IF_ERROR(check_draft_vocabulary(target, *dm, name));
  return std::shared_ptr<const model::Model>(std::move(dm));
}

Result<std::unique_ptr<Drafter>> make_drafter(SpecMethod method, std::shared_ptr<const model::Model> draft,
                                              int n_paths, int64_t n_ctx, int n_threads) {
  switch (method) {
    case SpecMethod::kNone: return std::unique_ptr<Drafter>();
    case SpecMethod::kNgram: {
      const char* adapt = std::getenv("EDGEREASON_NGRAM_ADAPT");
      return std::unique_ptr<Drafter>(std::make_unique<NgramDrafter>(adapt == nullptr || std::strcmp(adapt, "0") != 0));
    }
    case SpecMethod::kDraft: {
      if (draft == nullptr) return Status::invalid("speculative decoding with a draft model needs the draft model");
      ER_ASSIGN_OR_RETURN(std::unique_ptr<ModelDrafter> d, ModelDrafter::create(std::move(draft), n_paths, n_ctx, n_threads));
      return std::unique_ptr<Drafter>(std::move(d));
    }
  }
  return Status::invalid("unknown speculation method");
}

}  // namespace er::engine
