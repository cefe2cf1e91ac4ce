#include "client/load.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "core/stats.h"
#include "sampling/rng.h"

namespace er::client {

using Clock = std::chrono::steady_clock;

Status validate_load_options(const LoadOptions& o) {
  if (o.concurrency < 0 || o.concurrency > 4096) return Status::invalid("${concurrency} must be in [1, 4096]");
  if (!std::isfinite(o.request_rate) || o.request_rate < 0) {
    return Status::invalid("${request_rate} must be a positive number of requests per second");
  }
  if (o.concurrency == 0 && o.request_rate == 0) {
    return Status::invalid("a load needs ${concurrency} K or ${request_rate} R (or both)");
  }
  if (o.num_requests < 1 || o.num_requests > 1000000) return Status::invalid("${num_requests} must be in [1, 1000000]");
  if (!std::isfinite(o.max_duration_s) || o.max_duration_s < 0) {
    return Status::invalid("${max_duration} must be a number of seconds >= 0 (0: no limit)");
  }
  for (const auto& [name, v] : {std::pair{"${slo_ttft_ms}", o.slo_ttft_ms}, std::pair{"${slo_tpot_ms}", o.slo_tpot_ms}}) {
    if (v && (!std::isfinite(*v) || *v <= 0)) return Status::invalid(std::string(name) + " must be a positive number of ms");
  }
  return Status::ok();
}

Percentiles percentiles_of(std::vector<double> v) {
  Percentiles p;
  p.n = static_cast<int64_t>(v.size());
  if (v.empty()) return p;
  p.mean = stats::mean(v);
  p.p50 = stats::percentile(v, 50);
  p.p90 = stats::percentile(v, 90);
  p.p99 = stats::percentile(v, 99);
  return p;
}

std::string LoadResult::to_text() const {
  std::string s;
  char buf[256];
  auto line = [&](const char* name, const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    s += std::string(name) + std::string(std::max<size_t>(1, 34 - std::string(name).size()), ' ') + buf + "\n";
  };
  s += "============ Serving Benchmark Result ============\n";
  line("Successful requests:", "%lld", static_cast<long long>(n_completed));
  line("Failed requests:", "%lld", static_cast<long long>(n_failed));
  for (const auto& [kind, n] : failures) line(("  " + kind + ":").c_str(), "%lld", static_cast<long long>(n));
  if (!first_error.empty()) s += "  first failure: " + first_error + "\n";
  line("Benchmark duration (s):", "%.2f", duration_s);
  line("Total input tokens:", "%lld", static_cast<long long>(input_tokens));
  line("Total generated tokens:", "%lld", static_cast<long long>(output_tokens));
  line("Request throughput (req/s):", "%.2f", request_throughput);
  line("Output token throughput (tok/s):", "%.2f", output_throughput);
  if (goodput) line("Request goodput (req/s):", "%.2f (%lld met the SLOs)", *goodput, static_cast<long long>(n_good));
  auto block = [&](const char* title, const Percentiles& p) {
    s += std::string("---------------") + title + "----------------\n";
    std::string t(title);
    line(("Mean " + t + " (ms):").c_str(), "%.2f", p.mean);
    line(("Median " + t + " (ms):").c_str(), "%.2f", p.p50);
    line(("P90 " + t + " (ms):").c_str(), "%.2f", p.p90);
    line(("P99 " + t + " (ms):").c_str(), "%.2f", p.p99);
  };
  block("TTFT", ttft_ms);
  block("TPOT", tpot_ms);
  block("ITL", itl_ms);
  block("E2E", e2e_ms);
  s += "==================================================\n";
  return s;
}

LoadResult run_load(const Client& c, const std::function<CompletionRequest(int64_t)>& make, const LoadOptions& o,
                    const std::atomic<bool>* cancel, const std::function<void(int64_t, int64_t)>& progress) {
  LoadResult r;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<int64_t> queue;  // arrived, not yet sent
  bool closed = false;        // no more arrivals
  std::vector<Completion> done;
  done.reserve(static_cast<size_t>(std::min<int64_t>(o.num_requests, 1 << 16)));
  const Clock::time_point t0 = Clock::now();
  r.t_start = t0;
  auto stopped = [&] { return cancel != nullptr && cancel->load(); };
  auto out_of_time = [&] {
    return o.max_duration_s > 0 && Clock::now() - t0 >= std::chrono::duration<double>(o.max_duration_s);
  };

  // K workers (the concurrency cap; unbounded open loop: enough for any backlog we would see).
  const int64_t n_workers = o.concurrency > 0 ? o.concurrency : std::min<int64_t>(o.num_requests, 256);
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < n_workers; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        int64_t i = 0;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return !queue.empty() || closed; });
          if (queue.empty()) return;
          i = queue.front();
          queue.pop_front();
          if (stopped() || out_of_time()) continue;  // drained, not sent
          ++r.n_sent;
        }
        Completion comp = c.complete(make(i), cancel);
        std::lock_guard<std::mutex> lock(mu);
        done.push_back(std::move(comp));
        if (progress) progress(static_cast<int64_t>(done.size()), r.n_sent);
      }
    });
  }
  // Arrivals: all at once (closed loop) or Poisson at the rate.
  sampling::Rng rng(o.seed);
  Clock::time_point next_arrival = t0;
  for (int64_t i = 0; i < o.num_requests && !stopped() && !out_of_time(); ++i) {
    if (o.request_rate > 0 && i > 0) {
      const double gap_s = -std::log(1.0 - rng.uniform()) / o.request_rate;
      next_arrival += std::chrono::microseconds(static_cast<int64_t>(gap_s * 1e6));
      while (Clock::now() < next_arrival && !stopped()) {
        std::this_thread::sleep_for(std::min<Clock::duration>(next_arrival - Clock::now(), std::chrono::milliseconds(20)));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(i);
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    closed = true;
    cv.notify_all();
  }
  for (std::thread& t : workers) t.join();
  r.cancelled = stopped();

  Clock::time_point t_end = t0;
  std::vector<double> ttft, tpot, itl, e2e;
  for (const Completion& comp : done) {
    const Clock::time_point end =
        comp.t_sent + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(comp.e2e_ms));
    t_end = std::max(t_end, end);
    if (!comp.ok()) {
      ++r.n_failed;
      ++r.failures[failure_name(comp.failure)];
      if (r.first_error.empty()) r.first_error = comp.error;
      continue;
    }
    ++r.n_completed;
    r.input_tokens += comp.usage.prompt_tokens.value_or(0);
    r.output_tokens += comp.output_tokens();
    if (comp.ttft_ms >= 0) ttft.push_back(comp.ttft_ms);
    e2e.push_back(comp.e2e_ms);
    const std::optional<double> tp = comp.tpot_ms();
    if (tp) tpot.push_back(*tp);
    itl.insert(itl.end(), comp.itl_ms.begin(), comp.itl_ms.end());
    if (o.slo_ttft_ms || o.slo_tpot_ms) {
      const bool ttft_ok = !o.slo_ttft_ms || (comp.ttft_ms >= 0 && comp.ttft_ms <= *o.slo_ttft_ms);
      const bool tpot_ok = !o.slo_tpot_ms || !tp || *tp <= *o.slo_tpot_ms;
      if (ttft_ok && tpot_ok) ++r.n_good;
    }
  }
  r.duration_s = std::chrono::duration<double>(t_end - t0).count();
  if (r.duration_s > 0) {
    r.request_throughput = static_cast<double>(r.n_completed) / r.duration_s;
    r.output_throughput = static_cast<double>(r.output_tokens) / r.duration_s;
    if (o.slo_ttft_ms || o.slo_tpot_ms) r.goodput = static_cast<double>(r.n_good) / r.duration_s;
  } else if (o.slo_ttft_ms || o.slo_tpot_ms) {
    r.goodput = 0;
  }
  r.ttft_ms = percentiles_of(std::move(ttft));
  r.tpot_ms = percentiles_of(std::move(tpot));
  r.itl_ms = percentiles_of(std::move(itl));
  r.e2e_ms = percentiles_of(std::move(e2e));
  return r;
}

}  // namespace er::client
