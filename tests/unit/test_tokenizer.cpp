// Exact tests of the BPE tokenizer on a hand-built vocabulary: merge order, byte-level mapping,
// special tokens, BOS/EOG, decoding, streaming, and errors that name the metadata key.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

// GPT-2 character for a byte ("Ġ" for ' ', "Ċ" for '\n', 'a' for 'a').
std::string bc(char c) { return ByteMap::get().encode(static_cast<uint8_t>(c)); }

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  int32_t add(const std::string& text, int32_t type = 1) {
    tokens.push_back(text);
    types.push_back(type);
    return static_cast<int32_t>(tokens.size()) - 1;
  }
};

// A vocabulary of every GPT-2 byte character (ids 0..255, in byte order) plus `extra`.
gguf::Metadata make_md(const Vocab& extra, const std::vector<std::string>& merges, const std::string& pre = "gpt-2") {
  std::vector<std::string> tokens;
  std::vector<Value> types;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(ByteMap::get().encode(static_cast<uint8_t>(b)));
    types.push_back(Value::i32(1));
  }
  for (size_t i = 0; i < extra.tokens.size(); ++i) {
    tokens.push_back(extra.tokens[i]);
    types.push_back(Value::i32(extra.types[i]));
  }
  gguf::Metadata md;
  md.set("tokenizer.ggml.model", Value::string("gpt2"));
  md.set("tokenizer.ggml.pre", Value::string(pre));
  md.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  md.set("tokenizer.ggml.token_type", Value::array(ValueType::kInt32, types));
  md.set("tokenizer.ggml.merges", Value::string_array(merges));
  return md;
}

Tokenizer make(const gguf::Metadata& md) {
  auto t = Tokenizer::from_gguf(md);
  EXPECT_TRUE(t.is_ok()) << t.status().message();
  return std::move(t).value();
}

TokenId byte_id(char c) { return static_cast<uint8_t>(c); }

TEST(Tokenizer, MergesApplyInRankOrder) {
  Vocab v;
  const TokenId ab = 256 + v.add("ab"), bc_ = 256 + v.add("bc"), abc = 256 + v.add("abc");
  // "a b" first: "abc" → "ab" "c" → (no "ab c" merge) stays two tokens.
  EXPECT_EQ(make(make_md(v, {"a b", "b c"})).encode("abc", false, false), (std::vector<TokenId>{ab, byte_id('c')}));
  // "b c" first: "a" "bc".
  EXPECT_EQ(make(make_md(v, {"b c", "a b"})).encode("abc", false, false), (std::vector<TokenId>{byte_id('a'), bc_}));
  // A later merge builds on an earlier one.
  EXPECT_EQ(make(make_md(v, {"a b", "b c", "ab c"})).encode("abc", false, false), (std::vector<TokenId>{abc}));
  // Equal candidates: the leftmost pair merges first ("aaa" → "aa" "a").
  Vocab w;
  const TokenId aa = 256 + w.add("aa");
  EXPECT_EQ(make(make_md(w, {"a a"})).encode("aaa", false, false), (std::vector<TokenId>{aa, byte_id('a')}));
  EXPECT_EQ(make(make_md(w, {"a a"})).encode("aaaa", false, false), (std::vector<TokenId>{aa, aa}));
}

TEST(Tokenizer, ByteLevelMappingAndPieces) {
  Vocab v;
  const TokenId sp_b = 256 + v.add(bc(' ') + "b");
  const Tokenizer t = make(make_md(v, {bc(' ') + " b"}));
  EXPECT_EQ(bc(' '), "\xc4\xa0");   // "Ġ"
  EXPECT_EQ(bc('\n'), "\xc4\x8a");  // "Ċ"
  // gpt2 pre-tokenizer: "a b" → "a", " b"; " b" is bytes 0x20 0x62 → "Ġb".
  EXPECT_EQ(t.encode("a b", false, false), (std::vector<TokenId>{byte_id('a'), sp_b}));
  EXPECT_EQ(t.piece(sp_b), " b");
  EXPECT_EQ(t.text(sp_b), "\xc4\xa0" "b");
  EXPECT_EQ(t.piece(byte_id('\n')), "\n");
  EXPECT_EQ(t.piece(0xE9), "\xe9");  // a lone byte stays a byte
  // UTF-8 text goes through as its bytes and comes back intact.
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac 1\n";
  EXPECT_EQ(t.decode(t.encode(text, false, false)), text);
  EXPECT_EQ(t.find(bc(' ') + "b"), sp_b);
  EXPECT_EQ(t.find("nope"), std::nullopt);
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacter) {
  const Tokenizer t = make(make_md({}, {}));
  // As llama.cpp: each malformed byte is U+FFFD (EF BF BD) before BPE.
  EXPECT_EQ(t.decode(t.encode("a\xff" "b", false, false)), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(t.decode(t.encode("\xc3(", false, false)), "\xef\xbf\xbd(");
}

TEST(Tokenizer, SpecialTokensSplitOutOfText) {
  Vocab v;
  const TokenId im_start = 256 + v.add("<|im_start|>", 3);
  const TokenId tool = 256 + v.add("<tool>", 4);
  const Tokenizer t = make(make_md(v, {}));
  EXPECT_EQ(t.encode("x<|im_start|>y", false, true), (std::vector<TokenId>{byte_id('x'), im_start, byte_id('y')}));
  // Without parse_special a control token's text is ordinary text...
  const auto plain = t.encode("<|im_start|>", false, false);
  EXPECT_EQ(plain.size(), 12u);
  EXPECT_EQ(t.decode(plain), "<|im_start|>");
  // ...but user-defined tokens are always recognized (llama.cpp, HF tokenizers).
  EXPECT_EQ(t.encode("a<tool>", false, false), (std::vector<TokenId>{byte_id('a'), tool}));
  EXPECT_TRUE(t.is_control(im_start));
  EXPECT_FALSE(t.is_control(tool));
  // Control tokens are hidden when decoding unless rendered.
  EXPECT_EQ(t.decode(std::vector<TokenId>{im_start, byte_id('x')}), "x");
  EXPECT_EQ(t.decode(std::vector<TokenId>{im_start, byte_id('x')}, true), "<|im_start|>x");
  EXPECT_EQ(t.piece(im_start), "<|im_start|>");
}

TEST(Tokenizer, LongerSpecialTokensClaimTextFirst) {
  Vocab v;
  const TokenId xy = 256 + v.add("XY", 3);
  const TokenId yzw = 256 + v.add("YZW", 3);
  const TokenId pair = 256 + v.add("<a><b>", 3);
  const TokenId a = 256 + v.add("<a>", 3);
  const Tokenizer t = make(make_md(v, {}));
  EXPECT_EQ(t.encode("<a><b><a>", false, true), (std::vector<TokenId>{pair, a}));
  // Longest first over the whole text, not leftmost-longest: "YZW" wins over the earlier "XY".
  EXPECT_EQ(t.encode("XYZW", false, true), (std::vector<TokenId>{byte_id('X'), yzw}));
  EXPECT_EQ(t.encode("XYXY", false, true), (std::vector<TokenId>{xy, xy}));
}

TEST(Tokenizer, BosEosAndEndOfGeneration) {
  Vocab v;
  const TokenId eot = 256 + v.add("<|endoftext|>", 3);
  const TokenId im_end = 256 + v.add("<|im_end|>", 1);  // typed normal: llama.cpp makes it control
  const TokenId bos = 256 + v.add("<s>", 3);
  gguf::Metadata md = make_md(v, {});
  md.set("tokenizer.ggml.bos_token_id", Value::u32(static_cast<uint32_t>(bos)));
  md.set("tokenizer.ggml.eos_token_id", Value::u32(static_cast<uint32_t>(im_end)));
  md.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
  const Tokenizer t = make(md);
  EXPECT_EQ(t.bos(), bos);
  EXPECT_EQ(t.eos(), im_end);
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.add_eos());
  EXPECT_EQ(t.encode("a", true, true), (std::vector<TokenId>{bos, byte_id('a')}));
  EXPECT_EQ(t.encode("a", false, true), (std::vector<TokenId>{byte_id('a')}));
  EXPECT_EQ(t.encode("", true, true), (std::vector<TokenId>{bos}));
  EXPECT_TRUE(t.is_eog(eot));
  EXPECT_TRUE(t.is_eog(im_end));
  EXPECT_FALSE(t.is_eog(bos));
  EXPECT_TRUE(t.is_control(im_end));
  // EOT is detected by name, as llama.cpp does (whichever its token map yields first).
  EXPECT_TRUE(t.eot() == eot || t.eot() == im_end) << t.eot();
  EXPECT_EQ(t.eog_ids(), (std::vector<TokenId>{eot, im_end}));
}

TEST(Tokenizer, DefaultsWhenKeysAreAbsent) {
  const Tokenizer t = make(make_md({}, {}));
  // llama.cpp's defaults for a gpt2 vocabulary: BOS = EOS = 11, no BOS added.
  EXPECT_EQ(t.bos(), 11);
  EXPECT_EQ(t.eos(), 11);
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.n_vocab(), 256);
  EXPECT_EQ(t.pre(), "gpt-2");
  // llama-bpe adds BOS unless the metadata says otherwise.
  EXPECT_TRUE(make(make_md({}, {}, "llama-bpe")).add_bos());
}

TEST(Tokenizer, CleanSpacesFollowsThePreTokenizer) {
  const std::vector<TokenId> ids = {byte_id('a'), byte_id(' '), byte_id(','), byte_id(' '), byte_id('\''), byte_id('s')};
  EXPECT_EQ(make(make_md({}, {}, "gpt-2")).decode(ids), "a,'s");   // llama.cpp cleans " ," and " 's"
  EXPECT_EQ(make(make_md({}, {}, "qwen2")).decode(ids), "a , 's");  // qwen2 / smollm do not
}

TEST(Tokenizer, ErrorsNameTheKey) {
  gguf::Metadata md = make_md({}, {});
  md.set("tokenizer.ggml.pre", Value::string("no-such-pre"));
  auto r = Tokenizer::from_gguf(md);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.pre"), std::string::npos) << r.status().message();

  md = make_md({}, {});
  md.set("tokenizer.ggml.model", Value::string("bert"));
  r = Tokenizer::from_gguf(md);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.model"), std::string::npos) << r.status().message();

  gguf::Metadata no_tokens;
  no_tokens.set("tokenizer.ggml.model", Value::string("gpt2"));
  r = Tokenizer::from_gguf(no_tokens);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.tokens"), std::string::npos) << r.status().message();

  gguf::Metadata no_merges;
  no_merges.set("tokenizer.ggml.model", Value::string("gpt2"));
  no_merges.set("tokenizer.ggml.tokens", Value::string_array({"a", "b"}));
  r = Tokenizer::from_gguf(no_merges);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.merges"), std::string::npos) << r.status().message();

  gguf::Metadata dup = make_md({}, {});
  dup.set("tokenizer.ggml.tokens", Value::string_array({"a", "a"}));
  r = Tokenizer::from_gguf(dup);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("duplicate"), std::string::npos) << r.status().message();

  md = make_md({}, {});
  md.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
  md.set("tokenizer.ggml.bos_token_id", Value::u32(100000));
  r = Tokenizer::from_gguf(md);
  ASSERT_TRUE(r.is_ok());  // an out-of-range id keeps the default (11), as llama.cpp does
  EXPECT_EQ(r->bos(), 11);

  md = make_md({}, {});
  md.set("tokenizer.ggml.token_type", Value::array(ValueType::kInt32, {Value::i32(1)}));
  r = Tokenizer::from_gguf(md);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.token_type"), std::string::npos) << r.status().message();
}

TEST(Tokenizer, EmptyVocabularyNamesTheKey) {
  gguf::Metadata md = make_md({}, {});
  md.set("tokenizer.ggml.tokens", Value::string_array({}));
  auto r = Tokenizer::from_gguf(md);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("metadata key 'tokenizer.ggml.tokens' is empty"), std::string::npos)
      << r.status().message();
}

TEST(Tokenizer, TokenThatIsNotUtf8NamesTheKeyAndIndex) {
  // A stray continuation byte, a truncated sequence, an overlong '/', a surrogate.
  for (const std::string& bad : {std::string("\x80"), std::string("a\xe2\x82"), std::string("\xc0\xaf"),
                                std::string("\xed\xa0\x80")}) {
    Vocab extra;
    extra.add("ok");
    extra.add(bad);
    gguf::Metadata md = make_md(extra, {});
    auto r = Tokenizer::from_gguf(md);
    ASSERT_FALSE(r.is_ok()) << "accepted a token of " << bad.size() << " bytes";
    EXPECT_TRUE(r.status().is_bad_input());
    EXPECT_NE(r.status().message().find("metadata key 'tokenizer.ggml.tokens': token 257 is not valid UTF-8"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(StreamDecoder, HoldsBackIncompleteUtf8) {
  const Tokenizer t = make(make_md({}, {}));
  StreamDecoder s(t);
  // "é" = C3 A9, one byte token each.
  EXPECT_EQ(s.push(0xC3), "");
  EXPECT_EQ(s.push(0xA9), "\xc3\xa9");
  // "😀" = F0 9F 98 80 in four tokens, after ASCII.
  EXPECT_EQ(s.push('a'), "a");
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x98), "");
  EXPECT_EQ(s.push(0x80), "\xf0\x9f\x98\x80");
  // A complete prefix is released while the incomplete tail waits.
  Vocab v;
  const TokenId x_lead = 256 + v.add(std::string("x").append(bc('\xe2')));
  const Tokenizer t2 = make(make_md(v, {}));
  StreamDecoder s2(t2);
  EXPECT_EQ(s2.push(x_lead), "x");
  EXPECT_EQ(s2.push(0x82), "");
  EXPECT_EQ(s2.push(0xAC), "\xe2\x82\xac");
  // An unfinished sequence at the end comes out of flush().
  EXPECT_EQ(s2.push(0xE2), "");
  EXPECT_EQ(s2.flush(), "\xe2");
  EXPECT_EQ(s2.flush(), "");
  // Stray continuation bytes are not held forever.
  EXPECT_EQ(s2.push(0x80), "\x80");
}

TEST(StreamDecoder, SkipsControlTokensUnlessRendered) {
  Vocab v;
  const TokenId end = 256 + v.add("<|im_end|>", 3);
  const Tokenizer t = make(make_md(v, {}));
  StreamDecoder hidden(t);
  EXPECT_EQ(hidden.push(end), "");
  StreamDecoder shown(t, true);
  EXPECT_EQ(shown.push(end), "<|im_end|>");
  EXPECT_EQ(hidden.push(-5), "");
}

}  // namespace
}  // namespace er::tokenizer
