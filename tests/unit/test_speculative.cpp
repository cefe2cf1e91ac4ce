// Speculative decoding (engine/speculative.h, the Generator's verify pass): exact. Greedy output is
// token-identical to plain decoding with n-gram lookup and with a draft model, on one path and N,
// under a thinking budget (forced tokens); a drafted row has plain decoding's logits bit for bit;
// the sampler's draft acceptance keeps the target distribution (chi-square); the proposers and the
// vocabulary check.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/speculative.h"
#include "model/forward.h"
#include "model/model_registry.h"
#include "sampling/sampler.h"
#include "session/session.h"
#include "session_requests.h"
#include "support/test_support.h"

namespace er::engine {
namespace {

// ---- the proposers ----

TEST(NgramDrafter, ProposesWhatFollowedTheLongestRecentMatch) {
  NgramDrafter d;  // not told of any step: the fixed proposal (matches of 2 to 4 tokens)
  ASSERT_TRUE(d.begin({}, 1).is_ok());
  std::vector<int32_t> out;
  // ... 5 6 7 8 9 ... 5 6 7 -> 8 9 (the 3-gram 5 6 7 occurred before, followed by 8 9 1).
  const std::vector<int32_t> h = {1, 5, 6, 7, 8, 9, 1, 2, 3, 5, 6, 7};
  ASSERT_TRUE(d.propose(0, h, 2, out).is_ok());
  EXPECT_EQ(out, (std::vector<int32_t>{8, 9}));
  ASSERT_TRUE(d.propose(0, h, 10, out).is_ok());
  EXPECT_EQ(out, (std::vector<int32_t>{8, 9, 1, 2, 3, 5, 6, 7}));  // up to the end of the history
  // The most recent occurrence wins: 1 2 ... 1 2 4 ... 1 2 -> 4.
  ASSERT_TRUE(d.propose(0, std::vector<int32_t>{1, 2, 3, 1, 2, 4, 9, 1, 2}, 1, out).is_ok());
  EXPECT_EQ(out, (std::vector<int32_t>{4}));
  // No repeated 2-gram: nothing.
  ASSERT_TRUE(d.propose(0, std::vector<int32_t>{1, 2, 3, 4, 5}, 3, out).is_ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(d.propose(0, std::vector<int32_t>{7}, 3, out).is_ok());
  EXPECT_TRUE(out.empty());
}

// Steps reported as a greedy Generator reports them: `rows` rows (one path, rows - 1 drafts
// of which `accepted` were kept) taking `ms`.
void report(NgramDrafter& d, int64_t rows, double ms, int accepted = 0) {
  const int path = 0, drafted = static_cast<int>(rows - 1);
  d.observe({rows, ms, std::span(&path, rows > 1 ? 1 : 0), std::span(&drafted, rows > 1 ? 1 : 0),
             std::span(&accepted, rows > 1 ? 1 : 0)});
}

TEST(NgramDrafter, AdaptsTheDraftLengthToWhatRowsCost) {
  // A history whose last token (9) occurred once before, followed by 1 2 3 4: a 1-token match.
  const std::vector<int32_t> h = {5, 9, 1, 2, 3, 4, 7, 9};
  std::vector<int32_t> out;
  {
    NgramDrafter d;
    ASSERT_TRUE(d.begin({}, 1).is_ok());
    ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
    EXPECT_TRUE(out.empty()) << "before any step: matches of at least 2 tokens only";
    // Rows nearly free (memory-bound decode) and drafts after 1-token matches always kept: drafts
    // as long as allowed.
    for (int i = 0; i < 40; ++i) report(d, 1, 10.0);
    for (int64_t r = 2; r <= 5; ++r) report(d, r, 10.0 + 0.1 * static_cast<double>(r));
    EXPECT_TRUE(d.adaptive());
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
      report(d, 1 + static_cast<int64_t>(out.size()), 10.0 + 0.1 * static_cast<double>(out.size()),
             static_cast<int>(out.size()));
    }
    EXPECT_GT(d.keep_rate(1, 0), 0.85);
    ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
    EXPECT_EQ(out, (std::vector<int32_t>{1, 2, 3, 4}));
    ASSERT_TRUE(d.propose(0, h, 2, out).is_ok());
    EXPECT_EQ(out, (std::vector<int32_t>{1, 2})) << "never more than k";
    // A new generation that reports no steps (sampled) gets the fixed rule whatever was learned.
    ASSERT_TRUE(d.begin({}, 1).is_ok());
    EXPECT_FALSE(d.adaptive());
    ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
    EXPECT_TRUE(out.empty());
    report(d, 1, 10.0);
    ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
    EXPECT_EQ(out.size(), 4u) << "a greedy generation adapts again from its first step, with what it learned";
  }
  {
    // Every extra row costs a whole step (compute-bound): no draft is worth its row.
    NgramDrafter d;
    ASSERT_TRUE(d.begin({}, 1).is_ok());
    for (int i = 0; i < 10; ++i) report(d, 1, 10.0);
    for (int64_t r = 2; r <= 5; ++r) report(d, r, 10.0 * static_cast<double>(r));
    EXPECT_NEAR(d.step_ms(3), 30.0, 1e-9);
    EXPECT_NEAR(d.step_ms(7), 70.0, 1e-9) << "extrapolated along the last measured slope";
    ASSERT_TRUE(d.propose(0, h, 4, out).is_ok());
    EXPECT_TRUE(out.empty());
    // A draft that is rejected at once teaches its match length a lower keep rate.
    const double before = d.keep_rate(4, 0);
    ASSERT_TRUE(d.propose(0, std::vector<int32_t>{1, 2, 3, 4, 8, 1, 2, 3, 4}, 4, out).is_ok());
    report(d, 1 + static_cast<int64_t>(out.size()), 10.0, 0);
    if (!out.empty()) {
      EXPECT_LT(d.keep_rate(4, 0), before);
    }
  }
}

std::filesystem::path fixture(const char* name) { return test::fixture_dir() / (std::string(name) + ".gguf"); }

TEST(DraftVocabulary, TheSameTokenizerPassesAnotherIsRefused) {
  // The fixtures share SmolLM2's vocabulary; the shipped models have two.
  const auto a = fixture("tiny-llama-f32"), b = fixture("tiny-llama-q4_0");
  if (!std::filesystem::exists(a)) GTEST_SKIP() << "fixtures not generated";
  auto ma = model::Model::load(a.string());
  auto mb = model::Model::load(b.string());
  ASSERT_TRUE(ma.is_ok() && mb.is_ok());
  EXPECT_TRUE(check_draft_vocabulary(**ma, **mb, "b").is_ok());
  if (std::getenv("EDGEREASON_EMULATED") != nullptr) GTEST_SKIP() << "loading a real model is slow under emulation";
  ER_REQUIRE_MODEL(qwen, "qwen2.5-coder-0.5b");
  auto mq = model::Model::load(qwen.string());
  ASSERT_TRUE(mq.is_ok());
  const Status bad = check_draft_vocabulary(**ma, **mq, "qwen2.5-coder-0.5b");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("draft model 'qwen2.5-coder-0.5b' has a vocabulary of 151936 tokens, the model of 49152"),
            std::string::npos)
      << bad.message();
}

// ---- the verify pass's rows ----

// Entries with new_group after a sequence's pending token get the logits plain decoding computes
// for them one step at a time, bit for bit.
TEST(SpeculativeRows, DraftedRowsHavePlainDecodingsLogits) {
  for (const char* name : {"tiny-llama-f32", "tiny-llama-q8_0", "tiny-llama-q4_k", "tiny-llama-q4_1", "tiny-qwen3-q4_k"}) {
    const auto path = fixture(name);
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
    auto m = model::Model::load(path.string());
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    model::ContextOptions co;
    co.n_ctx = 64;
    co.n_seq = 2;
    co.max_batch = 64;
    co.max_logits = 8;
    const int64_t n_vocab = (*m)->hparams().n_vocab;
    std::vector<model::BatchEntry> prompt;
    for (int i = 0; i < 6; ++i) prompt.push_back({100 + i, i, 0, i == 5, false});
    const std::vector<int32_t> next = {300, 301, 302, 303};
    // Plain: one entry per step.
    auto plain = model::Context::create(**m, co);
    ASSERT_TRUE(plain.is_ok());
    ASSERT_TRUE((*plain)->eval(prompt).is_ok());
    std::vector<float> want;
    for (size_t i = 0; i < next.size(); ++i) {
      const model::BatchEntry e{next[i], 6 + static_cast<int64_t>(i), 0, true, false};
      ASSERT_TRUE((*plain)->eval(std::span(&e, 1)).is_ok());
      want.insert(want.end(), (*plain)->logits(0), (*plain)->logits(0) + n_vocab);
    }
    // Speculative: the pending token, then three drafts, in one eval (beside another sequence).
    auto spec = model::Context::create(**m, co);
    ASSERT_TRUE(spec.is_ok());
    std::vector<model::BatchEntry> b = prompt;
    for (int i = 0; i < 3; ++i) b.push_back({200 + i, i, 1, i == 2, false});
    ASSERT_TRUE((*spec)->eval(b).is_ok());
    b.clear();
    for (size_t i = 0; i < next.size(); ++i) b.push_back({next[i], 6 + static_cast<int64_t>(i), 0, true, i > 0});
    b.push_back({210, 3, 1, true, false});
    ASSERT_TRUE((*spec)->eval(b).is_ok());
    std::vector<float> got;
    for (size_t r = 0; r < next.size(); ++r) got.insert(got.end(), (*spec)->logits(static_cast<int64_t>(r)), (*spec)->logits(static_cast<int64_t>(r)) + n_vocab);
    ASSERT_EQ(want.size(), got.size());
    int64_t first = -1;
    for (size_t i = 0; i < want.size() && first < 0; ++i)
      if (std::memcmp(&want[i], &got[i], 4) != 0) first = static_cast<int64_t>(i);
    EXPECT_EQ(first, -1) << name << ": row " << first / n_vocab << ", logit " << first % n_vocab;
  }
}

// ---- greedy output: token-identical ----

struct SpecCase {
  const char* target;  // fixture stem or installed model
  const char* draft;   // draft model ("" = n-gram lookup only)
  bool real;
  int64_t n_tokens;
};

std::string spec_case_name(const testing::TestParamInfo<SpecCase>& i) {
  std::string s = std::string(i.param.target) + "_" + (i.param.draft[0] ? i.param.draft : "ngram");
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

std::string model_path(const char* name, bool real) {
  if (real) {
    auto p = model::resolve_model(name);
    return p.is_ok() ? *p : std::string();
  }
  const auto f = fixture(name);
  return std::filesystem::exists(f) ? f.string() : std::string();
}

session::Request greedy(const std::string& prompt, int paths, int64_t n) {
  return test::greedy_request(prompt, paths, n, false);
}

class SpecExact : public testing::TestWithParam<SpecCase> {};

TEST_P(SpecExact, GreedyOutputIsPlainDecodings) {
  const SpecCase c = GetParam();
  const std::string target = model_path(c.target, c.real);
  if (target.empty()) {
    if (c.real && std::getenv("EDGEREASON_REQUIRE_MODELS") != nullptr) FAIL() << c.target << " is not installed";
    GTEST_SKIP() << c.target << " not available";
  }
  std::string draft;
  if (c.draft[0]) {
    draft = model_path(c.draft, c.real);
    if (draft.empty()) GTEST_SKIP() << c.draft << " not available";
  }
  const int64_t n = std::getenv("EDGEREASON_EMULATED") != nullptr ? std::min<int64_t>(c.n_tokens, 12) : c.n_tokens;
  session::SessionOptions so;
  so.model = target;
  so.n_ctx = 512;
  so.max_paths = 3;
  so.n_threads = 2;
  auto plain = session::Session::open(so);
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  so.draft_max = 5;
  if (draft.empty()) {
    so.spec = SpecMethod::kNgram;
  } else {
    so.spec = SpecMethod::kDraft;
    so.draft_model = draft;
  }
  auto spec = session::Session::open(so);
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  int64_t drafted = 0, accepted = 0;
  // (The last prompt repeats itself, so that lookup has something to propose on any model.)
  for (const std::string prompt : {"The capital of France is", "def fibonacci(n):\n    if n < 2:\n        return n\n",
                                   "one two three four five one two three four five one two three"}) {
    for (int paths : {1, 3}) {
      for (bool ignore_eos : {true, false}) {
        session::Request r = greedy(prompt, paths, n);
        r.gen.ignore_eos = ignore_eos;
        auto a = (*plain)->ask(r);
        auto b = (*spec)->ask(r);
        ASSERT_TRUE(a.is_ok() && b.is_ok()) << (a.is_ok() ? b.status().message() : a.status().message());
        for (int p = 0; p < paths; ++p) {
          EXPECT_EQ(b->result.gen.paths.at(static_cast<size_t>(p)).tokens, a->result.gen.paths.at(static_cast<size_t>(p)).tokens)
              << prompt << ": path " << p << " of " << paths << (ignore_eos ? ", ignore_eos" : "");
          EXPECT_EQ(b->result.gen.paths.at(static_cast<size_t>(p)).stop, a->result.gen.paths.at(static_cast<size_t>(p)).stop);
        }
        EXPECT_LE(b->result.gen.n_accepted, b->result.gen.n_drafted);
        drafted += b->result.gen.n_drafted;
        accepted += b->result.gen.n_accepted;
      }
    }
  }
  EXPECT_GT(drafted, 0);
  if (c.draft[0] && std::string(c.draft) == c.target) {
    EXPECT_EQ(accepted, drafted) << "a model drafting for itself";
  } else if (c.real || c.draft[0]) {  // (random-weight fixtures rarely repeat themselves)
    EXPECT_GT(accepted, 0) << "nothing drafted was ever accepted";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SpecExact,
                         testing::Values(SpecCase{"tiny-llama-f32", "", false, 48},
                                         SpecCase{"tiny-llama-q4_1", "", false, 48},
                                         SpecCase{"tiny-llama-q4_k", "", false, 48},
                                         SpecCase{"tiny-qwen3-q4_k", "", false, 48},
                                         SpecCase{"tiny-llama-q8_0", "tiny-llama-q8_0", false, 32},
                                         SpecCase{"tiny-llama-f32", "tiny-llama-q4_0", false, 32}),
                         spec_case_name);
INSTANTIATE_TEST_SUITE_P(RealModels, SpecExact,
                         testing::Values(SpecCase{"smollm2", "", true, 48},
                                         SpecCase{"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", true, 24},
                                         SpecCase{"qwen2.5-coder-1.5b", "", true, 24}),
                         spec_case_name);

// Under a thinking budget (forced close and answer prefix: tokens forced into the paths) and
// sampled paths beside, the greedy paths are still plain decoding's.
TEST(SpecExact, ThinkingBudgetsForcedTokensStayExact) {
  const auto path = fixture("tiny-qwen3-q4_k");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
  session::SessionOptions so;
  so.model = path.string();
  so.chat_template = "qwen3";
  so.n_ctx = 256;
  so.max_paths = 2;
  auto plain = session::Session::open(so);
  ASSERT_TRUE(plain.is_ok());
  for (SpecMethod m : {SpecMethod::kNgram, SpecMethod::kDraft}) {
    session::SessionOptions sp = so;
    sp.spec = m;
    sp.draft_model = path.string();  // drafting for itself
    sp.draft_max = 4;
    auto spec = session::Session::open(sp);
    ASSERT_TRUE(spec.is_ok()) << spec.status().message();
    for (int64_t budget : {3, 6, 11}) {
      session::Request r = greedy("Why is the sky blue?", 2, 40);
      r.chat = true;
      r.think.think_budget = budget;
      r.think.answer_budget = 12;
      auto a = (*plain)->ask(r);
      auto b = (*spec)->ask(r);
      ASSERT_TRUE(a.is_ok() && b.is_ok());
      for (size_t p = 0; p < 2; ++p) {
        EXPECT_EQ(b->result.gen.paths.at(p).tokens, a->result.gen.paths.at(p).tokens)
            << spec_method_name(m) << ", budget " << budget << ", path " << p;
        EXPECT_EQ(b->result.paths.at(p).forced_close, a->result.paths.at(p).forced_close);
        EXPECT_EQ(b->texts.at(p), a->texts.at(p));
      }
    }
  }
}

// ---- sampled output: the target distribution ----

// Chi-square of counts against probabilities (cells with expectation >= 5).
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& probs, int64_t n, int* dof) {
  double x = 0;
  *dof = -1;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = probs[i] * static_cast<double>(n);
    if (e < 5) continue;
    x += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
    ++*dof;
  }
  return x;
}

TEST(SpecSampling, DraftAcceptanceKeepsTheSamplersDistribution) {
  const std::vector<float> logits = {2.0f, 1.5f, 0.5f, 0.0f, -1.0f, -3.0f};
  sampling::SamplerConfig sc;
  sc.temperature = 0.8f;
  sc.top_k = 0;
  sc.top_p = 1.0f;
  sc.min_p = 0.0f;
  // The exact distribution: softmax(logits / T).
  std::vector<double> probs(logits.size());
  double z = 0;
  for (size_t i = 0; i < logits.size(); ++i) z += probs[i] = std::exp(logits[i] / 0.8);
  for (double& p : probs) p /= z;
  constexpr int64_t kDraws = 200000;
  for (int32_t draft : {0, 1, 3, 5}) {
    sampling::Sampler s(sc, static_cast<int32_t>(logits.size()));
    std::vector<int64_t> counts(logits.size(), 0);
    int64_t accepted = 0;
    for (int64_t i = 0; i < kDraws; ++i) {
      bool acc = false;
      const int32_t t = s.sample_draft(logits, {}, draft, &acc);
      ++counts[static_cast<size_t>(t)];
      EXPECT_EQ(acc, t == draft);
      accepted += acc;
    }
    int dof = 0;
    const double x = chi_square(counts, probs, kDraws, &dof);
    // The 99.9th percentile of chi-square with 5 degrees of freedom is 20.5.
    EXPECT_LT(x, 20.5) << "draft " << draft << " (dof " << dof << ")";
    // The draft is accepted with its probability.
    EXPECT_NEAR(static_cast<double>(accepted) / kDraws, probs[static_cast<size_t>(draft)], 0.01) << "draft " << draft;
  }
  // A draft outside top-k is never accepted, and the kept tokens keep their distribution.
  sc.top_k = 3;
  sampling::Sampler s(sc, static_cast<int32_t>(logits.size()));
  std::vector<int64_t> counts(logits.size(), 0);
  for (int64_t i = 0; i < kDraws; ++i) {
    bool acc = true;
    ++counts[static_cast<size_t>(s.sample_draft(logits, {}, 4, &acc))];
    EXPECT_FALSE(acc);
  }
  std::vector<double> top3 = {probs[0], probs[1], probs[2], 0, 0, 0};
  const double z3 = top3[0] + top3[1] + top3[2];
  for (double& p : top3) p /= z3;
  int dof = 0;
  EXPECT_LT(chi_square(counts, top3, kDraws, &dof), 13.8);  // 99.9th percentile, 2 dof
  EXPECT_EQ(counts[4] + counts[5] + counts[3], 0);
  // Greedy: the argmax either way, accepted when it is the draft.
  sc.temperature = 0;
  sampling::Sampler g(sc, static_cast<int32_t>(logits.size()));
  bool acc = false;
  EXPECT_EQ(g.sample_draft(logits, {}, 0, &acc), 0);
  EXPECT_TRUE(acc);
  EXPECT_EQ(g.sample_draft(logits, {}, 2, &acc), 0);
  EXPECT_FALSE(acc);
}

// The sampled paths of a speculative request, run many times, have plain decoding's distribution
// of their first tokens (a fixture model; the first drafted position is the second token).
TEST(SpecSampling, SampledOutputKeepsTheTargetDistribution) {
  const auto path = fixture("tiny-llama-q8_0");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
  if (std::getenv("EDGEREASON_EMULATED") != nullptr) GTEST_SKIP() << "too slow under emulation";
  session::SessionOptions so;
  so.model = path.string();
  so.n_ctx = 64;
  so.max_paths = 8;
  auto plain = session::Session::open(so);
  so.spec = SpecMethod::kDraft;
  so.draft_model = path.string();  // drafts its own greedy choice: accepted with its probability
  so.draft_max = 3;
  auto spec = session::Session::open(so);
  ASSERT_TRUE(plain.is_ok() && spec.is_ok());
  // Second and third tokens' joint counts over many seeds, with and without speculation.
  std::map<std::pair<int32_t, int32_t>, int64_t> ca, cb;
  int64_t n = 0, accepted = 0;
  // (top-k 4 keeps the sample space small enough for the counts to be compared.)
  for (uint64_t seed = 0; seed < 150; ++seed) {
    session::Request r = greedy("Once upon a time", 8, 3);
    r.gen.ignore_eos = true;
    r.gen.sampler.temperature = 1.0f;
    r.gen.sampler.top_k = 4;
    r.gen.sampler.top_p = 1.0f;
    r.gen.sampler.min_p = 0.0f;
    r.gen.sampler.seed = seed * 8;
    auto a = (*plain)->ask(r);
    auto b = (*spec)->ask(r);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    accepted += b->result.gen.n_accepted;
    for (size_t p = 0; p < 8; ++p) {
      const auto& ta = a->result.gen.paths[p].tokens;
      const auto& tb = b->result.gen.paths[p].tokens;
      ASSERT_EQ(ta.size(), 3u);
      ASSERT_EQ(tb.size(), 3u);
      EXPECT_EQ(ta[0], tb[0]);  // the first token is sampled alike (no draft before it)
      ++ca[{ta[0], ta[1]}];
      ++cb[{tb[0], tb[1]}];
      ++n;
    }
  }
  EXPECT_GT(accepted, 0);
  // Two-sample chi-square over the (first, second) pairs seen at least 10 times in all.
  double x = 0;
  int dof = -1;
  std::map<std::pair<int32_t, int32_t>, int64_t> all = ca;
  for (const auto& [k, v] : cb) all[k] += v;
  int64_t rest_a = 0, rest_b = 0;
  for (const auto& [k, v] : all) {
    const int64_t a = ca[k], b = cb[k];
    if (v < 10) {
      rest_a += a;
      rest_b += b;
      continue;
    }
    x += static_cast<double>((a - b) * (a - b)) / static_cast<double>(a + b);
    ++dof;
  }
  if (rest_a + rest_b >= 10) {
    x += static_cast<double>((rest_a - rest_b) * (rest_a - rest_b)) / static_cast<double>(rest_a + rest_b);
    ++dof;
  }
  ASSERT_GT(dof, 2);
  // The 99.9th percentile of chi-square: about dof + 3.1·sqrt(2·dof) + 4 for these sizes.
  const double limit = dof + 3.1 * std::sqrt(2.0 * dof) + 4;
  EXPECT_LT(x, limit) << "dof " << dof << " over " << n << " paths each";
}

}  // namespace
}  // namespace er::engine
