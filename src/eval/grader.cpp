// The grader: extraction then equivalence per task, and the canonical keys answers vote with.
#include "eval/grader.h"

#include <cctype>
#include <cmath>

#include "eval/equivalence.h"
#include "eval/extract.h"

namespace er::eval {
namespace {

// A GSM8K-style number: "$1,234." → 1234; nullopt when it is not a number.
std::optional<double> plain_number(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (c != ',' && c != '$' && !std::isspace(static_cast<unsigned char>(c))) s += c;
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  if (auto v = evaluate_number(s)) return v;
  return evaluate_number(normalize_math(text));
}

std::string upper_letter(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalpha(static_cast<unsigned char>(c)) != 0) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string_view task_name(Task t) {
  switch (t) {
    case Task::kMath: return "math";
    case Task::kGsm8k: return "gsm8k";
    case Task::kMultipleChoice: return "mc";
  }
  return "?";
}

std::optional<Task> task_from_name(std::string_view name) {
  for (Task t : {Task::kMath, Task::kGsm8k, Task::kMultipleChoice}) {
    if (task_name(t) == name) return t;
  }
  return std::nullopt;
}

bool answer_matches(Task task, std::string_view extracted, std::string_view gold) {
  switch (task) {
    case Task::kMultipleChoice: {
      const std::string a = upper_letter(extracted), g = upper_letter(gold);
      return a.size() == 1 && a == g;
    }
    case Task::kGsm8k: {
      const auto a = plain_number(extracted), g = plain_number(gold);
      if (!a || !g) return false;
      // GSM8K answers are exact quantities: no tolerance beyond floating-point noise.
      return std::fabs(*a - *g) <= 1e-9 * std::max(std::fabs(*a), std::fabs(*g));
    }
    case Task::kMath:
      return math_equivalent(extracted, gold);
  }
  return false;
}

std::string canonical_answer(Task task, std::string_view extracted) {
  switch (task) {
    case Task::kMultipleChoice:
      return upper_letter(extracted);
    case Task::kGsm8k:
      if (auto v = plain_number(extracted)) return canonical_number(*v);
      return normalize_math(extracted);
    case Task::kMath:
      return math_key(extracted);
  }
  return std::string(extracted);
}

std::optional<std::string> answer_key(Task task, std::string_view completion, int n_choices) {
  auto extracted = extract_answer(task, completion, n_choices);
  if (!extracted) return std::nullopt;
  return canonical_answer(task, *extracted);
}

Graded grade_completion(Task task, std::string_view completion, std::string_view gold, int n_choices) {
  Graded g;
  g.extracted = extract_answer(task, completion, n_choices);
  if (!g.extracted) return g;
  g.key = canonical_answer(task, *g.extracted);
  g.correct = answer_matches(task, *g.extracted, gold);
  return g;
}

}  // namespace er::eval
