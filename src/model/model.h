// Model: a GGUF file memory-mapped, its hyper-parameters, tokenizer and weights bound by name and
// validated by shape and type. Architectures are configuration (ArchConfig), not code forks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "kernels/quant_act.h"
#include "model/hparams.h"
#include "tokenizer/tokenizer.h"

namespace er::model {

// Limits of one engine context (model::Context, forward.h): threads and sequences (paths). A
// request above them is refused; callers that check a request before creating a context (a
// sweep's configuration) use these.
inline constexpr int kMaxContextThreads = 256;
inline constexpr int kMaxContextSequences = 256;

// The feed-forward's gated activation: silu(gate) * up (llama, qwen) or gelu_tanh(gate) * up (gemma).
enum class FfnAct { kSwiGlu, kGeGlu };

// What distinguishes the supported families; everything else is shared.
struct ArchConfig {
  std::string name;          // "llama", "qwen2", "qwen3", "gemma3"
  bool qkv_bias = false;     // q/k/v projections have biases (qwen2; optional for llama)
  bool qk_norm = false;      // per-head RMSNorm of q and k before RoPE (qwen3, gemma3)
  bool post_norms = false;   // RMSNorm of the attention and feed-forward outputs before each
                             // residual add (gemma3: post_attention_norm, post_ffw_norm)
  FfnAct ffn_act = FfnAct::kSwiGlu;
  bool embd_scale = false;   // token embeddings times sqrtf(n_embd) (gemma)
  bool q_prescale = false;   // q times the attention scale after RoPE, softmax scale 1 (gemma;
                             // llama.cpp's f_attention_scale); else the scale is the softmax's
  int swa_period = 0;        // with attention.sliding_window > 0: layer il attends to the last
                             // n_swa positions unless (il + 1) % swa_period == 0 (gemma3: 6)
  double rope_base_swa = 0;  // RoPE base of those sliding-window layers (gemma3: 10000)
};

// Returns the configuration for `arch`, or unsupported naming it and the supported ones.
Result<ArchConfig> arch_config(const std::string& arch);

// Whether layer il attends through a sliding window of hp.n_swa positions (else to the whole
// context): the architecture's pattern, and only when the file gives a window.
bool is_swa_layer(const ArchConfig& arch, const HParams& hp, int64_t il);
// The scale of q . k: 1 / sqrt(head_dim_k), except Gemma 3 27B's 1 / sqrt(n_embd / n_head)
// (llama.cpp's f_attention_scale, which it tells by 62 layers).
float attention_scale(const ArchConfig& arch, const HParams& hp);

struct LayerWeights {
  const float* attn_norm = nullptr;  // (n_embd,)
  kernels::Matrix wq;                // (n_head * head_dim, n_embd)
  kernels::Matrix wk;                // (n_head_kv * head_dim, n_embd)
  kernels::Matrix wv;                // (n_head_kv * head_dim_v, n_embd)
  kernels::Matrix wo;                // (n_embd, n_head * head_dim_v)
  const float* bq = nullptr;         // (n_head * head_dim,) or null
  const float* bk = nullptr;         // (n_head_kv * head_dim,) or null
  const float* bv = nullptr;         // (n_head_kv * head_dim_v,) or null
  const float* q_norm = nullptr;     // (head_dim,) qwen3, gemma3
  const float* k_norm = nullptr;     // (head_dim,) qwen3, gemma3
  const float* attn_post_norm = nullptr;  // (n_embd,) gemma3
  const float* ffn_norm = nullptr;   // (n_embd,)
  const float* ffn_post_norm = nullptr;   // (n_embd,) gemma3
  kernels::Matrix w_gate;            // (n_ff, n_embd)
  kernels::Matrix w_up;              // (n_ff, n_embd)
  kernels::Matrix w_down;            // (n_embd, n_ff)
};

struct Weights {
  kernels::Matrix token_embd;        // (n_vocab, n_embd)
  const float* output_norm = nullptr;  // (n_embd,)
  kernels::Matrix output;            // (n_vocab, n_embd); token_embd when tied
  std::vector<LayerWeights> layers;  // (n_layer,)
  bool tied_output = false;
};

// Anonymous memory holding the load-time repacked weights (kernels/repack.h); unmapped on
// destruction.
class RepackArena {
 public:
  RepackArena() = default;
  RepackArena(const RepackArena&) = delete;
  RepackArena& operator=(const RepackArena&) = delete;
  ~RepackArena();
  void* base = nullptr;  // what mmap returned
  size_t size = 0;       // bytes mapped at base
};

class Model {
 public:
  // Opens, validates and binds `path`. Bad files, unknown architectures, missing tensors and
  // tensors of the wrong shape or type fail with a message naming the file and the tensor.
  static Result<std::unique_ptr<Model>> load(const std::string& path);

  const std::string& path() const { return path_; }
  const gguf::File& file() const { return file_; }
  const HParams& hparams() const { return hp_; }
  const ArchConfig& arch() const { return arch_; }
  const Weights& weights() const { return w_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tok_; }
  // Weight bytes streamed per decoded token (model_summary.h).
  uint64_t bytes_read_per_token() const { return bytes_read_per_token_; }

 private:
  Model(std::string path, gguf::File file) : path_(std::move(path)), file_(std::move(file)) {}
  Status bind();

  std::string path_;
  gguf::File file_;
  HParams hp_;
  ArchConfig arch_;
  Weights w_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  RepackArena repacked_;  // the repacked matrices (Q4_K / Q4_1 x16, x8; empty when none is repacked)
  uint64_t bytes_read_per_token_ = 0;
};

}  // namespace er::model
