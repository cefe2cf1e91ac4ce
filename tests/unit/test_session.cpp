// session::Session: batch invariance (a greedy request's tokens alone, as one of N paths, and
// beside another client's request in the same forward passes) on every fixture and shipped model,
// and the request checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "session/session.h"
#include "session_requests.h"
#include "support/test_support.h"

namespace er::session {
namespace {

struct Case {
  const char* name;       // fixture file stem or installed model name
  bool real;              // an installed model (scripts/get-models.sh) rather than a fixture
  int64_t n_tokens;
};

std::string case_name(const testing::TestParamInfo<Case>& i) {
  std::string s = i.param.name;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

// Under instruction-set emulation (qemu) or a sanitizer every token costs 10-50x: fewer tokens
// there, still a prefill and several shared decode steps.
int64_t tokens_here(int64_t n) {
#if defined(__SANITIZE_ADDRESS__)
  return std::min<int64_t>(n, 8);
#else
  return std::getenv("EDGEREASON_EMULATED") != nullptr ? std::min<int64_t>(n, 8) : n;
#endif
}

Request greedy(const std::string& prompt, int paths, int64_t n) { return test::greedy_request(prompt, paths, n, true); }

class SessionInvariance : public testing::TestWithParam<Case> {};

TEST_P(SessionInvariance, GreedyTokensDoNotDependOnWhatSharesTheBatch) {
  Case c = GetParam();
  c.n_tokens = tokens_here(c.n_tokens);
  std::filesystem::path path;
  if (c.real) {
    ER_REQUIRE_MODEL(p, c.name);
    path = p;
  } else {
    path = test::fixture_dir() / (std::string(c.name) + ".gguf");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
  }
  SessionOptions so;
  so.model = path.string();
  so.n_ctx = 256;
  so.max_paths = 4;
  so.n_slots = 2;
  so.n_threads = 2;
  auto s = Session::open(so);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  Session& sess = **s;

  for (const std::string prompt : {"The capital of France is", "def fibonacci(n):"}) {
    // Alone.
    auto alone = sess.ask(greedy(prompt, 1, c.n_tokens));
    ASSERT_TRUE(alone.is_ok()) << alone.status().message();
    const std::vector<engine::TokenId> want = alone->result.gen.paths.at(0).tokens;
    ASSERT_EQ(static_cast<int64_t>(want.size()), c.n_tokens);
    const int64_t passes_alone = sess.forward_passes();

    // As each of 4 paths.
    auto four = sess.ask(greedy(prompt, 4, c.n_tokens));
    ASSERT_TRUE(four.is_ok()) << four.status().message();
    for (size_t p = 0; p < 4; ++p) {
      EXPECT_EQ(four->result.gen.paths.at(p).tokens, want) << prompt << ": path " << p << " of 4";
    }

    // Beside another client's request (other prompt, 3 sampled paths) in the same passes.
    Request other = greedy("Once upon a time, in a land far away,", 3, c.n_tokens);
    other.gen.sampler.temperature = 0.8f;
    other.gen.sampler.seed = 3;
    auto other_alone = sess.ask(other);
    ASSERT_TRUE(other_alone.is_ok()) << other_alone.status().message();
    const int64_t before = sess.forward_passes();
    Result<Outcome> mine = Status::internal("not run"), theirs = Status::internal("not run");
    // This request's first streamed text waits (briefly) for the other to join the shared passes
    // (attached to the hub, not only holding a slot: between the two it builds its reasoner, and
    // on a loaded machine this request could finish meanwhile), so the two overlap however fast
    // the model is.
    Request me = greedy(prompt, 1, c.n_tokens);
    bool waited = false;
    me.stream = [&](int, std::string_view, bool) {
      if (waited) return;
      waited = true;
      for (int i = 0; i < 5000 && sess.decoding() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    std::thread t([&] { theirs = sess.ask(other); });
    mine = sess.ask(me);
    t.join();
    ASSERT_TRUE(mine.is_ok()) << mine.status().message();
    ASSERT_TRUE(theirs.is_ok()) << theirs.status().message();
    EXPECT_EQ(mine->result.gen.paths.at(0).tokens, want) << prompt << ": beside another request";
    for (size_t p = 0; p < 3; ++p) {
      EXPECT_EQ(theirs->result.gen.paths.at(p).tokens, other_alone->result.gen.paths.at(p).tokens)
          << "the other request's sampled path " << p << " beside " << prompt;
    }
    // The two requests shared passes (each alone needs about passes_alone of them).
    EXPECT_LT(sess.forward_passes() - before, 2 * passes_alone) << "the requests were not batched together";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionInvariance,
                         testing::Values(Case{"tiny-llama-f32", false, 24}, Case{"tiny-llama-f16", false, 24},
                                         Case{"tiny-llama-q8_0", false, 24}, Case{"tiny-llama-q4_0", false, 24},
                                         Case{"tiny-llama-q4_1", false, 24}, Case{"tiny-llama-q4_k", false, 24},
                                         Case{"tiny-llama-q6_k", false, 24}, Case{"tiny-qwen2-q8_0", false, 24},
                                         Case{"tiny-qwen2-q4_k", false, 24}, Case{"tiny-qwen3-q4_k", false, 24}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(RealModels, SessionInvariance,
                         testing::Values(Case{"smollm2", true, 48}, Case{"qwen2.5-coder-0.5b", true, 24},
                                         Case{"qwen2.5-coder-1.5b", true, 32}, Case{"gemma3-270m", true, 24}),
                         case_name);

TEST(Session, BadRequestsNameTheField) {
  const auto path = test::fixture_dir() / "tiny-llama-f32.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
  SessionOptions so;
  so.model = path.string();
  so.n_ctx = 64;
  so.max_paths = 2;
  auto s = Session::open(so);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  auto expect_field = [&](const Request& r, const char* field) {
    auto o = (*s)->ask(r);
    ASSERT_FALSE(o.is_ok()) << field;
    EXPECT_TRUE(o.status().is_bad_input()) << o.status().message();
    EXPECT_TRUE(o.status().names_field(field)) << field << ": " << o.status().message();
  };
  expect_field(greedy("hi", 3, 4), "n_paths");
  expect_field(greedy("hi", 1, 0), "max_new_tokens");
  expect_field(greedy("", 1, 4), "prompt");
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "word ";
  expect_field(greedy(long_prompt, 1, 4), "prompt");
  Request both = greedy("hi", 1, 4);
  both.messages.push_back({"user", "hello"});
  expect_field(both, "prompt");
  Request role = greedy("", 1, 4);
  role.messages.push_back({"robot", "hello"});
  expect_field(role, "messages");
  Request think = greedy("hi", 1, 4);
  think.think.no_think = true;
  think.think.think_budget = 3;
  expect_field(think, "no_think");
  Request temp = greedy("hi", 1, 4);
  temp.gen.sampler.temperature = -1;
  expect_field(temp, "temperature");
}

TEST(Session, StreamedTextIsTheSplitAndTheForcedCloseNeverReachesTheAnswer) {
  // tiny-qwen3 under Qwen3's chat template has think tags (as text: the synthetic vocabulary spells
  // them in several tokens): a budget forces "</think>" (and the answer prefix) into the paths.
  // What is streamed, by kind, must be exactly the outcome's split.
  const auto path = test::fixture_dir() / "tiny-qwen3-q4_k.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
  SessionOptions so;
  so.model = path.string();
  so.chat_template = "qwen3";
  so.n_ctx = 256;
  so.max_paths = 2;
  auto s = Session::open(so);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  ASSERT_TRUE((*s)->thinking_format().has_think_tags);
  Request r = greedy("Why is the sky blue?", 2, 40);
  r.chat = true;
  r.gen.ignore_eos = false;
  r.gen.sampler.temperature = 0.9f;
  r.think.think_budget = 6;
  r.think.answer_budget = 12;
  std::string thinking[2], answer[2];
  r.stream = [&](int p, std::string_view piece, bool is_thinking) {
    (is_thinking ? thinking : answer)[p] += std::string(piece);
  };
  auto o = (*s)->ask(r);
  ASSERT_TRUE(o.is_ok()) << o.status().message();
  int forced = 0;
  for (int p = 0; p < 2; ++p) {
    const reasoning::PathOutcome& po = o->result.paths.at(static_cast<size_t>(p));
    forced += po.forced_close ? 1 : 0;
    EXPECT_EQ(thinking[p], po.thinking_text) << "path " << p;
    EXPECT_EQ(answer[p], po.answer_text) << "path " << p;
    EXPECT_EQ(answer[p].find("</think>"), std::string::npos) << answer[p];
    EXPECT_EQ(thinking[p].find("</think>"), std::string::npos) << thinking[p];
    if (po.forced_close) {
      // Forced once: the close text appears exactly once in the whole text.
      const std::string& whole = po.text;
      const size_t first = whole.find("</think>");
      ASSERT_NE(first, std::string::npos) << whole;
      EXPECT_EQ(whole.find("</think>", first + 1), std::string::npos) << whole;
    }
  }
  EXPECT_GT(forced, 0) << "random weights never reach </think> in 6 tokens: the budget must force it";
}

}  // namespace
}  // namespace er::session

namespace er::model {
namespace {

// The model-level property under the session's: a sequence's logits are the same bits whether its
// entries are evaluated alone or beside another sequence's prefill or decode entries.
TEST(ContextBatchInvariance, ASequencesLogitsDoNotDependOnOtherSequences) {
  for (const char* name : {"tiny-llama-f32", "tiny-llama-q8_0", "tiny-llama-q4_k", "tiny-llama-q4_1"}) {
    const auto path = test::fixture_dir() / (std::string(name) + ".gguf");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixtures not generated";
    auto m = Model::load(path.string());
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    ContextOptions co;
    co.n_ctx = 64;
    co.n_seq = 2;
    co.max_batch = 64;
    co.max_logits = 2;
    const int64_t n_vocab = (*m)->hparams().n_vocab;
    auto run = [&](bool beside, int other_rows) {
      auto c = Context::create(**m, co);
      EXPECT_TRUE(c.is_ok());
      std::vector<BatchEntry> b;
      for (int i = 0; i < 7; ++i) b.push_back({100 + i, i, 0, i == 6});
      if (beside) {
        for (int i = 0; i < 5; ++i) b.push_back({200 + i, i, 1, i == 4});
      }
      EXPECT_TRUE((*c)->eval(b).is_ok());
      std::vector<float> out((*c)->logits(0), (*c)->logits(0) + n_vocab);
      // A decode step of sequence 0, beside `other_rows` entries of sequence 1.
      b.clear();
      b.push_back({300, 7, 0, true});
      if (beside) {
        for (int i = 0; i < other_rows; ++i) b.push_back({400 + i, 5 + i, 1, i == other_rows - 1});
      }
      EXPECT_TRUE((*c)->eval(b).is_ok());
      out.insert(out.end(), (*c)->logits(0), (*c)->logits(0) + n_vocab);
      return out;
    };
    const std::vector<float> alone = run(false, 0);
    for (int other : {1, 3, 9}) {
      const std::vector<float> with = run(true, other);
      ASSERT_EQ(alone.size(), with.size());
      int64_t first_diff = -1;
      for (size_t i = 0; i < alone.size() && first_diff < 0; ++i) {
        if (std::memcmp(&alone[i], &with[i], 4) != 0) first_diff = static_cast<int64_t>(i);
      }
      EXPECT_EQ(first_diff, -1) << name << " beside " << other << " rows: first differing logit "
                                << (first_diff < n_vocab ? "in the prefill at " : "in the decode step at ")
                                << first_diff % n_vocab;
    }
  }
}

}  // namespace
}  // namespace er::model
