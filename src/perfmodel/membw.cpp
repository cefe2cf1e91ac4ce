// STREAM-style copy / triad / read timing (see membw.h) and the portable loops. Built with
// -fno-tree-loop-distribute-patterns, as the per-level loop files are, so that copy stays a loop of
// plain loads and stores rather than a memcpy call (glibc's memcpy switches to non-temporal stores
// on large blocks, which would measure something else than the triad beside it).
#include "perfmodel/membw.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "perfmodel/membw_loops.h"
#include "perfmodel/parallel_timer.h"

namespace er::perfmodel {

namespace stream {

void copy_scalar(double* c, const double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) c[i] = a[i];
}

void triad_scalar(double* a, const double* b, const double* c, double q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
}

double read_scalar(const double* a, int64_t n) {
  // Eight independent sums: the loads run back to back without reassociating one sum.
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) s[k] += a[i + k];
  }
  for (; i < n; ++i) s[0] += a[i];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

Loops loops_for(kernels::Isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case kernels::Isa::kAvx512: return {copy_avx512, triad_avx512, read_avx512};
    case kernels::Isa::kAvx2: return {copy_avx2, triad_avx2, read_avx2};
#elif defined(__aarch64__)
    case kernels::Isa::kNeon: case kernels::Isa::kDotprod: case kernels::Isa::kI8mm:
      return {copy_neon, triad_neon, read_neon};
#endif
    default: break;
  }
  return {copy_scalar, triad_scalar, read_scalar};
}

}  // namespace stream

namespace {

struct FreeDeleter {
  void operator()(double* p) const { std::free(p); }
};
using Array = std::unique_ptr<double[], FreeDeleter>;

Array allocate(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(double) + 4095) / 4096 * 4096;
  return Array(static_cast<double*>(std::aligned_alloc(4096, bytes)));
}

// Thread t's share [begin, end) of n elements (static: each thread touches the pages it first wrote).
void slice(int64_t n, int n_threads, int t, int64_t* begin, int64_t* end) {
  *begin = n * t / n_threads;
  *end = n * (t + 1) / n_threads;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

enum class Kernel { kCopy, kTriad, kRead };

}  // namespace

Result<MemBandwidthResult> measure_mem_bandwidth(const MemBandwidthOptions& o) {
  const int n_threads = std::max(1, o.n_threads);
  const int64_t n = std::max<int64_t>(o.array_bytes / static_cast<int64_t>(sizeof(double)), 1024);
  Array a = allocate(n), b = allocate(n), c = allocate(n);
  if (!a || !b || !c) {
    return Status::internal("cannot allocate 3 x " + std::to_string(n * 8 >> 20) + " MiB for the bandwidth test");
  }
  // First touch from the thread that will use each page.
  time_parallel(
      n_threads,
      [&](int t) {
        int64_t i0, i1;
        slice(n, n_threads, t, &i0, &i1);
        for (int64_t i = i0; i < i1; ++i) {
          a[i] = 1.0;
          b[i] = 2.0;
          c[i] = 0.0;
        }
      },
      [](int reps, double) { return reps == 0; });

  const stream::Loops loops = stream::loops_for(o.isa);
  std::vector<double> sums(static_cast<size_t>(n_threads) * 8, 0.0);  // read results, 64 B apart
  struct KernelSpec {
    Kernel kernel;
    const char* name;
    int64_t bytes, write_allocate_bytes;
  };
  const KernelSpec specs[] = {{Kernel::kCopy, "copy", 16, 24}, {Kernel::kTriad, "triad", 24, 32}, {Kernel::kRead, "read", 8, 8}};

  MemBandwidthResult res;
  res.n_threads = n_threads;
  res.isa = std::string(kernels::isa_name(o.isa));
  res.array_bytes = n * static_cast<int64_t>(sizeof(double));
  const double budget_s = std::max(0.05, o.seconds / 3.0);
  for (const KernelSpec& k : specs) {
    std::vector<double> times = time_parallel(
        n_threads,
        [&](int t) {
          int64_t i0, i1;
          slice(n, n_threads, t, &i0, &i1);
          switch (k.kernel) {
            case Kernel::kCopy: loops.copy(c.get() + i0, a.get() + i0, i1 - i0); break;
            case Kernel::kTriad: loops.triad(a.get() + i0, b.get() + i0, c.get() + i0, 3.0, i1 - i0); break;
            case Kernel::kRead: sums[static_cast<size_t>(t) * 8] += loops.read(a.get() + i0, i1 - i0); break;
          }
        },
        [&](int reps, double total_s) { return reps < o.min_reps + 1 || (total_s < budget_s && reps < 1000); });
    times.erase(times.begin());  // the first pass warms the TLB and the prefetchers
    std::vector<double> gbps;
    for (double s : times) gbps.push_back(static_cast<double>(k.bytes * n) / s / 1e9);
    KernelBandwidth kb;
    kb.kernel = k.name;
    kb.bytes_per_elem = k.bytes;
    kb.write_allocate_bytes_per_elem = k.write_allocate_bytes;
    kb.best_gbps = *std::max_element(gbps.begin(), gbps.end());
    kb.median_gbps = median_of(gbps);
    kb.reps = static_cast<int>(gbps.size());
    res.kernels.push_back(kb);
  }
  // Keep the read kernel's sums observable so that its loads cannot be dropped.
  volatile double sink = 0;
  for (double s : sums) sink = sink + s;
  (void)sink;
  return res;
}

}  // namespace er::perfmodel
