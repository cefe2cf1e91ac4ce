// Votes (majority, weighted, ties, the exact early-stop test) and run's generic answer key.
#include <gtest/gtest.h>

#include <cmath>

#include "reasoning/vote.h"

namespace er::reasoning {
namespace {

TEST(VoteTally, MajorityWithTiesToTheFirstReached) {
  VoteTally t(VoteMode::kMajority);
  t.add(3, "b", -1);
  t.add(0, "a", -1);
  t.add(1, std::nullopt, -1);  // unparseable: no vote
  t.add(2, "a", -1);
  t.add(4, "b", -1);
  const VoteResult r = t.result();
  EXPECT_EQ(r.winner, "b");  // 2-2: "b" reached first
  EXPECT_EQ(r.winner_path, 3);
  EXPECT_EQ(r.n_votes, 4);
  ASSERT_EQ(r.tally.size(), 2u);
  EXPECT_EQ(r.tally[0], (std::pair<std::string, double>("b", 2.0)));
  EXPECT_EQ(r.tally[1], (std::pair<std::string, double>("a", 2.0)));
  t.add(5, "a", -1);
  EXPECT_EQ(t.result().winner, "a");
  EXPECT_EQ(t.result().winner_path, 0);
}

TEST(VoteTally, WeightedByMeanLogprob) {
  VoteTally t(VoteMode::kWeighted);
  t.add(0, "a", std::log(0.2));
  t.add(1, "a", std::log(0.2));
  t.add(2, "b", std::log(0.9));  // one confident path beats two unsure ones: 0.9 > 0.4
  const VoteResult r = t.result();
  EXPECT_EQ(r.winner, "b");
  EXPECT_NEAR(r.tally[0].second, 0.4, 1e-12);
  EXPECT_NEAR(r.tally[1].second, 0.9, 1e-12);
  EXPECT_EQ(r.mode, VoteMode::kWeighted);
}

TEST(VoteTally, NoVotesNoWinner) {
  VoteTally t(VoteMode::kMajority);
  t.add(0, std::nullopt, 0);
  EXPECT_FALSE(t.result().winner.has_value());
  EXPECT_EQ(t.result().winner_path, -1);
  EXPECT_FALSE(t.decided(0));
}

TEST(VoteTally, DecidedOnlyWhenTheLeaderCannotBeOvertaken) {
  VoteTally t(VoteMode::kMajority);
  t.add(0, "a", 0);
  EXPECT_TRUE(t.decided(0));
  EXPECT_FALSE(t.decided(1));  // 1 > 0 + 1 is false
  t.add(1, "a", 0);
  EXPECT_TRUE(t.decided(1));   // 2 > 0 + 1
  t.add(2, "b", 0);
  EXPECT_FALSE(t.decided(1));  // 2 > 1 + 1 is false
  EXPECT_TRUE(t.decided(0));
  t.add(3, "a", 0);
  EXPECT_TRUE(t.decided(1));   // 3 > 1 + 1
  EXPECT_FALSE(t.decided(2));
}

TEST(VoteMode, Names) {
  EXPECT_EQ(vote_mode_name(VoteMode::kMajority), "majority");
  EXPECT_EQ(vote_mode_name(VoteMode::kWeighted), "weighted");
  EXPECT_EQ(vote_mode_from_name("weighted"), VoteMode::kWeighted);
  EXPECT_EQ(vote_mode_from_name("majority"), VoteMode::kMajority);
  EXPECT_FALSE(vote_mode_from_name("plurality").has_value());
}

TEST(GenericAnswerKey, BoxedThenLastNumber) {
  EXPECT_EQ(generic_answer_key("so \\boxed{12} or \\boxed{ \\frac{1}{2} }"), "\\frac{1}{2}");
  EXPECT_EQ(generic_answer_key("\\boxed{7} then \\boxed{8"), "7");  // an unclosed box is ignored
  EXPECT_EQ(generic_answer_key("The total is 1,234.5 apples, not 3."), "3");
  EXPECT_EQ(generic_answer_key("it is -42"), "-42");
  EXPECT_EQ(generic_answer_key("x = 1,234"), "1234");
  EXPECT_EQ(generic_answer_key("about 3.75."), "3.75");
  EXPECT_FALSE(generic_answer_key("no digits here").has_value());
  EXPECT_FALSE(generic_answer_key("").has_value());
  EXPECT_EQ(generic_answer_key("\\boxed{}  9"), "9");  // an empty box does not count
}

}  // namespace
}  // namespace er::reasoning
