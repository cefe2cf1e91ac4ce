// `edgereason eval` and `grade` end to end: exit codes, messages naming the culprit, records,
// resume without duplicates, grading of outside completions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;
using test::shell_quote;

fs::path fixture(const std::string& name) { return test::fixture_dir() / (name + ".gguf"); }
std::string q(const fs::path& p) { return shell_quote(p.string()); }
std::string data_dir() { return shell_quote(test::data_dir().string()); }

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

std::vector<json> read_jsonl(const fs::path& p) {
  std::ifstream in(p);
  std::vector<json> v;
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

// A tiny GSM8K-style set of three questions.
fs::path write_toy_set(const test::TempDir& tmp) {
  const fs::path p = tmp / "toy.jsonl";
  test::write_text(p,
                   "{\"question\":\"2+2?\",\"answer\":\"#### 4\",\"id\":\"a\"}\n"
                   "{\"question\":\"3+3?\",\"answer\":\"#### 6\",\"id\":\"b\"}\n"
                   "{\"question\":\"1000+234?\",\"answer\":\"#### 1,234\",\"id\":\"c\"}\n");
  return p;
}

TEST(CliEval, BadInputExitsTwoNamingTheCulprit) {
  test::TempDir tmp;
  const fs::path toy = write_toy_set(tmp);
  expect_bad_input(run_cli("eval --dataset gsm8k"), "--model");
  expect_bad_input(run_cli("eval -m x.gguf"), "--dataset");
  expect_bad_input(run_cli("eval -m x.gguf --dataset no-such-set"), "--dataset 'no-such-set'");
  expect_bad_input(run_cli("eval -m x.gguf --dataset " + q(toy) + " --on-bad-line maybe"), "--on-bad-line");
  expect_bad_input(run_cli("eval -m x.gguf --dataset " + q(toy) + " --limit 0"), "--limit");
  expect_bad_input(run_cli("eval -m x.gguf --dataset " + q(toy) + " --task algebra"), "--task");
  expect_bad_input(run_cli("eval -m x.gguf --dataset " + q(toy) + " --field-map question"), "--field-map");
  expect_bad_input(run_cli("eval -m x.gguf --dataset gsm8k --data-dir " + q(tmp / "nowhere")), "--data-dir");
  // The dataset is valid, the model is not there.
  expect_bad_input(run_cli("eval -m " + q(tmp / "missing.gguf") + " --dataset " + q(toy) + " --task gsm8k"), "missing.gguf");
  // A malformed line is reported by file and line number (and fails by default).
  const fs::path bad = tmp / "bad.jsonl";
  test::write_text(bad, "{\"question\":\"ok\",\"answer\":\"1\"}\n{\"question\":\"x\"\n");
  expect_bad_input(run_cli("eval -m x.gguf --dataset " + q(bad)), bad.string() + ":2: invalid JSON");
}

TEST(CliEval, FixtureModelRecordsAndResume) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir tmp;
  const fs::path toy = write_toy_set(tmp);
  const fs::path out = tmp / "out.jsonl", summary = tmp / "summary.json";
  const std::string base = "eval -m " + q(m) + " --dataset " + q(toy) + " --task gsm8k -n 6 --temp 0 --power none -o " + q(out);
  const auto r1 = run_cli(base + " --limit 2 --summary-json " + q(summary));
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  EXPECT_NE(r1.out.find("correct ="), std::string::npos) << r1.out;
  auto lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["record"], "config");
  EXPECT_EQ(lines[0]["task"], "gsm8k");
  for (size_t k = 1; k < 3; ++k) {
    const json& r = lines[k];
    for (const char* f : {"id", "dataset", "index", "question_hash", "gold", "extracted", "correct", "thinking_tokens",
                          "answer_tokens", "n_prompt", "prefill_ms", "decode_ms", "e2e_ms", "energy", "paths", "vote",
                          "grader_version"}) {
      EXPECT_TRUE(r.contains(f)) << f;
    }
    EXPECT_GT(r["n_prompt"].get<int>(), 0);
    EXPECT_GT(r["e2e_ms"].get<double>(), 0);
    EXPECT_LE(r["answer_tokens"].get<int>(), 6);
    EXPECT_EQ(r["energy"]["source"], "none");
    EXPECT_TRUE(r["energy"]["total_j"].is_null());
  }
  EXPECT_EQ(lines[1]["gold"], "4");
  const json s = json::parse(std::ifstream(summary));
  EXPECT_EQ(s["n_graded"], 2);
  EXPECT_EQ(s["grader_version"], "er-grader-1");
  EXPECT_TRUE(s["joules_per_question"].is_null());

  // The same output again without --resume is refused; with a torn tail, --resume repairs it.
  expect_bad_input(run_cli(base), "--resume");
  { std::ofstream(out, std::ios::app) << "{\"record\":\"question\",\"id\":\"c\""; }
  const auto r2 = run_cli(base + " --resume");
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 4u);
  std::set<std::string> ids;
  for (size_t k = 1; k < lines.size(); ++k) ids.insert(lines[k]["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"a", "b", "c"}));
  // Another sampling configuration cannot continue this file.
  expect_bad_input(run_cli(base + " --resume --seed 7"), "config.seed differs");
  // With a power source each record has its energy and the summary J per question.
  const fs::path out2 = tmp / "out2.jsonl";
  const auto r3 = run_cli("eval -m " + q(m) + " --dataset " + q(toy) + " --task gsm8k -n 4 --temp 0 --power estimated -o " +
                          q(out2) + " --summary-json " + q(summary));
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  const json s2 = json::parse(std::ifstream(summary));
  ASSERT_TRUE(s2["joules_per_question"].is_number()) << s2.dump();
  double sum_j = 0;
  lines = read_jsonl(out2);
  for (size_t k = 1; k < lines.size(); ++k) sum_j += lines[k]["energy"]["total_j"].get<double>();
  EXPECT_NEAR(s2["joules_per_question"].get<double>(), sum_j / 3, 1e-9);
  EXPECT_EQ(s2["energy_estimated"], true);
  // Records can be re-graded by `grade` (each path's answer text).
  const auto g = run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(out));
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.err.find("/3 correct"), std::string::npos) << g.err;
}

TEST(CliEval, ThinkingBudgetReachesTheRecords) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir tmp;
  const fs::path toy = write_toy_set(tmp);
  const fs::path out = tmp / "out.jsonl";
  expect_bad_input(run_cli("eval -m " + q(m) + " --dataset " + q(toy) + " --think-budget 3 --no-think"), "--no-think");
  const auto r = run_cli("eval -m " + q(m) + " --dataset " + q(toy) + " --task gsm8k -n 24 --temp 0 --power none "
                         "--think-budget 3 --paths 2 -o " + q(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["config"]["thinking"]["think_budget"], "3");
  EXPECT_EQ(lines[0]["config"]["paths"], 2);
  for (size_t k = 1; k < lines.size(); ++k) {
    ASSERT_EQ(lines[k]["paths"].size(), 2u);
    for (const auto& p : lines[k]["paths"]) {
      // Random weights never close on their own: the budget forces the close at 3 tokens.
      EXPECT_EQ(p["thinking_tokens"], 3) << p.dump();
      EXPECT_EQ(p["forced_close"], true) << p.dump();
      EXPECT_NE(p["answer_text"].get<std::string>().find("Final Answer:"), std::string::npos) << p.dump();
    }
    EXPECT_EQ(lines[k]["thinking_tokens"], 6);  // summed over the paths
  }
}

TEST(CliGrade, OutsideCompletions) {
  test::TempDir tmp;
  const fs::path toy = write_toy_set(tmp);
  const fs::path outs = tmp / "outs.jsonl", graded = tmp / "graded.jsonl", summary = tmp / "s.json";
  test::write_text(outs,
                   "{\"id\":\"a\",\"completion\":\"2+2 is \\\\boxed{4}.\"}\n"
                   "{\"id\":\"c\",\"output\":\"The answer is $1,234.\"}\n"
                   "{\"index\":1,\"text\":\"I think 7.\"}\n");
  const auto r = run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(outs) + " -o " + q(graded) +
                         " --summary-json " + q(summary));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2/3 correct = 66.7%"), std::string::npos) << r.out;
  const auto lines = read_jsonl(graded);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["id"], "a");
  EXPECT_EQ(lines[0]["correct"], true);
  EXPECT_EQ(lines[1]["extracted"], "1234");
  EXPECT_EQ(lines[2]["id"], "b");
  EXPECT_EQ(lines[2]["correct"], false);
  const json s = json::parse(std::ifstream(summary));
  EXPECT_EQ(s["n_correct"], 2);
  EXPECT_EQ(s["n_missing"], 0);
  // Overwriting needs --overwrite.
  expect_bad_input(run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(outs) + " -o " + q(graded)),
                   "--overwrite");

  // Several completions per question vote; an unknown id is reported by line, fatal or skipped.
  test::write_text(outs,
                   "{\"id\":\"a\",\"completion\":[\"\\\\boxed{5}\",\"\\\\boxed{4}\",\"so 4\"]}\n"
                   "{\"id\":\"zzz\",\"completion\":\"4\"}\n");
  expect_bad_input(run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(outs)),
                   outs.string() + ":2: id 'zzz' is not in dataset toy");
  const auto skip = run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(outs) + " --on-bad-line skip");
  ASSERT_EQ(skip.exit_code, 0) << skip.err;
  EXPECT_NE(skip.err.find("warning: skipped " + outs.string() + ":2:"), std::string::npos) << skip.err;
  EXPECT_NE(skip.err.find("1/1 correct"), std::string::npos) << skip.err;
  EXPECT_NE(skip.err.find("2 question(s) without a completion"), std::string::npos) << skip.err;
  const json rec = json::parse(skip.out.substr(0, skip.out.find('\n')));
  EXPECT_EQ(rec["key"], "4");
  EXPECT_EQ(rec["paths"].size(), 3u);

  expect_bad_input(run_cli("grade --dataset " + q(toy) + " --outputs " + q(tmp / "none.jsonl")), "--outputs");
  test::write_text(outs, "{\"id\":\"a\"}\n");
  expect_bad_input(run_cli("grade --dataset " + q(toy) + " --task gsm8k --outputs " + q(outs)), "no completion field");
}

TEST(CliGrade, BuiltinSetsFromAnotherEngine) {
  test::TempDir tmp;
  const fs::path outs = tmp / "mmlu.jsonl";
  // mmlu_stem items 0..3 have gold C, B, ?, ?: answer the first right, the second with the article.
  test::write_text(outs,
                   "{\"index\":0,\"response\":\"The answer is (C).\"}\n"
                   "{\"index\":1,\"response\":\"The answer is a frameshift.\"}\n");
  const auto r = run_cli("grade --dataset mmlu_stem --data-dir " + data_dir() + " --outputs " + q(outs));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1/2 correct"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 unparsed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3016 question(s) without a completion"), std::string::npos) << r.err;

  // Without --data-dir the set is found in the source tree the binary was built from (data/), or
  // where EDGEREASON_DATA points.
  const auto found = run_cli("grade --dataset mmlu_stem --outputs " + q(outs));
  EXPECT_EQ(found.exit_code, 0) << found.err;
  fs::create_directories(tmp / "data/gsm8k");
  test::write_text(tmp / "data/gsm8k/test.jsonl", "{\"question\":\"q\",\"answer\":\"#### 7\",\"idx\":0}\n");
  test::write_text(tmp / "g.jsonl", "{\"idx\":0,\"output\":\"7\"}\n");
  const std::string with_env = "env EDGEREASON_DATA=" + q(tmp / "data") + " " + shell_quote(test::cli_path().string()) +
                               " grade --dataset gsm8k --outputs " + q(tmp / "g.jsonl") + " --id-field idx 2>&1";
  FILE* pipe = popen(with_env.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string text;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe) != nullptr) text += buf;
  EXPECT_EQ(pclose(pipe), 0) << text;
  EXPECT_NE(text.find("1/1 correct"), std::string::npos) << text;  // the one-question set from EDGEREASON_DATA

  const fs::path m5 = tmp / "m5.jsonl";
  test::write_text(m5,
                   "{\"id\":\"test/precalculus/807.json\",\"completion\":\"\\\\boxed{(3, \\\\frac{\\\\pi}{2})}\"}\n"
                   "{\"id\":\"test/precalculus/927.json\",\"completion\":\"\\\\boxed{90}\"}\n");
  const auto m = run_cli("grade --dataset math500 --data-dir " + data_dir() + " --outputs " + q(m5));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.err.find("2/2 correct"), std::string::npos) << m.err << m.out;
}

}  // namespace
}  // namespace er
