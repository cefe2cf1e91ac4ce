// BenchRecord: the one schema for benchmark results (llama-bench's fields plus ours), and the
// field table that every printer (md, csv, json, jsonl, sql) and the JSON reader walk.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace er::report {

// One benchmark test (pp512, tg128, pp512+tg128) at one configuration, after its repetitions.
// Field names are a contract (scripts and the results database read them): never rename one.
// Units are in the names or in the comments; null (std::nullopt) means "not measured".
struct BenchRecord {
  // Build and host.
  std::string build_commit;   // `git describe` of the source tree at configure time
  std::string build_version;  // edgereason version
  std::string cpu_info;       // CPU model name
  std::string isa;            // kernel level that ran: "scalar", "avx2", "avx512"
  // Model.
  std::string model_filename;  // path given to -m, resolved
  std::string model_type;      // "llama 135M Q4_1": architecture, parameter count, main weight type
  int64_t model_size = 0;      // bytes of weights
  int64_t model_n_params = 0;  // parameters (elements of all tensors)
  // Configuration.
  int64_t n_batch = 0;    // prompt tokens per forward pass (prefill chunk)
  int64_t n_threads = 0;  // threads of the forward pass
  std::string type_k;     // KV cache type of K: "f16", "f32"
  std::string type_v;     // KV cache type of V
  int64_t n_ctx = 0;      // context positions per path allocated for the run
  int64_t n_paths = 1;    // paths decoded together from one prefill (tg, pp+tg)
  int64_t n_warmup = 0;   // unrecorded warm-up runs before the repetitions
  int64_t n_reps = 0;     // recorded repetitions (= samples_ns.size())
  // Test.
  std::string test;       // "pp512", "tg128", "pp512+tg128"
  int64_t n_prompt = 0;   // prompt tokens (0 for tg)
  int64_t n_gen = 0;      // timed generated tokens per path (0 for pp)
  std::string test_time;  // ISO 8601 UTC time the test started
  // Throughput over the repetitions (t/s counts n_prompt + n_paths * n_gen tokens).
  int64_t avg_ns = 0;                // mean time of one repetition
  int64_t stddev_ns = 0;             // sample standard deviation of samples_ns
  double avg_ts = 0;                 // mean of samples_ts, tokens/s
  double stddev_ts = 0;              // sample standard deviation of samples_ts
  double median_ts = 0;              // median of samples_ts
  double min_ts = 0;                 // slowest repetition, tokens/s
  double max_ts = 0;                 // fastest repetition, tokens/s
  std::vector<int64_t> samples_ns;   // (n_reps,) time of each repetition
  std::vector<double> samples_ts;    // (n_reps,) tokens/s of each repetition
  // Latency (tests that generate; medians over the repetitions, ITL pooled over them).
  std::optional<double> ttft_ms;     // request start -> first generated token
  std::optional<double> tpot_ms;     // (E2E - TTFT) / (tokens per path - 1)
  std::optional<double> itl_p50_ms;  // gaps between decode steps, percentiles
  std::optional<double> itl_p90_ms;
  std::optional<double> itl_p99_ms;
  // Memory traffic (bytes per repetition, as the model and the KV cache account for them).
  int64_t weight_bytes_read = 0;  // weights streamed: once per forward pass
  int64_t kv_bytes_read = 0;      // K and V read by attention
  std::optional<double> achieved_gbps;           // bytes read / median repetition time, 1e9 B/s
  std::optional<std::string> device_name;        // device profile the fraction is against
  std::optional<double> device_bandwidth_gbps;   // that profile's memory bandwidth
  std::optional<double> bandwidth_fraction;      // achieved_gbps / device_bandwidth_gbps
  // Energy (filled by the telemetry sources; null until measured).
  std::optional<std::string> energy_source;  // "rapl", "ina3221", "nvml", "estimated", ...
  std::optional<double> prefill_j;           // joules during prefill
  std::optional<double> decode_j;            // joules during decode
  std::optional<double> j_per_token;         // joules per counted token
  std::optional<bool> energy_estimated;      // true when modelled rather than measured
  std::optional<std::string> energy_rail;    // what the source measures: "package-0", "VDD_IN", ...
  std::optional<double> energy_interval_ms;  // power sampling interval
  std::optional<double> prefill_w;           // mean watts during prefill
  std::optional<double> decode_w;            // mean watts during decode
  // Added after the energy fields so existing CSV columns keep their places.
  // Thinking policy the generating tests ran under ("think_budget=64 answer_budget=32"); null for a
  // plain decode of exactly n_gen tokens. With a policy n_gen is the cap per path, and the tokens
  // counted are those the paths generated (the policy may end them earlier).
  std::optional<std::string> thinking;
  // Another engine measured through its OpenAI-compatible API (bench --backend openai:URL); null
  // for the in-process engine. Timings are the client's (vLLM's serving-benchmark definitions).
  std::optional<std::string> backend;         // "openai:http://127.0.0.1:8080"
  std::optional<std::string> flavor;          // "llamacpp", "vllm", "sglang", "edgereason", "openai"
  std::optional<std::string> server_version;  // what the server says it is ("unknown" when silent)
  // A load test (test "serve c4" or "serve r2"): the engine as a server, many requests.
  std::optional<int64_t> concurrency;         // requests in flight at most (null: unbounded)
  std::optional<double> request_rate;         // Poisson arrivals, requests/s (null: closed loop)
  std::optional<int64_t> n_requests;          // requests sent
  std::optional<int64_t> n_failed;            // of them failed (timeout, HTTP error, broken stream, ...)
  std::optional<double> duration_s;           // first request sent -> last ended
  std::optional<double> request_throughput;   // completed requests / duration, req/s
  std::optional<double> output_throughput;    // generated tokens / duration, tok/s
  std::optional<double> ttft_p50_ms, ttft_p99_ms;
  std::optional<double> tpot_p50_ms, tpot_p99_ms;
  std::optional<double> e2e_p50_ms, e2e_p99_ms;
  std::optional<double> slo_ttft_ms, slo_tpot_ms;  // the SLOs goodput counts against
  std::optional<double> goodput;                   // requests meeting every SLO / duration, req/s
  // Speculative decoding (bench --spec ngram | --draft MODEL): the method ("ngram", "draft:MODEL"),
  // tokens drafted and accepted over the recorded repetitions, and accepted / drafted.
  std::optional<std::string> spec;
  std::optional<int64_t> spec_drafted, spec_accepted;
  std::optional<double> spec_acceptance;
};

// The kinds of value a field holds, as the printers need to know them.
enum class FieldType { kText, kInt, kReal, kBool, kIntArray, kRealArray };

// Where a field lives in BenchRecord; the variant alternative gives its type and nullability.
using FieldMember =
    std::variant<std::string BenchRecord::*, int64_t BenchRecord::*, double BenchRecord::*,
                 std::vector<int64_t> BenchRecord::*, std::vector<double> BenchRecord::*,
                 std::optional<std::string> BenchRecord::*, std::optional<int64_t> BenchRecord::*,
                 std::optional<double> BenchRecord::*,
                 std::optional<bool> BenchRecord::*>;

struct FieldDef {
  const char* name;         // column / key name
  FieldMember member;
  const char* unit;         // "ns", "tok/s", "ms", "GB/s", "bytes", "J", or "" for none
  const char* description;  // one line for docs and --help

  FieldType type() const;
  bool nullable() const;  // std::optional member
};

// Every field, in output order.
std::span<const FieldDef> bench_fields();

// One field's value: null, text, integer, real, bool, or an array.
using FieldValue = std::variant<std::monostate, std::string, int64_t, double, bool, std::vector<int64_t>,
                                std::vector<double>>;
FieldValue field_value(const BenchRecord& r, const FieldDef& f);

// The record as one JSON object (keys in field order; null for absent values).
nlohmann::ordered_json to_json(const BenchRecord& r);
// Reads a record back; every field must be present with the right type, except nullable ones, which
// may be absent (records written before the field existed) and read as null.
// Errors name the field.
Result<BenchRecord> record_from_json(const nlohmann::json& j);

}  // namespace er::report
