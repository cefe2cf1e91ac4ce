// The opt-in per-step timer of the forward pass (EDGEREASON_PROFILE_STEPS, model/forward.h): off by
// default, counts passes and tokens when on, attributes time to the matmul and attention steps,
// and leaves the logits unchanged. Also: a second Context in the same process computes the same
// logits as the first (one reused the freed, dirty memory of the other).
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::model {
namespace {

struct RunResult {
  std::vector<float> logits;
  StepProfile profile;
  bool profiled = false;
};

RunResult run(const Model& m, const char* env) {
  if (env == nullptr) {
    unsetenv("EDGEREASON_PROFILE_STEPS");
  } else {
    setenv("EDGEREASON_PROFILE_STEPS", env, 1);
  }
  ContextOptions o;
  o.n_ctx = 32;
  o.max_logits = 8;
  auto ctx = Context::create(m, o);
  unsetenv("EDGEREASON_PROFILE_STEPS");
  EXPECT_TRUE(ctx.is_ok());
  RunResult r;
  std::vector<BatchEntry> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({(i * 31 + 7) % 200, i, 0, i == 4});
  EXPECT_TRUE((*ctx)->eval(batch).is_ok());
  const int64_t n_vocab = m.hparams().n_vocab;
  r.logits.assign((*ctx)->logits(0), (*ctx)->logits(0) + n_vocab);
  const BatchEntry one{9, 5, 0, true};
  EXPECT_TRUE((*ctx)->eval(std::span<const BatchEntry>(&one, 1)).is_ok());
  r.logits.insert(r.logits.end(), (*ctx)->logits(0), (*ctx)->logits(0) + n_vocab);
  if (const StepProfile* p = (*ctx)->step_profile()) {
    r.profile = *p;
    r.profiled = true;
  }
  return r;
}

TEST(StepProfile, OffByDefaultAndWithZero) {
  auto m = Model::load((test::fixture_dir() / "tiny-llama-q4_1.gguf").string());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_FALSE(run(**m, nullptr).profiled);
  EXPECT_FALSE(run(**m, "0").profiled);
  EXPECT_FALSE(run(**m, "").profiled);
}

TEST(StepProfile, CountsPassesAndTimesStepsWithoutChangingLogits) {
  auto m = Model::load((test::fixture_dir() / "tiny-llama-q4_1.gguf").string());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  const RunResult plain = run(**m, nullptr), prof = run(**m, "1");
  ASSERT_TRUE(prof.profiled);
  EXPECT_EQ(prof.profile.evals, 2);
  EXPECT_EQ(prof.profile.tokens, 6);
  for (int i = 0; i < static_cast<int>(Step::kCount); ++i) EXPECT_GE(prof.profile.seconds[i], 0.0) << step_name(static_cast<Step>(i));
  for (Step s : {Step::kQkv, Step::kAttention, Step::kWo, Step::kGateUp, Step::kDown, Step::kOutput}) {
    EXPECT_GT(prof.profile.seconds[static_cast<int>(s)], 0.0) << step_name(s);
  }
  EXPECT_TRUE(test::same_bits(plain.logits, prof.logits));
}

TEST(StepProfile, SecondContextComputesTheSameLogits) {
  auto m = Model::load((test::fixture_dir() / "tiny-llama-q4_1.gguf").string());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  const RunResult a = run(**m, nullptr), b = run(**m, nullptr), c = run(**m, nullptr);
  EXPECT_TRUE(test::same_bits(a.logits, b.logits));
  EXPECT_TRUE(test::same_bits(a.logits, c.logits));
}

TEST(StepProfile, StepNamesAreDistinct) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(Step::kCount); ++i) names.insert(step_name(static_cast<Step>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(Step::kCount));
}

}  // namespace
}  // namespace er::model
