// matmul driver: activation conversion into the Workspace, then register tiles over row tiles claimed by the pool.
#include "kernels/matmul.h"

#include <algorithm>
#include <new>
#include <string>

#include "core/check.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "kernels/quant_act.h"

namespace er::kernels {
namespace {

constexpr size_t kAlign = 64;
// Activation rows per column chunk are chosen so one chunk stays in L2 while a thread sweeps its
// weight rows over it.
constexpr size_t kChunkBytes = 192 * 1024;
// Below this many activation elements the conversion runs on the calling thread.
constexpr int64_t kParallelQuantElems = 1 << 15;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

constexpr int kMaxFusedJobs = 8;  // matmul_multi's limit

size_t weight_row_bytes(const Matrix& w) {
  const auto bytes = dtype_row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
  ER_CHECK(bytes.has_value(), "matmul: " + std::string(dtype_name(w.type)) + " row of " +
                                  std::to_string(w.n_cols) + " is not a whole number of blocks");
  return static_cast<size_t>(*bytes);
}

}  // namespace

void Workspace::AlignedFree::operator()(uint8_t* p) const {
  ::operator delete[](p, std::align_val_t(kAlign));
}

Workspace::Workspace(Isa isa) : isa_(isa) {
  ER_CHECK(isa_supported(isa), "Workspace: ISA " + std::string(isa_name(isa)) + " not supported here");
}

void Workspace::reserve(int64_t max_batch, int64_t max_cols) {
  ER_CHECK(max_batch >= 0 && max_cols >= 0, "Workspace::reserve: negative size");
  max_batch = std::max(max_batch, max_batch_);
  max_cols = std::max(max_cols, max_cols_);
  if (max_batch == max_batch_ && max_cols == max_cols_ && act_) return;
  // F16/BF16 activations (2 bytes each) are the largest converted form.
  const size_t stride = round_up(2 * static_cast<size_t>(max_cols), kAlign);
  const size_t bytes = std::max<size_t>(kAlign, stride * static_cast<size_t>(max_batch));
  act_.reset(static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t(kAlign))));
  max_batch_ = max_batch;
  max_cols_ = max_cols;
  runs_per_job_ = 2 * static_cast<size_t>(max_batch) + 2;
  runs_.assign(runs_per_job_ * kMaxFusedJobs, PathRun{0, MatmulPath::kVecDot});
}

size_t act_row_bytes(DType w, int64_t n_cols) {
  const auto bytes = dtype_row_bytes(act_type_for(w), static_cast<uint64_t>(n_cols));
  ER_CHECK(bytes.has_value(), "act_row_bytes: bad row length " + std::to_string(n_cols));
  return static_cast<size_t>(*bytes);
}

void quantize_activations(DType w, const float* x, void* out, int64_t n_cols, Isa isa) {
  const detail::GemmKernel* k = detail::gemm_kernel(w, isa);
  ER_CHECK(k != nullptr, "no kernel for " + std::string(dtype_name(w)));
  if (k->quantize == nullptr) {
    std::copy(x, x + n_cols, static_cast<float*>(out));
  } else {
    k->quantize(x, out, n_cols);
  }
}

float vec_dot(DType w, int64_t n_cols, const void* wrow, const void* arow, Isa isa, MatmulPath path) {
  const detail::GemmKernel* k = detail::gemm_kernel(w, isa);
  ER_CHECK(k != nullptr, "no kernel for " + std::string(dtype_name(w)));
  float y = 0.0f;
  const detail::TileArgs args{static_cast<const uint8_t*>(wrow), 0, static_cast<const uint8_t*>(arow), 0,
                              n_cols, &y, 1, path};
  k->tile(args, 1, 1);
  return y;
}

MatmulPath matmul_path(const Matrix& w, int64_t n_batch) {
  switch (w.type) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
      // tinyBLAS takes a batch of >= 2 rows when rows % 4 == 0 and the row length % 16 == 0.
      return n_batch >= 2 && w.n_rows % 4 == 0 && w.n_cols % 16 == 0 ? MatmulPath::kTinyBlas : MatmulPath::kVecDot;
    case DType::kQ6_K:
      return n_batch >= 8 ? MatmulPath::kTiled : MatmulPath::kVecDot;  // ggml-cpu's tiled K-quant matmul
    case DType::kQ4_K:
      // Repacked (q4_K_8x8) on x86: groups of 4 rows through the gemm kernel (matmul() runs the
      // last n_batch % 4 rows on kVecDot, the repack gemv).
      return n_batch >= 4 ? MatmulPath::kRepackGemm : MatmulPath::kVecDot;
    default:
      return MatmulPath::kVecDot;  // every path computes the same for these types
  }
}

void tile_shape(DType w, Isa isa, int64_t n_batch, int* rows, int* cols) {
  const detail::GemmKernel* k = detail::gemm_kernel(w, isa);
  ER_CHECK(k != nullptr, "no kernel for " + std::string(dtype_name(w)));
  *rows = n_batch == 1 ? k->rows_single : k->rows;
  *cols = n_batch == 1 ? 1 : k->cols;
}

namespace {

// One weight matrix of a (possibly fused) matmul call.
struct Job {
  const detail::GemmKernel* k;
  DType type;           // of the weights
  const uint8_t* w;     // (n_rows, row_bytes bytes)
  size_t row_bytes;
  size_t w_stride;      // TileArgs::w_stride: row_bytes, or the block bytes in the x8 layout
  size_t w_bstride;     // TileArgs::w_bstride (x8: 8 blocks)
  size_t w_ahead;       // TileArgs::w_ahead (x8, Q4_1 x16: kRepackAheadBytes)
  int64_t n_rows;
  float* y;             // (n_batch, n_rows)
  int tile_rows, tile_cols;
  // The code path llama.cpp would take for each activation row (fixes the order): runs of rows
  // with one path, in row order (Workspace::path_runs); a tile never spans two runs.
  const Workspace::PathRun* runs;
  int n_runs;
  int64_t first_tile;   // index of this job's first row tile in the fused task space
  Layout unpack = Layout::kRowMajor;  // x16 / x8 weights on a level without a kernel for that
                                     // layout: the tile's rows are rebuilt row-major on the stack
                                     // first (repack.h)
};

// Stack buffer for rebuilt rows (unpack): the lower levels' quantized tiles have <= 4 rows (AVX2:
// 2, NEON: 4). Reached only when weights repacked for the default level run at a lower one (--isa).
constexpr size_t kUnpackBytes = 4 * kMaxRepackRowBytes;

// Weight bytes (times column groups of 4) per pool chunk below which a call is split into fewer
// chunks than the pool's default (ThreadPool::parallel_for's max_chunks). With 2 threads, A/B on
// smollm2 decode (every matrix under 1 MiB): 256 KiB gave ~+25 %, 1 MiB ~+30 % tok/s over the
// default 4 chunks per thread; qwen2.5-coder-1.5b decode and prefill unchanged (docs/kernels.md).
constexpr size_t kMinPoolChunkBytes = size_t{1} << 20;

// The x8 and Q4_1 x16 kernels prefetch this far ahead (rounded down to whole group blocks, at least one).
// Measured with er_bench_kernels BM_MatvecDram (2048 x 8192, 2 threads, interleaved repetitions):
// 2 KiB ahead ran Q4_1 / Q6_K ~20 % below the row-major kernels, 16-32 KiB 5-15 % above them.
constexpr size_t kRepackAheadBytes = 16384;
size_t ahead_bytes(size_t group_block) { return std::max<size_t>(1, kRepackAheadBytes / group_block) * group_block; }


void check_call(const Matrix& w, int64_t n_batch, const Workspace& ws) {
  ER_CHECK(matmul_supports(w.type), "matmul: unsupported weight type " + std::string(dtype_name(w.type)));
  ER_CHECK(n_batch >= 1 && n_batch <= ws.max_batch() && w.n_cols <= ws.max_cols(),
           "matmul: batch " + std::to_string(n_batch) + " x " + std::to_string(w.n_cols) +
               " exceeds the Workspace reserve " + std::to_string(ws.max_batch()) + " x " +
               std::to_string(ws.max_cols()));
}

// Converts x once for every job (they share the activation type), then runs all row tiles of all
// jobs as one dispatch.
void run_jobs(Job* jobs, int n_jobs, const float* x, int64_t n_cols, int64_t n_batch, Workspace& ws,
              ThreadPool& pool) {
  const detail::GemmKernel* k0 = jobs[0].k;
  // 1. Activations in the weights' activation type: (n_batch, a_stride bytes).
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  size_t a_stride = static_cast<size_t>(n_cols) * sizeof(float);
  if (k0->quantize != nullptr) {
    const auto bytes = dtype_row_bytes(k0->act_type, static_cast<uint64_t>(n_cols));
    ER_CHECK(bytes.has_value(), "matmul: bad row length " + std::to_string(n_cols));
    a_stride = round_up(static_cast<size_t>(*bytes), kAlign);
    uint8_t* buf = ws.act_buffer();
    auto convert = [&](int64_t b0, int64_t b1, int) {
      for (int64_t b = b0; b < b1; ++b) k0->quantize(x + b * n_cols, buf + b * a_stride, n_cols);
    };
    if (n_batch * n_cols < kParallelQuantElems || n_batch == 1) {
      convert(0, n_batch, 0);
    } else {
      pool.run(n_batch, convert);
    }
    act = buf;
  }

  // 2. Tiles: threads claim chunks of row tiles (over all jobs); within a chunk, the batch is
  //    swept in column chunks that fit in L2 so the weights of a row tile stay in L1.
  int64_t n_tiles = 0;
  for (int j = 0; j < n_jobs; ++j) {
    jobs[j].first_tile = n_tiles;
    n_tiles += (jobs[j].n_rows + jobs[j].tile_rows - 1) / jobs[j].tile_rows;
  }
  int64_t chunk = std::max<int64_t>(4, static_cast<int64_t>(kChunkBytes / a_stride));
  chunk = std::min(n_batch, chunk / 4 * 4);
  // Small calls (decode of a small model: a few hundred KiB of weights) get fewer pool chunks, down
  // to one per thread: every chunk costs two atomics on lines shared between cores, which then
  // outweigh the rebalancing.
  size_t work = 0;
  for (int j = 0; j < n_jobs; ++j) work += static_cast<size_t>(jobs[j].n_rows) * jobs[j].row_bytes;
  work *= static_cast<size_t>((n_batch + 3) / 4);
  const int64_t max_chunks = static_cast<int64_t>(work / kMinPoolChunkBytes);
  pool.run(n_tiles, [&](int64_t t0, int64_t t1, int) {
    alignas(64) uint8_t rows_buf[kUnpackBytes];  // untouched unless a job has unpack_x16
    for (int64_t c0 = 0; c0 < n_batch; c0 += chunk) {
      const int64_t c1 = std::min(n_batch, c0 + chunk);
      int j = 0;
      for (int64_t t = t0; t < t1; ++t) {
        while (j + 1 < n_jobs && t >= jobs[j + 1].first_tile) ++j;
        const Job& jb = jobs[j];
        const int64_t r0 = (t - jb.first_tile) * jb.tile_rows;
        const int nr = static_cast<int>(std::min<int64_t>(jb.tile_rows, jb.n_rows - r0));
        const uint8_t* wt = jb.w + r0 * jb.row_bytes;
        if (jb.unpack != Layout::kRowMajor) {
          ER_CHECK(static_cast<size_t>(nr) * jb.row_bytes <= kUnpackBytes, "matmul: repacked tile too large");
          for (int r = 0; r < nr; ++r) {
            unpack_row(jb.unpack, jb.type, jb.w, r0 + r, jb.row_bytes, n_cols, rows_buf + r * jb.row_bytes);
          }
          wt = rows_buf;
        }
        const Workspace::PathRun* run = jb.runs;
        for (int64_t c = c0; c < c1;) {
          while (run->end <= c) ++run;  // the run holding row c (runs are in row order)
          const int64_t end = std::min(c1, run->end);  // tiles stay on one path
          const int nc = static_cast<int>(std::min<int64_t>(jb.tile_cols, end - c));
          const detail::TileArgs args{wt, jb.w_stride, act + c * a_stride, a_stride,
                                      n_cols, jb.y + c * jb.n_rows + r0, jb.n_rows,
                                      run->path, jb.w_bstride, jb.w_ahead};
          jb.k->tile(args, nr, nc);
          c += nc;
        }
      }
    }
  }, std::max<int64_t>(1, max_chunks));
}

// The runs of rows sharing llama.cpp's code path: each group takes the path of a call of its size
// alone (repacked Q4_K: its first rows in fours through the gemm, the rest through the gemv).
int path_runs(const Matrix& w, int64_t n_batch, RowGroups groups, Workspace::PathRun* out) {
  int n = 0;
  auto add = [&](int64_t end, MatmulPath p) {
    if (n > 0 && out[n - 1].path == p) {
      out[n - 1].end = end;
    } else {
      out[n++] = {end, p};
    }
  };
  const int64_t one[1] = {n_batch};
  if (groups.empty()) groups = RowGroups(one, 1);
  int64_t off = 0;
  for (const int64_t g : groups) {
    ER_CHECK(g >= 1, "matmul: empty row group");
    const MatmulPath p = matmul_path(w, g);
    if (p == MatmulPath::kRepackGemm) {
      add(off + g - g % 4, p);
      if (g % 4 != 0) add(off + g, MatmulPath::kVecDot);
    } else {
      add(off + g, p);
    }
    off += g;
  }
  ER_CHECK(off == n_batch, "matmul: row groups sum to " + std::to_string(off) + ", not the batch of " + std::to_string(n_batch));
  return n;
}

Job make_job(const Matrix& w, float* y, int64_t n_batch, Workspace& ws, int job_index, RowGroups groups) {
  Job jb{};
  jb.k = detail::gemm_kernel(w.type, ws.isa());
  jb.type = w.type;
  jb.w = static_cast<const uint8_t*>(w.data);
  jb.row_bytes = weight_row_bytes(w);
  jb.w_stride = jb.row_bytes;
  jb.n_rows = w.n_rows;
  jb.y = y;
  Workspace::PathRun* runs = ws.path_runs(job_index);
  jb.n_runs = path_runs(w, n_batch, groups, runs);
  jb.runs = runs;
  tile_shape(w.type, ws.isa(), n_batch, &jb.tile_rows, &jb.tile_cols);
  if (w.layout != Layout::kRowMajor) {
    ER_CHECK(can_repack(w.layout, w.type, w.n_rows, w.n_cols), "matmul: bad " + std::string(dtype_name(w.type)) + " matrix in a repacked layout");
    const detail::GemmKernel* lk = detail::gemm_kernel_for_layout(w.layout, w.type, ws.isa());
    if (lk == nullptr) {
      jb.unpack = w.layout;  // rebuilt row-major per tile
    } else if (w.layout == Layout::kX8) {
      // One 8-row group per tile, its blocks read in order by the block kernel.
      const size_t block = dtype_traits(w.type).block_bytes;
      jb.k = lk;
      jb.tile_rows = kX8Rows;
      jb.tile_cols = n_batch == 1 ? 1 : lk->cols;
      jb.w_stride = block;
      jb.w_bstride = kX8Rows * block;
      jb.w_ahead = ahead_bytes(jb.w_bstride);
    } else {
      // x16: one group per tile, whatever the batch.
      jb.k = lk;
      jb.tile_rows = group_rows(w.layout);
      jb.tile_cols = n_batch == 1 ? 1 : jb.k->cols;
      // (Q4_K x16's kernel prefetches its own distance; the block-type x16 kernels take this one.)
      if (w.layout != Layout::kQ4Kx16) jb.w_ahead = ahead_bytes(jb.tile_rows * dtype_traits(w.type).block_bytes);
    }
  }
  return jb;
}

}  // namespace

void matmul(const Matrix& w, const float* x, float* y, int64_t n_batch, Workspace& ws, ThreadPool& pool,
            RowGroups groups) {
  check_call(w, n_batch, ws);
  Job jb = make_job(w, y, n_batch, ws, 0, groups);
  run_jobs(&jb, 1, x, w.n_cols, n_batch, ws, pool);
}

void matmul_multi(const Matrix* w, float* const* y, int n_mats, const float* x, int64_t n_batch, Workspace& ws,
                  ThreadPool& pool, RowGroups groups) {
  ER_CHECK(n_mats >= 1 && n_mats <= kMaxFusedJobs, "matmul_multi: 1 to 8 matrices");
  Job jobs[kMaxFusedJobs];
  bool fusable = true;
  for (int i = 0; i < n_mats; ++i) {
    check_call(w[i], n_batch, ws);
    jobs[i] = make_job(w[i], y[i], n_batch, ws, i, groups);
    fusable = fusable && w[i].n_cols == w[0].n_cols && jobs[i].k->act_type == jobs[0].k->act_type;
  }
  if (!fusable) {  // different activation types (or widths): one call each
    for (int i = 0; i < n_mats; ++i) run_jobs(&jobs[i], 1, x, w[i].n_cols, n_batch, ws, pool);
    return;
  }
  run_jobs(jobs, n_mats, x, w[0].n_cols, n_batch, ws, pool);
}

bool reads_layout(Layout layout, DType type, Isa isa) {
  return layout == Layout::kRowMajor || detail::gemm_kernel_for_layout(layout, type, isa) != nullptr;
}

void get_row(const Matrix& w, int64_t row, float* out) {
  ER_CHECK(row >= 0 && row < w.n_rows, "get_row: row " + std::to_string(row) + " out of range");
  const size_t stride = weight_row_bytes(w);
  const auto* data = static_cast<const uint8_t*>(w.data);
  if (w.layout != Layout::kRowMajor) {
    alignas(64) uint8_t buf[kMaxRepackRowBytes];
    ER_CHECK(stride <= sizeof buf, "get_row: repacked row too long");
    unpack_row(w.layout, w.type, data, row, stride, w.n_cols, buf);
    dequantize_row(w.type, buf, out, w.n_cols);
    return;
  }
  dequantize_row(w.type, data + row * stride, out, w.n_cols);
}

}  // namespace er::kernels
