// The sweep's real cell backend: each cell's questions through src/eval (dataset, task prompt,
// grading) and src/reasoning (thinking policy, N paths, vote) on the engine, with per-phase energy
// from src/telemetry. Also the existence checks the config loader runs before any work.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "study/config.h"
#include "study/runner.h"

namespace er::study {

struct EvalBackendOptions {
  std::string data_dir;             // "" = eval's default search
  std::string power_source = "auto";
  bool verbose = false;
};

Result<std::unique_ptr<CellBackend>> make_eval_backend(const EvalBackendOptions& o);

// Config checks: the model resolves (a path or an installed name); the dataset is a built-in name
// whose file exists under the data directory, or a readable JSONL path.
ConfigChecks eval_config_checks(const EvalBackendOptions& o);

}  // namespace er::study
