// Chat templates: family detection, default system prompts, and rendering per family.
#include "tokenizer/chat_template.h"

#include <array>
#include <utility>

namespace er::tokenizer {
namespace {
constexpr std::array<std::pair<ChatFamily, std::string_view>, 6> kNames = {{
    {ChatFamily::kNone, "none"},
    {ChatFamily::kChatML, "chatml"},
    {ChatFamily::kQwen3, "qwen3"},
    {ChatFamily::kDeepSeekR1, "deepseek-r1"},
    {ChatFamily::kLlama3, "llama3"},
    {ChatFamily::kGemma, "gemma"},
}};
bool has(std::string_view text, std::string_view marker) { return text.find(marker) != std::string_view::npos; }

// Python's str.strip() for the whitespace Jinja's `trim` removes (ASCII is all templates meet).
std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}
std::string_view strip_chars(std::string_view s, char c, bool left, bool right) {
  while (left && !s.empty() && s.front() == c) s.remove_prefix(1);
  while (right && !s.empty() && s.back() == c) s.remove_suffix(1);
  return s;
}

// "a</think>b" → "b" (the text after the last "</think>"), as the R1 and Qwen3 templates do.
std::string_view after_think(std::string_view content) {
  const size_t pos = content.rfind("</think>");
  return pos == std::string_view::npos ? content : content.substr(pos + 8);
}

std::string render_chatml(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out;
  if (!msgs.empty() && msgs[0].role != "system" && !opt.default_system.empty()) {
    out += "<|im_start|>system\n" + opt.default_system + "<|im_end|>\n";
  }
  for (const ChatMessage& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (opt.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_qwen3(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out;
  if (!msgs.empty() && msgs[0].role == "system") out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  // The last user turn that is not a tool response.
  size_t last_query = msgs.empty() ? 0 : msgs.size() - 1;
  for (size_t i = msgs.size(); i-- > 0;) {
    const std::string& c = msgs[i].content;
    const bool tool_response = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    if (msgs[i].role == "user" && !tool_response) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    if (m.role == "assistant") {
      std::string_view content = m.content;
      std::string_view reasoning;
      if (has(content, "</think>")) {
        std::string_view before = content.substr(0, content.find("</think>"));
        before = strip_chars(before, '\n', false, true);
        if (const size_t open = before.rfind("<think>"); open != std::string_view::npos) before = before.substr(open + 7);
        reasoning = strip_chars(before, '\n', true, false);
        content = strip_chars(after_think(content), '\n', true, false);
      }
      out += "<|im_start|>assistant\n";
      const bool last = i + 1 == msgs.size();
      if (i > last_query && (last || !reasoning.empty())) {
        out += "<think>\n";
        out += strip_chars(reasoning, '\n', true, true);
        out += "\n</think>\n\n";
        out += strip_chars(content, '\n', true, false);
      } else {
        out += content;
      }
      out += "<|im_end|>\n";
    } else if (m.role != "system" || i > 0) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    }
  }
  if (opt.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!opt.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

std::string render_deepseek_r1(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out = "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
  std::string system;  // the last system message, placed first
  for (const ChatMessage& m : msgs) {
    if (m.role == "system") system = m.content;
  }
  out += system;
  for (const ChatMessage& m : msgs) {
    if (m.role == "user") {
      out += "<\xef\xbd\x9cUser\xef\xbd\x9c>" + m.content;
    } else if (m.role == "assistant") {
      out += "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>";
      out += after_think(m.content);
      out += "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
    }
  }
  if (opt.add_generation_prompt) out += "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n";
  return out;
}

std::string render_llama3(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out = "<|begin_of_text|>";
  for (const ChatMessage& m : msgs) {
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
    out += trim(m.content);
    out += "<|eot_id|>";
  }
  if (opt.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_gemma(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out = "<bos>";
  std::string first_user_prefix;
  if (!msgs.empty() && msgs[0].role == "system") {
    first_user_prefix = msgs[0].content + "\n\n";
    msgs = msgs.subspan(1);
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string_view role = msgs[i].role == "assistant" ? "model" : std::string_view(msgs[i].role);
    out += "<start_of_turn>";
    out += role;
    out += "\n";
    if (i == 0) out += first_user_prefix;
    out += trim(msgs[i].content);
    out += "<end_of_turn>\n";
  }
  if (opt.add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace

std::string_view chat_family_name(ChatFamily f) {
  for (const auto& [family, name] : kNames) {
    if (family == f) return name;
  }
  return "none";
}

std::optional<ChatFamily> chat_family_from_name(std::string_view name) {
  for (const auto& [family, n] : kNames) {
    if (n == name) return family;
  }
  return std::nullopt;
}

ChatFamily detect_chat_family(std::string_view t, std::string_view arch) {
  // DeepSeek-R1 distills use full-width bars: <｜User｜>, <｜Assistant｜>.
  if (has(t, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>")) return ChatFamily::kDeepSeekR1;
  if (has(t, "<|im_start|>")) {
    return (has(t, "enable_thinking") || has(t, "<think>")) ? ChatFamily::kQwen3 : ChatFamily::kChatML;
  }
  if (has(t, "<|start_header_id|>")) return ChatFamily::kLlama3;
  if (has(t, "<start_of_turn>")) return ChatFamily::kGemma;
  // No (recognized) template: fall back on the architecture's usual format.
  if (arch == "qwen3") return ChatFamily::kQwen3;
  if (arch == "qwen2") return ChatFamily::kChatML;
  if (arch == "gemma" || arch == "gemma2" || arch == "gemma3") return ChatFamily::kGemma;
  return ChatFamily::kNone;
}

std::string default_system_prompt(std::string_view t) {
  // A ChatML system turn written out literally: '<|im_start|>system\n' TEXT '<|im_end|>', where the
  // newline is a real one or the two characters "\n", and TEXT holds no template syntax.
  constexpr std::string_view kOpen = "<|im_start|>system";
  for (size_t at = t.find(kOpen); at != std::string_view::npos; at = t.find(kOpen, at + 1)) {
    std::string_view rest = t.substr(at + kOpen.size());
    if (rest.starts_with("\n")) {
      rest.remove_prefix(1);
    } else if (rest.starts_with("\\n")) {
      rest.remove_prefix(2);
    } else {
      continue;
    }
    const size_t end = rest.find("<|im_end|>");
    if (end == std::string_view::npos) continue;
    const std::string_view text = rest.substr(0, end);
    if (text.empty() || text.find_first_of("'\"{}+") != std::string_view::npos) continue;
    return std::string(text);
  }
  return {};
}

ChatTemplate chat_template_from_gguf(const gguf::Metadata& md) {
  const gguf::Value* tmpl = md.find("tokenizer.chat_template");
  const gguf::Value* arch = md.find("general.architecture");
  const std::string_view text = tmpl != nullptr && tmpl->str() != nullptr ? std::string_view(*tmpl->str()) : "";
  const std::string_view a = arch != nullptr && arch->str() != nullptr ? std::string_view(*arch->str()) : "";
  ChatTemplate ct;
  ct.family = detect_chat_family(text, a);
  ct.default_system = default_system_prompt(text);  // used by ChatML rendering only
  return ct;
}

std::string render_chat(ChatFamily family, std::span<const ChatMessage> messages, const ChatOptions& options) {
  switch (family) {
    case ChatFamily::kChatML: return render_chatml(messages, options);
    case ChatFamily::kQwen3: return render_qwen3(messages, options);
    case ChatFamily::kDeepSeekR1: return render_deepseek_r1(messages, options);
    case ChatFamily::kLlama3: return render_llama3(messages, options);
    case ChatFamily::kGemma: return render_gemma(messages, options);
    case ChatFamily::kNone: break;
  }
  std::string out;
  for (const ChatMessage& m : messages) out += m.content + "\n";
  return out;
}

}  // namespace er::tokenizer
