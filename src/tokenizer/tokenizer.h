// Tokenizer built from GGUF metadata: byte-level BPE and SentencePiece, special tokens, decoding.
//
// Behaviour follows llama.cpp's llama-vocab.cpp (the project's reference, see docs/tokenizer.md):
// the same pre-tokenizer regexes per `tokenizer.ggml.pre`, the same special-token splitting, the
// same token attributes (including the control-type overrides for end-of-generation tokens), the
// same default special ids, and the same detokenization rules.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace er::tokenizer {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// Token attributes as bits (llama.cpp's llama_token_attr values).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
};

enum class VocabType { kBpe, kSpm };

struct TokenizerImpl;  // defined in tokenizer_impl.h

class Tokenizer {
 public:
  // Reads `tokenizer.ggml.*` keys. Errors name the key at fault.
  static Result<Tokenizer> from_gguf(const gguf::Metadata& md);

  // Text → ids. `add_special` adds BOS (and EOS) as the metadata asks; `parse_special` turns
  // control-token texts found in `text` (e.g. "<|im_start|>") into their ids. User-defined
  // tokens are always recognized, as in llama.cpp. Invalid UTF-8 bytes become U+FFFD.
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  // Ids → text as llama_detokenize(remove_special=false, unparse_special=render_special) does:
  // control/unknown tokens are dropped unless `render_special`; BPE models whose pre-tokenizer
  // asks for it get llama.cpp's "clean spaces" pass (" ," → ","...). Out-of-range ids are skipped.
  std::string decode(std::span<const TokenId> ids, bool render_special = false) const;

  // Raw bytes of one token as decoded (byte-level mapping undone, "▁" → " " for SPM, byte tokens
  // as their byte); control tokens as their text. REQUIRES: 0 <= id < n_vocab().
  const std::string& piece(TokenId id) const;
  // The token's vocabulary text as stored in the GGUF (byte-level encoded for BPE).
  const std::string& text(TokenId id) const;
  uint32_t attr(TokenId id) const;  // TokenAttr bits; 0 for out-of-range ids

  int32_t n_vocab() const;
  TokenId bos() const;  // -1 when absent
  TokenId eos() const;
  TokenId eot() const;
  TokenId unk() const;
  TokenId pad() const;
  bool add_bos() const;
  bool add_eos() const;
  VocabType type() const;
  const std::string& pre() const;  // `tokenizer.ggml.pre` as read ("default" when absent)

  bool is_eog(TokenId id) const;      // end of generation: eos, eot, <|im_end|>, ...
  bool is_control(TokenId id) const;  // attr has kAttrControl
  const std::vector<TokenId>& eog_ids() const;  // sorted

  std::optional<TokenId> find(std::string_view token_text) const;  // exact vocabulary entry

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const TokenizerImpl> impl_;  // immutable, shared by copies
};

// Turns a token stream into UTF-8 text safely for streaming: holds back an incomplete UTF-8
// sequence at the end until the bytes that complete it arrive. The output is the concatenation of
// the tokens' pieces (llama.cpp's streaming behaviour: no clean-spaces pass).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = false)
      : tok_(&tok), render_special_(render_special) {}
  // Text that is complete after `id`; may be empty.
  std::string push(TokenId id);
  // Whatever is held back (an incomplete sequence at the end of the stream), then resets.
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool render_special_;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace er::tokenizer
