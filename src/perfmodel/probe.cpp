// Probe orchestration, its JSON report and the profile made from it (see probe.h).
#include "perfmodel/probe.h"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace er::perfmodel {

std::string iso8601_utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t probe_array_bytes(const ProbeOptions& o, const HostInfo& host) {
  if (o.array_bytes > 0) return o.array_bytes;
  const int64_t mib = int64_t{1} << 20;
  const int64_t llc = host.llc_bytes > 0 ? host.llc_bytes : 64 * mib;
  int64_t want = std::max(8 * llc, o.seconds >= 4.0 ? 512 * mib : 64 * mib);
  if (host.mem_total_bytes > 0) want = std::min(want, host.mem_total_bytes / 8);
  return std::max(want, 16 * mib);
}

Result<ProbeReport> run_probe(const ProbeOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  ProbeReport r;
  r.date = iso8601_utc_now();
  r.host = read_host_info();
  const int n_threads = o.n_threads > 0 ? o.n_threads : static_cast<int>(r.host.n_cores);
  MemBandwidthOptions mo;
  mo.n_threads = n_threads;
  mo.array_bytes = probe_array_bytes(o, r.host);
  mo.seconds = 0.65 * o.seconds;
  mo.isa = o.isa;
  if (r.host.llc_bytes == 0) r.notes.push_back("last-level cache size unknown; arrays sized for 64 MiB");
  if (r.host.llc_bytes > 0 && mo.array_bytes < 8 * r.host.llc_bytes) {
    r.notes.push_back("arrays are smaller than 8 x the last-level cache: bandwidth includes cache hits");
  }
  ER_ASSIGN_OR_RETURN(r.mem, measure_mem_bandwidth(mo));
  r.peak = measure_peak_compute(n_threads, o.isa, 0.35 * o.seconds);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

double profile_bandwidth_gbps(const ProbeReport& r) {
  for (const KernelBandwidth& k : r.mem.kernels) {
    if (k.kernel == "read") return k.best_gbps;
  }
  return r.mem.kernels.empty() ? 0 : r.mem.kernels.front().best_gbps;
}

nlohmann::ordered_json to_json(const ProbeReport& r) {
  nlohmann::ordered_json j;
  j["date"] = r.date;
  j["cpu"] = r.host.cpu;
  j["n_cores"] = r.host.n_cores;
  j["isa"] = r.host.isa;
  nlohmann::ordered_json caches = nlohmann::ordered_json::array();
  for (const CacheInfo& c : r.host.caches) {
    caches.push_back({{"level", c.level}, {"type", c.type}, {"size_bytes", c.size_bytes}, {"n_sharing_cpus", c.n_sharing_cpus}});
  }
  j["caches"] = caches;
  j["llc_bytes"] = r.host.llc_bytes;
  j["mem_total_bytes"] = r.host.mem_total_bytes;
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  for (const KernelBandwidth& k : r.mem.kernels) {
    kernels.push_back({{"kernel", k.kernel},
                       {"gbps", k.best_gbps},
                       {"median_gbps", k.median_gbps},
                       {"bytes_per_elem", k.bytes_per_elem},
                       {"gbps_with_write_allocate",
                        k.best_gbps * static_cast<double>(k.write_allocate_bytes_per_elem) / static_cast<double>(k.bytes_per_elem)},
                       {"reps", k.reps}});
  }
  j["memory"] = {{"isa", r.mem.isa},
                 {"n_threads", r.mem.n_threads},
                 {"array_bytes", r.mem.array_bytes},
                 {"n_arrays", 3},
                 {"counting", "STREAM: copy 16 B/elem, triad 24 B/elem, read 8 B/elem; best repetition"},
                 {"kernels", kernels},
                 {"bandwidth_gbps", profile_bandwidth_gbps(r)},
                 {"bandwidth_kernel", "read"}};
  j["compute"] = {{"isa", r.peak.isa},
                  {"n_threads", r.peak.n_threads},
                  {"gflops_f32", r.peak.gflops_f32},
                  {"int8_kernel", r.peak.int8_kernel},
                  {"gops_int8", r.peak.gops_int8}};
  j["notes"] = r.notes;
  j["wall_s"] = r.wall_s;
  return j;
}

DeviceProfile profile_from_probe(const ProbeReport& r, const std::string& version) {
  DeviceProfile p;
  p.name = "host";
  p.kind = "host";
  p.mem_bandwidth_gbps = profile_bandwidth_gbps(r);
  p.peak_gflops_f32 = r.peak.gflops_f32 > 0 ? std::optional<double>(r.peak.gflops_f32) : std::nullopt;
  p.peak_gops_int8 = r.peak.gops_int8 > 0 ? std::optional<double>(r.peak.gops_int8) : std::nullopt;
  p.cpu = r.host.cpu;
  p.n_cores = r.host.n_cores;
  p.isa = r.host.isa;
  p.measured = true;
  p.source = "edgereason probe " + version;
  p.date = r.date;
  p.probe = to_json(r);
  return p;
}

}  // namespace er::perfmodel
