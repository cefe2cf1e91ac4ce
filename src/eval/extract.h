// Answer extraction from a model's answer text (reference.md §9): the last brace-balanced \boxed{},
// "The answer is …" / "final answer is …" / "Answer: …", GSM8K's "#### N", the last number, and
// multiple-choice letters (never the article "a" taken for choice A).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "eval/grader.h"

namespace er::eval {

// Content of the last \boxed{…} (or \fbox{…}), braces balanced. A last box cut off before its
// closing brace (a token budget ran out) gives the rest of its line; "\boxed 5" gives "5".
std::optional<std::string> last_boxed(std::string_view text);

// Text after the last "final answer is" / "answer is" / "answer:" (case-insensitive) up to the end
// of its sentence (a period followed by a space or the end, or a line break), trimmed.
std::optional<std::string> answer_phrase(std::string_view text);

// Number after the last "####" (GSM8K's gold format), commas removed.
std::optional<std::string> hashes_number(std::string_view text);

// The last / first number in text ("1,234", "-5", "3.25", ".5"; "$" and a trailing period are not
// part of it), with thousands separators removed. last_number also accepts a fraction "a/b".
std::optional<std::string> last_number(std::string_view text);
std::optional<std::string> first_number(std::string_view text);

// Per task: math → boxed, answer phrase, last number (as written, LaTeX kept);
// gsm8k → a plain number from boxed (its value when it is an arithmetic expression, else its
// last number), answer phrase (its first), "####", last number; multiple choice → one letter (see extract_choice).
std::optional<std::string> extract_answer(Task task, std::string_view text, int n_choices = 4);

// A letter A .. A+n_choices-1 from \boxed{X}, "The answer is X" / "Answer: X" (the last such
// phrase that names a label decides: a placeholder or out-of-range label there means no answer;
// phrases followed by a word are passed over), or a lone letter ending the text ("C", "(C)",
// "**C.**"). A last line "C. some text" is not an answer (weak models end by listing choices).
// Bare letters must be upper-case; lower-case counts only when wrapped ("(c)", "\boxed{c}"), and
// a bare "A" followed by a lower-case word is the article, not a choice.
std::optional<char> extract_choice(std::string_view text, int n_choices = 4);

}  // namespace er::eval
