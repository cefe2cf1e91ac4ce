// Session: the one request pipeline. It opens a model once (resolve, load, chat template, thinking
// format, a context sized for its slots and paths, the energy meter) and answers requests:
//   ask(prompt or conversation, thinking policy, sampling, paths) -> Outcome (every path's text
//   split into thinking and answer, the vote, timings, token counts, energy).
// `run`, `eval`, the study's cells and `serve` all call it, so they render, split, decode and
// account a question the same way. Requests on different slots run concurrently and share each
// forward pass (engine::BatchHub); with the context batch-invariant a request's tokens do not
// depend on what runs beside it.
//
// The rules that were copies before, in one place (ask):
//   - the prompt goes through the chat template when the request asks for it or sets a thinking
//     policy (NoThink, the budget sentences and the final-answer marker need the template);
//   - the thinking span is split out when a policy is set, or the request is a chat and the model
//     has think tags (a tag-less model's output without a policy is all answer);
//   - tag-less models under a policy are asked for the final-answer marker;
//   - what is graded: the answer text for think-tag models and plain completions, the whole text
//     for a tag-less model under a policy (its split is only the marker heuristic).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/batch_hub.h"
#include "engine/generator.h"
#include "engine/speculative.h"
#include "eval/runner.h"
#include "kernels/isa.h"
#include "model/forward.h"
#include "model/model.h"
#include "reasoning/reasoner.h"
#include "telemetry/energy_meter.h"
#include "telemetry/power_select.h"
#include "tokenizer/chat_template.h"

namespace er::session {

// The energy meter of a session: which source (parsed once by the front end) and how often.
struct EnergyOptions {
  telemetry::PowerSpec spec;            // auto, rapl, nvml, ina3221, tegrastats, estimated, none
  double interval_ms = 20;              // in [1, 10000]
  telemetry::EstimateParams estimate;   // watts of the "estimated" source
};
Status validate_energy_options(const EnergyOptions& o);

// A started meter and the one line that says which source and why ("power: rapl [package-0], every
// 20 ms (auto: ...; ...)"), for the front end to print.
struct StartedMeter {
  std::shared_ptr<telemetry::EnergyMeter> meter;
  std::string note;
};
Result<StartedMeter> start_meter(const EnergyOptions& o);

// A request's phase windows as the generator timed them (prefill; decode after the first token).
telemetry::PhaseWindows phase_windows(const engine::GenerateResult& r);

struct SessionOptions {
  std::string model;            // a .gguf path or an installed name (model::resolve_model)
  std::string chat_template;    // "" = the GGUF's; else chatml, qwen3, deepseek-r1, llama3, gemma, none
  int64_t n_ctx = 4096;         // positions per path
  int max_paths = 1;            // paths one request may decode together
  int n_slots = 1;              // requests decoded together (serve --parallel)
  int64_t prefill_chunk = 512;  // prompt tokens per forward pass and slot
  int n_threads = 2;
  DType kv_type = DType::kF16;
  kernels::Isa isa = kernels::default_isa();
  bool batch_invariant = true;  // model::ContextOptions::batch_invariant
  // Speculative decoding (engine/speculative.h): none, ngram (prompt lookup) or draft (a draft
  // model, `draft_model`: a .gguf path or an installed name with this model's vocabulary), with up
  // to draft_max drafted tokens per path and step.
  engine::SpecMethod spec = engine::SpecMethod::kNone;
  std::string draft_model;
  int draft_max = 2;  // the best of 1, 2, 4 on qwen2.5-coder-1.5b here (BENCHMARKS.md)
  // The meter requests' energy is read from (shared: the study keeps one across sessions); null:
  // no energy (source "none").
  std::shared_ptr<telemetry::EnergyMeter> meter;
};

// A request's speculative-decoding record: method, draft_model, draft_max, drafted, accepted,
// acceptance_rate (null without drafts); null when the session does not speculate.
nlohmann::ordered_json speculative_record(const SessionOptions& o, const engine::GenerateResult& r);

struct Request {
  std::string prompt;                            // the user's text (chat) or the raw prompt
  std::vector<tokenizer::ChatMessage> messages;  // a whole conversation instead (chat only)
  std::string system;                            // system message (chat; "" = the template's default)
  bool chat = false;                             // render with the chat template
  reasoning::ThinkingOptions think;
  engine::GenerateOptions gen;                   // max_new_tokens per path, n_paths, sampler, ignore_eos
  reasoning::VoteOptions vote;
  reasoning::AnswerKeyFn answer_key;             // empty: reasoning::generic_answer_key
  reasoning::StreamFn stream;                    // text as it becomes final (must not block)
};

// Cancels one request from another thread or a signal handler (a client that went away, Ctrl-C):
// the paths stop at their next step and ask() returns what was generated, with `cancelled` set.
// cancel() is one atomic store (async-signal-safe).
class Ticket {
 public:
  void cancel() { cancelled_.store(true); }
  void reset() { cancelled_.store(false); }
  bool cancelled() const { return cancelled_.load(); }
  const std::atomic<bool>* flag() const { return &cancelled_; }

 private:
  std::atomic<bool> cancelled_{false};
};

struct Outcome {
  std::string prompt_text;               // what the model was given (rendered)
  int64_t n_prompt = 0;
  reasoning::ThinkingFormat format;      // the request's format (split as decided above)
  bool chat = false;                     // rendered with the chat template
  bool grade_answer_text = true;         // see the top of this file
  reasoning::ReasonResult result;        // paths, vote, timings (result.gen)
  std::vector<std::string> texts;        // each path's tokens detokenized (clean-up spaces applied)
  telemetry::PhaseEnergy energy;         // the device's energy in the request's windows
  double queue_ms = 0;                   // waiting for a free slot before the request started
  int concurrent = 1;                    // requests in flight when this one finished (energy is shared)
  bool cancelled = false;
  nlohmann::ordered_json speculative;    // speculative_record (null: the session does not speculate)

  // The eval solver's view (every path graded as eval grades it, the vote when it stands).
  eval::SolveOutcome solve_outcome() const;
};

class Session {
 public:
  // Opens the model (resolve and load, or the one given, which must be the file `o.model`
  // resolves to) and a context of n_slots * max_paths sequences.
  static Result<std::unique_ptr<Session>> open(const SessionOptions& o,
                                               std::shared_ptr<const model::Model> loaded = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Renders and encodes the request's prompt and checks it fits (bad input otherwise).
  Result<std::vector<engine::TokenId>> encode(const Request& r, std::string* text = nullptr) const;
  // Checks a request's options (thinking policy, sampling, paths, tokens) without running it.
  Status validate(const Request& r) const;
  // The thinking format the request will be decoded with (split decided by the rules above).
  reasoning::ThinkingFormat format_for(const Request& r) const;

  // Answers one request; waits for a free slot. Thread-safe.
  Result<Outcome> ask(const Request& r, const Ticket* ticket = nullptr);

  const SessionOptions& options() const { return o_; }
  const std::string& model_path() const { return path_; }
  const model::Model& model() const { return *model_; }
  std::shared_ptr<const model::Model> shared_model() const { return model_; }
  const tokenizer::Tokenizer& tokenizer() const { return model_->tokenizer(); }
  const tokenizer::ChatTemplate& chat_template() const { return tmpl_; }
  const reasoning::ThinkingFormat& thinking_format() const { return fmt_; }
  double load_ms() const { return load_ms_; }
  // The draft model (spec = draft), else null.
  const model::Model* draft_model() const { return draft_.get(); }
  telemetry::EnergyMeter* meter() const { return o_.meter.get(); }
  model::Context& context() { return *ctx_; }

  int in_flight() const;  // requests holding a slot
  int waiting() const;    // requests waiting for one
  int decoding() const { return hub_->n_attached(); }  // requests in the shared passes now
  int64_t forward_passes() const { return hub_->n_passes(); }

 private:
  Session() = default;
  int acquire_slot();
  void release_slot(int slot);

  SessionOptions o_;
  std::string path_;
  std::shared_ptr<const model::Model> model_;
  tokenizer::ChatTemplate tmpl_;
  reasoning::ThinkingFormat fmt_;
  std::unique_ptr<model::Context> ctx_;
  std::unique_ptr<engine::ContextDecoder> decoder_;
  std::unique_ptr<engine::BatchHub> hub_;
  std::shared_ptr<const model::Model> draft_;             // the draft model (spec = draft)
  std::vector<std::unique_ptr<engine::Drafter>> drafters_;  // one per slot (empty: no speculation)
  double load_ms_ = 0;

  mutable std::mutex mu_;
  std::condition_variable slot_free_;
  std::vector<int> free_slots_;
  int waiting_ = 0;
};

}  // namespace er::session
