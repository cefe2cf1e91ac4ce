// `edgereason eval`: answer a dataset's questions with a model, grade them, write one JSONL record
// per question and a summary (accuracy with a Wilson 95% interval, latency, tokens, energy).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/spec_options.h"
#include "cli/flag_names.h"
#include "cli/power_options.h"
#include "cli/thinking_options.h"
#include "client/remote_ask.h"
#include "eval/dataset.h"
#include "eval/grader.h"
#include "eval/runner.h"
#include "model/model_registry.h"
#include "reasoning/reasoner.h"
#include "session/session.h"
#include "tokenizer/chat_template.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

std::atomic<bool> g_interrupted{false};
session::Ticket g_ticket;  // cancelled by Ctrl-C (an atomic store)
extern "C" void on_eval_sigint(int) {
  g_interrupted.store(true);
  g_ticket.cancel();
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

struct EvalCliOptions {
  SpecFlags spec;
  std::string model;
  std::string dataset;
  std::string data_dir;
  std::string field_map;
  std::string task;
  std::string on_bad_line = "fail";
  int64_t limit = -1;
  int64_t offset = 0;
  std::string output;
  bool resume = false;
  bool overwrite = false;
  std::string summary_json;
  bool no_progress = false;
  bool no_text = false;
  // Generation.
  int64_t n_predict = 1024;
  int64_t n_ctx = 4096;
  int n_threads = 2;
  int n_paths = 1;
  ThinkingFlags thinking;  // --think-budget, --no-think, ..., --vote, --early-stop
  std::string chat_template;
  std::string system;
  sampling::SamplerConfig sampler;
  PowerOptions power;
  ClientFlags client;  // --backend openai:URL: another engine answers
};

// A float flag as the decimal the user typed (0.95, not 0.949999988079071).
double flag_value(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(v));
  return std::strtod(buf, nullptr);
}

// What changes answers, for the output's header (--resume requires the same); threads do not.
ordered_json eval_config(const EvalCliOptions& o) {
  ordered_json config;
  config["model"] = o.model;
  config["system"] = o.system;
  config["n_predict"] = o.n_predict;
  config["paths"] = o.n_paths;
  ordered_json thinking = ordered_json::object();
  for (const auto& [k, v] : describe_thinking_flags(o.thinking)) thinking[k] = v;
  config["thinking"] = thinking;
  config["temp"] = flag_value(o.sampler.temperature);
  config["top_k"] = o.sampler.top_k;
  config["top_p"] = flag_value(o.sampler.top_p);
  config["min_p"] = flag_value(o.sampler.min_p);
  config["repeat_penalty"] = flag_value(o.sampler.repeat_penalty);
  config["seed"] = o.sampler.seed;
  config["field_map"] = o.field_map;
  config["power"] = o.power.spec;
  return config;
}

// The loop (eval::run_eval) with Ctrl-C handling, then the summary on the terminal and in
// --summary-json.
Status run_and_report(const EvalCliOptions& o, const eval::Dataset& ds, const eval::SolveFn& solve,
                      const ordered_json& config, telemetry::EnergyMeter& meter) {
  eval::EvalOptions eo;
  eo.output_path = o.output;
  eo.resume = o.resume;
  eo.overwrite = o.overwrite;
  eo.config = config;
  eo.offset = o.offset;
  eo.limit = o.limit;
  eo.save_text = !o.no_text;
  eo.progress = o.no_progress ? eval::ProgressMode::kOff : eval::ProgressMode::kAuto;
  eo.interrupted = [] { return g_interrupted.load(); };
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, on_eval_sigint);
  g_ticket.reset();
  Result<eval::EvalSummary> summary = eval::run_eval(ds, solve, eo);
  std::signal(SIGINT, previous);
  meter.stop();
  if (!summary.is_ok()) return summary.status();
  eval::EvalSummary s = std::move(summary).value();
  const bool records_on_stdout = o.output.empty() || o.output == "-";
  std::fputs(s.to_text().c_str(), records_on_stdout ? stderr : stdout);
  if (!o.summary_json.empty()) {
    ordered_json j = s.to_json();
    j["config"] = config;
    j["output"] = records_on_stdout ? "-" : o.output;
    ER_RETURN_IF_ERROR(eval::write_summary_json(o.summary_json, j));
  }
  if (s.interrupted) {
    return Status::io_error("interrupted after " + std::to_string(s.n_graded) + " of " + std::to_string(s.n_selected) +
                            " questions; continue with --resume");
  }
  if (s.n_failed > 0) {
    return Status::io_error(std::to_string(s.n_failed) + " question(s) failed at the backend (see their \"failed\" "
                            "records); continue with --resume to ask them again");
  }
  return Status::ok();
}

// --backend openai:URL: another engine answers each question through its OpenAI-compatible API;
// eval grades, votes (when the server answers the paths as separate requests) and records as for
// the local engine, with the backend, flavor and server version in the header's config.
Status run_remote(EvalCliOptions& o, const eval::Dataset& ds, const session::EnergyOptions& energy_opts,
                  const reasoning::VoteOptions& vote) {
  if (!o.model.empty()) return Status::invalid("-m names a local model; with --backend give --served-model");
  if (!o.chat_template.empty()) return Status::invalid("--chat-template has no effect on a server (it applies its own template)");
  if (vote.mode != reasoning::VoteMode::kMajority || vote.early_stop) {
    return Status::invalid("--vote weighted and --early-stop need the local engine (the server's paths are voted by majority)");
  }
  ER_ASSIGN_OR_RETURN(const client::ClientOptions copts, client_options(o.client));
  // What the flavor cannot express is refused before anything runs.
  ER_RETURN_IF_ERROR(client::check_policy(copts.flavor, o.thinking.think));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> cl, open_client(o.client));
  client::RemoteAsk base;
  base.system = o.system;
  base.chat = true;
  base.think = o.thinking.think;
  base.n_paths = o.n_paths;
  base.max_tokens = o.n_predict;
  base.sampler = o.sampler;
  ER_RETURN_IF_ERROR(client::validate_remote_ask(*cl, base));
  ER_ASSIGN_OR_RETURN(session::StartedMeter meter, start_energy_meter(energy_opts));

  ordered_json config = eval_config(o);
  const ordered_json backend = backend_fields(cl.get());
  for (auto it = backend.begin(); it != backend.end(); ++it) config[it.key()] = *it;
  config["model"] = cl->model();
  eval::SolveFn solve = [&](const eval::Question&, const std::string& prompt) -> Result<eval::SolveOutcome> {
    client::RemoteAsk a = base;
    a.prompt = prompt;
    client::RemoteOutcome r = client::ask_remote(*cl, a, meter.meter.get(), g_ticket.flag());
    if (r.failure == client::Failure::kConnect) {
      // The server is gone: stop here (records so far stay) rather than fail every question.
      return Status::io_error(r.error + "; the records so far are kept: continue with --resume when the server is back");
    }
    eval::SolveOutcome out = std::move(r.solve);
    if (!r.ok() && r.failure != client::Failure::kCancelled) {
      out.failure = client::failure_name(r.failure);
      out.failure_reason = r.error;
    }
    out.cancelled = g_interrupted.load() || r.failure == client::Failure::kCancelled;
    return out;
  };
  return run_and_report(o, ds, solve, config, *meter.meter);
}

Status run(EvalCliOptions& o) {
  // Everything the user can get wrong is checked before the model loads.
  if (!o.client.remote() && o.model.empty()) {
    return Status::invalid("-m/--model is required (or --backend openai:URL to evaluate another engine)");
  }
  if (o.n_predict < 1) return Status::invalid("-n must be at least 1");
  if (o.n_ctx < 8) return Status::invalid("-c must be at least 8");
  if (o.n_paths < 1 || o.n_paths > 64) return Status::invalid("--paths must be in [1, 64]");
  if (o.limit == 0 || o.limit < -1) return Status::invalid("--limit must be at least 1");
  if (o.offset < 0) return Status::invalid("--offset must be >= 0");
  ER_RETURN_IF_ERROR(o.sampler.validate());
  ER_ASSIGN_OR_RETURN(const session::EnergyOptions energy_opts, energy_options(o.power));
  ER_ASSIGN_OR_RETURN(const reasoning::VoteOptions vote, finish_thinking_flags(o.thinking));
  eval::DatasetOptions dopts;
  dopts.data_dir = o.data_dir;
  dopts.field_map = o.field_map;
  if (!o.task.empty()) {
    dopts.task = eval::task_from_name(o.task);
    if (!dopts.task) return Status::invalid("--task must be math, gsm8k or mc");
  }
  auto bad_line = eval::bad_line_policy_from_name(o.on_bad_line);
  if (!bad_line) return Status::invalid("--on-bad-line must be fail or skip");
  dopts.on_bad_line = *bad_line;
  if (!o.output.empty() && o.output != "-" && !o.resume && !o.overwrite) {
    std::error_code ec;
    if (std::filesystem::exists(o.output, ec) && std::filesystem::file_size(o.output, ec) > 0) {
      return Status::invalid("output '" + o.output + "' exists; give --resume to continue it or --overwrite to replace it");
    }
  }
  ER_ASSIGN_OR_RETURN(eval::Dataset ds, eval::load_dataset(o.dataset, dopts));
  for (const auto& s : ds.skipped) std::fprintf(stderr, "edgereason eval: warning: skipped %s\n", with_flags(s).c_str());

  if (o.client.remote()) return run_remote(o, ds, energy_opts, vote);
  ER_ASSIGN_OR_RETURN(std::string model_path, model::resolve_model(o.model));
  if (const std::string note = apply_profile_decode_model(o.thinking, model_path); !note.empty()) {
    std::fprintf(stderr, "%s\n", note.c_str());
  }
  // One meter for the whole run; each question's energy is attributed to its own windows.
  ER_ASSIGN_OR_RETURN(session::StartedMeter meter, start_energy_meter(energy_opts));
  session::SessionOptions so;
  so.model = model_path;
  so.chat_template = o.chat_template;
  so.n_ctx = o.n_ctx;
  so.max_paths = o.n_paths;
  so.n_threads = o.n_threads;
  so.meter = meter.meter;
  ER_RETURN_IF_ERROR(apply_spec_flags(o.spec, so));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<session::Session> sess, session::Session::open(so));
  const tokenizer::ChatTemplate& tmpl = sess->chat_template();

  // The configuration echoed in the output's header; --resume requires the same one.
  ordered_json config = eval_config(o);
  if (so.spec != engine::SpecMethod::kNone) {
    config["speculative"] = {{"method", engine::spec_method_name(so.spec)}, {"draft_model", so.draft_model},
                             {"draft_max", so.draft_max}};
  }
  config["model"] = std::filesystem::path(model_path).filename().string();
  config["chat_template"] = std::string(tokenizer::chat_family_name(tmpl.family));
  config["n_ctx"] = o.n_ctx;
  const eval::Task task = ds.task;
  session::Request base;
  base.system = o.system;
  base.chat = true;  // eval asks its task prompt as a user turn
  base.think = o.thinking.think;
  base.gen.max_new_tokens = o.n_predict;
  base.gen.n_paths = o.n_paths;
  base.gen.sampler = o.sampler;
  base.vote = vote;
  eval::SolveFn solve = [&](const eval::Question& q, const std::string& prompt) -> Result<eval::SolveOutcome> {
    session::Request req = base;
    req.prompt = prompt;
    const int n_choices = q.choices.empty() ? 4 : static_cast<int>(q.choices.size());
    req.answer_key = [task, n_choices](std::string_view a) { return eval::answer_key(task, a, n_choices); };
    ER_ASSIGN_OR_RETURN(session::Outcome oc, sess->ask(req, &g_ticket));
    eval::SolveOutcome out = oc.solve_outcome();
    out.cancelled = g_interrupted.load();
    return out;
  };
  return run_and_report(o, ds, solve, config, *meter.meter);
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalCliOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Answer a dataset with a model and grade it (accuracy, latency, tokens)");
  sub->add_option("-m,--model", o->model, "Model file or installed name (not with --backend openai:URL)");
  sub->add_option("--dataset", o->dataset, "gsm8k, math500, mmlu_stem (mmlu) or a JSONL file")->required();
  sub->add_option("--data-dir", o->data_dir, "Directory of the built-in sets (default: $EDGEREASON_DATA, else the installed or source-tree data/)");
  sub->add_option("--field-map", o->field_map, "JSONL field names: question=F,answer=F,choices=F,id=F,subject=F");
  sub->add_option("--task", o->task, "How answers are graded for a JSONL file: math, gsm8k or mc");
  sub->add_option("--on-bad-line", o->on_bad_line, "A malformed dataset line: fail or skip (always reported)")->capture_default_str();
  sub->add_option("--limit", o->limit, "At most K questions");
  sub->add_option("--offset", o->offset, "Skip the first K questions")->capture_default_str();
  sub->add_option("-o,--output", o->output, "Per-question JSONL records (default: stdout)");
  sub->add_flag("--resume", o->resume, "Continue an interrupted -o file: skip questions already graded");
  sub->add_flag("--overwrite", o->overwrite, "Replace an existing -o file");
  sub->add_option("--summary-json", o->summary_json, "Also write the summary as JSON to FILE");
  sub->add_flag("--no-progress", o->no_progress, "No progress bar or progress lines");
  sub->add_flag("--no-text", o->no_text, "Leave the answer and thinking text out of the records");
  sub->add_option("-n,--n-predict", o->n_predict, "Maximum new tokens per path")->capture_default_str();
  sub->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens")->capture_default_str();
  sub->add_option("-t,--threads", o->n_threads, "Threads")->capture_default_str();
  sub->add_option("--paths", o->n_paths, "Reasoning paths per question (majority vote)")->capture_default_str();
  sub->add_option("--chat-template", o->chat_template, "Override the template family: chatml, qwen3, deepseek-r1, llama3, gemma, none");
  sub->add_option("--system", o->system, "System message");
  sub->add_option("--temp", o->sampler.temperature, "Temperature (0 = greedy)")->capture_default_str();
  sub->add_option("--top-k", o->sampler.top_k, "Top-k (0 = off)")->capture_default_str();
  sub->add_option("--top-p", o->sampler.top_p, "Top-p (1 = off)")->capture_default_str();
  sub->add_option("--min-p", o->sampler.min_p, "Min-p (0 = off)")->capture_default_str();
  sub->add_option("--repeat-penalty", o->sampler.repeat_penalty, "Repetition penalty (1 = off)")->capture_default_str();
  sub->add_option("--seed", o->sampler.seed, "Sampling seed (path p uses seed + p)")->capture_default_str();
  add_power_flags(sub, o->power);
  add_spec_flags(sub, o->spec);
  add_thinking_flags(sub, o->thinking);
  add_client_flags(sub, o->client);
  return {sub, [o]() -> Status { return run(*o); }};
}

}  // namespace er::cli
