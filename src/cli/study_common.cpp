#include "cli/study_common.h"

#include <csignal>
#include <unistd.h>

namespace er::cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

std::atomic<bool>* install_stop_flag() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  return &g_stop;
}

Result<StudyData> read_study_db(const std::string& db) {
  StudyData d;
  ER_ASSIGN_OR_RETURN(d.store, study::Store::open(db, study::Store::Mode::kReadOnly));
  ER_ASSIGN_OR_RETURN(d.configs, d.store->configurations());
  ER_ASSIGN_OR_RETURN(d.questions, d.store->questions());
  d.summaries = study::summarize(d.configs, d.questions);
  if (d.summaries.empty()) return Status::invalid("'" + db + "' holds no graded questions yet (run a sweep first)");
  return d;
}

}  // namespace er::cli
