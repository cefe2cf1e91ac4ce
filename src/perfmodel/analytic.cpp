// The study's analytic models: evaluation and JSON (see analytic.h).
#include "perfmodel/analytic.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/check.h"

namespace er::perfmodel {

int64_t padded_length(int64_t n_prompt, int64_t pad) {
  ER_CHECK(pad >= 1 && n_prompt >= 0);
  return (n_prompt + pad - 1) / pad * pad;
}

double PrefillLatencyModel::seconds(int64_t n_prompt) const {
  const double x = static_cast<double>(padded_length(n_prompt, pad));
  return a * x * x + b * x + c;
}

double DecodeLatencyModel::seconds(int64_t n_prompt, int64_t n_gen) const {
  const double i = static_cast<double>(n_prompt);
  const double o = static_cast<double>(n_gen);
  return n * o + m * (i * o + o * (o - 1) / 2);
}

double LogPowerModel::watts(int64_t x) const { return a * std::log(static_cast<double>(std::max<int64_t>(x, 1))) + b; }

double PrefillPowerModel::watts(int64_t n_prompt) const {
  return n_prompt <= threshold ? constant_w : log.watts(n_prompt);
}

double WarmupPowerModel::energy_j(double seconds) const {
  return p_inf_w * seconds - delta_p_w * tau_s * (1 - std::exp(-seconds / tau_s));
}

double WarmupPowerModel::mean_watts(double seconds) const {
  if (seconds <= 0) return p_inf_w - delta_p_w;
  return energy_j(seconds) / seconds;
}

bool DecodePowerModel::uses_long_run(int64_t n_gen) const {
  if (!long_run) return false;
  return n_gen > short_max_tokens || !short_run;
}

double DecodePowerModel::mean_watts(int64_t n_gen, double seconds) const {
  ER_CHECK(short_run || long_run);
  return uses_long_run(n_gen) ? long_run->mean_watts(seconds) : short_run->watts(n_gen);
}

double DecodePowerModel::energy_j(int64_t n_gen, double seconds) const {
  ER_CHECK(short_run || long_run);
  return uses_long_run(n_gen) ? long_run->energy_j(seconds) : short_run->watts(n_gen) * seconds;
}

const DecodeLatencyModel* decode_model_for(const ModelCoefficients& c, int64_t n_paths) {
  if (n_paths == 1) return c.decode ? &*c.decode : nullptr;
  const auto it = c.decode_by_paths.find(n_paths);
  return it == c.decode_by_paths.end() ? nullptr : &it->second;
}

double energy_cost_usd(double energy_j, const CostRates& r) { return energy_j / 3.6e6 * r.usd_per_kwh; }
double hardware_cost_usd(double seconds, const CostRates& r) { return seconds / 3600.0 * r.hw_usd_per_hour; }

// ---- JSON ----

namespace {

using nlohmann::json;
using nlohmann::ordered_json;


// A finite number at j[key]; `where` names the object in messages ("prefill").
Result<double> number(const json& j, const std::string& where, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return Status::invalid("missing field '" + where + "." + key + "'");
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    return Status::invalid("field '" + where + "." + key + "' must be a finite number");
  }
  return it->get<double>();
}

Result<int64_t> integer(const json& j, const std::string& where, const char* key, int64_t min_value) {
  const auto it = j.find(key);
  if (it == j.end()) return Status::invalid("missing field '" + where + "." + key + "'");
  if (!it->is_number_integer() || it->get<int64_t>() < min_value) {
    return Status::invalid("field '" + where + "." + key + "' must be an integer >= " + std::to_string(min_value));
  }
  return it->get<int64_t>();
}

Result<std::optional<double>> optional_number(const json& j, const std::string& where, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  ER_ASSIGN_OR_RETURN(double v, number(j, where, key));
  return std::optional<double>(v);
}

Status require_object(const json& j, const std::string& where) {
  if (!j.is_object()) return Status::invalid("field '" + where + "' must be an object");
  return Status::ok();
}

ordered_json to_json(const DecodeLatencyModel& d) { return {{"m", d.m}, {"n", d.n}}; }
ordered_json to_json(const LogPowerModel& l) { return {{"a", l.a}, {"b", l.b}}; }

Result<DecodeLatencyModel> decode_from_json(const json& j, const std::string& where) {
  ER_RETURN_IF_ERROR(require_object(j, where));
  DecodeLatencyModel d;
  ER_ASSIGN_OR_RETURN(d.m, number(j, where, "m"));
  ER_ASSIGN_OR_RETURN(d.n, number(j, where, "n"));
  return d;
}

Result<LogPowerModel> log_from_json(const json& j, const std::string& where) {
  ER_RETURN_IF_ERROR(require_object(j, where));
  LogPowerModel l;
  ER_ASSIGN_OR_RETURN(l.a, number(j, where, "a"));
  ER_ASSIGN_OR_RETURN(l.b, number(j, where, "b"));
  return l;
}

Result<TokenRange> token_range(const json& j, const std::string& where, const char* key) {
  const auto it = j.find(key);
  const std::string name = where + "." + key;
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_number_integer() ||
      !(*it)[1].is_number_integer() || (*it)[0].get<int64_t>() < 0 || (*it)[1].get<int64_t>() < (*it)[0].get<int64_t>()) {
    return Status::invalid("field '" + name + "' must be [min, max] (integers, 0 <= min <= max)");
  }
  return TokenRange{(*it)[0].get<int64_t>(), (*it)[1].get<int64_t>()};
}

}  // namespace

ordered_json to_json(const FitRange& r) {
  ordered_json j;
  j["n_points"] = r.n_points;
  j["n_prompt"] = {r.n_prompt.min, r.n_prompt.max};
  if (r.n_gen) j["n_gen"] = {r.n_gen->min, r.n_gen->max};
  if (r.context) j["context"] = {r.context->min, r.context->max};
  return j;
}

Result<FitRange> fit_range_from_json(const json& j, const std::string& where) {
  ER_RETURN_IF_ERROR(require_object(j, where));
  FitRange r;
  ER_ASSIGN_OR_RETURN(r.n_points, integer(j, where, "n_points", 0));
  ER_ASSIGN_OR_RETURN(r.n_prompt, token_range(j, where, "n_prompt"));
  if (j.contains("n_gen")) {
    ER_ASSIGN_OR_RETURN(r.n_gen, token_range(j, where, "n_gen"));
  }
  if (j.contains("context")) {
    ER_ASSIGN_OR_RETURN(r.context, token_range(j, where, "context"));
  }
  return r;
}

ordered_json to_json(const ModelCoefficients& c) {
  ordered_json j;
  j["source"] = c.source;
  if (c.prefill) {
    j["prefill"] = {{"a", c.prefill->a}, {"b", c.prefill->b}, {"c", c.prefill->c}, {"pad", c.prefill->pad}};
  }
  if (c.decode) j["decode"] = to_json(*c.decode);
  if (!c.decode_by_paths.empty()) {
    ordered_json by = ordered_json::object();
    for (const auto& [n, d] : c.decode_by_paths) by[std::to_string(n)] = to_json(d);
    j["decode_by_paths"] = by;
  }
  if (c.prefill_power) {
    j["prefill_power"] = {{"constant_w", c.prefill_power->constant_w},
                          {"threshold", c.prefill_power->threshold},
                          {"a", c.prefill_power->log.a},
                          {"b", c.prefill_power->log.b}};
  }
  if (c.decode_power) {
    ordered_json d;
    d["short_max_tokens"] = c.decode_power->short_max_tokens;
    d["short"] = c.decode_power->short_run ? to_json(*c.decode_power->short_run) : ordered_json(nullptr);
    if (c.decode_power->long_run) {
      const WarmupPowerModel& w = *c.decode_power->long_run;
      d["long"] = {{"p_inf_w", w.p_inf_w}, {"delta_p_w", w.delta_p_w}, {"tau_s", w.tau_s}};
    } else {
      d["long"] = nullptr;
    }
    j["decode_power"] = d;
  }
  if (c.shape) {
    const ModelShape& s = *c.shape;
    j["shape"] = {{"n_params", s.n_params},   {"weight_bytes", s.weight_bytes},
                  {"kv_bytes_per_token", s.kv_bytes_per_token},
                  {"n_layer", s.n_layer},     {"n_head", s.n_head},
                  {"head_dim", s.head_dim},   {"weights_16bit", s.weights_16bit}};
  }
  if (!c.measured.empty()) {
    ordered_json arr = ordered_json::array();
    for (const MeasuredPoint& p : c.measured) {
      ordered_json e;
      e["n_prompt"] = p.n_prompt;
      e["n_gen"] = p.n_gen;
      e["n_paths"] = p.n_paths;
      if (p.prefill_s) e["prefill_s"] = *p.prefill_s;
      if (p.decode_s) e["decode_s"] = *p.decode_s;
      if (p.prefill_w) e["prefill_w"] = *p.prefill_w;
      if (p.decode_w) e["decode_w"] = *p.decode_w;
      e["what"] = p.what;
      arr.push_back(e);
    }
    j["measured"] = arr;
  }
  if (!c.ranges.empty()) {
    ordered_json r = ordered_json::object();
    for (const auto& [q, range] : c.ranges) r[q] = to_json(range);
    j["ranges"] = r;
  }
  if (!c.fit.is_null()) j["fit"] = c.fit;
  return j;
}

Result<ModelCoefficients> model_coefficients_from_json(const json& j) {
  ER_RETURN_IF_ERROR(require_object(j, "model"));
  ModelCoefficients c;
  if (const auto it = j.find("source"); it != j.end()) {
    if (!it->is_string()) return Status::invalid("field 'source' must be a string");
    c.source = it->get<std::string>();
  }
  if (const auto it = j.find("prefill"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "prefill"));
    PrefillLatencyModel p;
    ER_ASSIGN_OR_RETURN(p.a, number(*it, "prefill", "a"));
    ER_ASSIGN_OR_RETURN(p.b, number(*it, "prefill", "b"));
    ER_ASSIGN_OR_RETURN(p.c, number(*it, "prefill", "c"));
    ER_ASSIGN_OR_RETURN(p.pad, integer(*it, "prefill", "pad", 1));
    c.prefill = p;
  }
  if (const auto it = j.find("decode"); it != j.end() && !it->is_null()) {
    ER_ASSIGN_OR_RETURN(c.decode, decode_from_json(*it, "decode"));
  }
  if (const auto it = j.find("decode_by_paths"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "decode_by_paths"));
    for (const auto& [key, value] : it->items()) {
      const std::string where = "decode_by_paths." + key;
      char* end = nullptr;
      const long long n = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || n < 2) return Status::invalid("field '" + where + "': the key must be a path count >= 2");
      ER_ASSIGN_OR_RETURN(c.decode_by_paths[n], decode_from_json(value, where));
    }
  }
  if (const auto it = j.find("prefill_power"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "prefill_power"));
    PrefillPowerModel p;
    ER_ASSIGN_OR_RETURN(p.constant_w, number(*it, "prefill_power", "constant_w"));
    ER_ASSIGN_OR_RETURN(p.threshold, integer(*it, "prefill_power", "threshold", 0));
    ER_ASSIGN_OR_RETURN(p.log.a, number(*it, "prefill_power", "a"));
    ER_ASSIGN_OR_RETURN(p.log.b, number(*it, "prefill_power", "b"));
    c.prefill_power = p;
  }
  if (const auto it = j.find("decode_power"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "decode_power"));
    DecodePowerModel d;
    ER_ASSIGN_OR_RETURN(d.short_max_tokens, integer(*it, "decode_power", "short_max_tokens", 0));
    if (const auto s = it->find("short"); s != it->end() && !s->is_null()) {
      ER_ASSIGN_OR_RETURN(d.short_run, log_from_json(*s, "decode_power.short"));
    }
    if (const auto l = it->find("long"); l != it->end() && !l->is_null()) {
      ER_RETURN_IF_ERROR(require_object(*l, "decode_power.long"));
      WarmupPowerModel w;
      ER_ASSIGN_OR_RETURN(w.p_inf_w, number(*l, "decode_power.long", "p_inf_w"));
      ER_ASSIGN_OR_RETURN(w.delta_p_w, number(*l, "decode_power.long", "delta_p_w"));
      ER_ASSIGN_OR_RETURN(w.tau_s, number(*l, "decode_power.long", "tau_s"));
      if (!(w.tau_s > 0)) return Status::invalid("field 'decode_power.long.tau_s' must be > 0");
      d.long_run = w;
    }
    if (!d.short_run && !d.long_run) return Status::invalid("field 'decode_power' needs 'short' or 'long'");
    c.decode_power = d;
  }
  if (const auto it = j.find("shape"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "shape"));
    ModelShape s;
    ER_ASSIGN_OR_RETURN(s.n_params, number(*it, "shape", "n_params"));
    ER_ASSIGN_OR_RETURN(s.weight_bytes, number(*it, "shape", "weight_bytes"));
    ER_ASSIGN_OR_RETURN(s.kv_bytes_per_token, number(*it, "shape", "kv_bytes_per_token"));
    ER_ASSIGN_OR_RETURN(s.n_layer, integer(*it, "shape", "n_layer", 0));
    ER_ASSIGN_OR_RETURN(s.n_head, integer(*it, "shape", "n_head", 0));
    ER_ASSIGN_OR_RETURN(s.head_dim, integer(*it, "shape", "head_dim", 0));
    const auto w16 = it->find("weights_16bit");
    if (w16 == it->end() || !w16->is_boolean()) return Status::invalid("field 'shape.weights_16bit' must be true or false");
    s.weights_16bit = w16->get<bool>();
    if (!(s.n_params > 0) || !(s.weight_bytes > 0) || s.kv_bytes_per_token < 0) {
      return Status::invalid("field 'shape': n_params and weight_bytes must be > 0, kv_bytes_per_token >= 0");
    }
    c.shape = s;
  }
  if (const auto it = j.find("measured"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::invalid("field 'measured' must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      const std::string where = "measured[" + std::to_string(i) + "]";
      ER_RETURN_IF_ERROR(require_object(e, where));
      MeasuredPoint p;
      ER_ASSIGN_OR_RETURN(p.n_prompt, integer(e, where, "n_prompt", 0));
      ER_ASSIGN_OR_RETURN(p.n_gen, integer(e, where, "n_gen", 0));
      ER_ASSIGN_OR_RETURN(p.n_paths, integer(e, where, "n_paths", 1));
      ER_ASSIGN_OR_RETURN(p.prefill_s, optional_number(e, where, "prefill_s"));
      ER_ASSIGN_OR_RETURN(p.decode_s, optional_number(e, where, "decode_s"));
      ER_ASSIGN_OR_RETURN(p.prefill_w, optional_number(e, where, "prefill_w"));
      ER_ASSIGN_OR_RETURN(p.decode_w, optional_number(e, where, "decode_w"));
      if (const auto w = e.find("what"); w != e.end() && w->is_string()) p.what = w->get<std::string>();
      c.measured.push_back(p);
    }
  }
  if (const auto it = j.find("ranges"); it != j.end() && !it->is_null()) {
    ER_RETURN_IF_ERROR(require_object(*it, "ranges"));
    for (const auto& [q, value] : it->items()) {
      ER_ASSIGN_OR_RETURN(c.ranges[q], fit_range_from_json(value, "ranges." + q));
    }
  }
  if (const auto it = j.find("fit"); it != j.end()) c.fit = *it;
  return c;
}

}  // namespace er::perfmodel
