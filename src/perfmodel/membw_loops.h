// The bandwidth test's loops, one set per kernel level (membw.cpp: portable; membw_avx2.cpp,
// membw_avx512.cpp, membw_neon.cpp: built with that level's flags), so that the loads and stores are as wide as
// the engine's own kernels use. Each works on [0, n) of its arrays.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace er::perfmodel::stream {

void copy_scalar(double* c, const double* a, int64_t n);                       // c = a
void triad_scalar(double* a, const double* b, const double* c, double q, int64_t n);  // a = b + q c
double read_scalar(const double* a, int64_t n);                                // sum of a
#if defined(__x86_64__)
void copy_avx2(double* c, const double* a, int64_t n);
void triad_avx2(double* a, const double* b, const double* c, double q, int64_t n);
double read_avx2(const double* a, int64_t n);
void copy_avx512(double* c, const double* a, int64_t n);
void triad_avx512(double* a, const double* b, const double* c, double q, int64_t n);
double read_avx512(const double* a, int64_t n);
#elif defined(__aarch64__)
void copy_neon(double* c, const double* a, int64_t n);  // every AArch64 level (128-bit vectors)
void triad_neon(double* a, const double* b, const double* c, double q, int64_t n);
double read_neon(const double* a, int64_t n);
#endif

struct Loops {
  void (*copy)(double*, const double*, int64_t);
  void (*triad)(double*, const double*, const double*, double, int64_t);
  double (*read)(const double*, int64_t);
};

// The loops of level `isa`. REQUIRES: kernels::isa_supported(isa).
Loops loops_for(kernels::Isa isa);

}  // namespace er::perfmodel::stream
