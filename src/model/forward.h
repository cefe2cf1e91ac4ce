// Forward pass: a batch of (token, position, sequence) entries through every layer, with the KV
// cache and all activations allocated once. Serves prefill (many tokens of one sequence) and
// batched decode (one token for each of N sequences) with the same code.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace er::model {

struct BatchEntry {
  int32_t token = 0;
  int64_t pos = 0;          // position in its sequence
  int seq = 0;              // sequence (path) index, < n_seq
  bool want_logits = false; // compute this entry's logits
  // Batch invariance: this entry starts a row group of its own even when the entry before it is
  // of the same sequence, so it gets the arithmetic of a decode step holding it alone (the
  // speculative verify pass: each drafted token's row as plain decoding would compute it).
  bool new_group = false;
};

struct ContextOptions {
  int64_t n_ctx = 4096;      // positions per sequence
  int n_seq = 1;             // sequences (paths) with their own KV
  int64_t max_batch = 512;   // entries per eval() call (prefill is split into chunks of this)
  int64_t max_logits = 1;    // logits rows one eval() may return (at least n_seq are kept)
  int n_threads = 2;
  DType kv_type = DType::kF16;
  kernels::Isa isa = kernels::default_isa();
  // Batch invariance: each sequence's entries get the arithmetic of an eval holding them alone
  // (kernels::RowGroups, attention's each_task_alone), so a decode step's row of one of N paths,
  // or of one request beside others, has a single-sequence decode's bits. false: one llama.cpp
  // batch's arithmetic for the whole eval (what llama.cpp computes for N sequences in one batch).
  bool batch_invariant = true;
};

// Where a forward pass spends its time, step by step (opt-in: EDGEREASON_PROFILE_STEPS=1 in the
// environment when the Context is created; the report goes to stderr when it is destroyed). Wall
// time on the calling thread, so a parallel step counts until its slowest thread is done.
enum class Step { kEmbed, kAttnNorm, kQkv, kRopeStore, kAttention, kWo, kFfnNorm, kGateUp, kSwiglu, kDown, kOutNorm,
                  kOutput, kCount };
struct StepProfile {
  double seconds[static_cast<int>(Step::kCount)] = {};
  int64_t evals = 0;
  int64_t tokens = 0;
};
const char* step_name(Step s);

class Context {
 public:
  ~Context();
  static Result<std::unique_ptr<Context>> create(const Model& model, const ContextOptions& opts);
  // The step timings so far, or nullptr when profiling is off.
  const StepProfile* step_profile() const { return profile_ ? &steps_ : nullptr; }

  const ContextOptions& options() const { return opts_; }
  const Model& model() const { return model_; }
  KvCache& kv() { return *kv_; }
  ThreadPool& pool() { return pool_; }

  // Evaluates `batch` (1..max_batch entries). Entries of one sequence must come in increasing,
  // contiguous positions, and the sequence's cache must hold every earlier position. Returns the
  // logits of the entries with want_logits, in order: row r is logits() + r * n_vocab.
  // PRECONDITIONS are checked (a bad batch is an error, not a crash). Does not allocate.
  Status eval(std::span<const BatchEntry> batch);
  const float* logits(int64_t row) const { return logits_.data() + row * n_vocab_; }
  int64_t n_logits_rows() const { return n_out_; }

  // Number of cached positions of sequence `seq` (entries must start at or before it).
  int64_t seq_len(int seq) const { return seq_len_[static_cast<size_t>(seq)]; }
  // Forgets sequence `seq` (its next entry must be at position 0).
  void clear(int seq) { seq_len_[static_cast<size_t>(seq)] = 0; }
  // Makes `dst` a copy of the first n_pos positions of `src` (prompt shared by N paths).
  // REQUIRES: n_pos <= seq_len(src).
  void fork(int src, int dst, int64_t n_pos);

  // Bytes of KV read by attention for the last eval (for bandwidth accounting).
  uint64_t last_kv_bytes_read() const { return last_kv_bytes_; }

 private:
  Context(const Model& model, const ContextOptions& opts);
  Status check_batch(std::span<const BatchEntry> batch) const;
  // Runs layer il over the batch. In the last layer (`last`) the feed-forward part runs on the
  // rows that want logits only, packed to the front of x_; returns how many rows x_ then holds.
  int64_t layer(int64_t il, std::span<const BatchEntry> batch, bool last);

  const Model& model_;
  ContextOptions opts_;
  ThreadPool pool_;
  kernels::Workspace ws_;
  kernels::AttentionScratch attn_scratch_;
  std::unique_ptr<KvCache> kv_;
  int64_t n_vocab_ = 0;
  int64_t n_out_ = 0;
  uint64_t last_kv_bytes_ = 0;
  std::vector<int64_t> seq_len_;  // (n_seq,) cached positions per sequence

  // Activations, B = max_batch rows.
  std::vector<float> x_;        // (B, n_embd) residual stream
  std::vector<float> xb_;       // (B, n_embd) normalized input of a sub-layer
  std::vector<float> q_;        // (B, n_head * head_dim)
  std::vector<float> k_;        // (B, n_head_kv * head_dim)
  std::vector<float> v_;        // (B, n_head_kv * head_dim)
  std::vector<float> attn_;     // (B, n_head * head_dim)
  std::vector<float> proj_;     // (B, n_embd) output of attn_output / ffn_down
  std::vector<float> gate_;     // (B, n_ff)
  std::vector<float> up_;       // (B, n_ff)
  std::vector<float> rope_cs_;  // (B, n_rot) cos/sin per entry's position
  std::vector<float> rope_cs_swa_;  // (B, n_rot) the same at the sliding-window layers' RoPE base
                                    // (empty when the model has none)
  std::vector<float> out_x_;    // (max_out, n_embd) final hidden states of the logits rows
  std::vector<float> logits_;   // (max_out, n_vocab)
  std::vector<kernels::AttentionTask> tasks_;  // (B,) at most one per entry
  std::vector<int64_t> groups_;      // (B,) entries per run of one sequence (batch invariance)
  std::vector<int64_t> out_groups_;  // (B,) logits rows per run, zeros left out
  int64_t n_groups_ = 0, n_out_groups_ = 0;
  kernels::RowGroups groups() const {
    return opts_.batch_invariant ? kernels::RowGroups(groups_.data(), static_cast<size_t>(n_groups_)) : kernels::RowGroups();
  }
  kernels::RowGroups out_groups() const {
    return opts_.batch_invariant ? kernels::RowGroups(out_groups_.data(), static_cast<size_t>(n_out_groups_))
                                 : kernels::RowGroups();
  }
  kernels::AttentionShape shape_;
  kernels::RopeParams rope_;
  kernels::RopeParams rope_swa_;  // the sliding-window layers' (ArchConfig::rope_base_swa)
  float q_scale_ = 1.0f;          // q *= q_scale_ after RoPE (ArchConfig::q_prescale)
  const kernels::Ops* ops_ = nullptr;
  int64_t max_out_ = 0;
  bool profile_ = false;
  StepProfile steps_;
  double step_t0_ = 0.0;
  // Adds the time since the last mark to step s; with profiling off, one predictable branch.
  void mark(Step s) {
    if (profile_) add_step_time(s);
  }
  void add_step_time(Step s);
};

}  // namespace er::model
