// DeviceProfile: what a device can do (memory bandwidth, peak compute, cores, ISA), measured by
// `probe` or taken from a datasheet, saved as JSON; rooflines and bandwidth fractions read it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "perfmodel/analytic.h"

namespace er::perfmodel {

struct DeviceProfile {
  std::string name;                        // "host", "jetson-agx-orin-64gb", ...
  std::string kind;                        // "host", "jetson", "gpu", ...
  double mem_bandwidth_gbps = 0;           // memory bandwidth, 1e9 bytes/s (> 0)
  std::optional<double> peak_gflops_f32;   // f32 FMA rate, 1e9 flop/s (null: unknown)
  std::optional<double> peak_gops_int8;    // int8 dot rate, 1e9 op/s, 2 ops per multiply-add (null: unknown)
  std::string cpu;                         // CPU model name
  int64_t n_cores = 0;                     // logical CPUs (>= 1)
  std::optional<double> idle_power_w;      // whole-device power when idle, W (null: unknown)
  std::optional<double> max_power_w;       // whole-device power with every core busy, W (null: unknown)
  std::vector<std::string> isa;            // instruction-set features ("avx2", "avx512_vnni", "neon", ...)
  bool measured = false;                   // true: measured by probe; false: datasheet
  std::string source;                      // "edgereason probe 0.1.0", "datasheet: <url>", ...
  std::string date;                        // ISO 8601 date or time of the measurement / entry
  // Measurement detail kept for the record (probe's JSON report; null in datasheet profiles).
  nlohmann::ordered_json probe;

  // Perf models (perfmodel/analytic.h, roofline.h; optional, absent from older files).
  std::optional<double> peak_gflops_f16;               // 16-bit matrix rate (GPU tensor cores), 1e9 flop/s
  std::map<std::string, ModelCoefficients> models;     // fitted / entered models, keyed by model name
};

nlohmann::ordered_json to_json(const DeviceProfile& p);
// Every field above except `probe`, idle_power_w, max_power_w and the perf-model block must be
// present; peak_* may be null; the power fields may be absent or null (profiles written before they
// existed). Errors name the field ("models.smollm2: field 'decode.m' must be a finite number").
Result<DeviceProfile> profile_from_json(const nlohmann::json& j);

// Reads / writes a profile file. Errors name the file and, for bad content, the field
// ("'x.json': missing field 'mem_bandwidth_gbps'"). save creates missing parent directories and
// replaces the file atomically.
Result<DeviceProfile> load_device_profile(const std::string& path);
Status save_device_profile(const DeviceProfile& p, const std::string& path);

// Where `probe -o` saves and `bench` looks by default: $XDG_CACHE_HOME/edgereason/host-profile.json,
// else ~/.cache/edgereason/host-profile.json; empty when neither variable is set.
std::string default_profile_path();

}  // namespace er::perfmodel
