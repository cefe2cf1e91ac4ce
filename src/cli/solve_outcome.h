// The bridge from the Reasoner's result to what eval grades, shared by `eval` and the study's
// cell backend so that both record a question the same way.
#pragma once

#include "eval/runner.h"
#include "reasoning/reasoner.h"

namespace er::cli {

// Every path's text, token counts, stop reason and mean log-probability, and the timings.
// grade_answer_text: grade what follows the thinking (think-tag models); otherwise each path's whole
// text is graded (tag-less models, whose thinking ends only at a heuristic marker). The Reasoner's
// vote winner stands only when it voted on what is graded. Energy is left to the caller.
eval::SolveOutcome outcome_from_reasoning(const reasoning::ReasonResult& rr, bool grade_answer_text);

}  // namespace er::cli
