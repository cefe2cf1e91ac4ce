// GGUF metadata that contradicts the tensors, or absurd / non-finite hyper-parameters: refused at
// load (read_hparams on the file, Model::load) with a message naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "fixture_gen.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::model {
namespace {

// tiny-llama-f32 over the synthetic vocabulary: 3 layers, width 64, 4 heads (2 KV) of 16, ffn 128.
fixtures::FixtureSpec llama_spec() {
  const fixtures::Vocab v = fixtures::synthetic_vocab();
  for (const fixtures::FixtureSpec& s : fixtures::standard_specs(v, v)) {
    if (s.name == "tiny-llama-f32") return s;
  }
  ADD_FAILURE() << "no tiny-llama-f32 spec";
  return {};
}

gguf::Writer llama_writer() {
  auto w = fixtures::build_fixture(llama_spec(), fixtures::synthetic_vocab(), fixtures::kDefaultSeed);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  return std::move(w).value();
}

// Writes `w` and returns the error of loading it (read_hparams on the file and Model::load must
// both refuse it as bad input, with one-line messages that agree); "" (and a test failure) if
// either accepts it.
std::string load_error(const gguf::Writer& w) {
  test::TempDir dir;
  const std::string path = (dir / "bad.gguf").string();
  EXPECT_TRUE(w.write_file(path).is_ok());
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  if (!f.is_ok()) return "";
  auto hp = read_hparams(*f);
  auto m = Model::load(path);
  if (hp.is_ok() || m.is_ok()) {
    ADD_FAILURE() << "accepted: read_hparams " << (hp.is_ok() ? "ok" : hp.status().message()) << "; load "
                  << (m.is_ok() ? "ok" : m.status().message());
    return "";
  }
  EXPECT_TRUE(hp.status().is_bad_input()) << hp.status().message();
  EXPECT_TRUE(m.status().is_bad_input()) << m.status().message();
  EXPECT_EQ(m.status().message().find('\n'), std::string::npos);
  EXPECT_NE(m.status().message().find(path), std::string::npos) << "load error does not name the file: "
                                                                 << m.status().message();
  EXPECT_NE(m.status().message().find(hp.status().message()), std::string::npos) << m.status().message();
  return hp.status().message();
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(HParamsErrors, TheUnmodifiedFixtureLoads) {
  test::TempDir dir;
  const std::string path = (dir / "good.gguf").string();
  ASSERT_TRUE(llama_writer().write_file(path).is_ok());
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ((*m)->hparams().n_layer, 3);
}

TEST(HParamsErrors, BlockCountBelowTheLayersPresent) {
  gguf::Writer w = llama_writer();
  w.set("llama.block_count", gguf::Value::u32(2));
  const std::string m = load_error(w);
  EXPECT_HAS(m, "'llama.block_count' = 2");
  EXPECT_HAS(m, "tensors of 3 layers are present");
}

TEST(HParamsErrors, BlockCountAboveTheLayersPresent) {
  gguf::Writer w = llama_writer();
  w.set("llama.block_count", gguf::Value::u32(5));
  const std::string m = load_error(w);
  EXPECT_HAS(m, "'llama.block_count' = 5");
  EXPECT_HAS(m, "no 'blk.3.*' tensor");
}

TEST(HParamsErrors, HeadCountThatDoesNotDivideTheEmbedding) {
  gguf::Writer w = llama_writer();
  w.set("llama.attention.head_count", gguf::Value::u32(6));  // 64 / 6; head_count_kv 2 divides 6
  const std::string m = load_error(w);
  EXPECT_HAS(m, "'llama.attention.head_count' = 6 does not divide embedding_length = 64");
}

TEST(HParamsErrors, ZeroHeads) {
  gguf::Writer w = llama_writer();
  w.set("llama.attention.head_count", gguf::Value::u32(0));
  EXPECT_HAS(load_error(w), "'llama.attention.head_count' = 0 is out of range");
  w = llama_writer();
  w.set("llama.attention.head_count_kv", gguf::Value::u32(0));
  EXPECT_HAS(load_error(w), "'llama.attention.head_count_kv' = 0 is out of range");
}

TEST(HParamsErrors, ShapesThatDisagreeWithTheHyperParameters) {
  struct Case {
    const char* key;
    uint32_t value;
    const char* tensor;
  };
  for (const Case& c : {Case{"llama.attention.head_count_kv", 1, "blk.0.attn_k.weight"},
                        Case{"llama.feed_forward_length", 96, "blk.0.ffn_gate.weight"},
                        Case{"llama.embedding_length", 128, "token_embd.weight"}}) {
    gguf::Writer w = llama_writer();
    w.set(c.key, gguf::Value::u32(c.value));
    const std::string m = load_error(w);
    EXPECT_HAS(m, std::string("'") + c.key + "'");
    EXPECT_HAS(m, std::string("tensor '") + c.tensor + "'");
  }
  // A query width (head_count x key_length) that the attention tensors do not have.
  gguf::Writer w = llama_writer();
  w.set("llama.attention.key_length", gguf::Value::u32(32));
  w.set("llama.attention.value_length", gguf::Value::u32(32));
  const std::string m = load_error(w);
  EXPECT_HAS(m, "'llama.attention.head_count' / 'llama.attention.key_length'");
  EXPECT_HAS(m, "tensor 'blk.0.attn_q.weight'");
}

TEST(HParamsErrors, VocabSizeThatDisagreesWithTheTokens) {
  gguf::Writer w = llama_writer();
  w.set("llama.vocab_size", gguf::Value::u32(100));
  const std::string m = load_error(w);
  EXPECT_HAS(m, "'llama.vocab_size' = 100");
  EXPECT_HAS(m, "'tokenizer.ggml.tokens' holds");
}

TEST(HParamsErrors, NonFiniteOrNonPositiveRopeBase) {
  for (float v : {std::numeric_limits<float>::infinity(), std::nanf(""), 0.0f, -10000.0f}) {
    gguf::Writer w = llama_writer();
    w.set("llama.rope.freq_base", gguf::Value::f32(v));
    const std::string m = load_error(w);
    EXPECT_HAS(m, "'llama.rope.freq_base'");
    EXPECT_HAS(m, "finite number > 0");
  }
}

TEST(HParamsErrors, NonFiniteOrNonPositiveRmsEpsilon) {
  for (float v : {std::nanf(""), 0.0f, -1e-5f, std::numeric_limits<float>::infinity()}) {
    gguf::Writer w = llama_writer();
    w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(v));
    EXPECT_HAS(load_error(w), "'llama.attention.layer_norm_rms_epsilon'");
  }
}

TEST(HParamsErrors, ContextLengthZero) {
  gguf::Writer w = llama_writer();
  w.set("llama.context_length", gguf::Value::u32(0));
  EXPECT_HAS(load_error(w), "'llama.context_length' = 0 is out of range");
}

TEST(HParamsErrors, RopeDimensionCountZeroOrOdd) {
  for (uint32_t v : {0u, 7u}) {
    gguf::Writer w = llama_writer();
    w.set("llama.rope.dimension_count", gguf::Value::u32(v));
    EXPECT_HAS(load_error(w), "'llama.rope.dimension_count' = " + std::to_string(v));
  }
}

TEST(HParamsErrors, PerLayerArrayOfTheWrongLength) {
  gguf::Writer w = llama_writer();
  w.set("llama.feed_forward_length",
        gguf::Value::array(gguf::ValueType::kUint32, {gguf::Value::u32(128), gguf::Value::u32(128)}));
  EXPECT_HAS(load_error(w), "'llama.feed_forward_length' has 2 per-layer entries, but block_count = 3");
}

// The vocabulary is part of the model: an empty one, or a token that is not UTF-8, is refused at
// load naming tokenizer.ggml.tokens (and the token's index).
TEST(HParamsErrors, EmptyVocabulary) {
  gguf::Writer w = llama_writer();
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array({}));
  EXPECT_HAS(load_error(w), "'tokenizer.ggml.tokens' is empty");
}

TEST(HParamsErrors, NegativeSlidingWindowOrSoftcap) {
  {
    gguf::Writer w = llama_writer();
    w.set("llama.attention.sliding_window", gguf::Value::i32(-1));
    EXPECT_HAS(load_error(w), "'llama.attention.sliding_window' = -1 is out of range");
  }
  for (const char* key : {"llama.final_logit_softcapping", "llama.attn_logit_softcapping"}) {
    gguf::Writer w = llama_writer();
    w.set(key, gguf::Value::f32(-30.0f));
    const std::string m = load_error(w);
    EXPECT_HAS(m, std::string("'") + key + "' = -30 must be a finite number >= 0");
  }
}

TEST(ModelLoad, LogitSoftcappingIsRefusedNotIgnored) {
  gguf::Writer w = llama_writer();
  w.set("llama.final_logit_softcapping", gguf::Value::f32(30.0f));
  test::TempDir dir;
  const std::string path = (dir / "softcap.gguf").string();
  ASSERT_TRUE(w.write_file(path).is_ok());
  auto f = gguf::File::open(path);
  ASSERT_TRUE(f.is_ok());
  auto hp = read_hparams(*f);
  ASSERT_TRUE(hp.is_ok()) << hp.status().message();  // valid metadata ...
  EXPECT_EQ(hp->final_logit_softcap, 30.0);
  auto m = Model::load(path);  // ... that the engine does not implement
  ASSERT_FALSE(m.is_ok());
  EXPECT_TRUE(m.status().is_bad_input()) << m.status().message();
  EXPECT_HAS(m.status().message(), "'llama.final_logit_softcapping' = 30");
  EXPECT_HAS(m.status().message(), "soft-capping is not supported");
}

TEST(ArchConfig, Gemma3IsConfigurationWithFiveLocalLayersInSix) {
  auto g = arch_config("gemma3");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_TRUE(g->qk_norm && g->post_norms && g->embd_scale && g->q_prescale);
  EXPECT_FALSE(g->qkv_bias);
  EXPECT_EQ(g->ffn_act, FfnAct::kGeGlu);
  EXPECT_EQ(g->rope_base_swa, 10000.0);
  HParams hp;
  hp.n_layer = 18;
  hp.n_embd = 640;
  hp.n_head = 4;
  hp.head_dim_k = 256;
  hp.n_swa = 512;
  std::string global;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (!is_swa_layer(*g, hp, il)) global += std::to_string(il) + " ";
  }
  EXPECT_EQ(global, "5 11 17 ");  // llama.cpp's set_swa_pattern(6)
  EXPECT_EQ(attention_scale(*g, hp), 1.0f / 16.0f);
  hp.n_swa = 0;  // no window in the file: every layer global
  for (int64_t il = 0; il < hp.n_layer; ++il) EXPECT_FALSE(is_swa_layer(*g, hp, il));
  hp.n_swa = 512;
  auto llama = arch_config("llama");
  ASSERT_TRUE(llama.is_ok());
  for (int64_t il = 0; il < hp.n_layer; ++il) EXPECT_FALSE(is_swa_layer(*llama, hp, il)) << "llama ignores the window";
  EXPECT_EQ(llama->ffn_act, FfnAct::kSwiGlu);
  auto other = arch_config("gemma2");
  ASSERT_FALSE(other.is_ok());
  EXPECT_HAS(other.status().message(), "architecture 'gemma2' is not supported (supported: llama, qwen2, qwen3, gemma3)");
}

TEST(ModelLoad, VocabularyTokenThatIsNotUtf8) {
  gguf::Writer w = llama_writer();
  auto tokens = w.metadata().get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok());
  (*tokens)[42] = "\xff\xfe";
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(*tokens));
  test::TempDir dir;
  const std::string path = (dir / "bad-vocab.gguf").string();
  ASSERT_TRUE(w.write_file(path).is_ok());
  auto m = Model::load(path);
  ASSERT_FALSE(m.is_ok());
  EXPECT_TRUE(m.status().is_bad_input());
  EXPECT_HAS(m.status().message(), path);
  EXPECT_HAS(m.status().message(), "metadata key 'tokenizer.ggml.tokens': token 42 is not valid UTF-8 (bytes ff fe)");
}

}  // namespace
}  // namespace er::model
