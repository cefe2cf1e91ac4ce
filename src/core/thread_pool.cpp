// ThreadPool implementation: generation counter dispatch, spin-then-futex waits, static ranges.
#include "core/thread_pool.h"

#include "core/check.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ER_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
// The spin-wait hint (as x86's pause), not sched_yield: a system call per spin would make the
// 32k-iteration spin cost milliseconds on the decode path.
#define ER_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define ER_CPU_RELAX() std::this_thread::yield()
#endif

namespace er {
namespace {
// Spin iterations (each a pause, ~10-40 ns) before a worker sleeps: long enough to cover the
// gap between consecutive ops of one decode step, short enough not to burn a core when idle.
constexpr int kSpinIters = 1 << 15;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  ER_CHECK(n_threads >= 1 && n_threads <= 1024, "ThreadPool needs 1 to 1024 threads, got " + std::to_string(n_threads));
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_chunks(uint32_t gen, int thread_id) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(c >> 32) != gen) return;  // a later (or no) dispatch: nothing here
    const int64_t chunk = static_cast<int64_t>(c & 0xffffu);
    if (chunk >= static_cast<int64_t>((c >> 16) & 0xffffu)) return;  // all claimed
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // Owning an unfinished chunk of `gen` keeps the job fields stable until done_ is bumped.
    int64_t begin, end;
    chunk_range(n_tasks_, n_chunks_, chunk, &begin, &end);
    if (begin < end) fn_(ctx_, begin, end, thread_id);
    done_.fetch_add(1, std::memory_order_acq_rel);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t n_tasks, TaskFn fn, void* ctx, int64_t max_chunks) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    fn(ctx, 0, n_tasks, 0);
    return;
  }
  ER_CHECK(!in_dispatch_.exchange(true, std::memory_order_acquire),
           "ThreadPool::parallel_for called concurrently or from inside a task");
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  n_chunks_ = n_chunks(n_tasks, n_threads_, max_chunks);
  done_.store(0, std::memory_order_relaxed);
  if (park_.load(std::memory_order_relaxed)) park_.store(false, std::memory_order_relaxed);
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(static_cast<uint64_t>(gen) << 32 | static_cast<uint64_t>(n_chunks_) << 16,
               std::memory_order_release);  // opens the chunks
  generation_.store(gen, std::memory_order_release);
  generation_.notify_all();  // cheap when nobody sleeps (libstdc++ counts waiters)

  run_chunks(gen, 0);

  // Every chunk is claimed; wait for the ones other threads are still running.
  int spins = 0;
  while (done_.load(std::memory_order_acquire) != n_chunks_) {
    if (++spins < kSpinIters) {
      ER_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  in_dispatch_.store(false, std::memory_order_release);
}

void ThreadPool::parallel_for(int64_t n_tasks,
                              const std::function<void(int64_t begin, int64_t end, int thread_id)>& fn) {
  using Fn = std::function<void(int64_t, int64_t, int)>;
  parallel_for(
      n_tasks, [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<const Fn*>(ctx))(b, e, t); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

void ThreadPool::worker_main(int thread_id) {
  // The generation at construction (0), not whatever it is when this thread gets scheduled: a
  // dispatch may already have been published by then.
  uint32_t seen = 0;
  for (;;) {
    uint32_t now = generation_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpinIters && !park_.load(std::memory_order_relaxed); ++spins) {
      ER_CPU_RELAX();
      now = generation_.load(std::memory_order_acquire);
    }
    while (now == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    run_chunks(now, thread_id);
  }
}

}  // namespace er
