// Generator tests on tiny fixtures: N greedy paths equal one path, seeds, stop reasons, bad options.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/generator.h"
#include "model/forward.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::engine {
namespace {

namespace fs = std::filesystem;

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<model::Context> ctx;
};

Loaded load(const std::string& name, int n_seq, int64_t n_ctx = 256) {
  Loaded l;
  const fs::path p = test::fixture_dir() / (name + ".gguf");
  auto m = model::Model::load(p.string());
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  if (!m.is_ok()) return l;
  l.model = std::move(m).value();
  model::ContextOptions co;
  co.n_ctx = n_ctx;
  co.n_seq = n_seq;
  co.max_batch = 64;
  auto c = model::Context::create(*l.model, co);
  EXPECT_TRUE(c.is_ok()) << c.status().message();
  if (c.is_ok()) l.ctx = std::move(c).value();
  return l;
}

std::vector<TokenId> prompt_of(const model::Model& m, const std::string& text) {
  return m.tokenizer().encode(text, false, true);
}

class NPaths : public ::testing::TestWithParam<std::string> {};

// With greedy sampling every one of N batched paths must give exactly the single-path tokens:
// batching changes which rows share a matmul, never a row's result.
TEST_P(NPaths, GreedyPathsEqualTheSinglePathRun) {
  Loaded one = load(GetParam(), 1);
  Loaded many = load(GetParam(), 8);
  ASSERT_TRUE(one.ctx && many.ctx);
  const std::vector<TokenId> prompt = prompt_of(*one.model, "The quick brown fox jumps over the lazy dog. Then it");
  GenerateOptions o;
  o.max_new_tokens = 24;
  o.ignore_eos = true;
  o.sampler.temperature = 0.0f;
  Generator g1(*one.ctx);
  auto single = g1.generate(prompt, o);
  ASSERT_TRUE(single.is_ok()) << single.status().message();
  for (int n : {2, 4, 8}) {
    o.n_paths = n;
    Generator gn(*many.ctx);
    auto multi = gn.generate(prompt, o);
    ASSERT_TRUE(multi.is_ok()) << multi.status().message();
    ASSERT_EQ(multi->paths.size(), static_cast<size_t>(n));
    for (int p = 0; p < n; ++p) {
      EXPECT_EQ(multi->paths[static_cast<size_t>(p)].tokens, single->paths[0].tokens) << "N=" << n << " path " << p;
    }
    EXPECT_EQ(multi->n_generated, n * 24);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NPaths,
                         ::testing::Values("tiny-llama-q8_0", "tiny-llama-q4_1", "tiny-qwen2-q4_k", "tiny-qwen3-f32"));

TEST(Generator, PathsWithSeedsDifferAndRepeat) {
  Loaded l = load("tiny-llama-f32", 4);
  ASSERT_TRUE(l.ctx);
  const std::vector<TokenId> prompt = prompt_of(*l.model, "Hello");
  GenerateOptions o;
  o.max_new_tokens = 16;
  o.ignore_eos = true;
  o.n_paths = 4;
  o.sampler.temperature = 1.0f;
  o.sampler.top_k = 0;
  o.sampler.top_p = 1.0f;
  o.sampler.min_p = 0.0f;
  o.sampler.seed = 123;
  Generator g(*l.ctx);
  auto a = g.generate(prompt, o);
  auto b = g.generate(prompt, o);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  for (int p = 0; p < 4; ++p) EXPECT_EQ(a->paths[static_cast<size_t>(p)].tokens, b->paths[static_cast<size_t>(p)].tokens);
  EXPECT_NE(a->paths[0].tokens, a->paths[1].tokens);  // seed + p differ
}

TEST(Generator, StopsAtMaxTokensAndContext) {
  Loaded l = load("tiny-llama-f32", 1, 32);
  ASSERT_TRUE(l.ctx);
  const std::vector<TokenId> prompt = prompt_of(*l.model, "one two three four five");
  GenerateOptions o;
  o.max_new_tokens = 5;
  o.ignore_eos = true;
  o.sampler.temperature = 0.0f;
  Generator g(*l.ctx);
  auto r = g.generate(prompt, o);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->paths[0].tokens.size(), 5u);
  EXPECT_EQ(r->paths[0].stop, StopReason::kMaxTokens);
  EXPECT_EQ(r->token_times_ms.size(), 5u);
  EXPECT_GE(r->ttft_ms, r->prefill_ms);
  EXPECT_GE(r->e2e_ms, r->ttft_ms);

  o.max_new_tokens = 1000;  // more than the 32-token context leaves
  auto full = g.generate(prompt, o);
  ASSERT_TRUE(full.is_ok());
  EXPECT_EQ(full->paths[0].stop, StopReason::kContextFull);
  EXPECT_EQ(static_cast<int64_t>(full->paths[0].tokens.size()) + full->n_prompt, 32);
}

TEST(Generator, CallerCanStopAPath) {
  Loaded l = load("tiny-llama-f32", 2);
  ASSERT_TRUE(l.ctx);
  GenerateOptions o;
  o.max_new_tokens = 20;
  o.ignore_eos = true;
  o.n_paths = 2;
  o.sampler.temperature = 0.0f;
  Generator g(*l.ctx);
  auto r = g.generate(prompt_of(*l.model, "Hi"), o, [](int path, TokenId) { return path != 1; });
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->paths[1].tokens.size(), 1u);
  EXPECT_EQ(r->paths[1].stop, StopReason::kStoppedByCaller);
  EXPECT_EQ(r->paths[0].tokens.size(), 20u);
}

TEST(Generator, BadOptionsAreErrors) {
  Loaded l = load("tiny-llama-f32", 2, 16);
  ASSERT_TRUE(l.ctx);
  Generator g(*l.ctx);
  GenerateOptions o;
  o.max_new_tokens = 0;
  EXPECT_FALSE(g.generate(prompt_of(*l.model, "Hi"), o).is_ok());
  o.max_new_tokens = 4;
  o.n_paths = 3;  // the context has 2 sequences
  EXPECT_FALSE(g.generate(prompt_of(*l.model, "Hi"), o).is_ok());
  o.n_paths = 1;
  EXPECT_FALSE(g.generate({}, o).is_ok());
  std::vector<TokenId> too_long(16, 1);
  const auto r = g.generate(too_long, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("context"), std::string::npos);
}

}  // namespace
}  // namespace er::engine
