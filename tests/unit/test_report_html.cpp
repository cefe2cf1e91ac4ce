// The HTML report: self-contained, well-formed, every chart with axes, units and legend; SVG ticks.
#include <gtest/gtest.h>

#include <regex>
#include <vector>

#include "report/html_report.h"
#include "report/svg_chart.h"
#include "report_fixture.h"
#include "study/store.h"
#include "support/test_support.h"

namespace er::report {
namespace {

// Checks that every element is closed in order (void and self-closing tags aside); script and
// style bodies are skipped. Returns "" or the first problem.
std::string check_balanced(const std::string& html) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link"};
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    if (html.compare(i, 2, "<!") == 0) {
      i = html.find('>', i);
      continue;
    }
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    std::string tag = html.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \n/"));
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> at " + std::to_string(i) + " closes <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
    } else if (!self_closing && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      stack.push_back(name);
      if (name == "script" || name == "style") {
        const size_t close = html.find("</" + name + ">", end);
        if (close == std::string::npos) return "unclosed <" + name + ">";
        i = close;
        continue;
      }
    }
    i = end + 1;
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

TEST(SvgChart, NiceTicks) {
  double lo, hi;
  auto t = svg::nice_ticks(0, 7.3, 6, &lo, &hi);
  EXPECT_EQ(t, (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 8);
  t = svg::nice_ticks(0.12, 0.57, 5, &lo, &hi);
  ASSERT_EQ(t.size(), 6u);  // 0.1 … 0.6
  EXPECT_NEAR(t.front(), 0.1, 1e-12);
  EXPECT_NEAR(t.back(), 0.6, 1e-12);
  t = svg::nice_ticks(5, 5, 5, &lo, &hi);  // a single value gets a range around it
  EXPECT_LT(lo, 5);
  EXPECT_GT(hi, 5);
  EXPECT_EQ(svg::tick_label(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(svg::tick_label(20, 5), "20");
  EXPECT_EQ(svg::escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
}

TEST(SvgChart, ChartHasAxesLabelsLegendAndMarks) {
  svg::XYChart c;
  c.id = "t";
  c.title = "T";
  c.x_label = "latency (s)";
  c.y_label = "accuracy (%)";
  c.series.push_back({"alpha", {{1, 10, ""}, {2, 20, ""}}, true, true, false, ""});
  c.series.push_back({"beta", {{3, 30, "tip"}}, true, false, false, ""});
  const std::string s = svg::render(c);
  EXPECT_EQ(check_balanced(s), "");
  EXPECT_NE(s.find(">latency (s)</text>"), std::string::npos);
  EXPECT_NE(s.find(">accuracy (%)</text>"), std::string::npos);
  EXPECT_NE(s.find(">alpha</text>"), std::string::npos);  // legend entries
  EXPECT_NE(s.find(">beta</text>"), std::string::npos);
  EXPECT_NE(s.find("<title>beta: tip</title>"), std::string::npos);
  size_t circles = 0;
  for (size_t p = 0; (p = s.find("<circle cx", p)) != std::string::npos; ++p) ++circles;
  EXPECT_EQ(circles, 3u + 2u);  // three points and two legend markers
  EXPECT_NE(s.find("<path d=\"M"), std::string::npos);  // alpha's line
}

TEST(HtmlReport, SelfContainedWellFormedWithEveryChart) {
  test::TempDir dir;
  const std::string db = (dir / "r.db").string();
  ASSERT_TRUE(study::testing::make_report_db(db).is_ok());
  auto store = study::Store::open(db, study::Store::Mode::kReadOnly);
  ASSERT_TRUE(store.is_ok());
  auto in = load_report_input(**store);
  ASSERT_TRUE(in.is_ok()) << in.status().message();
  EXPECT_EQ(in->summaries.size(), 8u);
  const std::string html = render_html_report(*in);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(check_balanced(html), "");
  for (const char* id : {"chart-acc-mean", "chart-acc-p90", "chart-acc-tokens", "chart-acc-energy", "chart-split",
                         "chart-decode", "chart-energy", "chart-budget", "chart-paths", "rec-table", "config-table",
                         "runs-table"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  // Axis labels with units.
  for (const char* label : {"mean latency per question (s)", "p90 latency per question (s)", "accuracy (%)",
                            "decode steps per question (tokens)", "decode latency (s)",
                            "energy per generated token (J/token)", "thinking budget (tokens)", "paths N (count)"})
    EXPECT_NE(html.find(label), std::string::npos) << label;
  EXPECT_NE(html.find(">Pareto frontier</text>"), std::string::npos);
  EXPECT_NE(html.find("N=1 fit"), std::string::npos);  // the fitted decode curve from the fits table
  // Recommendation rows for 1, 2, 5, 10 and 30 s.
  for (const char* d : {"<td>1.00 s</td>", "<td>2.00 s</td>", "<td>5.00 s</td>", "<td>10.00 s</td>", "<td>30.00 s</td>"})
    EXPECT_NE(html.find(d), std::string::npos) << d;
  // The fitted models as a table (a fit stored without a report: its latency coefficients), the
  // raw records collapsed.
  EXPECT_NE(html.find("id=\"fits-table\""), std::string::npos);
  EXPECT_NE(html.find("decode_latency</td><td class=\"l\">m=1e-06 n=0.002</td>"), std::string::npos);
  const size_t details = html.find("<details id=\"fits-raw\">");
  ASSERT_NE(details, std::string::npos);
  EXPECT_GT(html.find("&quot;coefficients&quot;", details), details);
  EXPECT_LT(html.find("&quot;coefficients&quot;", details), html.find("</details>", details));
  // Configuration echo: the sweep's TOML.
  EXPECT_NE(html.find("name = &quot;report-test&quot;"), std::string::npos);
  // No network: the only URL is the SVG namespace; no external resources.
  const std::regex url(R"(https?://[^"'\s<]+)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it)
    EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg");
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(HtmlReport, FitTableShowsCoefficientsRangesAndHeldOutError) {
  HtmlReportInput in;
  study::FitRow r;
  r.model = "smollm2";
  r.json = nlohmann::ordered_json::parse(R"({
    "coefficients": {"decode": {"m": 0.0, "n": 0.0061}},
    "fits": [{"quantity": "decode_latency", "unit": "s", "n_points": 50, "n_train": 40, "n_test": 10,
              "holdout_mape_pct": 7.25, "coefficients": {"m": 0.0, "n": 0.0061}, "at_zero": ["m"],
              "range": {"n_points": 50, "n_prompt": [87, 260], "n_gen": [3, 159], "context": [87, 419]},
              "held_out": [{"n_prompt": 90, "n_gen": 20, "actual": 0.12, "predicted": 0.122, "error_pct": 1.6}]},
             {"quantity": "prefill_latency", "unit": "s", "n_points": 2, "n_train": 2, "n_test": 0,
              "holdout_mape_pct": null, "coefficients": null, "error": "needs 3 distinct prompt sizes"}],
    "bench_grid": [{"model": "smollm2", "paths": 1, "threads": 2, "n_prompt": 87, "n_gen": 160,
                    "prefill_ms": 40, "decode_ms": 1000}]})");
  in.fits.push_back(r);
  const std::string html = render_html_report(in);
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("<tr><td class=\"l\">smollm2</td><td class=\"l\">decode_latency</td><td class=\"l\">m=0 "
                      "n=0.0061 (m held at 0)</td><td>40 + 10</td><td>87–260</td><td>3–159</td><td>87–419</td>"
                      "<td>7.2%</td></tr>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("not fitted: needs 3 distinct prompt sizes"), std::string::npos);
  // The measured points only inside the collapsed records.
  const size_t details = html.find("<details id=\"fits-raw\">");
  ASSERT_NE(details, std::string::npos);
  EXPECT_GT(html.find("&quot;held_out&quot;"), details);
  EXPECT_GT(html.find("&quot;bench_grid&quot;"), details);
}

// A sweep with a precision axis, through a backend that reports each cell's facts (as the local
// backend does), and a stored study decision: the report shows the weight check and the bytes
// from the facts (no bench rows), and the decision in its own table.
class FactsBackend : public study::testing::FakeBackend {
 public:
  using FakeBackend::FakeBackend;
  std::optional<nlohmann::ordered_json> cell_facts(const study::Cell& cell) override {
    nlohmann::ordered_json j;
    j["quantization"] = cell.quantization_name();
    j["weight_bytes_per_token"] = cell.quantization.empty() ? 100000000 : 300000000;
    if (cell.quantization == "f16")
      j["weights_vs_release"] = {{"tensors", 3}, {"elements", 1000}, {"different", 7}, {"max_abs_diff", 1e-4},
                                 {"max_tensor", "blk.0.ffn_up.weight"}, {"identical", false}};
    return j;
  }
};

TEST(HtmlReport, PrecisionFromCellFactsAndTheStudysDecisions) {
  test::TempDir tmp;
  const std::string db = (tmp / "r.db").string();
  auto cfg = study::parse_sweep_config(
      "name = \"facts\"\nmodels = \"m\"\nquantizations = [\"release\", \"f16\"]\npolicies = [\"unlimited\"]\n"
      "paths = [1]\ntemperature = 0.5\nmax_tokens = 32\n[[slices]]\ndataset = \"gsm8k\"\nlimit = 4\n",
      "facts.toml", {});
  ASSERT_TRUE(cfg.is_ok()) << cfg.status().message();
  auto store = study::Store::open(db, study::Store::Mode::kReadWrite);
  ASSERT_TRUE(store.is_ok());
  FactsBackend fake(4);
  study::SweepOptions o;
  o.progress = study::ProgressStyle::kOff;
  ASSERT_TRUE(study::run_sweep(*cfg, **store, fake, o).is_ok());
  const std::vector<study::Cell> cells = cfg->cells();
  ASSERT_EQ(cells.size(), 2u);
  auto meta = (*store)->meta();
  ASSERT_TRUE(meta.is_ok());
  EXPECT_TRUE(meta->count(study::cell_facts_key(cells[0])));
  EXPECT_TRUE(meta->count(study::cell_facts_key(cells[1])));
  nlohmann::ordered_json dec = nlohmann::ordered_json::array();
  const auto st = [&](const study::Cell& c, int k) {
    return nlohmann::ordered_json{{"cell", c.hash()}, {"label", c.label()}, {"k", k}, {"n", 4}, {"mean_s", 1.5}};
  };
  dec.push_back({{"cell", cells[1].hash()}, {"label", cells[1].label()}, {"after", 4}, {"round", 2},
                 {"stats", st(cells[1], 0)}, {"by", st(cells[0], 4)}});
  ASSERT_TRUE((*store)->set_meta("study_decisions", dec.dump()).is_ok());

  auto in = load_report_input(**store);
  ASSERT_TRUE(in.is_ok()) << in.status().message();
  EXPECT_TRUE(in->bench.size() == 2u);  // the two cells' facts, no bench rows
  ASSERT_EQ(in->decisions.size(), 1u);
  const std::string html = render_html_report(*in);
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("id=\"precision\""), std::string::npos);
  EXPECT_NE(html.find("does <b>not</b> hold exactly the release's weights"), std::string::npos);
  EXPECT_NE(html.find("300.0 MB"), std::string::npos);
  EXPECT_NE(html.find("id=\"decisions-table\""), std::string::npos);
  EXPECT_NE(html.find(svg::escape(cells[1].label())), std::string::npos);
}

TEST(HtmlReport, EmptyDatabaseStillRenders) {
  HtmlReportInput in;
  const std::string html = render_html_report(in);
  EXPECT_EQ(check_balanced(html), "");
  EXPECT_NE(html.find("holds no graded questions"), std::string::npos);
  EXPECT_NE(html.find("no data"), std::string::npos);
}

}  // namespace
}  // namespace er::report
