// The eval loop with a fake solver: records, votes, scoring, resume of a torn file, interrupts.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/runner.h"
#include "core/stats.h"
#include "support/test_support.h"

namespace er::eval {
namespace {

using nlohmann::json;

// A 10-question math set: question k has gold "k/2" written as \frac{k}{2}.
Dataset make_dataset() {
  Dataset ds;
  ds.name = "toy";
  ds.path = "toy.jsonl";
  ds.task = Task::kMath;
  for (int k = 0; k < 10; ++k) {
    Question q;
    q.id = "q" + std::to_string(k);
    q.index = k;
    q.line = k + 1;
    q.question = "What is " + std::to_string(k) + " halves?";
    q.gold = "\\frac{";  // built by appends: g++ 12 misreports -Wrestrict on a + chain here
    q.gold += std::to_string(k);
    q.gold += "}{2}";
    ds.questions.push_back(q);
  }
  return ds;
}

// Answers even questions right (as a decimal), odd ones with no answer at all.
struct FakeSolver {
  std::vector<std::string> asked;
  SolveFn fn() {
    return [this](const Question& q, const std::string& prompt) -> Result<SolveOutcome> {
      asked.push_back(q.id);
      EXPECT_NE(prompt.find("\\boxed{}"), std::string::npos);
      SolveOutcome o;
      PathAnswer p;
      const int k = std::stoi(q.id.substr(1));
      p.answer_text = "I am not sure";
      if (k % 2 == 0) {
        p.answer_text = "so it is \\boxed{";
        p.answer_text += std::to_string(k / 2.0);
        p.answer_text += "}";
      }
      p.thinking_tokens = 10 * (k + 1);
      p.answer_tokens = 5;
      p.stop = "eog";
      o.paths.push_back(p);
      o.n_prompt = 20;
      o.prefill_ms = 1;
      o.decode_ms = 100.0 * (k + 1);
      o.e2e_ms = 1 + o.decode_ms;
      return o;
    };
  }
};

std::vector<json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> v;
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

EvalOptions quiet_opts(const std::string& out) {
  EvalOptions o;
  o.output_path = out;
  o.progress = ProgressMode::kOff;
  o.config = {{"model", "fake"}, {"temp", 0}};
  return o;
}

TEST(EvalScore, WilsonHandComputed) {
  // 8/10, z = 1.959964: centre = (0.8 + 0.19207)/1.38415 = 0.71674, half = 0.22658.
  const stats::Proportion p = stats::wilson_interval(8, 10);
  EXPECT_DOUBLE_EQ(p.p, 0.8);
  EXPECT_NEAR(p.lo, 0.49016, 1e-4);
  EXPECT_NEAR(p.hi, 0.94332, 1e-4);
  const stats::Proportion zero = stats::wilson_interval(0, 10);  // lo = 0, hi = z²/(n + z²) = 0.27754
  EXPECT_DOUBLE_EQ(zero.lo, 0);
  EXPECT_NEAR(zero.hi, 0.27754, 1e-4);
  const stats::Proportion none = stats::wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0);
  EXPECT_EQ(none.hi, 1);
  const double v[] = {4, 1, 3, 2};
  const stats::Distribution d = stats::describe(v);
  EXPECT_DOUBLE_EQ(d.mean, 2.5);
  EXPECT_DOUBLE_EQ(d.p50, 2.5);
  EXPECT_DOUBLE_EQ(d.p90, 3.7);  // rank 0.9 * 3 = 2.7 → 3 + 0.7
}

TEST(EvalRunner, RecordsAndSummary) {
  test::TempDir tmp;
  const std::string out = (tmp / "out.jsonl").string();
  const Dataset ds = make_dataset();
  FakeSolver fake;
  auto s = run_eval(ds, fake.fn(), quiet_opts(out));
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->n_graded, 10);
  EXPECT_EQ(s->n_correct, 5);
  EXPECT_EQ(s->n_unparsed, 5);
  EXPECT_DOUBLE_EQ(s->accuracy.p, 0.5);
  EXPECT_DOUBLE_EQ(s->e2e_ms.mean, 551);         // 1 + 100 * mean(1..10)
  EXPECT_DOUBLE_EQ(s->thinking_tokens.p50, 55);  // median of 10..100
  EXPECT_FALSE(s->joules_per_question.has_value());
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[0]["record"], "config");
  EXPECT_EQ(lines[0]["grader_version"], "er-grader-1");
  EXPECT_EQ(lines[0]["config"]["model"], "fake");
  const json& r2 = lines[3];  // q2: gold \frac{2}{2}, answered 1.000000
  EXPECT_EQ(r2["record"], "question");
  EXPECT_EQ(r2["id"], "q2");
  EXPECT_EQ(r2["gold"], "\\frac{2}{2}");
  EXPECT_EQ(r2["extracted"], "1.000000");
  EXPECT_EQ(r2["correct"], true);
  EXPECT_EQ(r2["thinking_tokens"], 30);
  EXPECT_TRUE(r2["energy"].is_null());
  EXPECT_EQ(r2["paths"].size(), 1u);
  EXPECT_EQ(r2["vote"]["winner"], "1");
  const json& r3 = lines[4];
  EXPECT_TRUE(r3["extracted"].is_null());
  EXPECT_EQ(r3["correct"], false);
  const json sj = s->to_json();
  EXPECT_EQ(sj["n_correct"], 5);
  EXPECT_NEAR(sj["accuracy_ci95"][0].get<double>(), 0.2366, 1e-3);
  EXPECT_NE(s->to_text().find("5/10 correct = 50.0%"), std::string::npos) << s->to_text();
}

TEST(EvalRunner, VoteOverPaths) {
  Dataset ds = make_dataset();
  SolveOutcome o;
  for (const char* t : {"\\boxed{7}", "\\boxed{\\frac{3}{2}}", "\\boxed{1.5}", "nothing"}) {
    PathAnswer p;
    p.answer_text = t;
    o.paths.push_back(p);
  }
  const json r = make_question_record(ds, ds.questions[3], o, false);  // gold 3/2
  EXPECT_EQ(r["vote"]["winner"], "1.5");
  EXPECT_EQ(r["vote"]["winner_path"], 1);  // first path that reached the winning answer
  EXPECT_EQ(r["correct"], true);
  EXPECT_EQ(r["paths"][0]["correct"], false);
  EXPECT_TRUE(r["paths"][3]["extracted"].is_null());
  EXPECT_FALSE(r["paths"][0].contains("answer_text"));
  EXPECT_EQ(r["vote"]["tally"], json::parse(R"([["7",1],["1.5",2]])"));
  // The solver's own vote (e.g. weighted) overrides the majority.
  o.winner_path = 0;
  EXPECT_EQ(make_question_record(ds, ds.questions[3], o, false)["correct"], false);
}

TEST(EvalRunner, InvalidUtf8InModelTextIsReplaced) {
  test::TempDir tmp;
  const std::string out = (tmp / "out.jsonl").string();
  const Dataset ds = make_dataset();
  SolveFn solve = [](const Question&, const std::string&) -> Result<SolveOutcome> {
    SolveOutcome o;
    PathAnswer p;
    p.answer_text = "cut \xE2\x82 then \xFF \\boxed{0}";  // a truncated euro sign and a stray byte
    o.paths.push_back(p);
    return o;
  };
  EvalOptions o = quiet_opts(out);
  o.limit = 1;
  auto s = run_eval(ds, solve, o);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->n_correct, 1);
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1]["paths"][0]["answer_text"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

TEST(EvalRunner, ResumeTornFileWithoutDuplicates) {
  test::TempDir tmp;
  const std::string out = (tmp / "out.jsonl").string();
  const Dataset ds = make_dataset();
  FakeSolver first;
  EvalOptions o = quiet_opts(out);
  o.limit = 4;
  ASSERT_TRUE(run_eval(ds, first.fn(), o).is_ok());
  EXPECT_EQ(first.asked.size(), 4u);
  // Simulate a crash in the middle of writing q4's record.
  {
    std::ofstream app(out, std::ios::app);
    app << "{\"record\":\"question\",\"id\":\"q4\",\"gold\":";
  }
  // Without --resume an existing file is refused.
  o.limit = -1;
  auto refused = run_eval(ds, first.fn(), o);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_TRUE(refused.status().names_field("resume")) << refused.status().message();  // the CLI: --resume

  FakeSolver second;
  o.resume = true;
  auto s = run_eval(ds, second.fn(), o);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(second.asked, (std::vector<std::string>{"q4", "q5", "q6", "q7", "q8", "q9"}));
  EXPECT_EQ(s->n_graded, 10);
  EXPECT_EQ(s->n_new, 6);
  EXPECT_EQ(s->n_correct, 5);
  const auto lines = read_lines(out);  // every line parses: the torn one is gone
  ASSERT_EQ(lines.size(), 11u);
  std::set<std::string> ids;
  for (size_t k = 1; k < lines.size(); ++k) EXPECT_TRUE(ids.insert(lines[k]["id"]).second) << lines[k]["id"];
  EXPECT_EQ(ids.size(), 10u);
  // Resuming a complete file asks nothing.
  FakeSolver third;
  ASSERT_TRUE(run_eval(ds, third.fn(), o).is_ok());
  EXPECT_TRUE(third.asked.empty());
}

TEST(EvalRunner, ResumeRefusesAnotherConfigOrGarbage) {
  test::TempDir tmp;
  const std::string out = (tmp / "out.jsonl").string();
  const Dataset ds = make_dataset();
  FakeSolver fake;
  EvalOptions o = quiet_opts(out);
  o.limit = 2;
  ASSERT_TRUE(run_eval(ds, fake.fn(), o).is_ok());
  o.resume = true;
  o.config["temp"] = 0.6;
  auto s = run_eval(ds, fake.fn(), o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.status().is_bad_input());
  EXPECT_NE(s.status().message().find("config.temp differs"), std::string::npos) << s.status().message();

  test::write_text(tmp / "other.jsonl", "hello\nworld\n");
  o.output_path = (tmp / "other.jsonl").string();
  o.config["temp"] = 0;
  auto g = run_eval(ds, fake.fn(), o);
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("other.jsonl:1: not an eval record"), std::string::npos) << g.status().message();
}

TEST(EvalRunner, InterruptThenResume) {
  test::TempDir tmp;
  const std::string out = (tmp / "out.jsonl").string();
  const Dataset ds = make_dataset();
  FakeSolver fake;
  EvalOptions o = quiet_opts(out);
  o.offset = 2;
  o.limit = 5;  // q2..q6
  o.interrupted = [&] { return fake.asked.size() >= 2; };
  auto s = run_eval(ds, fake.fn(), o);
  ASSERT_TRUE(s.is_ok());
  EXPECT_TRUE(s->interrupted);
  EXPECT_EQ(s->n_graded, 2);
  EXPECT_EQ(s->n_selected, 5);
  o.interrupted = {};
  o.resume = true;
  FakeSolver rest;
  auto s2 = run_eval(ds, rest.fn(), o);
  ASSERT_TRUE(s2.is_ok());
  EXPECT_EQ(rest.asked, (std::vector<std::string>{"q4", "q5", "q6"}));
  EXPECT_EQ(s2->n_graded, 5);
  EXPECT_EQ(s2->n_correct, 3);  // q2, q4, q6
}

TEST(EvalRunner, BadRangesAndSolverErrors) {
  const Dataset ds = make_dataset();
  FakeSolver fake;
  EvalOptions o = quiet_opts("");
  o.offset = 10;
  EXPECT_TRUE(run_eval(ds, fake.fn(), o).status().is_bad_input());
  o.offset = 0;
  o.limit = 0;
  EXPECT_TRUE(run_eval(ds, fake.fn(), o).status().is_bad_input());
  o.limit = 1;
  o.resume = true;
  EXPECT_TRUE(run_eval(ds, fake.fn(), o).status().is_bad_input());  // --resume to stdout
  test::TempDir tmp;
  o.resume = false;
  o.output_path = (tmp / "x.jsonl").string();
  SolveFn failing = [](const Question&, const std::string&) -> Result<SolveOutcome> {
    return Status::io_error("engine broke");
  };
  auto s = run_eval(ds, failing, o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIoError);
  EXPECT_NE(s.status().message().find("question 'q0'"), std::string::npos);
}

}  // namespace
}  // namespace er::eval
