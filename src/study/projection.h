// Projection of measured configurations onto another device: each question's measured token counts
// (prompt, decode steps, paths) through the device profile's fitted analytic models for the model,
// or the roofline when it has none, give projected latencies and energy.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "study/pareto.h"
#include "study/store.h"

namespace er::study {

// Replaces the summaries' latencies (mean, p50, p90, prefill, decode) and energy by projections
// for `device` (a built-in profile name or a profile JSON path) and marks them projected. Returns
// a one-line note on how (which model per quantity). With `warnings`, one line per fitted model
// used outside the range of inputs it was fitted on (perfmodel::ExtrapolationCheck over every
// question's point) is appended to it.
Result<std::string> project_onto_device(const std::string& device, const std::vector<ConfigRow>& configs,
                                        const std::vector<QuestionRow>& questions, std::vector<ConfigSummary>& summaries,
                                        std::vector<std::string>* warnings = nullptr);

}  // namespace er::study
