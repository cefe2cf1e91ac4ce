// `edgereason run` with thinking control and N-path votes, end to end on the tiny fixtures (SmolLM2's
// vocabulary, random weights: they never close their thinking, so every budget forces) and on the
// real SmolLM2 when installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;
using test::shell_quote;

fs::path fixture(const std::string& name) { return test::fixture_dir() / (name + ".gguf"); }

int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}

json run_json(const std::string& args) {
  const test::CliResult r = run_cli(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return json::object();
  return json::parse(r.out);
}

// The record of one path is consistent: thinking + delimiter + answer tokens = all tokens, the
// delimiter is in the text exactly once and in neither span.
void expect_split(const json& j, const std::string& delimiter) {
  const std::string text = j["text"], thinking = j["thinking_text"], answer = j["answer_text"];
  EXPECT_EQ(count(text, delimiter), 1) << text;
  EXPECT_EQ(thinking.find(delimiter), std::string::npos) << thinking;
  EXPECT_EQ(count(answer, delimiter), delimiter == "</think>" ? 0 : 1) << answer;
  EXPECT_NE(text.find(thinking), std::string::npos);
  EXPECT_NE(text.find(answer), std::string::npos);
  const json& t = j["tokens"];
  EXPECT_EQ(t["thinking"].get<int64_t>() + t["delimiter"].get<int64_t>() + t["answer"].get<int64_t>(),
            t["generated"].get<int64_t>());
}

TEST(RunThinking, BudgetForcesTheMarkerOnceOnATaglessModel) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const json j = run_json("run -m " + shell_quote(m.string()) + " -p 'What is 2+2?' --temp 0 -n 64 --think-budget 8 --answer-budget 4");
  ASSERT_TRUE(j.contains("thinking"));
  EXPECT_EQ(j["thinking"]["format"], "marker");
  EXPECT_TRUE(j["thinking"]["forced_close"]);
  EXPECT_EQ(j["thinking"]["forced_close_at"].get<int64_t>(), j["tokens"]["thinking"].get<int64_t>());
  EXPECT_LE(j["tokens"]["thinking"].get<int64_t>(), 8);
  EXPECT_LE(j["tokens"]["answer"].get<int64_t>(), 4);
  EXPECT_EQ(j["thinking"]["effective_think_budget"], 8);
  EXPECT_TRUE(j["answer_text"].get<std::string>().starts_with("**Final Answer:** \\boxed{"));
  EXPECT_NE(j["prompt_text"].get<std::string>().find("\"Final Answer:\""), std::string::npos);  // asked for it
  expect_split(j, "Final Answer:");
  EXPECT_EQ(j["config"]["thinking"]["think_budget"], "8");
}

TEST(RunThinking, BudgetForcesTheCloseTagOnceWithATagTemplate) {
  // R1's template on SmolLM2's vocabulary: "</think>" is several tokens, detected as one close.
  const fs::path m = fixture("tiny-qwen2-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const json j = run_json("run -m " + shell_quote(m.string()) +
                          " -p 'Hi' --chat-template deepseek-r1 --temp 0 -n 40 --think-budget 6 --answer-budget 3");
  EXPECT_EQ(j["thinking"]["format"], "tags");
  EXPECT_TRUE(j["thinking"]["forced_close"]);
  EXPECT_TRUE(j["prompt_text"].get<std::string>().ends_with("<think>\n"));
  expect_split(j, "</think>");
  EXPECT_TRUE(j["answer_text"].get<std::string>().starts_with("\n\n**Final Answer:** \\boxed{"));
}

TEST(RunThinking, NoThinkPrefillsTheClosedSpan) {
  const fs::path m = fixture("tiny-llama-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const json j = run_json("run -m " + shell_quote(m.string()) + " -p 'Hi' --chat-template deepseek-r1 --temp 0 -n 6 --no-think");
  EXPECT_TRUE(j["prompt_text"].get<std::string>().ends_with(
      "<think>\nOkay, I think I have finished thinking.\n</think>\n\n"));
  EXPECT_EQ(j["tokens"]["thinking"], 0);
  EXPECT_EQ(j["thinking_text"], "");
}

TEST(RunThinking, PathsVoteWithEarlyStop) {
  const fs::path m = fixture("tiny-llama-q4_1");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const json j = run_json("run -m " + shell_quote(m.string()) +
                          " -p 'What is 2+2?' -n 48 --think-budget 12 --answer-budget 6 --paths 4 --vote majority "
                          "--early-stop --temp 0.9 --seed 5");
  ASSERT_EQ(j["paths"].size(), 4u);
  int64_t generated = 0;
  for (const json& p : j["paths"]) {
    EXPECT_LE(p["thinking_tokens"].get<int64_t>(), 12);
    EXPECT_LE(p["answer_tokens"].get<int64_t>(), 6);
    for (const char* k : {"answer", "tokens", "thinking_tokens", "answer_tokens", "stop", "stopped_early", "text"}) {
      EXPECT_TRUE(p.contains(k)) << k;
    }
    generated += p["tokens"].get<int64_t>();
  }
  EXPECT_EQ(generated, j["tokens"]["generated"].get<int64_t>());
  const json& v = j["vote"];
  EXPECT_EQ(v["mode"], "majority");
  EXPECT_TRUE(v["early_stop"]);
  double votes = 0;
  for (const json& t : v["tally"]) votes += t["votes"].get<double>();
  EXPECT_EQ(votes, v["n_votes"].get<double>());
  if (!v["winner"].is_null()) {
    const int wp = v["winner_path"];
    EXPECT_EQ(j["paths"][static_cast<size_t>(wp)]["answer"], v["winner"]);
  }
  EXPECT_GE(v["tokens_saved"].get<int64_t>(), 0);
  EXPECT_EQ(v["tokens_saved"].get<int64_t>() > 0, v["early_stopped"].get<bool>());
}

TEST(RunThinking, DeadlineRecordsItsBudget) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const json j = run_json("run -m " + shell_quote(m.string()) + " -p 'Hi' --temp 0 -n 64 --deadline 20 --answer-budget 8");
  EXPECT_EQ(j["thinking"]["deadline_s"], 20.0);
  EXPECT_TRUE(j["thinking"]["deadline_met"]);
  EXPECT_GT(j["thinking"]["measured_step_ms"].get<double>(), 0.0);
  EXPECT_FALSE(j["thinking"]["effective_think_budget"].is_null());
}

TEST(RunThinking, StreamsThinkingAndAnswerApart) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const test::CliResult r =
      run_cli("run -m " + shell_quote(m.string()) + " -p 'Hi' --temp 0 -n 30 --think-budget 5 --answer-budget 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Not a terminal: the spans are introduced by marker lines, each once.
  EXPECT_TRUE(r.out.starts_with("[thinking]\n")) << r.out;
  EXPECT_EQ(count(r.out, "\n[answer]\n"), 1) << r.out;
  EXPECT_EQ(count(r.out, "Final Answer:"), 1) << r.out;
  EXPECT_NE(r.err.find("thinking + "), std::string::npos) << r.err;
}

TEST(RunThinking, BadFlagsAreExit2AndNameTheFlag) {
  const fs::path m = fixture("tiny-llama-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const std::string base = "run -m " + shell_quote(m.string()) + " -p hi ";
  auto bad = [&](const std::string& flags, const std::string& culprit) {
    const test::CliResult r = run_cli(base + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.err;
    EXPECT_NE(r.err.find(culprit), std::string::npos) << flags << ": " << r.err;
  };
  bad("--no-think --think-budget 5", "--think-budget and --no-think");
  bad("--think-budget -3", "--think-budget");
  bad("--answer-budget 0", "--answer-budget");
  bad("--l1 100 --l1-max 100", "--l1 and --l1-max");
  bad("--deadline 0", "--deadline");
  bad("--deadline -1", "--deadline");
  bad("--min-think 10 --think-budget 5", "--min-think");
  bad("--vote plurality", "--vote");
  bad("--deadline-step-ms 5", "--deadline");
  bad("--think-budget x", "--think-budget");
}

TEST(RunThinking, SmolLM2BudgetClosesOnce) {
  ER_REQUIRE_MODEL(path, "smollm2");
  const json j = run_json("run -m " + shell_quote(path.string()) +
                          " -p 'What is 12 + 30?' --temp 0 -n 96 --think-budget 16 --answer-budget 16");
  ASSERT_TRUE(j.contains("thinking"));
  EXPECT_LE(j["tokens"]["thinking"].get<int64_t>(), 16);
  EXPECT_GT(j["tokens"]["thinking"].get<int64_t>(), 0);
  EXPECT_GT(j["tokens"]["answer"].get<int64_t>(), 0);
  EXPECT_LE(j["tokens"]["answer"].get<int64_t>(), 16);
  EXPECT_FALSE(j["thinking_text"].get<std::string>().empty());
  EXPECT_FALSE(j["answer_text"].get<std::string>().empty());
  expect_split(j, "Final Answer:");
  if (j["thinking"]["forced_close"].get<bool>()) {
    EXPECT_EQ(j["tokens"]["thinking"], 16);
  }
}

// --deadline plans with the saved host profile's decode fit for the model when there is one.
TEST(RunThinking, DeadlineTakesTheDecodeFitFromTheHostProfile) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir tmp;
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("XDG_CACHE_HOME", tmp.path().c_str(), 1);
  const std::string args = "run -m " + shell_quote(m.string()) + " -p 'Hi' --temp 0 -n 16 --deadline 20 --answer-budget 4";
  const test::CliResult none = run_cli(args);
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.err.find("no saved device profile"), std::string::npos) << none.err;

  json prof = {{"name", "host"}, {"kind", "host"}, {"mem_bandwidth_gbps", 10.0}, {"peak_gflops_f32", nullptr},
               {"peak_gops_int8", nullptr}, {"cpu", "test"}, {"n_cores", 2}, {"isa", json::array()},
               {"measured", false}, {"source", "test"}, {"date", "2026-11-24"},
               {"models", {{"tiny-llama-q8_0", {{"decode", {{"m", 1e-6}, {"n", 0.004}}}}}}}};
  fs::create_directories(tmp.path() / "edgereason");
  test::write_text(tmp.path() / "edgereason" / "host-profile.json", prof.dump());
  const test::CliResult fitted = run_cli(args);
  EXPECT_EQ(fitted.exit_code, 0) << fitted.err;
  EXPECT_NE(fitted.err.find("decode step model from"), std::string::npos) << fitted.err;
  EXPECT_NE(fitted.err.find("n = 4.000 ms/step"), std::string::npos) << fitted.err;
  EXPECT_EQ(fitted.err.find("extrapolating"), std::string::npos) << fitted.err;  // no range recorded: nothing to say
  // A fit that saw contexts 1000-2000 only: the plan for this short prompt lies below its range.
  prof["models"]["tiny-llama-q8_0"]["ranges"] = {
      {"decode_latency", {{"n_points", 12}, {"n_prompt", {1000, 1500}}, {"n_gen", {16, 500}}, {"context", {1000, 2000}}}}};
  test::write_text(tmp.path() / "edgereason" / "host-profile.json", prof.dump());
  const test::CliResult outside = run_cli(args);
  EXPECT_EQ(outside.exit_code, 0) << outside.err;
  EXPECT_NE(outside.err.find("warning: deadline: extrapolating: tiny-llama-q8_0 decode_latency was fitted on context "
                             "1000-2000 tokens (prompt 1000-1500, output 16-500) (12 points); requested prompt "),
            std::string::npos)
      << outside.err;
  EXPECT_NE(outside.err.find(", output 16 (context "), std::string::npos) << outside.err;  // -n 16 caps the plan
  // A range that holds the plan: no warning.
  prof["models"]["tiny-llama-q8_0"]["ranges"]["decode_latency"]["context"] = {1, 100000};
  test::write_text(tmp.path() / "edgereason" / "host-profile.json", prof.dump());
  const test::CliResult inside = run_cli(args);
  EXPECT_EQ(inside.err.find("extrapolating"), std::string::npos) << inside.err;
  if (old != nullptr) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1); else ::unsetenv("XDG_CACHE_HOME");
}

}  // namespace
}  // namespace er
