// The "none" source: nothing is measured, energy figures stay null.
#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

class NoneSource final : public PowerSource {
 public:
  explicit NoneSource(std::string why) : detail_(std::move(why)) {}
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return ReadingKind::kEnergyJ; }
  const std::string& detail() const override { return detail_; }
  Reading read(Clock::time_point) override { return {false, 0}; }

 private:
  std::string name_ = "none";
  std::string rail_;
  std::string detail_;
};

}  // namespace

std::unique_ptr<PowerSource> make_none_source(std::string why) { return std::make_unique<NoneSource>(std::move(why)); }

}  // namespace er::telemetry
