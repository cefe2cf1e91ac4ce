// From result files to fitted models: reads `bench` records (json / jsonl) and eval records
// (JSONL, read loosely by field name), groups them by model and path count, fits every analytic
// model the data supports on a training split, and scores it on the held-out points.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "perfmodel/analytic.h"

namespace er::perfmodel {

// One measured point, whichever record it came from. Times in seconds, energies in joules.
struct Observation {
  std::string model;     // model key: the file name without directory and ".gguf"
  int64_t n_prompt = 0;  // I: context before the first timed decode step
  int64_t n_gen = 0;     // O: timed decode steps (0: prefill only)
  int64_t n_paths = 1;
  std::optional<double> prefill_s;
  std::optional<double> decode_s;
  std::optional<double> prefill_j;
  std::optional<double> decode_j;
  std::string kind;    // "bench pp", "bench tg", "bench pp+tg", "eval"
  std::string origin;  // "FILE:LINE" (jsonl) or "FILE[i]" (json array)
  // Always among the fitted points, never held out: measurements made to extend a fit's range
  // (the study's bench grid), which a held-out split must not take away from the fit.
  bool fit_only = false;
};

// "models/smollm2.gguf" -> "smollm2"; a name without ".gguf" is kept as is (directory dropped).
std::string model_key(const std::string& path_or_name);

// Records from text: a JSON array of objects, one object, or JSON lines. Bench records
// (with "test"): ppN gives prefill = median(samples_ns); tgN decode = median(samples_ns) at I = 1
// (bench's one-token prompt); ppN+tgM prefill = ttft_ms and decode = tpot_ms·M. Eval records
// (no "test"): model|model_filename|model_name, n_prompt|prompt_tokens, prefill_ms|ttft_ms,
// decode_ms, n_gen|output_tokens|completion_tokens or thinking_tokens+answer_tokens (then decode
// steps = tokens − 1: the first token comes with the prefill), n_paths|paths, prefill_j / decode_j
// at the top or under "energy". Objects that fit neither are counted in *skipped. Errors name the
// origin and line of text that is not JSON or a field of the wrong type.
Result<std::vector<Observation>> parse_observations(std::string_view text, const std::string& origin,
                                                    int64_t* skipped);
Result<std::vector<Observation>> read_observations(const std::string& path, int64_t* skipped);

struct FitOptions {
  double holdout = 0.2;            // fraction of each fit's points held out
  uint64_t seed = 1;               // of the hold-out split
  int64_t pad = 1;                 // prefill padding (128 on the Orin GPU; 1 on CPUs)
  int64_t short_max_tokens = 64;   // decode power: log model up to this O, warm-up model above
};

// One fitted quantity with its held-out score.
struct QuantityFit {
  std::string quantity;   // "prefill_latency", "decode_latency", "decode_latency_paths_4", "prefill_power", ...
  std::string unit;       // of the scored value: "s", "W", "J"
  int64_t n_points = 0;
  int64_t n_train = 0;
  int64_t n_test = 0;
  std::optional<double> mape_pct;        // on held-out points
  std::optional<double> r2;              // on held-out points
  std::optional<double> train_mape_pct;  // on the points fitted (for comparison only)
  std::string error;                     // why it was not fitted ("" when fitted)
  std::optional<FitRange> range;         // the inputs of its points (fitted and held out)
  std::vector<std::string> at_zero;      // coefficients held at their bound 0 (non-negative fit)
  nlohmann::ordered_json coefficients;   // as stored in the profile
  nlohmann::ordered_json held_out;       // [{n_prompt, n_gen, actual, predicted, error_pct}]
};

struct ModelFitReport {
  std::string model;
  int64_t n_observations = 0;
  std::vector<QuantityFit> fits;
  std::vector<std::string> notes;  // e.g. "no energy in the records; power models not fitted"
  ModelCoefficients coefficients;  // what goes into the profile (fits + measured points)
};

// Fits every model per model key (sorted); each fitted quantity's range goes into the model's
// coefficients (ModelCoefficients::ranges). Errors only when nothing at all could be fitted.
Result<std::vector<ModelFitReport>> fit_observations(const std::vector<Observation>& obs, const FitOptions& o);

nlohmann::ordered_json to_json(const QuantityFit& f);

}  // namespace er::perfmodel
