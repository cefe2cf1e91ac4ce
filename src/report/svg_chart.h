// Hand-written SVG charts for the HTML report: scatter/line charts with axes, ticks, units and a
// legend, and horizontal stacked bars. Output is a self-contained <svg> element (no scripts, no
// external references); every mark has a <title> tooltip.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace er::report::svg {

struct Point {
  double x = 0, y = 0;
  std::string tip;  // tooltip text ("" = "x, y")
};

struct Series {
  std::string name;
  std::vector<Point> points;
  bool markers = true;
  bool line = false;    // join the points in the given order
  bool dashed = false;
  std::string color;    // "" = the palette's next colour
};

struct XYChart {
  std::string title;
  std::string x_label;  // with the unit, e.g. "mean latency per question (s)"
  std::string y_label;
  std::vector<Series> series;
  std::optional<double> x_min, x_max, y_min, y_max;  // axis range (default: the data, niced)
  int width = 760, height = 430;
  std::string id;  // the svg element's id
};

// Horizontal bars, one per category, split into stacked segments.
struct StackedBars {
  std::string title;
  std::string value_label;                       // e.g. "mean latency per question (s)"
  std::vector<std::string> categories;           // one bar each, top to bottom
  std::vector<std::string> segment_names;        // legend
  std::vector<std::vector<double>> values;       // [category][segment], >= 0
  int width = 760;
  std::string id;
};

std::string render(const XYChart& c);
std::string render(const StackedBars& c);

// Ticks at 1, 2 or 5 × 10^k covering [lo, hi] with about `target` intervals; nlo/nhi get the
// range rounded out to whole ticks.
std::vector<double> nice_ticks(double lo, double hi, int target, double* nlo, double* nhi);
// A tick label with just enough decimals for `step`.
std::string tick_label(double v, double step);
// XML-escapes &, <, >, " and '.
std::string escape(std::string_view s);
// The palette (8 distinguishable colours); i wraps.
const char* palette(size_t i);

}  // namespace er::report::svg
