#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace er::report::svg {

namespace {

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                    "#59a14f", "#edc948", "#b07aa1", "#9c755f"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string text(double x, double y, std::string_view s, const char* anchor, const char* extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
         escape(s) + "</text>\n";
}

std::string tip_or_default(const Point& p) {
  if (!p.tip.empty()) return p.tip;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g, %g", p.x, p.y);
  return buf;
}

}  // namespace

const char* palette(size_t i) { return kPalette[i % (sizeof kPalette / sizeof kPalette[0])]; }

std::string escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::vector<double> nice_ticks(double lo, double hi, int target, double* nlo, double* nhi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    const double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  const double a = std::floor(lo / step + 1e-9) * step;
  const double b = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> t;
  for (int i = 0;; ++i) {
    const double v = a + i * step;
    if (v > b + step * 1e-6) break;
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  *nlo = a;
  *nhi = b;
  return t;
}

std::string tick_label(double v, double step) {
  int dec = 0;
  if (step > 0 && step < 1) dec = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  dec = std::clamp(dec, 0, 6);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", dec, v);
  return buf;
}

std::string render(const XYChart& c) {
  const double ml = 72, mr = 200, mt = 40, mb = 58;
  const double W = c.width, H = c.height;
  const double pw = W - ml - mr, ph = H - mt - mb;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  size_t n_points = 0;
  for (const Series& s : c.series)
    for (const Point& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      xlo = std::min(xlo, p.x), xhi = std::max(xhi, p.x);
      ylo = std::min(ylo, p.y), yhi = std::max(yhi, p.y);
      ++n_points;
    }
  if (n_points == 0) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (c.x_min) xlo = *c.x_min;
  if (c.x_max) xhi = *c.x_max;
  if (c.y_min) ylo = *c.y_min;
  if (c.y_max) yhi = *c.y_max;
  double x0, x1, y0, y1;
  const std::vector<double> xt = nice_ticks(xlo, xhi, 6, &x0, &x1);
  const std::vector<double> yt = nice_ticks(ylo, yhi, 5, &y0, &y1);
  if (c.x_min) x0 = *c.x_min;
  if (c.x_max) x1 = *c.x_max;
  if (c.y_min) y0 = *c.y_min;
  if (c.y_max) y1 = *c.y_max;
  auto X = [&](double v) { return ml + (v - x0) / (x1 - x0) * pw; };
  auto Y = [&](double v) { return mt + ph - (v - y0) / (y1 - y0) * ph; };

  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"" +
                  (c.id.empty() ? std::string() : " id=\"" + escape(c.id) + "\"") + " width=\"" + num(W) +
                  "\" height=\"" + num(H) + "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\" role=\"img\">\n";
  o += "<title>" + escape(c.title) + "</title>\n";
  o += text(ml + pw / 2, 22, c.title, "middle", " class=\"ctitle\"");
  // Grid, ticks and tick labels.
  const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double v : xt) {
    if (v < x0 - 1e-9 * xs || v > x1 + 1e-9 * xs) continue;
    o += "<line class=\"grid\" x1=\"" + num(X(v)) + "\" y1=\"" + num(mt) + "\" x2=\"" + num(X(v)) + "\" y2=\"" +
         num(mt + ph) + "\"/>\n";
    o += "<line class=\"tick\" x1=\"" + num(X(v)) + "\" y1=\"" + num(mt + ph) + "\" x2=\"" + num(X(v)) + "\" y2=\"" +
         num(mt + ph + 5) + "\"/>\n";
    o += text(X(v), mt + ph + 19, tick_label(v, xs), "middle");
  }
  for (double v : yt) {
    if (v < y0 - 1e-9 * ys || v > y1 + 1e-9 * ys) continue;
    o += "<line class=\"grid\" x1=\"" + num(ml) + "\" y1=\"" + num(Y(v)) + "\" x2=\"" + num(ml + pw) + "\" y2=\"" +
         num(Y(v)) + "\"/>\n";
    o += "<line class=\"tick\" x1=\"" + num(ml - 5) + "\" y1=\"" + num(Y(v)) + "\" x2=\"" + num(ml) + "\" y2=\"" +
         num(Y(v)) + "\"/>\n";
    o += text(ml - 8, Y(v) + 4, tick_label(v, ys), "end");
  }
  o += "<rect class=\"frame\" x=\"" + num(ml) + "\" y=\"" + num(mt) + "\" width=\"" + num(pw) + "\" height=\"" +
       num(ph) + "\"/>\n";
  o += text(ml + pw / 2, H - 14, c.x_label, "middle", " class=\"alabel\"");
  o += "<text class=\"alabel\" text-anchor=\"middle\" transform=\"translate(18 " + num(mt + ph / 2) +
       ") rotate(-90)\">" + escape(c.y_label) + "</text>\n";
  if (n_points == 0) o += text(ml + pw / 2, mt + ph / 2, "no data", "middle", " class=\"nodata\"");

  // Series, clipped to the plot area.
  const std::string clip = (c.id.empty() ? std::string("c") : c.id) + "-clip";
  o += "<clipPath id=\"" + escape(clip) + "\"><rect x=\"" + num(ml) + "\" y=\"" + num(mt) + "\" width=\"" + num(pw) +
       "\" height=\"" + num(ph) + "\"/></clipPath>\n<g clip-path=\"url(#" + escape(clip) + ")\">\n";
  for (size_t si = 0; si < c.series.size(); ++si) {
    const Series& s = c.series[si];
    const std::string col = s.color.empty() ? palette(si) : s.color;
    if (s.line && s.points.size() > 1) {
      std::string d;
      for (const Point& p : s.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        d += (d.empty() ? "M" : " L") + num(X(p.x)) + " " + num(Y(p.y));
      }
      o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + col + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "><title>" + escape(s.name) + "</title></path>\n";
    }
    if (s.markers)
      for (const Point& p : s.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        o += "<circle cx=\"" + num(X(p.x)) + "\" cy=\"" + num(Y(p.y)) + "\" r=\"4\" fill=\"" + col +
             "\" fill-opacity=\"0.8\"><title>" + escape(s.name + ": " + tip_or_default(p)) + "</title></circle>\n";
      }
  }
  o += "</g>\n";
  // Legend.
  double ly = mt + 6;
  for (size_t si = 0; si < c.series.size(); ++si) {
    const Series& s = c.series[si];
    const std::string col = s.color.empty() ? palette(si) : s.color;
    const double lx = ml + pw + 16;
    if (s.line)
      o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 22) + "\" y2=\"" + num(ly) +
           "\" stroke=\"" + col + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    if (s.markers)
      o += "<circle cx=\"" + num(lx + 11) + "\" cy=\"" + num(ly) + "\" r=\"4\" fill=\"" + col + "\"/>\n";
    o += text(lx + 30, ly + 4, s.name, "start", " class=\"legend\"");
    ly += 18;
  }
  o += "</svg>\n";
  return o;
}

std::string render(const StackedBars& c) {
  // The left margin fits the longest category label (about 6.6 px per character at 12 px).
  size_t longest = 0;
  for (const std::string& cat : c.categories) longest = std::max(longest, cat.size());
  const double ml = std::clamp(24.0 + 6.6 * static_cast<double>(longest), 120.0, 0.6 * c.width);
  const double mr = 30, mt = 40, bar = 18, gap = 8, legend_h = 26, mb = 50;
  const double W = c.width;
  const double ph = static_cast<double>(c.categories.size()) * (bar + gap) + gap;
  const double H = mt + legend_h + ph + mb;
  const double pw = W - ml - mr;
  const double top = mt + legend_h;
  double vmax = 0;
  for (const auto& row : c.values) {
    double t = 0;
    for (double v : row) t += std::max(0.0, v);
    vmax = std::max(vmax, t);
  }
  double x0, x1;
  const std::vector<double> xt = nice_ticks(0, vmax > 0 ? vmax : 1, 6, &x0, &x1);
  x0 = 0;
  auto X = [&](double v) { return ml + v / (x1 - x0) * pw; };
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"" +
                  (c.id.empty() ? std::string() : " id=\"" + escape(c.id) + "\"") + " width=\"" + num(W) +
                  "\" height=\"" + num(H) + "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\" role=\"img\">\n";
  o += "<title>" + escape(c.title) + "</title>\n";
  o += text(ml + pw / 2, 22, c.title, "middle", " class=\"ctitle\"");
  // Legend across the top.
  double lx = ml;
  for (size_t k = 0; k < c.segment_names.size(); ++k) {
    o += "<rect x=\"" + num(lx) + "\" y=\"" + num(mt) + "\" width=\"14\" height=\"12\" fill=\"" + palette(k) + "\"/>\n";
    o += text(lx + 20, mt + 11, c.segment_names[k], "start", " class=\"legend\"");
    lx += 30 + 8.0 * static_cast<double>(c.segment_names[k].size());
  }
  const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double v : xt) {
    o += "<line class=\"grid\" x1=\"" + num(X(v)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(X(v)) + "\" y2=\"" +
         num(top + ph) + "\"/>\n";
    o += text(X(v), top + ph + 18, tick_label(v, xs), "middle");
  }
  for (size_t i = 0; i < c.categories.size(); ++i) {
    const double y = top + gap + static_cast<double>(i) * (bar + gap);
    o += text(ml - 8, y + bar - 4, c.categories[i], "end", " class=\"cat\"");
    double acc = 0;
    for (size_t k = 0; i < c.values.size() && k < c.values[i].size(); ++k) {
      const double v = std::max(0.0, c.values[i][k]);
      char tip[64];
      std::snprintf(tip, sizeof tip, ": %.3g", v);
      o += "<rect x=\"" + num(X(acc)) + "\" y=\"" + num(y) + "\" width=\"" + num(X(acc + v) - X(acc)) +
           "\" height=\"" + num(bar) + "\" fill=\"" + palette(k) + "\"><title>" +
           escape(c.categories[i] + " — " + (k < c.segment_names.size() ? c.segment_names[k] : "") + tip) +
           "</title></rect>\n";
      acc += v;
    }
  }
  o += "<rect class=\"frame\" x=\"" + num(ml) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" +
       num(ph) + "\"/>\n";
  o += text(ml + pw / 2, H - 12, c.value_label, "middle", " class=\"alabel\"");
  if (c.categories.empty()) o += text(ml + pw / 2, top + 20, "no data", "middle", " class=\"nodata\"");
  o += "</svg>\n";
  return o;
}

}  // namespace er::report::svg
