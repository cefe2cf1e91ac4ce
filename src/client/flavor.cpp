#include "client/flavor.h"

#include <array>
#include <utility>

namespace er::client {

namespace {

constexpr std::array<std::pair<Flavor, const char*>, 5> kNames{{
    {Flavor::kLlamaCpp, "llamacpp"},
    {Flavor::kVllm, "vllm"},
    {Flavor::kSglang, "sglang"},
    {Flavor::kEdgereason, "edgereason"},
    {Flavor::kOpenAI, "openai"},
}};

}  // namespace

Result<Flavor> parse_flavor(std::string_view s) {
  for (const auto& [f, name] : kNames) {
    if (s == name) return f;
  }
  return Status::invalid("${flavor} must be one of " + flavor_names() + " (got \"" + std::string(s) + "\")");
}

const char* flavor_name(Flavor f) {
  for (const auto& [g, name] : kNames) {
    if (g == f) return name;
  }
  return "?";
}

std::string flavor_names() {
  std::string out;
  for (const auto& [f, name] : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

FlavorCaps flavor_caps(Flavor f) {
  FlavorCaps c;
  switch (f) {
    case Flavor::kLlamaCpp:
      // llama.cpp's server answers one choice per request (n is ignored); it takes ignore_eos,
      // top_k, min_p and a per-request thinking budget (thinking_budget_tokens).
      c.n = false;
      c.ignore_eos = true;
      c.top_k = true;
      c.think_budget = true;
      break;
    case Flavor::kVllm:
      c.ignore_eos = true;
      c.top_k = true;
      c.think_budget = true;  // thinking_token_budget
      break;
    case Flavor::kSglang:
      c.ignore_eos = true;
      c.top_k = true;
      break;
    case Flavor::kEdgereason:
      c.ignore_eos = true;
      c.top_k = true;
      c.think_budget = true;
      c.edgereason_ext = true;
      break;
    case Flavor::kOpenAI:
      break;
  }
  return c;
}

Status check_policy(Flavor f, const reasoning::ThinkingOptions& t) {
  const FlavorCaps c = flavor_caps(f);
  const std::string who = std::string("the ${flavor} ") + flavor_name(f);
  if (t.think_budget && !c.think_budget) {
    return Status::invalid(who + " has no per-request thinking budget: ${think_budget} cannot be sent to it "
                                 "(prompt-level budgets, ${prompt_budget}, ${l1} and ${l1_max}, work with every engine)");
  }
  if (t.min_think && !c.edgereason_ext) {
    return Status::invalid(who + " cannot extend thinking (s1): ${min_think} needs the edgereason flavor");
  }
  if (t.deadline_s && !c.edgereason_ext) {
    return Status::invalid(who + " cannot take a deadline: ${deadline_s} needs the edgereason flavor");
  }
  if (t.no_think && !c.no_think) return Status::invalid(who + " has no NoThink switch for ${no_think}");
  return Status::ok();
}

nlohmann::json policy_fields(Flavor f, const reasoning::ThinkingOptions& t) {
  nlohmann::json j = nlohmann::json::object();
  if (t.no_think) {
    if (f == Flavor::kOpenAI) {
      j["reasoning_effort"] = "none";
    } else {
      j["chat_template_kwargs"] = {{"enable_thinking", false}};
    }
  }
  if (t.think_budget) {
    j[f == Flavor::kVllm ? "thinking_token_budget" : "thinking_budget_tokens"] = *t.think_budget;
  }
  if (f == Flavor::kEdgereason) {
    if (t.has_policy()) j["answer_budget_tokens"] = t.answer_budget;
    if (t.min_think) j["min_thinking_tokens"] = *t.min_think;
    if (t.deadline_s) j["deadline_s"] = *t.deadline_s;
  }
  return j;
}

}  // namespace er::client
