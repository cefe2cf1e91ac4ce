// `edgereason run`: generate from a prompt, streaming text, then print the timing summary or a JSON record.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/spec_options.h"
#include "cli/power_options.h"
#include "cli/thinking_options.h"
#include "engine/generator.h"
#include "kernels/isa.h"
#include "model/model_registry.h"
#include "reasoning/reasoner.h"
#include "session/session.h"
#include "tokenizer/chat_template.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

std::atomic<bool> g_interrupted{false};
std::atomic<session::Ticket*> g_ticket{nullptr};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  if (session::Ticket* t = g_ticket.load()) t->cancel();  // an atomic store
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string system;
  bool chat = false;
  std::string chat_template;
  int64_t n_predict = 256;
  int64_t n_ctx = 4096;
  int n_threads = 2;
  int n_paths = 1;
  sampling::SamplerConfig sampler;
  bool ignore_eos = false;
  std::string kv_type = "f16";
  std::string isa;
  bool batch_invariant = true;
  SpecFlags spec;
  bool json = false;
  PowerOptions power;
  ThinkingFlags thinking;  // --think-budget, --no-think, ..., --vote, --early-stop
};

Result<std::string> read_prompt(const RunOptions& o) {
  if (!o.prompt_file.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(o.prompt_file, ec)) {
      return Status::invalid("-f '" + o.prompt_file + "': is a directory, not a prompt file");
    }
    if (!std::filesystem::exists(o.prompt_file, ec)) return Status::invalid("-f '" + o.prompt_file + "': no such file");
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in) return Status::invalid("-f '" + o.prompt_file + "': cannot read the prompt file (permission?)");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Status::invalid("-f '" + o.prompt_file + "': read error");
    return ss.str();
  }
  return o.prompt;
}

// Streams path 0's final text: thinking dimmed on a terminal, or between "[thinking]" and
// "[answer]" lines otherwise; answer text plain.
class TextStream {
 public:
  explicit TextStream(bool split) : split_(split), tty_(isatty(STDOUT_FILENO) != 0) {}
  void put(std::string_view s, bool thinking) {
    if (s.empty()) return;
    if (split_ && thinking != in_thinking_) {
      if (tty_) {
        std::fputs(thinking ? "\x1b[2m" : "\x1b[0m", stdout);
      } else {
        std::fputs(thinking ? "[thinking]\n" : (started_ ? "\n[answer]\n" : "[answer]\n"), stdout);
      }
      in_thinking_ = thinking;
    }
    started_ = true;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  void end() {
    if (tty_ && in_thinking_) std::fputs("\x1b[0m", stdout);
    std::printf("\n");
  }

 private:
  bool split_;
  bool tty_;
  bool in_thinking_ = false;
  bool started_ = false;
};

Status run(RunOptions& o) {
  if (o.n_predict < 1) return Status::invalid("-n must be at least 1 (got " + std::to_string(o.n_predict) + ")");
  if (o.n_ctx < 8) return Status::invalid("-c must be at least 8 (got " + std::to_string(o.n_ctx) + ")");
  if (o.n_paths < 1 || o.n_paths > 64) return Status::invalid("--paths must be in [1, 64]");
  ER_RETURN_IF_ERROR(o.sampler.validate());
  ER_ASSIGN_OR_RETURN(const session::EnergyOptions energy_opts, energy_options(o.power));
  ER_ASSIGN_OR_RETURN(const reasoning::VoteOptions vote, finish_thinking_flags(o.thinking));
  const reasoning::ThinkingOptions& think = o.thinking.think;
  DType kv_type;
  if (o.kv_type == "f16") kv_type = DType::kF16;
  else if (o.kv_type == "f32") kv_type = DType::kF32;
  else return Status::invalid("--kv-type must be f16 or f32");
  kernels::Isa isa = kernels::default_isa();
  if (!o.isa.empty()) {
    auto v = kernels::isa_from_name(o.isa);
    if (!v) return Status::invalid("--isa '" + o.isa + "': expected " + kernels::built_isa_names());
    if (!kernels::isa_supported(*v)) return Status::unsupported("--isa " + o.isa + ": not supported by this CPU");
    isa = *v;
  }
  ER_ASSIGN_OR_RETURN(std::string text, read_prompt(o));
  if (text.empty()) return Status::invalid("the prompt is empty (give -p TEXT or -f FILE)");

  ER_ASSIGN_OR_RETURN(std::string path, model::resolve_model(o.model));
  if (const std::string note = apply_profile_decode_model(o.thinking, path); !note.empty()) {
    std::fprintf(stderr, "%s\n", note.c_str());
  }
  // The meter starts before the model loads; its line is printed once the request is known good, so
  // bad input gets one line of error and nothing else.
  ER_ASSIGN_OR_RETURN(session::StartedMeter meter, session::start_meter(energy_opts));
  session::SessionOptions so;
  so.model = path;
  so.chat_template = o.chat_template;
  so.n_ctx = o.n_ctx;
  so.max_paths = o.n_paths;
  so.n_threads = o.n_threads;
  so.kv_type = kv_type;
  so.batch_invariant = o.batch_invariant;
  so.isa = isa;
  so.meter = meter.meter;
  ER_RETURN_IF_ERROR(apply_spec_flags(o.spec, so));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<session::Session> sess, session::Session::open(so));

  session::Request req;
  req.prompt = text;
  req.system = o.system;
  req.chat = o.chat;
  req.think = think;
  req.gen.max_new_tokens = o.n_predict;
  req.gen.n_paths = o.n_paths;
  req.gen.ignore_eos = o.ignore_eos;
  req.gen.sampler = o.sampler;
  req.vote = vote;
  // Stream path 0's text as it becomes final (text output with one path only).
  const bool stream = !o.json && o.n_paths == 1;
  TextStream out(sess->format_for(req).split);
  if (stream) req.stream = [&](int p, std::string_view s, bool thinking) { if (p == 0) out.put(s, thinking); };

  ER_RETURN_IF_ERROR(sess->validate(req));
  ER_ASSIGN_OR_RETURN(const std::vector<engine::TokenId> prompt_tokens, sess->encode(req));
  std::fprintf(stderr, "%s\n", meter.note.c_str());
  if (const std::string w = deadline_extrapolation(o.thinking, static_cast<int64_t>(prompt_tokens.size()), o.n_predict);
      !w.empty()) {
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  }

  session::Ticket ticket;
  g_ticket.store(&ticket);
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, on_sigint);
  Result<session::Outcome> res_or = sess->ask(req, &ticket);
  std::signal(SIGINT, previous);
  g_ticket.store(nullptr);
  meter.meter->stop();  // a last sample covers the end of the request
  if (!res_or.is_ok()) return res_or.status();
  const session::Outcome& oc = *res_or;
  const reasoning::ReasonResult& rr = oc.result;
  const engine::GenerateResult& r = rr.gen;
  const reasoning::ThinkingFormat& fmt = oc.format;
  const telemetry::PhaseEnergy& energy = oc.energy;
  const std::string& prompt_text = oc.prompt_text;
  const bool chat = oc.chat;
  const double load_ms = sess->load_ms();
  const tokenizer::ChatTemplate& tmpl = sess->chat_template();
  if (stream) out.end();

  const reasoning::PathOutcome& p0 = rr.paths[0];
  const int64_t n_out0 = static_cast<int64_t>(r.paths[0].tokens.size());
  const double prefill_tps = r.prefill_ms > 0 ? 1000.0 * static_cast<double>(r.n_prompt) / r.prefill_ms : 0;
  const double decode_tps = r.decode_ms > 0 ? 1000.0 * static_cast<double>(r.n_generated - o.n_paths) / r.decode_ms : 0;
  const double tpot_ms = n_out0 > 1 ? (r.paths[0].last_token_ms - r.ttft_ms) / static_cast<double>(n_out0 - 1) : 0;
  // Plain completions keep the detokenizer's text (clean-spaces pass) for both fields.
  const std::string& text0 = oc.texts[0];

  if (o.json) {
    ordered_json j;
    j["model"] = o.model;
    j["path"] = path;
    j["prompt_text"] = prompt_text;
    j["text"] = text0;
    j["thinking_text"] = p0.thinking_text;
    j["answer_text"] = fmt.split ? p0.answer_text : text0;
    j["answer"] = p0.answer_key ? ordered_json(*p0.answer_key) : ordered_json(nullptr);
    j["stop"] = engine::stop_reason_name(r.paths[0].stop);
    j["interrupted"] = g_interrupted.load();
    j["tokens"] = {{"prompt", r.n_prompt},           {"thinking", p0.thinking_tokens}, {"answer", p0.answer_tokens},
                   {"delimiter", p0.delimiter_tokens}, {"forced", p0.forced_tokens},   {"generated", r.n_generated}};
    j["timings_ms"] = {{"load", load_ms},   {"prefill", r.prefill_ms}, {"ttft", r.ttft_ms},
                       {"decode", r.decode_ms}, {"tpot", tpot_ms},       {"e2e", r.e2e_ms}};
    j["throughput"] = {{"prefill_tok_s", prefill_tps}, {"decode_tok_s", decode_tps}};
    j["energy"] = energy_json(energy);
    if (!oc.speculative.is_null()) j["speculative"] = oc.speculative;
    ordered_json th;
    th["format"] = fmt.split ? (fmt.has_think_tags ? "tags" : "marker") : "none";
    th["delimiter"] = fmt.split ? fmt.delimiter() : "";
    th["closed"] = p0.closed;
    th["forced_close"] = p0.forced_close;
    th["forced_close_at"] = p0.forced_close_at ? ordered_json(*p0.forced_close_at) : ordered_json(nullptr);
    th["waits_inserted"] = p0.waits_inserted;
    th["rolled_back_tokens"] = p0.rolled_back_tokens;
    th["effective_think_budget"] = rr.effective_think_budget ? ordered_json(*rr.effective_think_budget) : ordered_json(nullptr);
    if (rr.deadline_s) {
      th["deadline_s"] = *rr.deadline_s;
      th["measured_step_ms"] = rr.measured_step_s * 1000.0;
      th["deadline_met"] = r.e2e_ms <= *rr.deadline_s * 1000.0;
    }
    j["thinking"] = th;
    if (o.n_paths > 1) {
      ordered_json paths = ordered_json::array();
      for (size_t i = 0; i < rr.paths.size(); ++i) {
        const reasoning::PathOutcome& p = rr.paths[i];
        paths.push_back({{"text", oc.texts[i]},
                         {"thinking_text", p.thinking_text},
                         {"answer_text", fmt.split ? p.answer_text : p.text},
                         {"answer", p.answer_key ? ordered_json(*p.answer_key) : ordered_json(nullptr)},
                         {"tokens", p.tokens.size()},
                         {"thinking_tokens", p.thinking_tokens},
                         {"answer_tokens", p.answer_tokens},
                         {"forced_close", p.forced_close},
                         {"mean_logprob", p.mean_logprob},
                         {"stop", engine::stop_reason_name(p.stop)},
                         {"stopped_early", p.stopped_early}});
      }
      j["paths"] = paths;
      ordered_json tally = ordered_json::array();
      for (const auto& [key, votes] : rr.vote.tally) tally.push_back({{"answer", key}, {"votes", votes}});
      j["vote"] = {{"mode", std::string(reasoning::vote_mode_name(rr.vote.mode))},
                   {"winner", rr.vote.winner ? ordered_json(*rr.vote.winner) : ordered_json(nullptr)},
                   {"winner_path", rr.vote.winner_path},
                   {"n_votes", rr.vote.n_votes},
                   {"tally", tally},
                   {"early_stop", vote.early_stop},
                   {"early_stopped", rr.vote.early_stopped},
                   {"tokens_saved", rr.vote.tokens_saved}};
    }
    ordered_json thinking_cfg = ordered_json::object();
    for (const auto& [k, v] : describe_thinking_flags(o.thinking)) thinking_cfg[k] = v;
    j["config"] = {{"n_ctx", o.n_ctx}, {"n_threads", o.n_threads}, {"n_paths", o.n_paths},
                   {"n_predict", o.n_predict}, {"chat", chat}, {"chat_template", std::string(tokenizer::chat_family_name(tmpl.family))},
                   {"sampler", o.sampler.describe()}, {"kv_type", o.kv_type},
                   {"isa", std::string(kernels::isa_name(isa))}, {"ignore_eos", o.ignore_eos},
                   {"thinking", thinking_cfg}};
    std::printf("%s\n", j.dump(2, ' ', false, ordered_json::error_handler_t::replace).c_str());
  } else {
    if (o.n_paths > 1) {
      for (size_t p = 0; p < r.paths.size(); ++p) {
        const reasoning::PathOutcome& po = rr.paths[p];
        std::printf("--- path %zu (%zu tokens, %s%s; answer: %s)\n%s\n", p, r.paths[p].tokens.size(),
                    engine::stop_reason_name(r.paths[p].stop), po.stopped_early ? ", stopped early" : "",
                    po.answer_key ? po.answer_key->c_str() : "none", oc.texts[p].c_str());
      }
      std::printf("--- vote (%s): %s", std::string(reasoning::vote_mode_name(rr.vote.mode)).c_str(),
                  rr.vote.winner ? rr.vote.winner->c_str() : "no answer");
      for (const auto& [key, votes] : rr.vote.tally) std::printf(" [%s: %g]", key.c_str(), votes);
      if (rr.vote.early_stopped) std::printf("; early stop saved %lld tokens", static_cast<long long>(rr.vote.tokens_saved));
      std::printf("\n");
    }
    std::string think_note;
    if (fmt.split) {
      think_note = std::to_string(p0.thinking_tokens) + " thinking + " + std::to_string(p0.answer_tokens) + " answer tokens" +
                   (p0.forced_close ? " (thinking closed by the policy)" : "") + "; ";
    }
    std::fprintf(stderr,
                 "\n%s%lld prompt tokens: prefill %.1f ms (%.1f tok/s); TTFT %.1f ms; %s%lld tokens generated "
                 "(%d paths): decode %.1f tok/s, TPOT %.2f ms; e2e %.1f ms; load %.0f ms\n",
                 g_interrupted.load() ? "interrupted. " : "", static_cast<long long>(r.n_prompt), r.prefill_ms,
                 prefill_tps, r.ttft_ms, think_note.c_str(), static_cast<long long>(r.n_generated), o.n_paths, decode_tps,
                 tpot_ms, r.e2e_ms, load_ms);
    if (so.spec != engine::SpecMethod::kNone) std::fprintf(stderr, "%s\n", speculative_line(so, r).c_str());
    std::fprintf(stderr, "%s\n", energy_line(energy).c_str());
  }
  return Status::ok();
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt with timing (TTFT, TPOT, tok/s)");
  sub->add_option("-m,--model", o->model, "Model file or installed name")->required();
  auto* p = sub->add_option("-p,--prompt", o->prompt, "Prompt text");
  auto* f = sub->add_option("-f,--file", o->prompt_file, "Read the prompt from FILE");
  p->excludes(f);
  sub->add_flag("--chat", o->chat, "Wrap the prompt as a user turn in the model's chat template");
  sub->add_option("--chat-template", o->chat_template, "Override the template family: chatml, qwen3, deepseek-r1, llama3, gemma, none");
  sub->add_option("--system", o->system, "System message (with --chat)");
  sub->add_option("-n,--n-predict", o->n_predict, "Maximum new tokens per path")->capture_default_str();
  sub->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens")->capture_default_str();
  sub->add_option("-t,--threads", o->n_threads, "Threads")->capture_default_str();
  sub->add_option("--paths", o->n_paths, "Reasoning paths decoded together from one prefill")->capture_default_str();
  sub->add_option("--temp", o->sampler.temperature, "Temperature (0 = greedy)")->capture_default_str();
  sub->add_option("--top-k", o->sampler.top_k, "Top-k (0 = off)")->capture_default_str();
  sub->add_option("--top-p", o->sampler.top_p, "Top-p (1 = off)")->capture_default_str();
  sub->add_option("--min-p", o->sampler.min_p, "Min-p (0 = off)")->capture_default_str();
  sub->add_option("--repeat-penalty", o->sampler.repeat_penalty, "Repetition penalty (1 = off)")->capture_default_str();
  sub->add_option("--repeat-last-n", o->sampler.repeat_last_n, "Tokens the penalty looks back")->capture_default_str();
  sub->add_option("--seed", o->sampler.seed, "Sampling seed (path p uses seed + p)")->capture_default_str();
  sub->add_flag("--ignore-eos", o->ignore_eos, "Generate exactly -n tokens");
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--batch-invariant", o->batch_invariant,
                  "on: every path gets a single-path decode's arithmetic (path 0 of --paths N = --paths 1); off: "
                  "llama.cpp's batched arithmetic for the whole step")
      ->capture_default_str();
  sub->add_option("--isa", o->isa, "Kernel level: " + kernels::built_isa_names() + " (default: the best this CPU supports)");
  add_spec_flags(sub, o->spec);
  sub->add_flag("--json", o->json, "Print one JSON record instead of streaming text");
  add_power_flags(sub, o->power);
  add_thinking_flags(sub, o->thinking);
  return {sub, [o, sub]() -> Status {
            if (sub->count("--prompt") == 0 && sub->count("--file") == 0) {
              return Status::invalid("give a prompt with -p TEXT or -f FILE");
            }
            return run(*o);
          }};
}

}  // namespace er::cli
