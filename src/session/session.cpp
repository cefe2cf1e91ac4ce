// The request pipeline (see session.h): model once, then render -> encode -> reason -> account.
#include "session/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "model/model_registry.h"

namespace er::session {

Status validate_energy_options(const EnergyOptions& o) {
  if (!std::isfinite(o.interval_ms) || o.interval_ms < 1 || o.interval_ms > 10000) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", o.interval_ms);
    return Status::invalid("${power_interval_ms} must be in [1, 10000] ms (got " + std::string(got) + ")");
  }
  return Status::ok();
}

Result<StartedMeter> start_meter(const EnergyOptions& o) {
  ER_RETURN_IF_ERROR(validate_energy_options(o));
  telemetry::PowerEnv env;
  env.estimate = o.estimate;
  ER_ASSIGN_OR_RETURN(telemetry::PowerSelection sel, telemetry::open_power_source(o.spec, env));
  const telemetry::PowerSource& s = *sel.source;
  char line[512];
  std::snprintf(line, sizeof line, "power: %s%s%s%s, every %g ms (%s; %s)", s.name().c_str(), s.rail().empty() ? "" : " [",
                s.rail().c_str(), s.rail().empty() ? "" : "]", o.interval_ms, sel.reason.c_str(), s.detail().c_str());
  telemetry::MeterOptions mo;
  mo.interval_ms = o.interval_ms;
  StartedMeter out;
  out.meter = std::make_shared<telemetry::EnergyMeter>(std::move(sel.source), mo, sel.reason);
  out.meter->start();
  out.note = line;
  return out;
}

telemetry::PhaseWindows phase_windows(const engine::GenerateResult& r) {
  telemetry::PhaseWindows w;
  w.t_start = r.t_start;
  w.prefill_ms = r.prefill_ms;
  w.ttft_ms = r.ttft_ms;
  w.e2e_ms = r.e2e_ms;
  w.n_prefill_tokens = r.n_prompt;
  // The first token of each path comes from the prefill's logits; the rest from decode steps.
  w.n_decode_tokens = std::max<int64_t>(0, r.n_generated - static_cast<int64_t>(r.paths.size()));
  w.n_counted_tokens = r.n_generated;
  return w;
}

eval::SolveOutcome Outcome::solve_outcome() const {
  eval::SolveOutcome out;
  for (size_t i = 0; i < result.paths.size(); ++i) {
    const reasoning::PathOutcome& p = result.paths[i];
    eval::PathAnswer a;
    if (i < result.gen.paths.size()) a.finish_ms = result.gen.paths[i].last_token_ms;
    a.answer_text = grade_answer_text ? p.answer_text : p.text;
    a.thinking_text = p.thinking_text;
    a.thinking_tokens = p.thinking_tokens;
    a.answer_tokens = p.answer_tokens;
    a.forced_close = p.forced_close;
    a.stop = engine::stop_reason_name(p.stop);
    a.mean_logprob = p.mean_logprob;
    out.paths.push_back(std::move(a));
  }
  // The Reasoner voted on answer_text: its winner stands when that is what is graded.
  if (grade_answer_text && result.vote.winner_path >= 0) out.winner_path = result.vote.winner_path;
  out.n_prompt = result.n_prompt;
  out.prefill_ms = result.gen.prefill_ms;
  out.ttft_ms = result.gen.ttft_ms;
  out.decode_ms = result.gen.decode_ms;
  out.e2e_ms = result.gen.e2e_ms;
  out.energy = energy.to_json();
  out.speculative = speculative;
  out.cancelled = cancelled;
  return out;
}

nlohmann::ordered_json speculative_record(const SessionOptions& o, const engine::GenerateResult& r) {
  using nlohmann::ordered_json;
  if (o.spec == engine::SpecMethod::kNone) return nullptr;
  ordered_json j;
  j["method"] = engine::spec_method_name(o.spec);
  j["draft_model"] = o.spec == engine::SpecMethod::kDraft ? ordered_json(o.draft_model) : ordered_json(nullptr);
  j["draft_max"] = o.draft_max;
  j["drafted"] = r.n_drafted;
  j["accepted"] = r.n_accepted;
  j["acceptance_rate"] = r.n_drafted > 0 ? ordered_json(static_cast<double>(r.n_accepted) / static_cast<double>(r.n_drafted))
                                         : ordered_json(nullptr);
  j["decode_steps"] = r.n_decode_steps;
  return j;
}

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& o, std::shared_ptr<const model::Model> loaded) {
  if (o.max_paths < 1 || o.max_paths > 64) {
    return Status::invalid("${n_paths} must be in [1, 64] (got " + std::to_string(o.max_paths) + ")");
  }
  if (o.n_slots < 1 || o.n_slots > 64) {
    return Status::invalid("${n_slots} (requests decoded together) must be in [1, 64] (got " + std::to_string(o.n_slots) + ")");
  }
  if (o.n_ctx < 8) return Status::invalid("${n_ctx} (context size) must be at least 8 (got " + std::to_string(o.n_ctx) + ")");
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Session> s(new Session());
  s->o_ = o;
  ER_ASSIGN_OR_RETURN(s->path_, model::resolve_model(o.model));
  if (loaded) {
    s->model_ = std::move(loaded);
  } else {
    ER_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::Model::load(s->path_));
    s->model_ = std::move(m);
  }
  s->tmpl_ = tokenizer::chat_template_from_gguf(s->model_->file().metadata());
  if (!o.chat_template.empty()) {
    auto fam = tokenizer::chat_family_from_name(o.chat_template);
    if (!fam) {
      return Status::invalid("${chat_template} '" + o.chat_template +
                             "': expected chatml, qwen3, deepseek-r1, llama3, gemma or none");
    }
    s->tmpl_.family = *fam;
  }
  s->fmt_ = reasoning::thinking_format_for(s->tmpl_.family, s->model_->tokenizer());

  model::ContextOptions c;
  c.n_ctx = o.n_ctx;
  c.n_seq = o.n_slots * o.max_paths;
  c.max_batch = static_cast<int64_t>(o.n_slots) * std::max<int64_t>(o.prefill_chunk, o.max_paths);
  if (o.spec != engine::SpecMethod::kNone && (o.draft_max < 1 || o.draft_max > 32)) {
    return Status::invalid("${draft_max} must be in [1, 32] (got " + std::to_string(o.draft_max) + ")");
  }
  const int64_t step_rows = engine::step_rows_per_path(o.spec, o.draft_max);
  const int64_t spec_rows = step_rows - 1;  // drafts verified per path
  c.max_logits = c.n_seq * step_rows;
  c.max_batch += static_cast<int64_t>(c.n_seq) * spec_rows;
  c.n_threads = o.n_threads;
  c.kv_type = o.kv_type;
  c.isa = o.isa;
  c.batch_invariant = o.batch_invariant;
  ER_ASSIGN_OR_RETURN(s->ctx_, model::Context::create(*s->model_, c));
  s->decoder_ = std::make_unique<engine::ContextDecoder>(*s->ctx_);
  s->hub_ = std::make_unique<engine::BatchHub>(*s->decoder_, o.n_slots, o.max_paths,
                                               std::max<int64_t>(o.prefill_chunk, o.max_paths) + o.max_paths * spec_rows);
  if (o.spec == engine::SpecMethod::kDraft) {
    if (o.draft_model.empty()) return Status::invalid("speculative decoding with a draft model needs ${draft_model}");
    ER_ASSIGN_OR_RETURN(s->draft_, engine::load_draft_model(*s->model_, o.draft_model));
  }
  for (int i = 0; o.spec != engine::SpecMethod::kNone && i < o.n_slots; ++i) {
    ER_ASSIGN_OR_RETURN(std::unique_ptr<engine::Drafter> d,
                        engine::make_drafter(o.spec, s->draft_, o.max_paths, o.n_ctx, o.n_threads));
    s->drafters_.push_back(std::move(d));
  }
  for (int i = o.n_slots - 1; i >= 0; --i) s->free_slots_.push_back(i);
  s->load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

Session::~Session() = default;

namespace {

// The request's format and prompt rules (session.h).
struct Rendering {
  bool chat;
  reasoning::ThinkingFormat fmt;
  bool marker_instruction;
};

Rendering rendering_for(const Request& r, const reasoning::ThinkingFormat& model_fmt) {
  const bool policy = r.think.has_policy();
  Rendering out;
  out.chat = r.chat || policy || !r.messages.empty();
  out.fmt = model_fmt;
  out.fmt.split = policy || (out.chat && model_fmt.has_think_tags);
  out.marker_instruction = policy;
  return out;
}

}  // namespace

reasoning::ThinkingFormat Session::format_for(const Request& r) const { return rendering_for(r, fmt_).fmt; }

Status Session::validate(const Request& r) const {
  ER_RETURN_IF_ERROR(reasoning::validate_thinking_options(r.think));
  ER_RETURN_IF_ERROR(r.gen.sampler.validate());
  if (r.gen.n_paths < 1 || r.gen.n_paths > o_.max_paths) {
    return Status::invalid("${n_paths} must be in [1, " + std::to_string(o_.max_paths) + "] (got " +
                           std::to_string(r.gen.n_paths) + ")");
  }
  if (r.gen.max_new_tokens < 1) {
    return Status::invalid("${max_new_tokens} must be at least 1 (got " + std::to_string(r.gen.max_new_tokens) + ")");
  }
  if (!r.messages.empty() && !r.prompt.empty()) return Status::invalid("give ${prompt} or ${messages}, not both");
  for (const tokenizer::ChatMessage& m : r.messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      return Status::invalid("${messages}: role '" + m.role + "' (expected system, user or assistant)");
    }
  }
  if (!r.messages.empty() && r.messages.back().role != "user") {
    return Status::invalid("${messages}: the last message must be the user's");
  }
  return Status::ok();
}

Result<std::vector<engine::TokenId>> Session::encode(const Request& r, std::string* text_out) const {
  const Rendering how = rendering_for(r, fmt_);
  std::string text = r.prompt;
  if (how.chat) {
    reasoning::PromptSpec spec;
    spec.system = r.system;
    spec.question = r.prompt;
    spec.messages = r.messages;
    spec.marker_instruction = how.marker_instruction;
    text = reasoning::render_prompt(tmpl_, how.fmt, spec, r.think);
  }
  if (r.prompt.empty() && r.messages.empty()) return Status::invalid("${prompt} is empty");
  std::vector<engine::TokenId> ids = tokenizer().encode(text, /*add_special=*/!how.chat, /*parse_special=*/true);
  if (static_cast<int64_t>(ids.size()) >= o_.n_ctx) {
    return Status::invalid("${prompt} has " + std::to_string(ids.size()) + " tokens, more than the context of " +
                           std::to_string(o_.n_ctx) + " tokens allows (raise ${n_ctx})");
  }
  if (text_out != nullptr) *text_out = std::move(text);
  return ids;
}

int Session::acquire_slot() {
  std::unique_lock<std::mutex> lock(mu_);
  ++waiting_;
  slot_free_.wait(lock, [&] { return !free_slots_.empty(); });
  --waiting_;
  const int slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void Session::release_slot(int slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_slots_.push_back(slot);
  }
  slot_free_.notify_one();
}

int Session::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return o_.n_slots - static_cast<int>(free_slots_.size());
}

int Session::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

Result<Outcome> Session::ask(const Request& r, const Ticket* ticket) {
  ER_RETURN_IF_ERROR(validate(r));
  Outcome out;
  const Rendering how = rendering_for(r, fmt_);
  out.format = how.fmt;
  out.chat = how.chat;
  // What is graded (session.h): the whole text for a tag-less model under a policy.
  out.grade_answer_text = how.fmt.has_think_tags || !how.fmt.split;
  ER_ASSIGN_OR_RETURN(std::vector<engine::TokenId> ids, encode(r, &out.prompt_text));
  out.n_prompt = static_cast<int64_t>(ids.size());

  const auto t_queue = std::chrono::steady_clock::now();
  const int slot = acquire_slot();
  out.queue_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_queue).count();
  reasoning::TokenizerVocabulary vocab(tokenizer());
  reasoning::Reasoner reasoner(hub_->slot(slot), vocab, how.fmt);
  const reasoning::AnswerKeyFn key = r.answer_key ? r.answer_key : reasoning::AnswerKeyFn(reasoning::generic_answer_key);
  hub_->attach(slot);
  engine::GenerateOptions gen = r.gen;
  if (!drafters_.empty()) {
    gen.drafter = drafters_[static_cast<size_t>(slot)].get();
    gen.draft_max = o_.draft_max;
  }
  Result<reasoning::ReasonResult> rr =
      reasoner.run(ids, r.think, gen, r.vote, key, r.stream, ticket != nullptr ? ticket->flag() : nullptr);
  hub_->detach(slot);
  out.concurrent = in_flight();
  release_slot(slot);
  if (!rr.is_ok()) return rr.status().with_context("model '" + path_ + "'");
  out.cancelled = ticket != nullptr && ticket->cancelled();
  out.result = std::move(rr).value();
  for (const engine::PathResult& p : out.result.gen.paths) out.texts.push_back(tokenizer().decode(p.tokens));
  out.speculative = speculative_record(o_, out.result.gen);
  if (o_.meter) {
    o_.meter->sample_now();  // the end of the request covered without waiting a period
    out.energy = o_.meter->phase_energy(phase_windows(out.result.gen));
  } else {
    out.energy.source = "none";
  }
  return out;
}

}  // namespace er::session
