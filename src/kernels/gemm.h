// Internal: the per-(weight type, ISA) micro-kernel table that matmul() drives. Not for callers.
//
// A tile kernel computes an nr x nc block of dot products between nr consecutive weight rows and
// nc consecutive activation rows (already converted to the weight's activation type):
//   y[c * y_stride + r] = dot(w + r * w_stride, a + c * a_stride)   for r < nr, c < nc
// each summed exactly as vec_dot_ref(type, n, w, a, path) (quant_act.h), bit for bit.
// REQUIRES: 1 <= nr, nc <= the kernel's template bounds (at least 4 x 4 for SIMD, 1 x 1 for
// scalar); n a multiple of the weight block size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"
#include "kernels/quant_act.h"
#include "kernels/repack.h"

namespace er::kernels::detail {

struct TileArgs {
  const uint8_t* w;   // first weight row
  size_t w_stride;    // bytes between weight rows
  const uint8_t* a;   // first activation row
  size_t a_stride;    // bytes between activation rows
  int64_t n;          // elements per row (n_cols)
  float* y;           // output for (row 0, col 0)
  int64_t y_stride;   // floats between outputs of consecutive activation rows
  MatmulPath path = MatmulPath::kVecDot;  // llama.cpp's code path, which fixes the order (quant_act.h)
  // Bytes between consecutive blocks of one weight row; 0: the block size (rows contiguous). The
  // x8 layout (repack.h) sets w_stride to the block size and this to 8 blocks. Honoured by the
  // AVX-512 block kernels (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q6_K) only; the driver rebuilds rows
  // for the others.
  size_t w_bstride = 0;
  // Bytes ahead of each weight block to prefetch; 0: the same block of the next row tile
  // (tile rows * w_stride).
  size_t w_ahead = 0;
};

using TileFn = void (*)(const TileArgs& args, int nr, int nc);
using ActQuantFn = void (*)(const float* x, void* y, int64_t n);

struct GemmKernel {
  DType act_type;        // activation (vec_dot) type
  ActQuantFn quantize;   // f32 -> act_type for one row; nullptr when act_type is F32
  TileFn tile;           // takes any nr <= rows and nc <= cols (scalar: 1 x 1)
  int rows_single;       // tile rows when the batch is one row (decode of one sequence)
  int rows;              // tile shape for larger batches
  int cols;
};

// The kernels of each level for weight type `w`, or nullptr when that level lacks one. Only the
// target architecture's levels are compiled (isa.h).
const GemmKernel* gemm_kernel_scalar(DType w);
#if defined(__x86_64__)
const GemmKernel* gemm_kernel_avx2(DType w);
const GemmKernel* gemm_kernel_avx512(DType w);

// The AVX-512 kernel for Q4_K weights in the x16 layout (repack.h): tiles of exactly 16 rows (one
// group; TileArgs::w at the group's first byte, w_stride the row bytes) by nc <= 4 columns.
const GemmKernel* gemm_kernel_q4_K_x16_avx512();
// The same for Q4_1 in its x16 layout (repack.h): tiles of exactly 16 rows by nc <= 4 columns.
const GemmKernel* gemm_kernel_q4_1_x16_avx512();
const GemmKernel* gemm_kernel_q8_0_x16_avx512();
const GemmKernel* gemm_kernel_q6_K_x16_avx512();

// The AVX2 activation converters (also used by the AVX-512 kernels), nullptr for F32.
ActQuantFn act_quantizer_avx2(DType act);
#elif defined(__aarch64__)
// AArch64 levels: ARMv8.0 NEON, ARMv8.2 dotprod, ARMv8.6 i8mm. Each returns nullptr where the
// level below serves (gemm_kernel falls back level by level).
const GemmKernel* gemm_kernel_neon(DType w);
const GemmKernel* gemm_kernel_dotprod(DType w);
const GemmKernel* gemm_kernel_i8mm(DType w);
// Kernels reading a repacked layout (repack.h) at these levels, or nullptr: tiles of exactly
// group_rows(layout) rows (kX8: the block kernels honouring TileArgs::w_bstride, 8-row tiles).
const GemmKernel* gemm_kernel_layout_dotprod(Layout layout, DType w);
const GemmKernel* gemm_kernel_layout_i8mm(Layout layout, DType w);

// The NEON activation converters (also used by the dotprod and i8mm kernels), nullptr for F32.
ActQuantFn act_quantizer_neon(DType act);
#endif

// Dispatch: the kernel of level `isa` (falling back to lower levels per type).
const GemmKernel* gemm_kernel(DType w, Isa isa);

// The kernel of level `isa` that reads weights of type `w` stored in `layout` directly, or nullptr
// when that level has none (matmul then rebuilds each tile's rows in GGUF order). kRowMajor:
// gemm_kernel(w, isa). For kQ4Kx16, kQ4_1x16, kQ8_0x16 and kQ6Kx16 the kernel takes tiles of exactly 16 rows; for kX8
// it is the block kernel, which honours TileArgs::w_bstride, on tiles of 8 rows.
const GemmKernel* gemm_kernel_for_layout(Layout layout, DType w, Isa isa);

}  // namespace er::kernels::detail
