// `edgereason probe`: measures this host (memory bandwidth, peak f32/int8 rate, CPU, caches) and
// optionally saves the result as a device profile that `bench` and the perf models read.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "kernels/isa.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/probe.h"
#include "core/build_info.h"

namespace er::cli {
namespace {

struct ProbeCliOptions {
  bool json = false;
  std::string output;  // "" with -o given: the default profile path
  int n_threads = 0;
  double seconds = 8.0;
  int64_t array_mib = 0;
};

void print_text(const perfmodel::ProbeReport& r, const perfmodel::DeviceProfile& p, const std::string& saved_to) {
  auto line = [](const char* key, const std::string& value) { std::printf("%-14s %s\n", key, value.c_str()); };
  char buf[256];
  line("cpu", r.host.cpu + " (" + std::to_string(r.host.n_cores) + " logical CPUs)");
  std::string isa;
  for (const std::string& f : r.host.isa) isa += (isa.empty() ? "" : " ") + f;
  line("isa", isa.empty() ? "-" : isa);
  std::string caches;
  for (const perfmodel::CacheInfo& c : r.host.caches) {
    const char* t = c.type == "Data" ? "d" : c.type == "Instruction" ? "i" : "";
    caches += (caches.empty() ? "" : ", ") + std::string("L") + std::to_string(c.level) + t + " " +
              perfmodel::format_cache_size(c.size_bytes);
  }
  line("caches", caches.empty() ? "unknown" : caches);
  std::snprintf(buf, sizeof buf, "3 arrays x %lld MiB, %d threads, best repetition (STREAM counting)",
                static_cast<long long>(r.mem.array_bytes >> 20), r.mem.n_threads);
  line("memory", buf);
  for (const perfmodel::KernelBandwidth& k : r.mem.kernels) {
    std::snprintf(buf, sizeof buf, "%-6s %8.2f GB/s  (median %.2f, %d reps; %lld B/elem, %.2f GB/s with write-allocate)",
                  k.kernel.c_str(), k.best_gbps, k.median_gbps, k.reps, static_cast<long long>(k.bytes_per_elem),
                  k.best_gbps * static_cast<double>(k.write_allocate_bytes_per_elem) / static_cast<double>(k.bytes_per_elem));
    line("", buf);
  }
  std::snprintf(buf, sizeof buf, "f32 FMA %.1f GFLOP/s (%s); int8 dot %.1f GOP/s (%s); %d threads", r.peak.gflops_f32,
                r.peak.isa.c_str(), r.peak.gops_int8, r.peak.int8_kernel.c_str(), r.peak.n_threads);
  line("compute", buf);
  for (const std::string& n : r.notes) line("note", n);
  std::snprintf(buf, sizeof buf, "mem_bandwidth_gbps %.2f (read kernel), peak_gflops_f32 %.1f, peak_gops_int8 %.1f",
                p.mem_bandwidth_gbps, p.peak_gflops_f32.value_or(0), p.peak_gops_int8.value_or(0));
  line("profile", buf);
  line("saved to", saved_to.empty() ? "(not saved; give -o [PROFILE.json])" : saved_to);
  std::snprintf(buf, sizeof buf, "%.1f s", r.wall_s);
  line("took", buf);
}

Status run_probe(const ProbeCliOptions& o, bool save) {
  if (!(o.seconds > 0 && o.seconds <= 600)) return Status::invalid("--seconds must be in (0, 600]");
  if (o.n_threads < 0 || o.n_threads > 1024) return Status::invalid("-t must be in [1, 1024]");
  if (o.array_mib < 0 || o.array_mib > (int64_t{1} << 20)) return Status::invalid("--array-mib must be in [1, 1048576]");
  std::string path = o.output;
  if (save && path.empty()) {
    path = perfmodel::default_profile_path();
    if (path.empty()) return Status::invalid("-o: no path given and neither XDG_CACHE_HOME nor HOME is set");
  }
  perfmodel::ProbeOptions po;
  po.n_threads = o.n_threads;
  po.seconds = o.seconds;
  po.array_bytes = o.array_mib << 20;
  po.isa = kernels::default_isa();
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "probe: measuring memory bandwidth and peak compute for about %.0f s...\n", o.seconds);
  }
  ER_ASSIGN_OR_RETURN(perfmodel::ProbeReport r, perfmodel::run_probe(po));
  const perfmodel::DeviceProfile p = perfmodel::profile_from_probe(r, er::build_version());
  if (save) ER_RETURN_IF_ERROR(perfmodel::save_device_profile(p, path));
  if (o.json) {
    nlohmann::ordered_json j = perfmodel::to_json(r);
    nlohmann::ordered_json profile = perfmodel::to_json(p);
    profile.erase("probe");  // the same report, already above
    j["profile"] = profile;
    j["saved_to"] = save ? nlohmann::ordered_json(path) : nlohmann::ordered_json(nullptr);
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    print_text(r, p, save ? path : "");
  }
  return Status::ok();
}

}  // namespace

Command add_probe_command(CLI::App& app) {
  auto o = std::make_shared<ProbeCliOptions>();
  CLI::App* sub = app.add_subcommand("probe", "Measure this host's memory bandwidth and peak compute (a device profile)");
  sub->add_flag("--json", o->json, "Print one JSON object instead of text");
  CLI::Option* out = sub->add_option("-o,--output", o->output,
                                     "Save the device profile to PROFILE.json (no value: "
                                     "$XDG_CACHE_HOME/edgereason/host-profile.json, where bench looks by default)")
                         ->expected(0, 1);
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: every logical CPU)");
  sub->add_option("--seconds", o->seconds, "Measurement budget in seconds")->capture_default_str();
  sub->add_option("--array-mib", o->array_mib,
                  "MiB per array of the bandwidth test (default: max(8 x LLC, 512 MiB); 8 x LLC below 4 s)");
  return {sub, [o, out, sub]() -> Status {
            if (sub->count("--threads") > 0 && o->n_threads < 1) return Status::invalid("-t must be in [1, 1024]");
            if (sub->count("--array-mib") > 0 && o->array_mib < 1) {
              return Status::invalid("--array-mib must be in [1, 1048576]");
            }
            return run_probe(*o, out->count() > 0);
          }};
}

}  // namespace er::cli
