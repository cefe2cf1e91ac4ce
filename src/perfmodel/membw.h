// STREAM-style memory bandwidth: copy, triad and a read-only sum over arrays far larger than the
// caches, on N threads, best of several repetitions, with loads and stores as wide as the kernels'.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "kernels/isa.h"

namespace er::perfmodel {

struct MemBandwidthOptions {
  int n_threads = 1;
  int64_t array_bytes = int64_t{512} << 20;  // per array (three arrays of doubles)
  double seconds = 5.0;                      // budget for all kernels together
  int min_reps = 3;                          // recorded repetitions per kernel at least
  kernels::Isa isa = kernels::Isa::kScalar;  // vector width of the loops (REQUIRES: supported)
};

struct KernelBandwidth {
  std::string kernel;            // "copy" (c = a), "triad" (a = b + q c), "read" (sum of a)
  int64_t bytes_per_elem = 0;    // as STREAM counts: copy 16, triad 24, read 8
  int64_t write_allocate_bytes_per_elem = 0;  // with each written line also read first: 24, 32, 8
  double best_gbps = 0;          // best repetition, STREAM counting, 1e9 bytes/s
  double median_gbps = 0;        // median repetition
  int reps = 0;                  // recorded repetitions (the first pass is not recorded)
};

struct MemBandwidthResult {
  int n_threads = 0;
  std::string isa;  // kernel level of the loops
  int64_t array_bytes = 0;
  std::vector<KernelBandwidth> kernels;  // copy, triad, read
};

// Allocates three arrays of options.array_bytes, touches them from their threads, and runs each
// kernel for about a third of options.seconds. Fails only when the memory cannot be allocated.
Result<MemBandwidthResult> measure_mem_bandwidth(const MemBandwidthOptions& options);

}  // namespace er::perfmodel
