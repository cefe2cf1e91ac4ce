// Reads HParams from GGUF metadata; every value is range-checked and errors name the key. With the
// file at hand, the metadata is also checked against the tensors it describes.
#include "model/hparams.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>
#include <vector>

namespace er::model {
namespace {

// Limits far above any real model; they reject absurd values before anything is sized from them.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxVocab = int64_t{1} << 24;

std::string key_msg(const std::string& key) { return "metadata key '" + key + "'"; }

Status check_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Status::invalid(key_msg(key) + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
  }
  return Status::ok();
}

std::string show_double(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A per-model integer that some models store as a per-layer array (all equal for the models we
// run, one entry per layer); takes the first element and requires the rest to match.
Result<int64_t> get_int_or_uniform_array(const gguf::Metadata& md, const std::string& key, int64_t n_layer) {
  const gguf::Value* v = md.find(key);
  if (v != nullptr && v->type() == gguf::ValueType::kArray) {
    ER_ASSIGN_OR_RETURN(std::vector<int64_t> values, md.get_int_array(key));
    if (values.empty()) return Status::invalid(key_msg(key) + " is an empty array");
    if (static_cast<int64_t>(values.size()) != n_layer) {
      return Status::invalid(key_msg(key) + " has " + std::to_string(values.size()) +
                             " per-layer entries, but block_count = " + std::to_string(n_layer));
    }
    for (int64_t x : values) {
      if (x != values[0]) {
        return Status::unsupported(key_msg(key) + " varies per layer, which is not supported");
      }
    }
    return values[0];
  }
  return md.get_int(key);
}

std::string show_dims(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// The index N of a "blk.N." tensor name, or -1.
int64_t layer_index(std::string_view name) {
  constexpr std::string_view kPrefix = "blk.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return -1;
  int64_t n = 0;
  size_t i = kPrefix.size();
  const size_t start = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i - start < 9) n = n * 10 + (name[i++] - '0');
  if (i == start || i >= name.size() || name[i] != '.') return -1;
  return n;
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
  ER_ASSIGN_OR_RETURN(hp.n_ff, get_int_or_uniform_array(md, p + "feed_forward_length", hp.n_layer));
  ER_RETURN_IF_ERROR(check_range(p + "feed_forward_length", hp.n_ff, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.n_head, get_int_or_uniform_array(md, p + "attention.head_count", hp.n_layer));
  ER_RETURN_IF_ERROR(check_range(p + "attention.head_count", hp.n_head, 1, kMaxWidth));
  if (md.contains(p + "attention.head_count_kv")) {
    ER_ASSIGN_OR_RETURN(hp.n_head_kv, get_int_or_uniform_array(md, p + "attention.head_count_kv", hp.n_layer));
  } else {
    hp.n_head_kv = hp.n_head;
  }
  ER_RETURN_IF_ERROR(check_range(p + "attention.head_count_kv", hp.n_head_kv, 1, hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0) {
    return Status::invalid(key_msg(p + "attention.head_count_kv") + " = " + std::to_string(hp.n_head_kv) +
                           " does not divide head_count = " + std::to_string(hp.n_head));
  }
  // Without an explicit key_length the head size is embedding_length / head_count, which must divide.
  if (!md.contains(p + "attention.key_length") && hp.n_embd % hp.n_head != 0) {
    return Status::invalid(key_msg(p + "attention.head_count") + " = " + std::to_string(hp.n_head) +
                           " does not divide embedding_length = " + std::to_string(hp.n_embd) +
                           " (and no attention.key_length gives the head size)");
  }
  const int64_t default_head_dim = hp.n_embd / hp.n_head;
  ER_ASSIGN_OR_RETURN(hp.head_dim_k, md.get_int_or(p + "attention.key_length", default_head_dim));
  ER_RETURN_IF_ERROR(check_range(p + "attention.key_length", hp.head_dim_k, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.head_dim_v, md.get_int_or(p + "attention.value_length", hp.head_dim_k));
  ER_RETURN_IF_ERROR(check_range(p + "attention.value_length", hp.head_dim_v, 1, kMaxWidth));
  ER_ASSIGN_OR_RETURN(hp.n_rot, md.get_int_or(p + "rope.dimension_count", hp.head_dim_k));
  ER_RETURN_IF_ERROR(check_range(p + "rope.dimension_count", hp.n_rot, 2, hp.head_dim_k));
  if (hp.n_rot % 2 != 0) {
    return Status::invalid(key_msg(p + "rope.dimension_count") + " = " + std::to_string(hp.n_rot) +
                           " is odd (RoPE rotates pairs of dimensions)");
  }
  ER_ASSIGN_OR_RETURN(hp.n_ctx_train, md.get_int(p + "context_length"));
  ER_RETURN_IF_ERROR(check_range(p + "context_length", hp.n_ctx_train, 1, kMaxContext));

  const bool has_tokens = md.contains("tokenizer.ggml.tokens");
  int64_t n_tokens = 0;
  if (has_tokens) {
    ER_ASSIGN_OR_RETURN(size_t n, md.get_array_size("tokenizer.ggml.tokens"));
    n_tokens = static_cast<int64_t>(n);
    if (n_tokens == 0) return Status::invalid("metadata key 'tokenizer.ggml.tokens' is empty: the vocabulary has no tokens");
    ER_RETURN_IF_ERROR(check_range("tokenizer.ggml.tokens", n_tokens, 1, kMaxVocab));
  }
  if (md.contains(p + "vocab_size")) {
    ER_ASSIGN_OR_RETURN(hp.n_vocab, md.get_int(p + "vocab_size"));
    ER_RETURN_IF_ERROR(check_range(p + "vocab_size", hp.n_vocab, 1, kMaxVocab));
    if (has_tokens && n_tokens != hp.n_vocab) {
      return Status::invalid(key_msg(p + "vocab_size") + " = " + std::to_string(hp.n_vocab) +
                             ", but 'tokenizer.ggml.tokens' holds " + std::to_string(n_tokens) + " tokens");
    }
  } else if (has_tokens) {
    hp.n_vocab = n_tokens;
  } else {
    return Status::not_found("metadata key 'tokenizer.ggml.tokens' not found (nor '" + p + "vocab_size')");
  }

  ER_ASSIGN_OR_RETURN(hp.rope_freq_base, md.get_double_or(p + "rope.freq_base", 10000.0));
  if (!(std::isfinite(hp.rope_freq_base) && hp.rope_freq_base > 0.0)) {
    return Status::invalid(key_msg(p + "rope.freq_base") + " = " + show_double(hp.rope_freq_base) +
                           " must be a finite number > 0");
  }
  ER_ASSIGN_OR_RETURN(hp.rms_eps, md.get_double_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(hp.rms_eps > 0.0 && hp.rms_eps < 1.0)) {
    return Status::invalid(key_msg(p + "attention.layer_norm_rms_epsilon") + " = " + show_double(hp.rms_eps) +
                           " must be in (0, 1)");
  }
  ER_ASSIGN_OR_RETURN(hp.n_swa, md.get_int_or(p + "attention.sliding_window", 0));
  ER_RETURN_IF_ERROR(check_range(p + "attention.sliding_window", hp.n_swa, 0, kMaxContext));
  for (auto [key, out] : {std::pair{p + "final_logit_softcapping", &hp.final_logit_softcap},
                          std::pair{p + "attn_logit_softcapping", &hp.attn_logit_softcap}}) {
    ER_ASSIGN_OR_RETURN(*out, md.get_double_or(key, 0.0));
    if (!(std::isfinite(*out) && *out >= 0.0)) {
      return Status::invalid(key_msg(key) + " = " + show_double(*out) + " must be a finite number >= 0");
    }
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

Status check_hparams_against_tensors(const gguf::File& file, const HParams& hp) {
  const std::string p = hp.arch + ".";
  const gguf::Metadata& md = file.metadata();

  // Layers: block_count must be exactly the number of blk.N layers the file holds.
  std::set<int64_t> layers;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (const int64_t il = layer_index(t.name); il >= 0) layers.insert(il);
  }
  if (!layers.empty() && *layers.rbegin() >= hp.n_layer) {
    return Status::invalid(key_msg(p + "block_count") + " = " + std::to_string(hp.n_layer) +
                           ", but tensors of " + std::to_string(*layers.rbegin() + 1) +
                           " layers are present (up to 'blk." + std::to_string(*layers.rbegin()) + ".*')");
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (layers.count(il) == 0) {
      return Status::invalid(key_msg(p + "block_count") + " = " + std::to_string(hp.n_layer) +
                             ", but the file holds tensors of only " + std::to_string(layers.size()) +
                             " layers (no 'blk." + std::to_string(il) + ".*' tensor)");
    }
  }

  // Shapes (dims fastest-first) of the tensors the hyper-parameters size. Each dimension names
  // the key it comes from; a tensor that is absent is left to the loader (it may be optional).
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const std::string k_embd = p + "embedding_length";
  const std::string k_vocab = md.contains(p + "vocab_size") ? p + "vocab_size" : std::string("tokenizer.ggml.tokens");
  const std::string k_ff = p + "feed_forward_length";
  const std::string k_head = md.contains(p + "attention.key_length") ? p + "attention.head_count' / '" + p +
                                                                           "attention.key_length"
                                                                     : p + "attention.head_count";
  const std::string k_head_kv = p + "attention.head_count_kv";
  const std::string k_head_kv_v = md.contains(p + "attention.value_length")
                                      ? p + "attention.head_count_kv' / '" + p + "attention.value_length"
                                      : k_head_kv;
  const std::string k_out = md.contains(p + "attention.value_length")
                                ? p + "attention.head_count' / '" + p + "attention.value_length"
                                : k_head;
  struct Dim {
    uint64_t want;
    std::string key;
  };
  const auto check = [&](const std::string& name, const std::vector<Dim>& want) -> Status {
    const gguf::TensorInfo* t = file.find_tensor(name);
    if (t == nullptr) return Status::ok();
    std::vector<uint64_t> expected;
    for (const Dim& d : want) expected.push_back(d.want);
    if (t->dims == expected) return Status::ok();
    // Blame the key of the first dimension that disagrees (a missing or extra dimension: the first).
    std::string key = want[0].key;
    for (size_t i = 0; i < want.size() && i < t->dims.size(); ++i) {
      if (t->dims[i] != want[i].want) {
        key = want[i].key;
        break;
      }
    }
    return Status::invalid(key_msg(key) + " disagrees with tensor '" + name + "': its shape is " +
                           show_dims(t->dims) + ", the hyper-parameters give " + show_dims(expected));
  };
  const uint64_t n_q = u(hp.n_head * hp.head_dim_k), n_k = u(hp.n_head_kv * hp.head_dim_k);
  const uint64_t n_v = u(hp.n_head_kv * hp.head_dim_v), n_attn_out = u(hp.n_head * hp.head_dim_v);
  const Dim embd{u(hp.n_embd), k_embd};
  ER_RETURN_IF_ERROR(check("token_embd.weight", {embd, {u(hp.n_vocab), k_vocab}}));
  ER_RETURN_IF_ERROR(check("output.weight", {embd, {u(hp.n_vocab), k_vocab}}));
  ER_RETURN_IF_ERROR(check("output_norm.weight", {embd}));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    ER_RETURN_IF_ERROR(check(b + "attn_norm.weight", {embd}));
    ER_RETURN_IF_ERROR(check(b + "attn_q.weight", {embd, {n_q, k_head}}));
    ER_RETURN_IF_ERROR(check(b + "attn_k.weight", {embd, {n_k, k_head_kv}}));
    ER_RETURN_IF_ERROR(check(b + "attn_v.weight", {embd, {n_v, k_head_kv_v}}));
    ER_RETURN_IF_ERROR(check(b + "attn_q.bias", {{n_q, k_head}}));
    ER_RETURN_IF_ERROR(check(b + "attn_k.bias", {{n_k, k_head_kv}}));
    ER_RETURN_IF_ERROR(check(b + "attn_v.bias", {{n_v, k_head_kv_v}}));
    ER_RETURN_IF_ERROR(check(b + "attn_output.weight", {{n_attn_out, k_out}, embd}));
    ER_RETURN_IF_ERROR(check(b + "ffn_norm.weight", {embd}));
    ER_RETURN_IF_ERROR(check(b + "ffn_gate.weight", {embd, {u(hp.n_ff), k_ff}}));
    ER_RETURN_IF_ERROR(check(b + "ffn_up.weight", {embd, {u(hp.n_ff), k_ff}}));
    ER_RETURN_IF_ERROR(check(b + "ffn_down.weight", {{u(hp.n_ff), k_ff}, embd}));
  }
  return Status::ok();
}

Result<HParams> read_hparams(const gguf::File& file) {
  ER_ASSIGN_OR_RETURN(HParams hp, read_hparams(file.metadata()));
  ER_RETURN_IF_ERROR(check_hparams_against_tensors(file, hp));
  return hp;
}

}  // namespace er::model
