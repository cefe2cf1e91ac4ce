// Summaries, Pareto frontiers and the planner on hand-made rows.
#include <gtest/gtest.h>

#include "core/stats.h"
#include "study/pareto.h"
#include "study/planner.h"

namespace er::study {
namespace {

ConfigSummary point(int64_t id, double acc, double mean_s, double p90_s, std::optional<double> energy = 1.0,
                    double tokens = 100) {
  ConfigSummary s;
  s.config_id = id;
  s.label = "c" + std::to_string(id);
  s.n = s.n_expected = 100;
  s.n_correct = static_cast<int64_t>(acc * 100 + 0.5);
  s.accuracy = acc;
  const stats::Proportion w = stats::wilson_interval(s.n_correct, s.n);
  s.acc_lo = w.lo;
  s.acc_hi = w.hi;
  s.mean_s = mean_s;
  s.p90_s = p90_s;
  s.energy_j = energy;
  s.tokens_mean = tokens;
  return s;
}

TEST(StudyPareto, WilsonMatchesTheFormula) {
  stats::Proportion w = stats::wilson_interval(13, 30);  // reference: the closed form evaluated in Python
  EXPECT_NEAR(w.lo, 0.2737748557646652, 1e-12);
  EXPECT_NEAR(w.hi, 0.6080269299918639, 1e-12);
  w = stats::wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(w.lo, 0.0);
  EXPECT_NEAR(w.hi, 0.2775327998628892, 1e-12);
  w = stats::wilson_interval(0, 0);
  EXPECT_EQ(w.lo, 0.0);
  EXPECT_EQ(w.hi, 1.0);
}

TEST(StudyPareto, FrontierOnHandMadePoints) {
  //            id  acc  mean  p90   energy   tokens
  std::vector<ConfigSummary> s = {
      point(1, 0.5, 1.0, 1.5, 10.0, 200),   // A
      point(2, 0.4, 2.0, 2.2, 5.0, 300),    // B: dominated by A on latency
      point(3, 0.7, 2.0, 2.5, std::nullopt, 150),  // C: no energy
      point(4, 0.7, 3.0, 3.1, 20.0, 400),   // D: as accurate as C, slower
      point(5, 0.3, 0.5, 0.6, 1.0, 50),     // E: fastest
      point(6, 0.9, 4.0, 9.0, 40.0, 900),   // F: best, slowest
  };
  auto ids = [&](const std::vector<size_t>& f) {
    std::vector<int64_t> o;
    for (size_t i : f) o.push_back(s[i].config_id);
    return o;
  };
  EXPECT_EQ(ids(pareto_frontier(s, Cost::kMeanLatency)), (std::vector<int64_t>{5, 1, 3, 6}));
  EXPECT_EQ(ids(pareto_frontier(s, Cost::kP90Latency)), (std::vector<int64_t>{5, 1, 3, 6}));
  // Energy: C has none, so D (0.7 at 20 J) is on it; B (0.4 at 5 J) is: cheaper than A, better than E.
  EXPECT_EQ(ids(pareto_frontier(s, Cost::kEnergy)), (std::vector<int64_t>{5, 2, 1, 4, 6}));
  EXPECT_EQ(ids(pareto_frontier(s, Cost::kTokens)), (std::vector<int64_t>{5, 3, 6}));
  // An exact duplicate of a frontier point is not listed twice.
  s.push_back(point(7, 0.5, 1.0, 1.5, 10.0, 200));
  EXPECT_EQ(ids(pareto_frontier(s, Cost::kMeanLatency)), (std::vector<int64_t>{5, 1, 3, 6}));
}

TEST(StudyPareto, SummaryFromRows) {
  ConfigRow c;
  c.id = 7;
  c.label = "x";
  c.n_questions = 6;
  std::vector<QuestionRow> rows;
  const double e2e[] = {1000, 2000, 3000, 4000, 10000};
  for (int i = 0; i < 5; ++i) {
    QuestionRow r;
    r.config_id = 7;
    r.q.question_id = "q" + std::to_string(i);
    r.q.correct = i < 2;
    r.q.e2e_ms = e2e[i];
    r.q.prefill_ms = 100;
    r.q.decode_ms = e2e[i] - 100;
    r.q.thinking_tokens = 10 * i;
    r.q.answer_tokens = 5;
    r.q.power = PowerRecord{"rapl", false, 1, 2, 3, 4};
    rows.push_back(r);
  }
  rows.push_back(QuestionRow{});  // another configuration: ignored
  rows.back().config_id = 8;
  const auto s = summarize({c}, rows);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].n, 5);
  EXPECT_EQ(s[0].n_expected, 6);
  EXPECT_EQ(s[0].n_correct, 2);
  EXPECT_DOUBLE_EQ(s[0].accuracy, 0.4);
  EXPECT_DOUBLE_EQ(s[0].mean_s, 4.0);
  EXPECT_DOUBLE_EQ(s[0].p50_s, 3.0);
  EXPECT_NEAR(s[0].p90_s, 7.6, 1e-12);  // rank 0.9·4 = 3.6 → 4 + 0.6·(10 − 4)
  EXPECT_DOUBLE_EQ(s[0].prefill_mean_s, 0.1);
  EXPECT_DOUBLE_EQ(s[0].tokens_mean, 25.0);  // thinking 0..40 → mean 20, + 5
  ASSERT_TRUE(s[0].energy_j.has_value());
  EXPECT_DOUBLE_EQ(*s[0].energy_j, 3.0);
  EXPECT_FALSE(s[0].energy_estimated);
  rows[0].q.power.reset();  // one question without energy → no energy for the configuration
  EXPECT_FALSE(summarize({c}, rows)[0].energy_j.has_value());
}

TEST(StudyPlanner, ChoosesTheMostAccurateThatMeetsTheDeadline) {
  std::vector<ConfigSummary> s = {
      point(1, 0.5, 1.0, 1.5), point(2, 0.4, 2.0, 2.2), point(3, 0.7, 2.0, 2.5),
      point(4, 0.7, 1.8, 2.4),  // as accurate as 3 and faster on both metrics
      point(5, 0.3, 0.5, 0.6), point(6, 0.9, 4.0, 9.0),
  };
  Plan p = make_plan(s, 2.5, Metric::kP90, 2);
  ASSERT_TRUE(p.choice.has_value());
  EXPECT_EQ(s[*p.choice].config_id, 4);
  ASSERT_EQ(p.runners_up.size(), 2u);
  EXPECT_EQ(s[p.runners_up[0]].config_id, 3);
  EXPECT_EQ(s[p.runners_up[1]].config_id, 1);
  ASSERT_EQ(p.excluded.size(), 1u);
  EXPECT_EQ(s[p.excluded[0]].config_id, 6);
  const std::string why = plan_text(s, p);
  EXPECT_NE(why.find("Chosen: c4"), std::string::npos) << why;
  EXPECT_NE(why.find("margin"), std::string::npos) << why;
  EXPECT_NE(why.find("Runner-up: c3"), std::string::npos) << why;
  EXPECT_NE(why.find("1 configuration excluded for exceeding 2.50 s; the most accurate of them, c6 (90.0%), needs 9.00 s"),
            std::string::npos)
      << why;

  // On the mean, c6 (4.0 s) meets a 4 s deadline.
  p = make_plan(s, 4.0, Metric::kMean, 3);
  EXPECT_EQ(s[*p.choice].config_id, 6);
  // p90 of c6 is 9 s: excluded at 4 s.
  p = make_plan(s, 4.0, Metric::kP90, 3);
  EXPECT_EQ(s[*p.choice].config_id, 4);
  // Nothing meets 0.1 s: no choice, and the fastest is named.
  p = make_plan(s, 0.1, Metric::kP90, 3);
  EXPECT_FALSE(p.choice.has_value());
  EXPECT_NE(plan_text(s, p).find("The fastest is c5"), std::string::npos) << plan_text(s, p);
  // JSON form.
  const auto j = plan_json(s, make_plan(s, 2.5, Metric::kP90, 2));
  EXPECT_EQ(j["choice"]["config_id"], 4);
  EXPECT_EQ(j["runners_up"].size(), 2u);
  EXPECT_EQ(j["metric"], "p90");
}

TEST(StudyPlanner, EqualAccuracyAndLatencyPrefersLessEnergy) {
  std::vector<ConfigSummary> s = {point(1, 0.6, 1.0, 1.0, 9.0), point(2, 0.6, 1.0, 1.0, 3.0)};
  const Plan p = make_plan(s, 2, Metric::kMean);
  EXPECT_EQ(s[*p.choice].config_id, 2);
}

}  // namespace
}  // namespace er::study
