// Thinking formats per chat family, policy validation, and prompt rendering (reference.md §4).
#include <string>
#include <vector>

#include "reasoning/policy_texts.h"
#include "reasoning/reasoner.h"

namespace er::reasoning {

bool ThinkingOptions::has_policy() const {
  return think_budget || no_think || prompt_budget || l1 || l1_max || min_think || deadline_s;
}

Status validate_thinking_options(const ThinkingOptions& o) {
  auto non_negative = [](const std::optional<int64_t>& v, const char* flag) -> Status {
    if (v && *v < 0) return Status::invalid(std::string(flag) + " must be at least 0 (got " + std::to_string(*v) + ")");
    return Status::ok();
  };
  ER_RETURN_IF_ERROR(non_negative(o.think_budget, "${think_budget}"));
  ER_RETURN_IF_ERROR(non_negative(o.min_think, "${min_think}"));
  auto positive = [](const std::optional<int64_t>& v, const char* flag) -> Status {
    if (v && *v < 1) return Status::invalid(std::string(flag) + " must be at least 1 (got " + std::to_string(*v) + ")");
    return Status::ok();
  };
  ER_RETURN_IF_ERROR(positive(o.prompt_budget, "${prompt_budget}"));
  ER_RETURN_IF_ERROR(positive(o.l1, "${l1}"));
  ER_RETURN_IF_ERROR(positive(o.l1_max, "${l1_max}"));
  if (o.answer_budget < 1) {
    return Status::invalid("${answer_budget} must be at least 1 (got " + std::to_string(o.answer_budget) + ")");
  }
  if (o.deadline_s && !(*o.deadline_s > 0)) return Status::invalid("${deadline_s} must be a positive number of seconds");
  if (o.deadline_step_s < 0 || o.deadline_step_per_ctx_s < 0) {
    return Status::invalid("${deadline_step_s} and ${deadline_step_per_ctx_s} must not be negative");
  }
  // At most one policy selects the thinking length.
  std::vector<std::string> chosen;
  if (o.think_budget) chosen.emplace_back("${think_budget}");
  if (o.no_think) chosen.emplace_back("${no_think}");
  if (o.prompt_budget) chosen.emplace_back("${prompt_budget}");
  if (o.l1) chosen.emplace_back("${l1}");
  if (o.l1_max) chosen.emplace_back("${l1_max}");
  if (o.deadline_s) chosen.emplace_back("${deadline_s}");
  if (chosen.size() > 1) return Status::invalid(chosen[0] + " and " + chosen[1] + " cannot be combined");
  if (o.min_think) {
    if (o.no_think) return Status::invalid("${min_think} and ${no_think} cannot be combined");
    if (o.think_budget && *o.min_think > *o.think_budget) {
      return Status::invalid("${min_think} " + std::to_string(*o.min_think) + " exceeds ${think_budget} " +
                             std::to_string(*o.think_budget));
    }
  }
  return Status::ok();
}

ThinkingFormat thinking_format_for(tokenizer::ChatFamily family, const tokenizer::Tokenizer& tok) {
  ThinkingFormat f;
  f.family = family;
  const bool vocab_tags = tok.find("<think>").has_value() && tok.find("</think>").has_value();
  f.has_think_tags = family == tokenizer::ChatFamily::kDeepSeekR1 || family == tokenizer::ChatFamily::kQwen3 ||
                     (vocab_tags && family != tokenizer::ChatFamily::kNone);
  f.qwen3_switch = family == tokenizer::ChatFamily::kQwen3;
  return f;
}

std::string default_close_text(const ThinkingFormat& fmt) {
  return fmt.has_think_tags ? "\n" + fmt.close_tag + "\n\n" : std::string("\n\n");
}
std::string default_answer_prefix(const ThinkingFormat&) { return std::string(kAnswerPrefix); }

std::string with_policy_sentences(std::string q, const ThinkingOptions& opts) {
  if (opts.l1 || opts.l1_max) {
    q += "\n\n";
    q += kL1Instruction;
    q += opts.l1 ? " Think for " + std::to_string(*opts.l1) + " tokens." : " Think for maximum " + std::to_string(*opts.l1_max) + " tokens.";
  }
  if (opts.prompt_budget) q += " Please limit your answer to " + std::to_string(*opts.prompt_budget) + " tokens at most.";
  return q;
}

std::string render_prompt(const tokenizer::ChatTemplate& tmpl, const ThinkingFormat& fmt, const PromptSpec& spec,
                          const ThinkingOptions& opts) {
  std::string q = with_policy_sentences(spec.messages.empty() ? spec.question : spec.messages.back().content, opts);
  if (!fmt.has_think_tags && fmt.split && spec.marker_instruction && !opts.no_think) q += kMarkerInstruction;

  std::vector<tokenizer::ChatMessage> msgs;
  if (spec.messages.empty()) {
    if (!spec.system.empty()) msgs.push_back({"system", spec.system});
    msgs.push_back({"user", q});
  } else {
    const bool has_system = spec.messages.front().role == "system";
    if (!has_system && !spec.system.empty()) msgs.push_back({"system", spec.system});
    msgs.insert(msgs.end(), spec.messages.begin(), spec.messages.end() - 1);
    msgs.push_back({spec.messages.back().role, q});
  }
  tokenizer::ChatOptions co;
  co.default_system = tmpl.default_system;
  co.enable_thinking = !(opts.no_think && fmt.qwen3_switch);
  std::string out = tokenizer::render_chat(tmpl.family, msgs, co);
  if (opts.no_think && !fmt.qwen3_switch) {
    if (fmt.has_think_tags) {
      // R1's generation prompt already opens the span with "<think>\n".
      if (!out.ends_with(fmt.open_tag + "\n")) out += fmt.open_tag + "\n";
      out += kNoThinkText;
      out += "\n" + fmt.close_tag + "\n\n";
    } else {
      out += kNoThinkText;
      out += "\n\n";
      out += kAnswerPrefixNoBox;
    }
  }
  return out;
}

}  // namespace er::reasoning
