// The NVML source against a fake libnvidia-ml (src/telemetry/testing/fake_nvml.cpp, built as
// build/lib/libfake_nvml.so): energy counter preferred, averaged power as the fallback, both
// unsupported (Jetson) an error, and a missing library an error rather than a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/test_support.h"
#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

std::string fake_library() {
  const std::filesystem::path p = test::binary_dir() / "lib" / "libfake_nvml.so";
  return p.string();
}

class TelemetryNvmlFake : public ::testing::Test {
 protected:
  void SetUp() override {
    // Built with the tests (target er_fake_nvml); a missing one is a build problem, not a skip.
    ASSERT_TRUE(std::filesystem::exists(fake_library())) << fake_library() << " missing: build target er_fake_nvml";
    unsetenv("FAKE_NVML_NO_ENERGY");
    unsetenv("FAKE_NVML_NO_POWER");
  }
  void TearDown() override {
    unsetenv("FAKE_NVML_NO_ENERGY");
    unsetenv("FAKE_NVML_NO_POWER");
  }
};

TEST_F(TelemetryNvmlFake, EnergyCounterIsPreferredAndSummedOverGpus) {
  auto src = open_nvml(fake_library());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->name(), "nvml");
  EXPECT_EQ((*src)->rail(), "gpu0+gpu1");
  EXPECT_EQ((*src)->kind(), ReadingKind::kEnergyJ);
  EXPECT_FALSE((*src)->estimated());
  const Reading a = (*src)->read(Clock::now());
  const Reading b = (*src)->read(Clock::now());
  ASSERT_TRUE(a.ok && b.ok);
  EXPECT_NEAR(b.value - a.value, 0.75, 1e-9);  // 500 mJ + 250 mJ per read
}

TEST_F(TelemetryNvmlFake, AveragedPowerWhenThereIsNoCounter) {
  setenv("FAKE_NVML_NO_ENERGY", "1", 1);
  auto src = open_nvml(fake_library());
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  EXPECT_EQ((*src)->kind(), ReadingKind::kPowerW);
  EXPECT_NE((*src)->detail().find("nvmlDeviceGetPowerUsage"), std::string::npos);
  const Reading r = (*src)->read(Clock::now());
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.value, 200.0);
}

TEST_F(TelemetryNvmlFake, NeitherSupportedIsAnError) {
  setenv("FAKE_NVML_NO_ENERGY", "1", 1);
  setenv("FAKE_NVML_NO_POWER", "1", 1);
  auto src = open_nvml(fake_library());
  ASSERT_FALSE(src.is_ok());
  EXPECT_NE(src.status().message().find("Not Supported"), std::string::npos) << src.status().message();
}

}  // namespace
}  // namespace er::telemetry
