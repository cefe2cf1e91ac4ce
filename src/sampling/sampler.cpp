// Sampler: llama.cpp's default chain order (penalties → top-k → top-p → min-p → temperature → draw).
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "kernels/isa.h"
#include "kernels/ops.h"

namespace er::sampling {

Status SamplerConfig::validate() const {
  const auto bad = [](const char* field, const std::string& rule, const std::string& got) {
    return Status::invalid("${" + std::string(field) + "} must be " + rule + " (got " + got + ")");
  };
  const auto show = [](float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return std::string(buf);
  };
  if (!(std::isfinite(temperature) && temperature >= 0.0f)) {
    return bad("temperature", "a finite number >= 0 (0 = greedy)", show(temperature));
  }
  if (top_k < 0) return bad("top_k", ">= 0 (0 = off)", std::to_string(top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f)) return bad("top_p", "in (0, 1] (1 = off)", show(top_p));
  if (!(min_p >= 0.0f && min_p < 1.0f)) return bad("min_p", "in [0, 1) (0 = off)", show(min_p));
  if (!(std::isfinite(repeat_penalty) && repeat_penalty > 0.0f)) {
    return bad("repeat_penalty", "a finite number > 0 (1 = off)", show(repeat_penalty));
  }
  if (repeat_last_n < 0) return bad("repeat_last_n", ">= 0", std::to_string(repeat_last_n));
  if (seed > static_cast<uint64_t>(INT64_MAX)) {
    return bad("seed", "in [0, " + std::to_string(INT64_MAX) + "]",
               std::to_string(seed) + ", or a negative number, which wraps around");
  }
  return Status::ok();
}

std::string SamplerConfig::describe() const {
  char buf[200];
  std::snprintf(buf, sizeof buf, "temp=%g top_k=%d top_p=%g min_p=%g repeat_penalty=%g repeat_last_n=%d seed=%llu",
                static_cast<double>(temperature), top_k, static_cast<double>(top_p), static_cast<double>(min_p),
                static_cast<double>(repeat_penalty), repeat_last_n, static_cast<unsigned long long>(seed));
  return buf;
}

TokenId argmax(std::span<const float> logits) {
  static const auto fn = kernels::ops(kernels::default_isa()).argmax;
  return static_cast<TokenId>(fn(logits.data(), static_cast<int64_t>(logits.size())));
}

bool all_finite(std::span<const float> logits) {
  static const auto fn = kernels::ops(kernels::default_isa()).all_finite;
  return fn(logits.data(), static_cast<int64_t>(logits.size()));
}

Sampler::Sampler(const SamplerConfig& config, int32_t n_vocab)
    : config_(config), n_vocab_(n_vocab), rng_(config.seed), log_sum_exp_(kernels::ops(kernels::default_isa()).log_sum_exp) {
  cand_.resize(static_cast<size_t>(n_vocab));
  penalized_.resize(static_cast<size_t>(n_vocab));
  probs_.resize(static_cast<size_t>(n_vocab));
}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  return sample_impl(logits, history, -1, nullptr);
}

TokenId Sampler::sample_draft(std::span<const float> logits, std::span<const TokenId> history, TokenId draft,
                              bool* accepted) {
  return sample_impl(logits, history, draft, accepted);
}

TokenId Sampler::sample_impl(std::span<const float> logits, std::span<const TokenId> history, TokenId draft,
                             bool* accepted) {
  if (accepted != nullptr) *accepted = false;
  ER_CHECK(static_cast<int32_t>(logits.size()) == n_vocab_, "logits size != n_vocab");
  std::span<const float> scores = logits;

  // Repetition penalty over the last repeat_last_n tokens (each distinct token once).
  if (config_.repeat_penalty != 1.0f && config_.repeat_last_n > 0 && !history.empty()) {
    std::copy(logits.begin(), logits.end(), penalized_.begin());
    const size_t n = std::min(history.size(), static_cast<size_t>(config_.repeat_last_n));
    for (size_t i = history.size() - n; i < history.size(); ++i) {
      const TokenId t = history[i];
      if (t < 0 || t >= n_vocab_) continue;
      float& l = penalized_[static_cast<size_t>(t)];
      if (l == logits[static_cast<size_t>(t)]) {  // not yet penalized
        l = l > 0.0f ? l / config_.repeat_penalty : l * config_.repeat_penalty;
      }
    }
    scores = penalized_;
  }

  // Model log-probability of each token, for last_logprob(): log-sum-exp of the raw logits
  // (vectorized: one pass over the vocabulary per token and path, on the decode critical path).
  const double log_z = log_sum_exp_(logits.data(), static_cast<int64_t>(logits.size()));

  TokenId chosen;
  if (config_.greedy()) {
    chosen = argmax(scores);
  } else {
    size_t n = static_cast<size_t>(n_vocab_);
    for (size_t i = 0; i < n; ++i) cand_[i] = {scores[i], static_cast<TokenId>(i)};
    auto by_logit = [](const Candidate& a, const Candidate& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    // top-k: keep the k best, sorted; without top-k sort everything (top-p needs the order).
    if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < n) {
      const size_t k = static_cast<size_t>(config_.top_k);
      std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k),
                        cand_.begin() + static_cast<std::ptrdiff_t>(n), by_logit);
      n = k;
    } else {
      std::sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), by_logit);
    }
    // Softmax at temperature 1 over the kept candidates (for top-p / min-p, as llama.cpp).
    const float top = cand_[0].logit;
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      probs_[i] = std::exp(cand_[i].logit - top);
      total += probs_[i];
    }
    // top-p: the smallest prefix whose mass reaches top_p (at least one token).
    if (config_.top_p < 1.0f) {
      double cum = 0.0;
      size_t keep = n;
      for (size_t i = 0; i < n; ++i) {
        cum += probs_[i] / total;
        if (cum >= config_.top_p) {
          keep = i + 1;
          break;
        }
      }
      n = keep;
    }
    // min-p: drop tokens whose probability is below min_p × the best one's.
    if (config_.min_p > 0.0f) {
      size_t keep = 1;
      while (keep < n && probs_[keep] >= config_.min_p * probs_[0]) ++keep;
      n = keep;
    }
    // Temperature, then draw from the renormalized distribution.
    double z = 0.0;
    for (size_t i = 0; i < n; ++i) {
      probs_[i] = static_cast<float>(std::exp(static_cast<double>(cand_[i].logit - top) / config_.temperature));
      z += probs_[i];
    }
    // A draft: accepted with its probability; when rejected, drawn from the rest (its mass out).
    size_t skip = n;  // the draft's index among the kept candidates (n: not among them)
    if (draft >= 0) {
      for (size_t i = 0; i < n; ++i)
        if (cand_[i].id == draft) skip = i;
      if (skip < n) {
        const double p_draft = probs_[skip] / z;
        if (rng_.uniform() < p_draft) {
          if (accepted != nullptr) *accepted = true;
          last_logprob_ = static_cast<float>(static_cast<double>(logits[static_cast<size_t>(draft)]) - log_z);
          return draft;
        }
        z -= probs_[skip];
      }
    }
    double r = rng_.uniform() * z;
    chosen = cand_[n - 1].id;
    if (skip == n - 1 && n > 1) chosen = cand_[n - 2].id;
    for (size_t i = 0; i < n; ++i) {
      if (i == skip) continue;
      r -= probs_[i];
      if (r < 0.0) {
        chosen = cand_[i].id;
        break;
      }
    }
  }
  if (config_.greedy() && draft >= 0 && accepted != nullptr) *accepted = chosen == draft;
  last_logprob_ = static_cast<float>(static_cast<double>(logits[static_cast<size_t>(chosen)]) - log_z);
  return chosen;
}

}  // namespace er::sampling
