// The sweep runner with a fake backend: completion, resume after an interruption, failures.
#include <gtest/gtest.h>

#include <cstdio>

#include "study/runner.h"
#include "study_fake.h"
#include "support/test_support.h"

namespace er::study {
namespace {

SweepConfig config() {
  auto r = parse_sweep_config(
      "name = \"t\"\nmodels = \"m\"\npolicies = [\"unlimited\", \"think-budget\"]\nbudgets = [8]\n"
      "paths = [1, 3]\ntemperature = 0.5\nmax_tokens = 32\n[[slices]]\ndataset = \"d\"\nlimit = 4\n",
      "t.toml", {});
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

int64_t total_rows(Store& s) { return static_cast<int64_t>(s.questions()->size()); }

TEST(StudyRunner, RunsEveryCellOnce) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  testing::FakeBackend fake(10);
  SweepOptions o;
  o.progress = ProgressStyle::kOff;
  auto sum = run_sweep(config(), **st, fake, o);
  ASSERT_TRUE(sum.is_ok()) << sum.status().message();
  EXPECT_EQ(sum->n_cells, 4);
  EXPECT_EQ(sum->n_expected, 16);  // 4 cells × limit 4
  EXPECT_EQ(sum->n_new, 16);
  EXPECT_EQ(total_rows(**st), 16);
  EXPECT_EQ(fake.calls, 16);
  // Nothing left: a rerun runs nothing.
  auto again = run_sweep(config(), **st, fake, o);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->n_before, 16);
  EXPECT_EQ(again->n_new, 0);
  EXPECT_EQ(fake.calls, 16);
  EXPECT_EQ((*st)->runs()->back().status, "completed");
}

TEST(StudyRunner, ResumesAfterAnInterruption) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  testing::FakeBackend fake(10);
  SweepOptions o;
  o.progress = ProgressStyle::kOff;
  o.interrupted = [&] { return fake.calls >= 6; };
  auto first = run_sweep(config(), **st, fake, o);
  ASSERT_TRUE(first.is_ok());
  EXPECT_TRUE(first->interrupted);
  EXPECT_EQ(first->n_new, 6);
  EXPECT_EQ((*st)->runs()->back().status, "interrupted");
  o.interrupted = {};
  auto second = run_sweep(config(), **st, fake, o);
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->n_before, 6);
  EXPECT_EQ(second->n_new, 10);
  EXPECT_EQ(total_rows(**st), 16);
  EXPECT_EQ(fake.calls, 16);  // no question ran twice
}

TEST(StudyRunner, BackendFailureStopsAndKeepsRows) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  testing::FakeBackend fake(10);
  fake.fail_at = 5;
  SweepOptions o;
  o.progress = ProgressStyle::kOff;
  auto sum = run_sweep(config(), **st, fake, o);
  ASSERT_FALSE(sum.is_ok());
  EXPECT_NE(sum.status().message().find("fake failure"), std::string::npos);
  EXPECT_NE(sum.status().message().find("question 'q1'"), std::string::npos) << sum.status().message();
  EXPECT_EQ(total_rows(**st), 5);
  EXPECT_EQ((*st)->runs()->back().status, "failed");
}

TEST(StudyRunner, ProgressLinesShowCountsAndEta) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  testing::FakeBackend fake(10);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  SweepOptions o;
  o.progress = ProgressStyle::kLines;
  o.progress_stream = f;
  ASSERT_TRUE(run_sweep(config(), **st, fake, o).is_ok());
  std::rewind(f);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  EXPECT_NE(text.find("sweep 't': 4 cells, 16 questions, 0 already in"), std::string::npos) << text;
  EXPECT_NE(text.find("cell 1/4: m d[0:4] unlimited N=1 t=1 (4 of 4 questions to run)"), std::string::npos) << text;
  EXPECT_NE(text.find("16/16 (100.0%)"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA 0s"), std::string::npos) << text;
  EXPECT_NE(text.find("completed: 16 new questions"), std::string::npos) << text;
}

TEST(StudyRunner, WeightsAndDurations) {
  Cell c;
  c.max_tokens = 256;
  EXPECT_DOUBLE_EQ(question_weight(c), 256);
  c.policy = Policy::kThinkBudget;
  c.budget = 64;
  c.answer_budget = 48;
  c.paths = 4;
  EXPECT_DOUBLE_EQ(question_weight(c), 112 * 1.75);
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(12), "12s");
}

}  // namespace
}  // namespace er::study
