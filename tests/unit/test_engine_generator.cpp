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

namespace er::engine {
namespace {

// A controller that forces `force` into every path after its `at`-th sampled token.
class ForceAt final : public PathController {
 public:
  ForceAt(int64_t at, std::vector<TokenId> force) : at_(at), force_(std::move(force)) {}
  PathAction on_token(int path, TokenId, float, bool) override {
    PathAction a;
    if (++seen_[static_cast<size_t>(path)] == at_) a.force = force_;
    return a;
  }
  std::vector<int64_t> seen_ = std::vector<int64_t>(8, 0);

 private:
  int64_t at_;
  std::vector<TokenId> force_;
};

// Forcing tokens into a path is the same as having had them in the prompt: greedy decoding after
// them continues exactly as a fresh run on prompt + generated + forced (for every batched path).
TEST(GeneratorController, ForcedTokensActLikeAPromptExtension) {
  Loaded many = load("tiny-qwen2-q4_k", 4);
  Loaded one = load("tiny-qwen2-q4_k", 1);
  ASSERT_TRUE(many.ctx && one.ctx);
  const std::vector<TokenId> prompt = prompt_of(*many.model, "Counting: one two three");
  const std::vector<TokenId> forced = prompt_of(*many.model, " and then, finally,");
  ASSERT_GE(forced.size(), 3u);
  GenerateOptions o;
  o.max_new_tokens = 20;
  o.ignore_eos = true;
  o.n_paths = 3;
  o.sampler.temperature = 0;
  ForceAt ctl(5, forced);
  Generator g(*many.ctx);
  auto r = g.generate(prompt, o, {}, &ctl);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const PathResult& p0 = r->paths[0];
  ASSERT_EQ(p0.tokens.size(), 20u);
  for (size_t i = 0; i < forced.size(); ++i) {
    EXPECT_EQ(p0.tokens[5 + i], forced[i]);
    EXPECT_EQ(p0.forced[5 + i], 1);
  }
  EXPECT_EQ(p0.forced[4], 0);
  EXPECT_EQ(r->n_forced, 3 * static_cast<int64_t>(forced.size()));
  // Reference: a fresh run whose prompt holds the first 5 + forced tokens.
  std::vector<TokenId> longer = prompt;
  longer.insert(longer.end(), p0.tokens.begin(), p0.tokens.begin() + 5 + static_cast<int64_t>(forced.size()));
  GenerateOptions o1 = o;
  o1.n_paths = 1;
  o1.max_new_tokens = 20 - 5 - static_cast<int64_t>(forced.size());
  Generator g1(*one.ctx);
  auto ref = g1.generate(longer, o1);
  ASSERT_TRUE(ref.is_ok());
  const std::vector<TokenId> tail(p0.tokens.begin() + 5 + static_cast<int64_t>(forced.size()), p0.tokens.end());
  EXPECT_EQ(tail, ref->paths[0].tokens);
  for (int p = 1; p < 3; ++p) EXPECT_EQ(r->paths[static_cast<size_t>(p)].tokens, p0.tokens);
}

// Taking tokens back and re-feeding: with greedy sampling and no ban the model writes the same
// tokens again, so the output equals the plain run; with the token banned it never appears.
class RollbackOnce final : public PathController {
 public:
  explicit RollbackOnce(bool ban) : ban_(ban) {}
  PathAction on_token(int, TokenId t, float, bool) override {
    PathAction a;
    if (++n_ == 6 && !done_) {
      done_ = true;
      a.rollback = 3;  // the token just sampled and the two before it
      victim_ = t;
    }
    return a;
  }
  std::span<const TokenId> banned(int) override {
    if (ban_ && done_ && !used_) {
      used_ = true;
      return std::span<const TokenId>(&third_, 1);
    }
    return {};
  }
  TokenId victim_ = -1;
  TokenId third_ = -1;  // the first token taken back, set by the test
  bool ban_;
  bool done_ = false, used_ = false;
  int n_ = 0;
};

TEST(GeneratorController, RollbackRefeedsAndBansApply) {
  Loaded l = load("tiny-llama-q8_0", 1);
  ASSERT_TRUE(l.ctx);
  const std::vector<TokenId> prompt = prompt_of(*l.model, "The quick brown fox");
  GenerateOptions o;
  o.max_new_tokens = 16;
  o.ignore_eos = true;
  o.sampler.temperature = 0;
  Generator g(*l.ctx);
  auto plain = g.generate(prompt, o);
  ASSERT_TRUE(plain.is_ok());
  RollbackOnce same(false);
  auto r = g.generate(prompt, o, {}, &same);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->paths[0].tokens, plain->paths[0].tokens);
  EXPECT_EQ(r->paths[0].n_rolled_back, 3);
  // Ban the first token taken back (plain token index 3) at its re-sample.
  RollbackOnce banned(true);
  banned.third_ = plain->paths[0].tokens[3];
  auto b = g.generate(prompt, o, {}, &banned);
  ASSERT_TRUE(b.is_ok());
  ASSERT_EQ(b->paths[0].tokens.size(), 16u);
  EXPECT_NE(b->paths[0].tokens[3], plain->paths[0].tokens[3]);
  const std::vector<TokenId> head(b->paths[0].tokens.begin(), b->paths[0].tokens.begin() + 3);
  EXPECT_EQ(head, std::vector<TokenId>(plain->paths[0].tokens.begin(), plain->paths[0].tokens.begin() + 3));
}

class StopPath1 final : public PathController {
 public:
  PathAction on_token(int, TokenId, float, bool) override { return {}; }
  PathAction before_step(int path) override {
    PathAction a;
    a.stop = path == 1 && ++steps_ > 3;
    return a;
  }
  void on_path_end(int path, StopReason r) override { ended.emplace_back(path, r); }
  std::vector<std::pair<int, StopReason>> ended;
  int steps_ = 0;
};

TEST(GeneratorController, BeforeStepStopsOnePath) {
  Loaded l = load("tiny-llama-f32", 2);
  ASSERT_TRUE(l.ctx);
  GenerateOptions o;
  o.max_new_tokens = 10;
  o.ignore_eos = true;
  o.n_paths = 2;
  o.sampler.temperature = 0;
  StopPath1 ctl;
  Generator g(*l.ctx);
  auto r = g.generate(prompt_of(*l.model, "Hi"), o, {}, &ctl);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->paths[1].stop, StopReason::kStoppedByCaller);
  EXPECT_EQ(r->paths[1].tokens.size(), 4u);
  EXPECT_EQ(r->paths[0].tokens.size(), 10u);
  ASSERT_EQ(ctl.ended.size(), 2u);
  EXPECT_EQ(ctl.ended[0], std::make_pair(1, StopReason::kStoppedByCaller));
  EXPECT_EQ(ctl.ended[1], std::make_pair(0, StopReason::kMaxTokens));
}

}  // namespace
}  // namespace er::engine
