// Peak-rate measurement: calibration, N-thread timing, and the portable (scalar) loops (see peak_compute.h).
#include "perfmodel/peak_compute.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "perfmodel/parallel_timer.h"

namespace er::perfmodel {

namespace peak {

double fma_scalar(int64_t iters) {
  const float a = 0.999999f, b = 1e-6f;
  float x[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
  for (int64_t i = 0; i < iters; ++i) {
    for (float& v : x) v = v * a + b;
  }
  double s = 0;
  for (float v : x) s += v;
  return s;
}

int64_t int8_scalar(int64_t iters) {
  int8_t u[16];
  for (int k = 0; k < 16; ++k) u[k] = static_cast<int8_t>(k + 1);
  int32_t acc[16] = {};
  for (int64_t i = 0; i < iters; ++i) {
    __asm__("" : : "r"(u) : "memory");  // operands look new each iteration: nothing to hoist
    for (int k = 0; k < 16; ++k) acc[k] += static_cast<int32_t>(u[k]) * -2;
  }
  int64_t s = 0;
  for (int32_t v : acc) s += v;
  return s;
}

}  // namespace peak

namespace {

using Clock = std::chrono::steady_clock;

// Best rate of loop(iters) run on n_threads at once: iters calibrated so that one repetition takes
// about rep_s, then repetitions until budget_s is spent (at least 3). Returns 1e9 ops/s.
template <typename Loop>
double best_rate(int n_threads, Loop loop, int64_t ops_per_iter, double budget_s) {
  std::vector<double> sink(static_cast<size_t>(n_threads) * 8, 0.0);  // checksums, 64 B apart
  const double rep_s = std::clamp(budget_s / 8.0, 0.005, 0.1);
  int64_t iters = 1 << 10;
  for (;;) {
    const Clock::time_point t0 = Clock::now();
    sink[0] += static_cast<double>(loop(iters));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= rep_s / 4 || iters >= (int64_t{1} << 40)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iters) * rep_s / std::max(s, 1e-9)));
      break;
    }
    iters *= 4;
  }
  const std::vector<double> times = time_parallel(
      n_threads, [&](int t) { sink[static_cast<size_t>(t) * 8] += static_cast<double>(loop(iters)); },
      [&](int reps, double total_s) { return reps < 3 || (total_s < budget_s && reps < 1000); });
  volatile double keep = 0;
  for (double v : sink) keep = keep + v;
  (void)keep;
  const double best_s = *std::min_element(times.begin(), times.end());
  return static_cast<double>(ops_per_iter) * static_cast<double>(iters) * n_threads / best_s / 1e9;
}

}  // namespace

PeakComputeResult measure_peak_compute(int n_threads, kernels::Isa isa, double seconds) {
  PeakComputeResult r;
  r.n_threads = std::max(1, n_threads);
  r.isa = std::string(kernels::isa_name(isa));
  const double half_s = std::max(0.02, seconds / 2);
  switch (isa) {
#if defined(__x86_64__)
    case kernels::Isa::kAvx512:
      r.gflops_f32 = best_rate(r.n_threads, peak::fma_avx512, peak::kAvx512FlopsPerIter, half_s);
      r.int8_kernel = "avx512_vnni dpbusd";
      r.gops_int8 = best_rate(r.n_threads, peak::int8_avx512, peak::kAvx512Int8OpsPerIter, half_s);
      return r;
    case kernels::Isa::kAvx2:
      r.gflops_f32 = best_rate(r.n_threads, peak::fma_avx2, peak::kAvx2FlopsPerIter, half_s);
      r.int8_kernel = "avx2 maddubs+madd";
      r.gops_int8 = best_rate(r.n_threads, peak::int8_avx2, peak::kAvx2Int8OpsPerIter, half_s);
      return r;
#elif defined(__aarch64__)
    case kernels::Isa::kI8mm:
      r.gflops_f32 = best_rate(r.n_threads, peak::fma_neon, peak::kNeonFlopsPerIter, half_s);
      r.int8_kernel = "i8mm smmla";
      r.gops_int8 = best_rate(r.n_threads, peak::int8_i8mm, peak::kI8mmInt8OpsPerIter, half_s);
      return r;
    case kernels::Isa::kDotprod:
      r.gflops_f32 = best_rate(r.n_threads, peak::fma_neon, peak::kNeonFlopsPerIter, half_s);
      r.int8_kernel = "dotprod sdot";
      r.gops_int8 = best_rate(r.n_threads, peak::int8_dotprod, peak::kDotprodInt8OpsPerIter, half_s);
      return r;
    case kernels::Isa::kNeon:
      r.gflops_f32 = best_rate(r.n_threads, peak::fma_neon, peak::kNeonFlopsPerIter, half_s);
      r.int8_kernel = "neon smull+sadalp";
      r.gops_int8 = best_rate(r.n_threads, peak::int8_neon, peak::kNeonInt8OpsPerIter, half_s);
      return r;
#endif
    default:
      break;
  }
  r.gflops_f32 = best_rate(r.n_threads, peak::fma_scalar, peak::kScalarFlopsPerIter, half_s);
  r.int8_kernel = "scalar";
  r.gops_int8 = best_rate(r.n_threads, peak::int8_scalar, peak::kScalarInt8OpsPerIter, half_s);
  return r;
}

}  // namespace er::perfmodel
