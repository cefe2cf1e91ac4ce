// tegrastats logs: parsing "NAME cur_mW/avg_mW" rail readings with their time stamps, and a
// source that replays a recorded log against the steady clock.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

bool all_digits(const std::string& s, size_t b, size_t e) {
  if (b >= e) return false;
  for (size_t i = b; i < e; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "4834mW/4834mW" (JetPack 5+) or "4834/4834" (older) -> 4834 (the current reading).
std::optional<double> rail_value_mw(const std::string& v) {
  const size_t slash = v.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string cur = v.substr(0, slash), avg = v.substr(slash + 1);
  const bool mw = cur.size() > 2 && cur.compare(cur.size() - 2, 2, "mW") == 0;
  const bool avg_mw = avg.size() > 2 && avg.compare(avg.size() - 2, 2, "mW") == 0;
  if (mw != avg_mw) return std::nullopt;
  if (mw) {
    cur.resize(cur.size() - 2);
    avg.resize(avg.size() - 2);
  }
  if (!all_digits(cur, 0, cur.size()) || !all_digits(avg, 0, avg.size())) return std::nullopt;
  return std::strtod(cur.c_str(), nullptr);
}

bool rail_name(const std::string& s) {
  if (s.empty() || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "MM-DD-YYYY" "HH:MM:SS" -> seconds since the epoch (local time as written; only differences count).
std::optional<double> stamp_seconds(const std::string& date, const std::string& time) {
  if (date.size() != 10 || date[2] != '-' || date[5] != '-' || time.size() != 8 || time[2] != ':' || time[5] != ':') {
    return std::nullopt;
  }
  if (!all_digits(date, 0, 2) || !all_digits(date, 3, 5) || !all_digits(date, 6, 10) || !all_digits(time, 0, 2) ||
      !all_digits(time, 3, 5) || !all_digits(time, 6, 8)) {
    return std::nullopt;
  }
  const int64_t mo = std::stoll(date.substr(0, 2)), d = std::stoll(date.substr(3, 2)), y = std::stoll(date.substr(6));
  const int64_t h = std::stoll(time.substr(0, 2)), mi = std::stoll(time.substr(3, 2)), s = std::stoll(time.substr(6));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return static_cast<double>(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s);
}

class TegrastatsReplay final : public PowerSource {
 public:
  TegrastatsReplay(std::vector<double> t_s, std::vector<double> power_w, double last_span_s, std::string rail,
                   std::string detail)
      : t_s_(std::move(t_s)), power_w_(std::move(power_w)), last_span_s_(last_span_s), rail_(std::move(rail)),
        detail_(std::move(detail)) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return ReadingKind::kPowerW; }
  const std::string& detail() const override { return detail_; }

  // The log's clock starts at the first read: the line in effect at (now - first read).
  Reading read(Clock::time_point now) override {
    if (!started_) {
      started_ = true;
      t0_ = now;
    }
    const double elapsed = std::chrono::duration<double>(now - t0_).count();
    if (elapsed > t_s_.back() + last_span_s_) return {false, 0};  // the run outlasted the log
    const auto it = std::upper_bound(t_s_.begin(), t_s_.end(), elapsed);
    const size_t i = it == t_s_.begin() ? 0 : static_cast<size_t>(it - t_s_.begin()) - 1;
    return {true, power_w_[i]};
  }

 private:
  std::string name_ = "tegrastats";
  std::vector<double> t_s_;      // (n_lines,) seconds after the first line
  std::vector<double> power_w_;  // (n_lines,) the chosen rail's current power
  double last_span_s_;           // how long the last line holds
  std::string rail_;
  std::string detail_;
  bool started_ = false;
  Clock::time_point t0_{};
};

}  // namespace

Result<std::vector<TegrastatsLine>> parse_tegrastats(const std::string& text, const std::string& file_name,
                                                     double default_interval_ms) {
  std::vector<TegrastatsLine> out;
  std::istringstream in(text);
  std::string line;
  int64_t line_no = 0;
  std::optional<bool> stamped;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (w.empty()) continue;
    TegrastatsLine l;
    std::optional<double> t;
    if (w.size() >= 2) t = stamp_seconds(w[0], w[1]);
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (!rail_name(w[i])) continue;
      if (const auto mw = rail_value_mw(w[i + 1])) {
        l.rails_mw.emplace_back(w[i], *mw);
        ++i;
      }
    }
    if (l.rails_mw.empty()) continue;  // a line without rails (e.g. a header) is not a sample
    const std::string where = "'" + file_name + "' line " + std::to_string(line_no);
    if (stamped && *stamped != t.has_value()) return Status::invalid(where + ": time stamps on some lines only");
    stamped = t.has_value();
    l.t_s = t ? *t : static_cast<double>(out.size()) * default_interval_ms * 1e-3;
    if (!out.empty() && l.t_s < out.back().t_s) return Status::invalid(where + ": time goes backwards");
    out.push_back(std::move(l));
  }
  if (out.empty()) return Status::invalid("'" + file_name + "': no tegrastats rail readings (NAME cur_mW/avg_mW)");
  // Stamps have 1 s resolution: k lines under one stamp (--interval < 1000) are spread evenly
  // over that second.
  if (*stamped) {
    for (size_t b = 0; b < out.size();) {
      size_t e = b;
      while (e < out.size() && out[e].t_s == out[b].t_s) ++e;
      for (size_t i = b; i < e; ++i) out[i].t_s += static_cast<double>(i - b) / static_cast<double>(e - b);
      b = e;
    }
  }
  return out;
}

Result<std::unique_ptr<PowerSource>> open_tegrastats_log(const std::string& path, const std::string& wanted) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::not_found("tegrastats: cannot read the log '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  ER_ASSIGN_OR_RETURN(std::vector<TegrastatsLine> lines, parse_tegrastats(ss.str(), path));
  std::vector<std::string> names;
  for (const auto& [n, mw] : lines.front().rails_mw) names.push_back(n);
  Result<RailChoice> c = choose_rail(names, wanted);
  if (!c.is_ok()) return c.status().with_context("tegrastats '" + path + "'");
  std::vector<std::string> chosen;
  for (size_t i : c->indices) chosen.push_back(names[i]);
  std::vector<double> t_s, power_w;
  for (size_t li = 0; li < lines.size(); ++li) {
    double mw = 0;
    for (const std::string& n : chosen) {
      const auto it = std::find_if(lines[li].rails_mw.begin(), lines[li].rails_mw.end(),
                                   [&](const auto& r) { return r.first == n; });
      if (it == lines[li].rails_mw.end()) {
        return Status::invalid("tegrastats '" + path + "': rail " + n + " missing from reading " + std::to_string(li + 1));
      }
      mw += it->second;
    }
    t_s.push_back(lines[li].t_s - lines.front().t_s);
    power_w.push_back(mw * 1e-3);
  }
  // The last line holds for the log's mean spacing (1 s for a single line).
  const double span = t_s.size() > 1 ? t_s.back() / static_cast<double>(t_s.size() - 1) : 1.0;
  const std::string detail = "replay of '" + path + "' (" + std::to_string(lines.size()) + " readings over " +
                             std::to_string(t_s.back() + span) + " s)";
  return std::unique_ptr<PowerSource>(new TegrastatsReplay(std::move(t_s), std::move(power_w), span, c->name, detail));
}

}  // namespace er::telemetry
