// Builds the tiny random-weight GGUF fixtures: specs, tensor plans, deterministic weights, GGUF bytes.
#include "fixture_gen.h"

#include <cmath>
#include <string_view>
#include <utility>

#include "core/check.h"
#include "kernels/quant.h"

namespace er::fixtures {
namespace {

// ---- deterministic randomness --------------------------------------------------------------------

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Approximately N(0, 1): the sum of four 16-bit uniforms from one draw (Irwin-Hall), rescaled.
// Plain integer and float arithmetic, so every platform produces the same floats.
float approx_normal(uint64_t& state) {
  const uint64_t r = splitmix64(state);
  const double sum = static_cast<double>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) +
                                         (r >> 48)) + 2.0;           // + 4 * 0.5: cell centres
  const double u4 = sum / 65536.0;                                   // in (0, 4), mean 2
  return static_cast<float>((u4 - 2.0) * 1.7320508075688772);        // var(U) = 1/12 -> 1
}

// ---- specs ---------------------------------------------------------------------------------------

// llama_ftype values for general.file_type.
constexpr uint32_t kFtypeAllF32 = 0, kFtypeF16 = 1, kFtypeQ4_0 = 2, kFtypeQ4_1 = 3, kFtypeQ8_0 = 7,
                   kFtypeQ4_K_M = 15, kFtypeQ6_K = 18;

// Vocabularies above this size store token_embd/output of the 64-wide float fixtures as Q8_0, so
// that a 151k-token vocabulary costs 10 MB per fixture instead of 39 MB.
constexpr int64_t kBigVocab = 65536;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

FixtureSpec base_spec(const std::string& arch, DType type) {
  FixtureSpec s;
  s.arch = arch;
  s.name = "tiny-" + arch + "-" + lower(dtype_name(type));
  s.weight_type = s.embd_type = s.output_type = type;
  const bool k_quant = type == DType::kQ4_K || type == DType::kQ6_K;
  // K-quants need rows that are multiples of 256 (every matrix row is n_embd, n_head * head_dim
  // or n_ff long).
  s.n_layer = k_quant ? 2 : 3;
  s.n_embd = k_quant ? 256 : 64;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = s.n_embd / s.n_head;
  s.n_ff = k_quant ? 512 : 128;
  if (arch == "qwen2" || arch == "qwen3") {
    s.rope_freq_base = 1000000.0f;
    s.rms_eps = 1e-6f;
  }
  s.qkv_bias = arch == "qwen2";
  s.qk_norm = arch == "qwen3";
  // Qwen3 heads are wider than n_embd / n_head in real models (0.6B: 16 x 128 over 1024); the
  // 64-wide fixtures do the same (4 x 32 over 64) so that key_length is exercised.
  if (arch == "qwen3" && !k_quant) s.head_dim = 32;
  // Gemma 3: six layers, so that the sixth is global and the first five use a sliding window of
  // 8 positions (every golden prompt but the shortest is longer); heads of 32 as in qwen3.
  if (arch == "gemma3") {
    s.n_layer = 6;
    s.head_dim = 32;
    s.qk_norm = true;
    s.post_norms = true;
    s.n_swa = 8;
    s.rope_freq_base = 1000000.0f;
    s.rms_eps = 1e-6f;
  }
  switch (type) {
    case DType::kF32: s.file_type = kFtypeAllF32; break;
    case DType::kF16: s.file_type = kFtypeF16; break;
    case DType::kQ4_0: s.file_type = kFtypeQ4_0; break;
    case DType::kQ4_1: s.file_type = kFtypeQ4_1; break;
    case DType::kQ8_0: s.file_type = kFtypeQ8_0; break;
    case DType::kQ4_K: s.file_type = kFtypeQ4_K_M; break;
    case DType::kQ6_K: s.file_type = kFtypeQ6_K; break;
    default: ER_CHECK(false, "no fixture for type " + std::string(dtype_name(type)));
  }
  return s;
}

// Float fixtures with a big vocabulary keep their embeddings in Q8_0 (see kBigVocab).
void shrink_embeddings(FixtureSpec& s, const Vocab& vocab) {
  if (vocab.n_vocab > kBigVocab && (s.weight_type == DType::kF32 || s.weight_type == DType::kF16)) {
    s.embd_type = s.output_type = DType::kQ8_0;
  }
}

// The Q4_K fixtures mimic llama.cpp's Q4_K_M: Q6_K for output, blk.0.attn_v and blk.0.ffn_down.
void make_q4_k_m(FixtureSpec& s) {
  s.output_type = DType::kQ6_K;
  s.mixed_q6_k = true;
}

// ---- GGUF pieces ---------------------------------------------------------------------------------

gguf::Value u32(int64_t v) { return gguf::Value::u32(static_cast<uint32_t>(v)); }

std::string vocab_description(const Vocab& v) {
  return v.source + " (" + v.model + (v.pre.empty() ? "" : "/" + v.pre) + ", " +
         std::to_string(v.n_vocab) + " tokens)";
}

}  // namespace

// ---- vocabularies --------------------------------------------------------------------------------

Result<Vocab> load_vocab(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file.is_ok()) return file.status().with_context("vocabulary source");
  const gguf::Metadata& md = file->metadata();
  Vocab v;
  for (const auto& [key, value] : md.entries()) {
    if (key.rfind("tokenizer.", 0) == 0) v.keys.set(key, value);
  }
  auto tokens = md.get_string_array("tokenizer.ggml.tokens");
  if (!tokens.is_ok()) {
    return tokens.status().with_context("vocabulary source '" + path + "' has no usable tokenizer");
  }
  if (tokens->empty()) return Status::invalid("vocabulary source '" + path + "': no tokens");
  v.n_vocab = static_cast<int64_t>(tokens->size());
  for (const std::string& t : *tokens) v.fingerprint = fnv1a(t, fnv1a("\x1f", v.fingerprint));
  auto model = md.get_string("tokenizer.ggml.model");
  if (!model.is_ok()) return model.status().with_context("vocabulary source '" + path + "'");
  v.model = *model;
  v.pre = md.get_string_or("tokenizer.ggml.pre", "").value();
  const size_t slash = path.find_last_of('/');
  v.source = slash == std::string::npos ? path : path.substr(slash + 1);
  return v;
}

Vocab synthetic_vocab() {
  // GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest map to U+0100..
  std::vector<std::string> tokens;
  std::vector<gguf::Value> types;
  int next_unused = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const int cp = printable ? b : next_unused++;
    std::string utf8;
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
    tokens.push_back(utf8);
    types.push_back(gguf::Value::i32(1));  // normal
  }
  const std::vector<std::string> merges = {"Ġ t", "h e", "i n", "Ġt he"};
  for (const char* merged : {"Ġt", "he", "in", "Ġthe"}) {
    tokens.emplace_back(merged);
    types.push_back(gguf::Value::i32(1));
  }
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    tokens.emplace_back(special);
    types.push_back(gguf::Value::i32(3));  // control
  }
  Vocab v;
  v.model = "gpt2";
  v.pre = "default";
  v.source = "synthetic";
  v.n_vocab = static_cast<int64_t>(tokens.size());
  for (const std::string& t : tokens) v.fingerprint = fnv1a(t, fnv1a("\x1f", v.fingerprint));
  const int64_t eot = v.n_vocab - 3;
  v.keys.set("tokenizer.ggml.model", gguf::Value::string(v.model));
  v.keys.set("tokenizer.ggml.pre", gguf::Value::string(v.pre));
  v.keys.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  v.keys.set("tokenizer.ggml.token_type", gguf::Value::array(gguf::ValueType::kInt32, std::move(types)));
  v.keys.set("tokenizer.ggml.merges", gguf::Value::string_array(merges));
  v.keys.set("tokenizer.ggml.bos_token_id", u32(eot));
  v.keys.set("tokenizer.ggml.eos_token_id", u32(eot));
  v.keys.set("tokenizer.ggml.padding_token_id", u32(eot));
  v.keys.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(false));
  return v;
}

// ---- specs and plans -----------------------------------------------------------------------------

std::vector<FixtureSpec> standard_specs(const Vocab& llama, const Vocab& qwen) {
  std::vector<FixtureSpec> specs;
  // llama in every weight type. q8_0, q4_1 and q4_k have an output.weight; the rest are tied
  // (the output matrix is the bulk of a tiny model: tying halves the file).
  for (DType t : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K,
                  DType::kQ6_K}) {
    FixtureSpec s = base_spec("llama", t);
    s.tied = !(t == DType::kQ8_0 || t == DType::kQ4_1 || t == DType::kQ4_K);
    if (t == DType::kQ4_K) make_q4_k_m(s);
    shrink_embeddings(s, llama);
    specs.push_back(s);
  }
  // qwen2 and qwen3 in f32, q8_0 and q4_k; qwen2-q8_0 has an output.weight, the rest are tied
  // (a 151k vocabulary makes every output.weight 10-32 MB).
  for (const char* arch : {"qwen2", "qwen3"}) {
    for (DType t : {DType::kF32, DType::kQ8_0, DType::kQ4_K}) {
      FixtureSpec s = base_spec(arch, t);
      s.tied = !(std::string_view(arch) == "qwen2" && t == DType::kQ8_0);
      if (t == DType::kQ4_K) make_q4_k_m(s);
      shrink_embeddings(s, qwen);
      specs.push_back(s);
    }
  }
  // gemma3 in f32 (tied, as Gemma is), over the llama vocabulary.
  {
    FixtureSpec s = base_spec("gemma3", DType::kF32);
    s.tied = true;
    shrink_embeddings(s, llama);
    specs.push_back(s);
  }
  return specs;
}

std::vector<TensorPlan> plan_tensors(const FixtureSpec& s) {
  const auto E = static_cast<uint64_t>(s.n_embd);
  const auto Q = static_cast<uint64_t>(s.n_head * s.head_dim);     // query width
  const auto KV = static_cast<uint64_t>(s.n_head_kv * s.head_dim);  // key/value width
  const auto F = static_cast<uint64_t>(s.n_ff);
  // Matrices ~ N(0, 1/fan_in) keep activations O(1) through the layers (fan_in = dims[0]);
  // norm weights ~ 1 + N(0, 0.1^2); biases ~ N(0, 0.1^2).
  auto matrix = [](std::string name, DType t, uint64_t in, uint64_t out) {
    const auto stddev = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in)));
    return TensorPlan{std::move(name), t, {in, out}, stddev, 0.0f};
  };
  auto norm = [](std::string name, uint64_t n) {
    return TensorPlan{std::move(name), DType::kF32, {n}, 0.1f, 1.0f};
  };
  auto bias = [](std::string name, uint64_t n) {
    return TensorPlan{std::move(name), DType::kF32, {n}, 0.1f, 0.0f};
  };

  // token_embd / output are sized by the vocabulary; plan_tensors leaves dims[1] = 0 for
  // build_fixture to fill in.
  std::vector<TensorPlan> t;
  t.push_back(matrix("token_embd.weight", s.embd_type, E, 0));
  t.push_back(norm("output_norm.weight", E));
  if (!s.tied) t.push_back(matrix("output.weight", s.output_type, E, 0));
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const DType wide = s.mixed_q6_k && l == 0 ? DType::kQ6_K : s.weight_type;  // Q4_K_M's extra bits
    t.push_back(norm(p + "attn_norm.weight", E));
    t.push_back(matrix(p + "attn_q.weight", s.weight_type, E, Q));
    t.push_back(matrix(p + "attn_k.weight", s.weight_type, E, KV));
    t.push_back(matrix(p + "attn_v.weight", wide, E, KV));
    if (s.qkv_bias) {
      t.push_back(bias(p + "attn_q.bias", Q));
      t.push_back(bias(p + "attn_k.bias", KV));
      t.push_back(bias(p + "attn_v.bias", KV));
    }
    if (s.qk_norm) {
      t.push_back(norm(p + "attn_q_norm.weight", static_cast<uint64_t>(s.head_dim)));
      t.push_back(norm(p + "attn_k_norm.weight", static_cast<uint64_t>(s.head_dim)));
    }
    t.push_back(matrix(p + "attn_output.weight", s.weight_type, Q, E));
    if (s.post_norms) t.push_back(norm(p + "post_attention_norm.weight", E));
    t.push_back(norm(p + "ffn_norm.weight", E));
    t.push_back(matrix(p + "ffn_gate.weight", s.weight_type, E, F));
    t.push_back(matrix(p + "ffn_up.weight", s.weight_type, E, F));
    t.push_back(matrix(p + "ffn_down.weight", wide, F, E));
    if (s.post_norms) t.push_back(norm(p + "post_ffw_norm.weight", E));
  }
  return t;
}

std::vector<float> tensor_weights(const FixtureSpec& spec, const TensorPlan& tensor, uint64_t seed) {
  uint64_t n = 1;
  for (uint64_t d : tensor.dims) n *= d;
  // The stream depends on the seed, the arch, the width and the tensor name, not on the storage
  // type or on the other tensors.
  uint64_t state = seed ^ fnv1a(spec.arch + "/" + std::to_string(spec.n_embd) + "/" + tensor.name);
  std::vector<float> w(static_cast<size_t>(n));
  for (float& x : w) x = tensor.mean + tensor.stddev * approx_normal(state);
  return w;
}

Result<gguf::Writer> build_fixture(const FixtureSpec& s, const Vocab& vocab, uint64_t seed) {
  if (vocab.n_vocab <= 0) return Status::invalid("fixture '" + s.name + "': empty vocabulary");
  gguf::Writer w;
  const std::string& a = s.arch;
  w.set("general.architecture", gguf::Value::string(a));
  w.set("general.type", gguf::Value::string("model"));
  w.set("general.name", gguf::Value::string(s.name));
  w.set("general.description",
        gguf::Value::string("edgereason tiny random-weight test model (seed " + std::to_string(seed) +
                            "); vocabulary copied from " + vocab_description(vocab)));
  w.set("general.file_type", gguf::Value::u32(s.file_type));
  w.set("general.quantization_version", gguf::Value::u32(2));
  w.set(a + ".vocab_size", u32(vocab.n_vocab));
  w.set(a + ".context_length", u32(s.n_ctx_train));
  w.set(a + ".embedding_length", u32(s.n_embd));
  w.set(a + ".block_count", u32(s.n_layer));
  w.set(a + ".feed_forward_length", u32(s.n_ff));
  w.set(a + ".attention.head_count", u32(s.n_head));
  w.set(a + ".attention.head_count_kv", u32(s.n_head_kv));
  w.set(a + ".rope.freq_base", gguf::Value::f32(s.rope_freq_base));
  w.set(a + ".rope.dimension_count", u32(s.head_dim));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(s.rms_eps));
  if (s.n_swa > 0) w.set(a + ".attention.sliding_window", u32(s.n_swa));
  if (s.head_dim * s.n_head != s.n_embd || a == "qwen3" || a == "gemma3") {
    w.set(a + ".attention.key_length", u32(s.head_dim));
    w.set(a + ".attention.value_length", u32(s.head_dim));
  }
  for (const auto& [key, value] : vocab.keys.entries()) w.set(key, value);

  for (TensorPlan t : plan_tensors(s)) {
    if (t.dims.size() == 2 && t.dims[1] == 0) t.dims[1] = static_cast<uint64_t>(vocab.n_vocab);
    const std::vector<float> x = tensor_weights(s, t, seed);
    const auto bytes = dtype_row_bytes(t.type, x.size());
    if (!bytes) {
      return Status::invalid("fixture '" + s.name + "': tensor '" + t.name + "' of " +
                             std::to_string(x.size()) + " values does not fit type " +
                             std::string(dtype_name(t.type)));
    }
    std::vector<uint8_t> data(static_cast<size_t>(*bytes));
    ER_RETURN_IF_ERROR(kernels::quantize_row(t.type, x.data(), data.data(), static_cast<int64_t>(x.size()))
                           .with_context("fixture '" + s.name + "', tensor '" + t.name + "'"));
    ER_RETURN_IF_ERROR(w.add_tensor(t.name, t.type, t.dims, std::move(data)));
  }
  return w;
}

Result<std::vector<uint8_t>> fixture_bytes(const FixtureSpec& spec, const Vocab& vocab, uint64_t seed) {
  ER_ASSIGN_OR_RETURN(gguf::Writer w, build_fixture(spec, vocab, seed));
  return w.serialize();
}

}  // namespace er::fixtures
