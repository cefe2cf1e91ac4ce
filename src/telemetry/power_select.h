// Choosing a power source from a --power value: the explicit sources, and `auto`, which tries
// the best available in turn and says which it took and why.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "telemetry/power_source.h"

namespace er::telemetry {

// A parsed --power value: auto | rapl | nvml | ina3221[:RAIL] | tegrastats:FILE | estimated | none.
struct PowerSpec {
  enum class Kind { kAuto, kRapl, kNvml, kIna3221, kTegrastats, kEstimated, kNone };
  Kind kind = Kind::kAuto;
  std::string arg;  // the rail for ina3221, the log file for tegrastats
};
// Errors name the flag: "--power 'x': expected auto, rapl, ...".
Result<PowerSpec> parse_power_spec(const std::string& text);

// Where the sources look; everything injectable for tests.
struct PowerEnv {
  std::string sysfs_root;                          // "" = the real /sys; a fake tree in tests
  std::string nvml_library = "libnvidia-ml.so.1";  // dlopen name
  bool gpu_engine = false;                         // auto tries NVML first only for work on a GPU
  EstimateParams estimate;                         // for "estimated" (and auto's fallback)
  CpuSecondsFn cpu_seconds = process_cpu_seconds;
};

struct PowerSelection {
  std::unique_ptr<PowerSource> source;
  std::string reason;  // "auto: ina3221: ... not present; rapl: ... not readable (...); using estimated"
};

// Opens the source the spec names. An explicit source that cannot be opened is an error
// (Status::unsupported, naming the file or library and why); `auto` degrades in order
// [nvml, when gpu_engine] → ina3221 → rapl → estimated → none, recording why each was skipped.
Result<PowerSelection> open_power_source(const PowerSpec& spec, const PowerEnv& env);

}  // namespace er::telemetry
