// The estimated source: power from the device's idle and busy watts and the share of the
// machine's cores this process kept busy (its CPU time), integrated into a cumulative energy.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

class EstimatedSource final : public PowerSource {
 public:
  EstimatedSource(const EstimateParams& p, CpuSecondsFn cpu, std::string detail)
      : p_(p), cpu_(std::move(cpu)), detail_(std::move(detail)) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return true; }
  ReadingKind kind() const override { return ReadingKind::kEnergyJ; }
  const std::string& detail() const override { return detail_; }

  // energy += (idle + (max - idle) × activity) × dt, activity = Δcpu / (Δt × n_cores).
  Reading read(Clock::time_point now) override {
    const double cpu_s = cpu_();
    if (started_) {
      const double dt = std::chrono::duration<double>(now - last_t_).count();
      if (dt > 0) {
        const double activity = std::clamp((cpu_s - last_cpu_s_) / (dt * static_cast<double>(p_.n_cores)), 0.0, 1.0);
        energy_j_ += (p_.idle_w + (p_.max_w - p_.idle_w) * activity) * dt;
      }
    }
    if (!started_ || now > last_t_) {
      last_t_ = now;
      last_cpu_s_ = cpu_s;
    }
    started_ = true;
    return {true, energy_j_};
  }

 private:
  std::string name_ = "estimated";
  std::string rail_ = "cpu-activity";
  EstimateParams p_;
  CpuSecondsFn cpu_;
  std::string detail_;
  bool started_ = false;
  Clock::time_point last_t_{};
  double last_cpu_s_ = 0;
  double energy_j_ = 0;
};

}  // namespace

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<std::unique_ptr<PowerSource>> make_estimated_source(const EstimateParams& p, CpuSecondsFn cpu_seconds) {
  if (!(std::isfinite(p.idle_w) && std::isfinite(p.max_w)) || p.idle_w < 0 || p.max_w < p.idle_w || p.max_w <= 0) {
    return Status::invalid("estimated: need 0 <= idle_w <= max_w and max_w > 0 (got idle " + std::to_string(p.idle_w) +
                           " W, max " + std::to_string(p.max_w) + " W)");
  }
  if (p.n_cores < 1) return Status::invalid("estimated: n_cores must be >= 1");
  char buf[256];
  std::snprintf(buf, sizeof buf, "idle %.1f W, busy %.1f W over %lld logical CPUs, from %s", p.idle_w, p.max_w,
                static_cast<long long>(p.n_cores), p.origin.c_str());
  return std::unique_ptr<PowerSource>(new EstimatedSource(p, std::move(cpu_seconds), buf));
}

}  // namespace er::telemetry
