#include "report/html_report.h"
#include "study/precision.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "core/build_info.h"
#include "report/svg_chart.h"
#include "study/planner.h"

namespace er::report {

namespace {

using study::ConfigSummary;
using svg::escape;

std::string f(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Series key: the policy, with the model when the database holds several.
std::string policy_key(const ConfigSummary& s, bool multi_model) {
  std::string k(study::policy_name(s.cell.policy));
  if (multi_model) k = s.cell.model + " " + k;
  return k;
}

constexpr const char* kCss = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
p.note{color:#555;font-size:0.92em;max-width:860px}
table{border-collapse:collapse;font-size:0.88em;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}tr.front td{background:#eef6ee}
pre{background:#f7f7f7;border:1px solid #ddd;padding:10px;overflow-x:auto;font-size:0.85em}
svg.chart{display:block;margin:10px 0;background:#fff}
svg .grid{stroke:#e6e6e6;stroke-width:1}svg .tick{stroke:#444}svg .frame{fill:none;stroke:#444}
svg text{font-size:12px;fill:#222}svg .ctitle{font-size:14px;font-weight:600}svg .alabel{font-size:13px}
svg .legend{font-size:12px}svg .nodata{fill:#999;font-size:14px}
details summary{cursor:pointer;color:#555;font-size:0.92em}
)css";

// Records script errors into the page (the headless test reads them back with --dump-dom).
constexpr const char* kErrorProbe =
    "<script>(function(){var d=document.documentElement;function rec(m){var o=d.getAttribute('data-errors');"
    "d.setAttribute('data-errors',(o?o+' | ':'')+m);}window.addEventListener('error',function(e){rec(String(e.message"
    "||e.type));},true);var ce=console.error;console.error=function(){rec(Array.prototype.join.call(arguments,' '));"
    "return ce.apply(console,arguments);};})();</script>\n";

std::string accuracy_cost_chart(const std::vector<ConfigSummary>& s, study::Cost cost, const std::string& id,
                                const std::string& title, const std::string& x_label, bool multi_model) {
  svg::XYChart c;
  c.id = id;
  c.title = title;
  c.x_label = x_label;
  c.y_label = "accuracy (%)";
  c.y_min = 0;
  c.y_max = 100;
  c.x_min = 0;
  std::map<std::string, size_t> by_policy;
  for (const ConfigSummary& x : s) {
    auto v = study::cost_of(x, cost);
    if (!v) continue;
    const std::string k = policy_key(x, multi_model);
    if (!by_policy.count(k)) {
      by_policy[k] = c.series.size();
      c.series.push_back({k, {}, true, false, false, ""});
    }
    c.series[by_policy[k]].points.push_back(
        {*v, 100 * x.accuracy, x.label + ": " + f("%.1f%%", 100 * x.accuracy) + " at " + f("%.3g", *v)});
  }
  svg::Series front{"Pareto frontier", {}, false, true, true, "#222"};
  for (size_t i : study::pareto_frontier(s, cost)) front.points.push_back({*study::cost_of(s[i], cost), 100 * s[i].accuracy, s[i].label});
  if (!front.points.empty()) c.series.push_back(std::move(front));
  return svg::render(c);
}

// Fitted decode model {m, n} for a model and path count from the fits table, if any.
std::optional<std::pair<double, double>> fitted_decode(const std::vector<study::FitRow>& fits, const std::string& model,
                                                       int64_t paths) {
  for (const study::FitRow& r : fits) {
    if (r.model != model) continue;
    const auto& co = r.json.contains("coefficients") ? r.json["coefficients"] : r.json;
    const nlohmann::ordered_json* d = nullptr;
    if (paths == 1 && co.contains("decode")) d = &co["decode"];
    if (paths > 1 && co.contains("decode_by_paths") && co["decode_by_paths"].contains(std::to_string(paths)))
      d = &co["decode_by_paths"][std::to_string(paths)];
    if (d && d->contains("m") && d->contains("n") && (*d)["m"].is_number() && (*d)["n"].is_number())
      return std::make_pair((*d)["m"].get<double>(), (*d)["n"].get<double>());
  }
  return std::nullopt;
}

// "a=1.2e-07 b=0.0004": a fit's coefficients, numbers with 4 significant digits.
std::string coefficients_text(const nlohmann::ordered_json& c) {
  std::string out;
  if (!c.is_object()) return out;
  for (const auto& [k, v] : c.items()) {
    std::string val;
    if (v.is_number_integer()) val = std::to_string(v.get<int64_t>());
    else if (v.is_number()) val = f("%.4g", v.get<double>());
    else continue;
    out += (out.empty() ? "" : " ") + k + "=" + val;
  }
  return out;
}

// "87–419" from a [min, max] pair; "—" when missing.
std::string range_text(const nlohmann::ordered_json& r, const char* key) {
  if (!r.is_object() || !r.contains(key) || !r[key].is_array() || r[key].size() != 2) return "—";
  const auto& a = r[key];
  if (!a[0].is_number_integer() || !a[1].is_number_integer()) return "—";
  return a[0] == a[1] ? std::to_string(a[0].get<int64_t>())
                      : std::to_string(a[0].get<int64_t>()) + "–" + std::to_string(a[1].get<int64_t>());
}

// The fitted models as a table: one row per model and quantity, with the coefficients (those held
// at 0 by the non-negative fit marked), the points, the ranges of inputs and the held-out MAPE.
// Fits stored without a report (older or hand-made) show their latency coefficients alone.
std::string fits_table(const std::vector<study::FitRow>& fits) {
  std::string o = "<table id=\"fits-table\"><tr><th class=\"l\">model</th><th class=\"l\">quantity</th>"
                  "<th class=\"l\">coefficients</th><th>points (fitted + held out)</th><th>prompt I</th>"
                  "<th>output O</th><th>context</th><th>held-out MAPE</th></tr>\n";
  for (const study::FitRow& r : fits) {
    const auto it = r.json.find("fits");
    if (it != r.json.end() && it->is_array()) {
      for (const auto& q : *it) {
        const std::string quantity = q.value("quantity", std::string("?"));
        std::string coef = q.contains("error") ? "not fitted: " + q.value("error", std::string())
                                               : coefficients_text(q.value("coefficients", nlohmann::ordered_json()));
        if (q.contains("at_zero") && q["at_zero"].is_array() && !q["at_zero"].empty()) {
          std::string z;
          for (const auto& n : q["at_zero"]) z += (z.empty() ? "" : ", ") + n.get<std::string>();
          coef += " (" + z + " held at 0)";
        }
        const nlohmann::ordered_json range = q.value("range", nlohmann::ordered_json());
        const auto mape = q.find("holdout_mape_pct");
        o += "<tr><td class=\"l\">" + escape(r.model) + "</td><td class=\"l\">" + escape(quantity) +
             "</td><td class=\"l\">" + escape(coef) + "</td><td>" + std::to_string(q.value("n_train", 0)) + " + " +
             std::to_string(q.value("n_test", 0)) + "</td><td>" + range_text(range, "n_prompt") + "</td><td>" +
             range_text(range, "n_gen") + "</td><td>" + range_text(range, "context") + "</td><td>" +
             (mape != q.end() && mape->is_number() ? f("%.1f%%", mape->get<double>()) : std::string("—")) +
             "</td></tr>\n";
      }
      continue;
    }
    const auto& co = r.json.contains("coefficients") ? r.json["coefficients"] : r.json;
    for (const char* quantity : {"prefill", "decode"}) {
      if (!co.contains(quantity)) continue;
      o += "<tr><td class=\"l\">" + escape(r.model) + "</td><td class=\"l\">" + quantity +
           "_latency</td><td class=\"l\">" + escape(coefficients_text(co[quantity])) +
           "</td><td>—</td><td>—</td><td>—</td><td>—</td><td>—</td></tr>\n";
    }
  }
  return o + "</table>\n";
}

// perfmodel's fit keys models by file stem ("models/x.gguf" → "x").
std::string model_key(const std::string& m) {
  std::string k = m.substr(m.find_last_of('/') == std::string::npos ? 0 : m.find_last_of('/') + 1);
  if (k.size() > 5 && k.ends_with(".gguf")) k.resize(k.size() - 5);
  return k;
}

// The precision comparison (sweeps with `quantizations`): each group of configurations equal but
// for their precision, with latency, weight bytes and energy per token, accuracy, and each
// variant against the release; a float upcast's weight check stated as measured.
std::string precision_section(const HtmlReportInput& in) {
  const auto groups = study::precision_groups(in.summaries, in.questions, in.bench);
  if (groups.empty()) return "";
  std::string o = "<h2 id=\"precision\">Precision: the release against its quantizations</h2>\n";
  o += "<p class=\"note\">Each variant was made from the release with <code>quantize</code> (docs/quantize.md). "
       "Decode is the mean decode time per step; bytes/token is the weights one decode step reads (bench rows); "
       "J/token is energy per generated token. Against the release: answers that differ among the questions both "
       "ran, and decode time and weight bytes as ratios.</p>\n";
  for (const auto& g : groups) {
    o += "<h3>" + escape(g.label) + "</h3>\n<table class=\"precision\"><tr><th class=\"l\">precision</th><th>accuracy</th>"
         "<th>95% CI</th><th>mean</th><th>decode/step</th><th>bytes/token</th><th>J/token</th>"
         "<th>answers differ</th><th>decode ×</th><th>bytes ×</th></tr>\n";
    std::string notes;
    const study::ConfigSummary* rel = nullptr;
    for (const auto& r : g.rows) {
      const auto& s = in.summaries[r.summary];
      if (r.quantization == "release") rel = &s;
      o += "<tr><td class=\"l\">" + escape(r.quantization) + "</td><td>" + f("%.1f%%", 100 * s.accuracy) + "</td><td>" +
           f("%.1f", 100 * s.acc_lo) + "–" + f("%.1f", 100 * s.acc_hi) + "</td><td>" + study::format_seconds(s.mean_s) +
           "</td><td>" + (r.decode_s_per_step ? f("%.2f ms", 1000 * *r.decode_s_per_step) : "—") + "</td><td>" +
           (r.weight_bytes_per_token ? f("%.1f MB", static_cast<double>(*r.weight_bytes_per_token) / 1e6) : "—") +
           "</td><td>" + (r.j_per_token ? f("%.3f", *r.j_per_token) : "—") + "</td><td>" +
           (r.quantization == "release" ? std::string("—")
                                        : std::to_string(r.n_answers_differ) + " of " + std::to_string(r.n_common)) +
           "</td><td>" + (r.decode_ratio ? f("%.2f", *r.decode_ratio) : "—") + "</td><td>" +
           (r.bytes_ratio ? f("%.2f", *r.bytes_ratio) : "—") + "</td></tr>\n";
      const auto& w = r.weights_vs_release;
      const bool upcast = r.quantization == "f32" || r.quantization == "f16" || r.quantization == "bf16";
      if (upcast && !(w.is_object() && w.contains("identical")))
        notes += "<p class=\"note\">The " + escape(r.quantization) +
                 " variant's weights were compared with the release's when it ran (printed by the sweep), but this "
                 "database does not hold the check (its cells ran before the facts were stored: rerun the sweep, "
                 "which repeats nothing, to store them).</p>\n";
      if (w.is_object() && w.contains("identical")) {
        std::string acc = rel ? " Accuracy " + f("%.1f%%", 100 * s.accuracy) + " against the release's " +
                                    f("%.1f%%", 100 * rel->accuracy) + ", " + std::to_string(r.n_answers_differ) + " of " +
                                    std::to_string(r.n_common) + " answers differ" +
                                    (r.n_answers_differ > 0 ? " (the same weights through other kernels' arithmetic)" : "") +
                                    "."
                              : std::string();
        if (r.decode_ratio && r.bytes_ratio)
          acc += " Decode is " + f("%.2f", *r.decode_ratio) + "× the release's for " + f("%.2f", *r.bytes_ratio) +
                 "× the weight bytes.";
        if (w.value("identical", false)) {
          notes += "<p>The " + escape(r.quantization) + " variant has exactly the release's weights (checked: max |Δw| = 0 over " +
                   std::to_string(w.value("elements", int64_t{0})) + " weights)." + acc + "</p>\n";
        } else {
          notes += "<p>The " + escape(r.quantization) + " variant does <b>not</b> hold exactly the release's weights: max |Δw| = " +
                   f("%.3g", w.value("max_abs_diff", 0.0)) + " (" + std::to_string(w.value("different", int64_t{0})) + " of " +
                   std::to_string(w.value("elements", int64_t{0})) + " weights differ, largest in <code>" +
                   escape(w.value("max_tensor", std::string())) + "</code>; " + escape(r.quantization) +
                   " cannot hold every dequantized value)." + acc + "</p>\n";
        }
      }
    }
    o += "</table>\n" + notes;
  }
  return o;
}

}  // namespace

Result<HtmlReportInput> load_report_input(study::Store& store) {
  HtmlReportInput in;
  in.db_path = store.path();
  ER_ASSIGN_OR_RETURN(in.configs, store.configurations());
  ER_ASSIGN_OR_RETURN(in.questions, store.questions());
  ER_ASSIGN_OR_RETURN(in.runs, store.runs());
  ER_ASSIGN_OR_RETURN(in.fits, store.fits());
  ER_ASSIGN_OR_RETURN(in.bench, store.bench_records());
  {  // The cells' stored facts where they have no bench row.
    ER_ASSIGN_OR_RETURN(auto meta, store.meta());
    std::set<int64_t> benched;
    for (const auto& b : in.bench) benched.insert(b.first);
    for (const study::ConfigRow& c : in.configs) {
      if (benched.count(c.id)) continue;
      const auto it = meta.find(study::cell_facts_key(c.hash));
      if (it == meta.end()) continue;
      auto j = nlohmann::json::parse(it->second, nullptr, false);
      if (j.is_object()) in.bench.emplace_back(c.id, std::move(j));
    }
  }
  ER_ASSIGN_OR_RETURN(in.decisions, study::read_decisions(store));
  in.summaries = study::summarize(in.configs, in.questions);
  study::FindingsOptions fo;
  fo.db_path = in.db_path;
  in.findings = study::check_findings(in.configs, in.questions, in.fits, fo);
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  in.generated_at = buf;
  return in;
}

std::string render_html_report(const HtmlReportInput& in) {
  const auto& S = in.summaries;
  std::set<std::string> models;
  for (const auto& s : S) models.insert(s.cell.model);
  const bool multi = models.size() > 1;
  std::map<int64_t, const study::ConfigRow*> cfg_by_id;
  for (const auto& c : in.configs) cfg_by_id[c.id] = &c;

  std::string o;
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += kErrorProbe;
  o += "<title>" + escape(in.title) + "</title>\n<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  o += "<h1>" + escape(in.title) + "</h1>\n";
  int64_t nq = 0;
  for (const auto& s : S) nq += s.n;
  o += "<p class=\"note\">Database <code>" + escape(in.db_path) + "</code>: " + std::to_string(S.size()) +
       " configurations, " + std::to_string(nq) + " graded questions, " + std::to_string(in.runs.size()) +
       " runs. Generated " + escape(in.generated_at) + " by edgereason " + escape(build_version()) + " (" +
       escape(build_commit()) + "). Latency is end to end per question (prompt to final answer, all paths); "
       "accuracy is the voted answer's, with Wilson 95% intervals in the tables.</p>\n";
  if (S.empty()) o += "<p><b>The database holds no graded questions yet.</b></p>\n";

  // 1. Recommendations.
  o += "<h2 id=\"recommendations\">Recommendations by deadline</h2>\n";
  o += "<p class=\"note\">The most accurate configuration whose mean (or p90) latency per question meets the "
       "deadline; ties go to the faster, then the less energy. See <code>edgereason plan</code> for the reasons "
       "and runners-up.</p>\n";
  o += "<table id=\"rec-table\"><tr><th>deadline</th><th class=\"l\">best by mean latency</th><th>accuracy</th>"
       "<th>mean</th><th class=\"l\">best by p90 latency</th><th>accuracy</th><th>p90</th><th>energy/question</th></tr>\n";
  for (double d : in.deadlines) {
    o += "<tr><td>" + study::format_seconds(d) + "</td>";
    for (study::Metric m : {study::Metric::kMean, study::Metric::kP90}) {
      const study::Plan p = study::make_plan(S, d, m, 0);
      if (p.choice) {
        const auto& c = S[*p.choice];
        o += "<td class=\"l\">" + escape(c.label) + "</td><td>" + f("%.1f%%", 100 * c.accuracy) + "</td><td>" +
             study::format_seconds(study::latency_of(c, m)) + "</td>";
        if (m == study::Metric::kP90)
          o += "<td>" + (c.energy_j ? f("%.2f J", *c.energy_j) + (c.energy_estimated ? " (est.)" : "") : "—") + "</td>";
      } else {
        o += "<td class=\"l\">none meets it</td><td>—</td><td>—</td>";
        if (m == study::Metric::kP90) o += "<td>—</td>";
      }
    }
    o += "</tr>\n";
  }
  o += "</table>\n";

  // 1b. The paper's findings, checked.
  if (!in.findings.empty()) {
    o += "<h2 id=\"findings\">The paper's findings, checked on this database</h2>\n";
    o += std::string("<p class=\"note\">Each finding of ") + study::kPaperCitation +
         ": the paper's claim with its numbers, what this database measures (95% intervals: Wilson for accuracies, "
         "t for means and slopes), the verdict and why, and the command that reproduces it "
         "(<code>edgereason findings</code> prints the same table; the rules are in docs/study.md).</p>\n";
    o += "<table id=\"findings-table\"><tr><th class=\"l\">finding</th><th class=\"l\">the paper</th>"
         "<th class=\"l\">this database</th><th class=\"l\">verdict</th><th class=\"l\">reproduce with</th></tr>\n";
    for (const study::Finding& fd : in.findings) {
      o += "<tr data-finding=\"" + escape(fd.id) + "\"><td class=\"l\"><b>" + escape(fd.title) +
           "</b></td><td class=\"l\">" + escape(fd.claim) + "</td><td class=\"l\">" + escape(fd.measurement) +
           "</td><td class=\"l\"><b>" + escape(std::string(study::verdict_name(fd.verdict))) + "</b>: " +
           escape(fd.reason) + "</td><td class=\"l\"><code>" + escape(fd.command) + "</code></td></tr>\n";
    }
    o += "</table>\n";
  }

  // 2. Frontiers.
  o += "<h2 id=\"frontier\">Accuracy against latency</h2>\n";
  o += "<p class=\"note\">Each point is one configuration; the dashed line joins the Pareto-optimal ones (no other "
       "is as accurate for less).</p>\n";
  o += accuracy_cost_chart(S, study::Cost::kMeanLatency, "chart-acc-mean", "Accuracy vs mean latency",
                           "mean latency per question (s)", multi);
  o += accuracy_cost_chart(S, study::Cost::kP90Latency, "chart-acc-p90", "Accuracy vs p90 latency",
                           "p90 latency per question (s)", multi);
  o += accuracy_cost_chart(S, study::Cost::kTokens, "chart-acc-tokens", "Accuracy vs generated tokens",
                           "generated tokens per question, all paths (tokens)", multi);
  const bool any_energy = std::any_of(S.begin(), S.end(), [](const ConfigSummary& s) { return s.energy_j.has_value(); });
  if (any_energy)
    o += accuracy_cost_chart(S, study::Cost::kEnergy, "chart-acc-energy", "Accuracy vs energy per question",
                             "energy per question (J)", multi);

  // 3. Prefill / decode split.
  o += "<h2 id=\"split\">Where the time goes: prefill and decode</h2>\n";
  {
    svg::StackedBars b;
    b.id = "chart-split";
    b.title = "Mean latency per question, split by phase";
    b.value_label = "mean latency per question (s)";
    b.segment_names = {"prefill", "decode", "other (tokenize, grade)"};
    for (const auto& s : S) {
      b.categories.push_back(s.label);
      b.values.push_back({s.prefill_mean_s, s.decode_mean_s, std::max(0.0, s.mean_s - s.prefill_mean_s - s.decode_mean_s)});
    }
    o += svg::render(b);
  }

  // 4. Decode latency vs output length with the fitted curve.
  o += "<h2 id=\"decode\">Decode latency against output length</h2>\n";
  o += "<p class=\"note\">One point per question: decode time against decode steps (the longest path's tokens). "
       "Lines: the fitted model L<sub>d</sub>(I, O) = n·O + m·(I·O + O(O−1)/2) at the series' mean prompt length "
       "(<code>edgereason fit</code>; missing when no fit is stored).</p>\n";
  {
    svg::XYChart c;
    c.id = "chart-decode";
    c.title = "Decode latency vs output length";
    c.x_label = "decode steps per question (tokens)";
    c.y_label = "decode latency (s)";
    c.x_min = 0;
    c.y_min = 0;
    std::map<std::pair<std::string, int64_t>, std::vector<const study::QuestionRecord*>> groups;
    for (const auto& q : in.questions) {
      auto it = cfg_by_id.find(q.config_id);
      if (it == cfg_by_id.end()) continue;
      groups[{it->second->cell.model, it->second->cell.paths}].push_back(&q.q);
    }
    std::vector<svg::Series> curves;
    for (const auto& [key, qs] : groups) {
      const std::string name = (multi ? key.first + " " : std::string()) + "N=" + std::to_string(key.second);
      svg::Series s{name + " measured", {}, true, false, false, ""};
      double ip = 0;
      int64_t omax = 0;
      for (const auto* q : qs) {
        s.points.push_back({static_cast<double>(q->max_path_tokens), q->decode_ms / 1000.0,
                            q->question_id + ": " + std::to_string(q->max_path_tokens) + " tokens, " +
                                f("%.3f s", q->decode_ms / 1000.0)});
        ip += static_cast<double>(q->n_prompt);
        omax = std::max(omax, q->max_path_tokens);
      }
      ip /= static_cast<double>(qs.size());
      const size_t color_index = c.series.size();
      c.series.push_back(std::move(s));
      if (auto mn = fitted_decode(in.fits, model_key(key.first), key.second)) {
        svg::Series fit{name + " fit", {}, false, true, false, svg::palette(color_index)};
        for (int k = 0; k <= 40; ++k) {
          const double O = static_cast<double>(omax) * k / 40.0;
          fit.points.push_back({O, mn->second * O + mn->first * (ip * O + O * (O - 1) / 2), ""});
        }
        curves.push_back(std::move(fit));
      }
    }
    // Keep each fit next to its measurements in colour: series were given explicit colours.
    for (size_t i = 0; i < c.series.size(); ++i) c.series[i].color = svg::palette(i);
    for (auto& cv : curves) c.series.push_back(std::move(cv));
    o += svg::render(c);
  }

  // 5. Energy per token vs length.
  o += "<h2 id=\"energy\">Energy per token against output length</h2>\n";
  {
    svg::XYChart c;
    c.id = "chart-energy";
    c.title = "Energy per generated token vs output length";
    c.x_label = "generated tokens per question, all paths (tokens)";
    c.y_label = "energy per generated token (J/token)";
    c.x_min = 0;
    c.y_min = 0;
    std::map<int64_t, size_t> by_n;
    bool estimated = false;
    for (const auto& q : in.questions) {
      if (!q.q.power) continue;
      auto it = cfg_by_id.find(q.config_id);
      if (it == cfg_by_id.end()) continue;
      const int64_t tok = q.q.thinking_tokens + q.q.answer_tokens;
      if (tok <= 0) continue;
      const int64_t n = it->second->cell.paths;
      if (!by_n.count(n)) {
        by_n[n] = c.series.size();
        c.series.push_back({"N=" + std::to_string(n), {}, true, false, false, ""});
      }
      estimated = estimated || q.q.power->estimated;
      c.series[by_n[n]].points.push_back({static_cast<double>(tok), q.q.power->total_j / static_cast<double>(tok),
                                          q.q.question_id + " (" + q.q.power->source + ")"});
    }
    o += std::string("<p class=\"note\">") +
         (c.series.empty() ? "No energy was recorded (power source none)."
                           : estimated ? "Energy is <b>estimated</b> (no power sensor on this host), not measured."
                                       : "Energy measured by the power source recorded per question.") +
         "</p>\n";
    o += svg::render(c);
  }

  // 6. Accuracy vs thinking budget per policy.
  o += "<h2 id=\"budget\">Accuracy against thinking budget</h2>\n";
  o += "<p class=\"note\">Budgeted policies over their budgets; no-think is drawn at budget 0 and unlimited at "
       "max_tokens (its cap), as single points.</p>\n";
  {
    svg::XYChart c;
    c.id = "chart-budget";
    c.title = "Accuracy vs thinking budget";
    c.x_label = "thinking budget (tokens)";
    c.y_label = "accuracy (%)";
    c.y_min = 0;
    c.y_max = 100;
    c.x_min = 0;
    std::map<std::string, size_t> idx;
    for (const auto& s : S) {
      const std::string k = policy_key(s, multi) + " N=" + std::to_string(s.cell.paths);
      if (!idx.count(k)) {
        idx[k] = c.series.size();
        c.series.push_back({k, {}, true, study::policy_takes_budget(s.cell.policy), false, ""});
      }
      double x = s.cell.budget ? static_cast<double>(*s.cell.budget)
                               : s.cell.policy == study::Policy::kNoThink ? 0.0 : static_cast<double>(s.cell.max_tokens);
      c.series[idx[k]].points.push_back({x, 100 * s.accuracy, s.label});
    }
    for (auto& se : c.series)
      std::sort(se.points.begin(), se.points.end(), [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; });
    o += svg::render(c);
  }

  // 7. Accuracy vs N.
  o += "<h2 id=\"paths\">Accuracy against the number of paths</h2>\n";
  {
    svg::XYChart c;
    c.id = "chart-paths";
    c.title = "Accuracy vs N (reasoning paths, majority vote)";
    c.x_label = "paths N (count)";
    c.y_label = "accuracy (%)";
    c.y_min = 0;
    c.y_max = 100;
    std::map<std::string, size_t> idx;
    for (const auto& s : S) {
      std::string k = policy_key(s, multi);
      if (s.cell.budget) k += "=" + std::to_string(*s.cell.budget);
      if (!idx.count(k)) {
        idx[k] = c.series.size();
        c.series.push_back({k, {}, true, true, false, ""});
      }
      c.series[idx[k]].points.push_back({static_cast<double>(s.cell.paths), 100 * s.accuracy, s.label});
    }
    for (auto& se : c.series)
      std::sort(se.points.begin(), se.points.end(), [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; });
    o += svg::render(c);
  }

  o += precision_section(in);

  // 7b. The adaptive study's decisions: the cells it stopped early, and why.
  if (!in.decisions.empty()) {
    o += "<h2 id=\"decisions\">Configurations stopped early</h2>\n";
    o += "<p class=\"note\">The study runs in rounds (docs/study.md, \"The default study\"); after each, a configuration "
         "whose accuracy interval (Wilson 95%) lies wholly under that of a configuration with a lower mean latency is "
         "dominated and stops, so that the questions go where the decision is made.</p>\n";
    o += "<table id=\"decisions-table\"><tr><th class=\"l\">stopped</th><th>after</th><th>accuracy</th><th>95% CI</th>"
         "<th>mean</th><th class=\"l\">dominated by</th><th>accuracy</th><th>95% CI</th><th>mean</th></tr>\n";
    for (const study::Decision& d : in.decisions) {
      const auto cells = [&](const study::CellStats& c) {
        return "<td>" + f("%.1f%%", 100 * c.acc.p) + "</td><td>" + f("%.1f", 100 * c.acc.lo) + "–" +
               f("%.1f", 100 * c.acc.hi) + "</td><td>" + study::format_seconds(c.mean_s) + "</td>";
      };
      o += "<tr><td class=\"l\">" + escape(d.label) + "</td><td>" + std::to_string(d.after) + "</td>" + cells(d.stats) +
           "<td class=\"l\">" + escape(d.by.label) + "</td>" + cells(d.by) + "</tr>\n";
    }
    o += "</table>\n";
  }

  // 8. All configurations.
  o += "<h2 id=\"configs\">All configurations</h2>\n";
  o += "<p class=\"note\">Shaded rows are on the accuracy / mean-latency frontier.</p>\n";
  o += "<table id=\"config-table\"><tr><th>id</th><th class=\"l\">configuration</th><th>questions</th>"
       "<th>accuracy</th><th>95% CI</th><th>mean</th><th>p50</th><th>p90</th><th>prefill</th><th>decode</th>"
       "<th>tokens/q</th><th>energy/q</th></tr>\n";
  std::set<size_t> front;
  for (size_t i : study::pareto_frontier(S, study::Cost::kMeanLatency)) front.insert(i);
  for (size_t i = 0; i < S.size(); ++i) {
    const auto& s = S[i];
    o += std::string("<tr") + (front.count(i) ? " class=\"front\"" : "") + "><td>" + std::to_string(s.config_id) +
         "</td><td class=\"l\">" + escape(s.label) + "</td><td>" + std::to_string(s.n) + "/" +
         std::to_string(s.n_expected) + "</td><td>" + f("%.1f%%", 100 * s.accuracy) + "</td><td>" +
         f("%.1f", 100 * s.acc_lo) + "–" + f("%.1f", 100 * s.acc_hi) + "</td><td>" +
         study::format_seconds(s.mean_s) + "</td><td>" + study::format_seconds(s.p50_s) + "</td><td>" +
         study::format_seconds(s.p90_s) + "</td><td>" + study::format_seconds(s.prefill_mean_s) + "</td><td>" +
         study::format_seconds(s.decode_mean_s) + "</td><td>" + f("%.0f", s.tokens_mean) + "</td><td>" +
         (s.energy_j ? f("%.2f J", *s.energy_j) + (s.energy_estimated ? " (est.)" : "") : "—") + "</td></tr>\n";
  }
  o += "</table>\n";

  // 9. Configuration echo.
  o += "<h2 id=\"echo\">Configuration echo</h2>\n";
  if (!in.fits.empty()) {
    o += "<p class=\"note\">Fitted models stored with the results (<code>edgereason study</code> fits them on the "
         "questions and its bench grid by non-negative least squares: a coefficient the points would make negative "
         "is held at 0). Each holds on the ranges of inputs it was fitted on; <code>plan --device</code>, "
         "<code>predict</code> and <code>run --deadline</code> warn when a fit is used beyond them. MAPE on the "
         "held-out points.</p>\n";
    o += fits_table(in.fits);
    o += "<details id=\"fits-raw\"><summary>Fit records (coefficients, measured and held-out points, bench grid)"
         "</summary>\n";
    for (const auto& fr : in.fits) o += "<pre>" + escape(fr.model + ": " + fr.json.dump(2)) + "</pre>\n";
    o += "</details>\n";
  }
  std::set<std::string> shown;
  for (auto it = in.runs.rbegin(); it != in.runs.rend(); ++it) {
    if (shown.count(it->config_toml)) continue;
    shown.insert(it->config_toml);
    o += "<p class=\"note\">Sweep <b>" + escape(it->config_name) + "</b> (run " + std::to_string(it->id) + ", " +
         escape(it->command) + ", started " + escape(it->started_at) + ", " + escape(it->status) + ", build " +
         escape(it->build) + "):</p>\n<pre>" + escape(it->config_toml) + "</pre>\n";
  }
  o += "<table id=\"runs-table\"><tr><th>run</th><th class=\"l\">command</th><th class=\"l\">sweep</th>"
       "<th class=\"l\">started</th><th class=\"l\">finished</th><th class=\"l\">status</th></tr>\n";
  for (const auto& r : in.runs)
    o += "<tr><td>" + std::to_string(r.id) + "</td><td class=\"l\">" + escape(r.command) + "</td><td class=\"l\">" +
         escape(r.config_name) + "</td><td class=\"l\">" + escape(r.started_at) + "</td><td class=\"l\">" +
         escape(r.finished_at) + "</td><td class=\"l\">" + escape(r.status) + "</td></tr>\n";
  o += "</table>\n";
  o += "<script>document.documentElement.setAttribute('data-ready','1');</script>\n</body>\n</html>\n";
  return o;
}

}  // namespace er::report
