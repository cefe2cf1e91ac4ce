// Causal multi-head attention with grouped KV heads over an f32 or f16 KV cache (decode and prefill).
//
// For each query row i at position first_pos + i and each head h (KV head h / (n_head / n_head_kv)):
//   s_j = scale * (q_h . k_j)      for the kv positions j in [0, first_pos + i]   (causal; -inf
//                                  before the sliding window, AttentionShape::window)
//   p   = softmax(s)
//   o_h = sum_j p_j v_j
// As in llama.cpp's CPU path (non-flash attention), bit for bit: with an f16 cache q is rounded to
// f16 before q . k and p to f16 before weighting v; both products sum in llama.cpp's order, which
// depends on the batch (ops.h DotOrder: tinyBLAS for >= 2 queries in the call — or in the task,
// with each_task_alone — ggml_vec_dot for one); the softmax is ggml's (ops.h).
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/isa.h"

namespace er::kernels {

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;   // divides n_head
  int head_dim = 0;
  float scale = 0.0f;  // usually 1 / sqrt(head_dim)
  // Sliding window (0: none): the query at position p attends to positions p - window + 1 .. p
  // only. As llama.cpp's LLAMA_SWA_TYPE_STANDARD mask (position j masked when p - j >= window):
  // the row still runs over positions 0 .. p with the older scores set to -inf, so the softmax and
  // value sums keep llama.cpp's lane order and get exact zeros there.
  int64_t window = 0;
};

// One sequence's KV cache: element (pos, kv_head, d) of K is at k[kv_head * head_stride + pos *
// pos_stride + d]; V likewise. The engine's cache is head-major (head_stride = n_ctx * head_dim,
// pos_stride = head_dim): one head's positions are contiguous, so decode reads each head's keys
// and values as one stream; position-major views (pos_stride = n_head_kv * head_dim, head_stride =
// head_dim) work too.
struct KvCacheView {
  DType type = DType::kF16;  // kF16 or kF32
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t pos_stride = 0;    // elements between positions of one head
  int64_t head_stride = 0;   // elements between KV heads
};

// One sequence's queries: n_q rows at positions first_pos .. first_pos + n_q - 1, attending to
// their own cache. Decode of N paths is N tasks with n_q = 1; prefill is one task with n_q tokens.
struct AttentionTask {
  const float* q = nullptr;  // (n_q, n_head * head_dim)
  int64_t n_q = 0;
  int64_t first_pos = 0;     // the cache holds positions 0 .. first_pos + n_q - 1
  KvCacheView kv;
  float* out = nullptr;      // (n_q, n_head * head_dim)
};

// Per-thread scratch (scores and the rounded query of up to kMaxAttnGroup heads), sized once.
class AttentionScratch {
 public:
  AttentionScratch() = default;
  // Allocates for n_threads threads, up to max_kv cache positions and head_dim.
  void reserve(int n_threads, int64_t max_kv, int head_dim);
  int64_t max_kv() const { return max_kv_; }
  float* scores(int thread_id) { return buf_.get() + thread_id * per_thread_; }  // (kMaxAttnGroup, max_kv)
  float* q_group(int thread_id) {                                                  // (kMaxAttnGroup, head_dim)
    return scores(thread_id) + kGroup * max_kv_;
  }
  int n_threads() const { return n_threads_; }
  int head_dim() const { return head_dim_; }

 private:
  static constexpr int kGroup = 8;  // == kMaxAttnGroup (ops.h)
  int n_threads_ = 0;
  int head_dim_ = 0;
  int64_t max_kv_ = 0;
  int64_t per_thread_ = 0;  // floats per thread
  std::unique_ptr<float[]> buf_;
};

// Runs every task, threads splitting the (task, query, KV head) work items: the query heads that
// share a KV head are scored together, so each cached key and value is read once per group.
// each_task_alone: every task sums in the order llama.cpp would use for its queries alone (a
// decode row of one of N sequences gets a single-token decode's bits: batch invariance); false:
// the order of one llama.cpp batch holding all of the call's queries.
// REQUIRES: scratch reserved for pool.n_threads(), the largest first_pos + n_q and head_dim.
void attention(const AttentionShape& shape, const AttentionTask* tasks, int64_t n_tasks,
               AttentionScratch& scratch, ThreadPool& pool, Isa isa, bool each_task_alone = false);

}  // namespace er::kernels
