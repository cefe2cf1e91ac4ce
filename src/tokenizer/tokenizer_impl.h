// Internal state of a Tokenizer: vocabulary, attributes, special tokens, BPE merges, pre-tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/flat_table.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace er::tokenizer {

// Hash usable with string_view look-ups; gives the same values as std::hash<std::string>, so a map
// filled in id order iterates in the same order as llama.cpp's token_to_id (which some of its
// special-token detection depends on).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Byte-level BPE merges over interned symbol strings. Symbols [0, n_vocab) are the vocabulary
// tokens themselves; strings that appear only in merges (or GPT-2 byte characters missing from
// the vocabulary) get ids after them.
struct BpeTable {
  PairTable merges;                        // key(left, right) → {rank: merges line, merged symbol}
  std::vector<std::string> extra_texts;    // texts of symbols >= n_vocab
  std::array<int32_t, 256> byte_symbol{};  // symbol of each raw byte's GPT-2 character

  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
};

// Prefix tree of special-token texts, for the special-token partition.
struct SpecialTrie {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // byte → child node
    int32_t rank = -1;                              // index into specials when a text ends here
  };
  std::vector<Node> nodes = std::vector<Node>(1);   // nodes[0] is the root
  std::array<bool, 256> first_byte{};               // bytes some special text starts with
  void insert(std::string_view text, int32_t rank);
  int32_t child(int32_t node, uint8_t b) const;
};

struct TokenizerImpl {
  TokenizerImpl() = default;
  TokenizerImpl(const TokenizerImpl&) = delete;  // `index` points into `texts`
  TokenizerImpl& operator=(const TokenizerImpl&) = delete;

  VocabType type = VocabType::kBpe;
  std::string pre = "default";
  PreTokenizerSpec pre_spec;  // BPE only
  PreTokenizer pre_tokenizer;

  std::vector<std::string> texts;   // (n_vocab,) vocabulary entries as stored
  std::vector<float> scores;        // (n_vocab,) SPM merge priorities (0 when absent)
  std::vector<uint32_t> attrs;      // (n_vocab,) TokenAttr bits
  std::vector<std::string> pieces;  // (n_vocab,) decoded bytes, control tokens as text
  TextIndex index;                  // text → id over `texts`

  TokenId bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken, unk = kNoToken;
  TokenId sep = kNoToken, pad = kNoToken, mask = kNoToken;
  TokenId fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken;
  TokenId fim_pad = kNoToken, fim_rep = kNoToken, fim_sep = kNoToken;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // SPM: " " before text that starts a fragment after a special
  bool clean_spaces = false;      // decode: llama_detokenize's clean-up passes
  bool ignore_merges = false;
  std::vector<TokenId> eog;       // sorted

  std::vector<TokenId> specials;  // control / user-defined / unknown tokens, longest text first
  SpecialTrie special_trie;
  BpeTable bpe;

  int32_t n_vocab() const { return static_cast<int32_t>(texts.size()); }
  bool valid(TokenId id) const { return id >= 0 && id < n_vocab(); }
  TokenId lookup(std::string_view text) const { return index.find(text); }

  // Encoding pieces (encode.cpp, bpe.cpp, spm.cpp).
  void encode_bpe_fragment(std::string_view raw, std::vector<TokenId>& out) const;
  void encode_bpe_word(std::string_view word, std::vector<TokenId>& out) const;
  void encode_spm_fragment(std::string_view escaped, std::vector<TokenId>& out) const;
  const std::string& symbol_text(int32_t symbol) const {
    return symbol < n_vocab() ? texts[static_cast<size_t>(symbol)] : bpe.extra_texts[static_cast<size_t>(symbol - n_vocab())];
  }
};

// Builds the merge table from `tokenizer.ggml.merges` lines ("left right"). REQUIRES: index built.
void build_bpe_table(TokenizerImpl& impl, const std::vector<std::string>& merges);

// llama.cpp's token_to_piece(special = true) for one token.
std::string token_to_piece(const TokenizerImpl& impl, TokenId id);

}  // namespace er::tokenizer
