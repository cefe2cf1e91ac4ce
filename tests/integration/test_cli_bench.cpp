// `edgereason bench` end to end on a tiny fixture: record shape for pp/tg/pp+tg, paths, formats,
// device profiles (explicit and default), SQLite output, and bad flags → exit 2 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "perfmodel/device_profile.h"
#include "report/sqlite_store.h"
#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;
using test::shell_quote;

// Every test runs with its own empty cache directory, so a profile saved by `probe -o` on this
// machine does not leak into the results.
class CliBench : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test::fixture_dir() / "tiny-llama-q8_0.gguf";
    if (!fs::exists(model_)) GTEST_SKIP() << "fixtures not generated";
    const char* old = std::getenv("XDG_CACHE_HOME");
    had_xdg_ = old != nullptr;
    if (had_xdg_) old_xdg_ = old;
    setenv("XDG_CACHE_HOME", (cache_.path()).c_str(), 1);
  }
  void TearDown() override {
    if (had_xdg_) setenv("XDG_CACHE_HOME", old_xdg_.c_str(), 1);
    else unsetenv("XDG_CACHE_HOME");
  }
  std::string base() const { return "bench -m " + shell_quote(model_.string()) + " "; }
  json run_json(const std::string& flags) {
    const test::CliResult r = run_cli(base() + flags + " -o json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.out;
    return j.is_array() ? j : json::array();
  }

  fs::path model_;
  test::TempDir cache_;
  bool had_xdg_ = false;
  std::string old_xdg_;
};

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

TEST_F(CliBench, PromptAndGenerationRecords) {
  const json j = run_json("-p 16 -n 8 -r 2 -t 1");
  ASSERT_EQ(j.size(), 2u);
  const json& pp = j[0];
  const json& tg = j[1];
  EXPECT_EQ(pp["test"], "pp16");
  EXPECT_EQ(pp["n_prompt"], 16);
  EXPECT_EQ(pp["n_gen"], 0);
  EXPECT_EQ(pp["n_paths"], 1);
  EXPECT_TRUE(pp["ttft_ms"].is_null());
  EXPECT_EQ(tg["test"], "tg8");
  EXPECT_EQ(tg["n_prompt"], 0);
  EXPECT_EQ(tg["n_gen"], 8);
  EXPECT_EQ(tg["n_paths"], 1);
  for (const json& r : j) {
    EXPECT_EQ(r["n_reps"], 2);
    EXPECT_EQ(r["n_warmup"], 1);
    EXPECT_EQ(r["n_threads"], 1);
    EXPECT_EQ(r["type_k"], "f16");
    EXPECT_EQ(r["samples_ns"].size(), 2u);
    EXPECT_EQ(r["samples_ts"].size(), 2u);
    EXPECT_GT(r["avg_ts"].get<double>(), 0);
    EXPECT_GT(r["median_ts"].get<double>(), 0);
    EXPECT_LE(r["min_ts"].get<double>(), r["max_ts"].get<double>());
    EXPECT_GT(r["avg_ns"].get<int64_t>(), 0);
    EXPECT_GT(r["weight_bytes_read"].get<int64_t>(), 0);
    EXPECT_TRUE(r["bandwidth_fraction"].is_null());  // no profile in this cache
    EXPECT_TRUE(r["energy_source"].is_string());  // --power auto's choice; test_power_cli.cpp checks the rest
    EXPECT_EQ(r["model_type"].get<std::string>().rfind("llama ", 0), 0u) << r["model_type"];
    EXPECT_GT(r["model_size"].get<int64_t>(), 0);
    EXPECT_GE(r["n_ctx"].get<int64_t>(), 16);
    EXPECT_EQ(r["test_time"].get<std::string>().size(), 20u) << r["test_time"];
  }
  // GB/s is a decode figure: weights + KV per step x steps/s.
  EXPECT_TRUE(pp["achieved_gbps"].is_null());
  EXPECT_GT(tg["achieved_gbps"].get<double>(), 0);
  // Generation latency: TTFT, TPOT and ordered ITL percentiles.
  EXPECT_GT(tg["ttft_ms"].get<double>(), 0);
  EXPECT_GT(tg["tpot_ms"].get<double>(), 0);
  EXPECT_LE(tg["itl_p50_ms"].get<double>(), tg["itl_p90_ms"].get<double>());
  EXPECT_LE(tg["itl_p90_ms"].get<double>(), tg["itl_p99_ms"].get<double>());
  // tg8 times 8 decode steps: the weights are streamed 8 times.
  EXPECT_EQ(tg["weight_bytes_read"].get<int64_t>() % 8, 0);
  EXPECT_GT(tg["kv_bytes_read"].get<int64_t>(), 0);
}

TEST_F(CliBench, PathsGiveOneGenerationRecordEach) {
  const json j = run_json("-p 0 -n 8 -r 1 --warmup 0 --paths 1,4 -t 1");
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["n_paths"], 1);
  EXPECT_EQ(j[1]["n_paths"], 4);
  for (const json& r : j) {
    EXPECT_EQ(r["test"], "tg8");
    EXPECT_GT(r["avg_ts"].get<double>(), 0);
  }
  // Weights are read once per step whatever the paths; KV once per path.
  EXPECT_EQ(j[0]["weight_bytes_read"], j[1]["weight_bytes_read"]);
  EXPECT_GT(j[1]["kv_bytes_read"].get<int64_t>(), j[0]["kv_bytes_read"].get<int64_t>());
}

// A thinking policy runs the generating tests through the Reasoner: the budget ends every path
// (the random-weight fixture never closes its thinking) and the record counts what was generated.
TEST_F(CliBench, ThinkingPolicyEndsThePathsAndIsRecorded) {
  const json plain = run_json("-p 0 -n 64 -r 1 --warmup 0 -t 1 --power none");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_TRUE(plain[0]["thinking"].is_null());
  const json j = run_json("-p 0 -n 64 -r 1 --warmup 0 -t 1 --power none --paths 1,2 --think-budget 8 --answer-budget 4");
  ASSERT_EQ(j.size(), 2u);
  for (const json& r : j) {
    ASSERT_TRUE(r["thinking"].is_string());
    EXPECT_NE(r["thinking"].get<std::string>().find("think_budget=8"), std::string::npos) << r["thinking"];
    const double tokens = r["samples_ts"][0].get<double>() * r["samples_ns"][0].get<double>() / 1e9;
    const double per_path = tokens / r["n_paths"].get<double>();
    EXPECT_GT(per_path, 8.0 + 4.0 - 1.0) << r.dump();  // thinking budget + answer budget (+ the close)
    EXPECT_LT(per_path, 63.0) << r.dump();             // the policy, not -n, ended the paths
  }
  expect_bad_input(run_cli(base() + "-p 0 -n 8 --no-think --think-budget 4"), "--no-think");
}

TEST_F(CliBench, CombinedTestAndListsOfSizes) {
  const json j = run_json("-p 4-8+4 -n 0 --pg 8,4 -r 1 --warmup 0 -t 1");
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["test"], "pp4");
  EXPECT_EQ(j[1]["test"], "pp8");
  EXPECT_EQ(j[2]["test"], "pp8+tg4");
  EXPECT_EQ(j[2]["n_prompt"], 8);
  EXPECT_EQ(j[2]["n_gen"], 4);
  EXPECT_GT(j[2]["ttft_ms"].get<double>(), 0);
  EXPECT_TRUE(j[2]["achieved_gbps"].is_null());  // mixed phases: no single GB/s
}

TEST_F(CliBench, DeviceProfileFillsTheBandwidthFraction) {
  perfmodel::DeviceProfile p;
  p.name = "test-device";
  p.kind = "host";
  p.mem_bandwidth_gbps = 1000.0;
  p.cpu = "cpu";
  p.n_cores = 1;
  p.measured = false;
  const fs::path path = cache_ / "device.json";
  ASSERT_TRUE(perfmodel::save_device_profile(p, path.string()).is_ok());
  const json j = run_json("-p 0 -n 4 -r 1 -t 1 --device " + shell_quote(path.string()));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["device_name"], "test-device");
  EXPECT_EQ(j[0]["device_bandwidth_gbps"], 1000.0);
  EXPECT_NEAR(j[0]["bandwidth_fraction"].get<double>(), j[0]["achieved_gbps"].get<double>() / 1000.0, 1e-12);

  // The default profile (where `probe -o` saves) is used without --device.
  p.name = "default-device";
  ASSERT_TRUE(perfmodel::save_device_profile(p, (cache_ / "edgereason" / "host-profile.json").string()).is_ok());
  const json d = run_json("-p 0 -n 4 -r 1 -t 1");
  EXPECT_EQ(d[0]["device_name"], "default-device");
  EXPECT_GT(d[0]["bandwidth_fraction"].get<double>(), 0);
}

TEST_F(CliBench, TextFormatsAndDatabase) {
  const std::string flags = "-p 8 -n 4 -r 1 --warmup 0 -t 1";
  test::CliResult md = run_cli(base() + flags);
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out.rfind("| model ", 0), 0u) << md.out;
  EXPECT_NE(md.out.find("pp8 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("tg4 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("\nbuild: "), std::string::npos) << md.out;
  EXPECT_NE(md.err.find("bench: tg4"), std::string::npos) << md.err;  // a progress line per test

  test::CliResult csv = run_cli(base() + flags + " -o csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3);
  EXPECT_EQ(csv.out.rfind("build_commit,build_version,", 0), 0u);

  test::CliResult jsonl = run_cli(base() + flags + " -o jsonl");
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  std::istringstream lines(jsonl.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) n += json::parse(line).is_object();
  EXPECT_EQ(n, 2);

  const fs::path db = cache_ / "results.db";
  test::CliResult sql = run_cli(base() + flags + " -o sql --db " + shell_quote(db.string()));
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  EXPECT_EQ(sql.out.rfind("CREATE TABLE IF NOT EXISTS bench (", 0), 0u);
  EXPECT_TRUE(report::exec_sql_file(":memory:", sql.out).is_ok());
  EXPECT_TRUE(fs::exists(db));
  // The same schema again: the database accepts the printed statements as well.
  EXPECT_TRUE(report::exec_sql_file(db.string(), sql.out).is_ok());
}

TEST_F(CliBench, BadFlagsExitTwoWithOneLine) {
  expect_bad_input(run_cli(base() + "-p 8-4"), "-p '8-4'");
  expect_bad_input(run_cli(base() + "-n x"), "-n 'x'");
  expect_bad_input(run_cli(base() + "--paths 0"), "--paths");
  expect_bad_input(run_cli(base() + "--paths 65"), "--paths");
  expect_bad_input(run_cli(base() + "-t 0"), "-t");
  expect_bad_input(run_cli(base() + "-t 2,300"), "-t '2,300': at most 256 threads");  // what the engine accepts
  expect_bad_input(run_cli(base() + "-r 0"), "-r");
  expect_bad_input(run_cli(base() + "--warmup -1"), "--warmup");
  expect_bad_input(run_cli(base() + "-b 0"), "-b");
  expect_bad_input(run_cli(base() + "-o xml"), "-o 'xml'");
  expect_bad_input(run_cli(base() + "--kv-type q4"), "--kv-type");
  expect_bad_input(run_cli(base() + "--isa sse9"), "--isa");
  expect_bad_input(run_cli(base() + "--pg 8"), "--pg '8'");
  expect_bad_input(run_cli(base() + "-p 0 -n 0"), "nothing to run");
  expect_bad_input(run_cli(base() + "-pg 512,128"), "--pg PROMPT,GEN");  // llama-bench's spelling
  expect_bad_input(run_cli(base() + "--bogus"), "'--bogus'");
  expect_bad_input(run_cli(base() + "--device /nonexistent/dev.json"), "/nonexistent/dev.json");
  test::write_text(cache_ / "partial.json", R"({"name": "x", "kind": "host"})");
  const test::CliResult partial = run_cli(base() + "--device " + shell_quote((cache_ / "partial.json").string()));
  expect_bad_input(partial, "mem_bandwidth_gbps");
  EXPECT_NE(partial.err.find("partial.json"), std::string::npos) << partial.err;
  expect_bad_input(run_cli("bench -m /nonexistent/model.gguf -p 8 -n 0"), "/nonexistent/model.gguf");
}

TEST_F(CliBench, BrokenDefaultProfileIsIgnoredWithAWarning) {
  fs::create_directories(cache_ / "edgereason");
  test::write_text(cache_ / "edgereason" / "host-profile.json", "{");
  const test::CliResult r = run_cli(base() + "-p 0 -n 2 -r 1 --warmup 0 -t 1 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ignoring the default device profile"), std::string::npos) << r.err;
  EXPECT_TRUE(json::parse(r.out)[0]["bandwidth_fraction"].is_null());
}

}  // namespace
}  // namespace er
