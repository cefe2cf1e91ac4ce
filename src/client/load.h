// An engine measured as a server under load, as vLLM's serving benchmark measures one: requests
// issued closed-loop by K concurrent clients (--concurrency) or open-loop at a Poisson rate
// (--request-rate, optionally capped at K in flight), bounded by a count and a time; then
//   request throughput  completed requests / duration
//   output throughput   generated tokens of the completed requests / duration
//   TTFT, TPOT, ITL, E2E  mean and p50 / p90 / p99 (TPOT per request: (E2E - TTFT) / (tokens - 1);
//                       ITL: every gap between text chunks, pooled)
//   goodput             requests that met every SLO given (TTFT, TPOT) / duration
// Failed requests are counted by kind with the first reason; they never count as fast or zero.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "client/openai_client.h"
#include "core/status.h"

namespace er::client {

struct LoadOptions {
  int concurrency = 0;        // requests in flight at most (0: unbounded; needs request_rate)
  double request_rate = 0;    // requests per second, Poisson arrivals (0: closed loop, as fast as K allow)
  int64_t num_requests = 32;  // requests issued at most
  double max_duration_s = 0;  // stop issuing after this long (0: no limit); in-flight ones finish
  uint64_t seed = 0;          // the arrival times
  std::optional<double> slo_ttft_ms, slo_tpot_ms;
};
// Ranges (invalid naming ${concurrency}, ${request_rate}, ${num_requests}, ${max_duration}, ${slo_...}).
Status validate_load_options(const LoadOptions& o);

struct Percentiles {
  int64_t n = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};
Percentiles percentiles_of(std::vector<double> v);  // the one percentile rule (core/stats)

struct LoadResult {
  int64_t n_sent = 0, n_completed = 0, n_failed = 0;
  std::map<std::string, int64_t> failures;   // kind -> count
  std::string first_error;                   // the first failure's reason
  double duration_s = 0;                     // first request sent -> last one ended
  int64_t input_tokens = 0, output_tokens = 0;
  double request_throughput = 0, output_throughput = 0;
  Percentiles ttft_ms, tpot_ms, itl_ms, e2e_ms;
  int64_t n_good = 0;
  std::optional<double> goodput;             // req/s meeting the SLOs (set when an SLO was given)
  std::chrono::steady_clock::time_point t_start{};
  bool cancelled = false;

  std::string to_text() const;  // a vLLM-style summary block
};

// Runs the load: `make(i)` builds request i. `progress(done, sent)` is called as requests end.
LoadResult run_load(const Client& c, const std::function<CompletionRequest(int64_t)>& make, const LoadOptions& o,
                    const std::atomic<bool>* cancel = nullptr,
                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace er::client
