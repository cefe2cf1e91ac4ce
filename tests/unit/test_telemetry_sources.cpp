// Power sources against fake sysfs trees in a temporary directory: RAPL (sum, counter wrap,
// unreadable files), Jetson INA3221 (volts × amps, rail choice), NVML absent, the estimate
// (injected CPU time), none, and `auto` degrading from one source to the next with its reasons.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "perfmodel/device_profile.h"
#include "support/test_support.h"
#include "telemetry/power_select.h"
#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_text;

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1000));
Clock::time_point at(double s) { return kT0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// <root>/sys/class/powercap/intel-rapl:N with name, energy_uj and max_energy_range_uj.
fs::path add_rapl_package(const fs::path& root, int n, const std::string& energy_uj, const std::string& max_uj) {
  const fs::path d = root / "sys/class/powercap" / ("intel-rapl:" + std::to_string(n));
  fs::create_directories(d);
  write_text(d / "name", "package-" + std::to_string(n) + "\n");
  write_text(d / "energy_uj", energy_uj + "\n");
  write_text(d / "max_energy_range_uj", max_uj + "\n");
  return d;
}

TEST(TelemetryRapl, SumsPackagesAndIgnoresSubdomains) {
  TempDir tmp;
  const fs::path p0 = add_rapl_package(tmp.path(), 0, "1000000", "262143328850");
  const fs::path p1 = add_rapl_package(tmp.path(), 1, "5000000", "262143328850");
  // A sub-domain (core) lies inside its package: it must not be added again.
  fs::create_directories(tmp.path() / "sys/class/powercap/intel-rapl:0:0");
  write_text(tmp.path() / "sys/class/powercap/intel-rapl:0:0/energy_uj", "999999999\n");
  auto src = open_rapl(tmp.path().string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->name(), "rapl");
  EXPECT_EQ((*src)->rail(), "package-0+package-1");
  EXPECT_FALSE((*src)->estimated());
  EXPECT_EQ((*src)->kind(), ReadingKind::kEnergyJ);
  Reading r = (*src)->read(at(0));
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.value, 0.0);  // energy since open
  write_text(p0 / "energy_uj", "3500000\n");  // +2.5 J
  write_text(p1 / "energy_uj", "5250000\n");  // +0.25 J
  r = (*src)->read(at(1));
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.value, 2.75);
}

TEST(TelemetryRapl, CounterWrapIsUnwrapped) {
  TempDir tmp;
  // The counter wraps after 1,000,000 µJ: 900,000 -> 100,000 is +200,000 µJ (0.2 J).
  const fs::path p0 = add_rapl_package(tmp.path(), 0, "900000", "1000000");
  auto src = open_rapl(tmp.path().string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  ASSERT_TRUE((*src)->read(at(0)).ok);
  write_text(p0 / "energy_uj", "100000\n");
  Reading r = (*src)->read(at(1));
  ASSERT_TRUE(r.ok);
  EXPECT_NEAR(r.value, 0.2, 1e-12);
  write_text(p0 / "energy_uj", "400000\n");  // +0.3 J, no wrap
  r = (*src)->read(at(2));
  EXPECT_NEAR(r.value, 0.5, 1e-12);
}

TEST(TelemetryRapl, MissingOrUnreadableFilesAreErrorsNamingTheFile) {
  TempDir tmp;
  auto none = open_rapl(tmp.path().string());
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("powercap not present"), std::string::npos) << none.status().message();

  // energy_uj that cannot be read (a directory here: the tests may run as root, who reads
  // root-only files; the message path is the same as for EACCES).
  const fs::path d = tmp.path() / "sys/class/powercap/intel-rapl:0";
  fs::create_directories(d / "energy_uj");
  write_text(d / "max_energy_range_uj", "1000\n");
  auto unreadable = open_rapl(tmp.path().string());
  ASSERT_FALSE(unreadable.is_ok());
  const std::string m = unreadable.status().message();
  EXPECT_NE(m.find((d / "energy_uj").string() + " not readable ("), std::string::npos) << m;

  // Garbage in the file.
  fs::remove(d / "energy_uj");
  write_text(d / "energy_uj", "n/a\n");
  auto garbage = open_rapl(tmp.path().string());
  ASSERT_FALSE(garbage.is_ok());
  EXPECT_NE(garbage.status().message().find("does not hold a number"), std::string::npos) << garbage.status().message();
}

TEST(TelemetryRapl, PermissionDeniedWhenNotRoot) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads mode-000 files";
  TempDir tmp;
  const fs::path d = add_rapl_package(tmp.path(), 0, "1", "1000");
  fs::permissions(d / "energy_uj", fs::perms::none);
  auto r = open_rapl(tmp.path().string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not readable (Permission denied)"), std::string::npos) << r.status().message();
}

TEST(TelemetryRapl, AFileThatVanishesFailsTheReadNotTheProcess) {
  TempDir tmp;
  const fs::path d = add_rapl_package(tmp.path(), 0, "1000", "100000");
  auto src = open_rapl(tmp.path().string());
  ASSERT_TRUE(src.is_ok());
  fs::remove(d / "energy_uj");
  EXPECT_FALSE((*src)->read(at(1)).ok);
}

// <root>/sys/bus/i2c/drivers/ina3221/<dev>/hwmon/hwmon<h>/ with in{k}_label, in{k}_input (mV),
// curr{k}_input (mA).
fs::path hwmon_dir(const fs::path& root, const std::string& dev, int h) {
  const fs::path d = root / "sys/bus/i2c/drivers/ina3221" / dev / "hwmon" / ("hwmon" + std::to_string(h));
  fs::create_directories(d);
  return d;
}
void add_rail(const fs::path& d, int k, const std::string& label, const std::string& mv, const std::string& ma) {
  const std::string n = std::to_string(k);
  write_text(d / ("in" + n + "_label"), label + "\n");
  write_text(d / ("in" + n + "_input"), mv + "\n");
  write_text(d / ("curr" + n + "_input"), ma + "\n");
}

TEST(TelemetryIna3221, WholeModuleRailVoltsTimesAmps) {
  TempDir tmp;
  const fs::path d = hwmon_dir(tmp.path(), "1-0040", 3);  // the hwmon index differs between boots
  add_rail(d, 1, "VDD_IN", "5000", "1200");          // 5 V × 1.2 A = 6 W
  add_rail(d, 2, "VDD_CPU_GPU_CV", "5000", "200");   // inside VDD_IN: not added
  add_rail(d, 3, "VDD_SOC", "5000", "300");
  auto src = open_ina3221(tmp.path().string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->name(), "ina3221");
  EXPECT_EQ((*src)->rail(), "VDD_IN");
  EXPECT_EQ((*src)->kind(), ReadingKind::kPowerW);
  EXPECT_FALSE((*src)->estimated());
  Reading r = (*src)->read(at(0));
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.value, 6.0);
  write_text(d / "curr1_input", "2000\n");  // 10 W
  r = (*src)->read(at(1));
  EXPECT_DOUBLE_EQ(r.value, 10.0);
}

TEST(TelemetryIna3221, WithoutAWholeModuleRailTheRailsAreSummed) {
  TempDir tmp;
  // AGX Orin: two INA3221 chips; "NC" channels are not connected.
  const fs::path a = hwmon_dir(tmp.path(), "1-0040", 1);
  add_rail(a, 1, "VDD_GPU_SOC", "5000", "400");  // 2 W
  add_rail(a, 2, "VDD_CPU_CV", "5000", "100");   // 0.5 W
  add_rail(a, 3, "VIN_SYS_5V0", "5000", "500");  // 2.5 W
  const fs::path b = hwmon_dir(tmp.path(), "1-0041", 2);
  add_rail(b, 1, "NC", "0", "0");
  auto src = open_ina3221(tmp.path().string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->rail(), "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0)");
  EXPECT_DOUBLE_EQ((*src)->read(at(0)).value, 5.0);
  // One rail by name.
  auto cpu = open_ina3221(tmp.path().string(), "VDD_CPU_CV");
  ASSERT_TRUE(cpu.is_ok());
  EXPECT_DOUBLE_EQ((*cpu)->read(at(0)).value, 0.5);
  auto bad = open_ina3221(tmp.path().string(), "VDD_NOPE");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("rail 'VDD_NOPE' not found"), std::string::npos) << bad.status().message();
}

TEST(TelemetryIna3221, UnreadableRailIsSkippedAndNoTreeIsAnError) {
  TempDir tmp;
  auto none = open_ina3221(tmp.path().string());
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("nothing matches"), std::string::npos) << none.status().message();
  const fs::path d = hwmon_dir(tmp.path(), "1-0040", 0);
  add_rail(d, 1, "VDD_IN", "5000", "1000");
  fs::remove(d / "curr1_input");  // VDD_IN unreadable: the other rails are used, and it says so
  add_rail(d, 2, "VDD_SOC", "4000", "500");
  auto src = open_ina3221(tmp.path().string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->rail(), "VDD_SOC");
  EXPECT_NE((*src)->detail().find("curr1_input not present"), std::string::npos) << (*src)->detail();
  EXPECT_DOUBLE_EQ((*src)->read(at(0)).value, 2.0);
}

TEST(TelemetryNvml, AbsentLibraryIsAnErrorNotACrash) {
  auto r = open_nvml("libnvidia-ml-does-not-exist.so.1");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());  // unsupported: --power nvml on a machine without it
  EXPECT_NE(r.status().message().find("nvml: cannot load 'libnvidia-ml-does-not-exist.so.1'"), std::string::npos)
      << r.status().message();
}

TEST(TelemetryEstimated, PowerFollowsMeasuredActivityAndIsFlagged) {
  double cpu_s = 0;
  EstimateParams p{2.0, 10.0, 4, "test"};
  auto src = make_estimated_source(p, [&] { return cpu_s; });
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_TRUE((*src)->estimated());
  EXPECT_EQ((*src)->name(), "estimated");
  EXPECT_EQ((*src)->kind(), ReadingKind::kEnergyJ);
  EXPECT_NE((*src)->detail().find("from test"), std::string::npos);
  EXPECT_DOUBLE_EQ((*src)->read(at(0)).value, 0.0);
  cpu_s = 2.0;  // 2 CPU-seconds over 1 s on 4 cores: activity 0.5 -> 2 + 8 × 0.5 = 6 W
  EXPECT_DOUBLE_EQ((*src)->read(at(1)).value, 6.0);
  // Idle for 2 s: 2 W.
  EXPECT_DOUBLE_EQ((*src)->read(at(3)).value, 10.0);
  cpu_s = 100.0;  // more than the cores can give: clamped to full load, 10 W for 0.5 s
  EXPECT_DOUBLE_EQ((*src)->read(at(3.5)).value, 15.0);
  EXPECT_FALSE(make_estimated_source({5.0, 4.0, 4, "x"}).is_ok());  // max below idle
  EXPECT_FALSE(make_estimated_source({1.0, 4.0, 0, "x"}).is_ok());  // no cores
}

TEST(TelemetryEstimated, ProcessCpuTimeAdvancesWithWork) {
  const double a = process_cpu_seconds();
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + 1e-9 * i;
  EXPECT_GT(process_cpu_seconds(), a);
}

TEST(TelemetryNone, ReadsNothing) {
  auto s = make_none_source("requested");
  EXPECT_EQ(s->name(), "none");
  EXPECT_FALSE(s->read(at(0)).ok);
}

TEST(TelemetryRails, WholeModuleFirstThenSum) {
  auto c = choose_rail({"VDD_CPU", "POM_5V_IN", "VDD_IN"}, "");
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->name, "VDD_IN");
  EXPECT_EQ(c->indices, std::vector<size_t>{2});
  c = choose_rail({"POM_5V_GPU", "POM_5V_IN"}, "");
  EXPECT_EQ(c->name, "POM_5V_IN");
  c = choose_rail({"A", "NC", "B"}, "");
  EXPECT_EQ(c->name, "sum(A+B)");
  EXPECT_EQ(c->indices, (std::vector<size_t>{0, 2}));
  EXPECT_FALSE(choose_rail({"NC"}, "").is_ok());
}

TEST(TelemetrySelect, SpecsParseAndBadOnesNameTheField) {
  using K = PowerSpec::Kind;
  EXPECT_EQ(parse_power_spec("auto")->kind, K::kAuto);
  EXPECT_EQ(parse_power_spec("rapl")->kind, K::kRapl);
  EXPECT_EQ(parse_power_spec("ina3221:VDD_IN")->arg, "VDD_IN");
  EXPECT_EQ(parse_power_spec("tegrastats:/tmp/a:b.log")->arg, "/tmp/a:b.log");
  for (const char* bad : {"", "rapl2", "tegrastats", "tegrastats:", "none:x", "ina3221:"}) {
    auto r = parse_power_spec(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("power '", 0), 0u) << r.status().message();
    EXPECT_TRUE(r.status().names_field("power")) << r.status().message();
  }
}

TEST(TelemetrySelect, AutoDegradesWithReasons) {
  TempDir tmp;
  PowerEnv env;
  env.sysfs_root = tmp.path().string();
  env.nvml_library = "libnvidia-ml-does-not-exist.so.1";
  env.estimate = {1, 5, 2, "test"};
  env.cpu_seconds = [] { return 0.0; };
  const PowerSpec autospec{PowerSpec::Kind::kAuto, ""};

  // Nothing on the machine: estimated, and why.
  auto sel = open_power_source(autospec, env);
  ASSERT_TRUE(sel.is_ok());
  EXPECT_EQ(sel->source->name(), "estimated");
  EXPECT_NE(sel->reason.find("ina3221: nothing matches"), std::string::npos) << sel->reason;
  EXPECT_NE(sel->reason.find("rapl: " + tmp.path().string() + "/sys/class/powercap not present"), std::string::npos)
      << sel->reason;
  EXPECT_EQ(sel->reason.find("nvml"), std::string::npos) << "CPU work does not try NVML: " << sel->reason;
  EXPECT_NE(sel->reason.find("using estimated"), std::string::npos);

  // RAPL there but unreadable: still estimated, the file named.
  const fs::path d = tmp.path() / "sys/class/powercap/intel-rapl:0";
  fs::create_directories(d / "energy_uj");
  write_text(d / "max_energy_range_uj", "1000\n");
  sel = open_power_source(autospec, env);
  ASSERT_TRUE(sel.is_ok());
  EXPECT_EQ(sel->source->name(), "estimated");
  EXPECT_NE(sel->reason.find((d / "energy_uj").string() + " not readable"), std::string::npos) << sel->reason;

  // Readable RAPL is preferred to the estimate.
  fs::remove(d / "energy_uj");
  write_text(d / "energy_uj", "5\n");
  sel = open_power_source(autospec, env);
  ASSERT_TRUE(sel.is_ok());
  EXPECT_EQ(sel->source->name(), "rapl");

  // INA3221 (a Jetson) is preferred to RAPL; on a GPU engine NVML is tried first.
  add_rail(hwmon_dir(tmp.path(), "1-0040", 1), 1, "VDD_IN", "5000", "1000");
  env.gpu_engine = true;
  sel = open_power_source(autospec, env);
  ASSERT_TRUE(sel.is_ok());
  EXPECT_EQ(sel->source->name(), "ina3221");
  EXPECT_NE(sel->reason.find("nvml: cannot load"), std::string::npos) << sel->reason;

  // An explicit source that is not there is an error, not a silent fallback.
  auto nv = open_power_source({PowerSpec::Kind::kNvml, ""}, env);
  ASSERT_FALSE(nv.is_ok());
  EXPECT_NE(nv.status().message().find("cannot load"), std::string::npos);
  auto tg = open_power_source({PowerSpec::Kind::kTegrastats, (tmp / "missing.log").string()}, env);
  ASSERT_FALSE(tg.is_ok());
  EXPECT_NE(tg.status().message().find("missing.log"), std::string::npos);
  auto none = open_power_source({PowerSpec::Kind::kNone, ""}, env);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->source->name(), "none");
}

TEST(TelemetryDeviceProfile, PowerFieldsRoundTripAndMayBeAbsent) {
  perfmodel::DeviceProfile p;
  p.name = "jetson-orin-nano";
  p.kind = "jetson";
  p.mem_bandwidth_gbps = 68;
  p.n_cores = 6;
  p.idle_power_w = 4.5;
  p.max_power_w = 15;
  auto back = perfmodel::profile_from_json(perfmodel::to_json(p));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->idle_power_w, 4.5);
  EXPECT_EQ(back->max_power_w, 15.0);
  nlohmann::json j = perfmodel::to_json(p);
  j.erase("idle_power_w");
  j["max_power_w"] = nullptr;
  back = perfmodel::profile_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_FALSE(back->idle_power_w.has_value());
  EXPECT_FALSE(back->max_power_w.has_value());
  j = perfmodel::to_json(p);
  j["max_power_w"] = 2.0;  // below idle
  back = perfmodel::profile_from_json(j);
  ASSERT_FALSE(back.is_ok());
  EXPECT_NE(back.status().message().find("'max_power_w'"), std::string::npos);
  j["max_power_w"] = "lots";
  EXPECT_FALSE(perfmodel::profile_from_json(j).is_ok());
}

}  // namespace
}  // namespace er::telemetry
