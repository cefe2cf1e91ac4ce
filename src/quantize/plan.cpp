// Which type each tensor gets: llama.cpp's rules (src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type_impl, tensor_type_fallback), for the file types of targets().
//
// The rules count attn_v and ffn_down tensors in llama.cpp's tensor order (its model loader's
// weights_map: tensors outside blocks first, then by block number, by name within each), and
// compare the counters against the block count, so the order below is part of the rules.
#include <algorithm>
#include <cstdio>
#include <string>

#include "kernels/quant.h"
#include "quantize/quantize.h"

namespace er::quantize {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// ggml_n_dims: dimensions up to the last one above 1.
size_t n_dims(const std::vector<uint64_t>& dims) {
  size_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] > 1) n = i + 1;
  }
  return n;
}

// The block number of "blk.N.*" (as sscanf("blk.%d.") reads it), or -1.
int layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  long v = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < 100000000) v = v * 10 + (name[i++] - '0');
  return static_cast<int>(v);
}

// llama.cpp's tensor_allows_quantization (no only_copy; quantize_output_tensor on).
bool allows_quantization(std::string_view name, const std::vector<uint64_t>& dims) {
  if (n_dims(dims) < 2) return false;
  if (!ends_with(name, "weight")) return false;
  static constexpr std::string_view kNever[] = {
      "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
      "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
      "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
      "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",
      "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
      "mm.a.code_embd",
  };
  for (std::string_view part : kNever) {
    if (contains(name, part)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

enum class Category { kTokenEmbd, kAttnV, kAttnK, kAttnQ, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOutput, kOther };

// llama.cpp's tensor_get_category (attn_qkv and attn_kv_b count as attn_v).
Category category_of(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") || contains(name, "attn_v.weight")) {
    return Category::kAttnV;
  }
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

struct Model {
  std::string arch;
  int n_layer = 0;
  int n_expert = 0;
  bool is_70b = false;     // llama.cpp's LLM_TYPE_70B (only that size has an attn_v rule)
  bool tied = true;        // no output.weight: token_embd doubles as the output
  int n_attention_wv = 0;
};

struct Counters {
  int i_attention_wv = 0;
  int i_ffn_down = 0;
};

// llama_tensor_get_type_impl for our file types (Q4_0, Q4_1, Q5_0, Q8_0, Q6_K, Q4_K_M; the
// branches for other file types cannot fire).
DType mix_type(const Model& m, Counters& c, DType t, std::string_view name, uint64_t ne0, FileType ftype) {
  const Category cat = category_of(name);
  if (cat == Category::kOutput || (m.tied && cat == Category::kTokenEmbd)) {
    const auto block = static_cast<uint64_t>(dtype_traits(t).block_elems);
    if (m.arch == "falcon" || ne0 % block != 0) return DType::kQ8_0;
    return t != DType::kQ8_0 ? DType::kQ6_K : t;
  }
  if (cat == Category::kTokenEmbd) return t;
  if (cat == Category::kAttnV) {
    if (ftype == FileType::kQ4_K_M && use_more_bits(c.i_attention_wv, m.n_attention_wv)) t = DType::kQ6_K;
    if (m.is_70b && t == DType::kQ4_K) t = DType::kQ5_K;
    ++c.i_attention_wv;
    return t;
  }
  if (cat == Category::kFfnDown) {
    const int i_layer = c.i_ffn_down;
    if (ftype == FileType::kQ4_K_M) {
      if (m.arch == "falcon") {
        t = i_layer < m.n_layer / 16 ? DType::kQ6_K : use_more_bits(i_layer, m.n_layer) ? DType::kQ5_K : DType::kQ4_K;
      } else if (use_more_bits(i_layer, m.n_layer)) {
        t = DType::kQ6_K;
      }
    }
    ++c.i_ffn_down;
    return t;
  }
  return t;  // attn_output, attn_k, attn_q, ffn_gate, ffn_up: nothing for these file types
}

// tensor_type_fallback: the type to use when a row of `ne0` is not a multiple of t's block.
Result<std::pair<DType, bool>> fallback(std::string_view name, DType t, uint64_t ne0) {
  const auto block = [](DType d) { return static_cast<uint64_t>(dtype_traits(d).block_elems); };
  if (ne0 % block(t) == 0) return std::pair{t, false};
  DType f;
  switch (t) {
    case DType::kQ4_K: f = DType::kQ5_0; break;
    case DType::kQ5_K: f = DType::kQ5_1; break;
    case DType::kQ6_K: f = DType::kQ8_0; break;
    default:
      return Status::invalid("tensor '" + std::string(name) + "': rows of " + std::to_string(ne0) +
                             " weights are not a multiple of the " + std::string(dtype_name(t)) + " block (" +
                             std::to_string(block(t)) + ") and " + std::string(dtype_name(t)) +
                             " has no fallback type");
  }
  if (ne0 % block(f) != 0) f = DType::kF16;
  return std::pair{f, true};
}

Result<Model> read_model(const gguf::File& file) {
  const gguf::Metadata& md = file.metadata();
  Model m;
  ER_ASSIGN_OR_RETURN(m.arch, md.get_string("general.architecture"));
  ER_ASSIGN_OR_RETURN(const int64_t n_layer, md.get_int(m.arch + ".block_count"));
  ER_ASSIGN_OR_RETURN(const int64_t n_expert, md.get_int_or(m.arch + ".expert_count", 0));
  if (n_layer < 1 || n_layer > 100000) {
    return Status::invalid("metadata key '" + m.arch + ".block_count' = " + std::to_string(n_layer) +
                           " is outside 1..100000");
  }
  if (n_expert > 1) {
    return Status::unsupported("architecture '" + m.arch + "' with " + std::to_string(n_expert) +
                               " experts: quantize does not implement llama.cpp's mixture-of-experts rules");
  }
  m.n_layer = static_cast<int>(n_layer);
  if (m.arch == "llama" && m.n_layer == 80) {
    ER_ASSIGN_OR_RETURN(const int64_t n_head, md.get_int_or(m.arch + ".attention.head_count", 0));
    ER_ASSIGN_OR_RETURN(const int64_t n_head_kv, md.get_int_or(m.arch + ".attention.head_count_kv", n_head));
    m.is_70b = n_head != n_head_kv;
  }
  for (const gguf::TensorInfo& t : file.tensors()) {
    const Category c = category_of(t.name);
    if (c == Category::kOutput) m.tied = false;
    if (c == Category::kAttnV) ++m.n_attention_wv;
  }
  return m;
}

}  // namespace

Result<std::vector<TensorPlan>> plan(const gguf::File& file, const Target& target, bool pure) {
  ER_ASSIGN_OR_RETURN(const Model model, read_model(file));
  std::vector<const gguf::TensorInfo*> order;
  for (const gguf::TensorInfo& t : file.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const gguf::TensorInfo* a, const gguf::TensorInfo* b) {
    const int la = layer_of(a->name), lb = layer_of(b->name);
    return la != lb ? la < lb : a->name < b->name;
  });

  const bool quantized_target = dtype_traits(target.tensor_type).block_elems > 1;
  const bool rules = quantized_target && !pure && !target.pure_only;
  Counters counters;
  std::vector<TensorPlan> out;
  out.reserve(order.size());
  for (const gguf::TensorInfo* t : order) {
    TensorPlan p{t->name, t->dims, t->type, t->type, false, false};
    if (allows_quantization(t->name, t->dims)) {
      DType to = target.tensor_type;
      if (quantized_target) {
        if (rules) to = mix_type(model, counters, to, t->name, t->dims[0], target.file_type);
        ER_ASSIGN_OR_RETURN(const auto fb, fallback(t->name, to, t->dims[0]));
        to = fb.first;
        p.fallback = fb.second;
      }
      p.to = to;
      p.quantize = to != t->type;
      if (p.quantize && !kernels::can_dequantize(t->type)) {
        return Status::unsupported("tensor '" + t->name + "' is " + std::string(dtype_name(t->type)) +
                                   ", which quantize cannot read (it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
                                   "Q8_0, Q4_K and Q6_K)");
      }
      if (p.quantize && !kernels::can_quantize(to)) {
        return Status::unsupported("tensor '" + t->name + "': llama.cpp's rules for " + std::string(target.name) +
                                   " give it type " + std::string(dtype_name(to)) + ", which quantize cannot write");
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace er::quantize
