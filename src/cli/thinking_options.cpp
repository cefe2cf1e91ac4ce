// Thinking-control and vote flags: registration, unit conversion, validation.
#include "cli/thinking_options.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "perfmodel/analytic.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/extrapolation.h"
#include "reasoning/deadline.h"

namespace er::cli {

void add_thinking_flags(CLI::App* app, ThinkingFlags& f) {
  reasoning::ThinkingOptions& t = f.think;
  auto opt_int = [app](const std::string& name, std::optional<int64_t>& target, const std::string& help) {
    app->add_option_function<int64_t>(name, [&target](const int64_t& v) { target = v; }, help)->type_name("N");
  };
  const std::string group = "Thinking control";
  opt_int("--think-budget", t.think_budget,
          "At N thinking tokens force the end of thinking and an answer prefix, then at most --answer-budget tokens");
  app->add_option("--answer-budget", t.answer_budget, "Tokens allowed after the end of thinking (with a policy)")
      ->capture_default_str()
      ->group(group);
  app->add_flag("--no-think", t.no_think, "NoThink: prefill the thinking as finished (Qwen3: enable_thinking=false)")
      ->group(group);
  opt_int("--prompt-budget", t.prompt_budget, "Ask for at most N tokens in the prompt (the study's sentence; no cut)");
  opt_int("--l1", t.l1, "L1 Exact: append \"Think for N tokens.\"");
  opt_int("--l1-max", t.l1_max, "L1 Max: append \"Think for maximum N tokens.\"");
  opt_int("--min-think", t.min_think, "s1: replace an end of thinking before N thinking tokens by \"Wait\"");
  app->add_option_function<double>("--deadline", [&t](const double& v) { t.deadline_s = v; },
                                    "Answer within SECONDS: the thinking budget follows the measured decode rate (the plan warns when a "
                                    "profile decode fit is used beyond the contexts it was fitted on)")
      ->type_name("SECONDS")
      ->group(group);
  app->add_option("--deadline-step-ms", f.deadline_step_ms,
                  "Decode step time n (ms) the deadline plans with before it has measured one (device profile fit)")
      ->group(group);
  app->add_option("--deadline-step-per-ctx-ms", f.deadline_step_per_ctx_ms,
                  "Decode step time growth m (ms per context token) for the deadline plan")
      ->group(group);
  app->add_option("--vote", f.vote, "How --paths vote: majority or weighted (by mean token log-probability)")
      ->capture_default_str()
      ->group(group);
  app->add_flag("--early-stop", f.early_stop, "End all paths once the leading answer can no longer be overtaken")
      ->group(group);
  for (const char* name : {"--think-budget", "--prompt-budget", "--l1", "--l1-max", "--min-think"}) {
    app->get_option(name)->group(group);
  }
}

Result<reasoning::VoteOptions> finish_thinking_flags(ThinkingFlags& f) {
  if (!std::isfinite(f.deadline_step_ms) || !std::isfinite(f.deadline_step_per_ctx_ms) || f.deadline_step_ms < 0 ||
      f.deadline_step_per_ctx_ms < 0) {
    return Status::invalid("--deadline-step-ms and --deadline-step-per-ctx-ms must be finite and not negative");
  }
  if (f.think.deadline_s && !std::isfinite(*f.think.deadline_s)) return Status::invalid("--deadline must be finite");
  if ((f.deadline_step_ms > 0 || f.deadline_step_per_ctx_ms > 0) && !f.think.deadline_s) {
    return Status::invalid("--deadline-step-ms and --deadline-step-per-ctx-ms need --deadline");
  }
  f.think.deadline_step_s = f.deadline_step_ms / 1000.0;
  f.think.deadline_step_per_ctx_s = f.deadline_step_per_ctx_ms / 1000.0;
  ER_RETURN_IF_ERROR(reasoning::validate_thinking_options(f.think));
  reasoning::VoteOptions v;
  const auto mode = reasoning::vote_mode_from_name(f.vote);
  if (!mode) return Status::invalid("--vote must be majority or weighted (got '" + f.vote + "')");
  v.mode = *mode;
  v.early_stop = f.early_stop;
  return v;
}

std::string apply_profile_decode_model(ThinkingFlags& f, const std::string& model_path) {
  if (!f.think.deadline_s) return "";
  if (f.deadline_step_ms > 0 || f.deadline_step_per_ctx_ms > 0) return "deadline: decode step model from the flags";
  const std::string profile_path = perfmodel::default_profile_path();
  const std::string name = std::filesystem::path(model_path).stem().string();
  if (profile_path.empty() || !std::filesystem::exists(profile_path)) {
    return "deadline: no saved device profile; the decode rate is measured while decoding";
  }
  Result<perfmodel::DeviceProfile> prof = perfmodel::load_device_profile(profile_path);
  if (!prof.is_ok()) return "deadline: device profile not used (" + prof.status().message() + ")";
  const auto it = prof->models.find(name);
  const perfmodel::DecodeLatencyModel* d = it != prof->models.end() ? perfmodel::decode_model_for(it->second, 1) : nullptr;
  if (d == nullptr || !(d->n > 0) || !std::isfinite(d->n) || !std::isfinite(d->m) || d->m < 0) {
    return "deadline: '" + profile_path + "' has no decode fit for '" + name +
           "' (edgereason fit ... -o it); the decode rate is measured while decoding";
  }
  f.think.deadline_step_s = d->n;
  f.think.deadline_step_per_ctx_s = d->m;
  perfmodel::ModelCoefficients fit;  // the decode fit alone: the deadline uses nothing else
  fit.decode = *d;
  if (const auto r = it->second.ranges.find("decode_latency"); r != it->second.ranges.end()) fit.ranges.insert(*r);
  fit.fit = it->second.fit;
  f.deadline_fit = std::move(fit);
  f.deadline_fit_model = name;
  char buf[160];
  std::snprintf(buf, sizeof buf, "n = %.3f ms/step, m = %.3g ms per context token", d->n * 1000.0, d->m * 1000.0);
  return "deadline: decode step model from '" + profile_path + "' (" + buf + "), re-checked while decoding";
}

std::string deadline_extrapolation(const ThinkingFlags& f, int64_t n_prompt, int64_t max_new_tokens) {
  if (!f.deadline_fit || !f.think.deadline_s) return "";
  const perfmodel::DecodeLatencyModel& d = *f.deadline_fit->decode;
  // The steps the plan expects to fit in the whole deadline, from the first step's context.
  const double first_step = d.n + d.m * static_cast<double>(n_prompt);
  const int64_t steps = std::min(max_new_tokens, reasoning::deadline_steps(*f.think.deadline_s, first_step, d.m));
  perfmodel::ExtrapolationCheck check(*f.deadline_fit, f.deadline_fit_model);
  check.add(n_prompt, steps, 1);
  const std::vector<std::string> w = check.warnings();
  if (!w.empty()) return "deadline: " + w[0] + " (the deadline's plan; its step model may be off there)";
  if (check.ranges_unknown()) {
    return "deadline: the decode fit for " + f.deadline_fit_model +
           " records no range (fitted before ranges were kept): refit to check the plan for extrapolation";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> describe_thinking_flags(const ThinkingFlags& f) {
  std::vector<std::pair<std::string, std::string>> out;
  const reasoning::ThinkingOptions& t = f.think;
  auto add = [&](const char* k, const std::optional<int64_t>& v) {
    if (v) out.emplace_back(k, std::to_string(*v));
  };
  add("think_budget", t.think_budget);
  if (t.no_think) out.emplace_back("no_think", "true");
  add("prompt_budget", t.prompt_budget);
  add("l1", t.l1);
  add("l1_max", t.l1_max);
  add("min_think", t.min_think);
  if (t.deadline_s) out.emplace_back("deadline_s", std::to_string(*t.deadline_s));
  out.emplace_back("answer_budget", std::to_string(t.answer_budget));
  out.emplace_back("vote", f.vote);
  out.emplace_back("early_stop", f.early_stop ? "true" : "false");
  return out;
}

}  // namespace er::cli
