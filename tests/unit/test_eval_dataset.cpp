// Dataset loaders: the built-in sets, JSONL with a field map, malformed lines by line number.
#include <gtest/gtest.h>

#include "eval/dataset.h"
#include "eval/prompts.h"
#include "support/test_support.h"
#include "fixture_sha256.h"

#include <fstream>
#include <iterator>
#include <regex>

namespace er::eval {
namespace {

DatasetOptions data_opts() {
  DatasetOptions o;
  o.data_dir = test::data_dir().string();
  return o;
}


TEST(EvalDataset, BuiltinSets) {
  auto g = load_dataset("gsm8k", data_opts());
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_EQ(g->questions.size(), 1319u);
  EXPECT_EQ(g->task, Task::kGsm8k);
  EXPECT_EQ(g->questions[0].gold, "18");
  EXPECT_EQ(g->questions[0].id, "0");
  EXPECT_EQ(g->questions[2].gold, "70000");
  auto m = load_dataset("math500", data_opts());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->questions.size(), 500u);
  EXPECT_EQ(m->questions[0].gold, "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ(m->questions[0].id, "test/precalculus/807.json");
  EXPECT_EQ(m->questions[0].subject, "Precalculus");
  auto c = load_dataset("mmlu_stem", data_opts());
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->questions.size(), 3018u);
  EXPECT_EQ(c->task, Task::kMultipleChoice);
  EXPECT_EQ(c->questions[0].gold, "C");  // "answer": 2
  EXPECT_EQ(c->questions[0].choices.size(), 4u);
  EXPECT_EQ(c->questions[0].id, "mmlu_stem-0");
  EXPECT_EQ(c->questions[0].subject, "college_biology");
  // "mmlu" is the same file.
  auto alias = load_dataset("mmlu", data_opts());
  ASSERT_TRUE(alias.is_ok());
  EXPECT_EQ(alias->questions.size(), 3018u);
}

TEST(EvalDataset, TaskPrompts) {
  Question q;
  q.question = "What is 2+2?";
  EXPECT_EQ(task_prompt(Task::kMath, q), "What is 2+2?\nPlease reason step by step, and put your final answer within \\boxed{}.");
  q.choices = {"three", "four"};
  const std::string p = task_prompt(Task::kMultipleChoice, q);
  EXPECT_NE(p.find("\n\nA. three\nB. four\n\n"), std::string::npos) << p;
  EXPECT_NE(p.find("\"The answer is X\""), std::string::npos) << p;
}

TEST(EvalDataset, PathWithFieldMapAndSolutionBox) {
  test::TempDir tmp;
  test::write_text(tmp / "set.jsonl",
                   "{\"problem\":\"1+1?\",\"solution\":\"Add: $\\\\boxed{2}$.\",\"uid\":\"q1\"}\n"
                   "\n"
                   "{\"problem\":\"Half?\",\"solution\":\"It is \\\\boxed{\\\\frac{1}{2}}\",\"uid\":\"q2\"}\n");
  DatasetOptions o;
  o.field_map = "question=problem,answer=solution,id=uid";
  auto d = load_dataset((tmp / "set.jsonl").string(), o);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  ASSERT_EQ(d->questions.size(), 2u);
  EXPECT_EQ(d->task, Task::kMath);
  EXPECT_EQ(d->name, "set");
  EXPECT_EQ(d->questions[0].gold, "2");
  EXPECT_EQ(d->questions[1].gold, "\\frac{1}{2}");
  EXPECT_EQ(d->questions[1].id, "q2");
  EXPECT_EQ(d->questions[1].line, 3);   // the blank line 2 is not a record
  EXPECT_EQ(d->questions[1].index, 1);
}

TEST(EvalDataset, ChoicesInferMultipleChoice) {
  test::TempDir tmp;
  test::write_text(tmp / "mc.jsonl",
                   "{\"question\":\"Q1\",\"choices\":[\"x\",\"y\",\"z\"],\"answer\":\"b\"}\n"
                   "{\"question\":\"Q2\",\"choices\":[\"x\",\"y\",\"z\"],\"answer\":2}\n");
  auto d = load_dataset((tmp / "mc.jsonl").string(), {});
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d->task, Task::kMultipleChoice);
  EXPECT_EQ(d->questions[0].gold, "B");
  EXPECT_EQ(d->questions[1].gold, "C");
  EXPECT_EQ(d->questions[0].id, "mc-0");
}

TEST(EvalDataset, MalformedLinesNamedByLine) {
  test::TempDir tmp;
  const std::string path = (tmp / "bad.jsonl").string();
  test::write_text(path,
                   "{\"question\":\"ok\",\"answer\":\"#### 5\"}\n"
                   "{\"question\":\"no answer\"}\n"
                   "{not json\n"
                   "[1,2]\n"
                   "{\"question\":\"\",\"answer\":\"1\"}\n"
                   "{\"question\":\"fine\",\"answer\":\"#### 1,200\"}\n");
  DatasetOptions o;
  o.task = Task::kGsm8k;
  auto fail = load_dataset(path, o);
  ASSERT_FALSE(fail.is_ok());
  EXPECT_TRUE(fail.status().is_bad_input());
  EXPECT_NE(fail.status().message().find(path + ":2: missing field 'answer'"), std::string::npos) << fail.status().message();

  o.on_bad_line = BadLinePolicy::kSkip;
  auto skip = load_dataset(path, o);
  ASSERT_TRUE(skip.is_ok()) << skip.status().message();
  ASSERT_EQ(skip->questions.size(), 2u);
  EXPECT_EQ(skip->questions[1].gold, "1200");
  EXPECT_EQ(skip->questions[1].index, 5);  // stable position, skipped lines included
  ASSERT_EQ(skip->skipped.size(), 4u);
  EXPECT_EQ(skip->skipped[0], path + ":2: missing field 'answer' (the answer; see ${field_map})");  // the CLI spells it --field-map
  EXPECT_EQ(skip->skipped[1], path + ":3: invalid JSON");
  EXPECT_EQ(skip->skipped[2], path + ":4: not a JSON object");
  EXPECT_NE(skip->skipped[3].find(":5: field 'question' must be a non-empty string"), std::string::npos);
}

TEST(EvalDataset, ChoiceAndIdErrors) {
  test::TempDir tmp;
  const std::string path = (tmp / "mc.jsonl").string();
  test::write_text(path,
                   "{\"question\":\"Q\",\"choices\":[\"a\",\"b\"],\"answer\":3,\"id\":\"x\"}\n"
                   "{\"question\":\"Q\",\"choices\":\"ab\",\"answer\":0,\"id\":\"y\"}\n"
                   "{\"question\":\"Q\",\"choices\":[\"a\",\"b\"],\"answer\":0,\"id\":\"z\"}\n"
                   "{\"question\":\"Q\",\"choices\":[\"a\",\"b\"],\"answer\":1,\"id\":\"z\"}\n");
  DatasetOptions o;
  o.on_bad_line = BadLinePolicy::kSkip;
  auto d = load_dataset(path, o);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d->questions.size(), 1u);
  ASSERT_EQ(d->skipped.size(), 3u);
  EXPECT_NE(d->skipped[0].find(":1: field 'answer' = 3 is not a choice index in [0, 1]"), std::string::npos) << d->skipped[0];
  EXPECT_NE(d->skipped[1].find(":2: field 'choices' must be an array"), std::string::npos) << d->skipped[1];
  EXPECT_NE(d->skipped[2].find(":4: duplicate id 'z' (first on line 3)"), std::string::npos) << d->skipped[2];
}

TEST(EvalDataset, UsageErrors) {
  test::TempDir tmp;
  EXPECT_EQ(load_dataset("no-such-set", {}).status().code(), StatusCode::kNotFound);
  test::write_text(tmp / "empty.jsonl", "\n\n");
  auto e = load_dataset((tmp / "empty.jsonl").string(), {});
  ASSERT_FALSE(e.is_ok());
  EXPECT_NE(e.status().message().find("no valid question"), std::string::npos);
  EXPECT_FALSE(parse_field_map("question", {}).is_ok());
  EXPECT_FALSE(parse_field_map("colour=red", {}).is_ok());
  auto fm = parse_field_map("question=q,choices=opts", {});
  ASSERT_TRUE(fm.is_ok());
  EXPECT_EQ(fm->question, "q");
  EXPECT_EQ(fm->choices, "opts");
  EXPECT_EQ(fm->answer, "answer");
  DatasetOptions o;
  o.data_dir = (tmp / "missing").string();
  EXPECT_TRUE(load_dataset("gsm8k", o).status().is_bad_input());
  EXPECT_EQ(question_hash("abc"), question_hash("abc"));
  EXPECT_NE(question_hash("abc"), question_hash("abd"));
  EXPECT_EQ(question_hash("").size(), 16u);
}


// The sets ship in data/ with their sha256 in data/README.md; they are the same files as
// ../shared/data (the project's reference copy) where that exists beside the repository.
TEST(EvalDataset, ShippedSetsMatchTheirChecksumsAndTheReferenceCopy) {
  std::ifstream readme(test::data_dir() / "README.md");
  ASSERT_TRUE(readme) << "no data/README.md";
  const std::regex row(R"(^\| `([a-z0-9_]+/test\.jsonl)` \|.*\| ([0-9a-f]{64}) \|$)");
  std::string line;
  int n = 0;
  while (std::getline(readme, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    ++n;
    auto read = [](const std::filesystem::path& p) {
      std::ifstream in(p, std::ios::binary);
      return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
    };
    const std::vector<uint8_t> bytes = read(test::data_dir() / m[1].str());
    ASSERT_FALSE(bytes.empty()) << m[1];
    EXPECT_LT(bytes.size(), 2u << 20) << m[1] << ": files in the repository stay under 2 MB";
    EXPECT_EQ(fixtures::sha256_hex(bytes), m[2].str()) << m[1];
    const std::filesystem::path ref = test::shared_dir() / "data" / m[1].str();
    if (std::filesystem::exists(ref)) {
      EXPECT_TRUE(read(ref) == bytes) << m[1] << " differs from " << ref;
    }
  }
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace er::eval
