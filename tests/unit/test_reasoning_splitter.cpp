// ThinkSplitter: delimiters whole, split across tokens, inside a token with text around it, the
// open tag, markers with markup, hold-back and rollback, token accounting. Hand-built streams.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reasoning/think_splitter.h"

namespace er::reasoning {
namespace {

struct Streamed {
  std::string thinking, answer;
};

// Pushes the pieces one by one, committing after each, and returns what was streamed.
Streamed feed(ThinkSplitter& s, const std::vector<std::string>& pieces, bool finish = true) {
  Streamed out;
  const ThinkSplitter::Sink sink = [&](std::string_view t, bool thinking) { (thinking ? out.thinking : out.answer) += t; };
  for (const std::string& p : pieces) {
    s.push(p);
    s.commit(sink);
  }
  if (finish) s.commit(sink, true);
  return out;
}

SplitterConfig tags() {
  SplitterConfig c;
  c.delimiter = "</think>";
  c.open_tag = "<think>";
  return c;
}
SplitterConfig marker() {
  SplitterConfig c;
  c.delimiter = "Final Answer:";
  c.marker = true;
  return c;
}

TEST(ThinkSplitter, WholeCloseTag) {
  ThinkSplitter s(tags());
  const Streamed st = feed(s, {"Let", " me", " think", "</think>", "\n\n", "42"});
  EXPECT_EQ(s.thinking_text(), "Let me think");
  EXPECT_EQ(s.answer_text(), "\n\n42");
  EXPECT_EQ(st.thinking, s.thinking_text());
  EXPECT_EQ(st.answer, s.answer_text());
  EXPECT_EQ(s.thinking_tokens(), 3);
  EXPECT_EQ(s.delimiter_tokens(), 1);
  EXPECT_EQ(s.answer_tokens(), 2);
  EXPECT_TRUE(s.closed());
}

TEST(ThinkSplitter, CloseTagSplitAcrossTokensIsHeldBackThenFound) {
  ThinkSplitter s(tags());
  Streamed st;
  const ThinkSplitter::Sink sink = [&](std::string_view t, bool thinking) { (thinking ? st.thinking : st.answer) += t; };
  s.push("so x=2");
  s.commit(sink);
  EXPECT_EQ(st.thinking, "so x=2");
  // "</th" could start the tag: nothing of it may be released yet.
  EXPECT_EQ(s.push(". </th").event, ThinkSplitter::Event::kNone);
  s.commit(sink);
  EXPECT_EQ(st.thinking, "so x=2");
  EXPECT_EQ(s.partial_tokens(), 1);
  const auto r = s.push("ink>The");
  EXPECT_EQ(r.event, ThinkSplitter::Event::kClosed);
  EXPECT_EQ(r.first_token, 1);
  s.commit(sink);
  s.push(" end");
  s.commit(sink, true);
  EXPECT_EQ(st.thinking, "so x=2. ");
  EXPECT_EQ(st.answer, "The end");
  EXPECT_EQ(s.thinking_tokens(), 1);
  EXPECT_EQ(s.delimiter_tokens(), 2);
  EXPECT_EQ(s.answer_tokens(), 1);
  EXPECT_EQ(s.text(), "so x=2. </think>The end");
}

TEST(ThinkSplitter, APartialThatDoesNotCompleteIsReleasedAsThinking) {
  ThinkSplitter s(tags());
  const Streamed st = feed(s, {"a </", "b> c", "</thi", "nk>", "d"});
  EXPECT_EQ(st.thinking, "a </b> c");
  EXPECT_EQ(st.answer, "d");
}

TEST(ThinkSplitter, OpenTagIsSwallowedEvenWhenSplit) {
  ThinkSplitter s(tags());
  const Streamed st = feed(s, {"<th", "ink>", "\nhmm", "</think>", "ok"});
  EXPECT_EQ(st.thinking, "\nhmm");
  EXPECT_EQ(st.answer, "ok");
  EXPECT_EQ(s.delimiter_tokens(), 3);  // "<th", "ink>", "</think>"
  EXPECT_EQ(s.thinking_tokens(), 1);
}

TEST(ThinkSplitter, NeverClosedIsAllThinking) {
  ThinkSplitter s(tags());
  const Streamed st = feed(s, {"a", " b", " </thi"});
  EXPECT_FALSE(s.closed());
  EXPECT_EQ(st.thinking, "a b </thi");  // the final commit releases the unfinished partial
  EXPECT_EQ(st.answer, "");
  EXPECT_EQ(s.thinking_tokens(), 3);
}

TEST(ThinkSplitter, MarkerWithMarkupStartsTheAnswer) {
  ThinkSplitter s(marker());
  const Streamed st = feed(s, {"2+2", " is 4.\n\n", "**", "Final", " answer", ":** 4"});
  EXPECT_EQ(st.thinking, "2+2 is 4.\n\n");
  EXPECT_EQ(st.answer, "**Final answer:** 4");  // case-insensitive; the "**" moved to the answer
  EXPECT_EQ(s.thinking_tokens(), 2);
  EXPECT_EQ(s.delimiter_tokens(), 4);
}

TEST(ThinkSplitter, LeakAfterCloseIsReported) {
  ThinkSplitter s(tags());
  feed(s, {"t", "</think>", "x"}, false);
  const auto r = s.push("</think>");
  EXPECT_EQ(r.event, ThinkSplitter::Event::kLeak);
  EXPECT_EQ(r.first_token, 3);
  s.rollback(1);
  EXPECT_EQ(s.text(), "t</think>x");
  EXPECT_TRUE(s.closed());
}

TEST(ThinkSplitter, RollbackOfTheCloseReopensTheSpan) {
  ThinkSplitter s(tags());
  const ThinkSplitter::Sink none;
  s.push("a");
  s.commit(none);
  s.push("</th");
  const auto r = s.push("ink>");
  ASSERT_EQ(r.event, ThinkSplitter::Event::kClosed);
  s.rollback(2);
  EXPECT_FALSE(s.closed());
  EXPECT_EQ(s.thinking_tokens_so_far(), 1);
  s.push(" Wait");
  s.commit(none, true);
  EXPECT_EQ(s.thinking_text(), "a Wait");
  EXPECT_EQ(s.text(), "a Wait");
}

TEST(ThinkSplitter, CommittedTokensCannotBeRolledBack) {
  ThinkSplitter s(tags());
  s.push("a");
  s.commit({});
  EXPECT_EQ(s.n_uncommitted(), 0);
  EXPECT_DEATH(s.rollback(1), "committed");
}

TEST(ThinkSplitter, StartInAnswerStillCatchesALeakedClose) {
  SplitterConfig c = tags();
  c.start_in_answer = true;  // NoThink: the prompt closed the span
  ThinkSplitter s(c);
  EXPECT_EQ(s.push("42").event, ThinkSplitter::Event::kNone);
  EXPECT_EQ(s.push("</think>").event, ThinkSplitter::Event::kLeak);
}

TEST(ThinkSplitter, PlainCompletionIsAllAnswer) {
  SplitterConfig c;
  c.delimiter.clear();
  c.start_in_answer = true;
  ThinkSplitter s(c);
  const Streamed st = feed(s, {"a</think>", "b"});
  EXPECT_EQ(st.answer, "a</think>b");
  EXPECT_EQ(s.answer_tokens(), 2);
  EXPECT_EQ(s.thinking_tokens(), 0);
}

TEST(ThinkSplitter, ForcedDelimiterTokensAreCountedAsDelimiter) {
  ThinkSplitter s(tags());
  const ThinkSplitter::Sink none;
  s.push("a");
  s.push("b");
  s.push("\n", true);
  s.push("</think>", true);
  s.push("\n\n**Final Answer:** \\boxed{", true);
  s.push("7");
  s.commit(none, true);
  EXPECT_EQ(s.thinking_tokens(), 2);
  EXPECT_EQ(s.delimiter_tokens(), 3);
  EXPECT_EQ(s.answer_tokens(), 1);
  EXPECT_EQ(s.thinking_text(), "ab\n");
  EXPECT_EQ(s.answer_text(), "\n\n**Final Answer:** \\boxed{7");
}

}  // namespace
}  // namespace er::reasoning
