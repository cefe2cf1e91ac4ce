// The paper's findings checked on a results database (see findings.h; rules: docs/study.md).
#include "study/findings.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <regex>
#include <set>

#include "core/stats.h"
#include "gguf/gguf.h"
#include "model/model_registry.h"
#include "model/model_summary.h"
#include "perfmodel/analytic.h"
#include "perfmodel/extrapolation.h"
#include "perfmodel/fit_records.h"
#include "study/pareto.h"
#include "study/planner.h"

namespace er::study {

namespace {

using nlohmann::ordered_json;

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::string pct(double x) { return fmt("%.1f%%", 100 * x); }
// "12.5% [3.5, 36.0] (2/16)"
std::string acc_text(const stats::Proportion& p) {
  return fmt("%.1f%% [%.1f, %.1f] (%lld/%lld)", 100 * p.p, 100 * p.lo, 100 * p.hi, static_cast<long long>(p.k),
             static_cast<long long>(p.n));
}
// "2.24× [2.04, 2.44] (n=35)": the value with its unit, the interval's ends without it.
std::string interval_text(const stats::MeanInterval& m, const char* f, const char* unit, double scale = 1) {
  std::string s = fmt(f, m.mean * scale) + unit;
  if (m.defined) s += " [" + fmt(f, m.lo * scale) + ", " + fmt(f, m.hi * scale) + "]";
  return s + fmt(" (n=%lld)", static_cast<long long>(m.n));
}
std::string size_text(double params) {
  return params >= 1e9 ? fmt("%.2gB", params / 1e9) : fmt("%.0fM", params / 1e6);
}

// Where interval a lies against interval b: decidedly above, below, or overlapping.
enum class Side { kAbove, kBelow, kOverlap };
Side compare(double a_lo, double a_hi, double b_lo, double b_hi) {
  if (a_lo > b_hi) return Side::kAbove;
  if (a_hi < b_lo) return Side::kBelow;
  return Side::kOverlap;
}

int bits_of_type(std::string t) {
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "f16" || t == "bf16") return 16;
  if (t == "f32") return 32;
  if (t.size() >= 2 && t[0] == 'q' && std::isdigit(static_cast<unsigned char>(t[1]))) return t[1] - '0';
  if (t.rfind("iq", 0) == 0 && t.size() >= 3 && std::isdigit(static_cast<unsigned char>(t[2]))) return t[2] - '0';
  if (t.rfind("tq", 0) == 0 && t.size() >= 3) return 2;
  return 0;
}

// ---- what the checks share ----

struct Data {
  const std::vector<ConfigRow>& configs;
  const std::vector<QuestionRow>& questions;
  const std::vector<FitRow>& fits;
  std::string db;
  std::vector<ConfigSummary> S;
  std::map<int64_t, std::vector<const QuestionRecord*>> qs;  // by config id
  std::vector<std::string> models;                           // in configuration order
  std::map<std::string, ModelInfo> info;
  std::vector<std::string> sized;  // models of known size, smallest first
};

// The cell without the fields a comparison varies (model and/or paths), as a key.
std::string key_without(const Cell& c, std::initializer_list<const char*> drop) {
  ordered_json j = c.to_json();
  for (const char* k : drop) j.erase(k);
  return j.dump();
}

// The model a cell runs, as the findings tell models apart: its name, with "@TYPE" when the cell
// runs a quantized variant of it (a "quantization" in the cell's canonical JSON: the sweep's
// `quantizations` key), as cell labels show it ("smollm2@q8_0").
std::string quantization_of(const Cell& c) {
  const ordered_json j = c.to_json();
  const auto it = j.find("quantization");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::string model_of(const Cell& c) {
  const std::string q = quantization_of(c);
  return q.empty() || q == "release" ? c.model : c.model + "@" + q;
}

std::string models_text(const std::vector<std::string>& m) {
  std::string s;
  for (const auto& x : m) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

std::string model_label(const Data& d, const std::string& m) {
  const auto it = d.info.find(m);
  std::string s = m;
  if (it != d.info.end() && it->second.params) s += " (" + size_text(*it->second.params) + ")";
  return s;
}

// The size axis needs two models of known, different sizes.
std::optional<std::string> size_axis_missing(const Data& d) {
  std::set<double> sizes;
  for (const auto& m : d.sized) sizes.insert(*d.info.at(m).params);
  if (sizes.size() >= 2) return std::nullopt;
  std::vector<std::string> unknown;
  for (const auto& m : d.models)
    if (!d.info.at(m).params) unknown.push_back(m);
  std::string r = "one model size only: the database has " + models_text(d.models) +
                  "; the size axis needs at least two sizes (e.g. qwen2.5-coder-0.5b and qwen2.5-coder-1.5b)";
  if (!unknown.empty()) r += "; size unknown for " + models_text(unknown) + " (no installed GGUF, no size in the name)";
  return r;
}
std::string size_command(const Data& d) {
  return "edgereason study -m qwen2.5-coder-0.5b --db " + d.db + " && edgereason study -m qwen2.5-coder-1.5b --db " +
         d.db + " && edgereason findings --db " + d.db;
}
std::string study_command(const Data& d) { return "edgereason study --db " + d.db + " && edgereason findings --db " + d.db; }

Finding base(const std::string& id) {
  Finding f;
  for (const PaperClaim& c : paper_claims()) {
    if (c.id != id) continue;
    f.id = c.id;
    f.title = c.title;
    f.claim = c.claim;
  }
  f.measurement = "—";
  return f;
}

// Questions of one-path configurations with the thinking on (unlimited or budgeted), per model.
bool thinking_on(const Cell& c) { return c.policy != Policy::kNoThink; }

// ---- 1. decode share ----

Finding decode_share(const Data& d) {
  Finding f = base("decode-share");
  f.command = study_command(d);
  std::vector<std::string> parts, below, extrapolated;
  int fitted = 0;
  for (const FitRow& r : d.fits) {
    const auto it = r.json.find("coefficients");
    if (it == r.json.end()) continue;
    auto co = perfmodel::model_coefficients_from_json(*it);
    if (!co.is_ok() || !co->prefill || !co->decode) continue;
    const double p = co->prefill->seconds(kPaperPrompt), dd = co->decode->seconds(kPaperPrompt, kPaperOutput);
    if (!(p + dd > 0)) continue;
    const double share = dd / (p + dd);
    perfmodel::ExtrapolationCheck chk(*co, r.model);
    chk.add(kPaperPrompt, kPaperOutput, 1);
    const bool extra = !chk.warnings().empty();
    ++fitted;
    parts.push_back(r.model + ": " + pct(share) + " (prefill " + format_seconds(p) + ", decode " +
                    format_seconds(dd) + ", 1:" + fmt("%.0f", p > 0 ? dd / p : 0.0) + (extra ? "; extrapolated" : "") +
                    ")");
    f.data["fitted"][r.model] = {{"share", share}, {"prefill_s", p}, {"decode_s", dd}, {"extrapolated", extra}};
    if (share < kDecodeShareThreshold) below.push_back(r.model);
    if (extra) extrapolated.push_back(r.model);
  }
  // Measured on the study's own questions (one path, thinking on): the share of each question.
  std::map<std::string, std::vector<double>> shares;
  std::map<std::string, std::pair<double, double>> shape;  // mean prompt, mean output
  for (const auto& c : d.configs) {
    if (c.cell.paths != 1 || !thinking_on(c.cell)) continue;
    const auto it = d.qs.find(c.id);
    if (it == d.qs.end()) continue;
    const std::string m = model_of(c.cell);
    for (const QuestionRecord* q : it->second) {
      if (q->e2e_ms <= 0) continue;
      shares[m].push_back(q->decode_ms / q->e2e_ms);
      shape[m].first += static_cast<double>(q->n_prompt);
      shape[m].second += static_cast<double>(q->max_path_tokens);
    }
  }
  std::vector<std::string> measured;
  std::map<std::string, stats::MeanInterval> mi;
  for (auto& [m, v] : shares) {
    mi[m] = stats::mean_interval(v);
    const double n = static_cast<double>(v.size());
    measured.push_back(m + ": " + interval_text(mi[m], "%.1f", "%", 100) +
                       fmt(" at its mean I = %.0f, O = %.0f", shape[m].first / n, shape[m].second / n));
    f.data["measured"][m] = {{"share", mi[m].mean}, {"lo", mi[m].lo}, {"hi", mi[m].hi}, {"n", mi[m].n}};
  }
  std::string text;
  if (!parts.empty()) text += fmt("fitted at I = %lld, O = %lld: ", static_cast<long long>(kPaperPrompt),
                                  static_cast<long long>(kPaperOutput)) + models_text(parts);
  if (!measured.empty()) text += (text.empty() ? "" : "; ") + std::string("measured per question (N = 1, thinking on): ") +
                                 models_text(measured);
  if (!text.empty()) f.measurement = text;
  const std::string thr = pct(kDecodeShareThreshold);
  if (fitted > 0) {
    const std::string ex = extrapolated.empty() ? std::string()
                                                : " (the fits of " + models_text(extrapolated) +
                                                      " are extrapolated to O = 1024: they saw shorter outputs)";
    if (below.empty()) {
      f.verdict = Verdict::kReproduced;
      f.reason = "decode is at least " + thr + " of the fitted latency at the paper's shape for every model" + ex;
    } else {
      f.verdict = Verdict::kNotReproduced;
      f.reason = "decode is under " + thr + " of the fitted latency at the paper's shape for " + models_text(below) + ex;
    }
    return f;
  }
  if (mi.empty()) {
    f.reason = "no fitted latency models and no one-path questions with the thinking on";
    return f;
  }
  std::vector<std::string> lo, hi;
  for (const auto& [m, x] : mi) {
    if (x.defined && x.lo >= kDecodeShareThreshold) continue;
    if (x.defined && x.hi < kDecodeShareThreshold) lo.push_back(m);
    else hi.push_back(m);
  }
  if (lo.empty() && hi.empty()) {
    f.verdict = Verdict::kReproduced;
    f.reason = "no fitted models; measured at the study's own shape, decode is at least " + thr + " for every model";
  } else if (!lo.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "no fitted models; measured at the study's own (shorter) shape, decode is under " + thr + " for " +
               models_text(lo);
  } else {
    f.verdict = Verdict::kInconclusive;
    f.reason = "no fitted models; the measured share's interval holds " + thr + " for " + models_text(hi);
  }
  return f;
}

// ---- 2, 3. energy ----

struct EnergyPoints {
  std::map<std::string, std::vector<double>> x, y;  // ln(tokens), decode J per token; by model
  bool any = false, estimated = false;
  std::set<std::string> sources;
};
EnergyPoints energy_points(const Data& d) {
  EnergyPoints e;
  for (const auto& c : d.configs) {
    if (c.cell.paths != 1) continue;
    const auto it = d.qs.find(c.id);
    if (it == d.qs.end()) continue;
    const std::string m = model_of(c.cell);
    for (const QuestionRecord* q : it->second) {
      if (!q->power) continue;
      const int64_t tok = q->thinking_tokens + q->answer_tokens;
      if (tok < 2) continue;
      e.any = true;
      e.estimated = e.estimated || q->power->estimated;
      e.sources.insert(q->power->source);
      e.x[m].push_back(std::log(static_cast<double>(tok)));
      e.y[m].push_back(q->power->decode_j / static_cast<double>(tok));
    }
  }
  return e;
}
const char* kEstimatedReason =
    "energy here is estimated (power source 'estimated': no power sensor readable on this host, e.g. RAPL's "
    "energy_uj not readable), so a trend in it is the estimator's, not the hardware's";

Finding energy_vs_length(const Data& d) {
  Finding f = base("energy-vs-length");
  f.command = "edgereason study --db " + d.db + " --power rapl && edgereason findings --db " + d.db;
  const EnergyPoints e = energy_points(d);
  if (!e.any) {
    f.reason = "no energy recorded for one-path questions (power source none)";
    return f;
  }
  std::vector<std::string> parts, up, down, flat;
  for (const auto& [m, x] : e.x) {
    const stats::LineFit lf = stats::line_fit(x, e.y.at(m));
    if (!lf.defined) {
      parts.push_back(m + ": too few points or one length only");
      continue;
    }
    parts.push_back(m + fmt(": %+.3g mJ/token per ln(token) [%+.3g, %+.3g] (n=%lld)", 1e3 * lf.slope, 1e3 * lf.slope_lo,
                            1e3 * lf.slope_hi, static_cast<long long>(lf.n)));
    f.data[m] = {{"slope_j_per_ln_token", lf.slope}, {"lo", lf.slope_lo}, {"hi", lf.slope_hi}, {"n", lf.n}};
    (lf.slope_lo > 0 ? up : lf.slope_hi < 0 ? down : flat).push_back(m);
  }
  f.measurement = "decode energy per generated token against ln(tokens), one path" +
                  std::string(e.estimated ? " (estimated energy)" : "") + ": " + models_text(parts);
  if (e.estimated) {
    f.reason = kEstimatedReason;
    return f;
  }
  if (up.empty() && down.empty() && flat.empty()) {
    f.reason = "too few questions with energy (at least 3 of different lengths per model)";
    return f;
  }
  if (!down.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "energy per token falls with length for " + models_text(down) + " (slope interval below 0)";
  } else if (!flat.empty()) {
    f.verdict = Verdict::kInconclusive;
    f.reason = "the slope's 95% interval holds 0 for " + models_text(flat);
  } else {
    f.verdict = Verdict::kReproduced;
    f.reason = "energy per token rises with ln(length) for every model (slope interval above 0)";
  }
  return f;
}

Finding energy_by_size(const Data& d) {
  Finding f = base("energy-by-size");
  f.command = size_command(d);
  const EnergyPoints e = energy_points(d);
  std::map<std::string, stats::MeanInterval> mi;
  std::vector<std::string> parts;
  for (const auto& [m, y] : e.y) {
    mi[m] = stats::mean_interval(y);
    parts.push_back(model_label(d, m) + ": " + interval_text(mi[m], "%.4g", " J/token"));
    f.data[m] = {{"j_per_token", mi[m].mean}, {"lo", mi[m].lo}, {"hi", mi[m].hi}, {"n", mi[m].n}};
  }
  if (!parts.empty())
    f.measurement = "mean decode energy per generated token, one path" +
                    std::string(e.estimated ? " (estimated energy)" : "") + ": " + models_text(parts);
  if (auto miss = size_axis_missing(d)) {
    f.reason = *miss;
    return f;
  }
  if (!e.any) {
    f.reason = "no energy recorded for one-path questions (power source none)";
    return f;
  }
  if (e.estimated) {
    f.reason = kEstimatedReason;
    return f;
  }
  std::vector<std::string> with;
  for (const auto& m : d.sized)
    if (mi.count(m)) with.push_back(m);
  if (with.size() < 2 || *d.info.at(with.front()).params == *d.info.at(with.back()).params) {
    f.reason = "energy recorded for fewer than two model sizes";
    return f;
  }
  const auto &s = mi[with.front()], &l = mi[with.back()];
  const Side side = compare(s.lo, s.hi, l.lo, l.hi);
  const std::string who = with.front() + " vs " + with.back();
  if (side == Side::kBelow) {
    f.verdict = Verdict::kReproduced;
    f.reason = who + ": the smaller model spends " + fmt("%.1f", l.mean / s.mean) + "× less per token, intervals apart";
  } else if (side == Side::kAbove) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = who + ": the smaller model spends more per token, intervals apart";
  } else {
    f.verdict = Verdict::kInconclusive;
    f.reason = who + ": intervals overlap";
  }
  return f;
}

// ---- 4. deadline winner by size ----

Finding deadline_winner(const Data& d) {
  Finding f = base("deadline-winner-by-size");
  f.command = size_command(d);
  if (d.S.empty()) {
    f.reason = "no graded questions";
    return f;
  }
  double max_p90 = 0;
  for (const auto& s : d.S) max_p90 = std::max(max_p90, s.p90_s);
  std::vector<double> deadlines;
  for (double x : {0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0}) {
    deadlines.push_back(x);
    if (x >= max_p90) break;
  }
  struct Win {
    double deadline;
    size_t choice;
  };
  std::vector<Win> wins;
  std::string text;
  std::string last_model;
  for (double dl : deadlines) {
    const Plan p = make_plan(d.S, dl, Metric::kP90, 0);
    if (!p.choice) continue;
    wins.push_back({dl, *p.choice});
    const ConfigSummary& c = d.S[*p.choice];
    f.data["winners"].push_back({{"deadline_s", dl}, {"model", model_of(c.cell)}, {"label", c.label},
                                 {"accuracy", c.accuracy}, {"p90_s", c.p90_s}});
    if (model_of(c.cell) == last_model) continue;
    last_model = model_of(c.cell);
    text += (text.empty() ? "" : "; ") + std::string("≤ ") + format_seconds(dl) + ": " + c.label + " " +
            fmt("%.1f%% [%.1f, %.1f]", 100 * c.accuracy, 100 * c.acc_lo, 100 * c.acc_hi) + ", p90 " +
            format_seconds(c.p90_s);
  }
  if (!text.empty()) f.measurement = "the most accurate configuration within a p90 deadline, from each deadline where the winning model changes: " + text;
  if (auto miss = size_axis_missing(d)) {
    f.reason = *miss;
    return f;
  }
  if (wins.empty()) {
    f.reason = "no configuration meets any deadline up to " + format_seconds(deadlines.back());
    return f;
  }
  auto size_of = [&](size_t i) -> std::optional<double> { return d.info.at(model_of(d.S[i].cell)).params; };
  // The best configuration of the smallest size at the last deadline (every configuration meets it).
  const double smallest = *d.info.at(d.sized.front()).params;
  const Win& last = wins.back();
  const ConfigSummary& top = d.S[last.choice];
  std::optional<size_t> best_small;
  for (size_t i = 0; i < d.S.size(); ++i) {
    if (size_of(i) != smallest) continue;
    if (!best_small || d.S[i].accuracy > d.S[*best_small].accuracy) best_small = i;
  }
  bool non_decreasing = true;
  for (size_t k = 1; k < wins.size(); ++k) {
    const auto a = size_of(wins[k - 1].choice), b = size_of(wins[k].choice);
    if (a && b && *b < *a) non_decreasing = false;
  }
  const auto first_size = size_of(wins.front().choice), last_size = size_of(last.choice);
  if (!first_size || !last_size) {
    f.reason = "a winner's model size is unknown";
    return f;
  }
  if (*last_size > *first_size && non_decreasing && best_small) {
    const ConfigSummary& sm = d.S[*best_small];
    if (compare(top.acc_lo, top.acc_hi, sm.acc_lo, sm.acc_hi) == Side::kAbove) {
      f.verdict = Verdict::kReproduced;
      f.reason = "the smaller model wins the tight deadlines and " + model_of(top.cell) +
                 " the long ones, its lead at " + format_seconds(last.deadline) + " outside the intervals";
    } else {
      f.verdict = Verdict::kInconclusive;
      f.reason = "the larger " + model_of(top.cell) + " wins the long deadlines, but its accuracy interval overlaps the "
                 "best of " + model_of(sm.cell) + " (" + sm.label + ")";
    }
    return f;
  }
  // The same size wins throughout, or a larger one wins first: does the data decide against the claim?
  std::optional<size_t> best_other;
  for (size_t i = 0; i < d.S.size(); ++i) {
    if (size_of(i) == last_size || !size_of(i)) continue;
    if (!best_other || d.S[i].accuracy > d.S[*best_other].accuracy) best_other = i;
  }
  if (best_other && compare(top.acc_lo, top.acc_hi, d.S[*best_other].acc_lo, d.S[*best_other].acc_hi) == Side::kAbove &&
      *last_size <= *first_size) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = model_of(top.cell) + " wins at every deadline up to " + format_seconds(last.deadline) +
               ", decidedly (its interval is above the best of every other size)";
  } else if (!non_decreasing && best_other &&
             compare(top.acc_lo, top.acc_hi, d.S[*best_other].acc_lo, d.S[*best_other].acc_hi) == Side::kAbove) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "a larger model wins a tighter deadline than a smaller one, decidedly";
  } else {
    f.verdict = Verdict::kInconclusive;
    f.reason = "no size change at the deadlines that the intervals can resolve (intervals overlap)";
  }
  return f;
}

// ---- 5. NoThink by size ----

// Pooled accuracy of a model's one-path configurations of a policy.
struct Pooled {
  int64_t k = 0, n = 0;
  std::vector<double> e2e_s;
};
Pooled pooled(const Data& d, const std::string& model, const std::function<bool(const Cell&)>& pick) {
  Pooled p;
  for (const auto& c : d.configs) {
    if (model_of(c.cell) != model || !pick(c.cell)) continue;
    const auto it = d.qs.find(c.id);
    if (it == d.qs.end()) continue;
    for (const QuestionRecord* q : it->second) {
      p.k += q->correct ? 1 : 0;
      ++p.n;
      p.e2e_s.push_back(q->e2e_ms / 1000.0);
    }
  }
  return p;
}

Finding nothink_by_size(const Data& d) {
  Finding f = base("nothink-by-size");
  f.command = size_command(d);
  std::vector<std::string> parts;
  std::map<std::string, stats::Proportion> acc;
  for (const auto& m : d.models) {
    const Pooled nt = pooled(d, m, [](const Cell& c) { return c.paths == 1 && c.policy == Policy::kNoThink; });
    if (nt.n == 0) continue;
    const Pooled th = pooled(d, m, [](const Cell& c) { return c.paths == 1 && c.policy == Policy::kUnlimited; });
    acc[m] = stats::wilson_interval(nt.k, nt.n);
    std::string s = model_label(d, m) + ": no-think " + acc_text(acc[m]) + ", mean " +
                    format_seconds(stats::mean(nt.e2e_s));
    if (th.n > 0) s += " vs thinking " + acc_text(stats::wilson_interval(th.k, th.n)) + ", mean " +
                       format_seconds(stats::mean(th.e2e_s));
    parts.push_back(s);
    f.data[m] = {{"nothink_accuracy", acc[m].p}, {"lo", acc[m].lo}, {"hi", acc[m].hi}, {"n", acc[m].n}};
  }
  if (!parts.empty()) f.measurement = "one path: " + models_text(parts);
  if (acc.empty()) {
    f.reason = "no one-path no-think configurations (add \"no-think\" to the policies)";
    f.command = study_command(d);
    return f;
  }
  if (auto miss = size_axis_missing(d)) {
    f.reason = *miss;
    return f;
  }
  std::vector<std::string> with;
  for (const auto& m : d.sized)
    if (acc.count(m)) with.push_back(m);
  if (with.size() < 2 || *d.info.at(with.front()).params == *d.info.at(with.back()).params) {
    f.reason = "no-think measured for fewer than two model sizes";
    return f;
  }
  const auto &s = acc[with.front()], &l = acc[with.back()];
  const std::string who = with.back() + " vs " + with.front();
  switch (compare(l.lo, l.hi, s.lo, s.hi)) {
    case Side::kAbove:
      f.verdict = Verdict::kReproduced;
      f.reason = who + ": the larger model is more accurate with the thinking off, intervals apart";
      break;
    case Side::kBelow:
      f.verdict = Verdict::kNotReproduced;
      f.reason = who + ": the larger model is less accurate with the thinking off, intervals apart";
      break;
    default:
      f.verdict = Verdict::kInconclusive;
      f.reason = who + ": intervals overlap";
  }
  return f;
}

// ---- 6. token budget ----

Finding token_budget(const Data& d) {
  Finding f = base("token-budget-trade");
  f.command = study_command(d);
  std::vector<std::string> parts, repro, against, open;
  for (const auto& m : d.models) {
    // Budget points: think-budget cells by budget, and unlimited at its max_tokens.
    std::map<int64_t, Pooled> pts;
    std::set<int64_t> unlimited;  // budgets that are an unlimited cell's max_tokens
    for (const auto& c : d.configs) {
      if (model_of(c.cell) != m || c.cell.paths != 1) continue;
      int64_t b;
      if (c.cell.policy == Policy::kThinkBudget && c.cell.budget) b = *c.cell.budget;
      else if (c.cell.policy == Policy::kUnlimited) {
        b = c.cell.max_tokens;
        if (pts.count(b)) continue;  // a budget of max_tokens is the same point
        unlimited.insert(b);
      } else {
        continue;
      }
      const auto it = d.qs.find(c.id);
      if (it == d.qs.end()) continue;
      Pooled& p = pts[b];
      for (const QuestionRecord* q : it->second) {
        p.k += q->correct ? 1 : 0;
        ++p.n;
        p.e2e_s.push_back(q->e2e_ms / 1000.0);
      }
    }
    if (pts.size() < 2) continue;
    std::string s = model_label(d, m) + ":";
    for (const auto& [b, p] : pts) {
      s += std::string(unlimited.count(b) ? " unlimited" : "") + fmt(" %lld tok ", static_cast<long long>(b)) + acc_text(stats::wilson_interval(p.k, p.n)) + " at " +
           interval_text(stats::mean_interval(p.e2e_s), "%.2f", " s") + ";";
      f.data[m].push_back({{"budget", b}, {"accuracy", p.n ? static_cast<double>(p.k) / p.n : 0.0},
                           {"mean_s", stats::mean(p.e2e_s)}, {"n", p.n}});
    }
    s.pop_back();
    parts.push_back(s);
    const Pooled &lo = pts.begin()->second, &hi = pts.rbegin()->second;
    const auto alo = stats::wilson_interval(lo.k, lo.n), ahi = stats::wilson_interval(hi.k, hi.n);
    const auto tlo = stats::mean_interval(lo.e2e_s), thi = stats::mean_interval(hi.e2e_s);
    const Side acc = compare(ahi.lo, ahi.hi, alo.lo, alo.hi), lat = compare(thi.lo, thi.hi, tlo.lo, tlo.hi);
    if (acc == Side::kBelow || lat == Side::kBelow) against.push_back(m);
    else if (acc == Side::kAbove && lat == Side::kAbove) repro.push_back(m);
    else open.push_back(m + (lat == Side::kAbove ? " (latency rises; accuracy intervals overlap)"
                                                 : " (intervals overlap)"));
  }
  if (parts.empty()) {
    f.reason = "no model has two thinking budgets at one path (think-budget cells and/or unlimited)";
    return f;
  }
  f.measurement = "one path, accuracy and mean latency by thinking budget (unlimited at max_tokens): " +
                  models_text(parts);
  if (!against.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "a larger budget is decidedly less accurate or faster for " + models_text(against);
  } else if (!open.empty()) {
    f.verdict = Verdict::kInconclusive;
    f.reason = "largest vs smallest budget: " + models_text(open);
  } else {
    f.verdict = Verdict::kReproduced;
    f.reason = "the largest budget is more accurate and slower than the smallest, intervals apart, for " +
               models_text(repro);
  }
  return f;
}

// ---- 7, 8. N paths ----

struct PathPairs {
  int64_t n_max = 1;
  std::vector<double> ratios;  // e2e(N = n_max) / e2e(N = 1), same question, same settings
  int64_t k1 = 0, n1 = 0, kn = 0, nn = 0;
};
std::map<std::string, PathPairs> path_pairs(const Data& d) {
  std::map<std::string, PathPairs> out;
  std::map<std::string, const ConfigRow*> one;  // by the cell without its paths
  std::map<std::string, int64_t> nmax;          // by model
  for (const auto& c : d.configs) {
    if (!d.qs.count(c.id)) continue;
    if (c.cell.paths == 1) one[key_without(c.cell, {"paths"})] = &c;
    else nmax[model_of(c.cell)] = std::max(nmax[model_of(c.cell)], c.cell.paths);
  }
  for (const auto& c : d.configs) {
    if (c.cell.paths == 1 || !d.qs.count(c.id) || c.cell.paths != nmax[model_of(c.cell)]) continue;
    const auto it = one.find(key_without(c.cell, {"paths"}));
    if (it == one.end()) continue;
    PathPairs& p = out[model_of(c.cell)];
    p.n_max = c.cell.paths;
    std::map<std::string, const QuestionRecord*> base_q;
    for (const QuestionRecord* q : d.qs.at(it->second->id)) base_q[q->question_id] = q;
    for (const QuestionRecord* q : d.qs.at(c.id)) {
      const auto b = base_q.find(q->question_id);
      if (b == base_q.end()) continue;
      p.k1 += b->second->correct ? 1 : 0;
      ++p.n1;
      p.kn += q->correct ? 1 : 0;
      ++p.nn;
      if (b->second->e2e_ms > 0) p.ratios.push_back(q->e2e_ms / b->second->e2e_ms);
    }
  }
  return out;
}
const char* kNoPaths = "one path count only (or no N > 1 cell with an N = 1 twin): set paths = [1, 4] (or 8)";

Finding paths_latency(const Data& d) {
  Finding f = base("paths-latency");
  f.command = study_command(d);
  const auto pairs = path_pairs(d);
  std::vector<std::string> parts, repro, against, open;
  for (const auto& [m, p] : pairs) {
    if (p.ratios.empty()) continue;
    const stats::MeanInterval r = stats::mean_interval(p.ratios);
    parts.push_back(m + fmt(": N = %lld costs ", static_cast<long long>(p.n_max)) + interval_text(r, "%.2f", "×") +
                    " the latency of N = 1");
    f.data[m] = {{"n", p.n_max}, {"latency_ratio", r.mean}, {"lo", r.lo}, {"hi", r.hi}, {"questions", r.n}};
    const double half = static_cast<double>(p.n_max) / 2;
    if (r.defined && r.hi < half) repro.push_back(m);
    else if (r.defined && r.lo >= half) against.push_back(m);
    else open.push_back(m);
  }
  if (parts.empty()) {
    f.reason = kNoPaths;
    return f;
  }
  f.measurement = "paired per question, same settings: " + models_text(parts);
  if (!against.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "the latency ratio is at least N/2 for " + models_text(against);
  } else if (!open.empty()) {
    f.verdict = Verdict::kInconclusive;
    f.reason = "the latency ratio's interval holds N/2 for " + models_text(open);
  } else {
    f.verdict = Verdict::kReproduced;
    f.reason = "N paths cost less than N/2 times one path's latency (interval below N/2) for " + models_text(repro);
  }
  return f;
}

Finding paths_accuracy(const Data& d) {
  Finding f = base("paths-accuracy");
  f.command = study_command(d);
  const auto pairs = path_pairs(d);
  std::vector<std::string> parts, repro, against, open;
  for (const auto& [m, p] : pairs) {
    if (p.nn == 0) continue;
    const auto a1 = stats::wilson_interval(p.k1, p.n1), an = stats::wilson_interval(p.kn, p.nn);
    parts.push_back(m + ": N = 1 " + acc_text(a1) + fmt(" vs N = %lld ", static_cast<long long>(p.n_max)) + acc_text(an));
    f.data[m] = {{"n", p.n_max}, {"accuracy_1", a1.p}, {"accuracy_n", an.p}, {"questions", p.nn}};
    switch (compare(an.lo, an.hi, a1.lo, a1.hi)) {
      case Side::kAbove: repro.push_back(m); break;
      case Side::kBelow: against.push_back(m); break;
      default: open.push_back(m);
    }
  }
  if (parts.empty()) {
    f.reason = kNoPaths;
    return f;
  }
  f.measurement = "pooled over matching configurations (same questions and settings): " + models_text(parts);
  if (!against.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "more paths are decidedly less accurate for " + models_text(against);
  } else if (!open.empty()) {
    f.verdict = Verdict::kInconclusive;
    f.reason = "intervals overlap for " + models_text(open);
  } else {
    f.verdict = Verdict::kReproduced;
    f.reason = "more paths are more accurate, intervals apart, for " + models_text(repro);
  }
  return f;
}

// ---- 9. W4 against 16-bit weights ----

Finding w4_vs_w16(const Data& d) {
  Finding f = base("w4-vs-w16");
  f.command = "edgereason sweep w4.toml --db " + d.db + " && edgereason findings --db " + d.db +
              " (w4.toml: models = [\"qwen2.5-coder-0.5b\"], quantizations = [\"f16\", \"q4_0\"]; or two files made "
              "by edgereason quantize --type f16 / q4_0 as two models)";
  // Pairs: a 4-bit and a 16-bit model of the same size (within 3%), cells alike but for the model.
  std::vector<std::string> w4, w16;
  for (const auto& m : d.models) {
    const ModelInfo& i = d.info.at(m);
    if (i.weight_bits == 4) w4.push_back(m);
    if (i.weight_bits == 16) w16.push_back(m);
  }
  std::vector<std::string> parts, repro, against, open;
  for (const auto& a : w4) {
    for (const auto& b : w16) {
      const auto pa = d.info.at(a).params, pb = d.info.at(b).params;
      if (!pa || !pb || std::abs(*pa - *pb) > 0.03 * std::max(*pa, *pb)) continue;
      std::map<std::string, const ConfigRow*> w16_cells;
      for (const auto& c : d.configs)
        if (model_of(c.cell) == b) w16_cells[key_without(c.cell, {"model", "quantization"})] = &c;
      std::vector<double> ratios, eratios;
      int64_t k4 = 0, n4 = 0, k16 = 0, n16 = 0;
      for (const auto& c : d.configs) {
        if (model_of(c.cell) != a || !d.qs.count(c.id)) continue;
        const auto it = w16_cells.find(key_without(c.cell, {"model", "quantization"}));
        if (it == w16_cells.end() || !d.qs.count(it->second->id)) continue;
        std::map<std::string, const QuestionRecord*> ref;
        for (const QuestionRecord* q : d.qs.at(it->second->id)) ref[q->question_id] = q;
        for (const QuestionRecord* q : d.qs.at(c.id)) {
          const auto r = ref.find(q->question_id);
          if (r == ref.end()) continue;
          k4 += q->correct;
          ++n4;
          k16 += r->second->correct;
          ++n16;
          if (r->second->e2e_ms > 0) ratios.push_back(q->e2e_ms / r->second->e2e_ms);
          if (q->power && r->second->power && !q->power->estimated && r->second->power->total_j > 0)
            eratios.push_back(q->power->total_j / r->second->power->total_j);
        }
      }
      if (ratios.empty()) continue;
      const auto lat = stats::mean_interval(ratios);
      const auto acc4 = stats::wilson_interval(k4, n4), acc16 = stats::wilson_interval(k16, n16);
      std::string s = a + " vs " + b + ": latency " + interval_text(lat, "%.2f", "×") + ", accuracy " + acc_text(acc4) +
                      " vs " + acc_text(acc16);
      if (!eratios.empty()) s += ", energy " + interval_text(stats::mean_interval(eratios), "%.2f", "×");
      parts.push_back(s);
      f.data[a + " vs " + b] = {{"latency_ratio", lat.mean}, {"lo", lat.lo}, {"hi", lat.hi},
                                {"accuracy_w4", acc4.p}, {"accuracy_w16", acc16.p}, {"questions", n4}};
      const std::string who = a + " vs " + b;
      if ((lat.defined && lat.lo >= 1) || compare(acc4.lo, acc4.hi, acc16.lo, acc16.hi) == Side::kBelow)
        against.push_back(who);
      else if (lat.defined && lat.hi < 1) repro.push_back(who);
      else open.push_back(who);
    }
  }
  if (parts.empty()) {
    std::string have;
    for (const auto& m : d.models) {
      const ModelInfo& i = d.info.at(m);
      have += (have.empty() ? "" : ", ") + m + " (" + (i.weight_type.empty() ? "precision unknown" : i.weight_type) + ")";
    }
    f.reason = "no W4 and 16-bit versions of one model measured with the same settings (the database has " + have +
               "): run a sweep with a 4-bit and a 16-bit version of one model";
    return f;
  }
  f.measurement = "paired per question, W4 / 16-bit: " + models_text(parts);
  if (!against.empty()) {
    f.verdict = Verdict::kNotReproduced;
    f.reason = "W4 is not faster, or decidedly less accurate, for " + models_text(against);
  } else if (!open.empty()) {
    f.verdict = Verdict::kInconclusive;
    f.reason = "the latency ratio's interval holds 1 for " + models_text(open);
  } else {
    f.verdict = Verdict::kReproduced;
    f.reason = "W4 is faster (interval below 1×) with accuracy within the intervals for " + models_text(repro);
  }
  return f;
}

std::string md_cell(std::string s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kReproduced: return "reproduced";
    case Verdict::kNotReproduced: return "not reproduced";
    case Verdict::kInconclusive: return "inconclusive";
    case Verdict::kNotMeasurable: return "not measurable here";
  }
  return "?";
}

const std::vector<PaperClaim>& paper_claims() {
  static const std::vector<PaperClaim> kClaims = {
      {"decode-share", "Decode dominates latency",
       "prefill:decode latency 1:521 / 1:192 / 1:569 for DSR1-Qwen-1.5B / -Llama-8B / -Qwen-14B, over 99.5% of the "
       "time in decode (Jetson AGX Orin, vLLM, 16-bit weights, batch 1)"},
      {"energy-vs-length", "Power and energy per token grow with sequence length",
       "power and energy per token grow logarithmically with sequence length: decode power W = a·ln(O) + b with "
       "a = 3.214 / 2.702 / 1.619 W below 65 output tokens (1.5B / 8B / 14B); ≈ 0.6 / 2.8 / 5.3 J per token on "
       "long runs (Orin, VDD_GPU_SOC rail)"},
      {"energy-by-size", "The small model is more energy-efficient per token",
       "the 1.5B model is ~7× more energy-efficient per token (≈ 0.6 vs 2.8 vs 5.3 J/token for 1.5B / 8B / 14B)"},
      {"deadline-winner-by-size", "Which model size wins depends on the deadline",
       "the 1.5B reasoning model below 5 s, a non-reasoning 8B for 15–30 s, DSR1-Qwen-14B beyond 30 s; non-reasoning "
       "7–8B models are competitive under ~20 s (MMLU-Redux on the Orin)"},
      {"nothink-by-size", "With the thinking off, accuracy still grows with size",
       "with reasoning off (NoThink) the models score 41% / 51% / 69% on MMLU-Redux (1.5B / 8B / 14B)"},
      {"token-budget-trade", "A thinking budget trades accuracy for latency",
       "budgets cut tokens and latency at a cost in accuracy (budget-aware L1 models, prompt budgets); prompt "
       "budgets are often ignored (DSR1-1.5B averaged 1474 tokens budgeted against 740 unbudgeted)"},
      {"paths-latency", "N parallel paths cost far less than N× the latency",
       "32 parallel samples cost only ~2.4× the latency of one (1.5B: 3.6 → 8.7 s)"},
      {"paths-accuracy", "More paths raise accuracy",
       "parallel test-time scaling: majority vote over N ∈ {1, 2, 4, 8, 16, 32} samples (T = 0.6) raises accuracy"},
      {"w4-vs-w16", "W4 weights cut latency and energy at a small accuracy loss",
       "W4A16 quantization cuts latency and energy with a small accuracy loss, more so for larger models (vLLM on "
       "the Orin)"},
  };
  return kClaims;
}

ModelInfo model_info_from_name(const std::string& model) {
  ModelInfo i;
  i.source = "name";
  std::string stem = perfmodel::model_key(model);
  std::string lower;
  for (char c : stem) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::regex kSize(R"((^|[^a-z0-9.])(\d+(\.\d+)?)([bm])(?![a-z0-9]))");
  std::smatch m;
  if (std::regex_search(lower, m, kSize)) i.params = std::stod(m[2].str()) * (m[4].str() == "b" ? 1e9 : 1e6);
  static const std::regex kType(R"((^|[-_.@])(bf16|f16|f32|i?q\d(_[a-z0-9]+)*)($|[-_.@]))");
  if (std::regex_search(lower, m, kType)) {
    i.weight_type = m[2].str();
    i.weight_bits = bits_of_type(i.weight_type);
  }
  return i;
}

ModelInfo model_info(const std::string& model) {
  if (model.find('@') == std::string::npos) {
    auto path = model::resolve_model(model);
    if (path.is_ok()) {
      auto file = gguf::File::open(*path);
      if (file.is_ok()) {
        const model::ModelSummary s = model::summarize(*file);
        ModelInfo i;
        i.params = static_cast<double>(s.n_params);
        // The main weight type: the one holding the most elements.
        uint64_t most = 0;
        for (const auto& [t, tally] : s.by_type) {
          if (tally.n_elements > most) {
            most = tally.n_elements;
            i.weight_type = std::string(dtype_name(t));
          }
        }
        i.weight_bits = bits_of_type(i.weight_type);
        i.source = "GGUF metadata (" + *path + ")";
        return i;
      }
    }
  }
  return model_info_from_name(model);
}

std::vector<Finding> check_findings(const std::vector<ConfigRow>& configs, const std::vector<QuestionRow>& questions,
                                    const std::vector<FitRow>& fits, const FindingsOptions& o) {
  Data d{configs, questions, fits, o.db_path, {}, {}, {}, {}, {}};
  d.S = summarize(configs, questions);
  for (const auto& q : questions) d.qs[q.config_id].push_back(&q.q);
  const ModelInfoFn info = o.model_info ? o.model_info : ModelInfoFn(model_info);
  for (const auto& c : configs) {
    if (!d.qs.count(c.id) || d.info.count(model_of(c.cell))) continue;
    const std::string m = model_of(c.cell);
    d.models.push_back(m);
    ModelInfo i = info(c.cell.model);  // the release file's size; a variant's precision is its type
    const std::string q = quantization_of(c.cell);
    if (!q.empty() && q != "release") {
      i.weight_type = q;
      i.weight_bits = bits_of_type(q);
      i.source += ", quantization " + q;
    }
    d.info[m] = std::move(i);
  }
  for (const auto& m : d.models)
    if (d.info[m].params) d.sized.push_back(m);
  std::stable_sort(d.sized.begin(), d.sized.end(),
                   [&](const std::string& a, const std::string& b) { return *d.info[a].params < *d.info[b].params; });
  std::vector<Finding> out = {decode_share(d),   energy_vs_length(d), energy_by_size(d),
                              deadline_winner(d), nothink_by_size(d), token_budget(d),
                              paths_latency(d),  paths_accuracy(d),  w4_vs_w16(d)};
  for (Finding& f : out) {
    if (f.verdict == Verdict::kNotMeasurable && d.S.empty()) f.reason = "the database holds no graded questions yet";
    for (const auto& m : d.models) {
      const ModelInfo& i = d.info[m];
      f.data["models"][m] = {{"params", i.params ? ordered_json(*i.params) : ordered_json()},
                             {"weight_type", i.weight_type}, {"source", i.source}};
    }
  }
  return out;
}

Result<std::vector<Finding>> check_findings(Store& store, const FindingsOptions& o) {
  ER_ASSIGN_OR_RETURN(auto configs, store.configurations());
  ER_ASSIGN_OR_RETURN(auto questions, store.questions());
  ER_ASSIGN_OR_RETURN(auto fits, store.fits());
  FindingsOptions opt = o;
  if (opt.db_path == "results.db") opt.db_path = store.path();
  return check_findings(configs, questions, fits, opt);
}

std::string findings_markdown(const std::vector<Finding>& fs) {
  std::string o = std::string("| finding | the paper (") + kPaperCitation +
                  ") | this host (95% intervals) | verdict | reproduce with |\n|---|---|---|---|---|\n";
  for (const Finding& f : fs) {
    o += "| **" + md_cell(f.title) + "** | " + md_cell(f.claim) + " | " + md_cell(f.measurement) + " | **" +
         std::string(verdict_name(f.verdict)) + "**: " + md_cell(f.reason) + " | `" + md_cell(f.command) + "` |\n";
  }
  return o;
}

std::string findings_text(const std::vector<Finding>& fs) {
  std::string o;
  for (const Finding& f : fs) {
    o += f.title + " [" + f.id + "]: " + std::string(verdict_name(f.verdict)) + "\n";
    o += "  paper:   " + f.claim + "\n";
    o += "  here:    " + f.measurement + "\n";
    o += "  why:     " + f.reason + "\n";
    o += "  command: " + f.command + "\n\n";
  }
  o += std::string("Claims from ") + kPaperCitation + "; intervals are 95% (Wilson for accuracies, t for means).\n";
  return o;
}

nlohmann::ordered_json findings_json(const std::vector<Finding>& fs) {
  ordered_json j;
  j["source"] = kPaperCitation;
  j["findings"] = ordered_json::array();
  for (const Finding& f : fs) {
    j["findings"].push_back({{"id", f.id}, {"title", f.title}, {"claim", f.claim}, {"measurement", f.measurement},
                             {"verdict", std::string(verdict_name(f.verdict))}, {"reason", f.reason},
                             {"command", f.command}, {"data", f.data}});
  }
  return j;
}

}  // namespace er::study
