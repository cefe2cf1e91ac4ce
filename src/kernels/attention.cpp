// Attention over the KV cache: scores, causal softmax and value sums per (task, query, head).
#include "kernels/attention.h"

#include <algorithm>
#include <limits>
#include <string>

#include "core/check.h"
#include "kernels/ops.h"

namespace er::kernels {

void AttentionScratch::reserve(int n_threads, int64_t max_kv, int head_dim) {
  n_threads = std::max(n_threads, n_threads_);
  max_kv = std::max(max_kv, max_kv_);
  head_dim = std::max(head_dim, head_dim_);
  if (n_threads == n_threads_ && max_kv == max_kv_ && head_dim == head_dim_ && buf_) return;
  // scores (kGroup x max_kv) + query group (kGroup x head_dim) floats, padded to 64 bytes.
  per_thread_ = (kGroup * (max_kv + head_dim) + 15) / 16 * 16;
  buf_ = std::make_unique<float[]>(static_cast<size_t>(per_thread_ * n_threads));
  n_threads_ = n_threads;
  max_kv_ = max_kv;
  head_dim_ = head_dim;
}

static_assert(kMaxAttnGroup == 8, "AttentionScratch sizes its buffers for 8 heads per group");

void attention(const AttentionShape& shape, const AttentionTask* tasks, int64_t n_tasks, AttentionScratch& scratch,
               ThreadPool& pool, Isa isa, bool each_task_alone) {
  ER_CHECK(shape.n_head > 0 && shape.n_head_kv > 0 && shape.n_head % shape.n_head_kv == 0 && shape.head_dim > 0,
           "attention: bad head counts");
  ER_CHECK(shape.window >= 0, "attention: negative sliding window");
  ER_CHECK(scratch.n_threads() >= pool.n_threads() && scratch.head_dim() >= shape.head_dim,
           "attention: scratch not reserved for this pool / head_dim");
  int64_t n_items = 0;  // (task, query, kv head)
  int64_t n_queries = 0;
  for (int64_t t = 0; t < n_tasks; ++t) {
    const AttentionTask& task = tasks[t];
    ER_CHECK(task.kv.type == DType::kF16 || task.kv.type == DType::kF32, "attention: KV cache must be f16 or f32");
    ER_CHECK(task.first_pos + task.n_q <= scratch.max_kv(),
             "attention: " + std::to_string(task.first_pos + task.n_q) + " positions exceed the scratch reserve");
    n_items += task.n_q * shape.n_head_kv;
    n_queries += task.n_q;
  }
  const Ops& op = ops(isa);
  const int group = shape.n_head / shape.n_head_kv;
  const int64_t d = shape.head_dim;
  const int64_t width = static_cast<int64_t>(shape.n_head) * d;
  // llama.cpp multiplies K.q and V.p with tinyBLAS when the batch has >= 2 tokens (and the shapes
  // allow: KQ needs head_dim % 16 == 0, KQV head_dim % 4 == 0), else with ggml_vec_dot. The batch
  // here is the task's own queries (each_task_alone) or all of the call's (llama.cpp's one batch).
  auto orders = [&](int64_t n_q, DotOrder* kq, DotOrder* kqv) {
    const bool batched = n_q >= 2;
    *kq = batched && d % 16 == 0 ? DotOrder::kTinyBlas : DotOrder::kVecDot;
    *kqv = batched && d % 4 == 0 ? DotOrder::kTinyBlas : DotOrder::kVecDot;
  };
  DotOrder call_kq, call_kqv;
  orders(n_queries, &call_kq, &call_kqv);
  const int n_threads = pool.n_threads();
  // Items are dealt round-robin (item i to slot i % n_threads) so causal prefill, whose later
  // queries see more positions, stays balanced; the assignment is deterministic.
  pool.run(n_threads, [&](int64_t s0, int64_t s1, int tid) {
    float* scores = scratch.scores(tid);  // (G, n_kv)
    float* qg = scratch.q_group(tid);     // (G, d)
    for (int64_t slot = s0; slot < s1; ++slot) {
      int64_t task = 0, base = 0;
      // Software pipelining of the cache reads: while an item is computed, the K and V rows of
      // this thread's next item are requested (they are cold: written a step ago, the weights
      // streamed since). The first item's are requested just before it.
      int64_t ptask = 0, pbase = 0;
      const auto prefetch_item = [&](int64_t item) {
        if (item >= n_items) return;
        while (item >= pbase + tasks[ptask].n_q * shape.n_head_kv) pbase += tasks[ptask++].n_q * shape.n_head_kv;
        const AttentionTask& pt = tasks[ptask];
        const int64_t query = (item - pbase) / shape.n_head_kv;
        const int64_t kv_head = (item - pbase) % shape.n_head_kv;
        const size_t el = pt.kv.type == DType::kF16 ? 2 : 4;
        const auto* kb = static_cast<const char*>(pt.kv.k) + static_cast<size_t>(kv_head * pt.kv.head_stride) * el;
        const auto* vb = static_cast<const char*>(pt.kv.v) + static_cast<size_t>(kv_head * pt.kv.head_stride) * el;
        const size_t bytes = static_cast<size_t>((pt.first_pos + query) * pt.kv.pos_stride + d) * el;
        for (size_t off = 0; off < bytes; off += 64) {
          __builtin_prefetch(kb + off);
          __builtin_prefetch(vb + off);
        }
      };
      prefetch_item(slot);
      for (int64_t item = slot; item < n_items; item += n_threads) {
        prefetch_item(item + n_threads);
        while (item >= base + tasks[task].n_q * shape.n_head_kv) base += tasks[task++].n_q * shape.n_head_kv;
        const AttentionTask& tk = tasks[task];
        const int64_t query = (item - base) / shape.n_head_kv;
        const int kv_head = static_cast<int>((item - base) % shape.n_head_kv);
        const int64_t n_kv = tk.first_pos + query + 1;  // causal: positions 0 .. first_pos + query
        const int64_t n_masked = shape.window > 0 ? std::max<int64_t>(0, n_kv - shape.window) : 0;
        const auto mask = [&](float* s, int ng) {
          for (int g = 0; g < ng; ++g) std::fill_n(s + g * n_kv, n_masked, -std::numeric_limits<float>::infinity());
        };
        DotOrder kq_order = call_kq, kqv_order = call_kqv;
        if (each_task_alone) orders(tk.n_q, &kq_order, &kqv_order);
        for (int g0 = 0; g0 < group; g0 += kMaxAttnGroup) {
          const int ng = std::min(kMaxAttnGroup, group - g0);
          const int64_t head0 = static_cast<int64_t>(kv_head) * group + g0;
          const float* q = tk.q + query * width + head0 * d;  // (ng, d)
          float* out = tk.out + query * width + head0 * d;    // (ng, d)
          if (tk.kv.type == DType::kF16) {
            const auto* k = static_cast<const uint16_t*>(tk.kv.k) + kv_head * tk.kv.head_stride;
            const auto* v = static_cast<const uint16_t*>(tk.kv.v) + kv_head * tk.kv.head_stride;
            op.round_f16(q, qg, ng * d);  // q . k with q in f16, as ggml's f16 vec_dot
            op.attn_scores_f16(qg, ng, k, tk.kv.pos_stride, n_kv, d, shape.scale, kq_order, scores);
            if (n_masked > 0) mask(scores, ng);
            for (int g = 0; g < ng; ++g) op.softmax(scores + g * n_kv, n_kv);
            op.attn_values_f16(scores, ng, v, tk.kv.pos_stride, n_kv, d, kqv_order, out);
          } else {
            const auto* k = static_cast<const float*>(tk.kv.k) + kv_head * tk.kv.head_stride;
            const auto* v = static_cast<const float*>(tk.kv.v) + kv_head * tk.kv.head_stride;
            op.attn_scores_f32(q, ng, k, tk.kv.pos_stride, n_kv, d, shape.scale, kq_order, scores);
            if (n_masked > 0) mask(scores, ng);
            for (int g = 0; g < ng; ++g) op.softmax(scores + g * n_kv, n_kv);
            op.attn_values_f32(scores, ng, v, tk.kv.pos_stride, n_kv, d, kqv_order, out);
          }
        }
      }
    }
  });
}

}  // namespace er::kernels
