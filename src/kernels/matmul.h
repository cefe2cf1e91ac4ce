// Matrix-times-activations for every supported weight type: decode (a few rows) and prefill (many).
//
//   y (n_batch x n_rows, row-major) = x (n_batch x n_cols, row-major) . W^T
//
// W is a GGUF weight tensor (ggml ne[0] = n_cols, contiguous rows). Activations are first
// converted to the weight type's activation type (quant_act.h), once per call, into the
// Workspace; then threads split the weight rows and each computes register tiles of
// (rows x batch) dot products, so every weight byte is read from memory once per call however
// many batch rows (decode paths or prefill tokens) there are. Each output is llama.cpp's, bit for
// bit: the arithmetic of the code path llama.cpp's mul_mat would take for this call
// (matmul_path(), quant_act.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "kernels/quant_act.h"
#include "kernels/repack.h"

namespace er::kernels {

// A typed, read-only view of a weight matrix.
struct Matrix {
  DType type = DType::kF32;
  const void* data = nullptr;  // (n_rows, n_cols) of `type`, rows contiguous
  int64_t n_rows = 0;
  int64_t n_cols = 0;          // ggml ne[0]; a multiple of the type's block size
  Layout layout = Layout::kRowMajor;  // kQ4Kx16: Q4_K rows interleaved by 16 (repack.h)
};

// Scratch for matmul: the activations converted for the weight type, sized once at init so the
// decode loop never allocates. Also holds which ISA level the kernels run at.
class Workspace {
 public:
  explicit Workspace(Isa isa = default_isa());
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Grows (never shrinks) the scratch to take n_batch <= max_batch rows of n_cols <= max_cols
  // activations for any weight type. Allocates; call at init.
  void reserve(int64_t max_batch, int64_t max_cols);

  Isa isa() const { return isa_; }
  int64_t max_batch() const { return max_batch_; }
  int64_t max_cols() const { return max_cols_; }
  uint8_t* act_buffer() { return act_.get(); }  // (max_batch, act_stride bytes), 64-byte aligned

  // The runs of batch rows that share a code path, per fused matrix (matmul.cpp): at most
  // 2 * max_batch per matrix (a row group splits into two at most), reserved with the rest.
  struct PathRun {
    int64_t end;  // one past the run's last row
    MatmulPath path;
  };
  PathRun* path_runs(int job) { return runs_.data() + static_cast<size_t>(job) * runs_per_job_; }

 private:
  struct AlignedFree {
    void operator()(uint8_t* p) const;
  };
  Isa isa_;
  int64_t max_batch_ = 0;
  int64_t max_cols_ = 0;
  std::unique_ptr<uint8_t[], AlignedFree> act_;
  std::vector<PathRun> runs_;
  size_t runs_per_job_ = 0;
};

// The batch rows of one call, grouped (consecutive rows, e.g. one sequence's tokens), sizes
// summing to n_batch: each group gets the arithmetic llama.cpp gives a call of that group's rows
// alone (its code path depends on the row count: matmul_path), so a row's result does not depend
// on what else shares the call (batch invariance: N decode paths, or several requests, each get
// a single-token decode's bits). Empty: one group of n_batch rows (llama.cpp's arithmetic for the
// whole call, as one llama.cpp batch).
using RowGroups = std::span<const int64_t>;

// y = x . W^T  (see the top of this file).
// REQUIRES: matmul_supports(w.type); 1 <= n_batch <= ws.max_batch(); w.n_cols <= ws.max_cols();
// x holds n_batch * w.n_cols floats and y n_batch * w.n_rows floats; they do not overlap; the
// groups (if any) are positive and sum to n_batch.
void matmul(const Matrix& w, const float* x, float* y, int64_t n_batch, Workspace& ws, ThreadPool& pool,
            RowGroups groups = {});

// y[i] = x . w[i]^T for n_mats weights that read the same x (Q/K/V, gate/up): x is converted once
// and one dispatch covers the rows of all of them. Weights whose activation type or width differ
// from w[0]'s are run one after the other (same results, fewer savings).
// REQUIRES: 1 <= n_mats <= 8; each (w[i], y[i]) as for matmul.
void matmul_multi(const Matrix* w, float* const* y, int n_mats, const float* x, int64_t n_batch, Workspace& ws,
                  ThreadPool& pool, RowGroups groups = {});

// Whether matmul at level `isa` reads weights of `type` stored in `layout` with a kernel for that
// layout (otherwise it rebuilds each tile's rows in GGUF order first, which costs more than the
// layout saves): the loader repacks only into such layouts.
bool reads_layout(Layout layout, DType type, Isa isa);

// Embedding row gather: dequantizes row `row` of w into out (n_cols floats).
// REQUIRES: 0 <= row < w.n_rows; the type has a dequantizer (quant.h).
void get_row(const Matrix& w, int64_t row, float* out);

// ---- lower-level pieces, exposed for tests and benchmarks ---------------------------------------

// Bytes of one activation row of n_cols for weight type w (unpadded).
size_t act_row_bytes(DType w, int64_t n_cols);
// Converts one activation row for weight type w with the kernels of level `isa`.
void quantize_activations(DType w, const float* x, void* out, int64_t n_cols, Isa isa);
// One dot product with the kernels of level `isa` (a 1 x 1 tile) on llama.cpp's code path `path`.
float vec_dot(DType w, int64_t n_cols, const void* wrow, const void* arow, Isa isa,
              MatmulPath path = MatmulPath::kVecDot);
// The code path llama.cpp's mul_mat takes for weight `w` and a batch of n_batch rows.
MatmulPath matmul_path(const Matrix& w, int64_t n_batch);
// The (rows, batch columns) register tile matmul uses for w at level `isa` and this batch size.
void tile_shape(DType w, Isa isa, int64_t n_batch, int* rows, int* cols);

}  // namespace er::kernels
