// Pre-tokenizers: the regex lists llama.cpp applies per `tokenizer.ggml.pre`, run with PCRE2.
//
// llama.cpp applies a list of regexes in sequence: the first splits the text into pieces (the
// matches and the unmatched gaps between them), each next regex splits every piece further, never
// across piece boundaries. The regex strings below are llama.cpp's, verbatim; before compiling,
// `\s` / `\S` are rewritten to the Unicode White_Space set llama.cpp uses (PCRE2's own `\s` also
// matches U+180E), and everything else (`\p{L}`, `\p{N}`, `\p{P}`) is PCRE2 with UTF + UCP.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace er::tokenizer {

// What a `tokenizer.ggml.pre` value means for a BPE vocabulary (llama.cpp's llama_vocab::load).
struct PreTokenizerSpec {
  std::string_view kind;                 // the llama.cpp pre type this name maps to ("qwen2", ...)
  std::vector<std::string> regexes;      // llama.cpp's list, applied in sequence
  bool clean_spaces = true;              // decode removes " ," " ." ... (llama_detokenize)
  bool ignore_merges = false;            // a word that is a whole vocabulary entry is emitted as is
  bool add_bos_default = false;          // before `tokenizer.ggml.add_bos_token` is read
};

// The spec for a `tokenizer.ggml.pre` value ("" means absent → "default"); nullopt if unknown.
std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view pre);

// `regex` with `\s` and `\S` replaced by llama.cpp's White_Space set (exposed for tests).
std::string translate_regex(std::string_view regex);

// A byte range [begin, end) of the subject.
using Span = std::pair<uint32_t, uint32_t>;

class PreTokenizer {
 public:
  // Compiles every regex (UTF, UCP, JIT when available). Errors name the regex.
  static Result<PreTokenizer> create(const std::vector<std::string>& regexes);

  // Splits `subject` into consecutive non-empty pieces covering it. REQUIRES: `subject` is
  // valid UTF-8 (see is_valid_utf8).
  void split(std::string_view subject, std::vector<Span>& pieces) const;

 private:
  struct Compiled;
  std::vector<std::shared_ptr<const Compiled>> regexes_;
};

}  // namespace er::tokenizer
