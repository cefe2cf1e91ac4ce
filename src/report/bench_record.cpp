// The BenchRecord field table (names, units, descriptions) and the record <-> JSON mapping.
#include "report/bench_record.h"

#include <cmath>
#include <type_traits>

namespace er::report {
namespace {

using R = BenchRecord;

// One row per field, in output order. Adding a field: add the member, then one row here.
const FieldDef kFields[] = {
    {"build_commit", &R::build_commit, "", "git describe of the source tree"},
    {"build_version", &R::build_version, "", "edgereason version"},
    {"cpu_info", &R::cpu_info, "", "CPU model name"},
    {"isa", &R::isa, "", "kernel level that ran (scalar, avx2, avx512, neon, dotprod, i8mm)"},
    {"model_filename", &R::model_filename, "", "model file"},
    {"model_type", &R::model_type, "", "architecture, parameter count, main weight type"},
    {"model_size", &R::model_size, "bytes", "bytes of weights"},
    {"model_n_params", &R::model_n_params, "", "parameters"},
    {"n_batch", &R::n_batch, "tokens", "prompt tokens per forward pass"},
    {"n_threads", &R::n_threads, "", "threads"},
    {"type_k", &R::type_k, "", "KV cache type of K"},
    {"type_v", &R::type_v, "", "KV cache type of V"},
    {"n_ctx", &R::n_ctx, "tokens", "context positions per path"},
    {"n_paths", &R::n_paths, "", "paths decoded together from one prefill"},
    {"n_warmup", &R::n_warmup, "", "unrecorded warm-up runs"},
    {"n_reps", &R::n_reps, "", "recorded repetitions"},
    {"test", &R::test, "", "test name: ppN, tgN or ppN+tgM"},
    {"n_prompt", &R::n_prompt, "tokens", "prompt tokens"},
    {"n_gen", &R::n_gen, "tokens", "timed generated tokens per path"},
    {"test_time", &R::test_time, "", "ISO 8601 UTC start of the test"},
    {"avg_ns", &R::avg_ns, "ns", "mean time of a repetition"},
    {"stddev_ns", &R::stddev_ns, "ns", "sample standard deviation of samples_ns"},
    {"avg_ts", &R::avg_ts, "tok/s", "mean of samples_ts"},
    {"stddev_ts", &R::stddev_ts, "tok/s", "sample standard deviation of samples_ts"},
    {"median_ts", &R::median_ts, "tok/s", "median of samples_ts"},
    {"min_ts", &R::min_ts, "tok/s", "slowest repetition"},
    {"max_ts", &R::max_ts, "tok/s", "fastest repetition"},
    {"samples_ns", &R::samples_ns, "ns", "time of each repetition"},
    {"samples_ts", &R::samples_ts, "tok/s", "tokens/s of each repetition"},
    {"ttft_ms", &R::ttft_ms, "ms", "time to first token, median"},
    {"tpot_ms", &R::tpot_ms, "ms", "time per output token after the first, median"},
    {"itl_p50_ms", &R::itl_p50_ms, "ms", "inter-token latency, 50th percentile"},
    {"itl_p90_ms", &R::itl_p90_ms, "ms", "inter-token latency, 90th percentile"},
    {"itl_p99_ms", &R::itl_p99_ms, "ms", "inter-token latency, 99th percentile"},
    {"weight_bytes_read", &R::weight_bytes_read, "bytes", "weight bytes streamed per repetition"},
    {"kv_bytes_read", &R::kv_bytes_read, "bytes", "KV bytes read by attention per repetition"},
    {"achieved_gbps", &R::achieved_gbps, "GB/s", "bytes read / median repetition time"},
    {"device_name", &R::device_name, "", "device profile bandwidth_fraction refers to"},
    {"device_bandwidth_gbps", &R::device_bandwidth_gbps, "GB/s", "the profile's memory bandwidth"},
    {"bandwidth_fraction", &R::bandwidth_fraction, "", "achieved_gbps / device_bandwidth_gbps"},
    {"energy_source", &R::energy_source, "", "power source of the energy figures"},
    {"prefill_j", &R::prefill_j, "J", "energy of prefill"},
    {"decode_j", &R::decode_j, "J", "energy of decode"},
    {"j_per_token", &R::j_per_token, "J", "energy per counted token"},
    {"energy_estimated", &R::energy_estimated, "", "energy modelled rather than measured"},
    {"energy_rail", &R::energy_rail, "", "rail or domain the power source measures"},
    {"energy_interval_ms", &R::energy_interval_ms, "ms", "power sampling interval"},
    {"prefill_w", &R::prefill_w, "W", "mean power during prefill"},
    {"decode_w", &R::decode_w, "W", "mean power during decode"},
    {"thinking", &R::thinking, "", "thinking policy of the generating tests (null: plain decode)"},
    {"backend", &R::backend, "", "another engine's server (openai:URL); null: the in-process engine"},
    {"flavor", &R::flavor, "", "how that server spells requests: llamacpp, vllm, sglang, edgereason, openai"},
    {"server_version", &R::server_version, "", "the server's version as it reports it"},
    {"concurrency", &R::concurrency, "", "load test: requests in flight at most (null: unbounded)"},
    {"request_rate", &R::request_rate, "req/s", "load test: Poisson arrival rate (null: closed loop)"},
    {"n_requests", &R::n_requests, "", "load test: requests sent"},
    {"n_failed", &R::n_failed, "", "load test: requests that failed"},
    {"duration_s", &R::duration_s, "s", "load test: first request sent to last ended"},
    {"request_throughput", &R::request_throughput, "req/s", "load test: completed requests per second"},
    {"output_throughput", &R::output_throughput, "tok/s", "load test: generated tokens per second"},
    {"ttft_p50_ms", &R::ttft_p50_ms, "ms", "load test: median time to first token"},
    {"ttft_p99_ms", &R::ttft_p99_ms, "ms", "load test: 99th percentile time to first token"},
    {"tpot_p50_ms", &R::tpot_p50_ms, "ms", "load test: median time per output token"},
    {"tpot_p99_ms", &R::tpot_p99_ms, "ms", "load test: 99th percentile time per output token"},
    {"e2e_p50_ms", &R::e2e_p50_ms, "ms", "load test: median request latency"},
    {"e2e_p99_ms", &R::e2e_p99_ms, "ms", "load test: 99th percentile request latency"},
    {"slo_ttft_ms", &R::slo_ttft_ms, "ms", "load test: the TTFT objective goodput counts against"},
    {"slo_tpot_ms", &R::slo_tpot_ms, "ms", "load test: the TPOT objective goodput counts against"},
    {"goodput", &R::goodput, "req/s", "load test: requests meeting every objective per second"},
    {"spec", &R::spec, "", "speculative decoding: ngram or draft:MODEL (null: plain decoding)"},
    {"spec_drafted", &R::spec_drafted, "", "speculative: tokens drafted over the repetitions"},
    {"spec_accepted", &R::spec_accepted, "", "speculative: drafted tokens accepted over the repetitions"},
    {"spec_acceptance", &R::spec_acceptance, "", "speculative: accepted / drafted"},
};

template <typename M>
struct MemberTraits;
template <>
struct MemberTraits<std::string> {
  static constexpr FieldType kType = FieldType::kText;
  static constexpr bool kNullable = false;
};
template <>
struct MemberTraits<int64_t> {
  static constexpr FieldType kType = FieldType::kInt;
  static constexpr bool kNullable = false;
};
template <>
struct MemberTraits<double> {
  static constexpr FieldType kType = FieldType::kReal;
  static constexpr bool kNullable = false;
};
template <>
struct MemberTraits<std::vector<int64_t>> {
  static constexpr FieldType kType = FieldType::kIntArray;
  static constexpr bool kNullable = false;
};
template <>
struct MemberTraits<std::vector<double>> {
  static constexpr FieldType kType = FieldType::kRealArray;
  static constexpr bool kNullable = false;
};
template <typename T>
struct MemberTraits<std::optional<T>> {
  static constexpr FieldType kType = std::is_same_v<T, bool> ? FieldType::kBool : MemberTraits<T>::kType;
  static constexpr bool kNullable = true;
};
template <>
struct MemberTraits<bool> {
  static constexpr FieldType kType = FieldType::kBool;
  static constexpr bool kNullable = false;
};

template <typename P>
using MemberOf = std::remove_cvref_t<decltype(std::declval<BenchRecord&>().*std::declval<P>())>;

// Reads a JSON value into a non-optional member; the message names what was expected.
Status read_value(const nlohmann::json& v, std::string* out) {
  if (!v.is_string()) return Status::invalid("expected a string");
  *out = v.get<std::string>();
  return Status::ok();
}
Status read_value(const nlohmann::json& v, int64_t* out) {
  if (!v.is_number_integer()) return Status::invalid("expected an integer");
  *out = v.get<int64_t>();
  return Status::ok();
}
Status read_value(const nlohmann::json& v, double* out) {
  if (!v.is_number()) return Status::invalid("expected a number");
  *out = v.get<double>();
  return Status::ok();
}
Status read_value(const nlohmann::json& v, bool* out) {
  if (!v.is_boolean()) return Status::invalid("expected true or false");
  *out = v.get<bool>();
  return Status::ok();
}
template <typename T>
Status read_value(const nlohmann::json& v, std::vector<T>* out) {
  if (!v.is_array()) return Status::invalid("expected an array");
  out->clear();
  for (const auto& e : v) {
    T x{};
    ER_RETURN_IF_ERROR(read_value(e, &x).with_context("element " + std::to_string(out->size())));
    out->push_back(x);
  }
  return Status::ok();
}
template <typename T>
Status read_value(const nlohmann::json& v, std::optional<T>* out) {
  if (v.is_null()) {
    out->reset();
    return Status::ok();
  }
  T x{};
  ER_RETURN_IF_ERROR(read_value(v, &x));
  *out = std::move(x);
  return Status::ok();
}

}  // namespace

FieldType FieldDef::type() const {
  return std::visit([](auto p) { return MemberTraits<MemberOf<decltype(p)>>::kType; }, member);
}

bool FieldDef::nullable() const {
  return std::visit([](auto p) { return MemberTraits<MemberOf<decltype(p)>>::kNullable; }, member);
}

std::span<const FieldDef> bench_fields() { return kFields; }

FieldValue field_value(const BenchRecord& r, const FieldDef& f) {
  return std::visit(
      [&r](auto p) -> FieldValue {
        const auto& v = r.*p;
        using M = std::remove_cvref_t<decltype(v)>;
        if constexpr (MemberTraits<M>::kNullable) {
          if (!v.has_value()) return std::monostate{};
          if constexpr (std::is_same_v<typename M::value_type, double>) {
            if (!std::isfinite(*v)) return std::monostate{};
          }
          return *v;
        } else if constexpr (std::is_same_v<M, double>) {
          if (!std::isfinite(v)) return std::monostate{};
          return v;
        } else {
          return v;
        }
      },
      f.member);
}

nlohmann::ordered_json to_json(const BenchRecord& r) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const FieldDef& f : bench_fields()) {
    std::visit(
        [&](const auto& v) {
          using V = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::monostate>) {
            j[f.name] = nullptr;
          } else {
            j[f.name] = v;
          }
        },
        field_value(r, f));
  }
  return j;
}

Result<BenchRecord> record_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Status::invalid("a bench record must be a JSON object");
  BenchRecord r;
  for (const FieldDef& f : bench_fields()) {
    const auto it = j.find(f.name);
    if (it == j.end()) {
      // A nullable field may be absent: records written before it existed read it as null.
      if (f.nullable()) continue;
      return Status::invalid(std::string("missing field '") + f.name + "'");
    }
    const Status st = std::visit([&](auto p) { return read_value(*it, &(r.*p)); }, f.member);
    if (!st.is_ok()) return Status::invalid(std::string("field '") + f.name + "': " + st.message());
  }
  return r;
}

}  // namespace er::report
