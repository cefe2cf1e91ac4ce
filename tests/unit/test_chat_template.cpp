// Exact chat renderings per family (reference.md §4), family detection and default system prompts.
#include <gtest/gtest.h>

#include "tokenizer/chat_template.h"

namespace er::tokenizer {
namespace {

const std::vector<ChatMessage> kUser = {{"user", "What is 2+2?"}};
const std::vector<ChatMessage> kSysUser = {{"system", "Be brief."}, {"user", "What is 2+2?"}};
constexpr const char* kSmolSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
constexpr const char* kQwenSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

TEST(ChatTemplate, ChatMLWithDefaultSystem) {
  ChatOptions opt;
  opt.default_system = kSmolSystem;
  EXPECT_EQ(render_chat(ChatFamily::kChatML, kUser, opt),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  opt.default_system = kQwenSystem;
  EXPECT_EQ(render_chat(ChatFamily::kChatML, kUser, opt),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  // A system message replaces the default.
  EXPECT_EQ(render_chat(ChatFamily::kChatML, kSysUser, opt),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  // No default, no generation prompt.
  ChatOptions plain;
  plain.add_generation_prompt = false;
  EXPECT_EQ(render_chat(ChatFamily::kChatML, kUser, plain), "<|im_start|>user\nWhat is 2+2?<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3ThinkingOnAndOff) {
  ChatOptions opt;
  EXPECT_EQ(render_chat(ChatFamily::kQwen3, kUser, opt), "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  opt.enable_thinking = false;
  EXPECT_EQ(render_chat(ChatFamily::kQwen3, kSysUser, opt),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // Earlier assistant turns lose their reasoning; the final one keeps it.
  const std::vector<ChatMessage> turns = {{"user", "Q1"},
                                          {"assistant", "<think>\nr1\n</think>\n\nA1"},
                                          {"user", "Q2"},
                                          {"assistant", "<think>\nr2\n</think>\n\nA2"}};
  ChatOptions no_gen;
  no_gen.add_generation_prompt = false;
  EXPECT_EQ(render_chat(ChatFamily::kQwen3, turns, no_gen),
            "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n");
  // A final answer without reasoning gets an empty think block.
  const std::vector<ChatMessage> hi = {{"user", "Hi"}, {"assistant", "Hello"}};
  EXPECT_EQ(render_chat(ChatFamily::kQwen3, hi, no_gen),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>\n");
}

TEST(ChatTemplate, DeepSeekR1) {
  EXPECT_EQ(render_chat(ChatFamily::kDeepSeekR1, kSysUser, {}),
            "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>Be brief."
            "<\xef\xbd\x9cUser\xef\xbd\x9c>What is 2+2?<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n");
  const std::vector<ChatMessage> turns = {{"user", "Q1"}, {"assistant", "<think>r</think>A1"}, {"user", "Q2"}};
  EXPECT_EQ(render_chat(ChatFamily::kDeepSeekR1, turns, {}),
            "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser\xef\xbd\x9c>Q1"
            "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>A1<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
            "<\xef\xbd\x9cUser\xef\xbd\x9c>Q2<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n");
}

TEST(ChatTemplate, Llama3) {
  const std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "  What is 2+2?\n"}};
  EXPECT_EQ(render_chat(ChatFamily::kLlama3, msgs, {}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Gemma) {
  EXPECT_EQ(render_chat(ChatFamily::kGemma, kUser, {}),
            "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
  const std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "Q1 "}, {"assistant", "A1"}, {"user", "Q2"}};
  EXPECT_EQ(render_chat(ChatFamily::kGemma, msgs, {}),
            "<bos><start_of_turn>user\nBe brief.\n\nQ1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n"
            "<start_of_turn>user\nQ2<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplate, NoneConcatenates) {
  EXPECT_EQ(render_chat(ChatFamily::kNone, kSysUser, {}), "Be brief.\nWhat is 2+2?\n");
}

TEST(ChatTemplate, DetectionAndNames) {
  EXPECT_EQ(detect_chat_family("{{'<|im_start|>' + message['role']}}", "llama"), ChatFamily::kChatML);
  EXPECT_EQ(detect_chat_family("<|im_start|>{% if enable_thinking is defined %}", "qwen3"), ChatFamily::kQwen3);
  EXPECT_EQ(detect_chat_family("{{'<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>'}}", "qwen2"), ChatFamily::kDeepSeekR1);
  EXPECT_EQ(detect_chat_family("<|start_header_id|>", "llama"), ChatFamily::kLlama3);
  EXPECT_EQ(detect_chat_family("", "gemma3"), ChatFamily::kGemma);
  EXPECT_EQ(detect_chat_family("", "llama"), ChatFamily::kNone);
  for (const ChatFamily f : {ChatFamily::kNone, ChatFamily::kChatML, ChatFamily::kQwen3, ChatFamily::kDeepSeekR1,
                             ChatFamily::kLlama3, ChatFamily::kGemma}) {
    EXPECT_EQ(chat_family_from_name(chat_family_name(f)), f);
  }
  EXPECT_EQ(chat_family_from_name("chatml"), ChatFamily::kChatML);
  EXPECT_FALSE(chat_family_from_name("vicuna").has_value());
}

TEST(ChatTemplate, DefaultSystemPromptFromTemplateText) {
  // SmolLM2's template (real newlines inside the string literal).
  const std::string smol =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
      "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
  EXPECT_EQ(default_system_prompt(smol), kSmolSystem);
  // Qwen2.5's ("\n" escapes; the first system turns are built from variables).
  const std::string qwen =
      "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- else %}{%- if messages[0]['role'] == 'system' %}"
      "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}"
      "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}";
  EXPECT_EQ(default_system_prompt(qwen), kQwenSystem);
  EXPECT_EQ(default_system_prompt("{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'}}"), "");
  EXPECT_EQ(default_system_prompt(""), "");
}

}  // namespace
}  // namespace er::tokenizer
