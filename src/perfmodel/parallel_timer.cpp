// Barrier-synchronized repetition timing on N threads (see parallel_timer.h).
#include "perfmodel/parallel_timer.h"

#include <barrier>
#include <chrono>
#include <thread>

namespace er::perfmodel {

std::vector<double> time_parallel(int n_threads, const std::function<void(int thread)>& body,
                                  const std::function<bool(int reps_done, double seconds_so_far)>& more) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> seconds;
  std::barrier sync(n_threads);
  bool go = false;  // written by thread 0 before the start barrier, read by all after it
  double total_s = 0;
  auto loop = [&](int t) {
    for (;;) {
      if (t == 0) go = more(static_cast<int>(seconds.size()), total_s);
      sync.arrive_and_wait();  // start: `go` is published
      if (!go) return;
      const Clock::time_point t0 = Clock::now();
      body(t);
      sync.arrive_and_wait();  // end: every thread finished
      if (t == 0) {
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        seconds.push_back(s);
        total_s += s;
      }
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers.emplace_back(loop, t);
  loop(0);
  for (std::thread& w : workers) w.join();
  return seconds;
}

}  // namespace er::perfmodel
