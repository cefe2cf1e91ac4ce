// Task prompts per task kind.
#include "eval/prompts.h"

namespace er::eval {

std::string task_prompt(Task task, const Question& q) {
  std::string p = q.question;
  if (task == Task::kMultipleChoice) {
    p += "\n";
    for (size_t k = 0; k < q.choices.size(); ++k) {
      p += "\n";
      p += static_cast<char>('A' + k);
      p += ". ";
      p += q.choices[k];
    }
    p += "\n\n";
    p += kChoiceInstruction;
    return p;
  }
  p += "\n";
  p += kMathInstruction;
  return p;
}

}  // namespace er::eval
