// ThinkSplitter: splits one path's token stream into thinking text and answer text as tokens
// arrive, finding the end-of-thinking delimiter ("</think>", or a final-answer marker for models
// without tags) even when it is split across tokens. Model-free: it sees token texts only.
//
// Text is released token by token, and only once a token can no longer be part of a delimiter:
// the tokens from the one where a partial match starts are held back. So a policy may take back
// (roll back) held tokens — an early close under s1, a close leaking into the answer — without
// anything having been streamed that must be unsaid.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace er::reasoning {

struct SplitterConfig {
  std::string delimiter = "</think>";  // ends the thinking span
  bool marker = false;          // tag-less: matched ASCII-case-insensitively; the marker and the
                                // markup ('*', '#', '_') just before it start the answer text
  std::string open_tag;         // swallowed at the start of the thinking span ("" = none)
  bool start_in_answer = false; // the prompt already closed the span (NoThink), or no split at all
};

class ThinkSplitter {
 public:
  enum class Event {
    kNone,
    kClosed,  // this token completed the delimiter: the thinking span ended
    kLeak,    // the delimiter appeared again after the span had ended
  };
  struct PushResult {
    Event event = Event::kNone;
    int64_t first_token = -1;  // index of the first token overlapping that delimiter
  };
  // (text, is_thinking): called by commit() for text that became final.
  using Sink = std::function<void(std::string_view text, bool thinking)>;

  explicit ThinkSplitter(SplitterConfig config);

  // `delimiter` counts the token as a delimiter token whatever its text (a forced close sequence:
  // the close text and the answer prefix), so thinking_tokens() counts the model's thinking only.
  PushResult push(std::string_view piece, bool delimiter = false);
  // Removes the last n tokens. REQUIRES: none of them was committed (n <= n_uncommitted()).
  void rollback(int64_t n);
  // Releases every token that can no longer be part of a delimiter (with `final`, all of them).
  void commit(const Sink& sink, bool final = false);

  bool closed() const { return closed_; }
  int64_t n_tokens() const { return static_cast<int64_t>(tok_start_.size()); }
  int64_t n_uncommitted() const { return n_tokens() - committed_; }
  // Tokens of the thinking span so far (the open tag's excluded; up to the delimiter once closed).
  int64_t thinking_tokens_so_far() const;
  // Uncommitted tokens from the one where a partial delimiter match starts (0: no partial match).
  int64_t partial_tokens() const;

  const std::string& text() const { return raw_; }  // every token's text, in order
  // Of the committed tokens:
  const std::string& thinking_text() const { return thinking_; }
  const std::string& answer_text() const { return answer_; }
  int64_t thinking_tokens() const { return n_thinking_; }
  int64_t answer_tokens() const { return n_answer_; }
  int64_t delimiter_tokens() const { return n_delim_; }

 private:
  size_t tok_end(int64_t i) const;
  int64_t token_at(size_t offset) const;  // the token whose text holds byte `offset`
  size_t find_delimiter(size_t from) const;  // npos when absent
  size_t earliest_partial(size_t from) const;  // raw_.size() when none
  void resolve_open();

  SplitterConfig cfg_;
  std::string raw_;                 // all tokens' text
  std::vector<size_t> tok_start_;   // (n_tokens,) offset of each token's text in raw_
  std::vector<uint8_t> tok_delim_;  // (n_tokens,) 1: counted as a delimiter token
  int64_t committed_ = 0;           // tokens released
  bool open_resolved_ = false;
  size_t open_end_ = 0;             // raw_ offset after the swallowed open tag (0: none)
  int64_t open_tokens_ = 0;         // tokens overlapping the open tag
  bool closed_ = false;
  size_t delim_start_ = 0;          // [delim_start_, delim_end_): the delimiter (marker: with markup)
  size_t delim_end_ = 0;
  size_t answer_begin_ = 0;         // tags: delim_end_; marker: delim_start_
  int64_t first_delim_token_ = 0;
  std::string thinking_;
  std::string answer_;
  int64_t n_thinking_ = 0, n_answer_ = 0, n_delim_ = 0;
};

}  // namespace er::reasoning
