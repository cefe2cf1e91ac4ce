// Thinking policies and votes driven end to end through the real Generator and Reasoner by a
// scripted fake model: a Decoder whose "logits" put the script's next token first (and a fixed
// fallback second, for bans), over a tiny vocabulary. Scripts close early, never close, close with
// "</th" + "ink>", leak a second close, end early, or write a final-answer marker.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/check.h"
#include "reasoning/deadline.h"
#include "reasoning/reasoner.h"
#include "reasoning/vote.h"

namespace er::reasoning {
namespace {

using engine::StopReason;

// Token 0 is the end of generation; the rest are pieces. encode() is greedy longest match.
class FakeVocab final : public Vocabulary {
 public:
  FakeVocab() {
    pieces_ = {"<eos>", " a", "</think>", "</th", "ink>", "\n\n", "42", "}", "Wait", "\n", "**Final Answer:** \\boxed{",
               "<think>", " ok", "**", "Final", " Answer:", " 7", " 9", "Okay"};
  }
  int32_t n_vocab() const override { return static_cast<int32_t>(pieces_.size()); }
  std::string_view piece(TokenId id) const override { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(TokenId id) const override { return id == 0; }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> out;
    while (!text.empty()) {
      TokenId best = -1;
      size_t best_len = 0;
      for (size_t i = 1; i < pieces_.size(); ++i) {
        if (text.starts_with(pieces_[i]) && pieces_[i].size() > best_len) {
          best = static_cast<TokenId>(i);
          best_len = pieces_[i].size();
        }
      }
      ER_CHECK(best >= 0, "FakeVocab: cannot encode");
      out.push_back(best);
      text.remove_prefix(best_len);
    }
    return out;
  }
  TokenId id(const std::string& piece) const {
    for (size_t i = 0; i < pieces_.size(); ++i) {
      if (pieces_[i] == piece) return static_cast<TokenId>(i);
    }
    ER_CHECK(false, "FakeVocab: no such piece");
    return -1;
  }
  std::string text(std::span<const TokenId> ids) const {
    std::string s;
    for (const TokenId t : ids) s += pieces_[static_cast<size_t>(t)];
    return s;
  }

 private:
  std::vector<std::string> pieces_;
};

// The next token of sequence `seq` given its generated tokens so far.
using Script = std::function<TokenId(int seq, std::span<const TokenId> generated)>;

class FakeDecoder final : public engine::Decoder {
 public:
  FakeDecoder(const FakeVocab& v, Script script, int n_seq, int64_t n_prompt, int64_t n_ctx = 512)
      : vocab_(v), script_(std::move(script)), n_seq_(n_seq), n_prompt_(n_prompt), n_ctx_(n_ctx),
        kv_(static_cast<size_t>(n_seq), std::vector<TokenId>(static_cast<size_t>(n_ctx), -1)),
        len_(static_cast<size_t>(n_seq), 0), logits_(static_cast<size_t>(n_seq * v.n_vocab())) {}
  int64_t n_ctx() const override { return n_ctx_; }
  int n_seq() const override { return n_seq_; }
  int64_t max_batch() const override { return 64; }
  int32_t n_vocab() const override { return vocab_.n_vocab(); }
  bool is_eog(TokenId t) const override { return vocab_.is_eog(t); }
  Status eval(std::span<const model::BatchEntry> batch) override {
    if (step_sleep.count() > 0) std::this_thread::sleep_for(step_sleep);
    int64_t row = 0;
    ++n_evals;
    for (const model::BatchEntry& e : batch) {
      if (e.pos > len_[static_cast<size_t>(e.seq)]) return Status::invalid("gap in the fake KV");
      kv_[static_cast<size_t>(e.seq)][static_cast<size_t>(e.pos)] = e.token;
      len_[static_cast<size_t>(e.seq)] = e.pos + 1;
      ++n_entries;
      if (!e.want_logits) continue;
      // What the model "sees": its generated tokens up to this position.
      std::vector<TokenId> gen;
      for (int64_t p = n_prompt_; p <= e.pos; ++p) gen.push_back(kv_[static_cast<size_t>(e.seq)][static_cast<size_t>(p)]);
      set_row(row++, script_(e.seq, gen));
    }
    return Status::ok();
  }
  const float* logits(int64_t row) const override { return logits_.data() + row * vocab_.n_vocab(); }
  void clear(int seq) override { len_[static_cast<size_t>(seq)] = 0; }
  void fork(int src, int dst, int64_t n_pos) override {
    std::copy_n(kv_[static_cast<size_t>(src)].begin(), n_pos, kv_[static_cast<size_t>(dst)].begin());
    len_[static_cast<size_t>(dst)] = n_pos;
  }
  // After prefill the first sample comes from the prompt's logits: every path sees no tokens.
  int64_t n_evals = 0, n_entries = 0;
  std::chrono::microseconds step_sleep{0};  // a slow "device": each eval takes at least this

 private:
  void set_row(int64_t row, TokenId next) {
    float* l = logits_.data() + row * vocab_.n_vocab();
    std::fill(l, l + vocab_.n_vocab(), 0.0f);
    l[vocab_.id(" ok")] = 5.0f;  // the fallback when the script's token is banned
    l[next] = 10.0f;
  }
  const FakeVocab& vocab_;
  Script script_;
  int n_seq_;
  int64_t n_prompt_, n_ctx_;
  std::vector<std::vector<TokenId>> kv_;
  std::vector<int64_t> len_;
  std::vector<float> logits_;
};

const FakeVocab& vocab() {
  static const FakeVocab v;
  return v;
}
TokenId id(const std::string& p) { return vocab().id(p); }
std::string text_of(std::span<const TokenId> g) { return vocab().text(g); }
int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}
int thinking_count(std::span<const TokenId> g) {
  int n = 0;
  for (const TokenId t : g) n += (t == id(" a") || t == id("Wait")) ? 1 : 0;
  return n;
}

// After a close: "42", "}", then the end; a forced "\boxed{" prefix is answered the same way.
TokenId answer_script(const std::string& after) {
  if (after.find('}') != std::string::npos) return 0;
  if (after.find("42") != std::string::npos) return id("}");
  return id("42");
}

// Thinks k tokens (" a"; "Wait" counts too), then closes with `close` ("</think>" or the split
// "</th" "ink>"), then answers. k < 0: never closes.
Script closes_after(int k, bool split = false) {
  return [k, split](int, std::span<const TokenId> g) -> TokenId {
    const std::string t = text_of(g);
    const size_t at = t.rfind("</think>");
    if (at != std::string::npos) return answer_script(t.substr(at + 8));
    if (!g.empty() && g.back() == id("</th")) return id("ink>");
    if (k < 0 || thinking_count(g) < k) return id(" a");
    return split ? id("</th") : id("</think>");
  };
}

struct Outcome {
  ReasonResult r;
  std::string streamed_thinking, streamed_answer;
};

Outcome run(const Script& script, const ThinkingOptions& think, int n_paths = 1, int64_t max_new = 64,
        VoteOptions vote = {}, bool tags = true, const AnswerKeyFn& key = generic_answer_key) {
  const std::vector<TokenId> prompt = {id("Okay"), id("\n")};
  FakeDecoder dec(vocab(), script, n_paths, static_cast<int64_t>(prompt.size()));
  ThinkingFormat fmt;
  fmt.has_think_tags = tags;
  Reasoner reasoner(dec, vocab(), fmt);
  engine::GenerateOptions gen;
  gen.max_new_tokens = max_new;
  gen.n_paths = n_paths;
  gen.sampler.temperature = 0;
  Outcome out;
  auto res = reasoner.run(prompt, think, gen, vote, key, [&](int p, std::string_view s, bool thinking) {
    if (p == 0) (thinking ? out.streamed_thinking : out.streamed_answer) += s;
  });
  EXPECT_TRUE(res.is_ok()) << res.status().message();
  if (res.is_ok()) out.r = std::move(res).value();
  return out;
}

// Every path's record is self-consistent: counts add up, text is the tokens' text, the close tag
// appears at most once and never in the answer.
void expect_consistent(const ReasonResult& r) {
  for (const PathOutcome& p : r.paths) {
    EXPECT_EQ(p.thinking_tokens + p.delimiter_tokens + p.answer_tokens, static_cast<int64_t>(p.tokens.size()));
    EXPECT_EQ(p.text, text_of(p.tokens));
    EXPECT_LE(count(p.text, "</think>"), 1) << p.text;
    EXPECT_EQ(p.answer_text.find("</think>"), std::string::npos) << p.answer_text;
    EXPECT_EQ(p.thinking_text.find("</think>"), std::string::npos) << p.thinking_text;
    EXPECT_EQ(p.forced_tokens + p.sampled_tokens, static_cast<int64_t>(p.tokens.size()));
  }
}

TEST(ThinkingPolicy, NoPolicyNaturalClose) {
  const Outcome x = run(closes_after(3), {});
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.text, " a a a</think>42}");
  EXPECT_EQ(p.thinking_text, " a a a");
  EXPECT_EQ(p.answer_text, "42}");
  EXPECT_EQ(p.thinking_tokens, 3);
  EXPECT_EQ(p.delimiter_tokens, 1);
  EXPECT_EQ(p.answer_tokens, 2);
  EXPECT_TRUE(p.closed);
  EXPECT_FALSE(p.forced_close);
  EXPECT_EQ(p.stop, StopReason::kEndOfGeneration);
  EXPECT_EQ(x.streamed_thinking, p.thinking_text);
  EXPECT_EQ(x.streamed_answer, p.answer_text);
  // Every sampled token had logit 10 against one of 5 and 17 of 0 (19 tokens): the mean token
  // log-probability is 10 − ln(e¹⁰ + e⁵ + 17) (a ban in the answer changes it by ~1e-5).
  EXPECT_NEAR(p.mean_logprob, 10.0 - std::log(std::exp(10.0) + std::exp(5.0) + 17.0), 1e-3);
  EXPECT_EQ(p.sampled_tokens, 6);
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, BudgetForcesTheCloseOnceWhenTheModelNeverCloses) {
  ThinkingOptions o;
  o.think_budget = 5;
  o.answer_budget = 8;
  const Outcome x = run(closes_after(-1), o);
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.text, " a a a a a\n</think>\n\n**Final Answer:** \\boxed{42}");
  EXPECT_EQ(count(p.text, "</think>"), 1);
  EXPECT_TRUE(p.forced_close);
  EXPECT_EQ(p.forced_close_at, 5);
  EXPECT_EQ(p.thinking_tokens, 5);
  EXPECT_EQ(p.delimiter_tokens, 4);  // "\n" "</think>" "\n\n" "**Final Answer:** \boxed{"
  EXPECT_EQ(p.forced_tokens, 4);
  EXPECT_EQ(p.answer_tokens, 2);    // "42" "}"
  EXPECT_EQ(p.answer_text, "\n\n**Final Answer:** \\boxed{42}");
  EXPECT_EQ(p.answer_key, "42");
  EXPECT_EQ(x.streamed_answer, p.answer_text);
  EXPECT_EQ(x.r.effective_think_budget, 5);
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, BudgetAboveTheNaturalCloseChangesNothing) {
  ThinkingOptions o;
  o.think_budget = 10;
  const Outcome x = run(closes_after(3), o);
  EXPECT_EQ(x.r.paths[0].text, " a a a</think>42}");
  EXPECT_FALSE(x.r.paths[0].forced_close);
}

TEST(ThinkingPolicy, SplitCloseIsOneClose) {
  const Outcome x = run(closes_after(2, /*split=*/true), {});
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.text, " a a</think>42}");
  EXPECT_EQ(p.thinking_text, " a a");
  EXPECT_EQ(p.answer_text, "42}");
  EXPECT_EQ(p.delimiter_tokens, 2);
  EXPECT_EQ(x.streamed_thinking, " a a");
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, BudgetHittingAHalfWrittenCloseTakesItBack) {
  // The model writes "</th" as its 3rd token; the budget of 3 forces the close there: the half tag
  // is taken back so the text holds exactly one close.
  ThinkingOptions o;
  o.think_budget = 3;
  const Outcome x = run(closes_after(2, /*split=*/true), o);
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.text, " a a\n</think>\n\n**Final Answer:** \\boxed{42}");
  EXPECT_EQ(p.rolled_back_tokens, 1);
  EXPECT_EQ(p.thinking_tokens, 2);
  EXPECT_EQ(p.forced_close_at, 2);
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, AnswerBudgetStopsTheAnswer) {
  ThinkingOptions o;
  o.think_budget = 2;
  o.answer_budget = 1;
  const Outcome x = run(closes_after(-1), o);
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.answer_tokens, 1);
  EXPECT_EQ(p.stop, StopReason::kMaxTokens);
  EXPECT_EQ(p.text, " a a\n</think>\n\n**Final Answer:** \\boxed{42");
}

TEST(ThinkingPolicy, MinThinkSuppressesEarlyClosesWithWait) {
  ThinkingOptions o;
  o.min_think = 6;
  const Outcome x = run(closes_after(3), o);
  const PathOutcome& p = x.r.paths[0];
  // Closes at 3, 4 and 5 thinking tokens are each replaced by "Wait"; the one at 6 stands.
  EXPECT_EQ(p.text, " a a aWaitWaitWait</think>42}");
  EXPECT_EQ(p.waits_inserted, 3);
  EXPECT_EQ(p.thinking_tokens, 6);
  EXPECT_EQ(p.rolled_back_tokens, 3);
  EXPECT_EQ(p.forced_tokens, 3);
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, MinThinkWithASplitClose) {
  ThinkingOptions o;
  o.min_think = 4;
  const Outcome x = run(closes_after(3, true), o);
  EXPECT_EQ(x.r.paths[0].text, " a a aWait</think>42}");
  EXPECT_EQ(x.r.paths[0].rolled_back_tokens, 2);  // "</th" and "ink>"
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, MinThinkTurnsAnEarlyEndIntoWait) {
  // Ends (eos) after 2 thinking tokens without closing, then after "Wait" closes properly.
  const Script s = [](int, std::span<const TokenId> g) -> TokenId {
    const std::string t = text_of(g);
    if (t.find("</think>") != std::string::npos) return answer_script(t.substr(t.find("</think>") + 8));
    if (thinking_count(g) < 2) return id(" a");
    return t.find("Wait") != std::string::npos ? id("</think>") : 0;
  };
  ThinkingOptions o;
  o.min_think = 3;
  const Outcome x = run(s, o);
  EXPECT_EQ(x.r.paths[0].text, " a aWait</think>42}");
  EXPECT_EQ(x.r.paths[0].waits_inserted, 1);
}

TEST(ThinkingPolicy, ALeakedSecondCloseIsSuppressed) {
  // After its close the model wants to write the close once more, as the single token (banned
  // up front once the span closed) or as "</th" "ink>" (taken back when complete, its first
  // token banned once): either way the fallback token comes instead.
  for (const bool split : {false, true}) {
    const Script s = [split](int, std::span<const TokenId> g) -> TokenId {
      const std::string t = text_of(g);
      const size_t at = t.find("</think>");
      if (at == std::string::npos) return thinking_count(g) < 2 ? id(" a") : id("</think>");
      const std::string after = t.substr(at + 8);
      if (after.empty()) return split ? id("</th") : id("</think>");
      if (after == "</th") return id("ink>");
      return answer_script(after);
    };
    const Outcome x = run(s, {});
    const PathOutcome& p = x.r.paths[0];
    EXPECT_EQ(p.text, " a a</think> ok42}") << split;
    EXPECT_EQ(p.rolled_back_tokens, split ? 2 : 0);
    EXPECT_EQ(x.streamed_answer, " ok42}");
    expect_consistent(x.r);
  }
}

TEST(ThinkingPolicy, NoThinkStartsInTheAnswer) {
  ThinkingOptions o;
  o.no_think = true;
  const Script s = [](int, std::span<const TokenId> g) { return answer_script(text_of(g)); };
  const Outcome x = run(s, o);
  EXPECT_EQ(x.r.paths[0].answer_text, "42}");
  EXPECT_EQ(x.r.paths[0].thinking_tokens, 0);
  EXPECT_EQ(x.r.paths[0].answer_tokens, 2);
}

TEST(ThinkingPolicy, TaglessMarkerAndForcedMarker) {
  // Natural: thinks, writes "**" "Final" " Answer:" " 7", ends.
  const Script natural = [](int, std::span<const TokenId> g) -> TokenId {
    const std::vector<std::string> seq = {" a", " a", "**", "Final", " Answer:", " 7"};
    return g.size() < seq.size() ? id(seq[g.size()]) : 0;
  };
  const Outcome x = run(natural, {}, 1, 64, {}, /*tags=*/false);
  EXPECT_EQ(x.r.paths[0].thinking_text, " a a");
  EXPECT_EQ(x.r.paths[0].answer_text, "**Final Answer: 7");
  EXPECT_EQ(x.r.paths[0].answer_key, "7");
  // Forced: never writes the marker; the budget inserts "\n\n**Final Answer:** \boxed{" once.
  const Script never = [](int, std::span<const TokenId> g) -> TokenId {
    const std::string t = text_of(g);
    const size_t at = t.find("Final Answer:");
    return at == std::string::npos ? id(" a") : answer_script(t.substr(at));
  };
  ThinkingOptions o;
  o.think_budget = 3;
  const Outcome y = run(never, o, 1, 64, {}, false);
  const PathOutcome& p = y.r.paths[0];
  EXPECT_EQ(p.text, " a a a\n\n**Final Answer:** \\boxed{42}");
  EXPECT_EQ(p.thinking_text, " a a a\n\n");
  EXPECT_EQ(p.answer_text, "**Final Answer:** \\boxed{42}");
  EXPECT_EQ(p.thinking_tokens, 3);
  EXPECT_EQ(count(p.text, "Final Answer:"), 1);
  EXPECT_EQ(p.answer_key, "42");
}

TEST(ThinkingPolicy, AGeneratedOpenTagIsNotThinking) {
  // Qwen3 opens the span itself: "<think>" then thinking; the budget counts thinking tokens only.
  const Script s = [](int, std::span<const TokenId> g) -> TokenId {
    if (g.empty()) return id("<think>");
    const std::string t = text_of(g);
    const size_t at = t.find("</think>");
    return at == std::string::npos ? id(" a") : answer_script(t.substr(at + 8));
  };
  ThinkingOptions o;
  o.think_budget = 3;
  const Outcome x = run(s, o);
  const PathOutcome& p = x.r.paths[0];
  EXPECT_EQ(p.text, "<think> a a a\n</think>\n\n**Final Answer:** \\boxed{42}");
  EXPECT_EQ(p.thinking_text, " a a a\n");
  EXPECT_EQ(p.thinking_tokens, 3);
  EXPECT_EQ(p.forced_close_at, 3);
  EXPECT_EQ(p.delimiter_tokens, 5);  // "<think>" and the forced close sequence (4 tokens)
  expect_consistent(x.r);
}

TEST(ThinkingPolicy, MaxTokensCutsTheForcedClose) {
  ThinkingOptions o;
  o.think_budget = 4;
  const Outcome x = run(closes_after(-1), o, 1, /*max_new=*/6);
  EXPECT_EQ(x.r.paths[0].tokens.size(), 6u);
  EXPECT_EQ(x.r.paths[0].stop, StopReason::kMaxTokens);
  expect_consistent(x.r);
}

// --- N paths and votes ----------------------------------------------------------------------

// Path p answers answers[p] after think[p] thinking tokens (" 7", " 9" or "}" = unparseable).
Script voting(const std::vector<int>& think, const std::vector<std::string>& answers) {
  return [think, answers](int seq, std::span<const TokenId> g) -> TokenId {
    const size_t s = static_cast<size_t>(seq);
    const int n = thinking_count(g);
    if (g.empty() || (g.back() == id(" a") && n < think[s])) return id(" a");
    if (g.back() == id(" a")) return id("</think>");
    if (g.back() == id("</think>")) return id(answers[s]);
    return 0;
  };
}

TEST(Vote, MajorityTiesGoToTheAnswerReachedFirst) {
  // Paths finish in order of their thinking length: path 1 (" 9") first, then 0 (" 7"), 3 (" 9"),
  // 2 (" 7"): 2-2, and " 9" was reached first.
  const Outcome x = run(voting({3, 1, 5, 4}, {" 7", " 9", " 7", " 9"}), {}, 4);
  ASSERT_EQ(x.r.paths.size(), 4u);
  EXPECT_EQ(x.r.vote.winner, "9");
  EXPECT_EQ(x.r.vote.winner_path, 1);
  ASSERT_EQ(x.r.vote.tally.size(), 2u);
  EXPECT_EQ(x.r.vote.tally[0].first, "9");
  EXPECT_EQ(x.r.vote.tally[0].second, 2.0);
  EXPECT_EQ(x.r.vote.n_votes, 4);
  EXPECT_EQ(x.r.vote.tokens_saved, 0);
  expect_consistent(x.r);
}

TEST(Vote, UnparseableAnswersDoNotVote) {
  const Outcome x = run(voting({1, 2, 3}, {"}", "}", " 7"}), {}, 3);
  EXPECT_EQ(x.r.vote.n_votes, 1);
  EXPECT_EQ(x.r.vote.winner, "7");
  EXPECT_EQ(x.r.vote.winner_path, 2);
  EXPECT_FALSE(x.r.paths[0].answer_key.has_value());
}

TEST(Vote, EarlyStopEndsThePathsThatCannotChangeTheWinner) {
  // Three quick paths agree on 7; two slow ones are still thinking: 3 > 0 + 2, stop them.
  ThinkingOptions o;
  o.think_budget = 40;
  o.answer_budget = 10;
  VoteOptions v;
  v.early_stop = true;
  const Outcome x = run(voting({1, 2, 3, 30, 30}, {" 7", " 7", " 7", " 9", " 9"}), o, 5, 64, v);
  EXPECT_TRUE(x.r.vote.early_stopped);
  EXPECT_EQ(x.r.vote.winner, "7");
  EXPECT_EQ(x.r.vote.n_votes, 3);
  for (size_t p = 3; p < 5; ++p) {
    const PathOutcome& po = x.r.paths[p];
    EXPECT_TRUE(po.stopped_early);
    EXPECT_EQ(po.stop, StopReason::kStoppedByCaller);
    EXPECT_FALSE(po.answer_key.has_value());
  }
  // Saved: for each stopped path, what its budgets still allowed when it stopped: the thinking
  // budget left + the forced close (4 tokens) + the answer budget, at most -n less its tokens.
  int64_t expect_saved = 0;
  for (size_t p = 3; p < 5; ++p) {
    const int64_t thought = x.r.paths[p].thinking_tokens;
    expect_saved += std::min<int64_t>(64 - thought, (40 - thought) + 4 + 10);
  }
  EXPECT_EQ(x.r.vote.tokens_saved, expect_saved);
  // Without early stop the slow paths run to their end and vote.
  v.early_stop = false;
  const Outcome y = run(voting({1, 2, 3, 30, 30}, {" 7", " 7", " 7", " 9", " 9"}), o, 5, 64, v);
  EXPECT_FALSE(y.r.vote.early_stopped);
  EXPECT_EQ(y.r.vote.n_votes, 5);
  EXPECT_EQ(y.r.vote.winner, "7");
}

TEST(Vote, NoEarlyStopWhileTheLeaderCanBeCaught) {
  // 2 votes for 7, then 2 paths still running: 2 > 0 + 2 is false, so nothing stops.
  VoteOptions v;
  v.early_stop = true;
  const Outcome x = run(voting({1, 2, 20, 20}, {" 7", " 7", " 9", " 9"}), {}, 4, 64, v);
  EXPECT_FALSE(x.r.vote.early_stopped);
  EXPECT_EQ(x.r.vote.n_votes, 4);
  EXPECT_EQ(x.r.vote.winner, "7");  // 2-2, 7 reached first
}

TEST(Vote, CancelStopsEveryPath) {
  const std::vector<TokenId> prompt = {id("Okay")};
  Reasoner* self = nullptr;
  int calls = 0;
  const Script s = [&](int, std::span<const TokenId>) -> TokenId {
    if (++calls == 5 && self != nullptr) self->cancel();
    return id(" a");
  };
  FakeDecoder dec(vocab(), s, 2, 1);
  ThinkingFormat fmt;
  fmt.has_think_tags = true;
  Reasoner r(dec, vocab(), fmt);
  self = &r;
  engine::GenerateOptions gen;
  gen.max_new_tokens = 100;
  gen.n_paths = 2;
  gen.sampler.temperature = 0;
  auto res = r.run(prompt, {}, gen, {}, generic_answer_key);
  ASSERT_TRUE(res.is_ok());
  for (const PathOutcome& p : res->paths) {
    EXPECT_EQ(p.stop, StopReason::kStoppedByCaller);
    EXPECT_LT(p.tokens.size(), 10u);
  }
}

TEST(Deadline, StepsThatFit) {
  EXPECT_EQ(deadline_steps(1.0, 0.1, 0), 10);
  EXPECT_EQ(deadline_steps(0.99, 0.1, 0), 9);
  EXPECT_EQ(deadline_steps(0, 0.1, 0), 0);
  EXPECT_EQ(deadline_steps(-1, 0.1, 0), 0);
  // Growing steps: 0.1 + 0.1·K(K−1)/2·… with m = 0.02: K=5 costs 0.5 + 0.02·10 = 0.7 s, K=6 0.9 s,
  // K=7 1.12 s.
  EXPECT_EQ(deadline_steps(1.0, 0.1, 0.02), 6);
  EXPECT_EQ(deadline_steps(0.905, 0.1, 0.02), 6);
  EXPECT_EQ(deadline_steps(0.89, 0.1, 0.02), 5);
  EXPECT_EQ(deadline_think_left(10, 4), 5);  // 10 steps − 1 (forced close) − 4 (answer)
  EXPECT_EQ(deadline_think_left(5, 4), 0);
  EXPECT_EQ(deadline_think_left(2, 4), 0);
}

// A "device" where every step takes >= 3 ms and a model that never stops thinking: the deadline
// must force the close early enough for the whole answer to finish before it.
TEST(Deadline, ForcesTheCloseSoTheAnswerFinishesInTime) {
  const std::vector<TokenId> prompt = {id("Okay"), id("\n")};
  FakeDecoder dec(vocab(), closes_after(-1), 1, 2, 4096);
  dec.step_sleep = std::chrono::microseconds(3000);
  ThinkingFormat fmt;
  fmt.has_think_tags = true;
  Reasoner r(dec, vocab(), fmt);
  ThinkingOptions o;
  o.deadline_s = 0.3;
  o.answer_budget = 10;
  engine::GenerateOptions gen;
  gen.max_new_tokens = 2000;
  gen.sampler.temperature = 0;
  auto res = r.run(prompt, o, gen, {}, generic_answer_key);
  ASSERT_TRUE(res.is_ok()) << res.status().message();
  const PathOutcome& p = res->paths[0];
  EXPECT_TRUE(p.forced_close);
  EXPECT_EQ(p.stop, StopReason::kEndOfGeneration);  // the answer completed ("42}" then the end)
  EXPECT_EQ(p.answer_key, "42");
  EXPECT_EQ(count(p.text, "</think>"), 1);
  // ~100 steps of 3 ms fit; 1 + 10 are reserved; sleeps only overshoot, so fewer think steps.
  ASSERT_TRUE(res->effective_think_budget.has_value());
  EXPECT_LE(*res->effective_think_budget, 89);
  EXPECT_GE(*res->effective_think_budget, 20);
  EXPECT_GT(res->measured_step_s, 0.0029);
  // Finished before the deadline (the answer needed 3 of its 10 reserved steps: slack).
  EXPECT_LT(res->gen.e2e_ms, 300.0);
  expect_consistent(*res);
}

TEST(Deadline, TheStepModelPlansBeforeAnyStepIsMeasured) {
  // The model says 10 ms per step and 0.2 s: 20 steps, of which 1 + 19 are reserved for the
  // close and the answer → no thinking at all, decided right after the prefill: the close is
  // forced after the first token (sampled from the prompt's logits), before any step is measured.
  ThinkingOptions o;
  o.deadline_s = 0.2;
  o.deadline_step_s = 0.01;
  o.answer_budget = 19;
  const Outcome x = run(closes_after(-1), o, 1, 600);
  const PathOutcome& p = x.r.paths[0];
  EXPECT_TRUE(p.forced_close);
  EXPECT_EQ(p.forced_close_at, 1);
  EXPECT_EQ(p.thinking_tokens, 1);
  EXPECT_EQ(x.r.effective_think_budget, 1);
  EXPECT_EQ(count(p.text, "</think>"), 1);
  expect_consistent(x.r);
}

}  // namespace
}  // namespace er::reasoning
