// Device profiles: JSON round trip through a file, and bad files whose errors name the file and the field.
#include <gtest/gtest.h>

#include <cstdlib>

#include "perfmodel/device_profile.h"
#include "support/test_support.h"

namespace er::perfmodel {
namespace {

DeviceProfile sample() {
  DeviceProfile p;
  p.name = "jetson-orin-nano-8gb";
  p.kind = "jetson";
  p.mem_bandwidth_gbps = 68.0;
  p.peak_gflops_f32 = 1280.5;
  p.peak_gops_int8 = std::nullopt;  // unknown
  p.cpu = "6x Cortex-A78AE";
  p.n_cores = 6;
  p.isa = {"neon", "dotprod"};
  p.measured = false;
  p.source = "datasheet";
  p.date = "2025-01-01";
  return p;
}

TEST(PerfmodelDeviceProfile, RoundTripThroughAFile) {
  test::TempDir tmp;
  const std::string path = (tmp / "sub" / "dir" / "orin.json").string();  // parents are created
  ASSERT_TRUE(save_device_profile(sample(), path).is_ok());
  Result<DeviceProfile> back = load_device_profile(path);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(to_json(*back), to_json(sample()));
  EXPECT_EQ(back->mem_bandwidth_gbps, 68.0);
  EXPECT_FALSE(back->peak_gops_int8.has_value());
  EXPECT_EQ(back->isa, (std::vector<std::string>{"neon", "dotprod"}));
}

TEST(PerfmodelDeviceProfile, ProbeDetailIsKept) {
  DeviceProfile p = sample();
  p.probe = {{"memory", {{"array_bytes", 1024}}}};
  Result<DeviceProfile> back = profile_from_json(to_json(p));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->probe["memory"]["array_bytes"], 1024);
}

// Writes `j` to a file and expects load to fail with a message naming the file and `culprit`.
void expect_bad(const nlohmann::json& j, const std::string& culprit) {
  test::TempDir tmp;
  const std::string path = (tmp / "bad.json").string();
  test::write_text(path, j.dump());
  Result<DeviceProfile> r = load_device_profile(path);
  ASSERT_FALSE(r.is_ok()) << j.dump();
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(culprit), std::string::npos) << r.status().message();
}

TEST(PerfmodelDeviceProfile, EveryMissingFieldIsNamed) {
  for (const char* field : {"name", "kind", "mem_bandwidth_gbps", "peak_gflops_f32", "peak_gops_int8", "cpu",
                            "n_cores", "isa", "measured", "source", "date"}) {
    nlohmann::json j = to_json(sample());
    j.erase(field);
    expect_bad(j, std::string("missing field '") + field + "'");
  }
}

TEST(PerfmodelDeviceProfile, BadValuesAreNamed) {
  nlohmann::json j = to_json(sample());
  j["mem_bandwidth_gbps"] = 0;
  expect_bad(j, "'mem_bandwidth_gbps'");
  j = to_json(sample());
  j["mem_bandwidth_gbps"] = nullptr;  // the one rate that must be known
  expect_bad(j, "'mem_bandwidth_gbps'");
  j = to_json(sample());
  j["peak_gflops_f32"] = "fast";
  expect_bad(j, "'peak_gflops_f32'");
  j = to_json(sample());
  j["n_cores"] = 0;
  expect_bad(j, "'n_cores'");
  j = to_json(sample());
  j["n_cores"] = 2.5;
  expect_bad(j, "'n_cores'");
  j = to_json(sample());
  j["isa"] = {"neon", 3};
  expect_bad(j, "'isa'");
  j = to_json(sample());
  j["measured"] = "yes";
  expect_bad(j, "'measured'");
  j = to_json(sample());
  j["name"] = "";
  expect_bad(j, "'name'");
  expect_bad(nlohmann::json::array(), "JSON object");
}

TEST(PerfmodelDeviceProfile, UnreadableAndMalformedFiles) {
  test::TempDir tmp;
  Result<DeviceProfile> r = load_device_profile((tmp / "missing.json").string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("missing.json"), std::string::npos);
  test::write_text(tmp / "broken.json", "{\"name\": ");
  r = load_device_profile((tmp / "broken.json").string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos) << r.status().message();
}

TEST(PerfmodelDeviceProfile, DefaultPathFollowsXdgThenHome) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_xdg ? old_xdg : "";
  setenv("XDG_CACHE_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(default_profile_path(), "/tmp/xdg-test/edgereason/host-profile.json");
  unsetenv("XDG_CACHE_HOME");
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    EXPECT_EQ(default_profile_path(), std::string(home) + "/.cache/edgereason/host-profile.json");
  }
  if (old_xdg != nullptr) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace er::perfmodel
