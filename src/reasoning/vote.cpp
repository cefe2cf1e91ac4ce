// Votes, early-stop test, generic answer extraction.
#include "reasoning/vote.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace er::reasoning {

std::string_view vote_mode_name(VoteMode m) { return m == VoteMode::kWeighted ? "weighted" : "majority"; }

std::optional<VoteMode> vote_mode_from_name(std::string_view name) {
  if (name == "majority") return VoteMode::kMajority;
  if (name == "weighted") return VoteMode::kWeighted;
  return std::nullopt;
}

void VoteTally::add(int path, const std::optional<std::string>& key, double mean_logprob) {
  if (!key) return;
  ++n_votes_;
  const double w = mode_ == VoteMode::kWeighted ? std::exp(std::min(0.0, mean_logprob)) : 1.0;
  for (Entry& e : entries_) {
    if (e.key == *key) {
      e.weight += w;
      return;
    }
  }
  entries_.push_back({*key, w, path});
}

bool VoteTally::decided(int n_running) const {
  if (entries_.empty()) return false;
  double lead = -1, second = 0;
  for (const Entry& e : entries_) {
    if (e.weight > lead) {
      second = std::max(second, lead);
      lead = e.weight;
    } else {
      second = std::max(second, e.weight);
    }
  }
  return lead > second + static_cast<double>(n_running);
}

VoteResult VoteTally::result() const {
  VoteResult r;
  r.mode = mode_;
  r.n_votes = n_votes_;
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    r.tally.emplace_back(e.key, e.weight);
    if (best == nullptr || e.weight > best->weight) best = &e;  // strict: ties keep the first reached
  }
  if (best != nullptr) {
    r.winner = best->key;
    r.winner_path = best->first_path;
  }
  return r;
}

namespace {
std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

std::optional<std::string> generic_answer_key(std::string_view text) {
  // The last \boxed{...}, braces balanced; an unclosed one (a cut answer) does not count.
  constexpr std::string_view kBoxed = "\\boxed{";
  for (size_t at = text.rfind(kBoxed); at != std::string_view::npos; at = at == 0 ? std::string_view::npos : text.rfind(kBoxed, at - 1)) {
    int depth = 1;
    size_t i = at + kBoxed.size();
    for (; i < text.size() && depth > 0; ++i) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}') --depth;
    }
    if (depth == 0) {
      const std::string_view inner = trim(text.substr(at + kBoxed.size(), i - 1 - (at + kBoxed.size())));
      if (!inner.empty()) return std::string(inner);
    }
  }
  // The last number: optional sign, digits with ',' groups, optional decimals.
  for (size_t end = text.size(); end > 0; --end) {
    if (!is_digit(text[end - 1])) continue;
    size_t b = end;
    while (b > 0 && (is_digit(text[b - 1]) || text[b - 1] == '.' || (text[b - 1] == ',' && b >= 2 && is_digit(text[b - 2])))) --b;
    while (b < end && !is_digit(text[b])) ++b;  // no leading '.' or ','
    if (b > 0 && text[b - 1] == '-') --b;
    std::string n;
    for (size_t i = b; i < end; ++i) {
      if (text[i] != ',') n += text[i];
    }
    return n;
  }
  return std::nullopt;
}

}  // namespace er::reasoning
