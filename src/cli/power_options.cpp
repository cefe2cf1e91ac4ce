// --power / --power-interval glue for run and bench (see power_options.h).
#include "cli/power_options.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <thread>

namespace er::cli {
namespace {

constexpr double kDefaultIdleWPerCpu = 1.0;  // documented defaults for the estimate when the device
constexpr double kDefaultMaxWPerCpu = 5.0;   // profile has no idle_power_w / max_power_w

std::optional<perfmodel::DeviceProfile> default_profile() {
  const std::string path = perfmodel::default_profile_path();
  if (path.empty() || access(path.c_str(), R_OK) != 0) return std::nullopt;
  Result<perfmodel::DeviceProfile> p = perfmodel::load_device_profile(path);
  if (!p.is_ok()) return std::nullopt;
  return *p;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

void add_power_flags(CLI::App* sub, PowerOptions& o) {
  sub->add_option("--power", o.spec,
                  "Power source: auto, rapl, nvml, ina3221[:RAIL], tegrastats:FILE (replay a recorded log), "
                  "estimated, none")
      ->capture_default_str();
  sub->add_option("--power-interval", o.interval_ms, "Power sampling interval in ms")->capture_default_str();
}

Result<session::EnergyOptions> energy_options(const PowerOptions& o,
                                              const std::optional<perfmodel::DeviceProfile>& profile) {
  session::EnergyOptions e;
  ER_ASSIGN_OR_RETURN(e.spec, telemetry::parse_power_spec(o.spec));
  e.interval_ms = o.interval_ms;
  ER_RETURN_IF_ERROR(session::validate_energy_options(e));
  e.estimate = estimate_params(profile ? profile : default_profile());
  return e;
}

telemetry::EstimateParams estimate_params(const std::optional<perfmodel::DeviceProfile>& profile) {
  telemetry::EstimateParams p;
  p.n_cores = profile && profile->n_cores > 0 ? profile->n_cores
                                               : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  if (profile && profile->idle_power_w && profile->max_power_w) {
    p.idle_w = *profile->idle_power_w;
    p.max_w = *profile->max_power_w;
    p.origin = "device profile '" + profile->name + "'";
  } else {
    p.idle_w = kDefaultIdleWPerCpu * static_cast<double>(p.n_cores);
    p.max_w = kDefaultMaxWPerCpu * static_cast<double>(p.n_cores);
    p.origin = "defaults of 1 W idle and 5 W busy per logical CPU (no idle_power_w/max_power_w in a device profile)";
  }
  return p;
}

Result<session::StartedMeter> start_energy_meter(const session::EnergyOptions& o) {
  ER_ASSIGN_OR_RETURN(session::StartedMeter m, session::start_meter(o));
  std::fprintf(stderr, "%s\n", m.note.c_str());
  return m;
}

telemetry::PhaseWindows bench_pp_windows(engine::Clock::time_point t0, double ms, int64_t n_prompt) {
  telemetry::PhaseWindows w;
  w.t_start = t0;
  w.prefill_ms = w.ttft_ms = w.e2e_ms = ms;
  w.n_prefill_tokens = w.n_counted_tokens = n_prompt;
  w.count_decode = false;
  return w;
}

telemetry::PhaseWindows bench_gen_windows(const engine::GenerateResult& r, bool whole) {
  telemetry::PhaseWindows w = phase_windows(r);
  w.count_prefill = whole;
  w.n_counted_tokens = w.n_decode_tokens + (whole ? r.n_prompt : 0);
  return w;
}

nlohmann::ordered_json energy_json(const telemetry::PhaseEnergy& e) { return e.to_json(); }

std::string energy_line(const telemetry::PhaseEnergy& e) {
  if (e.source == "none") return "energy: not measured (--power none)";
  auto j = [](const std::optional<double>& v) { return v ? fmt("%.3f J", *v) : std::string("n/a"); };
  auto w = [](const std::optional<double>& v) { return v ? fmt(" (%.2f W)", *v) : std::string(); };
  std::string s = "energy (" + e.source + (e.rail.empty() ? "" : " " + e.rail) +
                  (e.estimated ? ", ESTIMATED" : ", measured") + "): prefill " + j(e.prefill_j) + w(e.prefill_w) +
                  "; decode " + j(e.decode_j) + w(e.decode_w);
  if (e.j_per_token) s += "; " + fmt("%.4f J/token", *e.j_per_token);
  return s;
}

void fill_bench_energy(const telemetry::EnergyMeter& meter, const std::vector<telemetry::PhaseWindows>& windows,
                       report::BenchRecord& rec) {
  rec.energy_source = meter.source().name();
  if (!meter.source().rail().empty()) rec.energy_rail = meter.source().rail();
  rec.energy_interval_ms = meter.interval_ms();
  rec.energy_estimated = meter.source().estimated();
  if (windows.empty()) return;
  // Mean over the repetitions; a figure stays null unless every repetition has it.
  auto mean = [&](auto member) -> std::optional<double> {
    double sum = 0;
    for (const telemetry::PhaseWindows& w : windows) {
      const std::optional<double> v = meter.phase_energy(w).*member;
      if (!v) return std::nullopt;
      sum += *v;
    }
    return sum / static_cast<double>(windows.size());
  };
  using E = telemetry::PhaseEnergy;
  rec.prefill_j = mean(&E::prefill_j);
  rec.decode_j = mean(&E::decode_j);
  rec.prefill_w = mean(&E::prefill_w);
  rec.decode_w = mean(&E::decode_w);
  rec.j_per_token = mean(&E::j_per_token);
}

}  // namespace er::cli
