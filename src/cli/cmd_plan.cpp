// `edgereason plan --db results.db --deadline S [--metric mean|p90] [--device PROFILE]`: the most
// accurate configuration whose latency meets the deadline, the runners-up, and why.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/study_common.h"
#include "study/planner.h"
#include "study/projection.h"

namespace er::cli {
namespace {

struct PlanCliOptions {
  std::string db = "results.db";
  double deadline = 0;
  std::string metric = "p90";
  std::string device;
  int runners_up = 3;
  bool json = false;
};

Status run_plan(const PlanCliOptions& o) {
  if (!(std::isfinite(o.deadline) && o.deadline > 0)) return Status::invalid("--deadline must be a number of seconds > 0");
  const auto m = study::metric_from_name(o.metric);
  if (!m) return Status::invalid("--metric must be mean or p90 (got '" + o.metric + "')");
  if (o.runners_up < 0 || o.runners_up > 100) return Status::invalid("--runners-up must be in [0, 100]");
  ER_ASSIGN_OR_RETURN(StudyData d, read_study_db(o.db));
  std::string device_note;
  std::vector<std::string> extrapolation;
  if (!o.device.empty()) {
    ER_ASSIGN_OR_RETURN(device_note,
                        study::project_onto_device(o.device, d.configs, d.questions, d.summaries, &extrapolation));
  }
  const study::Plan p = study::make_plan(d.summaries, o.deadline, *m, static_cast<size_t>(o.runners_up));
  if (o.json) {
    nlohmann::ordered_json j = study::plan_json(d.summaries, p);
    j["device"] = o.device.empty() ? nlohmann::ordered_json("measured on this host") : nlohmann::ordered_json(o.device);
    if (!device_note.empty()) j["projection"] = device_note;
    if (!o.device.empty()) j["extrapolation"] = extrapolation;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    if (!device_note.empty()) std::printf("PROJECTED onto %s: %s\n", o.device.c_str(), device_note.c_str());
    for (const std::string& w : extrapolation) std::printf("warning: %s\n", w.c_str());
    std::printf("%s", study::plan_text(d.summaries, p).c_str());
  }
  if (!p.choice) return Status::io_error("no configuration meets the " + study::format_seconds(o.deadline) + " deadline");
  return Status::ok();
}

}  // namespace

Command add_plan_command(CLI::App& app) {
  auto o = std::make_shared<PlanCliOptions>();
  CLI::App* sub = app.add_subcommand("plan", "The most accurate configuration that meets a latency deadline, with runners-up and reasons");
  sub->add_option("--db", o->db, "Results database")->capture_default_str();
  sub->add_option("--deadline", o->deadline, "Latency target per question in seconds")->required();
  sub->add_option("--metric", o->metric, "mean or p90 latency per question")->capture_default_str();
  sub->add_option("--device", o->device,
                  "Project latencies and energy onto a device profile (a built-in name or PROFILE.json) "
                  "from the measured token counts; results are labelled projected, and a fit used outside the "
                  "inputs it was fitted on is named in a warning");
  sub->add_option("--runners-up", o->runners_up, "How many runners-up to show")->capture_default_str();
  sub->add_flag("--json", o->json, "Print one JSON object");
  return {sub, [o]() { return run_plan(*o); }};
}

}  // namespace er::cli
