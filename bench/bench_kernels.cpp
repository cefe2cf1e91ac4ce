// Kernel micro-benchmarks: matmul per weight type (weight GB/s, tokens/s, GMAC/s), dispatch, memory read.
//
//   er_bench_kernels [--benchmark_filter=...]   (EDGEREASON_ISA=scalar|avx2|avx512 picks the level)
//
// Matmul arguments: weight type index (kTypes), shape index (kShapes), batch rows, threads.
// bytes_per_second counts weight bytes read per call, so for batch 1 it is the achieved weight
// bandwidth; items_per_second counts batch rows (tokens or paths).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/repack.h"

namespace {

using er::DType;
using er::ThreadPool;
namespace k = er::kernels;

constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                            DType::kQ4_1, DType::kQ4_K, DType::kQ6_K, DType::kQ5_0, DType::kQ5_1};
struct Shape {
  int64_t n_rows, n_cols;
};
// SmolLM2-135M's ffn_down (576 x 1536) and a 1.5B-class ffn_down (2048 x 8192).
constexpr Shape kShapes[] = {{576, 1536}, {2048, 8192}};

float rand_float(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<float>(static_cast<int64_t>(s >> 40) - (1 << 23)) / static_cast<float>(1 << 23);
}

// One quantized weight matrix per (type, shape), built once (quantizing 16M weights takes a while).
struct WeightCache {
  std::vector<uint8_t> bytes[std::size(kTypes)][std::size(kShapes)];
  const std::vector<uint8_t>& get(size_t t, size_t s) {
    std::vector<uint8_t>& b = bytes[t][s];
    if (b.empty()) {
      const Shape sh = kShapes[s];
      const size_t rb = static_cast<size_t>(*er::dtype_row_bytes(kTypes[t], static_cast<uint64_t>(sh.n_cols)));
      b.resize(rb * static_cast<size_t>(sh.n_rows));
      std::vector<float> row(static_cast<size_t>(sh.n_cols));
      uint64_t seed = 42;
      for (int64_t r = 0; r < sh.n_rows; ++r) {
        for (auto& x : row) x = rand_float(seed);
        (void)er::kernels::quantize_row(kTypes[t], row.data(), b.data() + r * rb, sh.n_cols);
      }
    }
    return b;
  }
};
WeightCache& weights() {
  static WeightCache cache;
  return cache;
}

void BM_Matmul(benchmark::State& state) {
  const size_t ti = static_cast<size_t>(state.range(0)), si = static_cast<size_t>(state.range(1));
  const int64_t n_batch = state.range(2);
  const int n_threads = static_cast<int>(state.range(3));
  const Shape sh = kShapes[si];
  const std::vector<uint8_t>& w = weights().get(ti, si);
  const k::Matrix m{kTypes[ti], w.data(), sh.n_rows, sh.n_cols};
  std::vector<float> x(static_cast<size_t>(n_batch * sh.n_cols)), y(static_cast<size_t>(n_batch * sh.n_rows));
  uint64_t seed = 7;
  for (auto& v : x) v = rand_float(seed);
  ThreadPool pool(n_threads);
  k::Workspace ws;
  ws.reserve(n_batch, sh.n_cols);
  for (auto _ : state) {
    k::matmul(m, x.data(), y.data(), n_batch, ws, pool);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n_batch);
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(sh.n_rows * sh.n_cols * n_batch) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
  state.SetLabel(std::string(er::dtype_name(kTypes[ti])) + " " + std::to_string(sh.n_rows) + "x" +
                 std::to_string(sh.n_cols) + " " + std::string(k::isa_name(ws.isa())));
}

void MatmulArgs(benchmark::internal::Benchmark* b) {
  for (int64_t t = 0; t < static_cast<int64_t>(std::size(kTypes)); ++t) {
    for (int64_t threads : {1, 2}) {
      for (int64_t s = 0; s < 2; ++s) {
        for (int64_t batch : {1, 4, 8, 512}) {
          if (batch == 512 && s == 0) continue;  // prefill on the larger matrix only
          b->Args({t, s, batch, threads});
        }
      }
    }
  }
}
BENCHMARK(BM_Matmul)->Apply(MatmulArgs)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Q4_K row-major vs the x16 layout (kernels/repack.h) on the 2048 x 8192 shape, same weights:
// arguments layout (0 row-major, 1 x16), batch rows, threads. Run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N for an A/B on a busy machine.
void BM_Q4KLayout(benchmark::State& state) {
  const bool x16 = state.range(0) != 0;
  const int64_t n_batch = state.range(1);
  const int n_threads = static_cast<int>(state.range(2));
  const Shape sh = kShapes[1];
  constexpr size_t kQ4K = 6;
  static_assert(kTypes[kQ4K] == DType::kQ4_K);
  const std::vector<uint8_t>& w = weights().get(kQ4K, 1);
  static std::vector<uint8_t> packed;
  if (packed.empty()) {
    packed.resize(w.size());
    k::repack_q4_K_x16(w.data(), packed.data(), sh.n_rows, sh.n_cols);
  }
  k::Matrix m{DType::kQ4_K, x16 ? packed.data() : w.data(), sh.n_rows, sh.n_cols};
  m.layout = x16 ? k::Layout::kQ4Kx16 : k::Layout::kRowMajor;
  std::vector<float> x(static_cast<size_t>(n_batch * sh.n_cols)), y(static_cast<size_t>(n_batch * sh.n_rows));
  uint64_t seed = 7;
  for (auto& v : x) v = rand_float(seed);
  ThreadPool pool(n_threads);
  k::Workspace ws;
  ws.reserve(n_batch, sh.n_cols);
  for (auto _ : state) {
    k::matmul(m, x.data(), y.data(), n_batch, ws, pool);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(sh.n_rows * sh.n_cols * n_batch) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
  state.SetLabel(std::string(x16 ? "x16 " : "row-major ") + std::string(k::isa_name(ws.isa())));
}
BENCHMARK(BM_Q4KLayout)->ArgsProduct({{0, 1}, {1, 4, 512}, {1, 2}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Batch-1 decode from DRAM: cycles through copies of the 2048 x 8192 matrix totalling >= 128 MiB
// (4x the 32 MiB L3 of the development machine), so bytes_per_second is the DRAM-bound rate that
// decode of a real model sees. Arguments: type index, threads, layout (0 row-major; 1 x16 for Q4_K,
// x8 for the block types; 2 Q4_1 x16 (the loader's choice for Q4_1); kernels/repack.h).
void BM_MatvecDram(benchmark::State& state) {
  const size_t ti = static_cast<size_t>(state.range(0));
  const int n_threads = static_cast<int>(state.range(1));
  const Shape sh = kShapes[1];
  k::Layout layout = k::Layout::kRowMajor;
  if (state.range(2) == 2) {
    if (kTypes[ti] != DType::kQ4_1) {
      state.SkipWithError("layout 2 is Q4_1 x16");
      return;
    }
    layout = k::Layout::kQ4_1x16;
  } else if (state.range(2) != 0) {
    if (kTypes[ti] == DType::kQ4_K) {
      layout = k::Layout::kQ4Kx16;
    } else if (k::can_repack_x8(kTypes[ti], sh.n_rows, sh.n_cols)) {
      layout = k::Layout::kX8;
    } else {
      state.SkipWithError("no repacked layout for this type");
      return;
    }
  }
  const std::vector<uint8_t>& w = weights().get(ti, 1);
  const size_t n_copies = (size_t{128} << 20) / w.size() + 1;
  std::vector<std::vector<uint8_t>> copies(n_copies, w);
  for (auto& c : copies) {
    k::repack(layout, kTypes[ti], w.data(), c.data(), sh.n_rows, sh.n_cols);
  }
  std::vector<float> x(static_cast<size_t>(sh.n_cols)), y(static_cast<size_t>(sh.n_rows));
  uint64_t seed = 9;
  for (auto& v : x) v = rand_float(seed);
  ThreadPool pool(n_threads);
  k::Workspace ws;
  ws.reserve(1, sh.n_cols);
  size_t i = 0;
  for (auto _ : state) {
    k::Matrix m{kTypes[ti], copies[i].data(), sh.n_rows, sh.n_cols};
    m.layout = layout;
    i = (i + 1) % n_copies;
    k::matmul(m, x.data(), y.data(), 1, ws, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  const char* lname = layout == k::Layout::kQ4Kx16 || layout == k::Layout::kQ4_1x16 ? " x16"
                      : layout == k::Layout::kX8                                    ? " x8"
                                                                                    : "";
  state.SetLabel(std::string(er::dtype_name(kTypes[ti])) + lname + " 2048x8192 x" + std::to_string(n_copies) + " " +
                 std::string(k::isa_name(ws.isa())));
}
BENCHMARK(BM_MatvecDram)
    ->ArgsProduct({benchmark::CreateDenseRange(0, static_cast<int64_t>(std::size(kTypes)) - 1, 1), {1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// N-path decode from DRAM: as BM_MatvecDram (2 threads), but `paths` activation rows, each its
// own row group (the batch-invariant vec_dot arithmetic of N-path decode and the speculative
// verify pass), in the layout the loader picks at this level (Q4_K x16, Q4_1 x16, Q8_0 x16,
// Q6_K x16; row-major where none applies). Arguments: type index, paths, layout (0 row-major,
// 1 the loader's), shape (0: 2048 x 8192; 1: 151936 x 1536, qwen2.5-coder-1.5b's output head,
// 64 distinct rows repeated). The ideal is a time per call flat in paths (bandwidth-bound).
void BM_MatvecDramPaths(benchmark::State& state) {
  const size_t ti = static_cast<size_t>(state.range(0));
  const int64_t paths = state.range(1);
  const Shape sh = state.range(3) == 0 ? kShapes[1] : Shape{151936, 1536};
  k::Workspace ws;
  k::Layout layout = k::Layout::kRowMajor;
  if (state.range(2) != 0) {
    for (const k::Layout l : {k::Layout::kQ4Kx16, k::Layout::kQ4_1x16, k::Layout::kQ8_0x16, k::Layout::kQ6Kx16,
                              k::Layout::kX8}) {
      if (k::can_repack(l, kTypes[ti], sh.n_rows, sh.n_cols) && k::reads_layout(l, kTypes[ti], ws.isa())) {
        layout = l;
        break;
      }
    }
    if (layout == k::Layout::kRowMajor) {
      state.SkipWithError("no repacked layout for this type at this level");
      return;
    }
  }
  std::vector<uint8_t> w;
  if (state.range(3) == 0) {
    w = weights().get(ti, 1);
  } else {
    const size_t rb = static_cast<size_t>(*er::dtype_row_bytes(kTypes[ti], static_cast<uint64_t>(sh.n_cols)));
    w.resize(rb * static_cast<size_t>(sh.n_rows));
    std::vector<float> row(static_cast<size_t>(sh.n_cols));
    uint64_t s = 3;
    for (int64_t r = 0; r < 64; ++r) {
      for (auto& v : row) v = rand_float(s);
      (void)k::quantize_row(kTypes[ti], row.data(), w.data() + r * rb, sh.n_cols);
    }
    for (int64_t r = 64; r < sh.n_rows; ++r) std::memcpy(w.data() + r * rb, w.data() + (r % 64) * rb, rb);
  }
  const size_t n_copies = (size_t{128} << 20) / w.size() + 1;
  std::vector<std::vector<uint8_t>> copies(n_copies, w);
  for (auto& c : copies) k::repack(layout, kTypes[ti], w.data(), c.data(), sh.n_rows, sh.n_cols);
  std::vector<float> x(static_cast<size_t>(sh.n_cols * paths)), y(static_cast<size_t>(sh.n_rows * paths));
  uint64_t seed = 9;
  for (auto& v : x) v = rand_float(seed);
  const std::vector<int64_t> groups(static_cast<size_t>(paths), 1);
  ThreadPool pool(2);
  ws.reserve(paths, sh.n_cols);
  size_t i = 0;
  for (auto _ : state) {
    k::Matrix m{kTypes[ti], copies[i].data(), sh.n_rows, sh.n_cols};
    m.layout = layout;
    i = (i + 1) % n_copies;
    k::matmul(m, x.data(), y.data(), paths, ws, pool, groups);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.SetLabel(std::string(er::dtype_name(kTypes[ti])) + " layout " + std::to_string(static_cast<int>(layout)) +
                 " " + std::to_string(sh.n_rows) + "x" + std::to_string(sh.n_cols) + " paths " +
                 std::to_string(paths) + " " + std::string(k::isa_name(ws.isa())));
}
BENCHMARK(BM_MatvecDramPaths)
    ->ArgsProduct({{3, 5, 6, 7}, {1, 2, 4, 8}, {0, 1}, {0}})
    ->ArgsProduct({{7}, {1, 2, 4, 8}, {0, 1}, {1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Decode of SmolLM2-135M's matrices in the loader's Q4_1 x16 layout, warm in cache (a 576-column
// row is only 18 blocks, so the per-row-group reduction weighs more than on wide rows), for one
// path and for 8 paths decoded together (the N-path kernel: compute-bound).
// Arguments: rows, columns, threads, batch.
void BM_MatvecQ41x16Warm(benchmark::State& state) {
  const int64_t n_rows = state.range(0), n_cols = state.range(1);
  const int n_threads = static_cast<int>(state.range(2));
  const int64_t n_batch = state.range(3);
  const size_t rb = static_cast<size_t>(*er::dtype_row_bytes(DType::kQ4_1, static_cast<uint64_t>(n_cols)));
  std::vector<uint8_t> w(rb * static_cast<size_t>(n_rows)), packed(w.size());
  std::vector<float> row(static_cast<size_t>(n_cols));
  uint64_t seed = 5;
  for (int64_t r = 0; r < n_rows; ++r) {
    for (auto& x : row) x = rand_float(seed);
    (void)k::quantize_row(DType::kQ4_1, row.data(), w.data() + r * rb, n_cols);
  }
  k::repack(k::Layout::kQ4_1x16, DType::kQ4_1, w.data(), packed.data(), n_rows, n_cols);
  k::Matrix m{DType::kQ4_1, packed.data(), n_rows, n_cols};
  m.layout = k::Layout::kQ4_1x16;
  std::vector<float> x(static_cast<size_t>(n_cols * n_batch)), y(static_cast<size_t>(n_rows * n_batch));
  for (auto& v : x) v = rand_float(seed);
  ThreadPool pool(n_threads);
  k::Workspace ws;
  ws.reserve(n_batch, n_cols);
  for (auto _ : state) {
    k::matmul(m, x.data(), y.data(), n_batch, ws, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n_rows * n_cols * n_batch) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MatvecQ41x16Warm)
    ->ArgsProduct({{576}, {576}, {1, 2}, {1, 8}})
    ->ArgsProduct({{1536}, {576}, {1, 2}, {1, 8}})
    ->ArgsProduct({{576}, {1536}, {1, 2}, {1, 8}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The cost of one parallel_for with trivial tasks (the floor under every parallel op of a step).
void BM_Dispatch(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::atomic<int64_t> n{0};
  for (auto _ : state) pool.run(pool.n_threads(), [&](int64_t b, int64_t e, int) { n += e - b; });
  benchmark::DoNotOptimize(n.load());
}
BENCHMARK(BM_Dispatch)->Arg(1)->Arg(2)->UseRealTime();

// Streaming read bandwidth of 256 MiB with the pool's threads: the roofline for batch-1 decode.
void BM_MemoryRead(benchmark::State& state) {
  const int64_t n = (256 << 20) / 8;
  std::unique_ptr<int64_t[]> buf(new int64_t[static_cast<size_t>(n)]);
  for (int64_t i = 0; i < n; ++i) buf[static_cast<size_t>(i)] = i;
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    pool.run(n / 4096, [&](int64_t b, int64_t e, int) {
      int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = b * 4096; i < e * 4096; i += 4) {
        s0 += buf[static_cast<size_t>(i)];
        s1 += buf[static_cast<size_t>(i + 1)];
        s2 += buf[static_cast<size_t>(i + 2)];
        s3 += buf[static_cast<size_t>(i + 3)];
      }
      sink += s0 + s1 + s2 + s3;
    });
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 8);
}
BENCHMARK(BM_MemoryRead)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode attention of one layer: one query row against a head-major f16 cache (the engine's) of
// n_kv positions, warm in cache. Shape 0: 12 heads over 2 KV heads of 128 dims (Qwen2.5-1.5B); shape 1: 9 heads over 3 KV
// heads of 64 dims (SmolLM2-135M). items_per_second counts cached positions attended.
void BM_AttentionDecode(benchmark::State& state) {
  const int64_t n_kv = state.range(0);
  const int n_threads = static_cast<int>(state.range(1));
  const bool smol = state.range(2) == 1;
  const int n_head = smol ? 9 : 12, n_head_kv = smol ? 3 : 2, hd = smol ? 64 : 128;
  const k::AttentionShape shape{n_head, n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  const int64_t kv_width = static_cast<int64_t>(n_head_kv) * hd;
  std::vector<uint16_t> kc(static_cast<size_t>(n_kv * kv_width)), vc(kc.size());
  uint64_t seed = 3;
  for (auto& h : kc) h = static_cast<uint16_t>(0x3000 + (rand_float(seed) > 0 ? 0x100 : 0x8100));
  for (auto& h : vc) h = static_cast<uint16_t>(0x3400 + (rand_float(seed) > 0 ? 0x80 : 0x8080));
  std::vector<float> q(static_cast<size_t>(n_head * hd)), out(q.size());
  for (auto& v : q) v = rand_float(seed);
  ThreadPool pool(n_threads);
  k::AttentionScratch scratch;
  scratch.reserve(n_threads, n_kv, hd);
  const k::AttentionTask task{q.data(), 1, n_kv - 1, k::KvCacheView{DType::kF16, kc.data(), vc.data(), hd, n_kv * hd},
                              out.data()};
  for (auto _ : state) {
    k::attention(shape, &task, 1, scratch, pool, k::default_isa());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n_kv);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n_kv * 2 * kv_width * 2);
}
BENCHMARK(BM_AttentionDecode)
    ->ArgsProduct({{512, 4096}, {1, 2}, {0}})
    ->ArgsProduct({{32, 128, 512}, {1, 2}, {1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Float ops at decode sizes.
void BM_Rmsnorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<size_t>(n), 0.5f), w(static_cast<size_t>(n), 1.0f), y(static_cast<size_t>(n));
  const k::Ops& op = k::ops(k::default_isa());
  for (auto _ : state) {
    op.rmsnorm(x.data(), w.data(), y.data(), n, 1e-6f);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 12);
}
BENCHMARK(BM_Rmsnorm)->Arg(2048);

}  // namespace

BENCHMARK_MAIN();
