// --power and --power-interval for run and bench: choosing the source, starting the energy meter,
// and putting per-phase energy into run's JSON / text summary and bench records.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/generator.h"
#include "perfmodel/device_profile.h"
#include "report/bench_record.h"
#include "session/session.h"
#include "telemetry/energy_meter.h"
#include "telemetry/power_select.h"

namespace er::cli {

struct PowerOptions {
  std::string spec = "auto";  // --power
  double interval_ms = 20;    // --power-interval
};

// Registers --power SOURCE and --power-interval MS on a subcommand.
void add_power_flags(CLI::App* sub, PowerOptions& o);

// Parses --power and --power-interval once into the library's options (the estimate's watts from
// `profile`, else the default profile `probe -o` saved, else the defaults); touches no device.
Result<session::EnergyOptions> energy_options(const PowerOptions& o,
                                              const std::optional<perfmodel::DeviceProfile>& profile = std::nullopt);

// The estimate's idle/busy watts: the device profile's idle_power_w / max_power_w when it has
// them, else the documented defaults (1 W idle and 5 W busy per logical CPU).
telemetry::EstimateParams estimate_params(const std::optional<perfmodel::DeviceProfile>& profile);

// Opens the source (`auto`: the best available), prints "power: NAME (RAIL) — REASON" on stderr
// and starts sampling.
Result<session::StartedMeter> start_energy_meter(const session::EnergyOptions& o);

// A request's windows: prefill and decode as the generator timed them (session::phase_windows).
using session::phase_windows;

// bench: a prompt-processing repetition (prefill only, n_prompt tokens from t0 for ms), and a
// generation repetition (decode counted; prefill too when `whole`, as in ppN+tgM).
telemetry::PhaseWindows bench_pp_windows(engine::Clock::time_point t0, double ms, int64_t n_prompt);
telemetry::PhaseWindows bench_gen_windows(const engine::GenerateResult& r, bool whole);

// run's "energy" object and its summary line ("energy (rapl, package-0): prefill 1.2 J (12.0 W), ...").
nlohmann::ordered_json energy_json(const telemetry::PhaseEnergy& e);
std::string energy_line(const telemetry::PhaseEnergy& e);

// bench: the mean over the repetitions of each phase's energy into the record's energy fields.
// `windows` (one per repetition) say which phases the test counts and the tokens it counts.
void fill_bench_energy(const telemetry::EnergyMeter& meter, const std::vector<telemetry::PhaseWindows>& windows,
                       report::BenchRecord& rec);

}  // namespace er::cli
