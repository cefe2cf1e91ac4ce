// UTF-8 helpers with llama.cpp's exact leniency, and GPT-2's byte ↔ printable-character mapping.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace er::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Bytes of the UTF-8 sequence a lead byte announces (1 for ASCII and for stray continuation
// bytes), as llama.cpp's unicode_len_utf8: by the top four bits only.
inline size_t utf8_len_from_lead(uint8_t lead) {
  static constexpr uint8_t kLookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLookup[lead >> 4];
}

// Decodes like llama.cpp's unicode_cpts_from_utf8: a malformed sequence (bad lead byte, missing or
// bad continuation byte) yields U+FFFD and skips one byte. Overlong forms and surrogates are
// decoded as written (not rejected), exactly as llama.cpp does.
std::vector<uint32_t> decode_utf8_lenient(std::string_view text);

// Appends the UTF-8 form of `cpt`. Code points above U+10FFFF are written as U+FFFD.
void append_utf8(std::string& out, uint32_t cpt);

// True when `text` is strictly valid UTF-8 (what PCRE2 accepts): no overlongs, no surrogates,
// nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// GPT-2 byte-level BPE alphabet: every byte maps to one printable code point.
class ByteMap {
 public:
  static const ByteMap& get();
  // The UTF-8 form of the code point that stands for byte `b`.
  const std::string& encode(uint8_t b) const { return byte_to_utf8_[b]; }
  // The byte a code point stands for, or -1 when it is not in the alphabet.
  int decode(uint32_t cpt) const { return cpt < cpt_to_byte_.size() ? cpt_to_byte_[cpt] : -1; }

 private:
  ByteMap();
  std::array<std::string, 256> byte_to_utf8_;
  std::vector<int16_t> cpt_to_byte_;  // indexed by code point (< 324)
};

}  // namespace er::tokenizer
