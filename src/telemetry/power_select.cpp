// --power parsing and the `auto` fallback chain (see power_select.h).
#include "telemetry/power_select.h"

namespace er::telemetry {

Result<PowerSpec> parse_power_spec(const std::string& text) {
  PowerSpec s;
  const size_t colon = text.find(':');
  const std::string head = text.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : text.substr(colon + 1);
  const bool has_arg = colon != std::string::npos;
  using K = PowerSpec::Kind;
  if (head == "auto") s.kind = K::kAuto;
  else if (head == "rapl") s.kind = K::kRapl;
  else if (head == "nvml") s.kind = K::kNvml;
  else if (head == "ina3221") s.kind = K::kIna3221;
  else if (head == "tegrastats") s.kind = K::kTegrastats;
  else if (head == "estimated") s.kind = K::kEstimated;
  else if (head == "none") s.kind = K::kNone;
  else {
    return Status::invalid("${power} '" + text +
                           "': expected auto, rapl, nvml, ina3221[:RAIL], tegrastats:FILE, estimated or none");
  }
  if (s.kind == K::kTegrastats) {
    if (arg.empty()) return Status::invalid("${power} '" + text + "': give the recorded log as tegrastats:FILE");
  } else if (s.kind == K::kIna3221) {
    if (has_arg && arg.empty()) return Status::invalid("${power} '" + text + "': give a rail name after 'ina3221:'");
  } else if (has_arg) {
    return Status::invalid("${power} '" + text + "': '" + head + "' takes no ':' argument");
  }
  s.arg = arg;
  return s;
}

Result<PowerSelection> open_power_source(const PowerSpec& spec, const PowerEnv& env) {
  using K = PowerSpec::Kind;
  auto chosen = [](Result<std::unique_ptr<PowerSource>> r, std::string reason) -> Result<PowerSelection> {
    if (!r.is_ok()) return r.status();
    return PowerSelection{std::move(r).value(), std::move(reason)};
  };
  switch (spec.kind) {
    case K::kRapl: return chosen(open_rapl(env.sysfs_root), "requested");
    case K::kNvml: return chosen(open_nvml(env.nvml_library), "requested");
    case K::kIna3221: return chosen(open_ina3221(env.sysfs_root, spec.arg), "requested");
    case K::kTegrastats: return chosen(open_tegrastats_log(spec.arg), "requested (replay of a recorded log)");
    case K::kEstimated: return chosen(make_estimated_source(env.estimate, env.cpu_seconds), "requested");
    case K::kNone: return PowerSelection{make_none_source("requested: no energy measurement"), "requested"};
    case K::kAuto: break;
  }
  // auto: the best available, each failure noted.
  std::string why;
  auto note = [&](const Status& s) { why += s.message() + "; "; };
  if (env.gpu_engine) {
    auto r = open_nvml(env.nvml_library);
    if (r.is_ok()) return PowerSelection{std::move(r).value(), "auto: " + why + "using nvml"};
    note(r.status());
  }
  for (auto* open : {+[](const PowerEnv& e) { return open_ina3221(e.sysfs_root); },
                     +[](const PowerEnv& e) { return open_rapl(e.sysfs_root); }}) {
    auto r = open(env);
    if (r.is_ok()) {
      const std::string name = (*r)->name();
      return PowerSelection{std::move(r).value(), "auto: " + why + "using " + name};
    }
    note(r.status());
  }
  auto est = make_estimated_source(env.estimate, env.cpu_seconds);
  if (est.is_ok()) return PowerSelection{std::move(est).value(), "auto: " + why + "using estimated"};
  note(est.status());
  return PowerSelection{make_none_source("nothing available"), "auto: " + why + "using none"};
}

}  // namespace er::telemetry
