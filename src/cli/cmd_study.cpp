// `edgereason study`: the main job, a study that decides. The default grid varies the thinking
// policy and the number of paths one axis at a time around each ladder model's base configuration
// (unlimited thinking, N = 1), planned to fit --time-budget (printed before it starts), run in
// rounds that stop dominated cells early (study/adaptive.h); then a short bench grid where the
// questions do not reach the contexts the cells decode, the analytic models fitted (non-negative,
// with their ranges), report.html, and the plans for 1, 2, 5 and 10 s deadlines. Resumable.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/study_backend.h"
#include "cli/study_common.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "model/model_summary.h"
#include "model/model_registry.h"
#include "study/adaptive.h"
#include "study/config.h"
#include "study/fit_bridge.h"
#include "study/planner.h"
#include "study/runner.h"
#include "study/store.h"

namespace er::cli {
namespace {

// The ladder (docs/models.md): the default study's models, smallest first.
const std::vector<std::string> kLadder = {"smollm2", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"};
const std::vector<std::string> kQuickLadder = {"smollm2", "qwen2.5-coder-0.5b"};

struct StudyCliOptions {
  std::vector<std::string> models;  // default: the ladder's installed models
  bool quick = false;
  bool dry_run = false;
  std::string db = "results.db";
  std::string out = "report.html";
  std::optional<int> threads;  // default: every logical CPU
  std::optional<int> limit;    // the cap: default 100, or 12 with --quick
  std::optional<int> first;    // the first round: default 10, or 4 with --quick
  std::optional<std::string> time_budget;  // default 90m, or 10m with --quick
  std::string dataset = "gsm8k";
  std::string data_dir;
  std::string power = "auto";
  std::string progress = "auto";
  ShardFlags shard;
};

// The default study's configuration before it is fitted to the budget: around-base grid, base =
// the first value of each list (the release file, unlimited thinking, N = 1). Precision is one
// more axis: the release (4-bit weights on the ladder) against its F16 upcast, the paper's W4
// against 16-bit weights (--quick leaves it out).
study::SweepConfig base_design(const StudyCliOptions& o, const std::vector<std::string>& models, int threads) {
  study::SweepConfig c;
  c.name = o.quick ? "study-quick" : "study";
  c.grid = "around-base";
  c.models = models;
  c.quantizations = o.quick ? std::vector<std::string>{"release"} : std::vector<std::string>{"release", "f16"};
  c.policies = {study::Policy::kUnlimited, study::Policy::kThinkBudget, study::Policy::kNoThink};
  c.budgets = {o.quick ? int64_t{64} : int64_t{128}};
  c.paths = o.quick ? std::vector<int64_t>{1, 4} : std::vector<int64_t>{1, 2, 4, 8};
  c.threads = {threads};
  c.max_tokens = o.quick ? 160 : 320;
  c.answer_budget = 48;
  c.temperature = 0.6;
  c.seed = 1;
  c.vote = "majority";
  c.slices = {study::Slice{o.dataset, 0, o.limit ? *o.limit : o.quick ? 12 : 100}};
  return c;
}

Status run_study(const StudyCliOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (o.threads && (*o.threads < 1 || *o.threads > model::kMaxContextThreads)) {
    return Status::invalid("-t must be in [1, " + std::to_string(model::kMaxContextThreads) + "] (got " +
                           std::to_string(*o.threads) + ")");
  }
  if (o.limit && *o.limit < 1) return Status::invalid("--limit must be at least 1 (got " + std::to_string(*o.limit) + ")");
  if (o.first && *o.first < 1)
    return Status::invalid("--first-round must be at least 1 (got " + std::to_string(*o.first) + ")");
  for (const std::string& m : o.models)
    if (m.empty()) return Status::invalid("-m: empty model name");
  if (o.dataset.empty()) return Status::invalid("--dataset: empty name");
  study::ProgressStyle style = study::ProgressStyle::kAuto;
  if (o.progress == "lines") style = study::ProgressStyle::kLines;
  else if (o.progress == "bar") style = study::ProgressStyle::kBar;
  else if (o.progress == "off") style = study::ProgressStyle::kOff;
  else if (o.progress != "auto") return Status::invalid("--progress must be auto, bar, lines or off (got '" + o.progress + "')");
  double budget_s = o.quick ? 600 : 5400;
  if (o.time_budget) {
    auto b = study::parse_duration(*o.time_budget);
    if (!b) return b.status().with_context("--time-budget");
    budget_s = *b;
  }
  const int threads = o.threads ? *o.threads
                                : std::min(model::kMaxContextThreads,
                                           static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  // The models: those given, else the ladder's installed ones (a missing one is said, not fatal).
  std::vector<std::string> models = o.models;
  if (models.empty()) {
    for (const std::string& m : o.quick ? kQuickLadder : kLadder) {
      if (model::resolve_model(m).is_ok()) models.push_back(m);
      else
        std::fprintf(stderr, "study: %s is not installed (scripts/get-models.sh %s); the study goes on without it\n",
                     m.c_str(), m.c_str());
    }
    if (models.empty())
      return Status::invalid("-m: no model of the ladder is installed (scripts/get-models.sh), and none was given");
    if (o.quick && models.size() < 2)
      std::fprintf(stderr, "study --quick: only %s is installed; it covers one model, not two\n", models.front().c_str());
  }

  StudyBackendOptions bo;
  bo.data_dir = o.data_dir;
  const study::ConfigChecks checks = complete_config_checks(study_config_checks(bo), bo.data_dir);
  // The cap: --limit, or the dataset's size when it is smaller.
  study::SweepConfig design = base_design(o, models, threads);
  if (checks.dataset && checks.dataset(o.dataset).is_ok() && checks.dataset_size)
    if (auto n = checks.dataset_size(o.dataset); n.is_ok() && *n > 0)
      design.slices.front().limit = std::min<int64_t>(design.slices.front().limit, *n);

  // The cost model: built-in decode rates, calibrated on what the database already measured.
  study::CostModel cost;
  std::map<std::string, std::string> rate_source;  // model -> where its decode rate comes from
  for (const std::string& m : models) {
    int64_t bytes = 0;
    if (auto p = model::resolve_model(m); p.is_ok()) {
      if (auto g = gguf::File::open(*p); g.is_ok()) {
        bytes = static_cast<int64_t>(g->file_size());
        // Bits per weight of the release, for the precision variants' rates.
        const model::ModelSummary ms = model::summarize(*g);
        if (ms.n_params > 0) cost.release_bits[m] = 8.0 * static_cast<double>(ms.bytes_weights) / static_cast<double>(ms.n_params);
      }
    }
    const study::DecodeRate r = study::builtin_decode_rate(m, bytes);
    cost.tok_s[m] = r.tok_s;
    rate_source[m] = r.source;
  }
  ER_RETURN_IF_ERROR(check_results_db(o.db, "--db"));
  ER_ASSIGN_OR_RETURN(std::optional<study::Shard> shard, shard_to_run(o.shard));
  // A sharded study plans with the built-in rates only, so that every shard, its reruns and the
  // study on the merged database fit the budget to the same grid (the same sweep).
  std::map<std::string, int64_t> done;
  bool fleet = shard.has_value();
  if (std::filesystem::exists(o.db)) {
    ER_ASSIGN_OR_RETURN(auto ro, study::Store::open(o.db, study::Store::Mode::kReadOnly));
    ER_ASSIGN_OR_RETURN(auto mark, study::read_shard_mark(*ro));
    fleet = fleet || mark.has_value();
    if (!fleet) {
      ER_RETURN_IF_ERROR(study::calibrate(cost, design.cells(), *ro).with_context("--db"));
      ER_ASSIGN_OR_RETURN(done, study::records_per_cell(*ro));
    }
  }
  // The decode rate of each model the database has not measured yet, measured now (a 128-token
  // prompt, then 64 tokens: seconds per model) so that the plan holds on this machine, whatever
  // its CPU; --dry-run and a sharded study keep the built-in rates.
  PowerOptions power;
  power.spec = o.power;
  ER_ASSIGN_OR_RETURN(bo.energy, energy_options(power));
  std::unique_ptr<study::CellBackend> backend;
  if (!o.dry_run && !fleet) {
    ER_ASSIGN_OR_RETURN(backend, make_study_backend(bo));
    const std::vector<study::Cell> design_cells = design.cells();
    for (const std::string& m : models) {
      if (cost.model_scale.count(m)) continue;
      const auto base = std::find_if(design_cells.begin(), design_cells.end(), [&](const study::Cell& c) {
        return c.model == m && c.quantization.empty() && c.paths == 1;
      });
      if (base == design_cells.end()) continue;
      std::printf("measuring %s's decode rate (128-token prompt, 64 tokens)...\n", m.c_str());
      std::fflush(stdout);
      auto t = backend->bench_point(*base, 128, 65);
      if (!t.is_ok()) return t.status().with_context("measuring " + m + "'s decode rate");
      if (t->decode_ms > 0) {
        cost.tok_s[m] = 64.0 / (t->decode_ms / 1000.0);
        rate_source[m] = "measured now";
      }
    }
  }
  std::string rates;
  for (const std::string& m : models) {
    char b[320];
    const auto sc = cost.model_scale.find(m);
    std::snprintf(b, sizeof b, "%s%s ~%.0f tok/s (%s%s)", rates.empty() ? "" : "; ", m.c_str(),
                  cost.tok_s[m] / (sc != cost.model_scale.end() ? sc->second : 1.0), rate_source[m].c_str(),
                  sc != cost.model_scale.end() ? ", scaled by what the database measured" : "");
    rates += b;
  }
  // The rounds get 90 % of the budget; the rest is for the bench grid, the fits and the report.
  const double rounds_s = budget_s * 0.9;
  const int64_t first = o.first ? *o.first : o.quick ? 4 : 10;
  const study::BudgetFit fit = study::fit_to_budget(design, cost, first, rounds_s, done);
  const std::string header = std::string("edgereason study") + (o.quick ? " --quick" : "") +
                             " (built-in, fitted to a time budget of " + study::format_duration(budget_s) + ")";
  const std::string toml = study::sweep_toml(fit.cfg, header);

  ER_ASSIGN_OR_RETURN(study::SweepConfig cfg,
                      study::parse_sweep_config(toml, o.quick ? "<study --quick>" : "<study>", checks));

  // The plan, before anything runs.
  const study::PlanEstimate est = study::estimate_plan(cfg, cost, fit.first, rounds_s, done);
  std::printf("planned: %lld cells, ~%lld questions, ~%s (time budget %s: %s for the rounds, the rest for the bench "
              "grid, fits and report)\n",
              static_cast<long long>(est.cells), static_cast<long long>(est.planned_questions),
              study::format_duration(est.planned_s).c_str(), study::format_duration(budget_s).c_str(),
              study::format_duration(rounds_s).c_str());
  std::printf("  first round: %lld questions per cell (%lld to run, ~%s); every cell to %lld questions: %lld to run, "
              "~%s; dominated cells stop early\n",
              static_cast<long long>(fit.first), static_cast<long long>(est.first_round_questions),
              study::format_duration(est.first_round_s).c_str(), static_cast<long long>(cfg.slices.front().limit),
              static_cast<long long>(est.full_questions), study::format_duration(est.full_s).c_str());
  std::printf("  cost model: %s%s\n", rates.c_str(),
              fleet ? "; built-in rates only (a sharded study plans alike on every shard)"
                    : cost.cell_s.empty() ? "" : "; cells already measured: their mean");
  for (const std::string& d : fit.dropped) std::printf("  to fit the budget: %s\n", d.c_str());
  if (o.dry_run) {
    for (const study::Cell& c : cfg.cells())
      std::printf("  %s  ~%.1f s/question\n", c.label().c_str(), cost.question_seconds(c));
    return Status::ok();
  }
  std::fflush(stdout);

  ER_RETURN_IF_ERROR(check_sweep_db_target(o.db, cfg, shard).with_context("--db"));
  if (!backend) {
    ER_ASSIGN_OR_RETURN(backend, make_study_backend(bo));
  }
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(o.db, study::Store::Mode::kReadWrite));

  std::atomic<bool>* stop = install_stop_flag();
  std::string command = std::string("study") + (o.quick ? " --quick" : "");
  for (const std::string& m : o.models) command += " -m " + m;
  study::AdaptiveOptions ao;
  ao.sweep.command = command;
  ao.sweep.progress = style;
  ao.sweep.interrupted = [stop] { return stop->load(); };
  ao.sweep.shard = shard;
  ao.first = fit.first;
  const double spent = std::chrono::duration<double>(Clock::now() - t0).count();
  ao.budget_s = std::max(1.0, rounds_s - spent);
  if (shard)
    std::printf("shard %s: no cell is stopped early (that needs every shard's results); every cell runs to %lld "
                "questions, round by round\n",
                shard->text().c_str(), static_cast<long long>(cfg.slices.front().limit));
  ER_ASSIGN_OR_RETURN(study::AdaptiveSummary sum, study::run_adaptive(cfg, *store, *backend, ao));
  if (sum.interrupted) return Status::io_error("interrupted; rerun the same command to continue");
  std::printf("\nstudy: %lld of %zu rounds complete, %lld new questions in %s, %zu cells stopped as dominated\n",
              static_cast<long long>(sum.rounds_done), sum.targets.size(), static_cast<long long>(sum.n_new),
              study::format_duration(sum.seconds).c_str(), sum.decisions.size());
  if (sum.out_of_budget) {
    int64_t left = 0;
    for (size_t i = 0; i < sum.done.size(); ++i)
      if (sum.running[i]) left += std::max<int64_t>(0, sum.cap - sum.done[i]);
    std::printf("the time budget (%s) is spent: %lld questions of the running cells were left undone (rerun with a "
                "larger --time-budget to continue; nothing done is repeated)\n",
                study::format_duration(budget_s).c_str(), static_cast<long long>(left));
  }
  std::printf("%s\n", study::adaptive_table(sum).c_str());
  if (shard) {  // the fits, report and plans need every shard: after merge
    std::printf("shard %s of the study measured into %s. Merge the shards (edgereason merge MERGED.db SHARD.db...), "
                "then run this study command without a shard, with --db MERGED.db and the same -m, -t, --limit and "
                "--dataset, for the fits, the report and the plans.\n",
                shard->text().c_str(), o.db.c_str());
    return Status::ok();
  }
  // The bench grid ends 5 % before the budget's end, leaving time for the fits and the report: it
  // takes the points expected to end by then, and stops there if they run longer.
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_s * 0.95));
  const auto interrupted = [stop, deadline] { return stop->load() || Clock::now() >= deadline; };

  // Where the questions do not reach the contexts the cells decode (prompt + max_tokens), a short
  // bench grid per model and path count measures them, so that the fits hold where they are used.
  ER_ASSIGN_OR_RETURN(std::vector<study::GridRequest> grid, study::bench_grid_plan(cfg.cells(), *store));
  {  // Only the points expected to end before the budget's end (at the rates just measured).
    ER_RETURN_IF_ERROR(study::calibrate(cost, cfg.cells(), *store));
    double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    size_t fit_n = 0;
    for (; fit_n < grid.size(); ++fit_n) {
      left -= cost.generation_seconds(grid[fit_n].cell, grid[fit_n].n_prompt, grid[fit_n].n_gen);
      if (left < 0) break;
    }
    if (fit_n < grid.size()) {
      std::printf("bench grid: %zu of %zu points left out to stay within the time budget (rerun to measure them)\n",
                  grid.size() - fit_n, grid.size());
      grid.resize(fit_n);
    }
  }
  std::vector<study::GridPoint> grid_points;
  if (!grid.empty()) {
    std::printf("bench grid: %zu points where the questions do not reach the contexts the configurations decode\n",
                grid.size());
    std::fflush(stdout);
    std::string grid_note;
    grid_points = study::run_bench_grid(grid, *backend, interrupted, stdout, &grid_note);
    if (!grid_note.empty()) std::printf("%s; the fits use what was measured\n", grid_note.c_str());
    if (stop->load()) return Status::io_error("interrupted; rerun the same command to continue");
  }
  // Fit the analytic models on what was measured and keep them with the results.
  ER_ASSIGN_OR_RETURN(std::string fit_note, study::fit_and_store(*store, grid_points));
  std::printf("%s\n", fit_note.c_str());
  store.reset();

  std::string title = "edgereason study" + std::string(o.quick ? " (quick)" : "") + ":";
  for (const std::string& m : models) title += " " + m;
  ER_RETURN_IF_ERROR(write_html_report(o.db, o.out, title));
  std::printf("results: %s\nreport:  %s\n\n", o.db.c_str(), o.out.c_str());
  ER_ASSIGN_OR_RETURN(StudyData d, read_study_db(o.db));
  for (double dl : {1.0, 2.0, 5.0, 10.0}) {
    const study::Plan p = study::make_plan(d.summaries, dl, study::Metric::kP90, 2);
    std::printf("%s\n", study::plan_text(d.summaries, p).c_str());
  }
  std::printf("study: %s in all\n",
              study::format_duration(std::chrono::duration<double>(Clock::now() - t0).count()).c_str());
  return Status::ok();
}

}  // namespace

Command add_study_command(CLI::App& app) {
  auto o = std::make_shared<StudyCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "study", "The main job: the ladder's models × thinking policies × N paths on GSM8K, varied one axis at a time "
      "around each model's base configuration, planned to fit --time-budget (printed first), run in rounds that stop "
      "dominated configurations early; then fitted models (with their ranges), results.db, report.html and plans "
      "for 1-10 s. docs/study.md, \"The default study\"");
  sub->add_option("-m,--model", o->models,
                  "Model (a name under the models directory or a .gguf path); repeat for several. Default: the ladder's "
                  "installed models (smollm2, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b; --quick: the first two)");
  sub->add_flag("--quick", o->quick,
                "A smaller study (2 models, N in {1, 4}, 4 then up to 12 questions per cell, 160 tokens max) within "
                "10 minutes on 2 cores");
  sub->add_option_function<std::string>("--time-budget", [o](const std::string& v) { o->time_budget = v; },
                                        "Wall time for the whole study, e.g. 90m, 45m, 2h, 300s (default 90m; 10m with "
                                        "--quick): the grid is planned to fit it and the rounds stop when it is spent")
      ->type_name("DURATION");
  sub->add_flag("--dry-run", o->dry_run, "Print the plan (cells, questions, time) and exit");
  sub->add_option("--db", o->db, "Results database (continued if it exists)")->capture_default_str();
  sub->add_option("-o,--output", o->out, "HTML report to write")->capture_default_str();
  sub->add_option_function<int>("-t,--threads", [o](const int& v) { o->threads = v; }, "Threads (default: every logical CPU)")
      ->type_name("N");
  sub->add_option_function<int>("--limit", [o](const int& v) { o->limit = v; },
                                "Questions per cell at most, what the cells still undominated reach (default 100; 12 "
                                "with --quick)")
      ->type_name("K");
  sub->add_option_function<int>("--first-round", [o](const int& v) { o->first = v; },
                                "Questions every cell starts with (default 10; 4 with --quick); the rounds double it")
      ->type_name("K");
  sub->add_option("--dataset", o->dataset, "Dataset (built-in name or JSONL path)")->capture_default_str();
  sub->add_option("--data-dir", o->data_dir, "Directory of the built-in datasets");
  sub->add_option("--power", o->power, "Power source (see run --power)")->capture_default_str();
  sub->add_option("--progress", o->progress, "auto, bar, lines or off")->capture_default_str();
  add_shard_flags(sub, o->shard);
  return {sub, [o]() { return run_study(*o); }};
}

}  // namespace er::cli
