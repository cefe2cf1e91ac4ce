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

// Prompt lookup: the longest suffix of the path's sequence (from ngram_max tokens down to
// ngram_min) that occurred before in it; the tokens that followed its most recent earlier
// occurrence are the draft. No model, no state: reasoning traces repeat the question's numbers
// and their own phrases, which this proposes at no cost.
class NgramDrafter final : public Drafter {
 public:
  explicit NgramDrafter(int ngram_min = 2, int ngram_max = 4) : ngram_min_(ngram_min), ngram_max_(ngram_max) {}
  Status begin(std::span<const int32_t> prompt, int n_paths) override;
  Status propose(int path, std::span<const int32_t> history, int k, std::vector<int32_t>& out) override;

 private:
  int ngram_min_, ngram_max_;
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
// NgramDrafter, kNone nullptr.
Result<std::unique_ptr<Drafter>> make_drafter(SpecMethod method, std::shared_ptr<const model::Model> draft,
                                              int n_paths, int64_t n_ctx, int n_threads);

// Rows a path takes in a decode step: its own and, speculating, its drafts' (the verify pass), so
// a context's max_logits is n_seq times this.
inline int64_t step_rows_per_path(SpecMethod method, int draft_max) {
  return method == SpecMethod::kNone ? 1 : 1 + static_cast<int64_t>(draft_max);
}

}  // namespace er::engine
