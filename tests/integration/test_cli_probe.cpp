// `edgereason probe` end to end in short mode: positive measurements in JSON and text, the saved
// profile (explicit path and the default one bench picks up), and bad flags → exit 2 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "perfmodel/device_profile.h"
#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;
using test::shell_quote;

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

TEST(CliProbe, ShortJsonRunGivesPositiveNumbers) {
  const test::CliResult r = run_cli("probe --seconds 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_FALSE(j["cpu"].get<std::string>().empty());
  EXPECT_GE(j["n_cores"].get<int>(), 1);
  EXPECT_TRUE(j["isa"].is_array());
  ASSERT_EQ(j["memory"]["kernels"].size(), 3u);
  for (const json& k : j["memory"]["kernels"]) {
    EXPECT_GT(k["gbps"].get<double>(), 0) << k.dump();
    EXPECT_GE(k["reps"].get<int>(), 3) << k.dump();
  }
  EXPECT_GT(j["memory"]["array_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["compute"]["gflops_f32"].get<double>(), 0);
  EXPECT_GT(j["compute"]["gops_int8"].get<double>(), 0);
  EXPECT_GT(j["profile"]["mem_bandwidth_gbps"].get<double>(), 0);
  EXPECT_EQ(j["profile"]["measured"], true);
  EXPECT_TRUE(j["saved_to"].is_null());
  // The profile part reads as a device profile.
  EXPECT_TRUE(perfmodel::profile_from_json(j["profile"]).is_ok());
}

TEST(CliProbe, SavesAProfileAndPrintsText) {
  test::TempDir tmp;
  const fs::path path = tmp / "host.json";
  const test::CliResult r = run_cli("probe --seconds 0.3 --array-mib 16 -t 1 -o " + shell_quote(path.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GB/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(path.string()), std::string::npos) << r.out;
  Result<perfmodel::DeviceProfile> p = perfmodel::load_device_profile(path.string());
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_TRUE(p->measured);
  EXPECT_EQ(p->kind, "host");
  EXPECT_GT(p->mem_bandwidth_gbps, 0);
  EXPECT_EQ(p->probe["memory"]["n_threads"], 1);
}

TEST(CliProbe, DefaultProfileIsWhereBenchLooks) {
  const fs::path model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir cache;
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old != nullptr ? old : "";
  setenv("XDG_CACHE_HOME", cache.path().c_str(), 1);
  const test::CliResult r = run_cli("probe --seconds 0.3 --array-mib 16 --json -o");
  const test::CliResult b = run_cli("bench -m " + shell_quote(model.string()) + " -p 0 -n 4 -r 1 -t 1 -o json");
  if (old != nullptr) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else unsetenv("XDG_CACHE_HOME");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path expected = cache.path() / "edgereason" / "host-profile.json";
  EXPECT_EQ(json::parse(r.out)["saved_to"], expected.string());
  EXPECT_TRUE(fs::exists(expected));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const json rec = json::parse(b.out)[0];
  EXPECT_EQ(rec["device_name"], "host");
  EXPECT_GT(rec["bandwidth_fraction"].get<double>(), 0);
}

TEST(CliProbe, BadFlagsExitTwoWithOneLine) {
  expect_bad_input(run_cli("probe --seconds 0"), "--seconds");
  expect_bad_input(run_cli("probe --seconds 1000"), "--seconds");
  expect_bad_input(run_cli("probe -t 0"), "-t");
  expect_bad_input(run_cli("probe --array-mib 0"), "--array-mib");
}

}  // namespace
}  // namespace er
