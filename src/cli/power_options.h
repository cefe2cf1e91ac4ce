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
#include "telemetry/energy_meter.h"
#include "telemetry/power_select.h"

namespace er::cli {

struct PowerOptions {
  std::string spec = "auto";  // --power
  double interval_ms = 20;    // --power-interval
};

// Registers --power SOURCE and --power-interval MS on a subcommand.
void add_power_flags(CLI::App* sub, PowerOptions& o);

// Checks the flags without touching any device (call early, with the other flag checks).
Status validate_power_options(const PowerOptions& o);

// The estimate's idle/busy watts: the device profile's idle_power_w / max_power_w when it has
// them, else the documented defaults (1 W idle and 5 W busy per logical CPU).
telemetry::EstimateParams estimate_params(const std::optional<perfmodel::DeviceProfile>& profile);

// Opens the source (`auto`: the best available), prints "power: NAME (RAIL) — REASON" on stderr
// and starts sampling. `profile`: the device profile for the estimate (none: the default
// profile `probe -o` saved, if any).
Result<std::unique_ptr<telemetry::EnergyMeter>> start_energy_meter(
    const PowerOptions& o, const std::optional<perfmodel::DeviceProfile>& profile = std::nullopt);

// A request's windows: prefill and decode as the generator timed them; j_per_token over every
// generated token.
telemetry::PhaseWindows phase_windows(const engine::GenerateResult& r);

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
