// The server's Prometheus metrics (GET /metrics, text exposition format 0.0.4): requests by
// endpoint and status, queue depth and requests in flight, TTFT / TPOT / end-to-end histograms,
// prompt / reasoning / answer tokens and joules.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace er::server {

class Metrics {
 public:
  void count_request(const std::string& endpoint, int status);
  // A finished completion: seconds to the first token, per output token after it, end to end.
  void observe(double ttft_s, double tpot_s, double e2e_s, int64_t prompt_tokens, int64_t reasoning_tokens,
               int64_t answer_tokens, double joules);
  // The text of GET /metrics; gauges are read by the caller at that moment.
  std::string render(int queue_depth, int in_flight) const;

 private:
  static constexpr std::array<double, 14> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1,     2.5,  5,     10,   30,  60,  120};
  struct Histogram {
    std::array<int64_t, kBuckets.size()> counts{};  // cumulative at render time
    double sum = 0;
    int64_t n = 0;
    void add(double v);
  };
  static void render_histogram(std::string& out, const char* name, const char* help, const Histogram& h);

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  Histogram ttft_, tpot_, e2e_;
  int64_t prompt_tokens_ = 0, reasoning_tokens_ = 0, answer_tokens_ = 0;
  double joules_ = 0;
};

}  // namespace er::server
