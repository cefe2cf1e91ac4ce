// Exact tests of the SentencePiece path (`tokenizer.ggml.model` = "llama") on a tiny vocabulary:
// score-ordered merges, "▁" for spaces, space prefix, byte fallback, and decoding.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace er::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

constexpr const char* kSp = "\xe2\x96\x81";  // "▁"

struct Entry {
  std::string text;
  float score;
  int32_t type;  // 1 normal, 2 unknown, 3 control, 6 byte
};

gguf::Metadata make_md(const std::vector<Entry>& entries, bool add_space_prefix) {
  std::vector<std::string> tokens;
  std::vector<Value> scores, types;
  for (const Entry& e : entries) {
    tokens.push_back(e.text);
    scores.push_back(Value::f32(e.score));
    types.push_back(Value::i32(e.type));
  }
  gguf::Metadata md;
  md.set("tokenizer.ggml.model", Value::string("llama"));
  md.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  md.set("tokenizer.ggml.scores", Value::array(ValueType::kFloat32, scores));
  md.set("tokenizer.ggml.token_type", Value::array(ValueType::kInt32, types));
  md.set("tokenizer.ggml.add_space_prefix", Value::boolean(add_space_prefix));
  return md;
}

// ids: 0 <unk>, 1 <s>, 2 </s>, 3 <0x5A> ('Z'), 4 ▁, 5 a, 6 b, 7 ab, 8 ▁a, 9 ▁ab, 10 <start>, 11 c
std::vector<Entry> vocab() {
  return {{"<unk>", 0, 2},           {"<s>", 0, 3},          {"</s>", 0, 3},       {"<0x5A>", 0, 6},
          {kSp, -1, 1},              {"a", -2, 1},           {"b", -2, 1},         {"ab", -3, 1},
          {std::string(kSp) + "a", -4, 1}, {std::string(kSp) + "ab", -5, 1}, {"<start>", 0, 3}, {"c", -2, 1}};
}

Tokenizer make(bool add_space_prefix) {
  auto t = Tokenizer::from_gguf(make_md(vocab(), add_space_prefix));
  EXPECT_TRUE(t.is_ok()) << t.status().message();
  return std::move(t).value();
}

TEST(TokenizerSpm, HigherScoresMergeFirst) {
  const Tokenizer t = make(false);
  EXPECT_EQ(t.type(), VocabType::kSpm);
  // "ab" (-3) beats "▁a" (-4): "▁ab" → "▁" + "ab" → "▁ab" (-5) is a token, so it merges.
  EXPECT_EQ(t.encode(" ab", false, false), (std::vector<TokenId>{9}));
  EXPECT_EQ(t.encode("ab", false, false), (std::vector<TokenId>{7}));
  EXPECT_EQ(t.encode("a b", false, false), (std::vector<TokenId>{5, 4, 6}));  // "▁b" is no token
}

TEST(TokenizerSpm, SpacePrefixAndBos) {
  const Tokenizer t = make(true);
  // Defaults for SentencePiece: BOS 1, EOS 2, UNK 0, BOS added.
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  EXPECT_EQ(t.unk(), 0);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.encode("ab", true, false), (std::vector<TokenId>{1, 9}));
  // After a special token the next text gets the prefix again.
  EXPECT_EQ(t.encode("ab<start>ab", false, true), (std::vector<TokenId>{9, 10, 9}));
  // Decoding removes the prefix space of the first token only.
  EXPECT_EQ(t.decode(std::vector<TokenId>{9, 9}), "ab ab");
  EXPECT_EQ(t.decode(std::vector<TokenId>{1, 9}), " ab");  // BOS is hidden but still first
}

TEST(TokenizerSpm, ByteFallbackAndUnknown) {
  const Tokenizer t = make(false);
  // 'Z' is not a token: its byte token <0x5A>; '?' has no byte token either: <unk>.
  EXPECT_EQ(t.encode("Z", false, false), (std::vector<TokenId>{3}));
  EXPECT_EQ(t.encode("?", false, false), (std::vector<TokenId>{0}));
  EXPECT_EQ(t.piece(3), "Z");
  EXPECT_EQ(t.piece(8), " a");
  EXPECT_EQ(t.decode(std::vector<TokenId>{5, 3, 4, 11}), "aZ c");
  // <unk> is a special token: hidden unless rendered.
  EXPECT_EQ(t.decode(std::vector<TokenId>{0, 5}), "a");
  EXPECT_EQ(t.decode(std::vector<TokenId>{0, 5}, true), "<unk>a");
}

}  // namespace
}  // namespace er::tokenizer
