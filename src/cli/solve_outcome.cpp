// ReasonResult → eval::SolveOutcome (see solve_outcome.h).
#include "cli/solve_outcome.h"

#include <utility>

#include "engine/generator.h"

namespace er::cli {

eval::SolveOutcome outcome_from_reasoning(const reasoning::ReasonResult& rr, bool grade_answer_text) {
  eval::SolveOutcome out;
  for (const auto& p : rr.paths) {
    eval::PathAnswer a;
    a.answer_text = grade_answer_text ? p.answer_text : p.text;
    a.thinking_text = p.thinking_text;
    a.thinking_tokens = p.thinking_tokens;
    a.answer_tokens = p.answer_tokens;
    a.forced_close = p.forced_close;
    a.stop = engine::stop_reason_name(p.stop);
    a.mean_logprob = p.mean_logprob;
    out.paths.push_back(std::move(a));
  }
  if (grade_answer_text && rr.vote.winner_path >= 0) out.winner_path = rr.vote.winner_path;
  out.n_prompt = rr.n_prompt;
  out.prefill_ms = rr.gen.prefill_ms;
  out.ttft_ms = rr.gen.ttft_ms;
  out.decode_ms = rr.gen.decode_ms;
  out.e2e_ms = rr.gen.e2e_ms;
  return out;
}

}  // namespace er::cli
