// SentencePiece-style encoding (`tokenizer.ggml.model` = "llama"): score-ordered merges of UTF-8
// characters into vocabulary entries, with <0xXX> byte fallback (llama.cpp's llm_tokenizer_spm).
#include <algorithm>
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {
namespace {

struct Symbol {
  uint32_t begin;  // byte offset in the text
  uint32_t len;    // bytes; 0 once merged into the left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;  // bytes of left + right when queued
};

// Highest score first; among equal scores the leftmost (llm_bigram_spm::comparator).
struct Lower {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void TokenizerImpl::encode_spm_fragment(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t offs = 0; offs < text.size();) {
    const size_t len = std::min(utf8_len_from_lead(static_cast<uint8_t>(text[offs])), text.size() - offs);
    const auto index = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(offs), static_cast<uint32_t>(len), index - 1,
                    offs + len == text.size() ? -1 : index + 1});
    offs += len;
  }
  if (syms.empty()) return;

  std::priority_queue<Candidate, std::vector<Candidate>, Lower> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[static_cast<size_t>(left)];
    const Symbol& r = syms[static_cast<size_t>(right)];
    const TokenId id = lookup(text.substr(l.begin, l.len + r.len));
    if (id == kNoToken) return;
    queue.push({scores[static_cast<size_t>(id)], left, right, l.len + r.len});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[static_cast<size_t>(c.left)];
    Symbol& right = syms[static_cast<size_t>(c.right)];
    if (left.len == 0 || right.len == 0 || left.len + right.len != c.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  // Every merged symbol is a vocabulary entry; a single character that is not falls back to its
  // bytes: <0xXX> tokens, else one-byte tokens, else <unk>.
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const Symbol& s = syms[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(s.begin, s.len);
    if (const TokenId id = lookup(piece); id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (const char c : piece) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto b = static_cast<uint8_t>(c);
      const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      TokenId id = lookup(std::string_view(name, 6));
      if (id == kNoToken) id = lookup(std::string_view(&c, 1));
      if (id == kNoToken) id = unk;
      if (id != kNoToken) out.push_back(id);
    }
  }
}

}  // namespace er::tokenizer
