#include "study/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace er::study {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pct(double p) { return fmt("%.1f%%", 100 * p); }

std::string acc_text(const ConfigSummary& s) {
  return pct(s.accuracy) + " [" + fmt("%.1f", 100 * s.acc_lo) + ", " + fmt("%.1f", 100 * s.acc_hi) + "] (" +
         std::to_string(s.n_correct) + "/" + std::to_string(s.n) +
         (s.n < s.n_expected ? " of " + std::to_string(s.n_expected) + " measured" : "") + ")";
}

std::string energy_text(const ConfigSummary& s) {
  if (!s.energy_j) return s.projected ? "energy not projected (no power models)" : "energy not measured";
  return fmt("%.2f J/question", *s.energy_j) + (s.energy_estimated ? " (estimated)" : "") +
         (s.projected ? " (projected)" : "");
}

}  // namespace

std::string format_seconds(double s) {
  if (!std::isfinite(s)) return "?";
  if (s < 1) return fmt("%.0f ms", s * 1000);
  return fmt("%.2f s", s);
}

std::string_view metric_name(Metric m) { return m == Metric::kMean ? "mean" : "p90"; }

std::optional<Metric> metric_from_name(std::string_view name) {
  if (name == "mean") return Metric::kMean;
  if (name == "p90") return Metric::kP90;
  return std::nullopt;
}

double latency_of(const ConfigSummary& s, Metric m) { return m == Metric::kMean ? s.mean_s : s.p90_s; }

Plan make_plan(const std::vector<ConfigSummary>& s, double deadline_s, Metric m, size_t n_runners_up) {
  Plan p;
  p.deadline_s = deadline_s;
  p.metric = m;
  std::vector<size_t> ok, over;
  for (size_t i = 0; i < s.size(); ++i) (latency_of(s[i], m) <= deadline_s ? ok : over).push_back(i);
  auto better = [&](size_t a, size_t b) {
    if (s[a].accuracy != s[b].accuracy) return s[a].accuracy > s[b].accuracy;
    const double la = latency_of(s[a], m), lb = latency_of(s[b], m);
    if (la != lb) return la < lb;
    const double ea = s[a].energy_j.value_or(INFINITY), eb = s[b].energy_j.value_or(INFINITY);
    if (ea != eb) return ea < eb;
    return s[a].config_id < s[b].config_id;
  };
  std::sort(ok.begin(), ok.end(), better);
  std::sort(over.begin(), over.end(), better);
  p.excluded = over;
  const std::string lat = std::string(metric_name(m)) + " latency";
  const std::string dl = format_seconds(deadline_s);
  if (ok.empty()) {
    p.why.push_back("No configuration meets the " + dl + " deadline on " + lat + ".");
    if (!over.empty()) {
      size_t fastest = over[0];
      for (size_t i : over)
        if (latency_of(s[i], m) < latency_of(s[fastest], m)) fastest = i;
      p.why.push_back("The fastest is " + s[fastest].label + " at " + format_seconds(latency_of(s[fastest], m)) +
                      " (" + format_seconds(latency_of(s[fastest], m) - deadline_s) + " over), accuracy " +
                      pct(s[fastest].accuracy) + ".");
    }
    return p;
  }
  p.choice = ok[0];
  for (size_t k = 1; k < ok.size() && p.runners_up.size() < n_runners_up; ++k) p.runners_up.push_back(ok[k]);
  const ConfigSummary& c = s[ok[0]];
  const double l = latency_of(c, m);
  p.why.push_back("Chosen: " + c.label + ": the most accurate of the " + std::to_string(ok.size()) + " of " +
                  std::to_string(s.size()) + " configurations whose " + lat + " meets " + dl + ".");
  p.why.push_back("Accuracy " + acc_text(c) + "; " + lat + " " + format_seconds(l) + (c.projected ? " (projected)" : "") +
                  ", " + format_seconds(deadline_s - l) + " under the deadline (" +
                  fmt("%.0f%%", 100 * (deadline_s - l) / deadline_s) + " margin); " + energy_text(c) + "; " +
                  fmt("%.0f", c.tokens_mean) + " generated tokens/question.");
  for (size_t r : p.runners_up) {
    const ConfigSummary& o = s[r];
    std::string line = "Runner-up: " + o.label + ": accuracy " + pct(o.accuracy) + " (" +
                       fmt("%+.1f", 100 * (o.accuracy - c.accuracy)) + " points), " + lat + " " +
                       format_seconds(latency_of(o, m)) + (o.projected ? " (projected)" : "");
    if (o.accuracy == c.accuracy) line += " (equally accurate, slower or costlier)";
    // Overlapping 95% intervals: the measured difference is not significant.
    if (o.acc_hi >= c.acc_lo) line += "; its 95% interval overlaps the choice's";
    p.why.push_back(line + ".");
  }
  if (!over.empty()) {
    const ConfigSummary& x = s[over[0]];
    std::string line = std::to_string(over.size()) + " configuration" + (over.size() > 1 ? "s" : "") +
                       " excluded for exceeding " + dl;
    if (x.accuracy > c.accuracy)
      line += "; the most accurate of them, " + x.label + " (" + pct(x.accuracy) + "), needs " +
              format_seconds(latency_of(x, m));
    p.why.push_back(line + ".");
  }
  return p;
}

nlohmann::ordered_json summary_json(const ConfigSummary& s) {
  nlohmann::ordered_json j;
  j["config_id"] = s.config_id;
  j["label"] = s.label;
  j["config"] = s.cell.to_json();
  j["n"] = s.n;
  j["n_expected"] = s.n_expected;
  j["accuracy"] = s.accuracy;
  j["accuracy_ci95"] = {s.acc_lo, s.acc_hi};
  j["mean_s"] = s.mean_s;
  j["p50_s"] = s.p50_s;
  j["p90_s"] = s.p90_s;
  j["prefill_mean_s"] = s.prefill_mean_s;
  j["decode_mean_s"] = s.decode_mean_s;
  j["tokens_mean"] = s.tokens_mean;
  j["energy_j"] = s.energy_j ? nlohmann::ordered_json(*s.energy_j) : nlohmann::ordered_json(nullptr);
  j["energy_estimated"] = s.energy_estimated;
  j["projected"] = s.projected;
  if (s.projected) j["projection"] = s.projection_note;
  return j;
}

std::string plan_text(const std::vector<ConfigSummary>& s, const Plan& p) {
  std::string out = "deadline " + format_seconds(p.deadline_s) + " (" + std::string(metric_name(p.metric)) +
                    " latency): " + (p.choice ? s[*p.choice].label : std::string("no configuration meets it")) + "\n";
  for (const std::string& w : p.why) out += "  " + w + "\n";
  return out;
}

nlohmann::ordered_json plan_json(const std::vector<ConfigSummary>& s, const Plan& p) {
  nlohmann::ordered_json j;
  j["deadline_s"] = p.deadline_s;
  j["metric"] = std::string(metric_name(p.metric));
  j["choice"] = p.choice ? summary_json(s[*p.choice]) : nlohmann::ordered_json(nullptr);
  j["runners_up"] = nlohmann::ordered_json::array();
  for (size_t r : p.runners_up) j["runners_up"].push_back(summary_json(s[r]));
  j["n_excluded"] = p.excluded.size();
  j["why"] = p.why;
  return j;
}

}  // namespace er::study
