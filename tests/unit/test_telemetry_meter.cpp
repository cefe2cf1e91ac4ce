// The energy meter: attribution over windows on hand-computed series, the sampler thread with
// synthetic sources (constant power, a counter), failed reads, a full ring, and no heap use while
// sampling. This binary counts operator new calls (plain and array; the nothrow forms call them).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <thread>

#include "support/test_support.h"
#include "telemetry/energy_meter.h"
#include "telemetry/power_source.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_news{0};
void* counted_alloc(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace er::telemetry {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(100));
Clock::time_point at(double s) { return kT0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// Powers 10 W on [0,1], 5 W on [1,2], 10 W on [2,4].
const std::vector<EnergySample> kSeries = {{at(0), 0}, {at(1), 10}, {at(2), 15}, {at(4), 35}};

TEST(TelemetryAttribution, EnergyBetweenInterpolatesAtTheEdges) {
  EXPECT_DOUBLE_EQ(*energy_between(kSeries, at(0), at(4)), 35);
  // E(3) = 15 + 10 × 1 = 25; E(0.5) = 5.
  EXPECT_DOUBLE_EQ(*energy_between(kSeries, at(0.5), at(3)), 20);
  EXPECT_DOUBLE_EQ(*energy_between(kSeries, at(1.5), at(1.5)), 0);
  EXPECT_FALSE(energy_between(kSeries, at(-0.1), at(1)).has_value());  // before the first sample
  EXPECT_FALSE(energy_between(kSeries, at(1), at(4.1)).has_value());   // after the last
  EXPECT_FALSE(energy_between(kSeries, at(2), at(1)).has_value());
  EXPECT_FALSE(energy_between({}, at(0), at(1)).has_value());
}

TEST(TelemetryAttribution, PhasesGetTheirJoulesWattsAndJoulesPerToken) {
  PhaseWindows w;
  w.t_start = at(0);
  w.prefill_ms = 1000;  // [0, 1]: 10 J
  w.ttft_ms = 1500;     // decode [1.5, 4]: E(4) - E(1.5) = 35 - 12.5 = 22.5 J over 2.5 s
  w.e2e_ms = 4000;
  w.n_prefill_tokens = 5;
  w.n_decode_tokens = 9;
  w.n_counted_tokens = 10;
  PhaseEnergy e = attribute_energy(kSeries, w);
  EXPECT_DOUBLE_EQ(*e.prefill_j, 10);
  EXPECT_DOUBLE_EQ(*e.prefill_w, 10);
  EXPECT_DOUBLE_EQ(*e.prefill_j_per_token, 2);
  EXPECT_DOUBLE_EQ(*e.decode_j, 22.5);
  EXPECT_DOUBLE_EQ(*e.decode_w, 9);
  EXPECT_DOUBLE_EQ(*e.decode_j_per_token, 2.5);
  EXPECT_DOUBLE_EQ(*e.total_j, 35);
  EXPECT_DOUBLE_EQ(*e.j_per_token, 3.5);
  // A decode-only record (bench tg): the total is the decode window.
  w.count_prefill = false;
  e = attribute_energy(kSeries, w);
  EXPECT_FALSE(e.prefill_j.has_value());
  EXPECT_DOUBLE_EQ(*e.total_j, 22.5);
  // Windows the samples do not cover stay null.
  w.e2e_ms = 5000;
  e = attribute_energy(kSeries, w);
  EXPECT_FALSE(e.decode_j.has_value());
  EXPECT_FALSE(e.j_per_token.has_value());
  const auto j = e.to_json();
  for (const char* k : {"source", "rail", "interval_ms", "estimated", "prefill_j", "decode_j", "prefill_w", "decode_w",
                        "prefill_j_per_token", "decode_j_per_token", "total_j", "j_per_token", "detail", "reason"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_TRUE(j["decode_j"].is_null());
}

// A synthetic source: constant power, or a counter growing at a constant rate from an offset.
class FakeSource final : public PowerSource {
 public:
  FakeSource(ReadingKind kind, double rate, int fail_every = 0) : kind_(kind), rate_(rate), fail_every_(fail_every) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return name_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return kind_; }
  const std::string& detail() const override { return name_; }
  Reading read(Clock::time_point now) override {
    ++n_;
    if (fail_every_ > 0 && n_ % fail_every_ == 0) return {false, 0};
    if (kind_ == ReadingKind::kPowerW) return {true, rate_};
    return {true, 1e6 + rate_ * std::chrono::duration<double>(now.time_since_epoch()).count()};
  }

 private:
  std::string name_ = "fake";
  ReadingKind kind_;
  double rate_;
  int fail_every_;
  int n_ = 0;
};

TEST(TelemetryMeter, ConstantPowerIntegratesExactly) {
  for (ReadingKind kind : {ReadingKind::kPowerW, ReadingKind::kEnergyJ}) {
    EnergyMeter m(std::make_unique<FakeSource>(kind, 7.5), MeterOptions{2, 1024});
    m.start();
    const Clock::time_point a = Clock::now();
    std::this_thread::sleep_for(milliseconds(30));
    const Clock::time_point b = Clock::now();
    std::this_thread::sleep_for(milliseconds(5));
    m.stop();
    EXPECT_GE(m.n_samples(), 2);  // start and stop sample at least; the thread adds more
    const double seconds = std::chrono::duration<double>(b - a).count();
    const std::optional<double> j = m.energy_between(a, b);
    ASSERT_TRUE(j.has_value());
    EXPECT_NEAR(*j, 7.5 * seconds, 1e-9);
    PhaseWindows w;
    w.t_start = a;
    w.prefill_ms = w.ttft_ms = seconds * 1e3 / 2;
    w.e2e_ms = seconds * 1e3;
    const PhaseEnergy e = m.phase_energy(w);
    EXPECT_EQ(e.source, "fake");
    EXPECT_EQ(e.interval_ms, 2);
    EXPECT_NEAR(*e.prefill_w, 7.5, 1e-6);
    EXPECT_NEAR(*e.decode_w, 7.5, 1e-6);
  }
}

TEST(TelemetryMeter, FailedReadsAreCountedAndSkipped) {
  EnergyMeter m(std::make_unique<FakeSource>(ReadingKind::kPowerW, 3.0, 3), MeterOptions{2, 1024});
  m.start();
  const Clock::time_point a = Clock::now();
  std::this_thread::sleep_for(milliseconds(30));
  const Clock::time_point b = Clock::now();
  m.sample_now();
  m.sample_now();  // one of these two succeeds (every third read fails)
  m.stop();
  EXPECT_GT(m.n_failed_reads(), 0);
  ASSERT_TRUE(m.energy_between(a, b).has_value());
  EXPECT_NEAR(*m.energy_between(a, b), 3.0 * std::chrono::duration<double>(b - a).count(), 1e-9);
}

TEST(TelemetryMeter, NoneSourceMeasuresNothing) {
  EnergyMeter m(make_none_source("test"), MeterOptions{});
  m.start();
  const Clock::time_point a = Clock::now();
  m.sample_now();
  m.stop();
  EXPECT_EQ(m.n_samples(), 0);
  PhaseWindows w;
  w.t_start = a;
  w.prefill_ms = w.ttft_ms = 0;
  const PhaseEnergy e = m.phase_energy(w);
  EXPECT_EQ(e.source, "none");
  EXPECT_FALSE(e.prefill_j.has_value());
  EXPECT_FALSE(e.total_j.has_value());
}

TEST(TelemetryMeter, AFullRingDropsTheOldestHalf) {
  EnergyMeter m(std::make_unique<FakeSource>(ReadingKind::kPowerW, 1.0), MeterOptions{1000, 8});
  m.start();
  const Clock::time_point first = Clock::now();
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    m.sample_now();
  }
  const Clock::time_point last = Clock::now();
  EXPECT_LE(m.n_samples(), 8);
  EXPECT_GE(m.n_samples(), 4);
  EXPECT_FALSE(m.energy_between(first, last).has_value());  // its start has been dropped
  m.stop();
}

TEST(TelemetryMeter, SamplingRealSourcesDoesNotAllocate) {
  test::TempDir tmp;
  const fs::path rapl = tmp.path() / "sys/class/powercap/intel-rapl:0";
  fs::create_directories(rapl);
  test::write_text(rapl / "energy_uj", "123456\n");
  test::write_text(rapl / "max_energy_range_uj", "262143328850\n");
  const fs::path hw = tmp.path() / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2";
  fs::create_directories(hw);
  test::write_text(hw / "in1_label", "VDD_IN\n");
  test::write_text(hw / "in1_input", "5000\n");
  test::write_text(hw / "curr1_input", "1000\n");
  std::vector<std::unique_ptr<PowerSource>> sources;
  auto r = open_rapl(tmp.path().string());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  sources.push_back(std::move(r).value());
  auto i = open_ina3221(tmp.path().string());
  ASSERT_TRUE(i.is_ok()) << i.status().message();
  sources.push_back(std::move(i).value());
  auto e = make_estimated_source({1, 5, 2, "test"});
  ASSERT_TRUE(e.is_ok());
  sources.push_back(std::move(e).value());
  for (auto& s : sources) {
    const std::string name = s->name();
    EnergyMeter m(std::move(s), MeterOptions{1, 4096});
    m.start();
    std::this_thread::sleep_for(milliseconds(5));
    const int64_t before = m.n_samples();
    g_news = 0;
    g_counting = true;
    std::this_thread::sleep_for(milliseconds(40));
    m.sample_now();
    g_counting = false;
    const int64_t after = m.n_samples();
    m.stop();
    EXPECT_GT(after - before, 3) << name;
    EXPECT_EQ(g_news.load(), 0) << name << ": the sampler allocated";
  }
  // The counter works (so a zero above means something).
  g_news = 0;
  g_counting = true;
  auto* p = new std::vector<int>(100);
  g_counting = false;
  delete p;
  EXPECT_GE(g_news.load(), 2);
}

}  // namespace
}  // namespace er::telemetry
