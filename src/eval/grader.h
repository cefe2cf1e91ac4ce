// The grader: task kinds, the grader version every result names, and grading one completion
// (extraction, reference.md §9, then equivalence against the gold answer).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace er::eval {

// Bumped whenever extraction or equivalence changes in a way that can change a grade. Every eval
// and grade record names it, because graders disagree by points on the same outputs.
inline constexpr std::string_view kGraderVersion = "er-grader-1";

// How answers are extracted and compared. Spellings reach records and flags: never change them.
enum class Task {
  kMath,            // "math": free-form LaTeX answers (MATH-500)
  kGsm8k,           // "gsm8k": one number (GSM8K)
  kMultipleChoice,  // "mc": a letter A.. (MMLU)
};
std::string_view task_name(Task t);
std::optional<Task> task_from_name(std::string_view name);

struct Graded {
  std::optional<std::string> extracted;  // the answer found in the completion (nullopt: none)
  std::optional<std::string> key;        // canonical_answer of it, what the answer votes with
  bool correct = false;                  // extracted and equivalent to gold (unparsed = wrong)
};

// Grades one completion (the answer text of a path) against the dataset's gold answer.
// n_choices bounds the letters for multiple choice (A .. A + n_choices - 1).
Graded grade_completion(Task task, std::string_view completion, std::string_view gold, int n_choices = 4);

// True when an already extracted answer is equivalent to gold under the task's rules.
bool answer_matches(Task task, std::string_view extracted, std::string_view gold);

// A key that maps equivalent extracted answers to the same string (for voting): letters for
// multiple choice, a canonical decimal for numbers (6 significant digits; fractions and radicals
// evaluated), element-wise keys for tuples and intervals, the normalized string otherwise.
std::string canonical_answer(Task task, std::string_view extracted);

// Extraction then canonical_answer; nullopt when nothing can be extracted (the path does not vote).
std::optional<std::string> answer_key(Task task, std::string_view completion, int n_choices = 4);

}  // namespace er::eval
