// UNFINISHED until src/perfmodel's fit/roofline land on main.
#include "study/projection.h"

namespace er::study {

Result<std::string> project_onto_device(const std::string& device, const std::vector<ConfigRow>&,
                                        const std::vector<QuestionRow>&, std::vector<ConfigSummary>&) {
  return Status::unsupported("--device '" + device + "': projection needs perfmodel's analytic models, not in this build");
}

}  // namespace er::study
