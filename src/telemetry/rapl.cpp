// Linux RAPL through powercap: package energy counters (µJ) summed and unwrapped.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "telemetry/power_source.h"
#include "telemetry/sysfs.h"

namespace er::telemetry {
namespace {

struct RaplDomain {
  std::string energy_path;  // .../intel-rapl:N/energy_uj
  double max_range_uj = 0;  // the counter wraps to 0 after this value
  double last_uj = 0;       // previous raw reading
  double total_j = 0;       // unwrapped energy since open
};

class RaplSource final : public PowerSource {
 public:
  RaplSource(std::vector<RaplDomain> domains, std::string rail, std::string detail)
      : domains_(std::move(domains)), rail_(std::move(rail)), detail_(std::move(detail)) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return ReadingKind::kEnergyJ; }
  const std::string& detail() const override { return detail_; }

  Reading read(Clock::time_point) override {
    double sum_j = 0;
    bool ok = true;
    for (RaplDomain& d : domains_) {
      const NumberRead r = read_number_file(d.energy_path.c_str());
      if (!r.ok) {
        ok = false;
        continue;
      }
      double delta_uj = r.value - d.last_uj;
      // One wrap between reads at most: at 20 ms and a few hundred watts a counter of 2^32 µJ
      // and more takes minutes to wrap.
      if (delta_uj < 0) delta_uj += d.max_range_uj;
      d.last_uj = r.value;
      d.total_j += delta_uj * 1e-6;
      sum_j += d.total_j;
    }
    return {ok, sum_j};
  }

 private:
  std::string name_ = "rapl";
  std::vector<RaplDomain> domains_;
  std::string rail_;
  std::string detail_;
};

}  // namespace

Result<std::unique_ptr<PowerSource>> open_rapl(const std::string& root) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(root + "/sys/class/powercap");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::unsupported("rapl: " + dir.string() + " not present");
  // Package domains are intel-rapl:N (sub-domains intel-rapl:N:M are inside them; AMD kernels use
  // the same name).
  std::vector<fs::path> packages;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.rfind("intel-rapl:", 0) == 0 && std::count(n.begin(), n.end(), ':') == 1) packages.push_back(it->path());
  }
  if (ec) return Status::unsupported("rapl: cannot list " + dir.string() + " (" + ec.message() + ")");
  if (packages.empty()) return Status::unsupported("rapl: no intel-rapl:N package domain under " + dir.string());
  std::sort(packages.begin(), packages.end());
  std::vector<RaplDomain> domains;
  std::string rail;
  for (const fs::path& p : packages) {
    RaplDomain d;
    d.energy_path = (p / "energy_uj").string();
    const NumberRead e = read_number_file(d.energy_path.c_str());
    if (!e.ok) return Status::unsupported("rapl: " + describe_read_error(d.energy_path, e.error));
    const std::string range_path = (p / "max_energy_range_uj").string();
    const NumberRead m = read_number_file(range_path.c_str());
    if (!m.ok) return Status::unsupported("rapl: " + describe_read_error(range_path, m.error));
    if (m.value <= 0) return Status::unsupported("rapl: " + range_path + " is not positive");
    d.max_range_uj = m.value;
    d.last_uj = e.value;
    int err = 0;
    std::string label = read_word_file((p / "name").string(), &err);
    if (label.empty()) label = p.filename().string();
    rail += (rail.empty() ? "" : "+") + label;
    domains.push_back(std::move(d));
  }
  const std::string detail = "powercap " + dir.string() + ": " + std::to_string(domains.size()) + " package counter(s)";
  return std::unique_ptr<PowerSource>(new RaplSource(std::move(domains), rail, detail));
}

}  // namespace er::telemetry
