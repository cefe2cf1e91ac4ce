// The host probe's parts on small budgets: host facts, bandwidth kernels, peak loops per kernel
// level, the barrier timer, array sizing, and the profile made from a report. No absolute timings.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "perfmodel/membw_loops.h"
#include "perfmodel/parallel_timer.h"
#include "perfmodel/probe.h"

namespace er::perfmodel {
namespace {

TEST(PerfmodelProbe, HostInfoIsPlausible) {
  const HostInfo h = read_host_info();
  EXPECT_FALSE(h.cpu.empty());
  EXPECT_GE(h.n_cores, 1);
  for (const CacheInfo& c : h.caches) {
    EXPECT_GE(c.level, 1);
    EXPECT_GT(c.size_bytes, 0);
  }
  EXPECT_GE(h.llc_bytes, 0);
  if (kernels::isa_supported(kernels::Isa::kAvx2)) {
    EXPECT_NE(std::find(h.isa.begin(), h.isa.end(), "avx2"), h.isa.end());
  }
}

TEST(PerfmodelProbe, CacheSizesFormat) {
  EXPECT_EQ(format_cache_size(48 << 10), "48 KiB");
  EXPECT_EQ(format_cache_size(32 << 20), "32 MiB");
  EXPECT_EQ(format_cache_size(1000), "1000 B");
}

TEST(PerfmodelProbe, TimerRunsEveryThreadEachRepetition) {
  std::atomic<int> calls{0};
  const std::vector<double> s = time_parallel(
      3, [&](int t) { calls += t + 1; }, [](int reps, double) { return reps < 4; });
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(calls.load(), 4 * (1 + 2 + 3));
  for (double x : s) EXPECT_GE(x, 0.0);
  EXPECT_TRUE(time_parallel(2, [](int) {}, [](int, double) { return false; }).empty());
}

TEST(PerfmodelProbe, BandwidthKernelsGivePositiveRates) {
  MemBandwidthOptions o;
  o.n_threads = 2;
  o.array_bytes = 4 << 20;
  o.seconds = 0.05;
  o.min_reps = 2;
  Result<MemBandwidthResult> r = measure_mem_bandwidth(o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->kernels.size(), 3u);
  EXPECT_EQ(r->kernels[0].kernel, "copy");
  EXPECT_EQ(r->kernels[0].bytes_per_elem, 16);
  EXPECT_EQ(r->kernels[1].kernel, "triad");
  EXPECT_EQ(r->kernels[1].bytes_per_elem, 24);
  EXPECT_EQ(r->kernels[2].kernel, "read");
  for (const KernelBandwidth& k : r->kernels) {
    EXPECT_GT(k.best_gbps, 0) << k.kernel;
    EXPECT_GE(k.best_gbps, k.median_gbps) << k.kernel;
    EXPECT_GE(k.reps, 2) << k.kernel;
  }
  EXPECT_EQ(r->array_bytes, 4 << 20);
}

TEST(PerfmodelProbe, BandwidthLoopsComputeTheirKernelAtEverySupportedLevel) {
  for (kernels::Isa isa : kernels::supported_isas()) {
    const stream::Loops loops = stream::loops_for(isa);
    for (int64_t n : {0, 1, 7, 37, 1000}) {  // tails shorter and longer than one vector block
      std::vector<double> a(static_cast<size_t>(n)), b(a.size()), c(a.size());
      for (int64_t i = 0; i < n; ++i) {
        a[static_cast<size_t>(i)] = static_cast<double>(i);
        b[static_cast<size_t>(i)] = 1.0;
      }
      loops.copy(c.data(), a.data(), n);
      EXPECT_EQ(c, a) << kernels::isa_name(isa) << " n=" << n;
      EXPECT_EQ(loops.read(a.data(), n), static_cast<double>(n * (n - 1) / 2)) << kernels::isa_name(isa) << " n=" << n;
      loops.triad(a.data(), b.data(), c.data(), 3.0, n);  // a = 1 + 3 i
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(a[static_cast<size_t>(i)], 1.0 + 3.0 * static_cast<double>(i));
    }
    MemBandwidthOptions o;
    o.n_threads = 1;
    o.array_bytes = 1 << 20;
    o.seconds = 0.02;
    o.isa = isa;
    Result<MemBandwidthResult> r = measure_mem_bandwidth(o);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->isa, kernels::isa_name(isa));
  }
}

TEST(PerfmodelProbe, PeakLoopsRunAtEverySupportedLevel) {
  for (kernels::Isa isa : kernels::supported_isas()) {
    const PeakComputeResult r = measure_peak_compute(1, isa, 0.04);
    EXPECT_EQ(r.isa, kernels::isa_name(isa));
    EXPECT_GT(r.gflops_f32, 0) << r.isa;
    EXPECT_GT(r.gops_int8, 0) << r.isa;
    EXPECT_FALSE(r.int8_kernel.empty());
  }
}

TEST(PerfmodelProbe, PeakLoopsAreDeterministic) {
  EXPECT_EQ(peak::fma_scalar(1000), peak::fma_scalar(1000));
  EXPECT_EQ(peak::int8_scalar(10), 10 * -2 * (16 * 17 / 2));  // sum over k of 10 * (k + 1) * -2
#if defined(__x86_64__)
  if (kernels::isa_supported(kernels::Isa::kAvx2)) {
    EXPECT_EQ(peak::int8_avx2(10), 10 * 32 * -2 * (1 + 2 + 3 + 4));  // 32 byte products per chain
    EXPECT_EQ(peak::fma_avx2(100), peak::fma_avx2(100));
  }
  if (kernels::isa_supported(kernels::Isa::kAvx512)) {
    EXPECT_EQ(peak::int8_avx512(10), 10 * 16 * 64 * 3 * -2);
  }
#elif defined(__aarch64__)
  if (kernels::isa_supported(kernels::Isa::kNeon)) {
    EXPECT_EQ(peak::int8_neon(10), 10 * 16 * -2 * (1 + 2 + 3 + 4));  // 16 byte products per chain
    EXPECT_EQ(peak::fma_neon(100), peak::fma_neon(100));
  }
  if (kernels::isa_supported(kernels::Isa::kDotprod)) {
    EXPECT_EQ(peak::int8_dotprod(10), 10 * 2 * 16 * -2 * (1 + 2 + 3 + 4));  // 8 sdot of 16 byte pairs
  }
  if (kernels::isa_supported(kernels::Isa::kI8mm)) {
    EXPECT_EQ(peak::int8_i8mm(10), 10 * 2 * 32 * -2 * (1 + 2 + 3 + 4));  // 8 smmla of 32 byte pairs
  }
#endif
}

TEST(PerfmodelProbe, ArraySizing) {
  HostInfo h;
  h.llc_bytes = int64_t{32} << 20;
  h.mem_total_bytes = int64_t{64} << 30;
  ProbeOptions o;
  o.seconds = 8;
  EXPECT_EQ(probe_array_bytes(o, h), int64_t{512} << 20);  // 8 x 32 MiB = 256 MiB < 512 MiB
  o.seconds = 1;
  EXPECT_EQ(probe_array_bytes(o, h), int64_t{256} << 20);  // short mode: 8 x LLC
  h.llc_bytes = int64_t{128} << 20;
  o.seconds = 8;
  EXPECT_EQ(probe_array_bytes(o, h), int64_t{1} << 30);  // 8 x 128 MiB
  h.mem_total_bytes = int64_t{2} << 30;
  EXPECT_EQ(probe_array_bytes(o, h), int64_t{256} << 20);  // capped at RAM / 8
  o.array_bytes = 12345678;
  EXPECT_EQ(probe_array_bytes(o, h), 12345678);  // explicit size wins
}

TEST(PerfmodelProbe, ProfileFromAReportUsesTheReadKernel) {
  ProbeReport r;
  r.host.cpu = "cpu";
  r.host.n_cores = 4;
  r.host.isa = {"avx2"};
  r.mem.kernels = {{"copy", 16, 24, 20.0, 19.0, 3}, {"triad", 24, 32, 22.0, 21.0, 3}, {"read", 8, 8, 30.0, 29.0, 3}};
  r.peak.gflops_f32 = 100;
  r.peak.gops_int8 = 400;
  r.date = "2025-01-01T00:00:00Z";
  const DeviceProfile p = profile_from_probe(r, "9.9.9");
  EXPECT_EQ(p.mem_bandwidth_gbps, 30.0);
  EXPECT_EQ(p.kind, "host");
  EXPECT_TRUE(p.measured);
  EXPECT_EQ(p.source, "edgereason probe 9.9.9");
  EXPECT_EQ(*p.peak_gflops_f32, 100);
  EXPECT_EQ(p.probe["memory"]["kernels"][1]["kernel"], "triad");
  EXPECT_TRUE(profile_from_json(to_json(p)).is_ok());
}

}  // namespace
}  // namespace er::perfmodel
