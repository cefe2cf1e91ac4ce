// The study that decides (study/adaptive.h): durations, the around-base grid, the cost model and
// the plan fitted to a budget, the dominance rule, and the rounds (deterministic, resumable after
// a kill at any question, sharded without early stops).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "study/adaptive.h"
#include "study/variant.h"
#include "study_fake.h"
#include "support/test_support.h"

namespace er::study {
namespace {

SweepConfig parse(const std::string& toml) {
  auto r = parse_sweep_config(toml, "t.toml", {});
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : SweepConfig{};
}

TEST(StudyAdaptive, ParsesDurations) {
  EXPECT_DOUBLE_EQ(*parse_duration("90m"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("45m"), 2700);
  EXPECT_DOUBLE_EQ(*parse_duration("2h"), 7200);
  EXPECT_DOUBLE_EQ(*parse_duration("300s"), 300);
  EXPECT_DOUBLE_EQ(*parse_duration("1h30m"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5h"), 5400);
  for (const char* bad : {"", "90", "m", "45x", "-5m", "0s", "1..5h", "5m ", "abc"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << bad;
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos) << r.status().message();
  }
}

TEST(StudyAdaptive, RoundTargetsDoubleToTheCap) {
  EXPECT_EQ(round_targets(10, 100), (std::vector<int64_t>{10, 20, 40, 80, 100}));
  EXPECT_EQ(round_targets(4, 12), (std::vector<int64_t>{4, 8, 12}));
  EXPECT_EQ(round_targets(20, 5), (std::vector<int64_t>{5}));
  EXPECT_EQ(round_targets(0, 3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(round_targets(5, 0).empty());
}

const char* kLadder =
    "name = \"s\"\ngrid = \"around-base\"\nmodels = [\"small\", \"big\"]\n"
    "policies = [\"unlimited\", \"think-budget\", \"no-think\"]\nbudgets = [64, 128]\npaths = [1, 2, 4, 8]\n"
    "threads = [2]\nmax_tokens = 320\nanswer_budget = 48\ntemperature = 0.6\n[[slices]]\ndataset = \"d\"\nlimit = 100\n";

TEST(StudyAdaptive, AroundBaseVariesOneAxisAtATime) {
  const SweepConfig cfg = parse(kLadder);
  const auto cells = cfg.cells();
  // Per model: the base, 3 other thinking values (tb64 is the base's own budget? no: the base is
  // unlimited), 3 other path counts.
  ASSERT_EQ(cells.size(), 2u * (1 + 3 + 3));
  for (const Cell& c : cells) {
    const int away = (c.policy != Policy::kUnlimited) + (c.paths != 1);
    EXPECT_LE(away, 1) << c.label();
  }
  std::set<std::string> labels;
  for (const Cell& c : cells) labels.insert(c.label());
  EXPECT_TRUE(labels.count("big d[0:100] think-budget=128 N=1 t=2"));
  EXPECT_TRUE(labels.count("small d[0:100] unlimited N=8 t=2"));
  EXPECT_FALSE(labels.count("small d[0:100] no-think N=8 t=2"));
  // "cross" (the default) is every combination.
  std::string cross = kLadder;
  cross.replace(cross.find("around-base"), 11, "cross");
  EXPECT_EQ(parse(cross).cells().size(), 2u * 4 * 4);
  // A budgeted base: its first budget is the base.
  const SweepConfig b = parse(
      "grid = \"around-base\"\nmodels = \"m\"\npolicies = [\"think-budget\", \"no-think\"]\nbudgets = [64, 128]\n"
      "paths = [1, 4]\ntemperature = 0.6\n[[slices]]\ndataset = \"d\"\n");
  std::vector<std::string> got;
  for (const Cell& c : b.cells()) got.push_back(c.label());
  EXPECT_EQ(got, (std::vector<std::string>{"m d[0:] think-budget=64 N=1 t=1", "m d[0:] think-budget=64 N=4 t=1",
                                           "m d[0:] think-budget=128 N=1 t=1", "m d[0:] no-think N=1 t=1"}));
  auto bad = parse_sweep_config("grid = \"diagonal\"\nmodels = \"m\"\n[[slices]]\ndataset = \"d\"\n", "t.toml", {});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("t.toml:1: key 'grid'"), std::string::npos) << bad.status().message();
}

TEST(StudyAdaptive, AroundBaseCountsPrecisionAsAnAxis) {
  // quantizations: the first is the base precision; a variant varies nothing else.
  const SweepConfig cfg = parse(
      "grid = \"around-base\"\nmodels = \"m\"\nquantizations = [\"release\", \"q8_0\", \"f16\"]\n"
      "paths = [1, 4]\ntemperature = 0.6\n[[slices]]\ndataset = \"d\"\n");
  const auto cells = cfg.cells();
  ASSERT_EQ(cells.size(), 4u);  // release N=1 (base), release N=4, q8_0 N=1, f16 N=1
  int variants = 0;
  for (const Cell& c : cells) {
    if (!c.quantization.empty()) {
      ++variants;
      EXPECT_EQ(c.paths, 1) << c.label();
    }
  }
  EXPECT_EQ(variants, 2);
}

TEST(StudyAdaptive, TomlRoundTripsTheGrid) {
  SweepConfig cfg = parse(kLadder);
  std::string t = sweep_toml(cfg, "a header\nof two lines");
  EXPECT_EQ(t.rfind("# a header\n# of two lines\n", 0), 0u) << t;
  EXPECT_EQ(t.find("quantizations"), std::string::npos) << t;  // the release alone: no key
  SweepConfig back = parse(t);
  EXPECT_EQ(sweep_identity(back).id, sweep_identity(cfg).id) << t;
  // With a precision axis.
  cfg.quantizations = {"release", "f16"};
  t = sweep_toml(cfg, "");
  EXPECT_NE(t.find("quantizations = [\"release\", \"f16\"]"), std::string::npos) << t;
  back = parse(t);
  EXPECT_EQ(back.quantizations, cfg.quantizations);
  EXPECT_EQ(back.cells().size(), cfg.cells().size());
}

CostModel two_models() {
  CostModel c;
  c.tok_s = {{"small", 160}, {"big", 16}};
  return c;
}

TEST(StudyAdaptive, CostModelEstimatesSecondsPerQuestion) {
  const SweepConfig cfg = parse(kLadder);
  const CostModel cost = two_models();
  Cell c = cfg.cells().front();  // small, unlimited, N = 1, 2 threads
  c.model = "big";
  EXPECT_NEAR(cost.builtin_seconds(c), 200.0 / 160 + 320.0 / 16, 1e-9);
  c.paths = 8;
  EXPECT_NEAR(cost.builtin_seconds(c), 200.0 / 160 + 320.0 * 3.52 / 16, 1e-9);
  c.paths = 1;
  c.policy = Policy::kThinkBudget;
  c.budget = 64;
  EXPECT_NEAR(cost.builtin_seconds(c), 200.0 / 160 + (64.0 + 48) / 16, 1e-9);
  c.threads = 1;
  EXPECT_NEAR(cost.builtin_seconds(c), (200.0 / 160 + (64.0 + 48) / 16) / 0.55, 1e-9);
  // Measured: the cell's own mean, else the model's measured scale.
  CostModel m = cost;
  m.model_scale["big"] = 2;
  EXPECT_NEAR(m.question_seconds(c), 2 * cost.builtin_seconds(c), 1e-9);
  m.cell_s[c.hash()] = 3;
  EXPECT_DOUBLE_EQ(m.question_seconds(c), 3);
  // A bench grid point: its own prompt and tokens, scaled like the questions.
  c.threads = 2;
  c.paths = 4;
  EXPECT_NEAR(m.generation_seconds(c, 500, 100), 2 * (500.0 / 160 + 100 * 2.08 / 16), 1e-9);

  // A precision variant: the release's rate × its bits per weight / the variant's.
  Cell v = cfg.cells().front();
  v.model = "big";
  const double release_s = cost.builtin_seconds(v);
  v.quantization = "f16";
  EXPECT_NEAR(cost.builtin_seconds(v), release_s, 1e-9);  // release bits unknown: the release's rate
  CostModel q = cost;
  q.release_bits["big"] = 4.5;
  EXPECT_NEAR(q.builtin_seconds(v), (200.0 / 160 + 320.0 / 16) * 16 / 4.5, 1e-9);
  v.quantization = "q8_0";
  EXPECT_NEAR(q.builtin_seconds(v), (200.0 / 160 + 320.0 / 16) * 8.5 / 4.5, 1e-9);
  EXPECT_DOUBLE_EQ(*nominal_bits_per_weight("q4_0"), 4.5);
  EXPECT_DOUBLE_EQ(*nominal_bits_per_weight("Q6_K"), 6.5625);
  EXPECT_FALSE(nominal_bits_per_weight("release").has_value());

  EXPECT_DOUBLE_EQ(builtin_decode_rate("smollm2", 0).tok_s, 150);
  EXPECT_DOUBLE_EQ(builtin_decode_rate("/x/models/qwen2.5-coder-1.5b.gguf", 0).tok_s, 16);
  EXPECT_DOUBLE_EQ(builtin_decode_rate("qwen2.5-coder-0.5b", 0).tok_s, 32);
  EXPECT_NE(builtin_decode_rate("qwen2.5-coder-0.5b", 0).source.find("guess"), std::string::npos);
  EXPECT_NEAR(builtin_decode_rate("other", 980000000).tok_s, 15, 1e-9);
}

TEST(StudyAdaptive, PlanCountsRoundsAndStopsAtTheBudget) {
  const SweepConfig cfg = parse(
      "grid = \"around-base\"\nmodels = \"big\"\npolicies = \"unlimited\"\npaths = [1, 2]\nthreads = [2]\n"
      "max_tokens = 160\ntemperature = 0.6\n[[slices]]\ndataset = \"d\"\nlimit = 20\n");
  const CostModel cost = two_models();
  const double n1 = 200.0 / 160 + 10, n2 = 200.0 / 160 + 10 * 1.36;
  PlanEstimate e = estimate_plan(cfg, cost, 5, 0, {});
  EXPECT_EQ(e.cells, 2);
  EXPECT_EQ(e.first_round_questions, 10);
  EXPECT_NEAR(e.first_round_s, 5 * (n1 + n2), 1e-6);
  EXPECT_EQ(e.full_questions, 40);
  EXPECT_NEAR(e.full_s, 20 * (n1 + n2), 1e-6);
  EXPECT_EQ(e.planned_questions, 40);
  // A budget for the first round and 3 more questions (round 2 runs cell 1 first).
  e = estimate_plan(cfg, cost, 5, 5 * (n1 + n2) + 3 * n1 + 0.5, {});
  EXPECT_EQ(e.planned_questions, 13);
  // What is done is not planned again.
  const auto cells = cfg.cells();
  e = estimate_plan(cfg, cost, 5, 0, {{cells[0].hash(), 7}});
  EXPECT_EQ(e.first_round_questions, 5);
  EXPECT_EQ(e.full_questions, 33);
}

TEST(StudyAdaptive, FitToBudgetShrinksThenDropsTheCostliestValue) {
  const SweepConfig cfg = parse(kLadder);
  const CostModel cost = two_models();
  const double full_first = estimate_plan(cfg, cost, 10, 0, {}).first_round_s;
  // Plenty of time: nothing changes.
  BudgetFit f = fit_to_budget(cfg, cost, 10, 2 * full_first + 1, {});
  EXPECT_EQ(f.first, 10);
  EXPECT_TRUE(f.dropped.empty());
  EXPECT_EQ(f.cfg.cells().size(), cfg.cells().size());
  // Half of it: the first round shrinks to 5, everything kept.
  f = fit_to_budget(cfg, cost, 10, full_first + 1, {});
  EXPECT_EQ(f.first, 5);
  ASSERT_EQ(f.dropped.size(), 1u);
  EXPECT_EQ(f.cfg.cells().size(), cfg.cells().size());
  // Less: N = 8, the costliest value, goes first.
  f = fit_to_budget(cfg, cost, 10, full_first * 0.8, {});
  EXPECT_EQ(f.first, 5);
  EXPECT_EQ(f.cfg.paths, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_NE(f.dropped.back().find("N = 8"), std::string::npos);
  EXPECT_LE(estimate_plan(f.cfg, cost, f.first, 0, {}).first_round_s, full_first * 0.4);
  // ... unless its cells already have records: then the next costliest goes.
  std::map<std::string, int64_t> done;
  for (const Cell& c : cfg.cells())
    if (c.paths == 8) done[c.hash()] = 3;
  f = fit_to_budget(cfg, cost, 10, full_first * 0.8, done);
  EXPECT_TRUE(std::count(f.cfg.paths.begin(), f.cfg.paths.end(), 8));
  // Far too little: only the base of the cheapest model is left, with a first round of 2.
  f = fit_to_budget(cfg, cost, 10, 1, {});
  EXPECT_EQ(f.cfg.models, (std::vector<std::string>{"small"}));
  EXPECT_EQ(f.cfg.cells().size(), 1u);
  EXPECT_EQ(f.first, 2);
  // The fitted configuration is still a valid one.
  parse(sweep_toml(f.cfg, "fitted"));
}

CellStats st(const std::string& label, int64_t k, int64_t n, double mean_s) {
  CellStats s;
  s.hash = s.label = label;
  s.acc = stats::wilson_interval(k, n);
  s.mean_s = mean_s;
  return s;
}

TEST(StudyAdaptive, DominatedOnlyByACheaperCellWithConfidence) {
  const std::vector<CellStats> cells = {
      st("good-fast", 9, 10, 1.0),   // 0
      st("bad-slow", 1, 10, 2.0),    // 1: under 0's interval and slower → dominated by 0
      st("bad-faster", 1, 10, 0.5),  // 2: cheaper than 0 → not dominated
      st("mid-slow", 5, 10, 2.0),    // 3: intervals overlap → not dominated
      st("empty", 0, 0, 9.0),        // 4: no questions
      st("bad-slowest", 0, 10, 3.0), // 5: dominated by 0 (the first in order)
  };
  EXPECT_EQ(dominated_by(cells, 1), std::optional<size_t>(0));
  EXPECT_EQ(dominated_by(cells, 2), std::nullopt);
  EXPECT_EQ(dominated_by(cells, 3), std::nullopt);
  EXPECT_EQ(dominated_by(cells, 4), std::nullopt);
  EXPECT_EQ(dominated_by(cells, 5), std::optional<size_t>(0));
  EXPECT_EQ(dominated_by(cells, 0), std::nullopt);
  // Equal latency is not cheaper.
  EXPECT_EQ(dominated_by({st("a", 10, 10, 1.0), st("b", 0, 10, 1.0)}, 1), std::nullopt);
}

// N = 3 paths are wrong (and slowest) from question `wrong_from` on; one path always right.
class DecidingBackend : public testing::FakeBackend {
 public:
  using FakeBackend::FakeBackend;
  int64_t wrong_from = 0;
  Result<QuestionRecord> run(const Cell& cell, const QuestionRef& q) override {
    ER_ASSIGN_OR_RETURN(QuestionRecord r, FakeBackend::run(cell, q));
    r.correct = cell.paths == 1 || q.index < wrong_from;
    ran.insert(cell.label() + "#" + q.id);
    return r;
  }
  std::multiset<std::string> ran;
};

SweepConfig rounds_config(int limit = 16) {
  return parse(
      "name = \"r\"\ngrid = \"around-base\"\nmodels = \"m\"\npolicies = [\"unlimited\", \"think-budget\"]\n"
      "budgets = [8]\npaths = [1, 3]\ntemperature = 0.5\nmax_tokens = 32\n[[slices]]\ndataset = \"d\"\nlimit = " +
      std::to_string(limit) + "\n");
}

// (cell label, question id) of every stored record.
std::set<std::string> stored(Store& s) {
  std::map<int64_t, std::string> label;
  std::set<std::string> out;
  auto configs = s.configurations();
  auto questions = s.questions();
  if (!configs.is_ok() || !questions.is_ok()) {
    ADD_FAILURE() << "cannot read the database";
    return out;
  }
  const std::vector<ConfigRow> cs = std::move(configs).value();
  const std::vector<QuestionRow> qs = std::move(questions).value();
  for (const ConfigRow& c : cs) label[c.id] = c.label;
  for (const QuestionRow& q : qs) EXPECT_TRUE(out.insert(label[q.config_id] + "#" + q.q.question_id).second);
  return out;
}

AdaptiveOptions quiet(int64_t first = 4) {
  AdaptiveOptions o;
  o.sweep.progress = ProgressStyle::kOff;
  o.decisions = nullptr;
  o.first = first;
  return o;
}

TEST(StudyAdaptive, DominatedCellStopsTheRestReachTheCap) {
  test::TempDir dir;
  auto store = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(store.is_ok());
  DecidingBackend fake(20);
  auto sum = run_adaptive(rounds_config(), **store, fake, quiet());
  ASSERT_TRUE(sum.is_ok()) << sum.status().message();
  EXPECT_EQ(sum->targets, (std::vector<int64_t>{4, 8, 16}));
  EXPECT_EQ(sum->rounds_done, 3);
  ASSERT_EQ(sum->decisions.size(), 1u);
  EXPECT_EQ(sum->decisions[0].label, "m d[0:16] unlimited N=3 t=1");
  EXPECT_EQ(sum->decisions[0].after, 4);
  EXPECT_EQ(sum->decisions[0].by.label, "m d[0:16] unlimited N=1 t=1");
  EXPECT_EQ(sum->done, (std::vector<int64_t>{16, 4, 16}));  // grid order: unlimited N=1, N=3, think-budget
  EXPECT_EQ(fake.calls, 16 + 4 + 16);
  EXPECT_FALSE(sum->out_of_budget);
  // Stored for readers, and the table says it.
  auto dec = read_decisions(**store);
  ASSERT_TRUE(dec.is_ok());
  ASSERT_EQ(dec->size(), 1u);
  EXPECT_EQ((*dec)[0].label, sum->decisions[0].label);
  EXPECT_EQ((*dec)[0].by.acc.k, 4);
  const std::string table = adaptive_table(*sum);
  EXPECT_NE(table.find("dominated by m d[0:16] unlimited N=1 t=1 after 4"), std::string::npos) << table;
  // A rerun runs nothing and decides the same.
  DecidingBackend again(20);
  auto re = run_adaptive(rounds_config(), **store, again, quiet());
  ASSERT_TRUE(re.is_ok());
  EXPECT_EQ(again.calls, 0);
  EXPECT_EQ(re->decisions.size(), 1u);
  EXPECT_EQ(re->running, sum->running);
}

TEST(StudyAdaptive, KillAtAnyQuestionThenRerunRepeatsNothing) {
  test::TempDir dir;
  std::set<std::string> reference;
  {
    auto store = Store::open((dir / "ref.db").string(), Store::Mode::kReadWrite);
    ASSERT_TRUE(store.is_ok());
    DecidingBackend fake(20);
    ASSERT_TRUE(run_adaptive(rounds_config(), **store, fake, quiet()).is_ok());
    reference = stored(**store);
    ASSERT_EQ(reference.size(), 36u);
  }
  for (int64_t k : {1, 3, 4, 11, 12, 13, 20, 35}) {
    const std::string db = (dir / ("k" + std::to_string(k) + ".db")).string();
    std::multiset<std::string> ran;
    {
      auto store = Store::open(db, Store::Mode::kReadWrite);
      ASSERT_TRUE(store.is_ok());
      DecidingBackend fake(20);
      AdaptiveOptions o = quiet();
      o.sweep.interrupted = [&] { return fake.calls >= k; };
      auto s = run_adaptive(rounds_config(), **store, fake, o);
      ASSERT_TRUE(s.is_ok()) << s.status().message();
      EXPECT_TRUE(s->interrupted) << k;
      EXPECT_EQ(fake.calls, k);
      ran = fake.ran;
    }
    auto store = Store::open(db, Store::Mode::kReadWrite);  // a new process
    ASSERT_TRUE(store.is_ok());
    DecidingBackend fake(20);
    auto s = run_adaptive(rounds_config(), **store, fake, quiet());
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_FALSE(s->interrupted);
    EXPECT_EQ(k + fake.calls, 36) << "kill after " << k;
    for (const std::string& q : fake.ran) EXPECT_FALSE(ran.count(q)) << "repeated " << q << " (kill after " << k << ")";
    EXPECT_EQ(stored(**store), reference) << "kill after " << k;
    EXPECT_EQ(s->decisions.size(), 1u);
  }
}

// N = 3 is right on its first 4 questions, then wrong: not dominated at 4 or 8, dominated at 16
// (4 of 16 against 16 of 16). A rerun after a kill inside round 3 must decide round 3 on the
// 8-question prefix, whatever else is stored, or N = 3 would stop at 8 instead of 16.
TEST(StudyAdaptive, DecisionsUseOnlyThePreviousRoundsPrefix) {
  test::TempDir dir;
  std::set<std::string> reference;
  int64_t total = 0;
  {
    auto store = Store::open((dir / "ref.db").string(), Store::Mode::kReadWrite);
    ASSERT_TRUE(store.is_ok());
    DecidingBackend fake(40);
    fake.wrong_from = 4;
    auto s = run_adaptive(rounds_config(32), **store, fake, quiet());
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    ASSERT_EQ(s->decisions.size(), 1u);
    EXPECT_EQ(s->decisions[0].after, 16);
    EXPECT_EQ(s->done, (std::vector<int64_t>{32, 16, 32}));
    reference = stored(**store);
    total = fake.calls;
  }
  // Round 3 (to 16) starts after 3 × 8 = 24 questions; the base runs its 8 first, then N = 3:
  // killed after 4 or 7 of N = 3's round-3 questions.
  for (int64_t k : {24 + 8 + 4, 24 + 8 + 7}) {
    const std::string db = (dir / ("k" + std::to_string(k) + ".db")).string();
    int64_t first_calls = 0;
    {
      auto store = Store::open(db, Store::Mode::kReadWrite);
      ASSERT_TRUE(store.is_ok());
      DecidingBackend fake(40);
      fake.wrong_from = 4;
      AdaptiveOptions o = quiet();
      o.sweep.interrupted = [&] { return fake.calls >= k; };
      ASSERT_TRUE(run_adaptive(rounds_config(32), **store, fake, o).is_ok());
      first_calls = fake.calls;
    }
    auto store = Store::open(db, Store::Mode::kReadWrite);
    ASSERT_TRUE(store.is_ok());
    DecidingBackend fake(40);
    fake.wrong_from = 4;
    auto s = run_adaptive(rounds_config(32), **store, fake, quiet());
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(first_calls + fake.calls, total) << k;
    EXPECT_EQ(stored(**store), reference) << k;
    ASSERT_EQ(s->decisions.size(), 1u);
    EXPECT_EQ(s->decisions[0].after, 16);
  }
}

TEST(StudyAdaptive, BudgetStopsTheRoundsAndSaysWhatIsLeft) {
  test::TempDir dir;
  auto store = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(store.is_ok());
  DecidingBackend fake(20, 30);  // 30 ms per question
  AdaptiveOptions o = quiet();
  o.budget_s = 0.2;
  auto s = run_adaptive(rounds_config(), **store, fake, o);
  ASSERT_TRUE(s.is_ok());
  EXPECT_TRUE(s->out_of_budget);
  EXPECT_FALSE(s->interrupted);
  EXPECT_LT(fake.calls, 36);
  EXPECT_GE(fake.calls, 3);
  EXPECT_NE(adaptive_table(*s).find("left undone"), std::string::npos) << adaptive_table(*s);
  // Continued without a budget: the same final state as one uninterrupted run.
  DecidingBackend more(20);
  auto t = run_adaptive(rounds_config(), **store, more, quiet());
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(fake.calls + more.calls, 36);
  EXPECT_EQ(t->done, (std::vector<int64_t>{16, 4, 16}));
}

TEST(StudyAdaptive, ShardsRunEveryCellToTheCapWithoutDecisions) {
  test::TempDir dir;
  std::set<std::string> all;
  int64_t calls = 0;
  for (int i = 0; i < 2; ++i) {
    auto store = Store::open((dir / ("s" + std::to_string(i) + ".db")).string(), Store::Mode::kReadWrite);
    ASSERT_TRUE(store.is_ok());
    DecidingBackend fake(20);
    AdaptiveOptions o = quiet();
    o.sweep.shard = Shard{i, 2, ""};
    auto s = run_adaptive(rounds_config(), **store, fake, o);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_TRUE(s->decisions.empty());
    EXPECT_EQ(s->rounds_done, 3);
    calls += fake.calls;
    for (const std::string& q : stored(**store)) EXPECT_TRUE(all.insert(q).second) << q;
    EXPECT_TRUE(read_decisions(**store)->empty());
    // Rerun: nothing.
    DecidingBackend again(20);
    ASSERT_TRUE(run_adaptive(rounds_config(), **store, again, o).is_ok());
    EXPECT_EQ(again.calls, 0);
  }
  EXPECT_EQ(calls, 48);  // 3 cells × 16, split between the shards
  EXPECT_EQ(all.size(), 48u);
}

}  // namespace
}  // namespace er::study
