// `edgereason study [-m MODEL] [--quick]`: the main job. A built-in sweep on GSM8K (thinking
// policies × budgets × N paths) into results.db, a short bench grid where the questions do not
// reach the contexts the cells decode, the analytic models fitted on both (non-negative, with
// their ranges), report.html, and the plan for 1, 2, 5 and 10 s deadlines. Resumable like sweep.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/study_backend.h"
#include "cli/study_common.h"
#include "model/model.h"
#include "study/config.h"
#include "study/fit_bridge.h"
#include "study/planner.h"
#include "study/runner.h"
#include "study/store.h"

namespace er::cli {
namespace {

struct StudyCliOptions {
  std::string model = "smollm2";
  bool quick = false;
  std::string db = "results.db";
  std::string out = "report.html";
  std::optional<int> threads;  // default: every logical CPU
  std::optional<int> limit;    // default: 30, or 12 with --quick
  std::string dataset = "gsm8k";
  std::string data_dir;
  std::string power = "auto";
  std::string progress = "auto";
  ShardFlags shard;
};

// `s` as a TOML basic string.
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The built-in sweep as TOML, so that it is validated and echoed exactly like a user's config.
std::string study_toml(const StudyCliOptions& o, int threads) {
  const int limit = o.limit ? *o.limit : o.quick ? 12 : 30;
  const int max_tokens = o.quick ? 160 : 256;
  std::string t;
  t += "# edgereason study" + std::string(o.quick ? " --quick" : "") + " (built-in sweep)\n";
  t += "name = \"study" + std::string(o.quick ? "-quick" : "") + "\"\n";
  t += "models = [" + toml_string(o.model) + "]\n";
  t += "policies = [\"unlimited\", \"think-budget\", \"no-think\"]\n";
  t += "budgets = [64, 128]\n";
  t += "paths = [1, 4]\n";
  t += "threads = [" + std::to_string(threads) + "]\n";
  t += "max_tokens = " + std::to_string(max_tokens) + "\n";
  t += "answer_budget = 48\n";
  t += "temperature = 0.6\n";
  t += "seed = 1\n";
  t += "vote = \"majority\"\n";
  t += "\n[[slices]]\ndataset = " + toml_string(o.dataset) + "\noffset = 0\nlimit = " + std::to_string(limit) + "\n";
  return t;
}

Status run_study(const StudyCliOptions& o) {
  if (o.threads && (*o.threads < 1 || *o.threads > model::kMaxContextThreads)) {
    return Status::invalid("-t must be in [1, " + std::to_string(model::kMaxContextThreads) + "] (got " +
                           std::to_string(*o.threads) + ")");
  }
  if (o.limit && *o.limit < 1) return Status::invalid("--limit must be at least 1 (got " + std::to_string(*o.limit) + ")");
  if (o.model.empty()) return Status::invalid("-m: empty model name");
  if (o.dataset.empty()) return Status::invalid("--dataset: empty name");
  study::ProgressStyle style = study::ProgressStyle::kAuto;
  if (o.progress == "lines") style = study::ProgressStyle::kLines;
  else if (o.progress == "bar") style = study::ProgressStyle::kBar;
  else if (o.progress == "off") style = study::ProgressStyle::kOff;
  else if (o.progress != "auto") return Status::invalid("--progress must be auto, bar, lines or off (got '" + o.progress + "')");
  const int threads = o.threads ? *o.threads
                                : std::min(model::kMaxContextThreads,
                                           static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  StudyBackendOptions bo;
  bo.data_dir = o.data_dir;
  PowerOptions power;
  power.spec = o.power;
  ER_ASSIGN_OR_RETURN(bo.energy, energy_options(power));
  const std::string toml = study_toml(o, threads);
  ER_ASSIGN_OR_RETURN(study::SweepConfig cfg,
                      study::parse_sweep_config(toml, o.quick ? "<study --quick>" : "<study>",
                                                complete_config_checks(study_config_checks(bo), bo.data_dir)));
  ER_RETURN_IF_ERROR(check_results_db(o.db, "--db"));
  ER_ASSIGN_OR_RETURN(std::optional<study::Shard> shard, shard_to_run(o.shard));
  ER_RETURN_IF_ERROR(check_sweep_db_target(o.db, cfg, shard).with_context("--db"));
  ER_ASSIGN_OR_RETURN(auto backend, make_study_backend(bo));
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(o.db, study::Store::Mode::kReadWrite));

  std::atomic<bool>* stop = install_stop_flag();
  study::SweepOptions so;
  so.command = std::string("study") + (o.quick ? " --quick" : "") + " -m " + o.model;
  so.progress = style;
  so.interrupted = [stop] { return stop->load(); };
  so.print_estimate = true;
  so.shard = shard;
  ER_ASSIGN_OR_RETURN(study::SweepSummary sum, study::run_sweep(cfg, *store, *backend, so));
  if (sum.interrupted) return Status::io_error("interrupted; rerun the same command to continue");
  if (shard) {  // the fits, report and plans need every shard: after merge
    std::printf("shard %s of the study measured into %s. Merge the shards (edgereason merge MERGED.db SHARD.db...), "
                "then run this study command without a shard, with --db MERGED.db and the same -m, -t, --limit and "
                "--dataset, for the fits, the report and the plans.\n",
                shard->text().c_str(), o.db.c_str());
    return Status::ok();
  }

  // Where the questions do not reach the contexts the cells decode (prompt + max_tokens), a short
  // bench grid per model and path count measures them, so that the fits hold where they are used.
  ER_ASSIGN_OR_RETURN(std::vector<study::GridRequest> grid, study::bench_grid_plan(cfg.cells(), *store));
  std::vector<study::GridPoint> grid_points;
  if (!grid.empty()) {
    std::printf("bench grid: %zu points where the questions do not reach the contexts the configurations decode\n",
                grid.size());
    std::fflush(stdout);
    std::string grid_note;
    grid_points = study::run_bench_grid(grid, *backend, so.interrupted, stdout, &grid_note);
    if (!grid_note.empty()) std::printf("%s; the fits use what was measured\n", grid_note.c_str());
  }
  // Fit the analytic models on what was measured and keep them with the results.
  ER_ASSIGN_OR_RETURN(std::string fit_note, study::fit_and_store(*store, grid_points));
  std::printf("%s\n", fit_note.c_str());
  store.reset();

  ER_RETURN_IF_ERROR(write_html_report(o.db, o.out, "edgereason study: " + o.model + (o.quick ? " (quick)" : "")));
  std::printf("results: %s\nreport:  %s\n\n", o.db.c_str(), o.out.c_str());
  ER_ASSIGN_OR_RETURN(StudyData d, read_study_db(o.db));
  for (double dl : {1.0, 2.0, 5.0, 10.0}) {
    const study::Plan p = study::make_plan(d.summaries, dl, study::Metric::kP90, 2);
    std::printf("%s\n", study::plan_text(d.summaries, p).c_str());
  }
  return Status::ok();
}

}  // namespace

Command add_study_command(CLI::App& app) {
  auto o = std::make_shared<StudyCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "study", "The main job: a built-in GSM8K sweep, a short bench grid where the questions do not reach the contexts "
      "the configurations decode, fitted models (with their ranges), results.db, report.html and plans for 1-10 s");
  sub->add_option("-m,--model", o->model, "Model (a name under the models directory or a .gguf path)")->capture_default_str();
  sub->add_flag("--quick", o->quick, "A smaller sweep (12 questions per cell, 160 tokens max) that ends within 10 minutes on 2 cores");
  sub->add_option("--db", o->db, "Results database (continued if it exists)")->capture_default_str();
  sub->add_option("-o,--output", o->out, "HTML report to write")->capture_default_str();
  sub->add_option_function<int>("-t,--threads", [o](const int& v) { o->threads = v; }, "Threads (default: every logical CPU)")
      ->type_name("N");
  sub->add_option_function<int>("--limit", [o](const int& v) { o->limit = v; },
                                "Questions per cell (default 30; 12 with --quick)")
      ->type_name("K");
  sub->add_option("--dataset", o->dataset, "Dataset (built-in name or JSONL path)")->capture_default_str();
  sub->add_option("--data-dir", o->data_dir, "Directory of the built-in datasets");
  sub->add_option("--power", o->power, "Power source (see run --power)")->capture_default_str();
  sub->add_option("--progress", o->progress, "auto, bar, lines or off")->capture_default_str();
  add_shard_flags(sub, o->shard);
  return {sub, [o]() { return run_study(*o); }};
}

}  // namespace er::cli
