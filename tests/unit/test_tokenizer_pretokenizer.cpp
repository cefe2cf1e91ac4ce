// Exact tests of the pre-tokenizers: llama.cpp's regex lists per `tokenizer.ggml.pre`, applied in
// sequence with PCRE2, and the \s rewrite to llama.cpp's whitespace set.
#include <gtest/gtest.h>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {
namespace {

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  const auto spec = find_pre_tokenizer(pre);
  EXPECT_TRUE(spec.has_value()) << pre;
  auto pt = PreTokenizer::create(spec->regexes);
  EXPECT_TRUE(pt.is_ok()) << pt.status().message();
  std::vector<Span> spans;
  pt->split(text, spans);
  std::vector<std::string> out;
  for (const auto& [b, e] : spans) out.emplace_back(text.substr(b, e - b));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's  end 123!!"),
            (Pieces{"Hello", " world", "'s", " ", " end", " 123", "!!"}));
  // \s+(?!\S) leaves the last space to the next word; trailing whitespace stays together.
  EXPECT_EQ(split("gpt-2", "a   b  "), (Pieces{"a", "  ", " b", "  "}));
  EXPECT_EQ(split("gpt-2", "x\n\ny"), (Pieces{"x", "\n", "\n", "y"}));
}

TEST(PreTokenizer, SmollmSplitsDigitsFirst) {
  // "\p{N}" runs first: every digit is a piece, and the gpt2 regex never sees " 1" together.
  EXPECT_EQ(split("smollm", "x 123 y"), (Pieces{"x", " ", "1", "2", "3", " y"}));
}

TEST(PreTokenizer, Qwen2) {
  EXPECT_EQ(split("qwen2", "I'M 2024 ok!!\n\nnext"),
            (Pieces{"I", "'M", " ", "2", "0", "2", "4", " ok", "!!\n\n", "next"}));
  EXPECT_EQ(split("deepseek-r1-qwen", "a\n  b"), (Pieces{"a", "\n", " ", " b"}));
  EXPECT_EQ(split("qwen2", "\xe4\xb8\xad\xe6\x96\x87 x"), (Pieces{"\xe4\xb8\xad\xe6\x96\x87", " x"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(split("llama-bpe", "1234567 x"), (Pieces{"123", "456", "7", " x"}));
  EXPECT_EQ(split("llama-bpe", "don'T"), (Pieces{"don", "'T"}));
}

TEST(PreTokenizer, DefaultIsLlamaCppsFourRegexList) {
  // [\p{P}$+<=>^~|]+ first, then gpt2, then \p{N}+, then [0-9]{3}.
  EXPECT_EQ(split("default", "a+b 12345"), (Pieces{"a", "+", "b", " ", "123", "45"}));
  EXPECT_EQ(split("", "a+b"), split("default", "a+b"));  // absent key
}

TEST(PreTokenizer, UnknownNames) {
  EXPECT_FALSE(find_pre_tokenizer("no-such").has_value());
  EXPECT_TRUE(find_pre_tokenizer("llama3")->ignore_merges);
  EXPECT_FALSE(find_pre_tokenizer("smollm")->clean_spaces);
  EXPECT_TRUE(find_pre_tokenizer("gpt-2")->clean_spaces);
}

TEST(PreTokenizer, WhitespaceIsLlamaCppsSet) {
  EXPECT_EQ(translate_regex(R"(\s+(?!\S))"),
            R"([\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+)"
            R"((?![^\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]))");
  EXPECT_EQ(translate_regex(R"([^\s\p{L}])"),
            R"([^\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\p{L}])");
  // U+180E is not whitespace for llama.cpp (PCRE2's own \s would say it is): it is a symbol-ish
  // "other" character that joins the punctuation run.
  EXPECT_EQ(split("gpt-2", "a \xe1\xa0\x8e!"), (Pieces{"a", " \xe1\xa0\x8e!"}));
  // U+3000 is.
  EXPECT_EQ(split("gpt-2", "a\xe3\x80\x80\xe3\x80\x80" "b"), (Pieces{"a", "\xe3\x80\x80", "\xe3\x80\x80", "b"}));
}

TEST(PreTokenizer, PiecesCoverTheText) {
  const std::string text = "Mixed: \xf0\x9f\x98\x80 emoji, tabs\t\tand 12,345.6 \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7\n";
  for (const char* pre : {"default", "gpt-2", "smollm", "qwen2", "llama-bpe"}) {
    std::string joined;
    for (const auto& p : split(pre, text)) {
      EXPECT_FALSE(p.empty()) << pre;
      joined += p;
    }
    EXPECT_EQ(joined, text) << pre;
  }
}

TEST(Utf8, LenientDecodingMatchesLlamaCpp) {
  EXPECT_EQ(decode_utf8_lenient("a\xc3\xa9"), (std::vector<uint32_t>{'a', 0xE9}));
  EXPECT_EQ(decode_utf8_lenient("\xff" "a"), (std::vector<uint32_t>{0xFFFD, 'a'}));
  EXPECT_EQ(decode_utf8_lenient("\xe2\x82"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_utf8_lenient("\xc0\x80"), (std::vector<uint32_t>{0}));         // overlong, as written
  EXPECT_EQ(decode_utf8_lenient("\xed\xa0\x80"), (std::vector<uint32_t>{0xD800}));  // surrogate, as written
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
  std::string s;
  append_utf8(s, 0x1F600);
  EXPECT_EQ(s, "\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace er::tokenizer
