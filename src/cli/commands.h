// The subcommands: each registers its flags on the CLI11 app and returns the work to run if chosen.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "core/status.h"

namespace er::cli {

// Runs a parsed subcommand. A non-ok Status becomes "edgereason: error: MESSAGE" and exit code 2
// (bad input) or 1 (runtime failure) in main.cpp, the only place that exits.
using CommandFn = std::function<Status()>;

struct Command {
  CLI::App* app;  // the subcommand's parser (parsed() tells whether it was chosen)
  CommandFn run;
};

// Each adds one subcommand to `app` and returns it with the function that runs it after parsing.
Command add_info_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_probe_command(CLI::App& app);
Command add_fit_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_grade_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_merge_command(CLI::App& app);
Command add_pareto_command(CLI::App& app);
Command add_plan_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_findings_command(CLI::App& app);
Command add_study_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_quantize_command(CLI::App& app);

}  // namespace er::cli
