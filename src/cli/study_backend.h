// The sweep's real cell backend: each question of a cell through src/eval (dataset, task prompt,
// grading via eval::make_question_record) and src/reasoning (thinking policy, N paths, vote) on
// the engine, with per-phase energy from the telemetry meter.
#pragma once

#include <memory>
#include <string>

#include "cli/power_options.h"
#include "core/status.h"
#include "study/config.h"
#include "study/runner.h"

namespace er::cli {

struct StudyBackendOptions {
  std::string data_dir;   // "" = eval's default search
  session::EnergyOptions energy;  // --power, --power-interval, parsed once (energy_options)
};

// Starts the energy meter (prints its choice on stderr); the model loads on the first question.
Result<std::unique_ptr<study::CellBackend>> make_study_backend(const StudyBackendOptions& o);

// The config checks: the model resolves (a path or an installed name); the dataset is a built-in
// name found under the data directory or a readable JSONL file.
study::ConfigChecks study_config_checks(const StudyBackendOptions& o);

}  // namespace er::cli
