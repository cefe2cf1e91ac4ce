// --power and --power-interval end to end on a tiny fixture model: bad values exit 2 naming the
// flag; run --json and bench records carry energy from the chosen source. A recorded tegrastats
// log of constant power gives exactly that power in every phase.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;
using test::shell_quote;

class PowerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test::fixture_dir() / "tiny-llama-q8_0.gguf";
    if (!fs::exists(model_)) GTEST_SKIP() << "fixtures not generated";
  }
  std::string run_args(const std::string& flags) const {
    return "run -m " + shell_quote(model_.string()) + " -p 'Hello there' -n 6 --temp 0 --ignore-eos -t 1 " + flags;
  }
  std::string bench_args(const std::string& flags) const {
    return "bench -m " + shell_quote(model_.string()) + " -r 2 --warmup 0 -t 1 -o json " + flags;
  }
  // A tegrastats log of `seconds` lines (1 s apart, unstamped) at a constant VDD_IN power.
  std::string constant_log(int mw, int seconds) const {
    const fs::path p = tmp_ / "tegrastats.log";
    std::string text;
    for (int i = 0; i < seconds; ++i) {
      text += "RAM 2000/7620MB (lfb 4x4MB) CPU [10%@1510] VDD_IN " + std::to_string(mw) + "mW/" + std::to_string(mw) +
              "mW VDD_CPU_GPU_CV 500mW/500mW VDD_SOC 1400mW/1400mW\n";
    }
    test::write_text(p, text);
    return p.string();
  }
  fs::path model_;
  test::TempDir tmp_;
};

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

TEST_F(PowerCli, BadValuesExitTwoNamingTheFlag) {
  for (const std::string cmd : {"run", "bench"}) {
    auto args = [&](const std::string& f) { return cmd == "run" ? run_args(f) : bench_args("-p 4 -n 0 " + f); };
    expect_bad_input(run_cli(args("--power bogus")), "--power 'bogus'");
    expect_bad_input(run_cli(args("--power tegrastats")), "--power 'tegrastats'");
    expect_bad_input(run_cli(args("--power-interval 0")), "--power-interval");
    expect_bad_input(run_cli(args("--power tegrastats:" + shell_quote((tmp_ / "missing.log").string()))),
                     "missing.log");
    // A log that is not a tegrastats log.
    test::write_text(tmp_ / "notes.txt", "hello\n");
    expect_bad_input(run_cli(args("--power tegrastats:" + shell_quote((tmp_ / "notes.txt").string()))), "notes.txt");
    // An explicit source this machine lacks is refused (not silently replaced by another).
    const test::CliResult nv = run_cli(args("--power nvml"));
    if (nv.exit_code != 0) expect_bad_input(nv, "nvml");
  }
}

TEST_F(PowerCli, RunJsonHasTheEnergyObject) {
  const test::CliResult r = run_cli(run_args("--json --power estimated --power-interval 5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("power: estimated"), std::string::npos) << r.err;
  const json e = json::parse(r.out)["energy"];
  EXPECT_EQ(e["source"], "estimated");
  EXPECT_EQ(e["rail"], "cpu-activity");
  EXPECT_EQ(e["estimated"], true);
  EXPECT_EQ(e["interval_ms"], 5.0);
  for (const char* k : {"prefill_j", "decode_j", "prefill_w", "decode_w", "j_per_token"}) {
    ASSERT_TRUE(e[k].is_number()) << k << ": " << e.dump();
    EXPECT_GT(e[k].get<double>(), 0) << k;
  }
  EXPECT_NE(e["detail"].get<std::string>().find("W"), std::string::npos);

  const test::CliResult n = run_cli(run_args("--json --power none"));
  ASSERT_EQ(n.exit_code, 0) << n.err;
  const json ne = json::parse(n.out)["energy"];
  EXPECT_EQ(ne["source"], "none");
  EXPECT_EQ(ne["estimated"], false);
  EXPECT_TRUE(ne["prefill_j"].is_null());
  EXPECT_TRUE(ne["decode_j"].is_null());
}

TEST_F(PowerCli, RunWithAReplayedLogMeasuresItsPower) {
  const std::string log = constant_log(5000, 600);
  const test::CliResult r = run_cli(run_args("--json --power tegrastats:" + shell_quote(log)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const json& e = j["energy"];
  EXPECT_EQ(e["source"], "tegrastats");
  EXPECT_EQ(e["rail"], "VDD_IN");
  EXPECT_EQ(e["estimated"], false);
  EXPECT_NEAR(e["prefill_w"].get<double>(), 5.0, 1e-6);
  EXPECT_NEAR(e["decode_w"].get<double>(), 5.0, 1e-6);
  // J = W × the phase's time as the record reports it.
  const json& t = j["timings_ms"];
  EXPECT_NEAR(e["prefill_j"].get<double>(), 5.0 * t["prefill"].get<double>() / 1e3, 1e-5);
  EXPECT_NEAR(e["decode_j"].get<double>(), 5.0 * t["decode"].get<double>() / 1e3, 1e-5);
  EXPECT_NEAR(e["j_per_token"].get<double>(), 5.0 * t["e2e"].get<double>() / 1e3 / 6, 1e-5);
  // The text summary says it in one line.
  const test::CliResult text = run_cli(run_args("--power tegrastats:" + shell_quote(log)));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.err.find("energy (tegrastats VDD_IN, measured): prefill "), std::string::npos) << text.err;
  EXPECT_NE(text.err.find("(5.00 W)"), std::string::npos) << text.err;
}

TEST_F(PowerCli, BenchRecordsCarryEnergy) {
  const std::string log = constant_log(4000, 600);
  const test::CliResult r = run_cli(bench_args("-p 8 -n 4 --pg 8,4 --power tegrastats:" + shell_quote(log)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  for (const json& rec : j) {
    EXPECT_EQ(rec["energy_source"], "tegrastats");
    EXPECT_EQ(rec["energy_rail"], "VDD_IN");
    EXPECT_EQ(rec["energy_estimated"], false);
    EXPECT_EQ(rec["energy_interval_ms"], 20.0);
  }
  const json& pp = j[0];
  const json& tg = j[1];
  const json& pg = j[2];
  ASSERT_EQ(pp["test"], "pp8");
  ASSERT_EQ(tg["test"], "tg4");
  ASSERT_EQ(pg["test"], "pp8+tg4");
  // pp: prefill only; J/token = W × mean repetition time / tokens.
  EXPECT_NEAR(pp["prefill_w"].get<double>(), 4.0, 1e-6);
  EXPECT_TRUE(pp["decode_j"].is_null());
  EXPECT_NEAR(pp["j_per_token"].get<double>(), 4.0 * pp["avg_ns"].get<double>() / 1e9 / 8, 1e-6);
  // tg: decode only.
  EXPECT_TRUE(tg["prefill_j"].is_null());
  EXPECT_NEAR(tg["decode_w"].get<double>(), 4.0, 1e-6);
  EXPECT_NEAR(tg["j_per_token"].get<double>(), 4.0 * tg["avg_ns"].get<double>() / 1e9 / 4, 1e-6);
  // pp+tg: both phases, J/token over the whole.
  EXPECT_NEAR(pg["prefill_w"].get<double>(), 4.0, 1e-6);
  EXPECT_NEAR(pg["decode_w"].get<double>(), 4.0, 1e-6);
  EXPECT_NEAR(pg["j_per_token"].get<double>(), 4.0 * pg["avg_ns"].get<double>() / 1e9 / 12, 1e-6);
}

TEST_F(PowerCli, DefaultAutoSaysWhichAndWhy) {
  const test::CliResult r = run_cli(run_args("--json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("power: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("auto: "), std::string::npos) << r.err;
  const json e = json::parse(r.out)["energy"];
  EXPECT_NE(e["reason"].get<std::string>().find("auto: "), std::string::npos);
  // Whatever this machine has, the record says whether it was measured.
  EXPECT_EQ(e["estimated"].get<bool>(), e["source"] == "estimated");
}

}  // namespace
}  // namespace er
