// Helpers shared by the study subcommands (sweep, pareto, plan, report, study): Ctrl-C handling
// and reading a results database's summaries.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "study/pareto.h"
#include "study/store.h"

namespace er::cli {

// Installs a SIGINT/SIGTERM handler that sets the returned flag; a second signal exits at once.
std::atomic<bool>* install_stop_flag();

struct StudyData {
  std::unique_ptr<study::Store> store;
  std::vector<study::ConfigRow> configs;
  std::vector<study::QuestionRow> questions;
  std::vector<study::ConfigSummary> summaries;
};
// Opens `db` read-only and summarizes it; a database without any graded question is an error.
Result<StudyData> read_study_db(const std::string& db);

// Renders the HTML report of `db` into `out` (written to OUT.tmp, then renamed). In cmd_report.cpp.
Status write_html_report(const std::string& db, const std::string& out, const std::string& title);

}  // namespace er::cli
