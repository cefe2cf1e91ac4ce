// Votes over reasoning paths: majority (ties to the answer reached first) or weighted by the mean
// token log-probability, with the exact early-stop test, and run's generic answer key.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reasoning/reasoner.h"

namespace er::reasoning {

// Collects the paths' answers in the order the paths finish.
class VoteTally {
 public:
  explicit VoteTally(VoteMode mode) : mode_(mode) {}

  // A finished path's answer key (nullopt: unparseable, no vote) and mean token log-probability.
  // Majority: weight 1. Weighted: exp(mean_logprob), the geometric-mean token probability, in (0, 1].
  void add(int path, const std::optional<std::string>& key, double mean_logprob);

  // True when the leader can no longer be overtaken by `n_running` paths still decoding (each can
  // add at most weight 1): leader > second + n_running. Never true before any vote.
  bool decided(int n_running) const;

  // Winner (ties: the key reached first), its first path, the tally in first-reached order.
  VoteResult result() const;

 private:
  struct Entry {
    std::string key;
    double weight = 0;
    int first_path = -1;
  };
  VoteMode mode_;
  std::vector<Entry> entries_;  // first-reached order
  int n_votes_ = 0;
};

}  // namespace er::reasoning
