// `edgereason pareto --db results.db`: the Pareto frontiers of accuracy against mean and p90
// latency, energy per question and generated tokens.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/study_common.h"
#include "study/pareto.h"
#include "study/planner.h"

namespace er::cli {
namespace {

struct ParetoCliOptions {
  std::string db = "results.db";
  std::string cost = "all";
  bool json = false;
};

Status run_pareto(const ParetoCliOptions& o) {
  std::vector<study::Cost> costs;
  if (o.cost == "all") costs = {study::Cost::kMeanLatency, study::Cost::kP90Latency, study::Cost::kEnergy, study::Cost::kTokens};
  else if (o.cost == "mean") costs = {study::Cost::kMeanLatency};
  else if (o.cost == "p90") costs = {study::Cost::kP90Latency};
  else if (o.cost == "energy") costs = {study::Cost::kEnergy};
  else if (o.cost == "tokens") costs = {study::Cost::kTokens};
  else return Status::invalid("--cost must be all, mean, p90, energy or tokens (got '" + o.cost + "')");
  ER_ASSIGN_OR_RETURN(StudyData d, read_study_db(o.db));
  const auto& S = d.summaries;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (study::Cost c : costs) {
    const auto front = study::pareto_frontier(S, c);
    const std::string name(study::cost_name(c));
    if (o.json) {
      auto arr = nlohmann::ordered_json::array();
      for (size_t i : front) arr.push_back(study::summary_json(S[i]));
      out[name] = arr;
      continue;
    }
    const char* unit = c == study::Cost::kEnergy ? "J/question" : c == study::Cost::kTokens ? "tokens/question" : "s";
    std::printf("frontier: accuracy vs %s (%s)%s\n", name.c_str(), unit,
                front.empty() ? " — no configuration has this measure" : "");
    for (size_t i : front) {
      const auto& s = S[i];
      std::printf("  %8.3f  %5.1f%% [%4.1f, %4.1f]  n=%-4lld %s%s\n", *study::cost_of(s, c), 100 * s.accuracy,
                  100 * s.acc_lo, 100 * s.acc_hi, static_cast<long long>(s.n), s.label.c_str(),
                  c == study::Cost::kEnergy && s.energy_estimated ? " (estimated energy)" : "");
    }
  }
  if (o.json) std::printf("%s\n", out.dump(2).c_str());
  return Status::ok();
}

}  // namespace

Command add_pareto_command(CLI::App& app) {
  auto o = std::make_shared<ParetoCliOptions>();
  CLI::App* sub = app.add_subcommand("pareto", "Pareto frontiers of accuracy vs latency, energy and tokens from a results database");
  sub->add_option("--db", o->db, "Results database (from sweep or study)")->capture_default_str();
  sub->add_option("--cost", o->cost, "all, mean, p90, energy or tokens")->capture_default_str();
  sub->add_flag("--json", o->json, "Print JSON: {cost: [configuration summaries on the frontier]}");
  return {sub, [o]() { return run_pareto(*o); }};
}

}  // namespace er::cli
