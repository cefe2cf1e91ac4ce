#include "study/grid.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace er::study {

namespace {
constexpr std::array<std::pair<Policy, std::string_view>, 6> kPolicyNames = {{
    {Policy::kUnlimited, "unlimited"},
    {Policy::kNoThink, "no-think"},
    {Policy::kThinkBudget, "think-budget"},
    {Policy::kPromptBudget, "prompt-budget"},
    {Policy::kL1, "l1"},
    {Policy::kL1Max, "l1-max"},
}};
}  // namespace

std::string_view policy_name(Policy p) {
  for (const auto& [k, v] : kPolicyNames)
    if (k == p) return v;
  return "unknown";
}

std::optional<Policy> policy_from_name(std::string_view name) {
  for (const auto& [k, v] : kPolicyNames)
    if (v == name) return k;
  return std::nullopt;
}

bool policy_takes_budget(Policy p) { return p != Policy::kUnlimited && p != Policy::kNoThink; }

int64_t Cell::context_size() const { return std::max<int64_t>(2048, max_tokens + answer_budget + 1024); }

std::string Cell::label() const {
  std::string s;
  s.append(model);
  if (!quantization.empty()) s.append("@").append(quantization);
  s.append(" ").append(slice.dataset).append("[").append(std::to_string(slice.offset)).append(":");
  if (slice.limit >= 0) s.append(std::to_string(slice.offset + slice.limit));
  s.append("] ").append(policy_name(policy));
  if (budget) s.append("=").append(std::to_string(*budget));
  s.append(" N=").append(std::to_string(paths));
  if (backend.empty()) s.append(" t=").append(std::to_string(threads));
  return s;
}

nlohmann::ordered_json Cell::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["dataset"] = slice.dataset;
  j["offset"] = slice.offset;
  j["limit"] = slice.limit;
  j["policy"] = std::string(policy_name(policy));
  j["budget"] = budget ? nlohmann::ordered_json(*budget) : nlohmann::ordered_json(nullptr);
  j["paths"] = paths;
  j["threads"] = threads;
  j["max_tokens"] = max_tokens;
  j["answer_budget"] = answer_budget;
  j["temperature"] = temperature;
  j["seed"] = seed;
  j["vote"] = vote;
  j["bench"] = bench;
  if (!backend.empty()) {  // absent for in-process cells, so their hashes stay what they were
    j["backend"] = backend;
    j["flavor"] = flavor;
  }
  if (!quantization.empty()) j["quantization"] = quantization;  // likewise absent for the release
  return j;
}

std::string Cell::hash() const { return fnv1a64_hex(to_json().dump()); }

std::string fnv1a64_hex(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace er::study
