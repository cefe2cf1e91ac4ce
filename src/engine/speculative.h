// Speculative decoding's proposers (the Drafter of engine/generator.h): a small draft model with
// the target's vocabulary, and draft-free n-gram lookup in the path's own prompt and history.
// The Generator verifies their drafts in its decode steps; exactness is its business (greedy
// output token-identical to plain decoding, sampled output with plain decoding's distribution),
// so a proposer only has to be fast and often right.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/generator.h"
#include "model/forward.h"
#include "model/model.h"

namespace er::engine {

// The speculation methods by name: "draft" (a draft model) and "ngram" (lookup).
enum class SpecMethod { kNone, kDraft, kNgram };
const char* spec_method_name(SpecMethod m);

// Prompt lookup: the longest suffix of the path's sequence (from 4 tokens down) that occurred
// before in it; the tokens that followed its most recent earlier occurrence are the draft.
// Reasoning traces repeat the question's numbers and their own phrases, which this proposes at
// no model cost; what a draft costs is its rows in the verify pass.
//
// Until it is told how a generation's steps went (a sampled generation: Drafter::observe is not
// called), the proposal is fixed by the history: up to k tokens after a match of at least 2
// tokens (so a seed reproduces sampled output, whatever ran before). Once observe() reports a step
// of the current generation (greedy, whose output the drafts cannot change), it adapts the
// draft's length to the machine, with what it learned in this and earlier generations: how often a
// draft's i-th token is kept after a match of n tokens (n = 1..4) and what a step of R rows costs
// (a running mean of eval times per row count), and proposes, after a match of n, the length d
// <= k that maximizes E[kept tokens | n, d] - lambda * (extra cost of d rows), lambda being the
// tokens per millisecond of the steps without drafts. Where the verify pass is nearly free
// (memory-bound decode) that means long drafts even after 1-token matches; where extra rows cost
// nearly a step (compute-bound), short drafts after long matches only, or none.
//
// `adapt` false keeps the fixed proposal whatever observe() reports (EDGEREASON_NGRAM_ADAPT=0 in
// make_drafter, for A/B runs).
class NgramDrafter final : public Drafter {
 public:
  explicit NgramDrafter(bool adapt = true);
  Status begin(std::span<const int32_t> prompt, int n_paths) override;
  Status propose(int path, std::span<const int32_t> history, int k, std::vector<int32_t>& out) override;
  void observe(const StepOutcome& step) override;

  static constexpr int kMaxMatch = 4;  // longest suffix looked up
  static constexpr int kMaxLearned = 8;  // draft positions with statistics (longer drafts reuse the last)
  // The learned state (for tests and diagnostics). adaptive(): this generation has observed steps.
  bool adaptive() const { return request_steps_ > 0; }
  double keep_rate(int match, int position) const;  // P(position kept | earlier kept), match 1..4
  double step_ms(int64_t rows) const;               // estimated eval time of `rows` rows; 0 unknown

 private:
  // The longest earlier match of the history's suffix (min_match..kMaxMatch tokens): its length
  // (0 if none) and up to k following tokens into out.
  static int lookup(std::span<const int32_t> h, int min_match, int k, std::vector<int32_t>& out);
  int best_length(int match, int k, int64_t rows_before) const;

  struct Cost {
    double ms = 0;
    int64_t n = 0;
  };
  std::vector<Cost> cost_;  // by rows
  double hits_[kMaxMatch + 1][kMaxLearned] = {}, tries_[kMaxMatch + 1][kMaxLearned] = {};
  std::vector<int> last_match_;  // per path: the match length of its last proposal
  int64_t request_steps_ = 0;    // steps observed since begin()
  int64_t rows_this_step_ = 0;   // drafts proposed since the last observe
  int64_t live_paths_ = 1;       // rows of the last step less its drafts
  bool adapt_;
};

// A draft model: its own context (one sequence per path) that follows each path's sequence,
// re-feeding only what changed since the last proposal, and proposes its greedy continuation.
class ModelDrafter final : public Drafter {
 public:
  // `draft` must have the target's vocabulary (check_draft_vocabulary); n_ctx and n_paths as the
  // target's context.
  static Result<std::unique_ptr<ModelDrafter>> create(std::shared_ptr<const model::Model> draft, int n_paths,
                                                      int64_t n_ctx, int n_threads);
  Status begin(std::span<const int32_t> prompt, int n_paths) override;
  Status propose(int path, std::span<const int32_t> history, int k, std::vector<int32_t>& out) override;
  const model::Model& model() const { return *model_; }

 private:
  ModelDrafter() = default;
  // Feeds history[from, to) into sequence `seq` (chunked), the last entry wanting logits.
  Status feed(int seq, std::span<const int32_t> tokens, int64_t from);
  std::shared_ptr<const model::Model> model_;
  std::unique_ptr<model::Context> ctx_;
  std::vector<std::vector<int32_t>> in_kv_;  // per path: the tokens its sequence's KV holds
  std::vector<model::BatchEntry> batch_;
};

// OK when a model with `draft`'s tokenizer can draft for `target`: the same vocabulary size and
// the same piece for every token id; otherwise an invalid Status naming the first difference.
Status check_draft_vocabulary(const model::Model& target, const model::Model& draft, const std::string& draft_name);

// The draft model `name` (a .gguf path or an installed name) resolved, loaded and checked against
// `target` (check_draft_vocabulary).
Result<std::shared_ptr<const model::Model>> load_draft_model(const model::Model& target, const std::string& name);

// A fresh proposer for one context of n_paths paths: kDraft a ModelDrafter over `draft`, kNgram an
// NgramDrafter (adaptive unless the environment has EDGEREASON_NGRAM_ADAPT=0), kNone nullptr.
Result<std::unique_ptr<Drafter>> make_drafter(SpecMethod method, std::shared_ptr<const model::Model> draft,
                                              int n_paths, int64_t n_ctx, int n_threads);

// Rows a path takes in a decode step: its own and, speculating, its drafts' (the verify pass), so
// a context's max_logits is n_seq times this.
inline int64_t step_rows_per_path(SpecMethod method, int draft_max) {
  return method == SpecMethod::kNone ? 1 : 1 + static_cast<int64_t>(draft_max);
}

}  // namespace er::engine
