// Records -> observations -> fitted models with held-out scores (see fit_records.h).
#include "perfmodel/fit_records.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "perfmodel/fit.h"

namespace er::perfmodel {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The first of `keys` present and not null.
const json* first_of(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    const auto it = j.find(k);
    if (it != j.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

Result<std::optional<double>> get_number(const json& j, std::initializer_list<const char*> keys) {
  const json* v = first_of(j, keys);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_number() || !std::isfinite(v->get<double>())) {
    return Status::invalid("field '" + std::string(*keys.begin()) + "' must be a number");
  }
  // Every such field is a duration or an energy: a negative one is a damaged record.
  if (v->get<double>() < 0) {
    return Status::invalid("field '" + std::string(*keys.begin()) + "' must be a number >= 0 (got " + v->dump() + ")");
  }
  return std::optional<double>(v->get<double>());
}

Result<std::optional<int64_t>> get_int(const json& j, std::initializer_list<const char*> keys) {
  const json* v = first_of(j, keys);
  if (v == nullptr) return std::optional<int64_t>();
  if (!v->is_number_integer() || v->get<int64_t>() < 0) {
    return Status::invalid("field '" + std::string(*keys.begin()) + "' must be an integer >= 0");
  }
  return std::optional<int64_t>(v->get<int64_t>());
}

// Energy fields of a record: at the top or under "energy".
Status read_energy(const json& j, Observation& o) {
  ER_ASSIGN_OR_RETURN(o.prefill_j, get_number(j, {"prefill_j"}));
  ER_ASSIGN_OR_RETURN(o.decode_j, get_number(j, {"decode_j"}));
  if (const auto e = j.find("energy"); e != j.end() && e->is_object()) {
    ER_ASSIGN_OR_RETURN(std::optional<double> prefill_j, get_number(*e, {"prefill_j"}));
    ER_ASSIGN_OR_RETURN(std::optional<double> decode_j, get_number(*e, {"decode_j"}));
    if (!o.prefill_j) o.prefill_j = prefill_j;
    if (!o.decode_j) o.decode_j = decode_j;
  }
  return Status::ok();
}

// A bench record: pp, tg or pp+tg. Empty when the record cannot be used.
Result<std::optional<Observation>> from_bench(const json& j) {
  Observation o;
  const json* test = first_of(j, {"test"});
  if (!test->is_string()) return Status::invalid("field 'test' must be a string");
  const std::string t = test->get<std::string>();
  const json* file = first_of(j, {"model_filename"});
  if (file == nullptr || !file->is_string()) return Status::invalid("field 'model_filename' must be a string");
  o.model = model_key(file->get<std::string>());
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> np, get_int(j, {"n_prompt"}));
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> ng, get_int(j, {"n_gen"}));
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> paths, get_int(j, {"n_paths"}));
  o.n_paths = std::max<int64_t>(1, paths.value_or(1));
  std::vector<double> samples_s;
  if (const json* s = first_of(j, {"samples_ns"}); s != nullptr) {
    if (!s->is_array()) return Status::invalid("field 'samples_ns' must be an array");
    for (const json& v : *s) {
      if (!v.is_number() || v.get<double>() < 0) {
        return Status::invalid("field 'samples_ns' must hold numbers >= 0 (got " + v.dump() + ")");
      }
      samples_s.push_back(v.get<double>() * 1e-9);
    }
  }
  ER_RETURN_IF_ERROR(read_energy(j, o));
  if (t.find('+') != std::string::npos) {  // ppN+tgM
    ER_ASSIGN_OR_RETURN(std::optional<double> ttft, get_number(j, {"ttft_ms"}));
    ER_ASSIGN_OR_RETURN(std::optional<double> tpot, get_number(j, {"tpot_ms"}));
    if (!np || !ng || *np < 1 || *ng < 1) return std::optional<Observation>();
    o.kind = "bench pp+tg";
    o.n_prompt = *np;
    o.n_gen = *ng;
    if (ttft) o.prefill_s = *ttft * 1e-3;
    if (tpot) o.decode_s = *tpot * 1e-3 * static_cast<double>(*ng);
  } else if (t.rfind("pp", 0) == 0) {
    if (!np || *np < 1 || samples_s.empty()) return std::optional<Observation>();
    o.kind = "bench pp";
    o.n_prompt = *np;
    o.prefill_s = median_of(samples_s);
    o.decode_j.reset();
  } else if (t.rfind("tg", 0) == 0) {
    if (!ng || *ng < 1 || samples_s.empty()) return std::optional<Observation>();
    o.kind = "bench tg";
    o.n_prompt = 1;  // bench's tg tests decode after a one-token prompt
    o.n_gen = *ng;
    o.decode_s = median_of(samples_s);
    o.prefill_j.reset();
  } else {
    return std::optional<Observation>();
  }
  return std::optional<Observation>(o);
}

// An eval record (per question), read by field name. Empty when it has no timings.
Result<std::optional<Observation>> from_eval(const json& j) {
  Observation o;
  o.kind = "eval";
  const json* name = first_of(j, {"model", "model_filename", "model_name"});
  if (name == nullptr || !name->is_string()) return std::optional<Observation>();
  o.model = model_key(name->get<std::string>());
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> np, get_int(j, {"n_prompt", "prompt_tokens"}));
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> steps, get_int(j, {"n_gen", "output_tokens", "completion_tokens"}));
  if (!steps) {
    ER_ASSIGN_OR_RETURN(std::optional<int64_t> thinking, get_int(j, {"thinking_tokens"}));
    ER_ASSIGN_OR_RETURN(std::optional<int64_t> answer, get_int(j, {"answer_tokens"}));
    if (thinking || answer) steps = thinking.value_or(0) + answer.value_or(0);
  }
  ER_ASSIGN_OR_RETURN(std::optional<int64_t> paths, get_int(j, {"n_paths", "paths"}));
  ER_ASSIGN_OR_RETURN(std::optional<double> prefill_ms, get_number(j, {"prefill_ms", "ttft_ms"}));
  ER_ASSIGN_OR_RETURN(std::optional<double> decode_ms, get_number(j, {"decode_ms"}));
  if (!np || *np < 1 || (!prefill_ms && !decode_ms)) return std::optional<Observation>();
  o.n_prompt = *np;
  o.n_paths = std::max<int64_t>(1, paths.value_or(1));
  ER_RETURN_IF_ERROR(read_energy(j, o));
  if (prefill_ms && *prefill_ms > 0) o.prefill_s = *prefill_ms * 1e-3;
  // Generated tokens − 1 decode steps: the first token comes with the prefill (TPOT's convention).
  if (decode_ms && *decode_ms > 0 && steps && *steps >= 2) {
    o.n_gen = *steps - 1;
    o.decode_s = *decode_ms * 1e-3;
  } else {
    o.decode_j.reset();
  }
  if (!o.prefill_s) o.prefill_j.reset();
  if (!o.prefill_s && !o.decode_s) return std::optional<Observation>();
  return std::optional<Observation>(o);
}

Result<std::optional<Observation>> from_record(const json& j) {
  if (!j.is_object()) return std::optional<Observation>();
  if (j.contains("test")) return from_bench(j);
  return from_eval(j);
}

}  // namespace

std::string model_key(const std::string& path_or_name) {
  std::string s = path_or_name;
  if (const size_t slash = s.find_last_of('/'); slash != std::string::npos) s = s.substr(slash + 1);
  constexpr std::string_view kExt = ".gguf";
  if (s.size() > kExt.size() && s.compare(s.size() - kExt.size(), kExt.size(), kExt) == 0) s.resize(s.size() - kExt.size());
  return s;
}

Result<std::vector<Observation>> parse_observations(std::string_view text, const std::string& origin, int64_t* skipped) {
  std::vector<Observation> out;
  int64_t n_skipped = 0;
  auto take = [&](const json& j, const std::string& where) -> Status {
    Result<std::optional<Observation>> o = from_record(j);
    if (!o.is_ok()) return o.status().with_context(where);
    if (!o->has_value()) {
      ++n_skipped;
      return Status::ok();
    }
    (*o)->origin = where;
    out.push_back(std::move(**o));
    return Status::ok();
  };
  const std::string all = trim(text);
  if (!all.empty() && all[0] == '[') {
    const json j = json::parse(all, nullptr, false);
    if (j.is_discarded()) return Status::invalid(origin + ": not valid JSON");
    for (size_t i = 0; i < j.size(); ++i) ER_RETURN_IF_ERROR(take(j[i], origin + "[" + std::to_string(i) + "]"));
  } else {
    // One object (possibly pretty-printed) or JSON lines.
    const json whole = json::parse(all, nullptr, false);
    if (!whole.is_discarded() && whole.is_object()) {
      ER_RETURN_IF_ERROR(take(whole, origin));
    } else {
      std::istringstream in{std::string(text)};
      std::string line;
      int64_t line_no = 0;
      while (std::getline(in, line)) {
        ++line_no;
        const std::string t = trim(line);
        if (t.empty()) continue;
        const std::string where = origin + ":" + std::to_string(line_no);
        const json j = json::parse(t, nullptr, false);
        if (j.is_discarded()) return Status::invalid(where + ": not valid JSON");
        ER_RETURN_IF_ERROR(take(j, where));
      }
    }
  }
  if (skipped != nullptr) *skipped += n_skipped;
  return out;
}

Result<std::vector<Observation>> read_observations(const std::string& path, int64_t* skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("'" + path + "': cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_observations(ss.str(), path, skipped);
}

ordered_json to_json(const QuantityFit& f) {
  auto opt = [](const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); };
  ordered_json j;
  j["quantity"] = f.quantity;
  j["unit"] = f.unit;
  j["n_points"] = f.n_points;
  j["n_train"] = f.n_train;
  j["n_test"] = f.n_test;
  j["holdout_mape_pct"] = opt(f.mape_pct);
  j["holdout_r2"] = opt(f.r2);
  j["train_mape_pct"] = opt(f.train_mape_pct);
  j["coefficients"] = f.coefficients;
  if (!f.at_zero.empty()) j["at_zero"] = f.at_zero;
  if (f.range) j["range"] = to_json(*f.range);
  if (!f.error.empty()) j["error"] = f.error;
  if (!f.held_out.is_null()) j["held_out"] = f.held_out;
  return j;
}

namespace {

// A point for one fit: its inputs (for the held-out table), the measured value, and a predictor
// the fitted model gives.
struct Point {
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  double actual = 0;
  double seconds = 0;  // decode time, for the warm-up energy model
  bool pinned = false;  // always fitted, never held out (Observation::fit_only)
};

// Splits `points`, fits on the training part with `fit` (which returns the predictor and the
// coefficients' JSON), scores the held-out part.
using Predictor = std::function<double(const Point&)>;
using FitFn = std::function<Result<std::pair<Predictor, ordered_json>>(const std::vector<Point>&)>;

// Which inputs a quantity's model depends on (what its range records).
enum class RangeKind { kPrompt, kPromptGen, kDecode };

FitRange range_of(const std::vector<Point>& points, RangeKind kind) {
  FitRange r;
  r.n_points = static_cast<int64_t>(points.size());
  if (points.empty()) return r;
  r.n_prompt = {points[0].n_prompt, points[0].n_prompt};
  TokenRange gen{points[0].n_gen, points[0].n_gen};
  TokenRange ctx{points[0].n_prompt, points[0].n_prompt + points[0].n_gen};
  for (const Point& p : points) {
    r.n_prompt.min = std::min(r.n_prompt.min, p.n_prompt);
    r.n_prompt.max = std::max(r.n_prompt.max, p.n_prompt);
    gen.min = std::min(gen.min, p.n_gen);
    gen.max = std::max(gen.max, p.n_gen);
    ctx.min = std::min(ctx.min, p.n_prompt);
    ctx.max = std::max(ctx.max, p.n_prompt + p.n_gen);
  }
  if (kind != RangeKind::kPrompt) r.n_gen = gen;
  if (kind == RangeKind::kDecode) r.context = ctx;
  return r;
}

QuantityFit fit_quantity(const std::string& quantity, const std::string& unit, const std::vector<Point>& points,
                         size_t n_coefficients, RangeKind kind, const FitOptions& o, const FitFn& fit) {
  QuantityFit q;
  q.quantity = quantity;
  q.unit = unit;
  q.n_points = static_cast<int64_t>(points.size());
  q.range = range_of(points, kind);
  // Pinned points are always fitted; the others are split (as all were before pinning existed).
  std::vector<size_t> open_idx;
  std::vector<Point> train, test;
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].pinned) train.push_back(points[i]);
    else open_idx.push_back(i);
  }
  const size_t min_train = train.size() >= n_coefficients + 1 ? 0 : n_coefficients + 1 - train.size();
  const HoldoutSplit split = holdout_split(open_idx.size(), o.holdout, o.seed, min_train);
  for (size_t i : split.train) train.push_back(points[open_idx[i]]);
  for (size_t i : split.test) test.push_back(points[open_idx[i]]);
  q.n_train = static_cast<int64_t>(train.size());
  q.n_test = static_cast<int64_t>(test.size());
  Result<std::pair<Predictor, ordered_json>> r = fit(train);
  if (!r.is_ok()) {
    q.error = r.status().message();
    return q;
  }
  const Predictor& predict = r->first;
  q.coefficients = r->second;
  // The non-negative fits leave a coefficient held at its bound at exactly 0.
  for (const auto& [name, v] : q.coefficients.items()) {
    if (v.is_number_float() && v.get<double>() == 0.0) q.at_zero.push_back(name);
  }
  std::vector<double> p, a;
  for (const Point& x : train) {
    p.push_back(predict(x));
    a.push_back(x.actual);
  }
  q.train_mape_pct = mape_pct(p, a);
  if (!test.empty()) {
    p.clear();
    a.clear();
    q.held_out = ordered_json::array();
    for (const Point& x : test) {
      const double y = predict(x);
      p.push_back(y);
      a.push_back(x.actual);
      q.held_out.push_back({{"n_prompt", x.n_prompt},
                            {"n_gen", x.n_gen},
                            {"actual", x.actual},
                            {"predicted", y},
                            {"error_pct", 100.0 * (y - x.actual) / x.actual}});
    }
    q.mape_pct = mape_pct(p, a);
    q.r2 = r_squared(p, a);
  }
  return q;
}

// Measured points of one model: medians per (I, O, N, kind).
std::vector<MeasuredPoint> measured_points(const std::vector<const Observation*>& obs) {
  struct Acc {
    std::vector<double> prefill_s, decode_s, prefill_w, decode_w;
  };
  std::map<std::tuple<int64_t, int64_t, int64_t, std::string>, Acc> by;
  for (const Observation* x : obs) {
    Acc& acc = by[{x->n_prompt, x->n_gen, x->n_paths, x->kind}];
    if (x->prefill_s) acc.prefill_s.push_back(*x->prefill_s);
    if (x->decode_s) acc.decode_s.push_back(*x->decode_s);
    if (x->prefill_s && x->prefill_j) acc.prefill_w.push_back(*x->prefill_j / *x->prefill_s);
    if (x->decode_s && x->decode_j) acc.decode_w.push_back(*x->decode_j / *x->decode_s);
  }
  std::vector<MeasuredPoint> out;
  for (const auto& [key, acc] : by) {
    MeasuredPoint p;
    std::tie(p.n_prompt, p.n_gen, p.n_paths, p.what) = key;
    if (p.what == "bench pp+tg" || p.what == "eval") p.what += " (prefill = TTFT)";
    auto med = [](const std::vector<double>& v) { return v.empty() ? std::optional<double>() : std::optional<double>(median_of(v)); };
    p.prefill_s = med(acc.prefill_s);
    p.decode_s = med(acc.decode_s);
    p.prefill_w = med(acc.prefill_w);
    p.decode_w = med(acc.decode_w);
    out.push_back(p);
  }
  return out;
}

ModelFitReport fit_model(const std::string& model, const std::vector<const Observation*>& obs, const FitOptions& o) {
  ModelFitReport rep;
  rep.model = model;
  rep.n_observations = static_cast<int64_t>(obs.size());
  ModelCoefficients& c = rep.coefficients;

  // Prefill latency: bench pp tests when there are any (TTFT adds the first token's sampling).
  const bool have_pp = std::any_of(obs.begin(), obs.end(), [](const Observation* x) { return x->kind == "bench pp"; });
  std::vector<Point> prefill;
  for (const Observation* x : obs) {
    if (!x->prefill_s || x->n_paths != 1 || (have_pp && x->kind != "bench pp")) continue;
    prefill.push_back({x->n_prompt, 0, *x->prefill_s, 0, x->fit_only});
  }
  if (!prefill.empty()) {
    QuantityFit q = fit_quantity("prefill_latency", "s", prefill, 3, RangeKind::kPrompt, o, [&](const std::vector<Point>& pts) -> Result<std::pair<Predictor, ordered_json>> {
      std::vector<PrefillSample> s;
      for (const Point& p : pts) s.push_back({p.n_prompt, p.actual});
      ER_ASSIGN_OR_RETURN(PrefillLatencyModel m, fit_prefill_latency(s, o.pad));
      c.prefill = m;
      return std::make_pair(Predictor([m](const Point& p) { return m.seconds(p.n_prompt); }),
                            ordered_json{{"a", m.a}, {"b", m.b}, {"c", m.c}, {"pad", m.pad}});
    });
    if (!have_pp) rep.notes.push_back("prefill fitted on TTFT (no bench pp records): it includes the first token");
    rep.fits.push_back(std::move(q));
  } else {
    rep.notes.push_back("no prefill timings (one path) in the records; prefill latency not fitted");
  }

  // Decode latency per path count.
  std::map<int64_t, std::vector<Point>> decode;
  for (const Observation* x : obs) {
    if (x->decode_s && x->n_gen >= 1) decode[x->n_paths].push_back({x->n_prompt, x->n_gen, *x->decode_s, 0, x->fit_only});
  }
  for (const auto& [paths, pts] : decode) {
    const std::string name = paths == 1 ? "decode_latency" : "decode_latency_paths_" + std::to_string(paths);
    rep.fits.push_back(fit_quantity(name, "s", pts, 2, RangeKind::kDecode, o, [&, paths = paths](const std::vector<Point>& train) -> Result<std::pair<Predictor, ordered_json>> {
      std::vector<DecodeSample> s;
      for (const Point& p : train) s.push_back({p.n_prompt, p.n_gen, p.actual});
      ER_ASSIGN_OR_RETURN(DecodeLatencyModel m, fit_decode_latency(s));
      if (paths == 1) c.decode = m;
      else c.decode_by_paths[paths] = m;
      return std::make_pair(Predictor([m](const Point& p) { return m.seconds(p.n_prompt, p.n_gen); }),
                            ordered_json{{"m", m.m}, {"n", m.n}});
    }));
  }
  if (decode.empty()) rep.notes.push_back("no decode timings in the records; decode latency not fitted");

  // Power and energy: only where the records carry energy.
  std::vector<Point> prefill_w, decode_short_w, decode_long_j;
  for (const Observation* x : obs) {
    if (x->n_paths != 1) continue;
    if (x->prefill_s && x->prefill_j && *x->prefill_j > 0) prefill_w.push_back({x->n_prompt, 0, *x->prefill_j / *x->prefill_s, 0, x->fit_only});
    if (x->decode_s && x->decode_j && *x->decode_j > 0) {
      if (x->n_gen <= o.short_max_tokens) decode_short_w.push_back({x->n_prompt, x->n_gen, *x->decode_j / *x->decode_s, 0, x->fit_only});
      else decode_long_j.push_back({x->n_prompt, x->n_gen, *x->decode_j, *x->decode_s, x->fit_only});  // scored on energy
    }
  }
  if (prefill_w.empty() && decode_short_w.empty() && decode_long_j.empty()) {
    rep.notes.push_back("no energy in the records; power models not fitted");
  } else {
    if (!prefill_w.empty()) {
      rep.fits.push_back(fit_quantity("prefill_power", "W", prefill_w, 3, RangeKind::kPrompt, o, [&](const std::vector<Point>& train) -> Result<std::pair<Predictor, ordered_json>> {
        std::vector<PowerSample> s;
        for (const Point& p : train) s.push_back({p.n_prompt, p.actual});
        ER_ASSIGN_OR_RETURN(PrefillPowerModel m, fit_prefill_power(s));
        c.prefill_power = m;
        return std::make_pair(Predictor([m](const Point& p) { return m.watts(p.n_prompt); }),
                              ordered_json{{"constant_w", m.constant_w}, {"threshold", m.threshold}, {"a", m.log.a}, {"b", m.log.b}});
      }));
    }
    DecodePowerModel dp;
    dp.short_max_tokens = o.short_max_tokens;
    if (!decode_short_w.empty()) {
      rep.fits.push_back(fit_quantity("decode_power_short", "W", decode_short_w, 2, RangeKind::kPromptGen, o, [&](const std::vector<Point>& train) -> Result<std::pair<Predictor, ordered_json>> {
        std::vector<PowerSample> s;
        for (const Point& p : train) s.push_back({p.n_gen, p.actual});
        ER_ASSIGN_OR_RETURN(LogPowerModel m, fit_log_power(s));
        dp.short_run = m;
        return std::make_pair(Predictor([m](const Point& p) { return m.watts(p.n_gen); }), ordered_json{{"a", m.a}, {"b", m.b}});
      }));
    }
    if (!decode_long_j.empty()) {
      rep.fits.push_back(fit_quantity("decode_energy_long", "J", decode_long_j, 3, RangeKind::kPromptGen, o, [&](const std::vector<Point>& train) -> Result<std::pair<Predictor, ordered_json>> {
        std::vector<EnergySample> s;
        for (const Point& p : train) s.push_back({p.seconds, p.actual});
        ER_ASSIGN_OR_RETURN(WarmupPowerModel m, fit_warmup_energy(s));
        dp.long_run = m;
        return std::make_pair(Predictor([m](const Point& p) { return m.energy_j(p.seconds); }),
                              ordered_json{{"p_inf_w", m.p_inf_w}, {"delta_p_w", m.delta_p_w}, {"tau_s", m.tau_s}});
      }));
    }
    if (dp.short_run || dp.long_run) c.decode_power = dp;
  }
  for (const QuantityFit& q : rep.fits) {
    if (q.error.empty() && q.range) c.ranges[q.quantity] = *q.range;
  }
  c.measured = measured_points(obs);
  return rep;
}

}  // namespace

Result<std::vector<ModelFitReport>> fit_observations(const std::vector<Observation>& obs, const FitOptions& o) {
  if (!(o.holdout >= 0 && o.holdout < 1)) return Status::invalid("${holdout} must be in [0, 1)");
  if (o.pad < 1) return Status::invalid("${pad} must be >= 1");
  if (obs.empty()) return Status::invalid("no usable records (bench or eval) in the input");
  std::map<std::string, std::vector<const Observation*>> by_model;
  for (const Observation& x : obs) by_model[x.model].push_back(&x);
  std::vector<ModelFitReport> out;
  bool any = false;
  for (const auto& [model, list] : by_model) {
    out.push_back(fit_model(model, list, o));
    for (const QuantityFit& q : out.back().fits) any = any || q.error.empty();
  }
  if (!any) {
    std::string why;
    for (const ModelFitReport& r : out) {
      for (const QuantityFit& q : r.fits) why += "; " + r.model + " " + q.quantity + ": " + q.error;
    }
    return Status::invalid("nothing could be fitted" + why);
  }
  return out;
}

}  // namespace er::perfmodel
