// ThreadPool: persistent workers for data-parallel kernels, with microsecond dispatch and no per-call allocation.
//
// The pool has n_threads participants: the calling thread (thread_id 0) and n_threads - 1
// workers. parallel_for(n_tasks, fn) splits [0, n_tasks) into a fixed list of contiguous chunks
// (the same chunks for the same (n_tasks, n_threads) every time; see chunk_range) and returns
// when all have run. Threads claim chunks from a shared counter, so a worker that the OS has not
// scheduled yet does not hold the caller up: the caller runs the chunks nobody has claimed.
// thread_id tells the callee which thread runs it (for per-thread scratch), not which chunk.
// Results must therefore not depend on which thread runs a chunk (true of every kernel here).
// Workers spin briefly between dispatches (decode issues a few hundred small parallel ops per
// token) and then sleep on a futex (std::atomic::wait).
//
// REQUIRES: parallel_for is called by one thread at a time and not from inside a task.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace er {

class ThreadPool {
 public:
  // The hot-path task form: a plain function pointer plus an opaque context.
  using TaskFn = void (*)(void* ctx, int64_t begin, int64_t end, int thread_id);

  // REQUIRES: 1 <= n_threads <= 1024.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Runs fn(ctx, begin, end, thread_id) once per non-empty chunk. max_chunks > 0 caps the chunk
  // count (never below n_threads) for small jobs, where each chunk's claim and completion (two
  // atomic operations on lines shared between cores) cost more than the rebalancing buys.
  void parallel_for(int64_t n_tasks, TaskFn fn, void* ctx, int64_t max_chunks = 0);

  // Convenience form for any callable f(begin, end, thread_id); no allocation (f stays on the
  // caller's stack and is called through a trampoline).
  template <typename F>
  void run(int64_t n_tasks, F&& f, int64_t max_chunks = 0) {
    using Fn = std::remove_reference_t<F>;
    parallel_for(
        n_tasks,
        [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<Fn*>(ctx))(b, e, t); },
        const_cast<void*>(static_cast<const void*>(&f)), max_chunks);
  }

  // A hint from the dispatching thread: no dispatch follows soon, and other threads of the process
  // need the CPU meanwhile (several requests sampling between shared passes). Workers stop
  // spinning and sleep until the next dispatch, which wakes them (a late worker costs nothing but
  // its share: the caller runs the chunks nobody has claimed).
  void park() { park_.store(true, std::memory_order_release); }

  // The std::function form (no allocation either: the function object is borrowed).
  void parallel_for(int64_t n_tasks, const std::function<void(int64_t begin, int64_t end, int thread_id)>& fn);

  // Chunks per dispatch: enough to rebalance when a thread is late, few enough to keep the
  // claiming cheap.
  static int64_t n_chunks(int64_t n_tasks, int n_threads, int64_t max_chunks = 0) {
    int64_t want = n_threads == 1 ? 1 : 4 * static_cast<int64_t>(n_threads);
    if (max_chunks > 0) want = std::min(want, std::max<int64_t>(max_chunks, n_threads));
    return n_tasks < want ? n_tasks : want;
  }
  // The range [begin, end) of chunk `chunk` of `n_chunks` over `n_tasks`.
  static void chunk_range(int64_t n_tasks, int64_t n_chunks, int64_t chunk, int64_t* begin, int64_t* end) {
    *begin = n_tasks * chunk / n_chunks;
    *end = n_tasks * (chunk + 1) / n_chunks;
  }

 private:
  void worker_main(int thread_id);
  // Claims and runs chunks of dispatch `gen` until none are left.
  void run_chunks(uint32_t gen, int thread_id);

  int n_threads_;
  std::vector<std::thread> workers_;  // (n_threads - 1,)

  // The current job. Written by the caller before it opens the dispatch (the release-store of
  // claim_); stable until every chunk is done.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
  int64_t n_chunks_ = 0;

  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per dispatch; workers wait on it
  // (generation << 32) | (n_chunks << 16) | next unclaimed chunk: one word, so a late thread can
  // tell a finished dispatch from the current one without reading the job fields.
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_{0};         // chunks finished in the current dispatch
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<bool> in_dispatch_{false};
  // park(): spinning workers go to sleep. On a line of its own that only park() and the next
  // dispatch write, so the workers' spin loop does not read the line in_dispatch_ bounces on.
  alignas(64) std::atomic<bool> park_{false};
};

}  // namespace er
