// `edgereason findings --db results.db [-o md|text|json] [--json]`: the EdgeReasoning paper's
// findings (arXiv 2511.01866) checked against a results database: the paper's claim, our
// measurement with its 95% interval, a verdict with its reason, and the command that reproduces it.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "study/findings.h"
#include "study/store.h"

namespace er::cli {
namespace {

struct FindingsCliOptions {
  std::string db = "results.db";
  std::string format = "text";
  bool json = false;
};

Status run_findings(const FindingsCliOptions& o) {
  const std::string format = o.json ? "json" : o.format;
  if (format != "md" && format != "text" && format != "json")
    return Status::invalid("-o must be md, text or json (got '" + o.format + "')");
  // The store refuses a missing, foreign, newer or damaged database (integrity check) with the reason.
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(o.db, study::Store::Mode::kReadOnly));
  study::FindingsOptions fo;
  fo.db_path = o.db;
  ER_ASSIGN_OR_RETURN(std::vector<study::Finding> f, study::check_findings(*store, fo));
  if (format == "json") std::printf("%s\n", study::findings_json(f).dump(2).c_str());
  else if (format == "md") std::printf("%s", study::findings_markdown(f).c_str());
  else std::printf("%s", study::findings_text(f).c_str());
  return Status::ok();
}

}  // namespace

Command add_findings_command(CLI::App& app) {
  auto o = std::make_shared<FindingsCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "findings", "The EdgeReasoning paper's findings (arXiv 2511.01866) checked on a results database: claim, our "
                  "measurement with 95% intervals, verdict (reproduced, not reproduced, inconclusive, not measurable "
                  "here) and the command that reproduces it");
  sub->add_option("--db", o->db, "Results database (from study or sweep)")->capture_default_str();
  sub->add_option("-o,--output", o->format, "Output format: md (a table), text or json")->capture_default_str();
  sub->add_flag("--json", o->json, "Same as -o json");
  return {sub, [o]() { return run_findings(*o); }};
}

}  // namespace er::cli
