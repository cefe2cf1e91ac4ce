// study's fit bridge: questions in the database → perfmodel's fit → the fits table, recovering
// known decode and prefill coefficients from exact synthetic measurements.
#include <gtest/gtest.h>

#include "perfmodel/builtin_profiles.h"
#include "perfmodel/device_profile.h"
#include "study/fit_bridge.h"
#include "study/projection.h"
#include "study/store.h"
#include "support/test_support.h"

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
