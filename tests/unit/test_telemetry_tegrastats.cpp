// tegrastats logs: parsing the rail readings of recorded logs (JetPack 5+ "NAME cur_mW/avg_mW"
// with time stamps, older unstamped "NAME cur/avg"), and replaying a log as a power source.
#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"
#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

using test::TempDir;
using test::write_text;

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(500));
Clock::time_point at(double s) { return kT0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// AGX Orin, JetPack 5 (shortened CPU list).
const char* kAgxLog =
    "11-24-2026 06:16:09 RAM 2448/62841MB (lfb 14822x4MB) SWAP 0/31421MB (cached 0MB) CPU [2%@729,1%@729] "
    "EMC_FREQ 0%@204 GR3D_FREQ 0%@[305,305] VIC_FREQ 729 APE 174 CPU@47.5C tj@48.2C VDD_GPU_SOC 2394mW/2394mW "
    "VDD_CPU_CV 399mW/399mW VIN_SYS_5V0 2521mW/2521mW VDDQ_VDD2_1V8AO 301mW/301mW\n"
    "11-24-2026 06:16:10 RAM 2448/62841MB (lfb 14822x4MB) SWAP 0/31421MB (cached 0MB) CPU [90%@2201,88%@2201] "
    "EMC_FREQ 0%@204 GR3D_FREQ 0%@[305,305] VIC_FREQ 729 APE 174 CPU@49.0C tj@50.1C VDD_GPU_SOC 2794mW/2594mW "
    "VDD_CPU_CV 3599mW/1999mW VIN_SYS_5V0 2921mW/2721mW VDDQ_VDD2_1V8AO 401mW/351mW\n";

TEST(TelemetryTegrastats, ParsesStampedJetpack5Lines) {
  auto lines = parse_tegrastats(kAgxLog, "agx.log");
  ASSERT_TRUE(lines.is_ok()) << lines.status().message();
  ASSERT_EQ(lines->size(), 2u);
  const TegrastatsLine& a = (*lines)[0];
  ASSERT_EQ(a.rails_mw.size(), 4u);  // RAM, SWAP, EMC_FREQ, ... are not rails
  EXPECT_EQ(a.rails_mw[0].first, "VDD_GPU_SOC");
  EXPECT_EQ(a.rails_mw[0].second, 2394);
  EXPECT_EQ(a.rails_mw[3].first, "VDDQ_VDD2_1V8AO");
  EXPECT_EQ((*lines)[1].rails_mw[1].second, 3599);  // the current value, not the average
  EXPECT_DOUBLE_EQ((*lines)[1].t_s - a.t_s, 1.0);
}

TEST(TelemetryTegrastats, ParsesOlderUnstampedLinesAtTheDefaultInterval) {
  const std::string log =
      "RAM 1800/3964MB (lfb 4x4MB) SWAP 0/1982MB IRAM 0/252kB(lfb 252kB) CPU [5%@1428,off,off,3%@1428] "
      "EMC_FREQ 3%@1600 GR3D_FREQ 0%@76 APE 25 PLL@31C CPU@33.5C POM_5V_IN 3542/3542 POM_5V_GPU 0/0 POM_5V_CPU 575/575\n"
      "\n"
      "RAM 1800/3964MB SWAP 0/1982MB CPU [9%@1428] POM_5V_IN 4000/3771 POM_5V_GPU 0/0 POM_5V_CPU 900/737\n";
  auto lines = parse_tegrastats(log, "nano.log", 500);
  ASSERT_TRUE(lines.is_ok()) << lines.status().message();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].rails_mw.size(), 3u);
  EXPECT_EQ((*lines)[0].rails_mw[0].first, "POM_5V_IN");
  EXPECT_EQ((*lines)[1].rails_mw[0].second, 4000);
  EXPECT_DOUBLE_EQ((*lines)[1].t_s, 0.5);
}

TEST(TelemetryTegrastats, LinesUnderOneStampAreSpreadOverItsSecond) {
  std::string log;
  for (int i = 0; i < 4; ++i) log += "01-01-2026 00:00:00 VDD_IN 1000mW/1000mW\n";
  log += "01-01-2026 00:00:01 VDD_IN 1000mW/1000mW\n";
  auto lines = parse_tegrastats(log, "x.log");
  ASSERT_TRUE(lines.is_ok()) << lines.status().message();
  ASSERT_EQ(lines->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ((*lines)[i].t_s - (*lines)[0].t_s, 0.25 * i) << i;
}

TEST(TelemetryTegrastats, BadLogsAreErrorsNamingFileAndLine) {
  auto empty = parse_tegrastats("RAM 1/2MB\nhello\n", "e.log");
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("'e.log': no tegrastats rail readings"), std::string::npos);
  auto back = parse_tegrastats("01-01-2026 00:00:05 VDD_IN 1mW/1mW\n01-01-2026 00:00:04 VDD_IN 1mW/1mW\n", "b.log");
  ASSERT_FALSE(back.is_ok());
  EXPECT_NE(back.status().message().find("'b.log' line 2: time goes backwards"), std::string::npos)
      << back.status().message();
  auto mixed = parse_tegrastats("01-01-2026 00:00:05 VDD_IN 1mW/1mW\nVDD_IN 1mW/1mW\n", "m.log");
  ASSERT_FALSE(mixed.is_ok());
  EXPECT_NE(mixed.status().message().find("line 2"), std::string::npos);
  // Mixed units in one reading are not a rail reading.
  EXPECT_FALSE(parse_tegrastats("VDD_IN 1mW/1\n", "u.log").is_ok());
}

TEST(TelemetryTegrastats, ReplayFollowsTheLogAndEndsWithIt) {
  TempDir tmp;
  write_text(tmp / "orin-nano.log",
             "01-01-2026 10:00:00 VDD_IN 4000mW/4000mW VDD_CPU_GPU_CV 500mW/500mW VDD_SOC 1400mW/1400mW\n"
             "01-01-2026 10:00:01 VDD_IN 6000mW/5000mW VDD_CPU_GPU_CV 900mW/700mW VDD_SOC 1500mW/1450mW\n"
             "01-01-2026 10:00:02 VDD_IN 5000mW/5000mW VDD_CPU_GPU_CV 700mW/700mW VDD_SOC 1450mW/1450mW\n");
  auto src = open_tegrastats_log((tmp / "orin-nano.log").string());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->name(), "tegrastats");
  EXPECT_EQ((*src)->rail(), "VDD_IN");
  EXPECT_EQ((*src)->kind(), ReadingKind::kPowerW);
  EXPECT_FALSE((*src)->estimated());
  // The log's clock starts at the first read.
  EXPECT_DOUBLE_EQ((*src)->read(at(0)).value, 4.0);
  EXPECT_DOUBLE_EQ((*src)->read(at(0.5)).value, 4.0);
  EXPECT_DOUBLE_EQ((*src)->read(at(1.0)).value, 6.0);
  EXPECT_DOUBLE_EQ((*src)->read(at(2.9)).value, 5.0);
  EXPECT_FALSE((*src)->read(at(3.1)).ok);  // the last line holds one spacing (1 s), then the log has ended
  // A named rail, and the sum when no whole-module rail exists.
  auto soc = open_tegrastats_log((tmp / "orin-nano.log").string(), "VDD_SOC");
  ASSERT_TRUE(soc.is_ok());
  EXPECT_DOUBLE_EQ((*soc)->read(at(0)).value, 1.4);
  TempDir tmp2;
  write_text(tmp2 / "agx.log", kAgxLog);
  auto agx = open_tegrastats_log((tmp2 / "agx.log").string());
  ASSERT_TRUE(agx.is_ok()) << agx.status().message();
  EXPECT_EQ((*agx)->rail(), "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO)");
  EXPECT_NEAR((*agx)->read(at(0)).value, (2394 + 399 + 2521 + 301) * 1e-3, 1e-12);
}

TEST(TelemetryTegrastats, MissingLogIsNotFound) {
  auto r = open_tegrastats_log("/nonexistent/dir/t.log");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("/nonexistent/dir/t.log"), std::string::npos);
}

}  // namespace
}  // namespace er::telemetry
