// The EdgeReasoning study's analytic models (prefill / decode latency, prefill / decode power and
// energy), per model and device, with their JSON form as kept in a device profile's "models".
// Formulas: docs/perfmodel.md "Models" (the study, arXiv 2511.01866). Units: seconds, watts, joules; I = prompt tokens,
// O = generated tokens.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace er::perfmodel {

// Î = ceil(I / pad) · pad (pad = 128 on the Orin's Tensor Cores; 1 where no padding applies).
// REQUIRES: pad >= 1, n_prompt >= 0.
int64_t padded_length(int64_t n_prompt, int64_t pad);

// L_p(I) = a·Î² + b·Î + c.
struct PrefillLatencyModel {
  double a = 0;     // s/token²
  double b = 0;     // s/token
  double c = 0;     // s
  int64_t pad = 1;  // tokens
  double seconds(int64_t n_prompt) const;
};

// L_d(I, O) = O·(m·I + n + m·(O − 1)/2) = n·O + m·(I·O + O(O − 1)/2): every decoded token reads
// the whole context, so its time grows by m per context token.
struct DecodeLatencyModel {
  double m = 0;  // s/token² (per generated token per context token)
  double n = 0;  // s/token
  double seconds(int64_t n_prompt, int64_t n_gen) const;
};

// W = a·ln(x) + b (x: tokens).
struct LogPowerModel {
  double a = 0;  // W per ln(token)
  double b = 0;  // W
  double watts(int64_t x) const;
};

// Prefill power: constant C for I <= threshold, then a·ln(I) + b. With threshold 0 the log part
// holds everywhere (C unused).
struct PrefillPowerModel {
  double constant_w = 0;  // C
  int64_t threshold = 0;  // T, tokens
  LogPowerModel log;
  double watts(int64_t n_prompt) const;
};

// Decode power warming up over a long run: P(t) = P∞ − ΔP·e^(−t/τ), so over T seconds
// E(T) = P∞·T − ΔP·τ·(1 − e^(−T/τ)).
struct WarmupPowerModel {
  double p_inf_w = 0;    // P∞
  double delta_p_w = 0;  // ΔP
  double tau_s = 1;      // τ (> 0)
  double energy_j(double seconds) const;
  double mean_watts(double seconds) const;  // E(T) / T (P(0) at T = 0)
};

// Decode power: a·ln(O) + b for O <= short_max_tokens (the study: O < 65), the warm-up model
// beyond; each part may be missing (then the other is used everywhere it exists).
struct DecodePowerModel {
  int64_t short_max_tokens = 64;
  std::optional<LogPowerModel> short_run;
  std::optional<WarmupPowerModel> long_run;
  // Mean power and energy of decoding n_gen tokens in `seconds`. REQUIRES: short_run or long_run.
  double mean_watts(int64_t n_gen, double seconds) const;
  double energy_j(int64_t n_gen, double seconds) const;
  bool uses_long_run(int64_t n_gen) const;
};

// What a model looks like to the roofline (perfmodel/roofline.h); filled from a GGUF, from
// --params, or kept in a profile for models that are not on this machine.
struct ModelShape {
  double n_params = 0;             // parameters multiplied per token (2 FLOPs each)
  double weight_bytes = 0;         // bytes of weights read per decode step
  double kv_bytes_per_token = 0;   // K+V bytes per context position, all layers (0: unknown)
  int64_t n_layer = 0;             // 0: unknown (attention FLOPs left out)
  int64_t n_head = 0;
  int64_t head_dim = 0;
  bool weights_16bit = true;       // false: quantized (int8 dot rate applies on CPUs)
};

// One measurement kept with a profile so that `predict` can show its models' error. Fields that
// were not measured are empty. n_gen = 0 for prefill-only points (e.g. TTFT).
struct MeasuredPoint {
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t n_paths = 1;
  std::optional<double> prefill_s;  // prefill time (or TTFT, see `what`)
  std::optional<double> decode_s;
  std::optional<double> prefill_w;
  std::optional<double> decode_w;
  std::string what;                 // "ttft", "bench pp+tg median", "study", ...
};

// The inputs a fit saw (all its points, fitted and held out), in tokens: where its model holds.
struct TokenRange {
  int64_t min = 0;
  int64_t max = 0;
};
struct FitRange {
  int64_t n_points = 0;
  TokenRange n_prompt;                // I
  std::optional<TokenRange> n_gen;    // O (decode quantities)
  std::optional<TokenRange> context;  // the contexts decoded: shortest I to longest I + O (decode latency)
};
nlohmann::ordered_json to_json(const FitRange& r);
// Errors name the field under `where` ("ranges.decode_latency.context must be [min, max]").
Result<FitRange> fit_range_from_json(const nlohmann::json& j, const std::string& where);

// Everything a profile knows about one model on its device.
struct ModelCoefficients {
  std::optional<PrefillLatencyModel> prefill;
  std::optional<DecodeLatencyModel> decode;                 // one path
  std::map<int64_t, DecodeLatencyModel> decode_by_paths;    // N > 1 paths decoded together
  std::optional<PrefillPowerModel> prefill_power;
  std::optional<DecodePowerModel> decode_power;
  std::optional<ModelShape> shape;
  std::vector<MeasuredPoint> measured;
  // The range each fitted quantity saw, by quantity ("prefill_latency", "decode_latency",
  // "decode_latency_paths_4", "prefill_power", "decode_power_short", "decode_energy_long"); empty
  // for coefficients entered by hand or fitted before ranges were recorded.
  std::map<std::string, FitRange> ranges;
  nlohmann::ordered_json fit;  // fit report (metrics, points, date); null when entered by hand
  std::string source;          // "edgereason fit ...", "EdgeReasoning study (arXiv 2511.01866)"
};

// Decode latency for n_paths: the one-path model when n_paths == 1, else decode_by_paths.
const DecodeLatencyModel* decode_model_for(const ModelCoefficients& c, int64_t n_paths);

nlohmann::ordered_json to_json(const ModelCoefficients& c);
// Errors name the field ("prefill.pad must be an integer >= 1").
Result<ModelCoefficients> model_coefficients_from_json(const nlohmann::json& j);

// Edge cost of one query: energy × $/kWh + hardware amortization $/h × time.
struct CostRates {
  double usd_per_kwh = 0.15;
  double hw_usd_per_hour = 0.045;
};
double energy_cost_usd(double energy_j, const CostRates& r);
double hardware_cost_usd(double seconds, const CostRates& r);

}  // namespace er::perfmodel
