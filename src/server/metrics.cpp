// Prometheus text exposition of the server's counters (see metrics.h).
#include "server/metrics.h"

#include <cstdio>

namespace er::server {
namespace {

std::string num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::Histogram::add(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (v <= kBuckets[i]) ++counts[i];
  }
  sum += v;
  ++n;
}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::observe(double ttft_s, double tpot_s, double e2e_s, int64_t prompt_tokens, int64_t reasoning_tokens,
                      int64_t answer_tokens, double joules) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.add(ttft_s);
  if (tpot_s > 0) tpot_.add(tpot_s);
  e2e_.add(e2e_s);
  prompt_tokens_ += prompt_tokens;
  reasoning_tokens_ += reasoning_tokens;
  answer_tokens_ += answer_tokens;
  joules_ += joules;
}

void Metrics::render_histogram(std::string& out, const char* name, const char* help, const Histogram& h) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += std::string(name) + "_bucket{le=\"" + num(kBuckets[i]) + "\"} " + std::to_string(h.counts[i]) + "\n";
  }
  out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(h.n) + "\n";
  out += std::string(name) + "_sum " + num(h.sum) + "\n";
  out += std::string(name) + "_count " + std::to_string(h.n) + "\n";
}

std::string Metrics::render(int queue_depth, int in_flight) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP edgereason_requests_total HTTP requests answered, by endpoint and status.\n";
  out += "# TYPE edgereason_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "edgereason_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  }
  out += "# HELP edgereason_queue_depth Completion requests waiting for a slot.\n# TYPE edgereason_queue_depth gauge\n";
  out += "edgereason_queue_depth " + std::to_string(queue_depth) + "\n";
  out += "# HELP edgereason_requests_in_flight Completion requests being decoded.\n";
  out += "# TYPE edgereason_requests_in_flight gauge\n";
  out += "edgereason_requests_in_flight " + std::to_string(in_flight) + "\n";
  render_histogram(out, "edgereason_ttft_seconds", "Time to the first token.", ttft_);
  render_histogram(out, "edgereason_tpot_seconds", "Time per output token after the first.", tpot_);
  render_histogram(out, "edgereason_e2e_seconds", "End-to-end request latency.", e2e_);
  auto counter = [&](const char* name, const char* help, const std::string& v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " + v + "\n";
  };
  counter("edgereason_prompt_tokens_total", "Prompt tokens processed.", std::to_string(prompt_tokens_));
  counter("edgereason_reasoning_tokens_total", "Thinking tokens generated.", std::to_string(reasoning_tokens_));
  counter("edgereason_answer_tokens_total", "Tokens generated outside the thinking span.", std::to_string(answer_tokens_));
  counter("edgereason_energy_joules_total", "Energy attributed to requests (J; shared passes counted once per request).",
          num(joules_));
  return out;
}

}  // namespace er::server
