// Chat-template families (reference.md §4): detection from a GGUF's template and architecture,
// and rendering a conversation exactly as each family's Jinja template does.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gguf/gguf.h"

namespace er::tokenizer {

// Spellings reach reports and flags; never change them.
enum class ChatFamily { kNone, kChatML, kQwen3, kDeepSeekR1, kLlama3, kGemma };
std::string_view chat_family_name(ChatFamily f);
std::optional<ChatFamily> chat_family_from_name(std::string_view name);

// Picks the family from `tokenizer.chat_template` text (empty when absent) and the architecture.
ChatFamily detect_chat_family(std::string_view template_text, std::string_view arch);

// The system prompt a template inserts when the conversation has none (SmolLM2: "You are a
// helpful AI assistant named SmolLM, trained by Hugging Face"; Qwen2.5: "You are Qwen, created by
// Alibaba Cloud. You are a helpful assistant."), found as the literal text of a ChatML system
// turn in the template; "" when there is none.
std::string default_system_prompt(std::string_view template_text);

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = true;  // Qwen3 only: false renders an empty <think> block after the prompt
  std::string default_system;   // ChatML only: inserted when the first message is not "system"
};

// A model's chat format: family plus the template's default system prompt (kept even when a
// --chat-template flag overrides the family, so a forced "chatml" still gets SmolLM2's default).
struct ChatTemplate {
  ChatFamily family = ChatFamily::kNone;
  std::string default_system;
};
// From `tokenizer.chat_template` and `general.architecture` (both optional).
ChatTemplate chat_template_from_gguf(const gguf::Metadata& md);

// The prompt text, special tokens included as text (encode it with parse_special = true and
// add_special = false: DeepSeek-R1, Llama 3 and Gemma texts start with their BOS text, as their
// templates do). kNone concatenates the message contents, each followed by "\n".
//
//   ChatML     [<|im_start|>system\n{default}<|im_end|>\n] <|im_start|>{role}\n{content}<|im_end|>\n ...
//              <|im_start|>assistant\n
//   Qwen3      as ChatML without a default system; an assistant turn after the last user turn
//              keeps its reasoning as <think>\n…\n</think>\n\n, earlier ones lose it; with
//              enable_thinking = false the prompt ends <|im_start|>assistant\n<think>\n\n</think>\n\n
//   DeepSeekR1 <｜begin▁of▁sentence｜>{system}<｜User｜>{q}<｜Assistant｜>{a}<｜end▁of▁sentence｜>...
//              <｜Assistant｜><think>\n   (assistant turns lose their reasoning)
//   Llama3     <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{trimmed}<|eot_id|>...
//              <|start_header_id|>assistant<|end_header_id|>\n\n
//   Gemma      <bos><start_of_turn>user\n{system}\n\n{trimmed}<end_of_turn>\n ... (assistant →
//              "model") <start_of_turn>model\n
std::string render_chat(ChatFamily family, std::span<const ChatMessage> messages, const ChatOptions& options);

}  // namespace er::tokenizer
