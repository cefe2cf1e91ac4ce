// Model loading: architecture configuration, tensor binding with shape/type checks.
#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "kernels/repack.h"
#include "model/model_summary.h"

namespace er::model {
namespace {

// Binds tensors of one file, checking presence, shape (dims fastest-first) and type.
class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}

  // A weight matrix used by matmul: dims {n_cols, n_rows}.
  Result<kernels::Matrix> matrix(const std::string& name, int64_t n_rows, int64_t n_cols) const {
    ER_ASSIGN_OR_RETURN(gguf::TensorView t, f_.tensor(name));
    ER_RETURN_IF_ERROR(check_dims(name, t, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)}));
    if (!kernels::matmul_supports(t.type())) {
      return Status::unsupported("tensor '" + name + "' has type " + std::string(dtype_name(t.type())) +
                                 ", which the CPU kernels do not support");
    }
    return kernels::Matrix{t.type(), t.data, n_rows, n_cols};
  }

  // A float vector (norm weights, biases): dims {n}, type F32.
  Result<const float*> vector(const std::string& name, int64_t n) const {
    ER_ASSIGN_OR_RETURN(gguf::TensorView t, f_.tensor(name));
    ER_RETURN_IF_ERROR(check_dims(name, t, {static_cast<uint64_t>(n)}));
    if (t.type() != DType::kF32) {
      return Status::unsupported("tensor '" + name + "' has type " + std::string(dtype_name(t.type())) +
                                 ", expected f32");
    }
    return reinterpret_cast<const float*>(t.data);
  }

  // Like vector(), but a missing tensor gives nullptr.
  Result<const float*> optional_vector(const std::string& name, int64_t n) const {
    if (f_.find_tensor(name) == nullptr) return static_cast<const float*>(nullptr);
    return vector(name, n);
  }

 private:
  static Status check_dims(const std::string& name, const gguf::TensorView& t, const std::vector<uint64_t>& want) {
    if (t.dims() == want) return Status::ok();
    auto show = [](const std::vector<uint64_t>& d) {
      std::string s = "[";
      for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
      return s + "]";
    };
    return Status::invalid("tensor '" + name + "' has shape " + show(t.dims()) + ", expected " + show(want));
  }
  const gguf::File& f_;
};

// Which layouts the loader may use (EDGEREASON_REPACK, for A/B runs): unset or "1" every one
// below; "0" none; "q4_K" only Q4_K x16 (the loader before the x8 and Q4_1 x16 layouts); "x8" all
// but Q4_1 x16, Q8_0 x16 and Q6_K x16 (those types then take x8). Another value is treated as unset.
enum class RepackMode { kAll, kOff, kQ4KOnly, kNoQ41x16 };
RepackMode repack_mode() {
  const char* v = std::getenv("EDGEREASON_REPACK");
  if (v == nullptr) return RepackMode::kAll;
  if (std::strcmp(v, "0") == 0) return RepackMode::kOff;
  if (std::strcmp(v, "q4_K") == 0) return RepackMode::kQ4KOnly;
  if (std::strcmp(v, "x8") == 0) return RepackMode::kNoQ41x16;
  return RepackMode::kAll;
}

// The layout a matrix is repacked into at load, or kRowMajor to leave it: only layouts the
// default kernel level reads directly (kernels::reads_layout; elsewhere their rows would be
// rebuilt per tile, which costs more than it saves). x86-64 AVX-512 reads every layout, AArch64
// dotprod/i8mm all but Q8_0 x16; AVX2 and NEON none.
kernels::Layout repack_layout(const kernels::Matrix& m, RepackMode mode) {
  using kernels::Layout;
  if (m.layout != Layout::kRowMajor || mode == RepackMode::kOff) return Layout::kRowMajor;
  const kernels::Isa isa = kernels::default_isa();
  const auto take = [&](Layout l) {
    return kernels::can_repack(l, m.type, m.n_rows, m.n_cols) && kernels::reads_layout(l, m.type, isa);
  };
  if (take(Layout::kQ4Kx16)) return Layout::kQ4Kx16;
  if (mode == RepackMode::kQ4KOnly) return Layout::kRowMajor;
  if (mode == RepackMode::kAll) {
    for (const Layout l : {Layout::kQ4_1x16, Layout::kQ8_0x16, Layout::kQ6Kx16}) {
      if (take(l)) return l;
    }
  }
  return take(Layout::kX8) ? Layout::kX8 : Layout::kRowMajor;
}

constexpr size_t kSliceBytes = size_t{4} << 20;  // file bytes repacked between two drops

// Repacks the matrices among `mats` that can take it (repack_layout: Q4_K, Q4_1, Q8_0, Q6_K into x16,
// the other block types into x8 on AVX-512; kernels/repack.h),
// into one anonymous, 2 MiB-aligned arena advised for transparent huge pages, and points the
// matrices there. As each slice of a tensor is copied its pages of the file mapping are dropped
// (MADV_DONTNEED: the mapping is private and unwritten, so this only unmaps page-cache pages), so
// the resident set stays about the file size and at most one slice is held twice. (Rewriting in
// place in the copy-on-write mapping also keeps the memory down but leaves the weights on
// scattered 4 KiB pages, while the page cache maps the file with large folios: decode, which
// streams every weight once per token, ran ~10 % slower that way.) `mats` must not share bytes
// (the embedding table, which a tied output head shares, is not among them).
Status repack_weights(const std::vector<kernels::Matrix*>& mats, RepackMode mode, RepackArena* arena) {
  struct Item {
    kernels::Matrix* m;
    size_t bytes;
    size_t offset;
    kernels::Layout layout;
  };
  std::vector<Item> items;
  size_t total = 0;
  for (kernels::Matrix* m : mats) {
    const kernels::Layout layout = repack_layout(*m, mode);
    if (layout == kernels::Layout::kRowMajor) continue;
    const size_t bytes = static_cast<size_t>(m->n_rows) * *dtype_row_bytes(m->type, static_cast<uint64_t>(m->n_cols));
    items.push_back({m, bytes, total, layout});
    total += (bytes + 63) / 64 * 64;
  }
  if (items.empty()) return Status::ok();
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t map_bytes = total + kHuge;
  void* base = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    return Status::io_error(std::string("cannot map ") + std::to_string(map_bytes) +
                            " bytes for the repacked weights: " + std::strerror(errno));
  }
  arena->base = base;
  arena->size = map_bytes;
  auto* dst = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHuge - 1) / kHuge * kHuge);
  (void)::madvise(dst, total, MADV_HUGEPAGE);  // best effort: THP may be off
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (const Item& it : items) {
    const kernels::Matrix& m = *it.m;
    // In slices of whole row groups (every layout's group g starts at byte g * rows * row_bytes,
    // so a slice repacks on its own), dropping the file pages each slice has read: a tensor is
    // never held twice whole (Qwen2.5-Coder-1.5B's 151936-row Q6_K output head is 182 MiB).
    const size_t row_bytes = it.bytes / static_cast<size_t>(m.n_rows);
    const int64_t group = kernels::group_rows(it.layout);
    const int64_t slice_rows = std::max<int64_t>(1, static_cast<int64_t>(kSliceBytes / row_bytes) / group) * group;
    const auto* src = static_cast<const uint8_t*>(m.data);
    // Only file pages wholly inside the tensor are dropped (edge pages may hold other tensors' bytes).
    uintptr_t dropped_to = (reinterpret_cast<uintptr_t>(src) + page - 1) / page * page;
    for (int64_t r = 0; r < m.n_rows; r += slice_rows) {
      const int64_t rows = std::min(slice_rows, m.n_rows - r);
      const size_t off = static_cast<size_t>(r) * row_bytes;
      kernels::repack(it.layout, m.type, src + off, dst + it.offset + off, rows, m.n_cols);
      const uintptr_t end = (reinterpret_cast<uintptr_t>(src) + off + static_cast<size_t>(rows) * row_bytes) / page * page;
      if (end > dropped_to) {
        (void)::madvise(reinterpret_cast<void*>(dropped_to), end - dropped_to, MADV_DONTNEED);
        dropped_to = end;
      }
    }
  }
  if (::mprotect(base, map_bytes, PROT_READ) != 0) {
    return Status::io_error(std::string("mprotect of the repacked weights failed: ") + std::strerror(errno));
  }
  for (const Item& it : items) {
    it.m->data = dst + it.offset;
    it.m->layout = it.layout;
  }
  return Status::ok();
}

}  // namespace

RepackArena::~RepackArena() {
  if (base != nullptr) ::munmap(base, size);
}

Result<ArchConfig> arch_config(const std::string& arch) {
  if (arch == "llama") return ArchConfig{.name = "llama"};
  if (arch == "qwen2") return ArchConfig{.name = "qwen2", .qkv_bias = true};
  if (arch == "qwen3") return ArchConfig{.name = "qwen3", .qk_norm = true};
  // llama.cpp's llm_build_gemma3: Q/K norms, post-attention and post-FFN norms, GeGLU, embeddings
  // scaled by sqrt(n_embd), q scaled after RoPE; 5 of every 6 layers local (sliding window,
  // RoPE base 10000), the 6th global (the file's RoPE base). The norm weights in the GGUF already
  // hold Gemma's (1 + w) (convert_hf_to_gguf.py adds the 1), so they multiply as they are.
  if (arch == "gemma3") {
    return ArchConfig{.name = "gemma3", .qk_norm = true, .post_norms = true, .ffn_act = FfnAct::kGeGlu,
                      .embd_scale = true, .q_prescale = true, .swa_period = 6, .rope_base_swa = 10000.0};
  }
  return Status::unsupported("architecture '" + arch + "' is not supported (supported: llama, qwen2, qwen3, gemma3)");
}

bool is_swa_layer(const ArchConfig& arch, const HParams& hp, int64_t il) {
  return hp.n_swa > 0 && arch.swa_period > 0 && (il + 1) % arch.swa_period != 0;
}

float attention_scale(const ArchConfig& arch, const HParams& hp) {
  if (arch.name == "gemma3" && hp.n_layer == 62) return 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  return 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  ER_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  std::unique_ptr<Model> m(new Model(path, std::move(file)));
  Status st = m->bind();
  if (!st.is_ok()) return st.with_context("'" + path + "'");
  return m;
}

Status Model::bind() {
  ER_ASSIGN_OR_RETURN(hp_, read_hparams(file_.metadata()));
  ER_ASSIGN_OR_RETURN(arch_, arch_config(hp_.arch));
  for (auto [what, v] : {std::pair{"final_logit_softcapping", hp_.final_logit_softcap},
                         std::pair{"attn_logit_softcapping", hp_.attn_logit_softcap}}) {
    if (v != 0.0) {
      return Status::unsupported("metadata key '" + hp_.arch + "." + what + "' = " + std::to_string(v) +
                                 ": logit soft-capping is not supported");
    }
  }
  ER_RETURN_IF_ERROR(check_hparams_against_tensors(file_, hp_));
  ER_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(file_.metadata()));
  tok_ = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
  if (tok_->n_vocab() != hp_.n_vocab) {  // read_hparams checks this too; kept as the binding's invariant
    return Status::invalid("metadata key 'tokenizer.ggml.tokens' holds " + std::to_string(tok_->n_vocab()) +
                           " tokens, but the model's vocabulary is " + std::to_string(hp_.n_vocab));
  }

  const Binder b(file_);
  const int64_t n_embd = hp_.n_embd, n_vocab = hp_.n_vocab, n_ff = hp_.n_ff;
  const int64_t n_q = hp_.n_head * hp_.head_dim_k;
  const int64_t n_k = hp_.n_head_kv * hp_.head_dim_k;
  const int64_t n_v = hp_.n_head_kv * hp_.head_dim_v;
  const int64_t n_attn_out = hp_.n_head * hp_.head_dim_v;

  ER_ASSIGN_OR_RETURN(w_.token_embd, b.matrix("token_embd.weight", n_vocab, n_embd));
  ER_ASSIGN_OR_RETURN(w_.output_norm, b.vector("output_norm.weight", n_embd));
  w_.tied_output = file_.find_tensor("output.weight") == nullptr;
  if (w_.tied_output) {
    w_.output = w_.token_embd;
  } else {
    ER_ASSIGN_OR_RETURN(w_.output, b.matrix("output.weight", n_vocab, n_embd));
  }
  w_.layers.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    LayerWeights& L = w_.layers[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    ER_ASSIGN_OR_RETURN(L.attn_norm, b.vector(p + "attn_norm.weight", n_embd));
    ER_ASSIGN_OR_RETURN(L.wq, b.matrix(p + "attn_q.weight", n_q, n_embd));
    ER_ASSIGN_OR_RETURN(L.wk, b.matrix(p + "attn_k.weight", n_k, n_embd));
    ER_ASSIGN_OR_RETURN(L.wv, b.matrix(p + "attn_v.weight", n_v, n_embd));
    ER_ASSIGN_OR_RETURN(L.wo, b.matrix(p + "attn_output.weight", n_embd, n_attn_out));
    if (arch_.qkv_bias) {
      ER_ASSIGN_OR_RETURN(L.bq, b.vector(p + "attn_q.bias", n_q));
      ER_ASSIGN_OR_RETURN(L.bk, b.vector(p + "attn_k.bias", n_k));
      ER_ASSIGN_OR_RETURN(L.bv, b.vector(p + "attn_v.bias", n_v));
    } else {  // some llama conversions carry biases anyway
      ER_ASSIGN_OR_RETURN(L.bq, b.optional_vector(p + "attn_q.bias", n_q));
      ER_ASSIGN_OR_RETURN(L.bk, b.optional_vector(p + "attn_k.bias", n_k));
      ER_ASSIGN_OR_RETURN(L.bv, b.optional_vector(p + "attn_v.bias", n_v));
    }
    if (arch_.qk_norm) {
      ER_ASSIGN_OR_RETURN(L.q_norm, b.vector(p + "attn_q_norm.weight", hp_.head_dim_k));
      ER_ASSIGN_OR_RETURN(L.k_norm, b.vector(p + "attn_k_norm.weight", hp_.head_dim_k));
    }
    if (arch_.post_norms) {
      ER_ASSIGN_OR_RETURN(L.attn_post_norm, b.vector(p + "post_attention_norm.weight", n_embd));
      ER_ASSIGN_OR_RETURN(L.ffn_post_norm, b.vector(p + "post_ffw_norm.weight", n_embd));
    }
    ER_ASSIGN_OR_RETURN(L.ffn_norm, b.vector(p + "ffn_norm.weight", n_embd));
    ER_ASSIGN_OR_RETURN(L.w_gate, b.matrix(p + "ffn_gate.weight", n_ff, n_embd));
    ER_ASSIGN_OR_RETURN(L.w_up, b.matrix(p + "ffn_up.weight", n_ff, n_embd));
    ER_ASSIGN_OR_RETURN(L.w_down, b.matrix(p + "ffn_down.weight", n_embd, n_ff));
  }
  if (const RepackMode mode = repack_mode(); mode != RepackMode::kOff) {
    // Only the output head: the embedding table (the same bytes when tied) is read a row per
    // token from the file mapping, so repacking an untied one would make all of it resident
    // (125 MiB for Qwen2.5-Coder-1.5B's Q4_K table) for nothing.
    std::vector<kernels::Matrix*> mats = {&w_.output};
    for (LayerWeights& L : w_.layers) {
      for (kernels::Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) mats.push_back(m);
    }
    ER_RETURN_IF_ERROR(repack_weights(mats, mode, &repacked_));
  }
  bytes_read_per_token_ = summarize(file_).bytes_read_per_token;
  return Status::ok();
}

}  // namespace er::model
