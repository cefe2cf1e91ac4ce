// `edgereason fit`: fits the study's analytic models (prefill / decode latency, power, energy) to
// bench or eval records by non-negative least squares (coefficients keep their physical signs),
// scores them on held-out points, and writes them, with the range of inputs each saw, into a
// device profile.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "perfmodel/builtin_profiles.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/fit_records.h"
#include "perfmodel/probe.h"
#include "core/build_info.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

struct FitCliOptions {
  std::vector<std::string> inputs;
  perfmodel::FitOptions fit;
  std::string output;  // profile to write ("" = none)
  std::string device;  // base profile when -o does not exist yet
  bool json = false;
};

std::string fmt_opt(const std::optional<double>& v, const char* f) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, *v);
  return buf;
}

std::string coefficients_text(const ordered_json& c) {
  std::string s;
  for (const auto& [k, v] : c.items()) {
    char buf[96];
    if (v.is_number_integer()) std::snprintf(buf, sizeof buf, "%s=%lld", k.c_str(), static_cast<long long>(v.get<int64_t>()));
    else std::snprintf(buf, sizeof buf, "%s=%.5g", k.c_str(), v.get<double>());
    s += (s.empty() ? "" : " ") + std::string(buf);
  }
  return s;
}

// "I 64-1024" (prefill, power) or "ctx 64-1152" (decode latency) or "O 8-64" (decode power).
std::string range_text(const std::optional<perfmodel::FitRange>& r) {
  if (!r || r->n_points == 0) return "-";
  auto span = [](const perfmodel::TokenRange& t) { return std::to_string(t.min) + "-" + std::to_string(t.max); };
  if (r->context) return "ctx " + span(*r->context) + ", I " + span(r->n_prompt);
  if (r->n_gen) return "O " + span(*r->n_gen);
  return "I " + span(r->n_prompt);
}

void print_text(const std::vector<perfmodel::ModelFitReport>& reports, const FitCliOptions& o, int64_t n_obs,
                int64_t skipped, const std::string& saved_to) {
  std::printf("%lld records used, %lld skipped; hold-out %.0f%% (seed %llu), prefill pad %lld\n",
              static_cast<long long>(n_obs), static_cast<long long>(skipped), o.fit.holdout * 100,
              static_cast<unsigned long long>(o.fit.seed), static_cast<long long>(o.fit.pad));
  for (const perfmodel::ModelFitReport& r : reports) {
    std::printf("\nmodel %s (%lld records)\n", r.model.c_str(), static_cast<long long>(r.n_observations));
    std::printf("| %-26s | %5s | %5s | %-44s | %13s | %8s | %10s | %-24s |\n", "quantity", "train", "test",
                "coefficients", "held-out MAPE", "held R2", "train MAPE", "fitted on (tokens)");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(7, '-').c_str(),
                std::string(7, '-').c_str(), std::string(46, '-').c_str(), std::string(15, '-').c_str(),
                std::string(10, '-').c_str(), std::string(12, '-').c_str(), std::string(26, '-').c_str());
    for (const perfmodel::QuantityFit& q : r.fits) {
      std::string coef = q.error.empty() ? coefficients_text(q.coefficients) : "not fitted: " + q.error;
      for (const std::string& z : q.at_zero) coef += " (" + z + " held at 0)";
      std::printf("| %-26s | %5lld | %5lld | %-44s | %13s | %8s | %10s | %-24s |\n", (q.quantity + " [" + q.unit + "]").c_str(),
                  static_cast<long long>(q.n_train), static_cast<long long>(q.n_test), coef.c_str(),
                  fmt_opt(q.mape_pct, "%.2f%%").c_str(), fmt_opt(q.r2, "%.4f").c_str(),
                  fmt_opt(q.train_mape_pct, "%.2f%%").c_str(), range_text(q.range).c_str());
    }
    for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  }
  if (!saved_to.empty()) std::printf("\nwrote the models into %s\n", saved_to.c_str());
}

Status run_fit(const FitCliOptions& o) {
  if (!(o.fit.holdout >= 0 && o.fit.holdout < 1)) return Status::invalid("--holdout must be in [0, 1)");
  if (o.fit.pad < 1 || o.fit.pad > 65536) return Status::invalid("--pad must be in [1, 65536]");
  if (o.fit.short_max_tokens < 0) return Status::invalid("--short-max-tokens must be >= 0");
  if (o.fit.seed > static_cast<uint64_t>(INT64_MAX)) {  // a negative --seed wraps around to a huge one
    return Status::invalid("--seed must be in [0, " + std::to_string(INT64_MAX) + "] (got " + std::to_string(o.fit.seed) +
                           ", or a negative number)");
  }
  std::vector<perfmodel::Observation> obs;
  int64_t skipped = 0;
  for (const std::string& path : o.inputs) {
    ER_ASSIGN_OR_RETURN(std::vector<perfmodel::Observation> v, perfmodel::read_observations(path, &skipped));
    obs.insert(obs.end(), v.begin(), v.end());
  }
  ER_ASSIGN_OR_RETURN(std::vector<perfmodel::ModelFitReport> reports, perfmodel::fit_observations(obs, o.fit));

  // The profile to write: -o itself when it exists (models are merged in), else --device.
  std::string saved_to;
  if (!o.output.empty()) {
    perfmodel::DeviceProfile profile;
    if (access(o.output.c_str(), F_OK) == 0) {
      Result<perfmodel::DeviceProfile> p = perfmodel::load_device_profile(o.output);
      if (!p.is_ok()) return p.status().with_context("-o");
      profile = std::move(*p);
    } else {
      std::string note;
      ER_ASSIGN_OR_RETURN(profile, perfmodel::resolve_device(o.device, &note));
      if (!note.empty()) std::fprintf(stderr, "fit: %s\n", note.c_str());
    }
    std::string inputs;
    for (const std::string& p : o.inputs) inputs += " " + p;
    for (perfmodel::ModelFitReport& r : reports) {
      r.coefficients.source = "edgereason fit " + er::build_version() + " on" + inputs;
      ordered_json fits = ordered_json::array();
      for (const perfmodel::QuantityFit& q : r.fits) {
        ordered_json f = perfmodel::to_json(q);
        f.erase("held_out");
        fits.push_back(f);
      }
      r.coefficients.fit = {{"date", perfmodel::iso8601_utc_now()},
                            {"holdout", o.fit.holdout},
                            {"seed", o.fit.seed},
                            {"quantities", fits},
                            {"notes", r.notes}};
      // Keep a shape entered before (fit has none to give).
      if (const auto it = profile.models.find(r.model); it != profile.models.end() && !r.coefficients.shape) {
        r.coefficients.shape = it->second.shape;
      }
      profile.models[r.model] = r.coefficients;
    }
    ER_RETURN_IF_ERROR(perfmodel::save_device_profile(profile, o.output));
    saved_to = o.output;
  }

  if (o.json) {
    ordered_json j;
    j["n_records"] = obs.size();
    j["n_skipped"] = skipped;
    j["holdout"] = o.fit.holdout;
    j["seed"] = o.fit.seed;
    j["pad"] = o.fit.pad;
    ordered_json models = ordered_json::array();
    for (const perfmodel::ModelFitReport& r : reports) {
      ordered_json m;
      m["model"] = r.model;
      m["n_records"] = r.n_observations;
      ordered_json fits = ordered_json::array();
      for (const perfmodel::QuantityFit& q : r.fits) fits.push_back(perfmodel::to_json(q));
      m["fits"] = fits;
      m["notes"] = r.notes;
      models.push_back(m);
    }
    j["models"] = models;
    j["saved_to"] = saved_to.empty() ? ordered_json(nullptr) : ordered_json(saved_to);
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    print_text(reports, o, static_cast<int64_t>(obs.size()), skipped, saved_to);
  }
  return Status::ok();
}

}  // namespace

Command add_fit_command(CLI::App& app) {
  auto o = std::make_shared<FitCliOptions>();
  CLI::App* sub = app.add_subcommand("fit", "Fit the study's latency / power / energy models to bench or eval records (non-negative "
      "coefficients; each fit keeps the range of inputs it saw)");
  sub->add_option("RESULTS", o->inputs, "bench records (-o json or jsonl) or eval JSONL files")->required();
  sub->add_option("--holdout", o->fit.holdout, "Fraction of each fit's points held out for scoring")->capture_default_str();
  sub->add_option("--seed", o->fit.seed, "Seed of the hold-out split")->capture_default_str();
  sub->add_option("--pad", o->fit.pad, "Prefill padding in tokens (128 on the Orin GPU; 1 on CPUs)")->capture_default_str();
  sub->add_option("--short-max-tokens", o->fit.short_max_tokens,
                  "Decode power: log model up to this many tokens, warm-up model above")->capture_default_str();
  sub->add_option("-o,--output", o->output, "Write the models into this device profile (merged when it exists)");
  o->device = "host";
  sub->add_option("--device", o->device, "Base profile for a new -o file: built-in name or JSON path")->capture_default_str();
  sub->add_flag("--json", o->json, "Print one JSON object (with the held-out points) instead of tables");
  return {sub, [o]() -> Status { return run_fit(*o); }};
}

}  // namespace er::cli
