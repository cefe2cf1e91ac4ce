// Prompts under each policy (reference.md §4 texts), thinking formats per family, option checks.
#include <gtest/gtest.h>

#include "model/model.h"
#include "reasoning/reasoner.h"
#include "support/test_support.h"

namespace er::reasoning {
namespace {

using tokenizer::ChatFamily;

ThinkingFormat tags(ChatFamily f) {
  ThinkingFormat t;
  t.has_think_tags = true;
  t.family = f;
  t.qwen3_switch = f == ChatFamily::kQwen3;
  return t;
}
ThinkingFormat tagless() {
  ThinkingFormat t;
  t.family = ChatFamily::kChatML;
  return t;
}
const std::string kR1Bos = "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
const std::string kR1User = "<\xef\xbd\x9cUser\xef\xbd\x9c>";
const std::string kR1Assistant = "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>";

TEST(RenderPrompt, R1PlainAndNoThink) {
  const tokenizer::ChatTemplate t{ChatFamily::kDeepSeekR1, ""};
  PromptSpec s;
  s.question = "What is 2+2?";
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kDeepSeekR1), s, {}), kR1Bos + kR1User + "What is 2+2?" + kR1Assistant + "<think>\n");
  ThinkingOptions o;
  o.no_think = true;
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kDeepSeekR1), s, o),
            kR1Bos + kR1User + "What is 2+2?" + kR1Assistant + "<think>\nOkay, I think I have finished thinking.\n</think>\n\n");
}

TEST(RenderPrompt, Qwen3UsesItsOwnSwitch) {
  const tokenizer::ChatTemplate t{ChatFamily::kQwen3, ""};
  PromptSpec s;
  s.question = "Hi";
  ThinkingOptions o;
  o.no_think = true;
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kQwen3), s, o),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kQwen3), s, {}), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(RenderPrompt, BudgetSentences) {
  const tokenizer::ChatTemplate t{ChatFamily::kQwen3, ""};
  PromptSpec s;
  s.question = "Q?";
  ThinkingOptions o;
  o.prompt_budget = 100;
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kQwen3), s, o),
            "<|im_start|>user\nQ? Please limit your answer to 100 tokens at most.<|im_end|>\n<|im_start|>assistant\n");
  o = {};
  o.l1 = 512;
  EXPECT_EQ(render_prompt(t, tags(ChatFamily::kQwen3), s, o),
            "<|im_start|>user\nQ?\n\nLet's think step by step and output the final answer within \\boxed{}. Think for 512 "
            "tokens.<|im_end|>\n<|im_start|>assistant\n");
  o = {};
  o.l1_max = 64;
  EXPECT_NE(render_prompt(t, tags(ChatFamily::kQwen3), s, o).find(" Think for maximum 64 tokens.<|im_end|>"), std::string::npos);
}

TEST(RenderPrompt, TaglessAsksForTheMarkerAndNoThinkPrefillsIt) {
  const tokenizer::ChatTemplate t{ChatFamily::kChatML, "You are SmolLM."};
  PromptSpec s;
  s.question = "Q?";
  EXPECT_EQ(render_prompt(t, tagless(), s, {}),
            "<|im_start|>system\nYou are SmolLM.<|im_end|>\n<|im_start|>user\nQ?\n\nThink step by step, then write "
            "\"Final Answer:\" followed by your final answer.<|im_end|>\n<|im_start|>assistant\n");
  s.marker_instruction = false;
  s.system = "Be brief.";
  EXPECT_EQ(render_prompt(t, tagless(), s, {}),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n");
  ThinkingOptions o;
  o.no_think = true;
  EXPECT_EQ(render_prompt(t, tagless(), s, o),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nOkay, I "
            "think I have finished thinking.\n\n**Final Answer:** ");
}

TEST(ThinkingFormatFor, FamiliesAndVocabulary) {
  const auto m = model::Model::load((test::fixture_dir() / "tiny-llama-f32.gguf").string());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  const tokenizer::Tokenizer& tok = (*m)->tokenizer();  // SmolLM2's vocabulary: no think tokens
  EXPECT_FALSE(thinking_format_for(ChatFamily::kChatML, tok).has_think_tags);
  EXPECT_EQ(thinking_format_for(ChatFamily::kChatML, tok).delimiter(), "Final Answer:");
  EXPECT_TRUE(thinking_format_for(ChatFamily::kDeepSeekR1, tok).has_think_tags);
  const ThinkingFormat q = thinking_format_for(ChatFamily::kQwen3, tok);
  EXPECT_TRUE(q.has_think_tags);
  EXPECT_TRUE(q.qwen3_switch);
  EXPECT_EQ(q.delimiter(), "</think>");
}

TEST(ValidateThinkingOptions, RangesAndConflictsNameTheFields) {
  auto msg = [](const ThinkingOptions& o) {
    const Status s = validate_thinking_options(o);
    EXPECT_FALSE(s.is_ok());
    EXPECT_TRUE(s.is_bad_input());
    // Library terms: each field as ${name}, which a front end spells as its flag or JSON key.
    EXPECT_NE(s.renamed([](std::string_view f) { return "<" + std::string(f) + ">"; }).message().find('<'),
              std::string::npos)
        << s.message();
    return s.message();
  };
  ThinkingOptions o;
  EXPECT_TRUE(validate_thinking_options(o).is_ok());
  o.no_think = true;
  o.think_budget = 5;
  EXPECT_NE(msg(o).find("think_budget and no_think"), std::string::npos);
  o = {};
  o.think_budget = -1;
  EXPECT_NE(msg(o).find("think_budget"), std::string::npos);
  o = {};
  o.answer_budget = 0;
  EXPECT_NE(msg(o).find("answer_budget"), std::string::npos);
  o = {};
  o.l1 = 0;
  EXPECT_NE(msg(o).find("l1"), std::string::npos);
  o = {};
  o.deadline_s = -2;
  EXPECT_NE(msg(o).find("deadline_s"), std::string::npos);
  o = {};
  o.min_think = 10;
  o.think_budget = 5;
  EXPECT_NE(msg(o).find("min_think 10 exceeds think_budget 5"), std::string::npos);
  o = {};
  o.l1 = 5;
  o.prompt_budget = 5;
  EXPECT_NE(msg(o).find("prompt_budget and l1"), std::string::npos);
  o = {};
  o.min_think = 3;
  o.think_budget = 3;
  EXPECT_TRUE(validate_thinking_options(o).is_ok());
  EXPECT_TRUE(o.has_policy());
}

}  // namespace
}  // namespace er::reasoning
