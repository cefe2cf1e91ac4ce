// study's fit bridge: questions in the database → perfmodel's fit → the fits table, recovering
// known decode and prefill coefficients from exact synthetic measurements.
#include <gtest/gtest.h>

#include "study/fit_bridge.h"
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

}  // namespace
}  // namespace er::study
