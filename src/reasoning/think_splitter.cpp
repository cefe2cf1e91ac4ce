// ThinkSplitter: delimiter search across token boundaries, hold-back of partial matches, rollback.
#include "reasoning/think_splitter.h"

#include <algorithm>

#include "core/check.h"

namespace er::reasoning {
namespace {

char fold(char c, bool ci) { return ci && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_markup(char c) { return c == '*' || c == '#' || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// True when s is a prefix of pattern (s may be empty), comparing with `ci` folding.
bool is_prefix_of(std::string_view s, std::string_view pattern, bool ci) {
  if (s.size() > pattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (fold(s[i], ci) != fold(pattern[i], ci)) return false;
  }
  return true;
}

}  // namespace

ThinkSplitter::ThinkSplitter(SplitterConfig config) : cfg_(std::move(config)) {
  ER_CHECK(!cfg_.delimiter.empty() || cfg_.start_in_answer, "ThinkSplitter: empty delimiter");
  if (cfg_.start_in_answer) {
    closed_ = true;
    open_resolved_ = true;
  }
  if (cfg_.open_tag.empty()) open_resolved_ = true;
}

size_t ThinkSplitter::tok_end(int64_t i) const {
  return i + 1 < n_tokens() ? tok_start_[static_cast<size_t>(i + 1)] : raw_.size();
}

int64_t ThinkSplitter::token_at(size_t offset) const {
  // The last token starting at or before offset (tokens with empty text share a start).
  const auto it = std::upper_bound(tok_start_.begin(), tok_start_.end(), offset);
  return std::max<int64_t>(0, static_cast<int64_t>(it - tok_start_.begin()) - 1);
}

size_t ThinkSplitter::find_delimiter(size_t from) const {
  const std::string& d = cfg_.delimiter;
  if (raw_.size() < d.size()) return std::string::npos;
  for (size_t i = from; i + d.size() <= raw_.size(); ++i) {
    if (is_prefix_of(std::string_view(raw_).substr(i, d.size()), d, cfg_.marker)) return i;
  }
  return std::string::npos;
}

size_t ThinkSplitter::earliest_partial(size_t from) const {
  for (size_t j = from; j < raw_.size(); ++j) {
    std::string_view rest = std::string_view(raw_).substr(j);
    if (cfg_.marker) {
      // Markup runs ("**") may precede the marker; hold them back with it.
      size_t k = 0;
      while (k < rest.size() && is_markup(rest[k])) ++k;
      if (k == rest.size()) return j;
      rest.remove_prefix(k);
    }
    if (rest.size() < cfg_.delimiter.size() && is_prefix_of(rest, cfg_.delimiter, cfg_.marker)) return j;
  }
  return raw_.size();
}

void ThinkSplitter::resolve_open() {
  if (open_resolved_) return;
  size_t b = 0;
  while (b < raw_.size() && is_space(raw_[b])) ++b;
  const std::string_view rest = std::string_view(raw_).substr(b);
  if (rest.starts_with(cfg_.open_tag)) {
    open_resolved_ = true;
    open_end_ = b + cfg_.open_tag.size();
    open_tokens_ = token_at(open_end_ - 1) + 1;
  } else if (!is_prefix_of(rest, cfg_.open_tag, false)) {
    open_resolved_ = true;  // the model did not open a span: thinking starts at its first token
  }
}

ThinkSplitter::PushResult ThinkSplitter::push(std::string_view piece, bool delimiter) {
  const size_t from = committed_ < n_tokens() ? tok_start_[static_cast<size_t>(committed_)] : raw_.size();
  tok_start_.push_back(raw_.size());
  tok_delim_.push_back(delimiter ? 1 : 0);
  raw_.append(piece);
  resolve_open();
  PushResult r;
  if (!closed_) {
    const size_t at = find_delimiter(std::max(from, open_end_));
    if (at == std::string::npos) return r;
    closed_ = true;
    delim_end_ = at + cfg_.delimiter.size();
    delim_start_ = at;
    if (cfg_.marker) {
      while (delim_start_ > from && is_markup(raw_[delim_start_ - 1])) --delim_start_;
    }
    answer_begin_ = cfg_.marker ? delim_start_ : delim_end_;
    first_delim_token_ = token_at(delim_start_);
    r.event = Event::kClosed;
    r.first_token = first_delim_token_;
    return r;
  }
  if (cfg_.start_in_answer && cfg_.delimiter.empty()) return r;
  const size_t at = find_delimiter(std::max(from, delim_end_));
  if (at != std::string::npos) {
    r.event = Event::kLeak;
    r.first_token = token_at(at);
  }
  return r;
}

void ThinkSplitter::rollback(int64_t n) {
  ER_CHECK(n >= 0 && n <= n_uncommitted(), "ThinkSplitter::rollback: a committed token cannot be taken back");
  if (n == 0) return;
  const int64_t keep = n_tokens() - n;
  raw_.resize(tok_start_[static_cast<size_t>(keep)]);
  tok_start_.resize(static_cast<size_t>(keep));
  tok_delim_.resize(static_cast<size_t>(keep));
  if (closed_ && !cfg_.start_in_answer && first_delim_token_ >= keep) closed_ = false;
  if (!cfg_.open_tag.empty() && open_end_ > raw_.size()) {
    open_resolved_ = false;
    open_end_ = 0;
    open_tokens_ = 0;
  }
  if (!open_resolved_) resolve_open();
}

int64_t ThinkSplitter::thinking_tokens_so_far() const {
  if (cfg_.start_in_answer) return 0;
  const int64_t upto = closed_ ? first_delim_token_ : n_tokens();
  return std::max<int64_t>(0, upto - open_tokens_);
}

int64_t ThinkSplitter::partial_tokens() const {
  if (closed_ && cfg_.start_in_answer && cfg_.delimiter.empty()) return 0;
  const size_t from = committed_ < n_tokens() ? tok_start_[static_cast<size_t>(committed_)] : raw_.size();
  const size_t at = earliest_partial(std::max(from, closed_ ? delim_end_ : open_end_));
  if (at >= raw_.size()) return 0;
  return n_tokens() - token_at(at);
}

void ThinkSplitter::commit(const Sink& sink, bool final) {
  if (committed_ == n_tokens()) return;
  int64_t upto = n_tokens();  // tokens [committed_, upto) are released
  if (!final) {
    if (!open_resolved_) return;
    const size_t from = tok_start_[static_cast<size_t>(committed_)];
    const size_t at = earliest_partial(std::max(from, closed_ ? delim_end_ : open_end_));
    if (at < raw_.size()) upto = token_at(at);
  }
  if (upto <= committed_) return;
  const size_t a = tok_start_[static_cast<size_t>(committed_)];
  const size_t b = tok_end(upto - 1);
  // Text: [open_end_, delim_start_) is thinking, [answer_begin_, ...) answer; tags are dropped.
  const size_t think_end = closed_ ? (cfg_.start_in_answer ? 0 : delim_start_) : b;
  const size_t think_a = std::max(a, open_end_), think_b = std::min(b, think_end);
  if (think_a < think_b) {
    const std::string_view s = std::string_view(raw_).substr(think_a, think_b - think_a);
    thinking_.append(s);
    if (sink) sink(s, true);
  }
  if (closed_) {
    const size_t ans_a = std::max(a, answer_begin_);
    if (ans_a < b) {
      const std::string_view s = std::string_view(raw_).substr(ans_a, b - ans_a);
      answer_.append(s);
      if (sink) sink(s, false);
    }
  }
  // Tokens: overlapping the open tag or the delimiter → delimiter; before it thinking, after answer.
  for (int64_t i = committed_; i < upto; ++i) {
    const size_t ts = tok_start_[static_cast<size_t>(i)], te = tok_end(i);
    if (cfg_.start_in_answer) {
      ++n_answer_;
    } else if (i < open_tokens_ || tok_delim_[static_cast<size_t>(i)] != 0) {
      ++n_delim_;
    } else if (!closed_) {
      ++n_thinking_;
    } else if (ts < delim_end_ && (te > delim_start_ || i == first_delim_token_)) {
      ++n_delim_;
    } else if (ts < delim_start_) {
      ++n_thinking_;
    } else {
      ++n_answer_;
    }
  }
  committed_ = upto;
}

}  // namespace er::reasoning
