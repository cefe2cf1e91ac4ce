// Model hyper-parameters read from GGUF metadata (`{arch}.*` keys), validated, with llama.cpp's defaults.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "gguf/gguf.h"

namespace er::model {

// How RoPE pairs dimensions: llama rotates adjacent pairs (x[2i], x[2i+1]); NeoX-style models
// (qwen2, qwen3, gemma) rotate x[i] with x[i + d/2].
enum class RopeStyle { kNormal, kNeox };
const char* rope_style_name(RopeStyle s);

struct HParams {
  std::string arch;         // general.architecture: "llama", "qwen2", "qwen3", ...
  std::string name;         // general.name (may be empty)
  int64_t n_layer = 0;      // {arch}.block_count
  int64_t n_embd = 0;       // {arch}.embedding_length
  int64_t n_ff = 0;         // {arch}.feed_forward_length
  int64_t n_head = 0;       // {arch}.attention.head_count
  int64_t n_head_kv = 0;    // {arch}.attention.head_count_kv (default n_head)
  int64_t head_dim_k = 0;   // {arch}.attention.key_length (default n_embd / n_head)
  int64_t head_dim_v = 0;   // {arch}.attention.value_length (default head_dim_k)
  int64_t n_rot = 0;        // {arch}.rope.dimension_count (default head_dim_k)
  int64_t n_ctx_train = 0;  // {arch}.context_length
  int64_t n_vocab = 0;      // {arch}.vocab_size, else length of tokenizer.ggml.tokens
  double rope_freq_base = 10000.0;  // {arch}.rope.freq_base
  double rms_eps = 1e-5;            // {arch}.attention.layer_norm_rms_epsilon
  int64_t n_swa = 0;                // {arch}.attention.sliding_window (0: none; the architecture
                                    // says which layers use it, ArchConfig)
  double final_logit_softcap = 0.0;  // {arch}.final_logit_softcapping (0: none)
  double attn_logit_softcap = 0.0;   // {arch}.attn_logit_softcapping (0: none)
  RopeStyle rope_style = RopeStyle::kNormal;

  int64_t n_gqa() const { return n_head / n_head_kv; }  // query heads per KV head
  // Bytes of K and V cached per token of context over all layers, at `bytes_per_elem` (2 for f16).
  int64_t kv_bytes_per_token(int64_t bytes_per_elem) const {
    return n_layer * n_head_kv * (head_dim_k + head_dim_v) * bytes_per_elem;
  }
};

// Reads and validates the hyper-parameters from the metadata alone: ranges, finiteness (RoPE base,
// RMS epsilon), head counts that divide (head_count_kv into head_count; head_count into
// embedding_length when no key_length is given), an even RoPE dimension count, and a vocab_size
// that agrees with tokenizer.ggml.tokens. Errors name the key at fault.
Result<HParams> read_hparams(const gguf::Metadata& md);

// Checks the hyper-parameters against the tensors `file` describes (their table only; no tensor
// data is read): block_count is exactly the number of blk.N layers present, and the shapes of the
// embedding, output, norm, attention and feed-forward tensors that are present agree with the
// widths and head counts. Errors name the key that the tensors contradict, and the tensor.
Status check_hparams_against_tensors(const gguf::File& file, const HParams& hp);

// read_hparams(file.metadata()) then check_hparams_against_tensors(): what `info` and the model
// loader use.
Result<HParams> read_hparams(const gguf::File& file);

}  // namespace er::model
