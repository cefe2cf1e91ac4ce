// Tokenizer::encode: special tokens split out of the text first, then BPE or SPM on the rest.
#include <algorithm>

#include "tokenizer/tokenizer_impl.h"

namespace er::tokenizer {
namespace {

// A piece of the input: raw text to tokenize, or a special token found in it.
struct Fragment {
  uint32_t begin = 0;
  uint32_t end = 0;
  TokenId token = kNoToken;  // kNoToken for raw text
};

// llama.cpp's tokenizer_st_partition: for each special token, longest text first, every
// occurrence that lies entirely inside still-raw text (leftmost first, non-overlapping) becomes
// that token. Computed here from one scan of the text for all special texts, then claimed in
// that priority order.
std::vector<Fragment> partition(const TokenizerImpl& t, std::string_view text, bool parse_special) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  struct Hit {
    int32_t rank;
    uint32_t pos;
  };
  std::vector<Hit> hits;
  const SpecialTrie& trie = t.special_trie;
  for (uint32_t pos = 0; pos < n; ++pos) {
    if (!trie.first_byte[static_cast<uint8_t>(text[pos])]) continue;
    int32_t node = 0;
    for (uint32_t k = pos; k < n; ++k) {
      node = trie.child(node, static_cast<uint8_t>(text[k]));
      if (node < 0) break;
      const int32_t rank = trie.nodes[static_cast<size_t>(node)].rank;
      if (rank < 0) continue;
      const uint32_t a = t.attrs[static_cast<size_t>(t.specials[static_cast<size_t>(rank)])];
      // Without parse_special only user-defined tokens are split out.
      if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
      hits.push_back({rank, pos});
    }
  }
  std::vector<Fragment> out;
  if (hits.empty()) {
    if (n > 0) out.push_back({0, n, kNoToken});
    return out;
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
  });
  std::vector<uint8_t> claimed(n, 0);
  std::vector<Fragment> specials;
  for (const Hit& h : hits) {
    const TokenId id = t.specials[static_cast<size_t>(h.rank)];
    const auto len = static_cast<uint32_t>(t.texts[static_cast<size_t>(id)].size());
    if (std::any_of(claimed.begin() + h.pos, claimed.begin() + h.pos + len, [](uint8_t c) { return c != 0; })) continue;
    std::fill(claimed.begin() + h.pos, claimed.begin() + h.pos + len, uint8_t{1});
    specials.push_back({h.pos, h.pos + len, id});
  }
  std::sort(specials.begin(), specials.end(), [](const Fragment& a, const Fragment& b) { return a.begin < b.begin; });
  uint32_t at = 0;
  for (const Fragment& s : specials) {
    if (s.begin > at) out.push_back({at, s.begin, kNoToken});
    out.push_back(s);
    at = s.end;
  }
  if (at < n) out.push_back({at, n, kNoToken});
  return out;
}

}  // namespace

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const TokenizerImpl& t = *impl_;
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  const std::vector<Fragment> fragments = partition(t, text, parse_special);
  if (add_special && t.add_bos) out.push_back(t.bos);
  if (t.type == VocabType::kBpe) {
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        out.push_back(f.token);
      } else {
        t.encode_bpe_fragment(text.substr(f.begin, f.end - f.begin), out);
      }
    }
  } else {
    // SentencePiece: " " → "▁", and a leading " " for text that follows a special token (or
    // starts the input) when add_space_prefix is set.
    bool prev_special = true;
    std::string escaped;
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      escaped.clear();
      if (t.add_space_prefix && prev_special) escaped += "\xe2\x96\x81";
      for (const char c : text.substr(f.begin, f.end - f.begin)) {
        if (c == ' ') {
          escaped += "\xe2\x96\x81";
        } else {
          escaped += c;
        }
      }
      t.encode_spm_fragment(escaped, out);
      prev_special = false;
    }
  }
  if (add_special && t.add_eos) out.push_back(t.eos);
  return out;
}

}  // namespace er::tokenizer
