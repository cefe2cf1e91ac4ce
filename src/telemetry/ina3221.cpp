// Jetson INA3221 power monitors through hwmon: per-rail volts × amps, and the choice of rail.
#include <glob.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "telemetry/power_source.h"
#include "telemetry/sysfs.h"

namespace er::telemetry {
namespace {

struct Ina3221Rail {
  std::string label;    // "VDD_IN"
  std::string mv_path;  // .../in{k}_input, millivolts
  std::string ma_path;  // .../curr{k}_input, milliamps
};

class Ina3221Source final : public PowerSource {
 public:
  Ina3221Source(std::vector<Ina3221Rail> rails, std::string rail, std::string detail)
      : rails_(std::move(rails)), rail_(std::move(rail)), detail_(std::move(detail)) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return ReadingKind::kPowerW; }
  const std::string& detail() const override { return detail_; }

  Reading read(Clock::time_point) override {
    double w = 0;
    for (const Ina3221Rail& r : rails_) {
      const NumberRead mv = read_number_file(r.mv_path.c_str());
      const NumberRead ma = read_number_file(r.ma_path.c_str());
      if (!mv.ok || !ma.ok) return {false, 0};
      w += mv.value * ma.value * 1e-6;  // mV × mA = µW
    }
    return {true, w};
  }

 private:
  std::string name_ = "ina3221";
  std::vector<Ina3221Rail> rails_;
  std::string rail_;
  std::string detail_;
};

}  // namespace

Result<RailChoice> choose_rail(const std::vector<std::string>& rails, const std::string& wanted) {
  auto find = [&](const std::string& n) -> std::optional<size_t> {
    for (size_t i = 0; i < rails.size(); ++i) {
      if (rails[i] == n) return i;
    }
    return std::nullopt;
  };
  if (!wanted.empty()) {
    if (auto i = find(wanted)) return RailChoice{{*i}, wanted};
    std::string have;
    for (const std::string& r : rails) have += (have.empty() ? "" : ", ") + r;
    return Status::invalid("rail '" + wanted + "' not found (rails: " + have + ")");
  }
  // The whole-module input rail when there is one: the sub-rails (CPU, GPU, SOC) are inside it.
  for (const char* whole : {"VDD_IN", "POM_5V_IN"}) {
    if (auto i = find(whole)) return RailChoice{{*i}, whole};
  }
  // Else (AGX Orin: VDD_GPU_SOC, VDD_CPU_CV, VIN_SYS_5V0) the rails together are the module.
  RailChoice c;
  for (size_t i = 0; i < rails.size(); ++i) {
    if (rails[i] == "NC" || rails[i].empty()) continue;
    c.indices.push_back(i);
    c.name += (c.name.empty() ? "" : "+") + rails[i];
  }
  if (c.indices.empty()) return Status::unsupported("no labelled rail");
  if (c.indices.size() > 1) c.name = "sum(" + c.name + ")";
  return c;
}

Result<std::unique_ptr<PowerSource>> open_ina3221(const std::string& root, const std::string& wanted) {
  const std::string pattern = root + "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label";
  glob_t g;
  std::memset(&g, 0, sizeof g);
  const int rc = glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> labels;
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) labels.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  if (labels.empty()) return Status::unsupported("ina3221: nothing matches " + pattern);
  std::sort(labels.begin(), labels.end());

  std::vector<Ina3221Rail> all;
  std::vector<std::string> names;
  std::string skipped;
  for (const std::string& label_path : labels) {
    // .../in{k}_label -> .../in{k}_input and .../curr{k}_input
    const size_t slash = label_path.rfind('/');
    const std::string dir = label_path.substr(0, slash + 1);
    const std::string file = label_path.substr(slash + 1);  // "in1_label"
    const std::string k = file.substr(2, file.size() - 2 - std::strlen("_label"));
    if (k.empty() || !std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    int err = 0;
    Ina3221Rail r{read_word_file(label_path, &err), dir + "in" + k + "_input", dir + "curr" + k + "_input"};
    if (err != 0) {
      skipped += "; " + describe_read_error(label_path, err);
      continue;
    }
    const NumberRead mv = read_number_file(r.mv_path.c_str());
    const NumberRead ma = read_number_file(r.ma_path.c_str());
    if (!mv.ok || !ma.ok) {
      skipped += "; " + describe_read_error(mv.ok ? r.ma_path : r.mv_path, mv.ok ? ma.error : mv.error);
      continue;
    }
    names.push_back(r.label);
    all.push_back(std::move(r));
  }
  if (all.empty()) return Status::unsupported("ina3221: no readable rail" + skipped);
  Result<RailChoice> c = choose_rail(names, wanted);
  if (!c.is_ok()) return c.status().with_context("ina3221");
  std::vector<Ina3221Rail> chosen;
  for (size_t i : c->indices) chosen.push_back(all[i]);
  std::string rails;
  for (const std::string& n : names) rails += (rails.empty() ? "" : ", ") + n;
  const std::string detail = "hwmon " + chosen.front().mv_path.substr(0, chosen.front().mv_path.rfind('/')) +
                             " (rails: " + rails + ")" + skipped;
  return std::unique_ptr<PowerSource>(new Ina3221Source(std::move(chosen), c->name, detail));
}

}  // namespace er::telemetry
