// `edgereason sweep CONFIG.toml [--db results.db] [--shard I/N]`: runs the grid of a sweep
// configuration (or one shard of its questions) through eval, one committed row per question; a
// rerun continues where a stopped or killed run left off.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/study_backend.h"
#include "cli/study_common.h"
#include "study/config.h"
#include "study/runner.h"
#include "study/store.h"

namespace er::cli {
namespace {

struct SweepCliOptions {
  std::string config;
  std::string db = "results.db";
  std::string progress = "auto";
  std::string data_dir;
  std::string power = "auto";
  bool dry_run = false;
  ShardFlags shard;
};

Status run_sweep_cmd(const SweepCliOptions& o) {
  study::ProgressStyle style;
  if (o.progress == "auto") style = study::ProgressStyle::kAuto;
  else if (o.progress == "bar") style = study::ProgressStyle::kBar;
  else if (o.progress == "lines") style = study::ProgressStyle::kLines;
  else if (o.progress == "off") style = study::ProgressStyle::kOff;
  else return Status::invalid("--progress must be auto, bar, lines or off (got '" + o.progress + "')");
  StudyBackendOptions bo;
  bo.data_dir = o.data_dir;
  PowerOptions power;
  power.spec = o.power;
  ER_ASSIGN_OR_RETURN(bo.energy, energy_options(power));
  // Everything about the configuration, and the database it would write, is checked before the
  // database is opened: --dry-run refuses whatever the run would refuse.
  ER_ASSIGN_OR_RETURN(study::SweepConfig cfg,
                      study::load_sweep_config(o.config, complete_config_checks(study_config_checks(bo), bo.data_dir)));
  ER_RETURN_IF_ERROR(check_results_db(o.db, "--db"));
  ER_ASSIGN_OR_RETURN(std::optional<study::Shard> shard, shard_to_run(o.shard));
  ER_RETURN_IF_ERROR(check_sweep_db_target(o.db, cfg, shard).with_context("--db"));
  const auto cells = cfg.cells();
  if (o.dry_run) {
    std::printf("sweep '%s': %zu cells (sweep id %s)\n", cfg.name.c_str(), cells.size(),
                study::sweep_identity(cfg).id.c_str());
    if (shard) std::printf("shard %s: every cell's questions i with (cell + i) mod %lld = %lld\n", shard->text().c_str(),
                           static_cast<long long>(shard->count), static_cast<long long>(shard->index));
    for (size_t i = 0; i < cells.size(); ++i)
      std::printf("  %3zu  %s  [%s]\n", i + 1, cells[i].label().c_str(), cells[i].hash().c_str());
    return Status::ok();
  }
  ER_ASSIGN_OR_RETURN(auto backend, make_study_backend(bo));
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(o.db, study::Store::Mode::kReadWrite));
  std::atomic<bool>* stop = install_stop_flag();
  study::SweepOptions so;
  so.command = "sweep " + o.config;
  so.progress = style;
  so.interrupted = [stop] { return stop->load(); };
  so.shard = shard;
  ER_ASSIGN_OR_RETURN(study::SweepSummary sum, study::run_sweep(cfg, *store, *backend, so));
  if (sum.interrupted) return Status::io_error("interrupted; rerun the same command to continue");
  if (shard && so.progress != study::ProgressStyle::kOff)
    std::fprintf(stderr, "shard %s done; combine the shards' databases with: edgereason merge OUT.db SHARD.db...\n",
                 shard->text().c_str());
  return Status::ok();
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepCliOptions>();
  CLI::App* sub = app.add_subcommand("sweep", "Run a grid of configurations (TOML) through eval into a SQLite database; resumable");
  sub->add_option("config", o->config,
                  "Sweep configuration (TOML; see examples/sweep.toml). `quantizations = [\"release\", \"f16\", \"q4_0\"]` "
                  "runs each model at each precision: variants are made once with quantize and cached beside the model "
                  "(.edgereason-cache/)")
      ->required();
  sub->add_option("--db", o->db, "Results database (created if missing; continued if it exists)")->capture_default_str();
  sub->add_option("--progress", o->progress, "auto (a bar on a terminal, else lines), bar, lines or off")
      ->capture_default_str();
  sub->add_option("--data-dir", o->data_dir, "Directory of the built-in datasets (default: eval's search)");
  sub->add_option("--power", o->power, "Power source for energy per question (see run --power)")->capture_default_str();
  sub->add_flag("--dry-run", o->dry_run,
                "Check the configuration (models, datasets, slices, quantizations, what the engine can hold) and the "
                "database; list the cells; run nothing (no variant is made)");
  add_shard_flags(sub, o->shard);
  return {sub, [o]() { return run_sweep_cmd(*o); }};
}

}  // namespace er::cli
