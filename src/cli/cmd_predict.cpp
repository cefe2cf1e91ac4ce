// `edgereason predict`: prefill, decode and total latency, power, energy and cost of one query on a
// device, from the profile's fitted models where it has them, else from the roofline; with the
// model's error where the profile holds a measurement of the same point, and a warning for each
// fit used outside the range of inputs it was fitted on.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model_registry.h"
#include "model/model_summary.h"
#include "perfmodel/analytic.h"
#include "perfmodel/builtin_profiles.h"
#include "perfmodel/extrapolation.h"
#include "perfmodel/fit_records.h"
#include "perfmodel/model_shape.h"
#include "perfmodel/roofline.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

struct PredictOptions {
  std::string device;
  std::string model;
  double params = 0;              // --params
  double bits = 16;               // --bits (with --params)
  double weight_bytes = 0;        // --weight-bytes (with --params)
  double kv_bytes_per_token = 0;  // --kv-bytes-per-token (with --params)
  int64_t n_layer = 0, n_head = 0, head_dim = 0;
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t n_paths = 1;
  perfmodel::CostRates rates;
  bool json = false;
};

struct Prediction {
  double prefill_s = 0, decode_s = 0;
  std::string prefill_source, decode_source;
  std::optional<double> prefill_w, decode_w, prefill_j, decode_j;
  std::string prefill_w_source = "none", decode_w_source = "none";
};

ordered_json opt(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }

std::string fmt(double v, const char* f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

Status run_predict(const PredictOptions& o, bool params_given) {
  if (o.n_prompt < 1) return Status::invalid("-I must be >= 1 (prompt tokens)");
  if (o.n_gen < 0) return Status::invalid("-O must be >= 0 (generated tokens)");
  if (o.n_paths < 1 || o.n_paths > 1024) return Status::invalid("--paths must be in [1, 1024]");
  if (o.n_prompt > 10'000'000 || o.n_gen > 10'000'000) return Status::invalid("-I/-O: at most 10000000 tokens");
  // Every number must be finite: an infinite or NaN price or size would print as a prediction.
  const auto non_negative = [](const char* flag, double v) -> Status {
    if (std::isfinite(v) && v >= 0) return Status::ok();
    return Status::invalid(std::string(flag) + " must be a finite number >= 0 (got " + std::to_string(v) + ")");
  };
  ER_RETURN_IF_ERROR(non_negative("--price-kwh", o.rates.usd_per_kwh));
  ER_RETURN_IF_ERROR(non_negative("--hw-usd-per-hour", o.rates.hw_usd_per_hour));
  if (o.model.empty() && !params_given) return Status::invalid("give -m MODEL or --params N");
  if (params_given && !(std::isfinite(o.params) && o.params > 0)) {
    return Status::invalid("--params must be a finite number > 0 (e.g. 1.5e9)");
  }
  if (!(o.bits > 0 && o.bits <= 32)) return Status::invalid("--bits must be in (0, 32]");
  ER_RETURN_IF_ERROR(non_negative("--weight-bytes", o.weight_bytes));
  ER_RETURN_IF_ERROR(non_negative("--kv-bytes-per-token", o.kv_bytes_per_token));
  if (o.n_layer < 0) return Status::invalid("--layers must be >= 0 (got " + std::to_string(o.n_layer) + ")");
  if (o.n_head < 0) return Status::invalid("--heads must be >= 0 (got " + std::to_string(o.n_head) + ")");
  if (o.head_dim < 0) return Status::invalid("--head-dim must be >= 0 (got " + std::to_string(o.head_dim) + ")");
  std::string device_note;
  ER_ASSIGN_OR_RETURN(perfmodel::DeviceProfile dev, perfmodel::resolve_device(o.device, &device_note));
  std::vector<std::string> notes;
  if (!device_note.empty()) notes.push_back(device_note);

  // The model: fitted coefficients by name, and its shape from the GGUF, the profile or --params.
  const perfmodel::ModelCoefficients* fitted = nullptr;
  std::string key;
  std::optional<perfmodel::ModelShape> shape;
  if (!o.model.empty()) {
    std::vector<std::string> keys = {o.model, perfmodel::model_key(o.model)};
    Result<std::string> path = model::resolve_model(o.model);
    if (path.is_ok()) keys.push_back(perfmodel::model_key(*path));
    for (const std::string& k : keys) {
      if (const auto it = dev.models.find(k); it != dev.models.end()) {
        fitted = &it->second;
        key = k;
        break;
      }
    }
    if (key.empty()) key = keys.back();
    if (path.is_ok()) {
      Result<perfmodel::ModelShape> s = perfmodel::model_shape_from_gguf(*path);
      if (!s.is_ok()) return s.status().with_context("-m");
      shape = *s;
    } else if (fitted != nullptr && fitted->shape) {
      shape = fitted->shape;
    } else if (fitted == nullptr && !params_given) {
      std::string names;
      for (const auto& [n, c] : dev.models) names += (names.empty() ? "" : ", ") + n;
      return Status::invalid("-m '" + o.model + "': not a model file or installed name, and profile '" + dev.name +
                             "' has no models of that name (" + (names.empty() ? "it has none" : "it has " + names) + ")");
    }
  }
  if (params_given) {
    perfmodel::ModelShape s;
    s.n_params = o.params;
    s.weight_bytes = o.weight_bytes > 0 ? o.weight_bytes : o.params * o.bits / 8;
    s.kv_bytes_per_token = o.kv_bytes_per_token;
    s.n_layer = o.n_layer;
    s.n_head = o.n_head;
    s.head_dim = o.head_dim;
    s.weights_16bit = o.bits >= 16;
    shape = s;  // --params overrides the GGUF's / profile's shape
    if (o.kv_bytes_per_token == 0) notes.push_back("--kv-bytes-per-token not given: KV traffic left out of the roofline");
    if (key.empty()) key = "params " + fmt(o.params, "%.3g");
  }

  // Roofline (whenever the shape is known) and the fitted models.
  std::optional<perfmodel::RooflineResult> roof, roof_one;
  if (shape) {
    roof = perfmodel::roofline(dev, *shape, o.n_prompt, o.n_gen, o.n_paths);
    if (o.n_paths > 1) roof_one = perfmodel::roofline(dev, *shape, o.n_prompt, o.n_gen, 1);
    if (roof->peak.gflops == 0) notes.push_back("the profile has no compute peak: the roofline is bandwidth-only");
  }
  Prediction p;
  if (fitted != nullptr && fitted->prefill) {
    p.prefill_s = fitted->prefill->seconds(o.n_prompt);
    p.prefill_source = "fitted";
  } else if (roof) {
    p.prefill_s = roof->prefill_s;
    p.prefill_source = "roofline";
  }
  if (const perfmodel::DecodeLatencyModel* d = fitted != nullptr ? perfmodel::decode_model_for(*fitted, o.n_paths) : nullptr) {
    p.decode_s = d->seconds(o.n_prompt, o.n_gen);
    p.decode_source = "fitted";
  } else if (fitted != nullptr && fitted->decode && roof && roof_one && roof_one->decode_s > 0) {
    // One path fitted, N paths not: scale by the roofline's N-path / 1-path ratio.
    p.decode_s = fitted->decode->seconds(o.n_prompt, o.n_gen) * roof->decode_s / roof_one->decode_s;
    p.decode_source = "fitted (1 path) x roofline ratio";
  } else if (roof) {
    p.decode_s = roof->decode_s;
    p.decode_source = "roofline";
  }
  if (p.prefill_source.empty() || p.decode_source.empty()) {
    return Status::invalid("-m '" + o.model + "': profile '" + dev.name +
                           "' has no fitted latency for it and its shape is unknown (give a GGUF or --params)");
  }
  // Power and energy: fitted models only.
  if (fitted != nullptr && fitted->decode_power && o.n_gen > 0) {
    p.decode_w = fitted->decode_power->mean_watts(o.n_gen, p.decode_s);
    p.decode_j = fitted->decode_power->energy_j(o.n_gen, p.decode_s);
    p.decode_w_source = fitted->decode_power->uses_long_run(o.n_gen) ? "fitted (warm-up model)" : "fitted (log model)";
    if (o.n_paths > 1) notes.push_back("decode power was fitted on one path; used as is for " + std::to_string(o.n_paths));
  }
  if (fitted != nullptr && fitted->prefill_power) {
    p.prefill_w = fitted->prefill_power->watts(o.n_prompt);
    p.prefill_w_source = "fitted";
  } else if (p.decode_w) {
    p.prefill_w = p.decode_w;
    p.prefill_w_source = "assumed = decode power (no prefill power model)";
  }
  if (p.prefill_w) p.prefill_j = *p.prefill_w * p.prefill_s;
  if (o.n_gen == 0) p.decode_j = 0.0;
  std::optional<double> energy_j;
  if (p.prefill_j && p.decode_j) energy_j = *p.prefill_j + *p.decode_j;
  else notes.push_back("no power model for this model in the profile: energy and its cost are not predicted");
  const double total_s = p.prefill_s + p.decode_s;
  const double cost_hw = perfmodel::hardware_cost_usd(total_s, o.rates);
  std::optional<double> cost_energy, cost;
  if (energy_j) {
    cost_energy = perfmodel::energy_cost_usd(*energy_j, o.rates);
    cost = *cost_energy + cost_hw;
  }
  const double gen_tokens = static_cast<double>(o.n_gen * o.n_paths);
  // Fits used outside the inputs they were fitted on.
  std::vector<std::string> extrapolation;
  if (fitted != nullptr) {
    perfmodel::ExtrapolationCheck check(*fitted, key);
    check.add(o.n_prompt, o.n_gen, o.n_paths);
    extrapolation = check.warnings();
    if (check.ranges_unknown()) {
      notes.push_back("the profile's fits for " + key +
                      " record no input ranges (fitted before ranges were kept): refit to check for extrapolation");
    }
  }

  // Measurements of the same point, with the model's error.
  ordered_json measured = ordered_json::array();
  if (fitted != nullptr) {
    auto add = [&](const char* quantity, double predicted, double actual, const std::string& what) {
      measured.push_back({{"quantity", quantity}, {"measured", actual}, {"predicted", predicted},
                          {"error_pct", 100.0 * (predicted - actual) / actual}, {"what", what}});
    };
    bool prefill_done = false;
    for (const perfmodel::MeasuredPoint& m : fitted->measured) {
      if (m.n_prompt != o.n_prompt) continue;
      if (m.prefill_s && !prefill_done && m.n_paths == 1 && *m.prefill_s > 0) {
        add("prefill_s", p.prefill_s, *m.prefill_s, m.what);
        prefill_done = true;
      }
      if (m.n_gen != o.n_gen || m.n_paths != o.n_paths) continue;
      if (m.decode_s && *m.decode_s > 0) add("decode_s", p.decode_s, *m.decode_s, m.what);
      if (m.decode_w && p.decode_w && *m.decode_w > 0) add("decode_w", *p.decode_w, *m.decode_w, m.what);
      if (m.prefill_w && p.prefill_w && *m.prefill_w > 0) add("prefill_w", *p.prefill_w, *m.prefill_w, m.what);
    }
  }

  if (o.json) {
    ordered_json j;
    j["device"] = dev.name;
    j["model"] = key;
    j["n_prompt"] = o.n_prompt;
    j["n_gen"] = o.n_gen;
    j["n_paths"] = o.n_paths;
    j["prefill_s"] = p.prefill_s;
    j["prefill_source"] = p.prefill_source;
    j["decode_s"] = p.decode_s;
    j["decode_source"] = p.decode_source;
    j["total_s"] = total_s;
    j["decode_ms_per_token"] = o.n_gen > 0 ? ordered_json(1e3 * p.decode_s / static_cast<double>(o.n_gen)) : ordered_json(nullptr);
    j["decode_tokens_per_s"] = p.decode_s > 0 ? ordered_json(gen_tokens / p.decode_s) : ordered_json(nullptr);
    j["prefill_w"] = opt(p.prefill_w);
    j["prefill_w_source"] = p.prefill_w_source;
    j["decode_w"] = opt(p.decode_w);
    j["decode_w_source"] = p.decode_w_source;
    j["prefill_j"] = opt(p.prefill_j);
    j["decode_j"] = opt(p.decode_j);
    j["energy_j"] = opt(energy_j);
    j["j_per_token"] = energy_j && gen_tokens > 0 ? ordered_json(*energy_j / gen_tokens) : ordered_json(nullptr);
    j["price_kwh"] = o.rates.usd_per_kwh;
    j["hw_usd_per_hour"] = o.rates.hw_usd_per_hour;
    j["cost_energy_usd"] = opt(cost_energy);
    j["cost_hw_usd"] = cost_hw;
    j["cost_usd"] = opt(cost);
    if (roof) {
      j["roofline"] = {{"prefill_s", roof->prefill_s},
                       {"decode_s", roof->decode_s},
                       {"decode_ms_per_step", roof->decode_ms_per_token},
                       {"prefill_bound", roof->prefill_bound},
                       {"decode_bound", roof->decode_bound},
                       {"peak", roof->peak.name},
                       {"peak_gflops", roof->peak.gflops},
                       {"mem_bandwidth_gbps", dev.mem_bandwidth_gbps}};
    } else {
      j["roofline"] = nullptr;
    }
    j["measured"] = measured;
    j["extrapolation"] = extrapolation;
    j["notes"] = notes;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::ok();
  }
  std::printf("device %s, model %s, I = %lld, O = %lld, paths = %lld\n", dev.name.c_str(), key.c_str(),
              static_cast<long long>(o.n_prompt), static_cast<long long>(o.n_gen), static_cast<long long>(o.n_paths));
  auto row = [](const std::string& what, const std::string& value, const std::string& source) {
    std::printf("| %-16s | %16s | %-44s |\n", what.c_str(), value.c_str(), source.c_str());
  };
  row("quantity", "value", "source");
  std::printf("|%s|%s|%s|\n", std::string(18, '-').c_str(), std::string(18, '-').c_str(), std::string(46, '-').c_str());
  row("prefill", fmt(p.prefill_s, "%.4f s"), p.prefill_source);
  row("decode", fmt(p.decode_s, "%.4f s"), p.decode_source);
  row("total", fmt(total_s, "%.4f s"), "");
  if (o.n_gen > 0) row("decode per token", fmt(1e3 * p.decode_s / static_cast<double>(o.n_gen), "%.3f ms"), "per step, all paths");
  row("prefill power", p.prefill_w ? fmt(*p.prefill_w, "%.2f W") : "-", p.prefill_w_source);
  row("decode power", p.decode_w ? fmt(*p.decode_w, "%.2f W") : "-", p.decode_w_source);
  row("energy", energy_j ? fmt(*energy_j, "%.3f J") : "-", energy_j && gen_tokens > 0 ? fmt(*energy_j / gen_tokens, "%.4f J per generated token") : "");
  row("cost", cost ? fmt(*cost, "$%.3g") : "-",
      fmt(o.rates.usd_per_kwh, "$%.3g/kWh") + " + " + fmt(o.rates.hw_usd_per_hour, "$%.3g/h hardware") + " (" + fmt(cost_hw, "$%.3g") + ")");
  if (roof) {
    row("roofline prefill", fmt(roof->prefill_s, "%.4f s"), roof->prefill_bound + "-bound, " + roof->peak.name);
    row("roofline decode", fmt(roof->decode_s, "%.4f s"), fmt(roof->decode_ms_per_token, "%.3f ms/step, ") + roof->decode_bound + "-bound");
  }
  for (const auto& m : measured) {
    std::printf("measured %s = %.4g (%s); predicted %.4g: error %+.1f%%\n", m["quantity"].get<std::string>().c_str(),
                m["measured"].get<double>(), m["what"].get<std::string>().c_str(), m["predicted"].get<double>(),
                m["error_pct"].get<double>());
  }
  for (const std::string& w : extrapolation) std::printf("warning: %s\n", w.c_str());
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  return Status::ok();
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* sub = app.add_subcommand("predict", "Predict latency, power, energy and cost of a query on a device (warns when a fit is used outside the inputs it was fitted on)");
  sub->add_option("--device", o->device, "Built-in profile name (host, jetson-*, orin-agx-64-vllm-fp16) or a JSON path")->required();
  sub->add_option("-m,--model", o->model, "Model: a name in the profile's models, a GGUF path or an installed name");
  CLI::Option* params = sub->add_option("--params", o->params, "Parameters multiplied per token (e.g. 1.5e9) instead of -m");
  sub->add_option("--bits", o->bits, "Bits per weight with --params")->capture_default_str();
  sub->add_option("--weight-bytes", o->weight_bytes, "Weight bytes read per token with --params (default params x bits / 8)");
  sub->add_option("--kv-bytes-per-token", o->kv_bytes_per_token, "KV bytes per context token, all layers, with --params");
  sub->add_option("--layers", o->n_layer, "Layers (attention FLOPs) with --params");
  sub->add_option("--heads", o->n_head, "Query heads with --params");
  sub->add_option("--head-dim", o->head_dim, "Head dimension with --params");
  // -I and -O are checked in run_predict so that a missing one gets a one-line message naming it.
  CLI::Option* n_prompt = sub->add_option("-I,--n-prompt", o->n_prompt, "Prompt tokens (required)");
  CLI::Option* n_gen = sub->add_option("-O,--n-gen", o->n_gen, "Generated tokens per path (required)");
  sub->add_option("--paths", o->n_paths, "Paths decoded together")->capture_default_str();
  sub->add_option("--price-kwh", o->rates.usd_per_kwh, "Energy price, $/kWh")->capture_default_str();
  sub->add_option("--hw-usd-per-hour", o->rates.hw_usd_per_hour, "Hardware amortization, $/h")->capture_default_str();
  sub->add_flag("--json", o->json, "Print one JSON object instead of a table");
  return {sub, [o, params, n_prompt, n_gen]() -> Status {
            if (n_prompt->count() == 0) return Status::invalid("-I N (prompt tokens) is required");
            if (n_gen->count() == 0) return Status::invalid("-O N (generated tokens) is required");
            return run_predict(*o, params->count() > 0);
          }};
}

}  // namespace er::cli
