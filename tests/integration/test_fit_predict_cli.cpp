// `edgereason fit` and `predict` end to end: fit synthetic bench records into a profile, predict
// from it; the study's profile reproduces its quoted predictions and shows its measured error; the
// roofline on a GGUF; bad input → exit 2 with one line naming the culprit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model_summary.h"
#include "perfmodel/analytic.h"
#include "perfmodel/device_profile.h"
#include "report/bench_record.h"
#include "support/test_support.h"

namespace er {
namespace {

using nlohmann::json;
using test::run_cli;
using test::shell_quote;

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

const perfmodel::PrefillLatencyModel kPrefill{3e-8, 2e-3, 0.01, 1};
const perfmodel::DecodeLatencyModel kDecode{4e-6, 0.012};

// Bench records (jsonl) of model "tinymodel" made by the models above.
std::string records() {
  std::string out;
  auto rec = [](const std::string& test) {
    report::BenchRecord r;
    r.model_filename = "models/tinymodel.gguf";
    r.test = test;
    r.n_paths = 1;
    return r;
  };
  for (int64_t i = 64; i <= 1024; i += 64) {
    report::BenchRecord r = rec("pp" + std::to_string(i));
    r.n_prompt = i;
    r.samples_ns = {static_cast<int64_t>(std::llround(kPrefill.seconds(i) * 1e9))};
    out += report::to_json(r).dump() + "\n";
  }
  for (int64_t i : {64, 256, 1024}) {
    for (int64_t o : {16, 64, 128}) {
      report::BenchRecord r = rec("pp" + std::to_string(i) + "+tg" + std::to_string(o));
      r.n_prompt = i;
      r.n_gen = o;
      r.ttft_ms = kPrefill.seconds(i) * 1e3;
      r.tpot_ms = kDecode.seconds(i, o) / static_cast<double>(o) * 1e3;
      r.samples_ns = {1};
      out += report::to_json(r).dump() + "\n";
    }
  }
  return out;
}

TEST(CliFitPredict, FitWritesAProfileThatPredictUses) {
  test::TempDir tmp;
  const auto in = tmp / "bench.jsonl";
  const auto profile = tmp / "dev.json";
  test::write_text(in, records());
  test::CliResult r = run_cli("fit " + shell_quote(in.string()) + " --device jetson-orin-nano-8gb -o " +
                              shell_quote(profile.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("prefill_latency"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode_latency"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no energy in the records; power models not fitted"), std::string::npos) << r.out;
  Result<perfmodel::DeviceProfile> p = perfmodel::load_device_profile(profile.string());
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->name, "jetson-orin-nano-8gb");
  ASSERT_EQ(p->models.count("tinymodel"), 1u);
  EXPECT_NEAR(p->models.at("tinymodel").decode->n, kDecode.n, 1e-6 * kDecode.n);

  // JSON output with the held-out points.
  r = run_cli("fit " + shell_quote(in.string()) + " --json --holdout 0.3 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json fj = json::parse(r.out);
  EXPECT_TRUE(fj["saved_to"].is_null());
  const json& fits = fj["models"][0]["fits"];
  ASSERT_EQ(fits.size(), 2u);
  EXPECT_EQ(fits[0]["quantity"], "prefill_latency");
  EXPECT_EQ(fits[0]["n_test"], 5);  // round(0.3 × 16)
  EXPECT_LT(fits[0]["holdout_mape_pct"].get<double>(), 0.01);
  EXPECT_EQ(fits[0]["held_out"].size(), 5u);

  // predict from the fitted profile: the models' own values.
  r = run_cli("predict --device " + shell_quote(profile.string()) + " -m tinymodel -I 300 -O 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["prefill_source"], "fitted");
  EXPECT_EQ(j["decode_source"], "fitted");
  EXPECT_NEAR(j["prefill_s"].get<double>(), kPrefill.seconds(300), 1e-4 * kPrefill.seconds(300));
  EXPECT_NEAR(j["decode_s"].get<double>(), kDecode.seconds(300, 50), 1e-6 * kDecode.seconds(300, 50));
  EXPECT_TRUE(j["energy_j"].is_null());
  EXPECT_TRUE(j["cost_usd"].is_null());
  // Hardware cost alone: total_s / 3600 × $0.045.
  EXPECT_NEAR(j["cost_hw_usd"].get<double>(), j["total_s"].get<double>() / 3600 * 0.045, 1e-15);
  // A measured point of the records is shown with the model's error (I = 256, O = 64).
  r = run_cli("predict --device " + shell_quote(profile.string()) + " -m tinymodel -I 256 -O 64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json m = json::parse(r.out)["measured"];
  ASSERT_GE(m.size(), 2u) << m.dump();
  EXPECT_LT(std::fabs(m[0]["error_pct"].get<double>()), 0.1) << m.dump();

  // Inside the fits' ranges: no warning. Beyond them (prompts 64-1024, contexts 64-1152): one
  // warning per fit, naming the fit, its range and the point.
  r = run_cli("predict --device " + shell_quote(profile.string()) + " -m tinymodel -I 300 -O 50 --json");
  EXPECT_TRUE(json::parse(r.out)["extrapolation"].empty()) << r.out;
  EXPECT_EQ(r.out.find("extrapolating"), std::string::npos);
  r = run_cli("predict --device " + shell_quote(profile.string()) + " -m tinymodel -I 2000 -O 2000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("warning: extrapolating: tinymodel decode_latency was fitted on context 64-1152 tokens "
                       "(prompt 64-1024, output 16-128) (9 points); requested prompt 2000, output 2000 "
                       "(context 2000-4000)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("warning: extrapolating: tinymodel prefill_latency was fitted on prompt 64-1024 tokens "
                       "(16 points); requested prompt 2000"),
            std::string::npos)
      << r.out;
  r = run_cli("predict --device " + shell_quote(profile.string()) + " -m tinymodel -I 2000 -O 2000 --json");
  EXPECT_EQ(json::parse(r.out)["extrapolation"].size(), 2u) << r.out;
  // The profile keeps the ranges with the coefficients.
  EXPECT_EQ(p->models.at("tinymodel").ranges.at("decode_latency").context->max, 1152);

  // Re-fitting into the same file merges (keeps the device, replaces the model).
  r = run_cli("fit " + shell_quote(in.string()) + " -o " + shell_quote(profile.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(perfmodel::load_device_profile(profile.string())->name, "jetson-orin-nano-8gb");
}

// Our CPU engine projected onto the CPU side of an ARM board (datasheet profile, roofline): decode
// is memory-bound at the module's bandwidth, so the Raspberry Pi 5 (17.1 GB/s) decodes a model
// 204.8 / 17.1 times slower than the Orin AGX's CPU profile.
TEST(CliFitPredict, ArmCpuProfilesProjectCpuDecode) {
  const std::string model = shell_quote((test::fixture_dir() / "tiny-llama-q4_k.gguf").string());
  test::CliResult pi = run_cli("predict --device raspberry-pi-5 -m " + model + " -I 128 -O 256 --json");
  ASSERT_EQ(pi.exit_code, 0) << pi.err;
  test::CliResult orin = run_cli("predict --device jetson-agx-orin-cpu -m " + model + " -I 128 -O 256 --json");
  ASSERT_EQ(orin.exit_code, 0) << orin.err;
  const json a = json::parse(pi.out), b = json::parse(orin.out);
  EXPECT_EQ(a["decode_source"], "roofline");
  EXPECT_EQ(a["roofline"]["decode_bound"], "memory");
  EXPECT_DOUBLE_EQ(a["roofline"]["mem_bandwidth_gbps"].get<double>(), 17.1);
  EXPECT_NEAR(a["roofline"]["decode_ms_per_step"].get<double>() / b["roofline"]["decode_ms_per_step"].get<double>(),
              204.8 / 17.1, 1e-6);
}

TEST(CliFitPredict, StudyProfileReproducesTheStudy) {
  test::CliResult r = run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -I 512 -O 128 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NEAR(j["prefill_s"].get<double>(), 0.088, 0.088 * 0.01);
  EXPECT_NEAR(j["decode_s"].get<double>(), 3.04, 3.04 * 0.01);
  EXPECT_EQ(j["decode_source"], "fitted");
  // The study measured 3.80 s for that decode: (3.0362 − 3.80) / 3.80 = −20.1%.
  ASSERT_EQ(j["measured"].size(), 1u);
  EXPECT_EQ(j["measured"][0]["quantity"], "decode_s");
  EXPECT_NEAR(j["measured"][0]["measured"].get<double>(), 3.80, 1e-12);
  EXPECT_NEAR(j["measured"][0]["error_pct"].get<double>(), -20.1, 0.05);
  // Energy: 25.4 W steady (ΔP = 0): decode_j = 25.4 × 3.0362; cost = J / 3.6e6 × 0.15 + s / 3600 × 0.045.
  EXPECT_NEAR(j["decode_j"].get<double>(), 25.4 * j["decode_s"].get<double>(), 1e-9);
  const double cost = j["energy_j"].get<double>() / 3.6e6 * 0.15 + j["total_s"].get<double>() / 3600 * 0.045;
  EXPECT_NEAR(j["cost_usd"].get<double>(), cost, 1e-15);
  // Other rates.
  r = run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -I 512 -O 128 --json --price-kwh 0.3 --hw-usd-per-hour 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json k = json::parse(r.out);
  EXPECT_NEAR(k["cost_usd"].get<double>(), k["energy_j"].get<double>() / 3.6e6 * 0.3, 1e-15);
  // A TTFT the study measured (I = 4097): its prefill fit overshoots ~4x.
  r = run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -I 4097 -O 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("measured prefill_s = 0.648"), std::string::npos) << r.out;
}

TEST(CliFitPredict, RooflineFromAGgufOnADatasheetDevice) {
  const auto model = test::fixture_dir() / "tiny-llama-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixtures not generated";
  const test::CliResult r =
      run_cli("predict --device jetson-orin-nano-8gb -m " + shell_quote(model.string()) + " -I 64 -O 16 --paths 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["prefill_source"], "roofline");
  EXPECT_EQ(j["decode_source"], "roofline");
  EXPECT_GT(j["decode_s"].get<double>(), 0);
  EXPECT_EQ(j["roofline"]["mem_bandwidth_gbps"], 68.0);
  EXPECT_EQ(j["roofline"]["decode_bound"], "memory");
  EXPECT_TRUE(j["energy_j"].is_null());
  // By hand from the file: each of the 16 steps (contexts 65 … 80) reads the weights once and the
  // f16 KV of 2 paths; memory-bound at 68 GB/s.
  Result<gguf::File> f = gguf::File::open(model.string());
  ASSERT_TRUE(f.is_ok());
  const model::ModelSummary sum = model::summarize(*f);
  Result<model::HParams> hp = model::read_hparams(f->metadata());
  ASSERT_TRUE(hp.is_ok());
  double want_s = 0;
  for (int64_t ctx = 65; ctx <= 80; ++ctx) {
    want_s += (static_cast<double>(sum.bytes_read_per_token) + 2.0 * static_cast<double>(hp->kv_bytes_per_token(2)) * ctx) / 68e9;
  }
  EXPECT_NEAR(j["decode_s"].get<double>(), want_s, 1e-12);
}

TEST(CliFitPredict, ParamsWithoutAModelFile) {
  // 1.5e9 parameters at 16 bits = 3e9 bytes per step over 204.8 GB/s = 14.648 ms per token (no KV).
  const test::CliResult r = run_cli("predict --device jetson-agx-orin-64gb --params 1.5e9 -I 128 -O 10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NEAR(j["decode_ms_per_token"].get<double>(), 3e9 / 204.8e9 * 1e3, 1e-9);
  EXPECT_EQ(j["decode_source"], "roofline");
}

TEST(CliFitPredict, BenchGridFeedsFit) {
  const auto model = test::fixture_dir() / "tiny-llama-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixtures not generated";
  // --pg PROMPTS:GENS runs every pair, with exact output lengths.
  test::CliResult r = run_cli("bench -m " + shell_quote(model.string()) +
                              " -t 1 -r 1 --warmup 0 --power none -p 8,16,24,32 -n 0 --pg 8,32:2,6 -o jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> tests;
  for (size_t p = 0, q; (q = r.out.find('\n', p)) != std::string::npos; p = q + 1) {
    tests.push_back(json::parse(r.out.substr(p, q - p))["test"].get<std::string>());
  }
  EXPECT_EQ(tests, (std::vector<std::string>{"pp8", "pp16", "pp24", "pp32", "pp8+tg2", "pp8+tg6", "pp32+tg2",
                                             "pp32+tg6"}));
  test::TempDir tmp;
  test::write_text(tmp / "b.jsonl", r.out);
  r = run_cli("fit --holdout 0 " + shell_quote((tmp / "b.jsonl").string()) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["models"][0]["model"], "tiny-llama-f32");
  EXPECT_EQ(j["models"][0]["fits"].size(), 2u) << r.out;
  // A half-written grid is bad input.
  expect_bad_input(run_cli("bench -m " + shell_quote(model.string()) + " --pg 8:"), "--pg");
}

TEST(CliFitPredict, BadInputIsExit2) {
  expect_bad_input(run_cli("predict --device nowhere -m DSR1-Qwen-1.5B -I 5 -O 5"), "nowhere");
  expect_bad_input(run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -O 5"), "-I");
  expect_bad_input(run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -I 0 -O 5"), "-I");
  expect_bad_input(run_cli("predict --device orin-agx-64-vllm-fp16 -m no-such-model -I 5 -O 5"), "no-such-model");
  expect_bad_input(run_cli("predict --device orin-agx-64-vllm-fp16 -I 5 -O 5"), "--params");
  expect_bad_input(run_cli("predict --device orin-agx-64-vllm-fp16 -m DSR1-Qwen-1.5B -I 5 -O 5 --paths 0"), "--paths");
  expect_bad_input(run_cli("fit /no/such/file.jsonl"), "/no/such/file.jsonl");
  test::TempDir tmp;
  test::write_text(tmp / "bad.jsonl", "{\"model\": \"m\", \"n_prompt\": 4, \"prefill_ms\": 3}\nnot json\n");
  expect_bad_input(run_cli("fit " + shell_quote((tmp / "bad.jsonl").string())), "bad.jsonl:2");
  // A negative duration or energy is a damaged record, not a point to fit.
  test::write_text(tmp / "neg.jsonl", "{\"model\": \"m\", \"n_prompt\": 4, \"prefill_ms\": 3}\n"
                                      "{\"model\": \"m\", \"n_prompt\": 8, \"prefill_ms\": -3}\n");
  expect_bad_input(run_cli("fit " + shell_quote((tmp / "neg.jsonl").string())), "neg.jsonl:2");
  EXPECT_NE(run_cli("fit " + shell_quote((tmp / "neg.jsonl").string())).err.find("'prefill_ms' must be a number >= 0"),
            std::string::npos);
  test::write_text(tmp / "ok.jsonl", records());
  expect_bad_input(run_cli("fit " + shell_quote((tmp / "ok.jsonl").string()) + " --holdout 1.5"), "--holdout");
  expect_bad_input(run_cli("fit " + shell_quote((tmp / "ok.jsonl").string()) + " --seed -1"), "--seed");
  // Numbers that are not finite never reach a prediction.
  const std::string params = "predict --device orin-agx-64-vllm-fp16 -I 5 -O 5 --params ";
  expect_bad_input(run_cli(params + "inf"), "--params");
  expect_bad_input(run_cli(params + "1e9 --weight-bytes inf"), "--weight-bytes");
  expect_bad_input(run_cli(params + "1e9 --kv-bytes-per-token nan"), "--kv-bytes-per-token");
  expect_bad_input(run_cli(params + "1e9 --price-kwh inf"), "--price-kwh");
  expect_bad_input(run_cli(params + "1e9 --hw-usd-per-hour -1"), "--hw-usd-per-hour");
  expect_bad_input(run_cli(params + "1e9 --heads -2"), "--heads");
  expect_bad_input(run_cli("fit " + shell_quote((tmp / "ok.jsonl").string()) + " -o " +
                           shell_quote((tmp / "x.json").string()) + " --device nowhere"),
                   "nowhere");
}

}  // namespace
}  // namespace er
