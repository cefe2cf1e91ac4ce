// Helpers shared by the study subcommands (sweep, pareto, plan, report, study): Ctrl-C handling,
// the checks made before a sweep starts, and reading a results database's summaries.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "study/config.h"
#include "study/pareto.h"
#include "study/shard.h"
#include "study/store.h"

namespace er::cli {

// Installs a SIGINT/SIGTERM handler that sets the returned flag; a second signal exits at once.
std::atomic<bool>* install_stop_flag();

// `base` (study_config_checks) completed with the checks that need the files themselves, so that
// whatever a run would refuse is refused before a database is created (and by --dry-run):
//   model: after base's check, the GGUF's metadata is valid and agrees with its tensors, the
//     architecture is supported and the vocabulary loads;
//   dataset_size (if base has none): the dataset loads (as the sweep loads it, from `data_dir`)
//     and its size bounds the slices' offsets;
//   context (if base has none): the KV cache of each model's context fits this machine.
study::ConfigChecks complete_config_checks(study::ConfigChecks base, const std::string& data_dir);

// The results database a sweep or study will write: an existing file must be an intact
// edgereason database (opened read-only to check, never modified); a new one needs an existing
// directory. Messages name `flag` (e.g. "--db").
Status check_results_db(const std::string& db, const std::string& flag);

// --shard I/N and --shards N (sweep, study): the flags, added to `sub` by add_shard_flags.
struct ShardFlags {
  std::optional<std::string> shard;
  std::optional<int64_t> shards;
};
void add_shard_flags(CLI::App* sub, ShardFlags& flags);
// The shard to run: the flags, else the environment (study::resolve_shard: JOB_COMPLETION_INDEX
// with --shards, a Slurm array's SLURM_ARRAY_TASK_*), else none (the whole sweep). Printed on
// stderr when one is chosen.
Result<std::optional<study::Shard>> shard_to_run(const ShardFlags& flags);
// Whether the existing database `db` (if any) takes this run of `cfg` (study::check_sweep_target);
// opened read-only, never modified. For --dry-run and before a sweep starts.
Status check_sweep_db_target(const std::string& db, const study::SweepConfig& cfg,
                             const std::optional<study::Shard>& shard);

struct StudyData {
  std::unique_ptr<study::Store> store;
  std::vector<study::ConfigRow> configs;
  std::vector<study::QuestionRow> questions;
  std::vector<study::ConfigSummary> summaries;
};
// Opens `db` read-only and summarizes it; a database without any graded question is an error.
Result<StudyData> read_study_db(const std::string& db);

// Renders the HTML report of `db` into `out` (written to OUT.tmp, then renamed). In cmd_report.cpp.
Status write_html_report(const std::string& db, const std::string& out, const std::string& title);

}  // namespace er::cli
