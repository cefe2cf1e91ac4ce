// Sampler: turns one position's logits into a token (greedy, temperature, top-k, top-p, min-p,
// repetition penalty), seeded and allocation-free after construction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "sampling/rng.h"

namespace er::sampling {

using TokenId = int32_t;

struct SamplerConfig {
  float temperature = 0.8f;    // 0 = greedy; >= 0
  int32_t top_k = 40;          // 0 = off
  float top_p = 0.95f;         // 1 = off
  float min_p = 0.05f;         // 0 = off
  float repeat_penalty = 1.0f; // 1 = off (llama.cpp: divide positive logits, multiply negative)
  int32_t repeat_last_n = 64;  // how many recent tokens the penalty looks at
  uint64_t seed = 0;           // <= INT64_MAX (a negative number read into it wraps to a huge one)

  bool greedy() const { return temperature <= 0.0f; }
  // Out-of-range values are invalid, naming the field (as ${field}, core/status.h: the member's
  // name, which a front end spells its own way) and the value: temperature not a finite number
  // >= 0, top_k < 0, top_p outside (0, 1], min_p outside [0, 1), repeat_penalty not a finite
  // number > 0, repeat_last_n < 0, seed above INT64_MAX.
  Status validate() const;
  std::string describe() const;
};

class Sampler {
 public:
  // Sizes scratch for `n_vocab` candidates once.
  Sampler(const SamplerConfig& config, int32_t n_vocab);

  const SamplerConfig& config() const { return config_; }
  void reseed(uint64_t seed) { rng_.reseed(seed); }

  // Picks the next token from `logits` (n_vocab values, left unchanged). `history` is the
  // sequence so far (prompt and generated), used by the repetition penalty.
  TokenId sample(std::span<const float> logits, std::span<const TokenId> history);

  // Speculative sampling against a drafted token proposed deterministically (a greedy draft
  // model or a lookup: the proposal's distribution is all on `draft`): greedy returns the argmax
  // as sample() does, accepted when it is the draft; otherwise the draft is accepted with its
  // probability p(draft) under this sampler's distribution, and when rejected the token is drawn
  // from that distribution without the draft (renormalized). Either way the token is distributed
  // as sample()'s (standard speculative rejection sampling). *accepted says whether it is the draft.
  TokenId sample_draft(std::span<const float> logits, std::span<const TokenId> history, TokenId draft, bool* accepted);

  // log p(token) of the last sampled token under the model's own distribution (softmax of the
  // raw logits at temperature 1); used for confidence-weighted votes.
  float last_logprob() const { return last_logprob_; }

 private:
  struct Candidate {
    float logit;
    TokenId id;
  };
  SamplerConfig config_;
  int32_t n_vocab_;
  Rng rng_;
  std::vector<Candidate> cand_;   // (n_vocab,) working set
  std::vector<float> penalized_;  // (n_vocab,) logits after the repetition penalty
  std::vector<float> probs_;      // (n_vocab,) probabilities of the kept candidates
  float last_logprob_ = 0.0f;
  // The sample with an optional draft (draft < 0: none).
  TokenId sample_impl(std::span<const float> logits, std::span<const TokenId> history, TokenId draft, bool* accepted);
  double (*log_sum_exp_)(const float*, int64_t);  // kernels::Ops::log_sum_exp of the default ISA
};

// Index of the largest value (first one on ties), as llama.cpp's greedy sampler; NaN is never
// taken, and 0 is returned when nothing is above -inf (kernels::Ops::argmax, vectorized).
TokenId argmax(std::span<const float> logits);

// True when no logit is NaN or +inf (-inf, a banned token, is allowed; kernels::Ops::all_finite).
bool all_finite(std::span<const float> logits);

}  // namespace er::sampling
