// The tokenizer on the fixtures' vocabularies: the synthetic one (always) and the tiny models'.
#include <gtest/gtest.h>

#include "fixture_gen.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace er::tokenizer {
namespace {

TEST(TokenizerFixtures, SyntheticVocabulary) {
  const fixtures::Vocab v = fixtures::synthetic_vocab();
  auto t = Tokenizer::from_gguf(v.keys);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->n_vocab(), v.n_vocab);
  const std::string text = "the cat<|im_end|>";
  const auto ids = t->encode(text, false, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_TRUE(t->is_eog(ids.back()));
  EXPECT_EQ(t->decode(ids, true), text);
  const auto the = t->find("\xc4\xa0the");  // "Ġthe", built by the merges
  ASSERT_TRUE(the.has_value());
  EXPECT_EQ(t->encode(" the", false, false), std::vector<TokenId>{*the});
}

// Every generated fixture must load a tokenizer (they copy real vocabularies when installed).
TEST(TokenizerFixtures, GeneratedFixturesLoad) {
  const std::filesystem::path dir = test::fixture_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) GTEST_SKIP() << "no fixtures in " << dir;
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".gguf") continue;
    auto file = gguf::File::open(entry.path().string());
    ASSERT_TRUE(file.is_ok()) << file.status().message();
    auto t = Tokenizer::from_gguf(file->metadata());
    ASSERT_TRUE(t.is_ok()) << entry.path() << ": " << t.status().message();
    EXPECT_EQ(t->decode(t->encode("Hello, world! 123", false, true)), "Hello, world! 123") << entry.path();
    ++loaded;
  }
  if (loaded == 0) GTEST_SKIP() << "no .gguf fixtures in " << dir;
}

}  // namespace
}  // namespace er::tokenizer
