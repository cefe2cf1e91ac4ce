// Task prompts (reference.md §4): the user text a question becomes before the chat template and the
// thinking policy shape it.
#pragma once

#include <string>
#include <string_view>

#include "eval/dataset.h"

namespace er::eval {

// The instruction appended to math and GSM8K questions (the R1 distills' recommended one).
inline constexpr std::string_view kMathInstruction =
    "Please reason step by step, and put your final answer within \\boxed{}.";
// The instruction after a multiple-choice question and its lettered choices.
inline constexpr std::string_view kChoiceInstruction =
    "Please reason step by step, then finish your answer with \"The answer is X\" where X is the letter "
    "of the correct choice.";

// math / gsm8k: "{question}\n{kMathInstruction}";
// mc: "{question}\n\nA. {choice 0}\nB. {choice 1}\n…\n\n{kChoiceInstruction}".
std::string task_prompt(Task task, const Question& q);

}  // namespace er::eval
