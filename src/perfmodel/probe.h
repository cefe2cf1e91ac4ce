// `probe`'s measurement of this host: memory bandwidth (STREAM copy / triad / read), peak f32 and
// int8 rates, CPU and caches; and the device profile made from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kernels/isa.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/host_info.h"
#include "perfmodel/membw.h"
#include "perfmodel/peak_compute.h"

namespace er::perfmodel {

struct ProbeOptions {
  int n_threads = 0;          // 0: every logical CPU
  double seconds = 8.0;       // measurement budget (allocation and page faults come on top)
  int64_t array_bytes = 0;    // per array; 0: max(8 x LLC, 512 MiB), or 8 x LLC below 4 s, capped at RAM / 8
  kernels::Isa isa = kernels::default_isa();
};

struct ProbeReport {
  HostInfo host;
  MemBandwidthResult mem;
  PeakComputeResult peak;
  std::vector<std::string> notes;  // caveats worth printing (small arrays, unknown cache size)
  double wall_s = 0;               // the whole probe, allocation included
  std::string date;                // ISO 8601 UTC
};

// The array size the options ask for on `host` (see ProbeOptions::array_bytes).
int64_t probe_array_bytes(const ProbeOptions& o, const HostInfo& host);

// REQUIRES: o.seconds > 0, o.n_threads >= 0, kernels::isa_supported(o.isa).
Result<ProbeReport> run_probe(const ProbeOptions& o);

// The bandwidth the profile carries: the read-only kernel (decode streams weights read-only).
double profile_bandwidth_gbps(const ProbeReport& r);

nlohmann::ordered_json to_json(const ProbeReport& r);
DeviceProfile profile_from_probe(const ProbeReport& r, const std::string& version);

// "2025-11-24T03:34:00Z".
std::string iso8601_utc_now();

}  // namespace er::perfmodel
