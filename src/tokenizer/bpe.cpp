// Byte-level BPE: the merge table, and merging one pre-tokenized word by rank (llama.cpp order).
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {

void build_bpe_table(TokenizerImpl& impl, const std::vector<std::string>& merges) {
  StringIdMap extra;  // strings that are not vocabulary entries
  const auto intern = [&](std::string_view s) -> int32_t {
    if (const TokenId id = impl.lookup(s); id != kNoToken) return id;
    const auto it = extra.find(s);
    if (it != extra.end()) return it->second;
    const int32_t id = impl.n_vocab() + static_cast<int32_t>(impl.bpe.extra_texts.size());
    impl.bpe.extra_texts.emplace_back(s);
    extra.emplace(std::string(s), id);
    return id;
  };
  impl.bpe.merges.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& line = merges[rank];
    // As llama.cpp: split at the first space after position 0; a line without one is ("", "").
    const size_t pos = line.find(' ', 1);
    std::string_view left, right;
    if (pos != std::string::npos) {
      left = std::string_view(line).substr(0, pos);
      right = std::string_view(line).substr(pos + 1);
    }
    const int32_t l = intern(left);
    const int32_t r = intern(right);
    const int32_t merged = intern(std::string(left) + std::string(right));
    impl.bpe.merges.insert_if_absent(BpeTable::key(l, r), {static_cast<int32_t>(rank), merged});
  }
  const ByteMap& bytes = ByteMap::get();
  for (int b = 0; b < 256; ++b) impl.bpe.byte_symbol[static_cast<size_t>(b)] = intern(bytes.encode(static_cast<uint8_t>(b)));
}

namespace {

struct Symbol {
  int32_t id;    // interned string; -1 once merged into its left neighbour
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
};

struct Candidate {
  int32_t rank;
  int32_t left;  // symbol index
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t merged;
};

// Lowest rank first; among equal ranks the leftmost (llm_bigram_bpe::comparator).
struct Later {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void TokenizerImpl::encode_bpe_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (ignore_merges) {
    std::string encoded;
    const ByteMap& bytes = ByteMap::get();
    for (char c : word) encoded += bytes.encode(static_cast<uint8_t>(c));
    if (const TokenId id = lookup(encoded); id != kNoToken) {
      out.push_back(id);
      return;
    }
  }
  const auto n = static_cast<int32_t>(word.size());
  std::vector<Symbol> syms(static_cast<size_t>(n));  // one per byte: each byte is one GPT-2 char
  for (int32_t i = 0; i < n; ++i) {
    syms[static_cast<size_t>(i)] = {bpe.byte_symbol[static_cast<uint8_t>(word[static_cast<size_t>(i)])], i - 1,
                                    i + 1 < n ? i + 1 : -1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, Later> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t l = syms[static_cast<size_t>(left)].id;
    const int32_t r = syms[static_cast<size_t>(right)].id;
    const PairTable::Value* m = bpe.merges.find(BpeTable::key(l, r));
    if (m == nullptr) return;
    queue.push({m->rank, left, right, l, r, m->merged});
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[static_cast<size_t>(c.left)];
    Symbol& right = syms[static_cast<size_t>(c.right)];
    // Stale when either side has changed since the candidate was queued.
    if (left.id != c.left_id || right.id != c.right_id || left.next != c.right) continue;
    left.id = c.merged;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const int32_t id = syms[static_cast<size_t>(i)].id;
    if (id < n_vocab()) {
      out.push_back(id);
      continue;
    }
    // Not a vocabulary entry: llama.cpp emits the single bytes of its text that are tokens.
    for (char c : symbol_text(id)) {
      if (const TokenId t = lookup(std::string_view(&c, 1)); t != kNoToken) out.push_back(t);
    }
  }
}

void TokenizerImpl::encode_bpe_fragment(std::string_view raw, std::vector<TokenId>& out) const {
  // llama.cpp works on code points: malformed bytes become U+FFFD. `clean` is what words are cut
  // from; `subject` is what PCRE2 sees (surrogates, which llama.cpp lets through, as U+FFFD: same
  // length, same class for every regex used here).
  std::string clean_storage, subject_storage;
  std::string_view clean = raw, subject = raw;
  if (!is_valid_utf8(raw)) {
    for (const uint32_t cpt : decode_utf8_lenient(raw)) {
      append_utf8(clean_storage, cpt);
      append_utf8(subject_storage, (cpt >= 0xD800 && cpt <= 0xDFFF) ? kReplacementChar : cpt);
    }
    clean = clean_storage;
    subject = subject_storage;
  }
  std::vector<Span> words;
  pre_tokenizer.split(subject, words);
  for (const auto& [begin, end] : words) encode_bpe_word(clean.substr(begin, end - begin), out);
}

}  // namespace er::tokenizer
