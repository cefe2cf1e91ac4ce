#include "cli/study_backend.h"

#include "cli/solve_outcome.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "cli/solve_outcome.h"
#include "engine/generator.h"
#include "eval/dataset.h"
#include "eval/prompts.h"
#include "eval/runner.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/model_registry.h"
#include "reasoning/reasoner.h"
#include "tokenizer/chat_template.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

reasoning::ThinkingOptions thinking_for(const study::Cell& c) {
  reasoning::ThinkingOptions t;
  t.answer_budget = c.answer_budget;
  switch (c.policy) {
    case study::Policy::kUnlimited: break;
    case study::Policy::kNoThink: t.no_think = true; break;
    case study::Policy::kThinkBudget: t.think_budget = c.budget; break;
    case study::Policy::kPromptBudget: t.prompt_budget = c.budget; break;
    case study::Policy::kL1: t.l1 = c.budget; break;
    case study::Policy::kL1Max: t.l1_max = c.budget; break;
  }
  return t;
}

int64_t context_for(const study::Cell& c) { return std::max<int64_t>(2048, c.max_tokens + c.answer_budget + 1024); }

class EvalCellBackend : public study::CellBackend {
 public:
  EvalCellBackend(StudyBackendOptions o, std::unique_ptr<telemetry::EnergyMeter> meter)
      : o_(std::move(o)), meter_(std::move(meter)) {}
  ~EvalCellBackend() override {
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

  Result<study::QuestionRecord> run(const study::Cell& cell, const study::QuestionRef& ref) override {
    ER_ASSIGN_OR_RETURN(const eval::Dataset* ds, dataset(cell.slice.dataset));
    const eval::Question& q = ds->questions.at(static_cast<size_t>(ref.index));
    ER_RETURN_IF_ERROR(ensure_model(cell));
    const reasoning::ThinkingOptions think = thinking_for(cell);
    reasoning::PromptSpec spec{"", eval::task_prompt(ds->task, q)};
    const std::string text = reasoning::render_prompt(tmpl_, fmt_, spec, think);
    const std::vector<tokenizer::TokenId> ids = model_->tokenizer().encode(text, /*add_special=*/false, /*parse_special=*/true);
    if (static_cast<int64_t>(ids.size()) + cell.max_tokens + cell.answer_budget >= n_ctx_)
      return Status::invalid("question '" + q.id + "': prompt of " + std::to_string(ids.size()) +
                             " tokens does not fit the context with max_tokens");
    engine::GenerateOptions g;
    g.max_new_tokens = cell.max_tokens;
    g.n_paths = static_cast<int>(cell.paths);
    g.sampler.temperature = static_cast<float>(cell.temperature);
    g.sampler.seed = cell.seed;
    reasoning::VoteOptions v;
    v.mode = reasoning::vote_mode_from_name(cell.vote).value_or(reasoning::VoteMode::kMajority);
    const eval::Task task = ds->task;
    const int n_choices = q.choices.empty() ? 4 : static_cast<int>(q.choices.size());
    reasoning::AnswerKeyFn key = [task, n_choices](std::string_view a) { return eval::answer_key(task, a, n_choices); };
    ER_ASSIGN_OR_RETURN(reasoning::ReasonResult rr, reasoner_->run(ids, think, g, v, key));

    // The same outcome cmd_eval builds; eval grades it (every path, then the vote).
    eval::SolveOutcome out = outcome_from_reasoning(rr, fmt_.has_think_tags);
    std::optional<telemetry::PhaseEnergy> energy;
    if (meter_) {
      meter_->sample_now();
      energy = meter_->phase_energy(phase_windows(rr.gen));
      out.energy = energy_json(*energy);
    }
    const ordered_json rec = eval::make_question_record(*ds, q, out, /*save_text=*/false);

    study::QuestionRecord r;
    r.question_id = q.id;
    r.index = ref.index;
    r.gold = q.gold;
    r.extracted = rec["extracted"].is_string() ? rec["extracted"].get<std::string>() : "";
    r.correct = rec["correct"].get<bool>();
    r.n_prompt = rr.n_prompt;
    r.thinking_tokens = rec["thinking_tokens"].get<int64_t>();
    r.answer_tokens = rec["answer_tokens"].get<int64_t>();
    r.prefill_ms = out.prefill_ms;
    r.ttft_ms = out.ttft_ms;
    r.decode_ms = out.decode_ms;
    r.e2e_ms = out.e2e_ms;
    int64_t i = 0;
    for (const auto& pj : rec["paths"]) {
      study::PathRecord p;
      p.index = i;
      p.extracted = pj["extracted"].is_string() ? pj["extracted"].get<std::string>() : "";
      p.correct = pj["correct"].get<bool>();
      p.thinking_tokens = pj["thinking_tokens"].get<int64_t>();
      p.answer_tokens = pj["answer_tokens"].get<int64_t>();
      p.forced_close = pj["forced_close"].get<bool>();
      p.stop = pj["stop"].get<std::string>();
      r.max_path_tokens = std::max(r.max_path_tokens, static_cast<int64_t>(rr.paths[static_cast<size_t>(i)].tokens.size()));
      r.paths.push_back(std::move(p));
      ++i;
    }
    if (energy && energy->source != "none" && energy->prefill_j && energy->decode_j) {
      study::PowerRecord w;
      w.source = energy->source;
      w.estimated = energy->estimated;
      w.prefill_j = *energy->prefill_j;
      w.decode_j = *energy->decode_j;
      w.total_j = energy->total_j.value_or(w.prefill_j + w.decode_j);
      w.mean_w = r.e2e_ms > 0 ? w.total_j / (r.e2e_ms / 1000.0) : 0;
      r.power = w;
    }
    return r;
  }

  // Prefill of a 128-token prompt and 64 decode steps per path, 3 repetitions, medians.
  Result<nlohmann::ordered_json> bench(const study::Cell& cell) override {
    ER_RETURN_IF_ERROR(ensure_model(cell));
    std::vector<tokenizer::TokenId> prompt(128, model_->tokenizer().bos() >= 0 ? model_->tokenizer().bos() : 1);
    engine::Generator gen(*ctx_);
    engine::GenerateOptions g;
    g.max_new_tokens = 64;
    g.n_paths = static_cast<int>(cell.paths);
    g.ignore_eos = true;
    g.sampler.temperature = 0;
    std::vector<double> pp, tg;
    for (int rep = 0; rep < 3; ++rep) {
      ER_ASSIGN_OR_RETURN(engine::GenerateResult r, gen.generate(prompt, g, [](int, tokenizer::TokenId) { return true; }));
      pp.push_back(r.prefill_ms);
      tg.push_back(r.decode_ms);
    }
    std::sort(pp.begin(), pp.end());
    std::sort(tg.begin(), tg.end());
    ordered_json j;
    j["n_prompt"] = 128;
    j["n_gen"] = 64;
    j["paths"] = cell.paths;
    j["threads"] = cell.threads;
    j["prefill_ms"] = pp[1];
    j["decode_ms"] = tg[1];
    j["prefill_tok_s"] = 128 * 1000.0 / pp[1];
    j["decode_tok_s"] = static_cast<double>(63 * cell.paths) * 1000.0 / tg[1];
    return j;
  }

  // Measured once per (model, threads, paths): decode steps per second on a short generation.
  std::optional<double> estimate_seconds(const study::Cell& cell) override {
    const std::string key = cell.model + "|" + std::to_string(cell.threads) + "|" + std::to_string(cell.paths);
    auto it = step_s_.find(key);
    if (it == step_s_.end()) {
      if (!ensure_model(cell).is_ok()) return std::nullopt;
      std::vector<tokenizer::TokenId> prompt(200, 1);
      engine::Generator gen(*ctx_);
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

  Status ensure_model(const study::Cell& cell) {
    ER_ASSIGN_OR_RETURN(std::string path, model::resolve_model(cell.model));
    if (path != model_path_) {
      reasoner_.reset();
      ctx_.reset();
      model_.reset();
      ER_ASSIGN_OR_RETURN(model_, model::Model::load(path));
      model_path_ = path;
      tmpl_ = tokenizer::chat_template_from_gguf(model_->file().metadata());
      fmt_ = reasoning::thinking_format_for(tmpl_.family, model_->tokenizer());
    }
    const int64_t n_ctx = context_for(cell);
    if (!ctx_ || ctx_threads_ != cell.threads || ctx_paths_ != cell.paths || n_ctx_ < n_ctx) {
      reasoner_.reset();
      ctx_.reset();
      model::ContextOptions c;
      c.n_ctx = n_ctx;
      c.n_seq = static_cast<int>(cell.paths);
      c.n_threads = static_cast<int>(cell.threads);
      ER_ASSIGN_OR_RETURN(ctx_, model::Context::create(*model_, c));
      ctx_threads_ = cell.threads;
      ctx_paths_ = cell.paths;
      n_ctx_ = n_ctx;
      reasoner_ = std::make_unique<reasoning::Reasoner>(*ctx_, model_->tokenizer(), fmt_);
    }
    return Status::ok();
  }

  StudyBackendOptions o_;
  std::unique_ptr<telemetry::EnergyMeter> meter_;
  std::map<std::string, eval::Dataset> datasets_;
  std::string model_path_;
  std::unique_ptr<model::Model> model_;
  tokenizer::ChatTemplate tmpl_;
  reasoning::ThinkingFormat fmt_;
  std::unique_ptr<model::Context> ctx_;
  int64_t ctx_threads_ = 0, ctx_paths_ = 0, n_ctx_ = 0;
  std::unique_ptr<reasoning::Reasoner> reasoner_;
  std::map<std::string, std::pair<double, double>> step_s_;  // prefill s, s per decode step
};

}  // namespace

Result<std::unique_ptr<study::CellBackend>> make_study_backend(const StudyBackendOptions& o) {
  ER_RETURN_IF_ERROR(validate_power_options(o.power));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<telemetry::EnergyMeter> meter, start_energy_meter(o.power));
  return std::unique_ptr<study::CellBackend>(new EvalCellBackend(o, std::move(meter)));
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
  return c;
}

}  // namespace er::cli
