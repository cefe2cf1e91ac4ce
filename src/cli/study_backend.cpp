#include "cli/study_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/client_flags.h"
#include "client/remote_ask.h"
#include "engine/generator.h"
#include "eval/dataset.h"
#include "eval/prompts.h"
#include "eval/runner.h"
#include "model/model_registry.h"
#include "session/session.h"
#include "study/variant.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

// The request a cell's question makes (the prompt and answer key are the question's).
session::Request request_for(const study::Cell& c) {
  session::Request r;
  r.chat = true;  // as eval: the task prompt as a user turn
  reasoning::ThinkingOptions& t = r.think;
  t.answer_budget = c.answer_budget;
  switch (c.policy) {
    case study::Policy::kUnlimited: break;
    case study::Policy::kNoThink: t.no_think = true; break;
    case study::Policy::kThinkBudget: t.think_budget = c.budget; break;
    case study::Policy::kPromptBudget: t.prompt_budget = c.budget; break;
    case study::Policy::kL1: t.l1 = c.budget; break;
    case study::Policy::kL1Max: t.l1_max = c.budget; break;
  }
  r.gen.max_new_tokens = c.max_tokens;
  r.gen.n_paths = static_cast<int>(c.paths);
  r.gen.sampler.temperature = static_cast<float>(c.temperature);
  r.gen.sampler.seed = c.seed;
  r.vote.mode = reasoning::vote_mode_from_name(c.vote).value_or(reasoning::VoteMode::kMajority);
  return r;
}

// The record of one graded question (the same for the in-process engine and a server).
study::QuestionRecord question_record(const eval::Question& q, const study::QuestionRef& ref, const eval::SolveOutcome& out,
                                      const eval::GradedQuestion& g, int64_t n_prompt,
                                      const std::vector<int64_t>& path_tokens) {
  study::QuestionRecord r;
  r.question_id = q.id;
  r.index = ref.index;
  r.gold = q.gold;
  r.extracted = g.extracted.value_or("");
  r.correct = g.correct;
  r.n_prompt = n_prompt;
  r.thinking_tokens = g.thinking_tokens;
  r.answer_tokens = g.answer_tokens;
  r.prefill_ms = out.prefill_ms;
  r.ttft_ms = out.ttft_ms;
  r.decode_ms = out.decode_ms;
  r.e2e_ms = out.e2e_ms;
  for (size_t i = 0; i < g.paths.size(); ++i) {
    const eval::GradedPath& gp = g.paths[i];
    study::PathRecord p;
    p.index = static_cast<int64_t>(i);
    p.extracted = gp.graded.extracted.value_or("");
    p.correct = gp.graded.correct;
    p.thinking_tokens = gp.thinking_tokens;
    p.answer_tokens = gp.answer_tokens;
    p.forced_close = gp.forced_close;
    p.stop = gp.stop;
    if (i < path_tokens.size()) r.max_path_tokens = std::max(r.max_path_tokens, path_tokens[i]);
    r.paths.push_back(std::move(p));
  }
  const ordered_json& en = out.energy;
  if (en.is_object() && en.value("source", std::string("none")) != "none" && en.contains("prefill_j") &&
      en["prefill_j"].is_number() && en.contains("decode_j") && en["decode_j"].is_number()) {
    study::PowerRecord w;
    w.source = en["source"].get<std::string>();
    w.estimated = en.value("estimated", false);
    w.prefill_j = en["prefill_j"].get<double>();
    w.decode_j = en["decode_j"].get<double>();
    w.total_j = en.contains("total_j") && en["total_j"].is_number() ? en["total_j"].get<double>() : w.prefill_j + w.decode_j;
    w.mean_w = r.e2e_ms > 0 ? w.total_j / (r.e2e_ms / 1000.0) : 0;
    r.power = w;
  }
  return r;
}

// A backend's client, as the sweep's [[backends]] table gives it.
Result<std::unique_ptr<client::Client>> open_backend(const std::string& url, const std::string& flavor,
                                                     const std::string& served_model) {
  client::ClientOptions o;
  ER_ASSIGN_OR_RETURN(o.backend, client::parse_backend(url));
  ER_ASSIGN_OR_RETURN(o.flavor, client::parse_flavor(flavor));
  o.model = served_model;
  if (const char* k = std::getenv("OPENAI_API_KEY"); k != nullptr) o.api_key = k;
  return client::Client::open(o);
}

// The served model of a cell's "SERVED@BACKEND" ("default": the server's first).
std::string served_model_of(const study::Cell& c) {
  const std::string m = c.model.substr(0, c.model.rfind('@'));
  return m == "default" ? std::string() : m;
}

client::RemoteAsk remote_ask_for(const study::Cell& c) {
  const session::Request r = request_for(c);
  client::RemoteAsk a;
  a.chat = true;
  a.think = r.think;
  a.n_paths = r.gen.n_paths;
  a.max_tokens = r.gen.max_new_tokens;
  a.sampler = r.gen.sampler;
  return a;
}

int64_t context_for(const study::Cell& c) { return std::max<int64_t>(2048, c.max_tokens + c.answer_budget + 1024); }

class EvalCellBackend : public study::CellBackend {
 public:
  EvalCellBackend(StudyBackendOptions o, std::shared_ptr<telemetry::EnergyMeter> meter)
      : o_(std::move(o)), meter_(std::move(meter)) {}
  ~EvalCellBackend() override {
    session_.reset();
    if (meter_) meter_->stop();
  }

  Result<std::vector<study::QuestionRef>> questions(const study::Cell& cell) override {
    ER_ASSIGN_OR_RETURN(const eval::Dataset* ds, dataset(cell.slice.dataset));
    const int64_t n = static_cast<int64_t>(ds->questions.size());
    if (cell.slice.offset >= n)
      return Status::invalid("slices.offset " + std::to_string(cell.slice.offset) + " is past the end of '" +
                             cell.slice.dataset + "' (" + std::to_string(n) + " questions)");
    const int64_t end = cell.slice.limit < 0 ? n : std::min(n, cell.slice.offset + cell.slice.limit);
    std::vector<study::QuestionRef> out;
    for (int64_t i = cell.slice.offset; i < end; ++i) {
      study::QuestionRef r;
      r.id = ds->questions[static_cast<size_t>(i)].id;
      r.index = i;
      out.push_back(std::move(r));
    }
    return out;
  }

  // One question through the session, as `eval` asks it (session.h), graded as eval grades it.
  Result<study::QuestionRecord> run(const study::Cell& cell, const study::QuestionRef& ref) override {
    ER_ASSIGN_OR_RETURN(const eval::Dataset* ds, dataset(cell.slice.dataset));
    const eval::Question& q = ds->questions.at(static_cast<size_t>(ref.index));
    if (!cell.backend.empty()) return run_remote(cell, ref, *ds, q);
    ER_RETURN_IF_ERROR(ensure_session(cell));
    session::Request req = request_for(cell);
    req.prompt = eval::task_prompt(ds->task, q);
    const eval::Task task = ds->task;
    const int n_choices = q.choices.empty() ? 4 : static_cast<int>(q.choices.size());
    req.answer_key = [task, n_choices](std::string_view a) { return eval::answer_key(task, a, n_choices); };
    ER_ASSIGN_OR_RETURN(session::Outcome oc, session_->ask(req));
    const eval::SolveOutcome out = oc.solve_outcome();
    const eval::GradedQuestion g = eval::grade_question(*ds, q, out);
    std::vector<int64_t> path_tokens;
    for (const auto& p : oc.result.paths) path_tokens.push_back(static_cast<int64_t>(p.tokens.size()));
    study::QuestionRecord r = question_record(q, ref, out, g, oc.result.n_prompt, path_tokens);
    return r;
  }

  // The bench row of the 128-token prompt / 64-token test from its timed runs (medians);
  // `decoded` = the tokens the decode phase produced over all paths.
  static ordered_json bench_row(const study::Cell& cell, const std::vector<std::pair<double, double>>& runs,
                                int64_t decoded) {
    const auto [pp, tg] = medians(runs);
    ordered_json j;
    j["n_prompt"] = 128;
    j["n_gen"] = 64;
    j["paths"] = cell.paths;
    j["threads"] = cell.threads;
    j["prefill_ms"] = pp;
    j["decode_ms"] = tg;
    j["prefill_tok_s"] = 128 * 1000.0 / pp;
    j["decode_tok_s"] = static_cast<double>(decoded) * 1000.0 / tg;
    return j;
  }

  // Prefill of a 128-token prompt and 64 decode steps per path, 3 repetitions, medians.
  Result<nlohmann::ordered_json> bench(const study::Cell& cell) override {
    if (!cell.backend.empty()) return bench_remote(cell);
    ER_ASSIGN_OR_RETURN(auto runs, timed_runs(cell, 128, 64, 3));
    ordered_json j = bench_row(cell, runs, 63 * cell.paths);
    add_precision(cell, j);
    return j;
  }

  // One point of the study's bench grid: the same timed generation as bench, once, at any size.
  Result<study::BenchTiming> bench_point(const study::Cell& cell, int64_t n_prompt, int64_t n_gen) override {
    if (n_prompt < 1 || n_gen < 2) return Status::invalid("bench grid: needs a prompt and at least 2 tokens");
    std::vector<std::pair<double, double>> runs;
    if (!cell.backend.empty()) {
      ER_ASSIGN_OR_RETURN(runs, timed_runs_remote(cell, n_prompt, n_gen, 1, nullptr));
    } else {
      ER_ASSIGN_OR_RETURN(runs, timed_runs(cell, n_prompt, n_gen, 1));
    }
    return study::BenchTiming{runs[0].first, runs[0].second};
  }

  // A local cell's precision facts (add_precision), once its questions ran on its session.
  std::optional<ordered_json> cell_facts(const study::Cell& cell) override {
    if (!cell.backend.empty() || !session_) return std::nullopt;
    ordered_json j;
    add_precision(cell, j);
    return j;
  }

  // Measured once per (model, threads, paths): decode steps per second on a short generation.
  std::optional<double> estimate_seconds(const study::Cell& cell) override {
    if (!cell.backend.empty()) return std::nullopt;  // a server's speed is not ours to predict
    const std::string key = cell.model + "@" + cell.quantization + "|" + std::to_string(cell.threads) + "|" + std::to_string(cell.paths);
    auto it = step_s_.find(key);
    if (it == step_s_.end()) {
      if (!ensure_session(cell).is_ok()) return std::nullopt;
      std::vector<tokenizer::TokenId> prompt(200, 1);
      engine::Generator gen(session_->context());
      engine::GenerateOptions g;
      g.max_new_tokens = 24;
      g.n_paths = static_cast<int>(cell.paths);
      g.ignore_eos = true;
      g.sampler.temperature = 0;
      auto r = gen.generate(prompt, g, [](int, tokenizer::TokenId) { return true; });
      if (!r.is_ok()) return std::nullopt;
      it = step_s_.emplace(key, std::make_pair(r->prefill_ms / 1000.0, r->decode_ms / 1000.0 / 23.0)).first;
    }
    double cap = static_cast<double>(cell.max_tokens);
    if (cell.policy == study::Policy::kThinkBudget && cell.budget)
      cap = std::min(cap, static_cast<double>(*cell.budget + cell.answer_budget));
    return it->second.first + cap * it->second.second;
  }

 private:
  // One question through another engine's server (client/remote_ask.h), graded as eval grades it.
  // A failed request stops the sweep (the records so far stay; rerun it to resume).
  Result<study::QuestionRecord> run_remote(const study::Cell& cell, const study::QuestionRef& ref,
                                           const eval::Dataset& ds, const eval::Question& q) {
    ER_ASSIGN_OR_RETURN(const client::Client* c, client_for(cell));
    client::RemoteAsk a = remote_ask_for(cell);
    a.prompt = eval::task_prompt(ds.task, q);
    client::RemoteOutcome ro = client::ask_remote(*c, a, meter_.get());
    if (!ro.ok()) {
      return Status::io_error("backend '" + cell.backend + "' (" + cell.backend_url + ") failed (" +
                              client::failure_name(ro.failure) + "): " + ro.error +
                              "; the records so far are kept: run the sweep again to resume");
    }
    const eval::GradedQuestion g = eval::grade_question(ds, q, ro.solve);
    std::vector<int64_t> path_tokens;
    for (const eval::PathAnswer& p : ro.solve.paths) path_tokens.push_back(p.thinking_tokens + p.answer_tokens);
    return question_record(q, ref, ro.solve, g, ro.solve.n_prompt, path_tokens);
  }

  // The bench row of a backend cell: a 128-token prompt and 64 generated tokens per path, through
  // the server, 3 repetitions, medians (TTFT stands for prefill: the client sees no boundary).
  Result<nlohmann::ordered_json> bench_remote(const study::Cell& cell) {
    int64_t tokens = 0;
    ER_ASSIGN_OR_RETURN(auto runs, timed_runs_remote(cell, 128, 64, 3, &tokens));
    ordered_json j = bench_row(cell, runs, std::max<int64_t>(0, tokens - cell.paths));
    j["backend"] = cell.backend;
    return j;
  }

  // (prefill ms, decode ms) medians of timed runs.
  static std::pair<double, double> medians(std::vector<std::pair<double, double>> runs) {
    std::vector<double> pp, tg;
    for (const auto& [p, t] : runs) {
      pp.push_back(p);
      tg.push_back(t);
    }
    std::sort(pp.begin(), pp.end());
    std::sort(tg.begin(), tg.end());
    return {pp[pp.size() / 2], tg[tg.size() / 2]};
  }

  // `reps` generations in process of an n_prompt-token prompt (BOS repeated) and n_gen tokens per
  // path, greedy, end of sequence ignored: (prefill ms, decode ms) of each.
  Result<std::vector<std::pair<double, double>>> timed_runs(const study::Cell& cell, int64_t n_prompt, int64_t n_gen,
                                                            int reps) {
    ER_RETURN_IF_ERROR(ensure_session(cell));
    std::vector<tokenizer::TokenId> prompt(static_cast<size_t>(n_prompt),
                                           session_->tokenizer().bos() >= 0 ? session_->tokenizer().bos() : 1);
    engine::Generator gen(session_->context());
    engine::GenerateOptions g;
    g.max_new_tokens = static_cast<int>(n_gen);
    g.n_paths = static_cast<int>(cell.paths);
    g.ignore_eos = true;
    g.sampler.temperature = 0;
    std::vector<std::pair<double, double>> out;
    for (int rep = 0; rep < reps; ++rep) {
      ER_ASSIGN_OR_RETURN(engine::GenerateResult r, gen.generate(prompt, g, [](int, tokenizer::TokenId) { return true; }));
      out.emplace_back(r.prefill_ms, r.decode_ms);
    }
    return out;
  }

  // The same through a backend cell's server: a prompt of about n_prompt tokens ("N:" and " the"
  // repeated), n_gen tokens per path; TTFT stands for prefill, the rest of the slowest path for
  // decode. *tokens: the generated tokens of the last repetition, all paths.
  Result<std::vector<std::pair<double, double>>> timed_runs_remote(const study::Cell& cell, int64_t n_prompt,
                                                                   int64_t n_gen, int reps, int64_t* tokens) {
    ER_ASSIGN_OR_RETURN(const client::Client* c, client_for(cell));
    client::RemoteAsk a;
    a.chat = false;
    a.n_paths = static_cast<int>(cell.paths);
    a.max_tokens = static_cast<int>(n_gen);
    a.sampler.temperature = 0;
    a.ignore_eos = true;
    std::vector<std::pair<double, double>> out;
    for (int rep = 0; rep < reps; ++rep) {
      a.prompt = std::to_string(rep) + ":";
      for (int64_t i = 0; i < n_prompt - 2; ++i) a.prompt += " the";
      const std::vector<client::Completion> comps = client::complete_all(*c, client::make_requests(*c, a));
      double ttft = -1, e2e = 0;
      int64_t n = 0;
      for (const client::Completion& comp : comps) {
        if (!comp.ok()) return Status::io_error("backend '" + cell.backend + "' failed a bench request: " + comp.error);
        if (comp.ttft_ms >= 0 && (ttft < 0 || comp.ttft_ms < ttft)) ttft = comp.ttft_ms;
        e2e = std::max(e2e, comp.e2e_ms);
        n += comp.output_tokens();
      }
      if (tokens != nullptr) *tokens = n;
      out.emplace_back(ttft, e2e - ttft);
    }
    return out;
  }

  Result<const client::Client*> client_for(const study::Cell& cell) {
    auto it = clients_.find(cell.backend);
    if (it == clients_.end()) {
      ER_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c, open_backend(cell.backend_url, cell.flavor, served_model_of(cell)));
      std::fprintf(stderr, "backend %s: %s, flavor %s, model %s, server %s\n", cell.backend.c_str(), cell.backend_url.c_str(),
                   cell.flavor.c_str(), c->model().c_str(), c->info().version.c_str());
      it = clients_.emplace(cell.backend, std::move(c)).first;
    }
    return it->second.get();
  }

  Result<const eval::Dataset*> dataset(const std::string& name) {
    auto it = datasets_.find(name);
    if (it == datasets_.end()) {
      eval::DatasetOptions d;
      d.data_dir = o_.data_dir;
      ER_ASSIGN_OR_RETURN(eval::Dataset ds, eval::load_dataset(name, d));
      it = datasets_.emplace(name, std::move(ds)).first;
    }
    return &it->second;
  }

  // The file a cell's model runs from: the release as resolved, or its quantization variant (made
  // on first use, study/variant.h), resolved once per sweep. For a float upcast (f32, f16, bf16)
  // the variant's weights are compared with the release's once (the consistency check).
  Result<std::string> model_file(const study::Cell& cell) {
    ER_ASSIGN_OR_RETURN(std::string release, model::resolve_model(cell.model));
    if (cell.quantization.empty()) return release;
    const std::string key = release + "|" + cell.quantization;
    auto it = variants_.find(key);
    if (it != variants_.end()) return it->second;
    study::VariantOptions vo;
    vo.n_threads = static_cast<int>(cell.threads);
    vo.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    ER_ASSIGN_OR_RETURN(const study::Variant v, study::ensure_variant(release, cell.quantization, vo));
    if (!v.made) std::fprintf(stderr, "quantize: %s %s cached: %s\n", cell.model.c_str(), cell.quantization.c_str(), v.path.c_str());
    if (cell.quantization == "f32" || cell.quantization == "f16" || cell.quantization == "bf16") {
      ER_ASSIGN_OR_RETURN(const study::WeightComparison w, study::compare_weights(release, v.path));
      ordered_json j;
      j["tensors"] = w.n_tensors;
      j["elements"] = w.n_elements;
      j["different"] = w.n_different;
      j["max_abs_diff"] = w.max_abs_diff;
      j["max_tensor"] = w.max_tensor;
      j["identical"] = w.identical();
      std::fprintf(stderr, "quantize: %s %s vs release: %s (max |dw| = %g over %lld weights, %lld differ)\n",
                   cell.model.c_str(), cell.quantization.c_str(),
                   w.identical() ? "exactly the release's weights" : "NOT exactly the release's weights", w.max_abs_diff,
                   static_cast<long long>(w.n_elements), static_cast<long long>(w.n_different));
      checks_[key] = j;
    }
    variants_.emplace(key, v.path);
    return v.path;
  }

  // A bench row's precision fields: the cell's quantization, the weight bytes read per decoded
  // token, and (float upcasts) the weight comparison with the release.
  void add_precision(const study::Cell& cell, ordered_json& j) {
    j["quantization"] = cell.quantization_name();
    if (session_) j["weight_bytes_per_token"] = session_->shared_model()->bytes_read_per_token();
    auto r = model::resolve_model(cell.model);
    if (r.is_ok()) {
      auto it = checks_.find(*r + "|" + cell.quantization);
      if (it != checks_.end()) j["weights_vs_release"] = it->second;
    }
  }

  // A session for the cell's model, threads, paths and context; the model stays loaded across
  // cells that only change the others.
  Status ensure_session(const study::Cell& cell) {
    ER_ASSIGN_OR_RETURN(std::string path, model_file(cell));
    const int64_t n_ctx = context_for(cell);
    if (session_ && path == session_->model_path() && session_->options().n_threads == cell.threads &&
        session_->options().max_paths == cell.paths && session_->options().n_ctx >= n_ctx) {
      return Status::ok();
    }
    std::shared_ptr<const model::Model> loaded;
    if (session_ && path == session_->model_path()) loaded = session_->shared_model();
    session_.reset();
    session::SessionOptions so;
    so.model = path;
    so.n_ctx = n_ctx;
    so.max_paths = static_cast<int>(cell.paths);
    so.n_threads = static_cast<int>(cell.threads);
    so.meter = meter_;
    ER_ASSIGN_OR_RETURN(session_, session::Session::open(so, std::move(loaded)));
    return Status::ok();
  }

  StudyBackendOptions o_;
  std::shared_ptr<telemetry::EnergyMeter> meter_;
  std::map<std::string, eval::Dataset> datasets_;
  std::unique_ptr<session::Session> session_;
  std::map<std::string, std::pair<double, double>> step_s_;  // prefill s, s per decode step
  std::map<std::string, std::unique_ptr<client::Client>> clients_;  // by backend name
  std::map<std::string, std::string> variants_;  // "RELEASE|QUANTIZATION" -> the variant file
  std::map<std::string, ordered_json> checks_;   // the same -> compare_weights with the release
};

}  // namespace

Result<std::unique_ptr<study::CellBackend>> make_study_backend(const StudyBackendOptions& o) {
  ER_ASSIGN_OR_RETURN(session::StartedMeter meter, start_energy_meter(o.energy));
  return std::unique_ptr<study::CellBackend>(new EvalCellBackend(o, std::move(meter.meter)));
}

study::ConfigChecks study_config_checks(const StudyBackendOptions& o) {
  study::ConfigChecks c;
  c.model = [](const std::string& m) -> Status {
    auto r = model::resolve_model(m);
    return r ? Status::ok() : r.status();
  };
  c.dataset = [o](const std::string& d) -> Status {
    if (eval::is_builtin_dataset(d)) {
      auto dir = eval::find_data_dir(o.data_dir);
      return dir ? Status::ok() : dir.status();
    }
    std::error_code ec;
    if (std::filesystem::is_regular_file(d, ec)) return Status::ok();
    return Status::not_found("dataset '" + d + "' is neither a built-in set (gsm8k, math500, mmlu_stem) nor a file");
  };
  c.backend = [](study::Backend& b, const std::vector<study::Cell>& probes) -> Status {
    if (!client::parse_flavor(b.flavor).is_ok()) {
      return Status::invalid("flavor '" + b.flavor + "' is not one of " + client::flavor_names());
    }
    ER_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> cl, open_backend(b.url, b.flavor, b.served_model));
    if (b.served_model.empty()) b.served_model = cl->model();
    b.server_version = cl->info().version;
    for (const study::Cell& cell : probes) {
      const Status st = client::validate_remote_ask(*cl, remote_ask_for(cell));
      if (!st.is_ok()) return Status::invalid("cannot run " + cell.label() + ": " + st.message());
    }
    return Status::ok();
  };
  return c;
}

}  // namespace er::cli
