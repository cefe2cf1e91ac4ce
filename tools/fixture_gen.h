// Deterministic tiny random-weight GGUF models (llama, qwen2, qwen3, gemma3) for fast tests; see docs/fixtures.md.
//
// A fixture is fully determined by its spec, the seed and the vocabulary it copies: weights come
// from a splitmix64 stream keyed by (seed, arch, n_embd, tensor name), so the same seed gives the
// same bytes on every platform, and fixtures of one arch and width share the same float weights
// whatever their storage type (tiny-llama-q8_0 is a quantization of tiny-llama-f32).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf.h"

namespace er::fixtures {

inline constexpr uint64_t kDefaultSeed = 1;
inline constexpr const char* kGeneratorVersion = "er_make_fixtures 1";

// The tokenizer of a shipped model: every `tokenizer.*` key, copied verbatim.
struct Vocab {
  gguf::Metadata keys;   // tokenizer.ggml.model, .pre, .tokens, .merges, ... in source order
  int64_t n_vocab = 0;   // length of tokenizer.ggml.tokens
  std::string model;     // tokenizer.ggml.model ("gpt2", "llama")
  std::string pre;       // tokenizer.ggml.pre ("smollm", "qwen2"; empty if absent)
  std::string source;    // where it came from (a file name, or "synthetic")
  uint64_t fingerprint = 0;  // hash of the token strings (detects a changed vocabulary)
};

// Reads the tokenizer of `path`. Errors (invalid input): unreadable GGUF, no tokenizer.ggml.tokens.
Result<Vocab> load_vocab(const std::string& path);
// A small byte-level gpt2 vocabulary (256 byte tokens + 3 specials, no merges): for tests and
// machines without models only, never the default.
Vocab synthetic_vocab();

// One fixture's architecture, widths and storage types.
struct FixtureSpec {
  std::string name;        // "tiny-llama-q4_k"; the file is name + ".gguf"
  std::string arch;        // general.architecture: llama, qwen2, qwen3
  DType weight_type;       // the layer matrices (attn_q/k/v/output, ffn_gate/up/down)
  DType embd_type;         // token_embd.weight
  DType output_type;       // output.weight (ignored when tied)
  bool tied = false;       // no output.weight: the output projection reuses token_embd
  bool mixed_q6_k = false; // Q4_K_M-like: blk.0.attn_v and blk.0.ffn_down stored as Q6_K
  bool qkv_bias = false;   // attn_q/k/v.bias (qwen2)
  bool qk_norm = false;    // attn_q_norm/attn_k_norm (qwen3, gemma3)
  bool post_norms = false; // post_attention_norm/post_ffw_norm (gemma3)
  int64_t n_swa = 0;       // {arch}.attention.sliding_window (gemma3; 0: not written)
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // may differ from n_embd / n_head (qwen3 writes key_length)
  int64_t n_ff = 0;
  int64_t n_ctx_train = 2048;
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  uint32_t file_type = 0;  // general.file_type (llama_ftype)
};

// The standard fixture set for these vocabularies (embedding types depend on the vocabulary size,
// see docs/fixtures.md). `qwen` is used for qwen2/qwen3, `llama` for llama.
std::vector<FixtureSpec> standard_specs(const Vocab& llama, const Vocab& qwen);

// A tensor of a fixture as it will be written.
struct TensorPlan {
  std::string name;
  DType type;
  std::vector<uint64_t> dims;  // fastest-varying first (ggml ne[])
  float stddev;                // weights ~ N(mean, stddev^2)
  float mean;
};
std::vector<TensorPlan> plan_tensors(const FixtureSpec& spec);

// The float weights of one tensor before quantization (dims[0] * ... values).
std::vector<float> tensor_weights(const FixtureSpec& spec, const TensorPlan& tensor, uint64_t seed);

// The GGUF writer for one fixture (metadata + tensors), and its serialized bytes.
Result<gguf::Writer> build_fixture(const FixtureSpec& spec, const Vocab& vocab, uint64_t seed);
Result<std::vector<uint8_t>> fixture_bytes(const FixtureSpec& spec, const Vocab& vocab, uint64_t seed);

struct ManifestEntry {
  std::string name;  // file name, e.g. "tiny-llama-f32.gguf"
  std::string arch;
  std::string type;  // dtype name of the layer weights, e.g. "q4_K"
  std::string sha256;
  uint64_t bytes = 0;
};

struct GenerateOptions {
  std::string out_dir;
  uint64_t seed = kDefaultSeed;
  Vocab llama_vocab;
  Vocab qwen_vocab;
  std::vector<std::string> only;  // fixture names to make (empty: all)
  bool force = false;             // regenerate even when the manifest says the files are current
};

// Writes the fixtures and DIR/manifest.json; skips the work when the manifest records the same
// generator, seed and vocabularies and every file is present with its recorded size (unless
// `force`). Returns the manifest entries. `log` receives one line per fixture (may be null).
Result<std::vector<ManifestEntry>> generate_fixtures(const GenerateOptions& options, std::string* log);

}  // namespace er::fixtures
