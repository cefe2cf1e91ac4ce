// The sampler thread, the trapezoid integration of power sources and the per-phase attribution.
#include "telemetry/energy_meter.h"

#include <algorithm>
#include <chrono>

namespace er::telemetry {
namespace {

using Ms = std::chrono::duration<double, std::milli>;

Clock::time_point at_ms(Clock::time_point t0, double ms) {
  return t0 + std::chrono::duration_cast<Clock::duration>(Ms(ms));
}

// Cumulative energy at t by linear interpolation; REQUIRES samples cover t.
double energy_at(std::span<const EnergySample> s, Clock::time_point t) {
  const auto it = std::lower_bound(s.begin(), s.end(), t, [](const EnergySample& a, Clock::time_point b) { return a.t < b; });
  if (it == s.begin()) return it->energy_j;  // t == first sample time
  const EnergySample& hi = *it;
  const EnergySample& lo = *(it - 1);
  const double span = std::chrono::duration<double>(hi.t - lo.t).count();
  if (span <= 0) return hi.energy_j;
  const double f = std::chrono::duration<double>(t - lo.t).count() / span;
  return lo.energy_j + (hi.energy_j - lo.energy_j) * f;
}

nlohmann::ordered_json opt(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::optional<double> energy_between(std::span<const EnergySample> samples, Clock::time_point t0,
                                     Clock::time_point t1) {
  if (samples.empty() || t1 < t0 || t0 < samples.front().t || t1 > samples.back().t) return std::nullopt;
  return energy_at(samples, t1) - energy_at(samples, t0);
}

nlohmann::ordered_json PhaseEnergy::to_json() const {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["rail"] = rail;
  j["interval_ms"] = interval_ms;
  j["estimated"] = estimated;
  j["prefill_j"] = opt(prefill_j);
  j["decode_j"] = opt(decode_j);
  j["prefill_w"] = opt(prefill_w);
  j["decode_w"] = opt(decode_w);
  j["prefill_j_per_token"] = opt(prefill_j_per_token);
  j["decode_j_per_token"] = opt(decode_j_per_token);
  j["total_j"] = opt(total_j);
  j["j_per_token"] = opt(j_per_token);
  j["detail"] = detail;
  j["reason"] = reason;
  return j;
}

PhaseEnergy attribute_energy(std::span<const EnergySample> s, const PhaseWindows& w) {
  PhaseEnergy e;
  auto phase = [&](double from_ms, double to_ms, int64_t n_tokens, std::optional<double>& j,
                   std::optional<double>& watts, std::optional<double>& per_token) {
    const Clock::time_point t0 = at_ms(w.t_start, from_ms), t1 = at_ms(w.t_start, to_ms);
    j = energy_between(s, t0, t1);
    if (!j) return;
    const double seconds = std::chrono::duration<double>(t1 - t0).count();  // the window integrated
    if (seconds > 0) watts = *j / seconds;
    if (n_tokens > 0) per_token = *j / static_cast<double>(n_tokens);
  };
  if (w.count_prefill) {
    phase(0, w.prefill_ms, w.n_prefill_tokens, e.prefill_j, e.prefill_w, e.prefill_j_per_token);
  }
  if (w.count_decode) {
    phase(w.ttft_ms, w.e2e_ms, w.n_decode_tokens, e.decode_j, e.decode_w, e.decode_j_per_token);
  }
  if (w.count_prefill || w.count_decode) {
    const double from = w.count_prefill ? 0 : w.ttft_ms;
    const double to = w.count_decode ? w.e2e_ms : w.prefill_ms;
    e.total_j = energy_between(s, at_ms(w.t_start, from), at_ms(w.t_start, to));
    if (e.total_j && w.n_counted_tokens > 0) e.j_per_token = *e.total_j / static_cast<double>(w.n_counted_tokens);
  }
  return e;
}

EnergyMeter::EnergyMeter(std::unique_ptr<PowerSource> source, MeterOptions opts, std::string reason)
    : source_(std::move(source)), opts_(opts), reason_(std::move(reason)) {
  ER_CHECK(source_ != nullptr, "EnergyMeter needs a source");
  ER_CHECK(opts_.interval_ms > 0 && opts_.capacity >= 4, "EnergyMeter: bad options");
  samples_.reserve(opts_.capacity);
}

EnergyMeter::~EnergyMeter() { stop(); }

void EnergyMeter::take_sample_locked(Clock::time_point now) {
  const Reading r = source_->read(now);
  if (!r.ok) {
    ++n_failed_;
    return;
  }
  double cumulative_j = 0;
  if (source_->kind() == ReadingKind::kEnergyJ) {
    if (!have_base_) {
      energy_base_j_ = r.value;
      have_base_ = true;
    }
    cumulative_j = r.value - energy_base_j_;
  } else {
    if (have_power_) {
      const double dt = std::chrono::duration<double>(now - last_power_t_).count();
      if (dt > 0) energy_j_ += 0.5 * (last_power_w_ + r.value) * dt;
    }
    have_power_ = true;
    last_power_t_ = now;
    last_power_w_ = r.value;
    cumulative_j = energy_j_;
  }
  if (!samples_.empty() && now <= samples_.back().t) return;  // keep times strictly increasing
  if (samples_.size() == opts_.capacity) {
    // Full: drop the oldest half (no allocation; capacity was reserved).
    const size_t half = opts_.capacity / 2;
    std::move(samples_.begin() + static_cast<std::ptrdiff_t>(half), samples_.end(), samples_.begin());
    samples_.resize(samples_.size() - half);
  }
  samples_.push_back({now, cumulative_j});
}

void EnergyMeter::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (running_) return;
  running_ = true;
  stop_requested_ = false;
  take_sample_locked(Clock::now());
  if (source_->name() == "none") return;
  thread_ = std::thread([this] { loop(); });
}

void EnergyMeter::loop() {
  const auto period = std::chrono::duration_cast<Clock::duration>(Ms(opts_.interval_ms));
  std::unique_lock<std::mutex> lk(mu_);
  Clock::time_point next = Clock::now() + period;
  while (!stop_requested_) {
    if (cv_.wait_until(lk, next, [this] { return stop_requested_; })) break;
    const Clock::time_point now = Clock::now();
    take_sample_locked(now);
    next += period;
    if (next <= now) next = now + period;  // fell behind (a stalled machine): do not burst
  }
}

void EnergyMeter::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!running_) return;
    running_ = false;
    stop_requested_ = true;
    take_sample_locked(Clock::now());
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EnergyMeter::sample_now() {
  std::lock_guard<std::mutex> lk(mu_);
  take_sample_locked(Clock::now());
}

std::optional<double> EnergyMeter::energy_between(Clock::time_point t0, Clock::time_point t1) const {
  std::lock_guard<std::mutex> lk(mu_);
  return telemetry::energy_between(samples_, t0, t1);
}

PhaseEnergy EnergyMeter::phase_energy(const PhaseWindows& w) const {
  PhaseEnergy e;
  {
    std::lock_guard<std::mutex> lk(mu_);
    e = attribute_energy(samples_, w);
  }
  e.source = source_->name();
  e.rail = source_->rail();
  e.detail = source_->detail();
  e.reason = reason_;
  e.interval_ms = opts_.interval_ms;
  e.estimated = source_->estimated();
  return e;
}

int64_t EnergyMeter::n_samples() const {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<int64_t>(samples_.size());
}

int64_t EnergyMeter::n_failed_reads() const {
  std::lock_guard<std::mutex> lk(mu_);
  return n_failed_;
}

}  // namespace er::telemetry
