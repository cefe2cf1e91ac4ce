// matmul and get_row: every weight type x ISA x odd shapes against a naive per-element reference loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

#include "core/f16.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/quant_act.h"
#include "kernels/repack.h"

#include "support/test_rng.h"

namespace er::kernels {
namespace {

using Rng = test::TestRng;

const DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                        DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K};

struct Weights {
  std::vector<uint8_t> bytes;  // (n_rows, row_bytes)
  Matrix m;
};

Weights make_weights(DType t, int64_t n_rows, int64_t n_cols, Rng& rng) {
  Weights w;
  const size_t rb = static_cast<size_t>(*dtype_row_bytes(t, static_cast<uint64_t>(n_cols)));
  w.bytes.resize(rb * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) {
    const std::vector<float> x = rng.floats(n_cols);
    EXPECT_TRUE(quantize_row(t, x.data(), w.bytes.data() + r * rb, n_cols).is_ok());
  }
  w.m = Matrix{t, w.bytes.data(), n_rows, n_cols};
  return w;
}

// The code path llama.cpp takes for activation row b of a batch of n_batch (matmul_path, with
// repacked Q4_K's last n_batch % 4 rows on gemv).
MatmulPath path_of_row(const Matrix& w, int64_t n_batch, int64_t b) {
  const MatmulPath path = matmul_path(w, n_batch);
  return path == MatmulPath::kRepackGemm && b >= n_batch - n_batch % 4 ? MatmulPath::kVecDot : path;
}

// y[b][r] = vec_dot_ref(row r, activation row b) on llama.cpp's path, one pair at a time.
std::vector<float> naive(const Matrix& w, const std::vector<float>& x, int64_t n_batch) {
  const size_t rb = static_cast<size_t>(*dtype_row_bytes(w.type, static_cast<uint64_t>(w.n_cols)));
  std::vector<uint8_t> act(act_row_bytes(w.type, w.n_cols));
  std::vector<float> y(static_cast<size_t>(n_batch * w.n_rows));
  for (int64_t b = 0; b < n_batch; ++b) {
    quantize_activations(w.type, x.data() + b * w.n_cols, act.data(), w.n_cols, Isa::kScalar);
    for (int64_t r = 0; r < w.n_rows; ++r) {
      y[static_cast<size_t>(b * w.n_rows + r)] = vec_dot_ref(
          w.type, w.n_cols, static_cast<const uint8_t*>(w.data) + r * rb, act.data(), path_of_row(w, n_batch, b));
    }
  }
  return y;
}

void expect_bits(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

TEST(Matmul, EveryTypeIsaAndOddShapeMatchesNaiveBitForBit) {
  // Every level computes llama.cpp's arithmetic on llama.cpp's path for the shape (tinyBLAS
  // takes rows % 4 == 0 only, the tiled Q6_K path batches of >= 8, repacked Q4_K groups of 4).
  Rng rng(3);
  ThreadPool pool(2);
  for (DType t : kTypes) {
    const int64_t n_cols = (t == DType::kQ4_K || t == DType::kQ6_K) ? 512 : 96;
    for (int64_t n_rows : {1, 3, 5, 8, 17}) {
      Weights w = make_weights(t, n_rows, n_cols, rng);
      for (int64_t n_batch : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
        const std::vector<float> x = rng.floats(n_batch * n_cols);
        const std::vector<float> want = naive(w.m, x, n_batch);
        for (Isa isa : supported_isas()) {
          Workspace ws(isa);
          ws.reserve(n_batch, n_cols);
          std::vector<float> y(want.size(), NAN);
          matmul(w.m, x.data(), y.data(), n_batch, ws, pool);
          SCOPED_TRACE(testing::Message() << dtype_name(t) << " rows=" << n_rows << " batch=" << n_batch << " "
                                          << isa_name(isa));
          expect_bits(y, want, "matmul vs naive");
        }
      }
    }
  }
}

TEST(Matmul, ShippedModelWidthsMatchNaiveBitForBit) {
  // The widths of qwen2.5-coder-0.5b and gemma3-270m: Q5_0 / Q8_0 rows of 896 and 640 (not a
  // multiple of 256, so their files fall back from k-quants), Q4_K / Q6_K rows of 4864 = 19
  // super-blocks (an odd count) and 2048.
  Rng rng(31);
  ThreadPool pool(2);
  const struct {
    DType t;
    int64_t n_cols;
  } cases[] = {{DType::kQ5_0, 896}, {DType::kQ5_0, 640}, {DType::kQ8_0, 896}, {DType::kQ8_0, 640},
               {DType::kQ4_K, 4864}, {DType::kQ6_K, 4864}, {DType::kQ6_K, 2048}};
  for (const auto& c : cases) {
    Weights w = make_weights(c.t, 32, c.n_cols, rng);
    for (int64_t n_batch : {1, 4, 9}) {
      const std::vector<float> x = rng.floats(n_batch * c.n_cols);
      const std::vector<float> want = naive(w.m, x, n_batch);
      for (Isa isa : supported_isas()) {
        Workspace ws(isa);
        ws.reserve(n_batch, c.n_cols);
        std::vector<float> y(want.size(), NAN);
        matmul(w.m, x.data(), y.data(), n_batch, ws, pool);
        SCOPED_TRACE(testing::Message() << dtype_name(c.t) << " cols=" << c.n_cols << " batch=" << n_batch << " "
                                        << isa_name(isa));
        expect_bits(y, want, "matmul vs naive");
      }
    }
  }
}

TEST(Matmul, LargeBatchUsesChunksAndThreadsDeterministically) {
  Rng rng(4);
  for (DType t : {DType::kQ4_0, DType::kQ4_K, DType::kF16}) {
    const int64_t n_rows = 37, n_cols = 1024, n_batch = 300;
    Weights w = make_weights(t, n_rows, n_cols, rng);
    const std::vector<float> x = rng.floats(n_batch * n_cols);
    const std::vector<float> want = naive(w.m, x, n_batch);
    for (Isa isa : supported_isas()) {
      Workspace ws(isa);
      ws.reserve(n_batch, n_cols);
      std::vector<float> y1(want.size()), y2(want.size());
      ThreadPool one(1), two(2);
      matmul(w.m, x.data(), y1.data(), n_batch, ws, one);
      matmul(w.m, x.data(), y2.data(), n_batch, ws, two);
      SCOPED_TRACE(testing::Message() << dtype_name(t) << " " << isa_name(isa));
      expect_bits(y1, want, "1 thread");
      // Each output is computed by the same code whatever the thread count: bit-identical.
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0);
    }
  }
}

TEST(Matmul, BatchRowsAreIndependentOfBatchSize) {
  // Decode with N paths gives each path what it would get alone up to llama.cpp's own
  // batch-dependent rounding (tinyBLAS / tiled / repacked-gemm order for a batch, vec_dot for
  // one row): compare batch 5 row 3 with batch 1.
  Rng rng(5);
  ThreadPool pool(2);
  for (DType t : kTypes) {
    const int64_t n_cols = 256, n_rows = 9;
    Weights w = make_weights(t, n_rows, n_cols, rng);
    const std::vector<float> x = rng.floats(5 * n_cols);
    for (Isa isa : supported_isas()) {
      Workspace ws(isa);
      ws.reserve(5, n_cols);
      std::vector<float> y5(5 * n_rows), y1(n_rows);
      matmul(w.m, x.data(), y5.data(), 5, ws, pool);
      matmul(w.m, x.data() + 3 * n_cols, y1.data(), 1, ws, pool);
      for (int64_t r = 0; r < n_rows; ++r) {
        EXPECT_NEAR(y5[3 * n_rows + r], y1[r], 1e-5f * (1.0f + std::fabs(y1[r])))
            << dtype_name(t) << " " << isa_name(isa);
      }
    }
  }
}

TEST(TileKernels, EveryShapeUpToFourByFourAndPathMatchesReference) {
  // matmul uses only a few tile shapes per type; the kernels accept any nr, nc <= 4 (more for
  // some), on every path.
  Rng rng(10);
  for (DType t : kTypes) {
    const int64_t n_cols = 512;
    Weights w = make_weights(t, 4, n_cols, rng);
    const size_t wb = static_cast<size_t>(*dtype_row_bytes(t, n_cols));
    const size_t ab = act_row_bytes(t, n_cols);
    std::vector<uint8_t> act(4 * ab);
    const std::vector<float> x = rng.floats(4 * n_cols);
    for (int c = 0; c < 4; ++c) quantize_activations(t, x.data() + c * n_cols, act.data() + c * ab, n_cols, Isa::kScalar);
    for (MatmulPath path : {MatmulPath::kVecDot, MatmulPath::kTinyBlas, MatmulPath::kTiled, MatmulPath::kRepackGemm}) {
      for (Isa isa : supported_isas()) {
        if (isa == Isa::kScalar) continue;
        const detail::GemmKernel* k = detail::gemm_kernel(t, isa);
        for (int nr = 1; nr <= 4; ++nr) {
          for (int nc = 1; nc <= 4; ++nc) {
            std::vector<float> y(16, NAN);
            k->tile(detail::TileArgs{w.bytes.data(), wb, act.data(), ab, n_cols, y.data(), 4, path}, nr, nc);
            for (int c = 0; c < 4; ++c) {
              for (int r = 0; r < 4; ++r) {
                const float v = y[static_cast<size_t>(c * 4 + r)];
                if (r >= nr || c >= nc) {
                  EXPECT_TRUE(std::isnan(v)) << "wrote outside the tile";
                  continue;
                }
                const float want = vec_dot_ref(t, n_cols, w.bytes.data() + r * wb, act.data() + c * ab, path);
                EXPECT_EQ(v, want) << dtype_name(t) << " " << isa_name(isa) << " tile " << nr << "x" << nc << " path "
                                   << static_cast<int>(path);
              }
            }
          }
        }
      }
    }
  }
}

TEST(Matmul, MultiMatchesSeparateCalls) {
  // Q4_K + Q6_K share Q8_K activations (fused); Q8_0 + Q4_K do not (run one by one); F32 + F16.
  Rng rng(11);
  ThreadPool pool(2);
  const std::vector<std::vector<DType>> groups = {
      {DType::kQ4_K, DType::kQ6_K, DType::kQ4_K}, {DType::kQ8_0, DType::kQ4_K}, {DType::kF32, DType::kF16}};
  for (const auto& types : groups) {
    for (int64_t n_batch : {1, 3, 8}) {
      const int64_t n_cols = 256;
      std::vector<Weights> ws_;
      std::vector<Matrix> mats;
      for (size_t i = 0; i < types.size(); ++i) ws_.push_back(make_weights(types[i], 5 + 4 * static_cast<int64_t>(i), n_cols, rng));
      for (auto& w : ws_) mats.push_back(w.m);
      const std::vector<float> x = rng.floats(n_batch * n_cols);
      for (Isa isa : supported_isas()) {
        Workspace work(isa);
        work.reserve(n_batch, n_cols);
        std::vector<std::vector<float>> fused(mats.size()), single(mats.size());
        std::vector<float*> ys;
        for (size_t i = 0; i < mats.size(); ++i) {
          fused[i].assign(static_cast<size_t>(n_batch * mats[i].n_rows), NAN);
          single[i].assign(fused[i].size(), NAN);
          ys.push_back(fused[i].data());
          matmul(mats[i], x.data(), single[i].data(), n_batch, work, pool);
        }
        matmul_multi(mats.data(), ys.data(), static_cast<int>(mats.size()), x.data(), n_batch, work, pool);
        for (size_t i = 0; i < mats.size(); ++i) {
          EXPECT_EQ(std::memcmp(fused[i].data(), single[i].data(), fused[i].size() * sizeof(float)), 0)
              << "matrix " << i << " batch " << n_batch << " " << isa_name(isa);
        }
      }
    }
  }
}

TEST(Matmul, ReserveIsEnforced) {
  Rng rng(6);
  ThreadPool pool(1);
  Weights w = make_weights(DType::kQ8_0, 4, 64, rng);
  Workspace ws(Isa::kScalar);
  ws.reserve(2, 64);
  std::vector<float> x(3 * 64, 0.5f), y(3 * 4);
  EXPECT_DEATH(matmul(w.m, x.data(), y.data(), 3, ws, pool), "exceeds the Workspace reserve");
}

TEST(GetRow, DequantizesOneRow) {
  Rng rng(7);
  for (DType t : kTypes) {
    Weights w = make_weights(t, 5, 256, rng);
    const size_t rb = static_cast<size_t>(*dtype_row_bytes(t, 256));
    std::vector<float> got(256), want(256);
    get_row(w.m, 3, got.data());
    dequantize_row(t, w.bytes.data() + 3 * rb, want.data(), 256);
    EXPECT_EQ(got, want) << dtype_name(t);
  }
}

// Runs matmul_multi on mats[0..n) with fresh NaN-filled outputs and checks each against want[i]
// bit for bit.
void expect_fused(const Matrix* mats, const std::vector<float>* want, int n, const std::vector<float>& x,
                  int64_t n_batch, Workspace& ws, ThreadPool& pool, const char* what) {
  std::vector<std::vector<float>> y(static_cast<size_t>(n));
  std::vector<float*> ys(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    y[static_cast<size_t>(i)].assign(want[i].size(), NAN);
    ys[static_cast<size_t>(i)] = y[static_cast<size_t>(i)].data();
  }
  matmul_multi(mats, ys.data(), n, x.data(), n_batch, ws, pool);
  for (int i = 0; i < n; ++i) expect_bits(y[static_cast<size_t>(i)], want[i], what);
}

// matmul of `m` at every ISA level against `want` bit for bit.
void expect_matmul_every_isa(const Matrix& m, const std::vector<float>& want, const std::vector<float>& x,
                             int64_t n_batch, ThreadPool& pool, const char* what) {
  for (Isa isa : supported_isas()) {
    Workspace ws(isa);
    ws.reserve(n_batch, m.n_cols);
    std::vector<float> y(want.size(), NAN);
    matmul(m, x.data(), y.data(), n_batch, ws, pool);
    SCOPED_TRACE(isa_name(isa));
    expect_bits(y, want, what);
  }
}

// ---- Q4_K x16 layout (repack.h) -----------------------------------------------------------------

// A copy of w in `layout` (Q4_K x16 by default; repack.h).
Weights repacked(const Weights& w, Layout layout = Layout::kQ4Kx16) {
  Weights r;
  r.bytes.resize(w.bytes.size());
  repack(layout, w.m.type, w.bytes.data(), r.bytes.data(), w.m.n_rows, w.m.n_cols);
  r.m = w.m;
  r.m.data = r.bytes.data();
  r.m.layout = layout;
  return r;
}

// The layout kernels (x16, x8) on every tile width and path, called directly: matmul sends them only
// the widths its batches need (e.g. never a 1-column tile on Q4_K's gemm path), but they take any.
TEST(TileKernels, LayoutKernelsTakeEveryWidthAndPath) {
  Rng rng(14);
  struct Case {
    Layout layout;
    DType type;
  };
  const Case cases[] = {{Layout::kQ4Kx16, DType::kQ4_K}, {Layout::kQ4_1x16, DType::kQ4_1}, {Layout::kQ8_0x16, DType::kQ8_0},
                        {Layout::kQ6Kx16, DType::kQ6_K}, {Layout::kX8, DType::kQ8_0},
                        {Layout::kX8, DType::kQ4_0},     {Layout::kX8, DType::kQ4_1},     {Layout::kX8, DType::kQ5_0},
                        {Layout::kX8, DType::kQ5_1},     {Layout::kX8, DType::kQ6_K}};
  int n_kernels = 0;
  for (const Case& cs : cases) {
    const int rows = group_rows(cs.layout);
    const int64_t n_cols = 512;
    const Weights w = make_weights(cs.type, rows, n_cols, rng);
    const Weights packed = repacked(w, cs.layout);
    const size_t wb = static_cast<size_t>(*dtype_row_bytes(cs.type, n_cols));
    const size_t block = dtype_traits(cs.type).block_bytes;
    const size_t ab = act_row_bytes(cs.type, n_cols);
    constexpr int kCols = 8;
    std::vector<uint8_t> act(kCols * ab);
    const std::vector<float> x = rng.floats(kCols * n_cols);
    for (int c = 0; c < kCols; ++c) {
      quantize_activations(cs.type, x.data() + c * n_cols, act.data() + c * ab, n_cols, Isa::kScalar);
    }
    for (Isa isa : supported_isas()) {
      const detail::GemmKernel* k = detail::gemm_kernel_for_layout(cs.layout, cs.type, isa);
      if (k == nullptr) continue;
      ++n_kernels;
      for (MatmulPath path : {MatmulPath::kVecDot, MatmulPath::kTiled, MatmulPath::kRepackGemm}) {
        for (int nc = 1; nc <= std::min(k->cols, kCols); ++nc) {
          std::vector<float> y(static_cast<size_t>(kCols * rows), NAN);
          detail::TileArgs args{packed.bytes.data(), wb, act.data(), ab, n_cols, y.data(), rows, path};
          if (cs.layout == Layout::kX8) {  // as matmul drives the block kernels over x8
            args.w_stride = block;
            args.w_bstride = kX8Rows * block;
          }
          k->tile(args, rows, nc);
          for (int c = 0; c < kCols; ++c) {
            for (int r = 0; r < rows; ++r) {
              const float v = y[static_cast<size_t>(c * rows + r)];
              if (c >= nc) {
                EXPECT_TRUE(std::isnan(v)) << "wrote outside the tile";
                continue;
              }
              const float want = vec_dot_ref(cs.type, n_cols, w.bytes.data() + r * wb, act.data() + c * ab, path);
              EXPECT_EQ(v, want) << dtype_name(cs.type) << " layout " << static_cast<int>(cs.layout) << " "
                                 << isa_name(isa) << " width " << nc << " path " << static_cast<int>(path) << " row " << r;
            }
          }
        }
      }
    }
  }
  // Which levels have layout kernels is the loader's business (model repack tests); here at least
  // the default level's, where it reads any.
  if (reads_layout(Layout::kX8, DType::kQ8_0, default_isa())) {
    EXPECT_GT(n_kernels, 0);
  }
}

TEST(RepackQ4Kx16, RoundTripsAndInPlaceMatchesCopy) {
  Rng rng(20);
  EXPECT_FALSE(can_repack_q4_K_x16(24, 512));   // rows not a multiple of 16
  EXPECT_FALSE(can_repack_q4_K_x16(32, 200));   // not whole blocks
  EXPECT_TRUE(can_repack_q4_K_x16(32, 512));
  const int64_t n_rows = 48, n_cols = 768;
  Weights w = make_weights(DType::kQ4_K, n_rows, n_cols, rng);
  Weights r = repacked(w);
  EXPECT_NE(r.bytes, w.bytes);
  const size_t rb = w.bytes.size() / n_rows;
  std::vector<uint8_t> row(rb);
  for (int64_t i = 0; i < n_rows; ++i) {
    unpack_q4_K_x16_row(r.bytes.data() + (i / 16) * 16 * rb, static_cast<int>(i % 16), n_cols, row.data());
    ASSERT_EQ(std::memcmp(row.data(), w.bytes.data() + i * rb, rb), 0) << "row " << i;
  }
  // Spot-check the documented layout: row 5's d, and qs byte 32 k + 4 j + 1 of row 7, block 2.
  const uint8_t* gb2 = r.bytes.data() + 2 * kQ4KGroupBlockBytes;
  const auto* blk = reinterpret_cast<const block_q4_K*>(w.bytes.data());
  EXPECT_EQ(std::memcmp(r.bytes.data() + 2 * 5, &blk[5 * 3].d, 2), 0);
  EXPECT_EQ(gb2[256 + 64 * (8 * 3 + 6) + 4 * 7 + 1], blk[7 * 3 + 2].qs[32 * 3 + 4 * 6 + 1]);
  std::vector<uint8_t> inplace = w.bytes, scratch(q4_K_x16_group_bytes(n_cols));
  repack_q4_K_x16_inplace(inplace.data(), n_rows, n_cols, scratch.data());
  EXPECT_EQ(inplace, r.bytes);
}

TEST(RepackQ4Kx16, MatmulEveryIsaAndBatchMatchesNaiveBitForBit) {
  // The x16 kernel (AVX-512) and the rebuilt-row fallback (scalar, AVX2) compute llama.cpp's
  // repacked gemm / gemv on the same rows as the row-major layout.
  Rng rng(21);
  ThreadPool pool(2);
  for (int64_t n_cols : {256, 1024}) {
    for (int64_t n_rows : {16, 48}) {
      Weights w = make_weights(DType::kQ4_K, n_rows, n_cols, rng);
      Weights r = repacked(w);
      for (int64_t n_batch : {1, 2, 3, 4, 5, 7, 8, 9, 13, 40}) {
        const std::vector<float> x = rng.floats(n_batch * n_cols);
        SCOPED_TRACE(testing::Message() << "x16 rows=" << n_rows << " cols=" << n_cols << " batch=" << n_batch);
        expect_matmul_every_isa(r.m, naive(w.m, x, n_batch), x, n_batch, pool, "x16 matmul vs naive");
      }
    }
  }
}

TEST(RepackQ4Kx16, LargeBatchAndFusedCallsMatch) {
  // Column chunks, 1 vs 2 threads, and a fused call mixing x16 Q4_K with row-major Q6_K / Q4_K.
  Rng rng(22);
  const int64_t n_cols = 2048, n_batch = 300;
  Weights a = make_weights(DType::kQ4_K, 32, n_cols, rng), b = make_weights(DType::kQ6_K, 7, n_cols, rng);
  Weights c = make_weights(DType::kQ4_K, 9, n_cols, rng);
  Weights ar = repacked(a);
  const std::vector<float> x = rng.floats(n_batch * n_cols);
  const Matrix mats[3] = {ar.m, b.m, c.m};
  const std::vector<float> want[3] = {naive(a.m, x, n_batch), naive(b.m, x, n_batch), naive(c.m, x, n_batch)};
  for (Isa isa : supported_isas()) {
    Workspace ws(isa);
    ws.reserve(n_batch, n_cols);
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " threads=" << threads);
      expect_fused(mats, want, 3, x, n_batch, ws, pool, "fused x16");
    }
  }
}

TEST(RepackQ4Kx16, GetRowMatchesRowMajor) {
  Rng rng(23);
  Weights w = make_weights(DType::kQ4_K, 32, 512, rng);
  Weights r = repacked(w);
  std::vector<float> got(512), want(512);
  for (int64_t row : {0, 15, 17, 31}) {
    get_row(r.m, row, got.data());
    get_row(w.m, row, want.data());
    EXPECT_EQ(got, want) << "row " << row;
  }
}

// ---- x8 layout (repack.h) ------------------------------------------------------------------------

const DType kX8Types[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ6_K};


TEST(RepackX8, TypesShapesAndRoundTrip) {
  EXPECT_FALSE(can_repack_x8(DType::kQ4_1, 12, 64));   // rows not a multiple of 8
  EXPECT_FALSE(can_repack_x8(DType::kQ4_1, 16, 48));   // not whole blocks
  EXPECT_FALSE(can_repack_x8(DType::kQ4_K, 16, 256));  // Q4_K takes x16
  EXPECT_FALSE(can_repack_x8(DType::kF16, 16, 256));
  EXPECT_FALSE(can_repack_x8(DType::kQ8_0, 16, 32 * 1024));  // row over kMaxRepackRowBytes
  Rng rng(30);
  for (DType t : kX8Types) {
    const int64_t n_rows = 24, n_cols = 512;
    ASSERT_TRUE(can_repack_x8(t, n_rows, n_cols)) << dtype_name(t);
    Weights w = make_weights(t, n_rows, n_cols, rng);
    Weights r = repacked(w, Layout::kX8);
    EXPECT_NE(r.bytes, w.bytes) << dtype_name(t);
    const size_t rb = w.bytes.size() / n_rows, bb = dtype_traits(t).block_bytes;
    std::vector<uint8_t> row(rb);
    for (int64_t i = 0; i < n_rows; ++i) {
      unpack_x8_row(t, r.bytes.data() + (i / 8) * 8 * rb, static_cast<int>(i % 8), n_cols, row.data());
      ASSERT_EQ(std::memcmp(row.data(), w.bytes.data() + i * rb, rb), 0) << dtype_name(t) << " row " << i;
    }
    // The documented layout: block 1 of row 13 (group 1, row 5) at (8 * 1 + 5) blocks into group 1.
    EXPECT_EQ(std::memcmp(r.bytes.data() + 8 * rb + (8 + 5) * bb, w.bytes.data() + 13 * rb + bb, bb), 0) << dtype_name(t);
  }
}

TEST(RepackX8, MatmulEveryTypeIsaAndBatchMatchesNaiveBitForBit) {
  // The AVX-512 kernels read x8 directly; the other levels rebuild the rows. Either way the
  // results are the row-major ones, bit for bit.
  Rng rng(31);
  ThreadPool pool(2);
  for (DType t : kX8Types) {
    for (int64_t n_rows : {8, 40}) {
      const int64_t n_cols = t == DType::kQ6_K ? 512 : 96;
      Weights w = make_weights(t, n_rows, n_cols, rng);
      Weights r = repacked(w, Layout::kX8);
      for (int64_t n_batch : {1, 2, 3, 4, 5, 8, 9, 17}) {
        const std::vector<float> x = rng.floats(n_batch * n_cols);
        SCOPED_TRACE(testing::Message() << "x8 " << dtype_name(t) << " rows=" << n_rows << " batch=" << n_batch);
        expect_matmul_every_isa(r.m, naive(w.m, x, n_batch), x, n_batch, pool, "x8 matmul vs naive");
      }
    }
  }
}

TEST(RepackX8, LargeBatchFusedCallsAndGetRowMatch) {
  // Column chunks, 1 vs 2 threads, a fused call mixing x8 Q4_1 with row-major Q4_1, and get_row.
  Rng rng(32);
  const int64_t n_cols = 1024, n_batch = 300;
  Weights a = make_weights(DType::kQ4_1, 32, n_cols, rng), b = make_weights(DType::kQ4_1, 7, n_cols, rng);
  Weights ar = repacked(a, Layout::kX8);
  const std::vector<float> x = rng.floats(n_batch * n_cols);
  const Matrix mats[2] = {ar.m, b.m};
  const std::vector<float> want[2] = {naive(a.m, x, n_batch), naive(b.m, x, n_batch)};
  for (Isa isa : supported_isas()) {
    Workspace ws(isa);
    ws.reserve(n_batch, n_cols);
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " threads=" << threads);
      expect_fused(mats, want, 2, x, n_batch, ws, pool, "fused x8");
    }
  }
  std::vector<float> got(n_cols), exp(n_cols);
  for (int64_t row : {0, 7, 8, 31}) {
    get_row(ar.m, row, got.data());
    get_row(a.m, row, exp.data());
    EXPECT_EQ(got, exp) << "row " << row;
  }
}

// ---- Q4_1 x16, Q8_0 x16 and Q6_K x16 layouts (repack.h) -----------------------------------------

using UnpackRowFn = void (*)(const uint8_t* group, int row, int64_t n_cols, void* out);

// A 48 x n_cols matrix of `type` repacked into `layout` differs from the original and every row
// unpacks back to it; returns the pair for the layout checks.
std::pair<Weights, Weights> expect_x16_round_trip(DType type, Layout layout, UnpackRowFn unpack, uint64_t seed,
                                                  int64_t n_cols = 160) {
  Rng rng(seed);
  const int64_t n_rows = 48;
  Weights w = make_weights(type, n_rows, n_cols, rng);
  Weights r = repacked(w, layout);
  EXPECT_NE(r.bytes, w.bytes);
  const size_t rb = w.bytes.size() / n_rows;
  std::vector<uint8_t> row(rb);
  for (int64_t i = 0; i < n_rows; ++i) {
    unpack(r.bytes.data() + (i / 16) * 16 * rb, static_cast<int>(i % 16), n_cols, row.data());
    EXPECT_EQ(std::memcmp(row.data(), w.bytes.data() + i * rb, rb), 0) << "row " << i;
  }
  return {std::move(w), std::move(r)};
}

// The lane-per-row AVX-512 kernel of `layout` and the rebuilt-row fallback against the naive
// loop: 16 and 48 rows, `cols` columns (32 and 576 by default), batches 1..8 (column pairs and
// singles) and a chunked 300-row batch, 1 and 2 threads, a fused call with a row-major matrix
// beside it, and get_row. `edit(w, x)` may set chosen weights and activations (extremes) before
// the comparison.
template <typename Edit>
void expect_x16_matmul_matches_naive(DType type, Layout layout, uint64_t seed, Edit edit,
                                     std::initializer_list<int64_t> cols = {32, 576}) {
  Rng rng(seed);
  for (int64_t n_rows : {16, 48}) {
    for (int64_t n_cols : cols) {
      Weights w = make_weights(type, n_rows, n_cols, rng), o = make_weights(type, 9, n_cols, rng);
      std::vector<float> x_edit;
      edit(w, x_edit);
      Weights r = repacked(w, layout);
      for (int64_t n_batch : {1, 2, 3, 4, 5, 8, 300}) {
        std::vector<float> x = rng.floats(n_batch * n_cols);
        std::copy(x_edit.begin(), x_edit.end(), x.begin());
        const std::vector<float> want[2] = {naive(w.m, x, n_batch), naive(o.m, x, n_batch)};
        for (Isa isa : supported_isas()) {
          Workspace ws(isa);
          ws.reserve(n_batch, n_cols);
          for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            const Matrix mats[2] = {r.m, o.m};
            SCOPED_TRACE(testing::Message() << dtype_name(type) << " x16 rows=" << n_rows << " cols=" << n_cols
                                            << " batch=" << n_batch << " " << isa_name(isa) << " threads=" << threads);
            expect_fused(mats, want, 2, x, n_batch, ws, pool, "x16 (and row-major beside it) vs naive");
          }
        }
      }
      std::vector<float> got(static_cast<size_t>(n_cols)), exp(static_cast<size_t>(n_cols));
      for (int64_t row : {int64_t{0}, int64_t{15}, n_rows - 1}) {
        get_row(r.m, row, got.data());
        get_row(w.m, row, exp.data());
        EXPECT_EQ(got, exp) << "row " << row;
      }
    }
  }
}

// The block-type x16 layouts' shape rule: whole groups of 16 rows and whole 32-weight blocks.
void expect_x16_shape_rule(bool (*can_repack)(int64_t rows, int64_t cols)) {
  EXPECT_FALSE(can_repack(24, 64));  // rows not a multiple of 16
  EXPECT_FALSE(can_repack(16, 48));  // not whole blocks
  EXPECT_TRUE(can_repack(32, 64));
}

TEST(RepackQ41x16, ShapesRoundTripAndLayout) {
  expect_x16_shape_rule(can_repack_q4_1_x16);
  const auto [w, r] = expect_x16_round_trip(DType::kQ4_1, Layout::kQ4_1x16, unpack_q4_1_x16_row, 40);
  // The documented layout: group 1, block 2: m of row 3 (row 19) and qs byte 4 * 2 + 1 of row 9 (row 25).
  const size_t rb = w.bytes.size() / 48;
  const auto* blk = reinterpret_cast<const block_q4_1*>(w.bytes.data());
  const uint8_t* gb = r.bytes.data() + 16 * rb + 2 * kQ4_1GroupBlockBytes;
  EXPECT_EQ(std::memcmp(gb + 32 + 2 * 3, &blk[19 * 5 + 2].m, 2), 0);
  EXPECT_EQ(gb[64 + 64 * 2 + 4 * 9 + 1], blk[25 * 5 + 2].qs[4 * 2 + 1]);
}

TEST(RepackQ41x16, MatmulFusedAndGetRowMatchBitForBit) {
  expect_x16_matmul_matches_naive(DType::kQ4_1, Layout::kQ4_1x16, 41, [](Weights&, std::vector<float>&) {});
}

TEST(RepackQ80x16, ShapesRoundTripAndLayout) {
  expect_x16_shape_rule(can_repack_q8_0_x16);
  const auto [w, r] = expect_x16_round_trip(DType::kQ8_0, Layout::kQ8_0x16, unpack_q8_0_x16_row, 80);
  // The documented layout: group 1, block 2: d of row 3 (row 19) and quant 4 * 5 + 1 of row 9
  // (row 25), stored + 128.
  const size_t rb = w.bytes.size() / 48;
  const auto* blk = reinterpret_cast<const block_q8_0*>(w.bytes.data());
  const uint8_t* gb = r.bytes.data() + 16 * rb + 2 * kQ8_0GroupBlockBytes;
  EXPECT_EQ(std::memcmp(gb + 2 * 3, &blk[19 * 5 + 2].d, 2), 0);
  EXPECT_EQ(gb[32 + 64 * 5 + 4 * 9 + 1], static_cast<uint8_t>(blk[25 * 5 + 2].qs[4 * 5 + 1] + 128));
}

TEST(RepackQ80x16, MatmulFusedAndGetRowMatchBitForBit) {
  // Also extreme quants: -128 and 127 in row 0's first block against +-1 activations (+-127).
  expect_x16_matmul_matches_naive(DType::kQ8_0, Layout::kQ8_0x16, 81, [](Weights& w, std::vector<float>& x) {
    auto* blocks = reinterpret_cast<block_q8_0*>(w.bytes.data());
    for (int i = 0; i < kQK8_0; ++i) {
      blocks[0].qs[i] = static_cast<int8_t>(i % 2 == 0 ? -128 : 127);
      x.push_back(i % 2 == 0 ? -1.0f : 1.0f);
    }
  });
}

TEST(RepackQ6Kx16, ShapesRoundTripAndLayout) {
  EXPECT_FALSE(can_repack_q6_K_x16(24, 256));  // rows not a multiple of 16
  EXPECT_FALSE(can_repack_q6_K_x16(16, 128));  // not whole 256-weight blocks
  EXPECT_TRUE(can_repack_q6_K_x16(32, 512));
  EXPECT_TRUE(can_repack(Layout::kQ6Kx16, DType::kQ6_K, 32, 512));
  EXPECT_FALSE(can_repack(Layout::kQ6Kx16, DType::kQ4_K, 32, 512));
  const auto [w, r] = expect_x16_round_trip(DType::kQ6_K, Layout::kQ6Kx16, unpack_q6_K_x16_row, 60, 512);
  // The documented layout, group 1, block 1: d and scale 13 of row 3 (row 19); weight
  // 32 * 6 + 4 * 5 + 2 of row 9 (row 25): chunk j = 6, lane k = 5, i = 2 -> low nibble in the high
  // half of ql vector 2, high bits at bits 4-5 of qh vector 1.
  const size_t rb = w.bytes.size() / 48;
  const auto* blk = reinterpret_cast<const block_q6_K*>(w.bytes.data());
  const uint8_t* gb = r.bytes.data() + 16 * rb + kQ6KGroupBlockBytes;
  EXPECT_EQ(std::memcmp(gb + 2 * 3, &blk[19 * 2 + 1].d, 2), 0);
  EXPECT_EQ(static_cast<int8_t>(gb[32 + 16 * 13 + 3]), blk[19 * 2 + 1].scales[13]);
  const block_q6_K& b25 = blk[25 * 2 + 1];
  const int wi = 32 * 6 + 4 * 5 + 2;  // 214 = 128 + 32 * 2 + 22: ql[64 + 22] high nibble, qh[32 + 22] bits 4-5
  const int q6 = (b25.ql[64 + 22] >> 4) | ((b25.qh[32 + 22] >> 4) & 3) << 4;
  static_assert(wi == 128 + 32 * 2 + 22);
  const uint8_t* q = gb + 288 + 384 * 5 + 4 * 9 + 2;
  EXPECT_EQ((q[64 * 2] >> 4) | ((q[256 + 64] >> 4) & 3) << 4, q6);
}

TEST(RepackQ6Kx16, MatmulFusedAndGetRowMatchBitForBit) {
  // Also extreme values: quants 0 and 63 and scales -128 and 127 in row 0's first block against
  // +-1 activations (+-127 after quantization), the largest products the kernel's int16 pairs hold.
  expect_x16_matmul_matches_naive(
      DType::kQ6_K, Layout::kQ6Kx16, 61,
      [](Weights& w, std::vector<float>& x) {
        auto* b = reinterpret_cast<block_q6_K*>(w.bytes.data());
        for (int i = 0; i < 64; ++i) b[0].ql[i] = 0xF0;
        for (int i = 64; i < 128; ++i) b[0].ql[i] = 0xFF;
        for (int i = 0; i < 64; ++i) b[0].qh[i] = static_cast<uint8_t>(i % 3 == 0 ? 0xFF : 0x0F);
        for (int s = 0; s < 16; ++s) b[0].scales[s] = static_cast<int8_t>(s % 2 == 0 ? -128 : 127);
        for (int i = 0; i < kQK_K; ++i) x.push_back(i % 3 == 0 ? -1.0f : 1.0f);
      },
      {256, 768});
}

}  // namespace
}  // namespace er::kernels
