// study's fit bridge: questions in the database → perfmodel's fit → the fits table, recovering
// known decode and prefill coefficients from exact synthetic measurements.
#include <gtest/gtest.h>

#include "perfmodel/builtin_profiles.h"
#include "perfmodel/device_profile.h"
#include "study/fit_bridge.h"
#include "study/projection.h"
#include "study/store.h"
#include "support/test_support.h"
#include "unit/study_fake.h"

namespace er::study {
namespace {

TEST(StudyFit, RecoversKnownCoefficients) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  Store& s = **st;
  const int64_t run = *s.begin_run("t", "t", "");
  Cell c;
  c.model = "models/tiny.gguf";  // fitted under the file stem "tiny"
  c.slice.dataset = "d";
  const int64_t id = *s.ensure_configuration(c, 40);
  // L_d(I, O) = n·O + m·(I·O + O(O−1)/2) with O = decode steps = tokens − 1;
  // L_p(I) = a·I² + b·I + c.
  const double m = 2e-6, n = 3e-3, a = 1e-7, b = 4e-4, cc = 0.01;
  for (int i = 0; i < 40; ++i) {
    QuestionRecord q;
    q.question_id = std::string("q").append(std::to_string(i));
    q.index = i;
    q.n_prompt = 50 + 13 * i;
    q.max_path_tokens = 20 + 7 * (i % 11) + i;
    const double I = static_cast<double>(q.n_prompt), O = static_cast<double>(q.max_path_tokens - 1);
    q.decode_ms = 1000 * (n * O + m * (I * O + O * (O - 1) / 2));
    q.prefill_ms = 1000 * (a * I * I + b * I + cc);
    q.e2e_ms = q.decode_ms + q.prefill_ms;
    q.answer_tokens = q.max_path_tokens;
    q.paths.push_back({0, "", false, 0, q.max_path_tokens, false, "eog"});
    ASSERT_TRUE(s.add_question(id, run, q).is_ok());
  }
  auto note = fit_and_store(s);
  ASSERT_TRUE(note.is_ok()) << note.status().message();
  EXPECT_NE(note->find("fit tiny (40 questions)"), std::string::npos) << *note;
  auto fits = s.fits();
  ASSERT_TRUE(fits.is_ok());
  ASSERT_EQ(fits->size(), 1u);
  EXPECT_EQ((*fits)[0].model, "tiny");
  const auto& co = (*fits)[0].json["coefficients"];
  ASSERT_TRUE(co.contains("decode")) << co.dump();
  EXPECT_NEAR(co["decode"]["m"].get<double>(), m, 1e-9);
  EXPECT_NEAR(co["decode"]["n"].get<double>(), n, 1e-7);
  ASSERT_TRUE(co.contains("prefill")) << co.dump();
  EXPECT_NEAR(co["prefill"]["a"].get<double>(), a, 1e-10);
  EXPECT_NEAR(co["prefill"]["b"].get<double>(), b, 1e-7);
  EXPECT_NEAR(co["prefill"]["c"].get<double>(), cc, 1e-5);
}

// Timings of the synthetic models for the bench grid (a fake backend).
class GridBackend : public testing::FakeBackend {
 public:
  static constexpr double kM = 2e-6, kN = 4e-3;  // decode: s per context token per step, s per step
  Result<BenchTiming> bench_point(const Cell&, int64_t n_prompt, int64_t n_gen) override {
    ++calls;
    const double I = static_cast<double>(n_prompt), O = static_cast<double>(n_gen - 1);
    return BenchTiming{1000 * (0.01 + 4e-4 * I), 1000 * (kN * O + kM * (I * O + O * (O - 1) / 2))};
  }
  int calls = 0;
};

TEST(StudyFit, BenchGridMeasuresTheContextsTheQuestionsDoNotReach) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  Store& s = **st;
  const int64_t run = *s.begin_run("t", "t", "");
  Cell c;
  c.model = "models/tiny.gguf";
  c.slice.dataset = "d";
  c.max_tokens = 160;
  c.threads = 2;
  const int64_t id = *s.ensure_configuration(c, 30);
  // Short answers over a narrow prompt range, timed with noise that makes time fall with the
  // context: OLS would give m < 0.
  for (int i = 0; i < 30; ++i) {
    QuestionRecord q;
    q.question_id = "q" + std::to_string(i);
    q.index = i;
    q.n_prompt = 100 + 5 * i;
    q.max_path_tokens = 20 + (i * 7) % 30;
    const double I = static_cast<double>(q.n_prompt), O = static_cast<double>(q.max_path_tokens - 1);
    q.decode_ms = 1000 * O * (0.006 - 1e-5 * (I + O / 2 - 140));
    q.prefill_ms = 1000 * (0.01 + 4e-4 * I);
    q.e2e_ms = q.decode_ms + q.prefill_ms;
    q.paths.push_back({0, "", false, 0, q.max_path_tokens, false, "eog"});
    ASSERT_TRUE(s.add_question(id, run, q).is_ok());
  }
  auto fit0 = fit_and_store(s);
  ASSERT_TRUE(fit0.is_ok());
  EXPECT_NE(fit0->find("(m held at 0)"), std::string::npos) << *fit0;

  // The questions decode up to 245 + 48 = 293 tokens of context; the cells decode up to
  // 245 + 159 = 404: the grid asks for the shortest and the longest prompt at max_tokens.
  auto plan = bench_grid_plan({c}, s);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].n_prompt, 100);
  EXPECT_EQ((*plan)[1].n_prompt, 245);
  EXPECT_EQ((*plan)[0].n_gen, 160);
  EXPECT_EQ((*plan)[0].cell.threads, 2);

  GridBackend backend;
  std::string note;
  std::vector<GridPoint> pts = run_bench_grid(*plan, backend, {}, nullptr, &note);
  EXPECT_EQ(note, "");
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[1].model, "tiny");
  EXPECT_EQ(pts[1].threads, 2);
  auto fit1 = fit_and_store(s, pts);
  ASSERT_TRUE(fit1.is_ok()) << fit1.status().message();
  EXPECT_NE(fit1->find("fit tiny (30 questions + 2 bench grid points)"), std::string::npos) << *fit1;
  auto fits = s.fits();
  ASSERT_TRUE(fits.is_ok());
  const auto& j = (*fits)[0].json;
  EXPECT_EQ(j["bench_grid"].size(), 2u) << j.dump();
  // m >= 0 always; the decode fit's range now reaches the contexts the cells decode.
  const auto& co = j["coefficients"];
  EXPECT_GE(co["decode"]["m"].get<double>(), 0.0);
  EXPECT_EQ(co["ranges"]["decode_latency"]["context"][1], 404) << co["ranges"].dump();
  EXPECT_EQ(co["ranges"]["decode_latency"]["n_points"], 32);
  // The grid points are always fitted, never held out.
  for (const auto& f : j["fits"]) {
    if (f["quantity"] != "decode_latency") continue;
    EXPECT_GT(f["n_test"].get<int>(), 0);
    for (const auto& h : f["held_out"]) EXPECT_NE(h["n_gen"], 159) << f.dump();
  }
  // Covered now (by the stored grid): a rerun measures nothing, and refitting keeps the grid.
  auto again = bench_grid_plan({c}, s);
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->empty());
  ASSERT_TRUE(fit_and_store(s).is_ok());
  EXPECT_EQ((*s.fits())[0].json["bench_grid"].size(), 2u);
  // A longer cap asks again.
  Cell longer = c;
  longer.max_tokens = 512;
  EXPECT_EQ(bench_grid_plan({longer}, s)->size(), 2u);

  // A backend without a bench grid: nothing measured, and the note says why.
  testing::FakeBackend plain;
  std::vector<GridPoint> none = run_bench_grid(*plan, plain, {}, nullptr, &note);
  EXPECT_TRUE(none.empty());
  EXPECT_NE(note.find("not available"), std::string::npos) << note;
  // Interrupted before the first point.
  none = run_bench_grid(*plan, backend, [] { return true; }, nullptr, &note);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(note, "bench grid interrupted");
}

TEST(StudyFit, EmptyDatabaseIsANoteNotAnError) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  auto note = fit_and_store(**st);
  ASSERT_TRUE(note.is_ok());
  EXPECT_EQ(*note, "fit: no questions to fit");
}

TEST(StudyProjection, WarnsWhenAFitIsUsedOutsideItsRange) {
  test::TempDir dir;
  std::string note;
  Result<perfmodel::DeviceProfile> dev = perfmodel::resolve_device("jetson-orin-nano-8gb", &note);
  ASSERT_TRUE(dev.is_ok());
  perfmodel::ModelCoefficients c;
  c.prefill = perfmodel::PrefillLatencyModel{0, 1e-3, 0.01, 1};
  c.decode = perfmodel::DecodeLatencyModel{1e-6, 0.01};
  c.ranges["prefill_latency"] = {10, {50, 300}, std::nullopt, std::nullopt};
  c.ranges["decode_latency"] = {10, {50, 300}, perfmodel::TokenRange{1, 100}, perfmodel::TokenRange{50, 400}};
  dev->models["tiny"] = c;
  const std::string path = (dir / "dev.json").string();
  ASSERT_TRUE(perfmodel::save_device_profile(*dev, path).is_ok());

  ConfigRow cfg;
  cfg.id = 1;
  cfg.cell.model = "tiny";
  cfg.cell.slice.dataset = "d";
  cfg.n_questions = 3;
  std::vector<QuestionRow> qs;
  for (const auto& [prompt, tokens] : std::vector<std::pair<int64_t, int64_t>>{{100, 51}, {200, 101}, {250, 401}}) {
    QuestionRow r;
    r.config_id = 1;
    r.q.question_id = "q" + std::to_string(prompt);
    r.q.n_prompt = prompt;
    r.q.max_path_tokens = tokens;  // decode steps = tokens - 1
    r.q.e2e_ms = 1000;
    qs.push_back(r);
  }
  std::vector<ConfigSummary> sums = summarize({cfg}, qs);
  std::vector<std::string> warnings;
  Result<std::string> proj = project_onto_device(path, {cfg}, qs, sums, &warnings);
  ASSERT_TRUE(proj.is_ok()) << proj.status().message();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "extrapolating: tiny decode_latency was fitted on context 50-400 tokens (prompt 50-300, output 1-100) "
            "(10 points); requested prompt 250, output 400 (context 250-650) (the farthest of 1 of 3 points outside) "
            "(profile 'jetson-orin-nano-8gb')");
}

}  // namespace
}  // namespace er::study
