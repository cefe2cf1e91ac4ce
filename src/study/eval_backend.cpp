// UNFINISHED until src/eval and src/reasoning land on main: the binding below only checks names.
#include "study/eval_backend.h"

#include <filesystem>

#include "model/model_registry.h"

namespace er::study {

Result<std::unique_ptr<CellBackend>> make_eval_backend(const EvalBackendOptions&) {
  return Status::unsupported("the sweep's eval binding is not built in this version (src/eval not available)");
}

ConfigChecks eval_config_checks(const EvalBackendOptions&) {
  ConfigChecks c;
  c.model = [](const std::string& m) -> Status {
    auto r = model::resolve_model(m);
    return r ? Status::ok() : r.status();
  };
  c.dataset = [](const std::string& d) -> Status {
    if (d == "gsm8k" || d == "math500" || d == "mmlu" || d == "mmlu_stem") return Status::ok();
    std::error_code ec;
    if (std::filesystem::is_regular_file(d, ec)) return Status::ok();
    return Status::not_found("dataset '" + d + "' is neither a built-in set (gsm8k, math500, mmlu_stem) nor a file");
  };
  return c;
}

}  // namespace er::study
