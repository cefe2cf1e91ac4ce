// EnergyMeter: a sampler thread that turns a PowerSource into a cumulative-energy time series,
// and the attribution of that energy to a request's prefill and decode windows.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "telemetry/power_source.h"

namespace er::telemetry {

// One point of the series: steady-clock time and energy since the meter started (J).
struct EnergySample {
  Clock::time_point t;
  double energy_j = 0;
};

// Energy in [t0, t1] from a cumulative series sorted by time, interpolating linearly between the
// samples around each edge (constant power between samples). nullopt when t1 < t0 or the window
// is not inside [first sample, last sample].
std::optional<double> energy_between(std::span<const EnergySample> samples, Clock::time_point t0,
                                     Clock::time_point t1);

// A request's phases, as the engine timed them (milliseconds after t_start):
// prefill = [t_start, t_start + prefill_ms], decode = [t_start + ttft_ms, t_start + e2e_ms].
struct PhaseWindows {
  Clock::time_point t_start{};
  double prefill_ms = 0;
  double ttft_ms = 0;
  double e2e_ms = 0;
  int64_t n_prefill_tokens = 0;  // prompt tokens evaluated in prefill
  int64_t n_decode_tokens = 0;   // tokens generated in the decode window (all paths)
  int64_t n_counted_tokens = 0;  // the denominator of j_per_token (run: every generated token)
  bool count_prefill = true;     // whether the phases belong to what the record counts
  bool count_decode = true;
};

// Energy per phase for one record. Values are null when the source measured nothing or the
// samples do not cover the window.
struct PhaseEnergy {
  std::string source;       // "rapl", "nvml", "ina3221", "tegrastats", "estimated", "none"
  std::string rail;         // "package-0", "VDD_IN", "sum(...)", "gpu0", "cpu-activity"
  std::string detail;       // where the figures come from
  std::string reason;       // why this source (auto's choice, or "requested")
  double interval_ms = 0;   // sampling interval
  bool estimated = false;   // modelled rather than measured
  std::optional<double> prefill_j, decode_j;                     // J in each window
  std::optional<double> prefill_w, decode_w;                     // mean W in each window
  std::optional<double> prefill_j_per_token, decode_j_per_token;  // J / tokens of the phase
  std::optional<double> total_j;      // J over the counted phases (first start to last end)
  std::optional<double> j_per_token;  // total_j / n_counted_tokens

  nlohmann::ordered_json to_json() const;
};

// Computes PhaseEnergy from a series (what EnergyMeter::phase_energy does under its lock).
PhaseEnergy attribute_energy(std::span<const EnergySample> samples, const PhaseWindows& w);

struct MeterOptions {
  double interval_ms = 20;      // sampling period of the thread
  size_t capacity = 1u << 18;   // samples kept (reserved up front; the oldest half is dropped when full)
};

class EnergyMeter {
 public:
  // `reason`: why this source was chosen (printed and recorded).
  EnergyMeter(std::unique_ptr<PowerSource> source, MeterOptions opts, std::string reason = "");
  ~EnergyMeter();
  EnergyMeter(const EnergyMeter&) = delete;
  EnergyMeter& operator=(const EnergyMeter&) = delete;

  // Takes the first sample now, then one every interval on a sampler thread (none for "none").
  void start();
  void stop();  // final sample, thread joined; idempotent
  // Takes a sample now (call after a request so its end is covered without waiting a period).
  void sample_now();

  std::optional<double> energy_between(Clock::time_point t0, Clock::time_point t1) const;
  PhaseEnergy phase_energy(const PhaseWindows& w) const;

  const PowerSource& source() const { return *source_; }
  const std::string& reason() const { return reason_; }
  double interval_ms() const { return opts_.interval_ms; }
  int64_t n_samples() const;
  int64_t n_failed_reads() const;

 private:
  void take_sample_locked(Clock::time_point now);  // REQUIRES mu_ held; allocation-free
  void loop();

  std::unique_ptr<PowerSource> source_;
  MeterOptions opts_;
  std::string reason_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  bool running_ = false;
  std::thread thread_;
  std::vector<EnergySample> samples_;  // (<= capacity,) sorted by time, reserved at construction
  int64_t n_failed_ = 0;
  // Power sources: the previous reading, for the trapezoid rule.
  bool have_power_ = false;
  Clock::time_point last_power_t_{};
  double last_power_w_ = 0;
  double energy_j_ = 0;  // integrated so far (power sources)
  double energy_base_j_ = 0;  // energy sources: the first reading, subtracted
  bool have_base_ = false;
};

}  // namespace er::telemetry
