// Peak arithmetic rate of this CPU: f32 FMA GFLOP/s and int8 dot GOP/s from register-resident
// loops (no memory traffic), on N threads at once, with the best kernel level available.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "kernels/isa.h"

namespace er::perfmodel {

struct PeakComputeResult {
  std::string isa;            // kernel level of the loops ("scalar", "avx2", "avx512", "neon", "dotprod", "i8mm")
  int n_threads = 0;
  double gflops_f32 = 0;      // best repetition, 2 flops per fused multiply-add
  std::string int8_kernel;    // "avx512_vnni dpbusd", "avx2 maddubs+madd", "neon sdot", ..., "scalar"
  double gops_int8 = 0;       // best repetition, 2 ops per int8 multiply-add
};

// Runs each loop for about half of `seconds`. REQUIRES: kernels::isa_supported(isa).
PeakComputeResult measure_peak_compute(int n_threads, kernels::Isa isa, double seconds);

// The loops, one set per kernel level (peak_*.cpp, each built with its level's flags). Each runs
// `iters` iterations and returns a checksum that keeps the work observable; the rate is
// iters * *_per_iter / seconds.
namespace peak {
inline constexpr int64_t kScalarFlopsPerIter = 8 * 2;        // 8 chains of mul + add
inline constexpr int64_t kScalarInt8OpsPerIter = 16 * 2;     // 16 int8 multiply-adds
inline constexpr int64_t kAvx2FlopsPerIter = 12 * 8 * 2;     // 12 FMA chains of 8 floats
inline constexpr int64_t kAvx2Int8OpsPerIter = 4 * 32 * 2;   // 4 maddubs of 32 byte pairs
inline constexpr int64_t kAvx512FlopsPerIter = 16 * 16 * 2;  // 16 FMA chains of 16 floats
inline constexpr int64_t kAvx512Int8OpsPerIter = 16 * 64 * 2;  // 16 dpbusd of 64 byte pairs
inline constexpr int64_t kNeonFlopsPerIter = 16 * 4 * 2;    // 16 FMA chains of 4 floats
inline constexpr int64_t kNeonInt8OpsPerIter = 4 * 16 * 2;   // 4 x (smull + smull2) of 16 byte pairs
inline constexpr int64_t kDotprodInt8OpsPerIter = 8 * 16 * 2;  // 8 sdot of 16 byte pairs
inline constexpr int64_t kI8mmInt8OpsPerIter = 8 * 32 * 2;     // 8 smmla of 2x8x2
double fma_scalar(int64_t iters);
int64_t int8_scalar(int64_t iters);
#if defined(__x86_64__)
double fma_avx2(int64_t iters);
int64_t int8_avx2(int64_t iters);
double fma_avx512(int64_t iters);
int64_t int8_avx512(int64_t iters);
#elif defined(__aarch64__)
double fma_neon(int64_t iters);
int64_t int8_neon(int64_t iters);
int64_t int8_dotprod(int64_t iters);
int64_t int8_i8mm(int64_t iters);
#endif
}  // namespace peak

}  // namespace er::perfmodel
