// The transformer forward pass (llama / qwen2 / qwen3 / gemma3 as configuration), batched over
// entries.
//
// x = embedding rows (* sqrtf(n_embd): gemma). For each layer, with x the residual stream (B, n_embd):
//   xb = rmsnorm(x) * attn_norm
//   q, k, v = xb Wq^T (+bq), xb Wk^T (+bk), xb Wv^T (+bv)
//   q, k = rmsnorm_per_head(q) * q_norm, ... (qwen3, gemma3)
//   q, k = rope(q, pos), rope(k, pos);  cache[seq][pos] = k, v
//     (gemma3: sliding-window layers at their own RoPE base; q *= attention scale)
//   a = attention(q, cache) Wo^T     (gemma3: over the last n_swa positions in sliding-window layers)
//   x += a                           (gemma3: x += rmsnorm(a) * attn_post_norm)
//   xb = rmsnorm(x) * ffn_norm
//   f = (act(xb Wgate^T) * (xb Wup^T)) Wdown^T   act: silu, or gelu-tanh (gemma3)
//   x += f                           (gemma3: x += rmsnorm(f) * ffn_post_norm)
// then logits = (rmsnorm(x) * output_norm) Wout^T for the rows that want them.
// The order of operations and the batch each matmul sees are llama.cpp's (its llama/qwen2/qwen3
// graphs): Q/K/V and gate/up are separate products of one converted activation (matmul_multi),
// and the last layer's residual add and feed-forward run on the logits rows only, as llama.cpp's
// inp_out_ids selection does. With the kernels' llama.cpp arithmetic this reproduces llama.cpp's
// logits bit for bit (docs/engine.md).
#include "model/forward.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace er::model {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

const char* step_name(Step s) {
  // A residual add is counted with the norm that follows it.
  static const char* const kNames[] = {"embed",        "add+attn_norm", "qkv",    "rope+kv_store", "attention", "wo",
                                       "add+ffn_norm", "gate_up",       "swiglu", "down",          "add+out_norm", "output"};
  static_assert(std::size(kNames) == static_cast<size_t>(Step::kCount));
  return kNames[static_cast<int>(s)];
}

Context::Context(const Model& model, const ContextOptions& opts)
    : model_(model), opts_(opts), pool_(opts.n_threads), ws_(opts.isa) {
  const char* env = std::getenv("EDGEREASON_PROFILE_STEPS");
  profile_ = env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0;
}

Context::~Context() {
  if (!profile_ || steps_.evals == 0) return;
  double total = 0.0;
  for (double s : steps_.seconds) total += s;
  std::fprintf(stderr, "edgereason: forward-pass time by step (EDGEREASON_PROFILE_STEPS), %lld passes, %lld tokens:\n",
               static_cast<long long>(steps_.evals), static_cast<long long>(steps_.tokens));
  for (int i = 0; i < static_cast<int>(Step::kCount); ++i) {
    std::fprintf(stderr, "  %-14s %10.1f us/pass %6.1f %%\n", step_name(static_cast<Step>(i)),
                 1e6 * steps_.seconds[i] / static_cast<double>(steps_.evals), total > 0 ? 100.0 * steps_.seconds[i] / total : 0.0);
  }
}

void Context::add_step_time(Step s) {
  const double t = now_seconds();
  steps_.seconds[static_cast<int>(s)] += t - step_t0_;
  step_t0_ = t;
}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextOptions& opts) {
  const HParams& hp = model.hparams();
  if (opts.n_threads < 1 || opts.n_threads > 256) {
    return Status::invalid("${n_threads} (threads) must be in [1, 256] (got " + std::to_string(opts.n_threads) + ")");
  }
  if (opts.n_seq < 1 || opts.n_seq > 256) {
    return Status::invalid("${n_seq} (sequences) must be in [1, 256] (got " + std::to_string(opts.n_seq) + ")");
  }
  if (opts.max_batch < 1) return Status::invalid("batch size must be at least 1");
  if (opts.n_ctx < 1) return Status::invalid("${n_ctx} (context size) must be at least 1 (got " + std::to_string(opts.n_ctx) + ")");
  if (!kernels::isa_supported(opts.isa)) return Status::unsupported("this CPU does not support the requested ISA");

  std::unique_ptr<Context> c(new Context(model, opts));
  ER_ASSIGN_OR_RETURN(c->kv_, KvCache::create(hp, opts.n_ctx, opts.n_seq, opts.kv_type));
  const int64_t B = opts.max_batch;
  const int64_t n_embd = hp.n_embd, hd = hp.head_dim_k;
  const int64_t n_q = hp.n_head * hd, n_kv = hp.n_head_kv * hd;
  c->n_vocab_ = hp.n_vocab;
  c->max_out_ = std::max<int64_t>({opts.max_logits, static_cast<int64_t>(opts.n_seq), 1});
  c->ws_.reserve(std::max(B, c->max_out_), std::max({n_embd, hp.n_ff, n_q}));
  c->attn_scratch_.reserve(opts.n_threads, opts.n_ctx, static_cast<int>(hd));
  c->x_.resize(static_cast<size_t>(B * n_embd));
  c->xb_.resize(static_cast<size_t>(B * n_embd));
  c->q_.resize(static_cast<size_t>(B * n_q));
  c->k_.resize(static_cast<size_t>(B * n_kv));
  c->v_.resize(static_cast<size_t>(B * n_kv));
  c->attn_.resize(static_cast<size_t>(B * n_q));
  c->proj_.resize(static_cast<size_t>(B * n_embd));
  c->gate_.resize(static_cast<size_t>(B * hp.n_ff));
  c->up_.resize(static_cast<size_t>(B * hp.n_ff));
  c->rope_cs_.resize(static_cast<size_t>(B * std::max<int64_t>(hp.n_rot, 2)));
  c->out_x_.resize(static_cast<size_t>(c->max_out_ * n_embd));
  c->logits_.resize(static_cast<size_t>(c->max_out_ * hp.n_vocab));
  c->tasks_.resize(static_cast<size_t>(B));
  c->groups_.resize(static_cast<size_t>(B));
  c->out_groups_.resize(static_cast<size_t>(B));
  c->seq_len_.assign(static_cast<size_t>(opts.n_seq), 0);
  const ArchConfig& arch = model.arch();
  const float scale = attention_scale(arch, hp);
  c->shape_ = {static_cast<int>(hp.n_head), static_cast<int>(hp.n_head_kv), static_cast<int>(hd),
               arch.q_prescale ? 1.0f : scale};
  c->q_scale_ = arch.q_prescale ? scale : 1.0f;
  c->rope_.n_rot = static_cast<int>(hp.n_rot);
  c->rope_.freq_base = static_cast<float>(hp.rope_freq_base);
  c->rope_.neox = hp.rope_style == RopeStyle::kNeox;
  bool any_swa = false;
  for (int64_t il = 0; il < hp.n_layer; ++il) any_swa = any_swa || is_swa_layer(arch, hp, il);
  if (any_swa) {
    c->rope_swa_ = c->rope_;
    c->rope_swa_.freq_base = static_cast<float>(arch.rope_base_swa);
    c->rope_cs_swa_.resize(c->rope_cs_.size());
  }
  c->ops_ = &kernels::ops(opts.isa);
  return c;
}

void Context::fork(int src, int dst, int64_t n_pos) {
  ER_CHECK(src >= 0 && src < opts_.n_seq && dst >= 0 && dst < opts_.n_seq, "fork: sequence out of range");
  ER_CHECK(n_pos <= seq_len_[static_cast<size_t>(src)], "fork: source holds fewer positions");
  kv_->copy_prefix(src, dst, n_pos);
  seq_len_[static_cast<size_t>(dst)] = n_pos;
}

Status Context::check_batch(std::span<const BatchEntry> batch) const {
  if (batch.empty()) return Status::invalid("empty batch");
  if (static_cast<int64_t>(batch.size()) > opts_.max_batch) {
    return Status::invalid("batch of " + std::to_string(batch.size()) + " exceeds the maximum " +
                           std::to_string(opts_.max_batch));
  }
  int64_t n_out = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchEntry& e = batch[i];
    if (e.seq < 0 || e.seq >= opts_.n_seq) return Status::invalid("sequence index " + std::to_string(e.seq) + " out of range");
    if (e.pos < 0 || e.pos >= opts_.n_ctx) {
      return Status::invalid("position " + std::to_string(e.pos) + " is outside the context of " +
                             std::to_string(opts_.n_ctx) + " tokens");
    }
    if (e.token < 0 || e.token >= n_vocab_) return Status::invalid("token id " + std::to_string(e.token) + " out of range");
    if (i > 0 && batch[i - 1].seq == e.seq) {
      if (batch[i - 1].pos + 1 != e.pos) {
        return Status::invalid("positions of sequence " + std::to_string(e.seq) + " are not contiguous in the batch");
      }
    } else if (e.pos > seq_len_[static_cast<size_t>(e.seq)]) {
      return Status::invalid("sequence " + std::to_string(e.seq) + " has " + std::to_string(seq_len_[static_cast<size_t>(e.seq)]) +
                             " cached positions; position " + std::to_string(e.pos) + " would leave a gap");
    }
    n_out += e.want_logits ? 1 : 0;
  }
  if (n_out > max_out_) {
    return Status::invalid(std::to_string(n_out) + " logits rows requested, at most " + std::to_string(max_out_));
  }
  return Status::ok();
}

Status Context::eval(std::span<const BatchEntry> batch) {
  ER_RETURN_IF_ERROR(check_batch(batch));
  const HParams& hp = model_.hparams();
  const Weights& w = model_.weights();
  const int64_t B = static_cast<int64_t>(batch.size());
  const int64_t n_embd = hp.n_embd;
  if (profile_) {
    step_t0_ = now_seconds();
    ++steps_.evals;
    steps_.tokens += B;
  }

  // Token embeddings (gemma: times sqrtf(n_embd), llama.cpp's ggml_scale) and each entry's RoPE
  // rotation (at both bases when some layers use a sliding window).
  const bool embd_scale = model_.arch().embd_scale;
  const float embd_mult = std::sqrt(static_cast<float>(n_embd));
  for (int64_t i = 0; i < B; ++i) {
    const BatchEntry& e = batch[static_cast<size_t>(i)];
    kernels::get_row(w.token_embd, e.token, &x_[static_cast<size_t>(i * n_embd)]);
    if (embd_scale) ops_->scale(&x_[static_cast<size_t>(i * n_embd)], embd_mult, n_embd);
    if (rope_.n_rot > 0) {
      kernels::rope_cache(rope_, e.pos, &rope_cs_[static_cast<size_t>(i * rope_.n_rot)]);
      if (!rope_cs_swa_.empty()) kernels::rope_cache(rope_swa_, e.pos, &rope_cs_swa_[static_cast<size_t>(i * rope_.n_rot)]);
    }
  }

  // The runs of one sequence's entries (check_batch: a sequence's entries are one run; an entry
  // with new_group starts another), and how many of each want logits: the row groups of the
  // matmuls (batch invariance, forward.h).
  n_groups_ = 0;
  n_out_groups_ = 0;
  for (int64_t i = 0; i < B;) {
    int64_t j = i, n_want = 0;
    for (; j < B && batch[static_cast<size_t>(j)].seq == batch[static_cast<size_t>(i)].seq &&
           (j == i || !batch[static_cast<size_t>(j)].new_group);
         ++j) {
      n_want += batch[static_cast<size_t>(j)].want_logits ? 1 : 0;
    }
    groups_[static_cast<size_t>(n_groups_++)] = j - i;
    if (n_want > 0) out_groups_[static_cast<size_t>(n_out_groups_++)] = n_want;
    i = j;
  }

  mark(Step::kEmbed);
  last_kv_bytes_ = 0;
  // The last layer's feed-forward runs on the rows that want logits only (llama.cpp's
  // inp_out_ids): the others feed nothing, and the matmuls then see llama.cpp's batch sizes.
  n_out_ = 0;
  for (int64_t il = 0; il < hp.n_layer; ++il) n_out_ = layer(il, batch, il + 1 == hp.n_layer);
  for (const BatchEntry& e : batch) seq_len_[static_cast<size_t>(e.seq)] = e.pos + 1;

  // Final norm and logits of the output rows (the first n_out_ rows of x_ after the last layer).
  ops_->rmsnorm_rows(x_.data(), w.output_norm, out_x_.data(), n_out_, n_embd, static_cast<float>(hp.rms_eps));
  mark(Step::kOutNorm);
  if (n_out_ > 0) kernels::matmul(w.output, out_x_.data(), logits_.data(), n_out_, ws_, pool_, out_groups());
  mark(Step::kOutput);
  return Status::ok();
}

int64_t Context::layer(int64_t il, std::span<const BatchEntry> batch, bool last) {
  const HParams& hp = model_.hparams();
  const LayerWeights& L = model_.weights().layers[static_cast<size_t>(il)];
  const int64_t B = static_cast<int64_t>(batch.size());
  const int64_t n_embd = hp.n_embd, hd = hp.head_dim_k, n_ff = hp.n_ff;
  const int64_t n_q = hp.n_head * hd, n_kv = hp.n_head_kv * hd;
  const float eps = static_cast<float>(hp.rms_eps);
  const kernels::Ops& op = *ops_;
  const ArchConfig& arch = model_.arch();
  const bool swa = is_swa_layer(arch, hp, il);
  const std::vector<float>& rope_cs = swa ? rope_cs_swa_ : rope_cs_;
  const size_t elem = kv_->type() == DType::kF16 ? 2 : 4;
  auto row = [](std::vector<float>& v, int64_t i, int64_t width) { return &v[static_cast<size_t>(i * width)]; };

  // Attention sub-layer.
  op.rmsnorm_rows(x_.data(), L.attn_norm, xb_.data(), B, n_embd, eps);
  {
    const kernels::Matrix w[3] = {L.wq, L.wk, L.wv};
    float* const y[3] = {q_.data(), k_.data(), v_.data()};
    mark(Step::kAttnNorm);
    kernels::matmul_multi(w, y, 3, xb_.data(), B, ws_, pool_, groups());
    mark(Step::kQkv);
  }
  for (int64_t i = 0; i < B; ++i) {
    float* q = row(q_, i, n_q);
    float* k = row(k_, i, n_kv);
    float* v = row(v_, i, n_kv);
    if (L.bq != nullptr) op.add(q, L.bq, q, n_q);
    if (L.bk != nullptr) op.add(k, L.bk, k, n_kv);
    if (L.bv != nullptr) op.add(v, L.bv, v, n_kv);
    if (L.q_norm != nullptr) {
      for (int64_t h = 0; h < hp.n_head; ++h) op.rmsnorm(q + h * hd, L.q_norm, q + h * hd, hd, eps);
      for (int64_t h = 0; h < hp.n_head_kv; ++h) op.rmsnorm(k + h * hd, L.k_norm, k + h * hd, hd, eps);
    }
    if (rope_.n_rot > 0) {
      const float* cs = &rope_cs[static_cast<size_t>(i * rope_.n_rot)];
      op.rope(q, hp.n_head, hd, cs, rope_.n_rot, rope_.neox);
      op.rope(k, hp.n_head_kv, hd, cs, rope_.n_rot, rope_.neox);
    }
    if (arch.q_prescale) op.scale(q, q_scale_, n_q);
    // Store k and v in the cache at (seq, pos).
    const BatchEntry& e = batch[static_cast<size_t>(i)];
    kv_->store(il, e.seq, e.pos, k, v, op.to_f16);
  }
  // One attention task per run of consecutive entries of the same sequence (an entry with
  // new_group starts its own).
  int64_t n_tasks = 0;
  for (int64_t i = 0; i < B;) {
    int64_t j = i + 1;
    while (j < B && batch[static_cast<size_t>(j)].seq == batch[static_cast<size_t>(i)].seq &&
           !batch[static_cast<size_t>(j)].new_group)
      ++j;
    kernels::AttentionTask& t = tasks_[static_cast<size_t>(n_tasks++)];
    t.q = row(q_, i, n_q);
    t.n_q = j - i;
    t.first_pos = batch[static_cast<size_t>(i)].pos;
    t.kv = kv_->view(il, batch[static_cast<size_t>(i)].seq);
    t.out = row(attn_, i, n_q);
    // Each query row reads K and V of all positions up to its own.
    const int64_t n_read = t.n_q * t.first_pos + t.n_q * (t.n_q + 1) / 2;
    last_kv_bytes_ += static_cast<uint64_t>(n_read) * static_cast<uint64_t>(2 * n_kv) * elem;
    i = j;
  }
  mark(Step::kRopeStore);
  kernels::AttentionShape shape = shape_;
  if (swa) shape.window = hp.n_swa;
  kernels::attention(shape, tasks_.data(), n_tasks, attn_scratch_, pool_, opts_.isa, opts_.batch_invariant);
  mark(Step::kAttention);
  kernels::matmul(L.wo, attn_.data(), proj_.data(), B, ws_, pool_, groups());
  mark(Step::kWo);

  // Residual (gemma3: of the attention output's RMSNorm times attn_post_norm). In the last layer
  // only the rows that want logits go on, packed to the front.
  const auto residual = [&](const float* post_norm, int64_t i, int64_t to) {
    if (post_norm != nullptr) op.rmsnorm(row(proj_, i, n_embd), post_norm, row(proj_, i, n_embd), n_embd, eps);
    op.add(row(x_, i, n_embd), row(proj_, i, n_embd), row(x_, to, n_embd), n_embd);
  };
  int64_t n_rows = B;
  if (last) {
    n_rows = 0;
    for (int64_t i = 0; i < B; ++i) {
      if (!batch[static_cast<size_t>(i)].want_logits) continue;
      residual(L.attn_post_norm, i, n_rows++);
    }
  } else {
    for (int64_t i = 0; i < B; ++i) residual(L.attn_post_norm, i, i);
  }
  if (n_rows == 0) return 0;

  // Feed-forward sub-layer (SwiGLU).
  op.rmsnorm_rows(x_.data(), L.ffn_norm, xb_.data(), n_rows, n_embd, eps);
  {
    const kernels::Matrix w[2] = {L.w_gate, L.w_up};
    float* const y[2] = {gate_.data(), up_.data()};
    mark(Step::kFfnNorm);
    kernels::matmul_multi(w, y, 2, xb_.data(), n_rows, ws_, pool_, last ? out_groups() : groups());
    mark(Step::kGateUp);
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    if (arch.ffn_act == FfnAct::kGeGlu) {
      kernels::geglu(row(gate_, i, n_ff), row(up_, i, n_ff), row(gate_, i, n_ff), n_ff);
    } else {
      op.swiglu(row(gate_, i, n_ff), row(up_, i, n_ff), row(gate_, i, n_ff), n_ff);
    }
  }
  mark(Step::kSwiglu);
  kernels::matmul(L.w_down, gate_.data(), proj_.data(), n_rows, ws_, pool_, last ? out_groups() : groups());
  mark(Step::kDown);
  for (int64_t i = 0; i < n_rows; ++i) residual(L.ffn_post_norm, i, i);
  return n_rows;
}

}  // namespace er::model
