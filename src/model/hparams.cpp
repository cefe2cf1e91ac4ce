// Reads HParams from GGUF metadata; every value is range-checked and errors name the key.
#include "model/hparams.h"

#include <string_view>

namespace er::model {
namespace {

// Limits far above any real model; they reject absurd values before anything is sized from them.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxVocab = int64_t{1} << 24;

Status check_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Status::invalid("metadata key '" + key + "' = " + std::to_string(v) + " is out of range [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Status::ok();
}

// A per-model integer that some models store as a per-layer array (all equal for the models we
// run); takes the first element and requires the rest to match.
Result<int64_t> get_int_or_uniform_array(const gguf::Metadata& md, const std::string& key) {
  const gguf::Value* v = md.find(key);
  if (v != nullptr && v->type() == gguf::ValueType::kArray) {
    ER_ASSIGN_OR_RETURN(std::vector<int64_t> values, md.get_int_array(key));
    if (values.empty()) return Status::invalid("metadata key '" + key + "' is an empty array");
    for (int64_t x : values) {
      if (x != values[0]) {
        return Status::unsupported("metadata key '" + key + "' varies per layer, which is not supported");
      }
    }
    return values[0];
  }
  return md.get_int(key);
}

}  // namespace

const char* rope_style_name(RopeStyle s) { return s == RopeStyle::kNeox ? "neox" : "normal"; }

Result<HParams> read_hparams(const gguf::Metadata& md) {
  HParams hp;
  ER_ASSIGN_OR_RETURN(hp.arch, md.get_string("general.architecture"));
  if (hp.arch.empty()) return Status::invalid("metadata key 'general.architecture' is empty");
  ER_ASSIGN_OR_RETURN(hp.name, md.get_string_or("general.name", ""));
  const std::string p = hp.arch + ".";

  ER_ASSIGN_OR_RETURN(hp.n_layer, md.get_int(p + "block_count"));
  ER_RETURN_IF_ERROR(check_range(p + "block_count", hp.n_layer, 1, kMaxLayers));
  ER_ASSIGN_OR_RETURN(hp.n_embd, md.get_int(p + "embedding_length"));
  ER_RETURN_IF_ERROR(check_range(p + "embedding_length", hp.n_embd, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.n_ff, get_int_or_uniform_array(md, p + "feed_forward_length"));
  ER_RETURN_IF_ERROR(check_range(p + "feed_forward_length", hp.n_ff, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.n_head, get_int_or_uniform_array(md, p + "attention.head_count"));
  ER_RETURN_IF_ERROR(check_range(p + "attention.head_count", hp.n_head, 1, kMaxWidth));
  if (md.contains(p + "attention.head_count_kv")) {
    ER_ASSIGN_OR_RETURN(hp.n_head_kv, get_int_or_uniform_array(md, p + "attention.head_count_kv"));
  } else {
    hp.n_head_kv = hp.n_head;
  }
  ER_RETURN_IF_ERROR(check_range(p + "attention.head_count_kv", hp.n_head_kv, 1, hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0) {
    return Status::invalid("metadata key '" + p + "attention.head_count_kv' = " + std::to_string(hp.n_head_kv) +
                           " does not divide head_count = " + std::to_string(hp.n_head));
  }
  const int64_t default_head_dim = hp.n_embd / hp.n_head;
  ER_ASSIGN_OR_RETURN(hp.head_dim_k, md.get_int_or(p + "attention.key_length", default_head_dim));
  ER_RETURN_IF_ERROR(check_range(p + "attention.key_length", hp.head_dim_k, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.head_dim_v, md.get_int_or(p + "attention.value_length", hp.head_dim_k));
  ER_RETURN_IF_ERROR(check_range(p + "attention.value_length", hp.head_dim_v, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.n_rot, md.get_int_or(p + "rope.dimension_count", hp.head_dim_k));
  ER_RETURN_IF_ERROR(check_range(p + "rope.dimension_count", hp.n_rot, 0, hp.head_dim_k));
  ER_ASSIGN_OR_RETURN(hp.n_ctx_train, md.get_int(p + "context_length"));
  ER_RETURN_IF_ERROR(check_range(p + "context_length", hp.n_ctx_train, 1, kMaxContext));

  if (md.contains(p + "vocab_size")) {
    ER_ASSIGN_OR_RETURN(hp.n_vocab, md.get_int(p + "vocab_size"));
    ER_RETURN_IF_ERROR(check_range(p + "vocab_size", hp.n_vocab, 1, kMaxVocab));
  } else {
    ER_ASSIGN_OR_RETURN(size_t n, md.get_array_size("tokenizer.ggml.tokens"));
    hp.n_vocab = static_cast<int64_t>(n);
    ER_RETURN_IF_ERROR(check_range("tokenizer.ggml.tokens", hp.n_vocab, 1, kMaxVocab));
  }

  ER_ASSIGN_OR_RETURN(hp.rope_freq_base, md.get_double_or(p + "rope.freq_base", 10000.0));
  if (!(hp.rope_freq_base > 0.0)) {
    return Status::invalid("metadata key '" + p + "rope.freq_base' must be positive");
  }
  ER_ASSIGN_OR_RETURN(hp.rms_eps, md.get_double_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(hp.rms_eps > 0.0 && hp.rms_eps < 1.0)) {
    return Status::invalid("metadata key '" + p + "attention.layer_norm_rms_epsilon' must be in (0, 1)");
  }
  // llama.cpp's llama_model_rope_type(): these families use NeoX ordering.
  static constexpr std::string_view kNeoxArchs[] = {"qwen2", "qwen2moe", "qwen3", "qwen3moe", "gemma",
                                                    "gemma2", "gemma3", "phi2", "phi3", "stablelm",
                                                    "gptneox", "olmo2", "starcoder2"};
  for (std::string_view a : kNeoxArchs) {
    if (hp.arch == a) hp.rope_style = RopeStyle::kNeox;
  }
  return hp;
}

}  // namespace er::model
