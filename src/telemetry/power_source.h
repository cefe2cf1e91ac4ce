// PowerSource: one interface over the places power or energy can be read (RAPL, NVML, Jetson
// INA3221, a recorded tegrastats log, an estimate, nothing), and the constructors of each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace er::telemetry {

using Clock = std::chrono::steady_clock;

// What read() returns: a cumulative energy counter (J since the source was opened; differences
// are what matter) or an instantaneous power (W) that the meter integrates.
enum class ReadingKind { kEnergyJ, kPowerW };

struct Reading {
  bool ok = false;   // false: this read failed (file vanished, counter not supported, log ended)
  double value = 0;  // J (cumulative) or W, as kind() says
};

class PowerSource {
 public:
  virtual ~PowerSource() = default;
  virtual const std::string& name() const = 0;  // "rapl", "nvml", "ina3221", "tegrastats", "estimated", "none"
  virtual const std::string& rail() const = 0;  // what is measured: "package-0", "VDD_IN", "gpu0", ...
  virtual bool estimated() const = 0;           // modelled rather than measured
  virtual ReadingKind kind() const = 0;
  // Where the figures come from, for the record (e.g. the estimate's watts and their origin).
  virtual const std::string& detail() const = 0;
  // One reading at steady-clock time `now`. Called from the sampler thread only, one call at a
  // time. REQUIRES: allocation-free (no heap use; sysfs reads go through fixed buffers).
  virtual Reading read(Clock::time_point now) = 0;
};

// A source that never reads anything: energy figures stay null.
std::unique_ptr<PowerSource> make_none_source(std::string why);

// ---- Linux RAPL (powercap) ----------------------------------------------------------------
// Sums the package domains <root>/sys/class/powercap/intel-rapl:N/energy_uj (µJ, cumulative),
// unwrapping each at its max_energy_range_uj. `root` is "" on a real system, a fake tree in tests.
// Errors say which file failed and why (root-only files give "permission denied").
Result<std::unique_ptr<PowerSource>> open_rapl(const std::string& root);

// ---- NVIDIA NVML, loaded at run time ------------------------------------------------------
// dlopen(library) ("libnvidia-ml.so.1" normally); sums every GPU. Prefers the total-energy
// counter (mJ, Volta and newer) over nvmlDeviceGetPowerUsage (mW, a ~1 s average).
Result<std::unique_ptr<PowerSource>> open_nvml(const std::string& library);

// ---- Jetson INA3221 (hwmon) ---------------------------------------------------------------
// Globs <root>/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label; power of rail k is
// in{k}_input (mV) × curr{k}_input (mA). Rail: `rail` when given, else the whole-module rail
// (VDD_IN, or POM_5V_IN on older modules), else the sum of every labelled rail (see
// docs/telemetry.md for why AGX Orin sums).
Result<std::unique_ptr<PowerSource>> open_ina3221(const std::string& root, const std::string& rail = "");

// ---- tegrastats log replay ----------------------------------------------------------------
// One line of a tegrastats log: time (s, from the line's "MM-DD-YYYY HH:MM:SS" stamp, or
// line index × default interval when unstamped) and each rail's current power (mW).
struct TegrastatsLine {
  double t_s = 0;
  std::vector<std::pair<std::string, double>> rails_mw;  // ("VDD_IN", 4834), ...
};
// Parses a log. Lines without rail readings are skipped; an unparsable file is an error naming
// the file and line. `default_interval_ms` spaces unstamped lines (tegrastats' default is 1000).
Result<std::vector<TegrastatsLine>> parse_tegrastats(const std::string& text, const std::string& file_name,
                                                     double default_interval_ms = 1000);
// Replays a recorded log as a power source: read(now) gives the chosen rail's power of the log
// line in effect (now - the first read) after the log's first line; past the log's end, reads
// fail (the run outlasted the recording). Rail choice as for INA3221.
Result<std::unique_ptr<PowerSource>> open_tegrastats_log(const std::string& path, const std::string& rail = "");

// Chooses the rail: `wanted` when non-empty (error if absent), else VDD_IN, else POM_5V_IN, else
// every rail summed (rail names "NC" skipped). Returns the indices of the rails to sum and the
// rail's name ("VDD_IN" or "sum(A+B+C)").
struct RailChoice {
  std::vector<size_t> indices;
  std::string name;
};
Result<RailChoice> choose_rail(const std::vector<std::string>& rails, const std::string& wanted);

// ---- Estimated ----------------------------------------------------------------------------
// power = idle_w + (max_w - idle_w) × activity, activity = the fraction of the machine's
// n_cores this process kept busy since the previous read (its CPU time over wall time × cores,
// clamped to [0, 1]). Always flagged estimated; `origin` says where idle_w/max_w came from.
struct EstimateParams {
  double idle_w = 0;
  double max_w = 0;
  int64_t n_cores = 1;
  std::string origin;  // "device profile 'host'", "default: 1 W idle, 5 W busy per logical CPU"
};
// Seconds of CPU time used by this process so far (all threads); injectable for tests.
using CpuSecondsFn = std::function<double()>;
double process_cpu_seconds();
Result<std::unique_ptr<PowerSource>> make_estimated_source(const EstimateParams& p,
                                                           CpuSecondsFn cpu_seconds = process_cpu_seconds);

}  // namespace er::telemetry
