// Scalar tile kernels: every (row, column) pair through the reference dot product.
#include "kernels/gemm.h"

#include <iterator>

#include "kernels/quant_act.h"

namespace er::kernels::detail {
namespace {

template <DType W>
void tile_ref(const TileArgs& t, int nr, int nc) {
  for (int c = 0; c < nc; ++c) {
    for (int r = 0; r < nr; ++r) {
      t.y[c * t.y_stride + r] = vec_dot_ref(W, t.n, t.w + r * t.w_stride, t.a + c * t.a_stride, t.path);
    }
  }
}

constexpr GemmKernel kScalar[] = {
    {DType::kF32, nullptr, tile_ref<DType::kF32>, 1, 1, 1},
    {DType::kF16, quantize_act_f16, tile_ref<DType::kF16>, 1, 1, 1},
    {DType::kBF16, quantize_act_bf16, tile_ref<DType::kBF16>, 1, 1, 1},
    {DType::kQ8_0, quantize_act_q8_0, tile_ref<DType::kQ8_0>, 1, 1, 1},
    {DType::kQ8_0, quantize_act_q8_0, tile_ref<DType::kQ4_0>, 1, 1, 1},
    {DType::kQ8_1, quantize_act_q8_1, tile_ref<DType::kQ4_1>, 1, 1, 1},
    {DType::kQ8_0, quantize_act_q8_0, tile_ref<DType::kQ5_0>, 1, 1, 1},
    {DType::kQ8_1, quantize_act_q8_1, tile_ref<DType::kQ5_1>, 1, 1, 1},
    {DType::kQ8_K, quantize_act_q8_K, tile_ref<DType::kQ4_K>, 1, 1, 1},
    {DType::kQ8_K, quantize_act_q8_K, tile_ref<DType::kQ6_K>, 1, 1, 1},
};
constexpr DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                                  DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};
static_assert(std::size(kScalar) == std::size(kWeightTypes));

}  // namespace

const GemmKernel* gemm_kernel_scalar(DType w) {
  for (size_t i = 0; i < std::size(kWeightTypes); ++i) {
    if (kWeightTypes[i] == w) return &kScalar[i];
  }
  return nullptr;
}

const GemmKernel* gemm_kernel(DType w, Isa isa) {
  const GemmKernel* k = nullptr;
#if defined(__x86_64__)
  if (isa == Isa::kAvx512) k = gemm_kernel_avx512(w);
  if (k == nullptr && (isa == Isa::kAvx2 || isa == Isa::kAvx512)) k = gemm_kernel_avx2(w);
#elif defined(__aarch64__)
  if (isa == Isa::kI8mm) k = gemm_kernel_i8mm(w);
  if (k == nullptr && (isa == Isa::kDotprod || isa == Isa::kI8mm)) k = gemm_kernel_dotprod(w);
  if (k == nullptr && (isa == Isa::kNeon || isa == Isa::kDotprod || isa == Isa::kI8mm)) k = gemm_kernel_neon(w);
#endif
  if (k == nullptr) k = gemm_kernel_scalar(w);
  return k;
}

const GemmKernel* gemm_kernel_for_layout(Layout layout, DType w, Isa isa) {
  if (layout == Layout::kRowMajor) return gemm_kernel(w, isa);
#if defined(__x86_64__)
  if (isa != Isa::kAvx512) return nullptr;
  switch (layout) {
    case Layout::kQ4Kx16: return w == DType::kQ4_K ? gemm_kernel_q4_K_x16_avx512() : nullptr;
    case Layout::kQ4_1x16: return w == DType::kQ4_1 ? gemm_kernel_q4_1_x16_avx512() : nullptr;
    case Layout::kQ8_0x16: return w == DType::kQ8_0 ? gemm_kernel_q8_0_x16_avx512() : nullptr;
    case Layout::kQ6Kx16: return w == DType::kQ6_K ? gemm_kernel_q6_K_x16_avx512() : nullptr;
    case Layout::kX8: {  // the AVX-512 block kernels take 8 rows and honour w_bstride
      switch (w) {
        case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
        case DType::kQ6_K:
          return gemm_kernel_avx512(w);
        default: return nullptr;
      }
    }
    default: return nullptr;
  }
#elif defined(__aarch64__)
  const GemmKernel* k = nullptr;
  if (isa == Isa::kI8mm) k = gemm_kernel_layout_i8mm(layout, w);
  if (k == nullptr && (isa == Isa::kDotprod || isa == Isa::kI8mm)) k = gemm_kernel_layout_dotprod(layout, w);
  return k;
#else
  (void)w;
  (void)isa;
  return nullptr;
#endif
}

}  // namespace er::kernels::detail
