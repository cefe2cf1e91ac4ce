// Times a body run on N threads at once, repetition after repetition, between common barriers.
#pragma once

#include <functional>
#include <vector>

namespace er::perfmodel {

// Runs body(thread) on `n_threads` threads (the caller is thread 0) once per repetition; each
// repetition is timed from a barrier that releases every thread to a barrier that all reach when
// done. Repeats while more(reps_done, seconds_so_far) is true (asked before each repetition, so at
// least one runs only if more(0, 0) is). Returns the seconds of each repetition.
// REQUIRES: n_threads >= 1; body is safe to call concurrently for different threads.
std::vector<double> time_parallel(int n_threads, const std::function<void(int thread)>& body,
                                  const std::function<bool(int reps_done, double seconds_so_far)>& more);

}  // namespace er::perfmodel
