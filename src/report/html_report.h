// The study's HTML report: one self-contained file (inline CSS and SVG, no network) with the
// accuracy/latency frontier, the prefill/decode split, decode latency against output length with
// the fitted curve, energy per token, accuracy against thinking budget and against N, the
// recommendation table for a list of deadlines, the paper's findings checked, and the configuration
// echo.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "study/adaptive.h"
#include "study/findings.h"
#include "study/pareto.h"
#include "study/store.h"

namespace er::report {

struct HtmlReportInput {
  std::string title = "edgereason study report";
  std::string db_path;
  std::vector<study::ConfigRow> configs;
  std::vector<study::QuestionRow> questions;
  std::vector<study::RunRow> runs;
  std::vector<study::FitRow> fits;  // perfmodel coefficients per model (may be empty)
  std::vector<study::ConfigSummary> summaries;
  // Bench rows by config id, and for configurations without one, the facts the sweep stored
  // after running them (study::cell_facts_key: precision, weight bytes per token, weight check).
  std::vector<std::pair<int64_t, nlohmann::json>> bench;
  // The adaptive study's cells stopped as dominated (study::read_decisions); empty: no section.
  std::vector<study::Decision> decisions;
  std::vector<double> deadlines = {1, 2, 5, 10, 30};
  // The paper's findings checked on this database (study::check_findings); empty: no section.
  std::vector<study::Finding> findings;
  std::string generated_at;  // UTC timestamp
};

// Reads everything the report shows from the database, and checks the paper's findings on it.
Result<HtmlReportInput> load_report_input(study::Store& store);

std::string render_html_report(const HtmlReportInput& in);

}  // namespace er::report
