#include "client/remote_ask.h"

#include <algorithm>
#include <future>

namespace er::client {

namespace {

// The engines' finish reasons in edgereason's stop names ("stop" is an end of generation).
std::string stop_name(const std::string& finish_reason) {
  if (finish_reason == "stop") return "eos";
  if (finish_reason.empty()) return "none";
  return finish_reason;  // "length", "abort", ...
}

}  // namespace

Status validate_remote_ask(const Client& c, const RemoteAsk& a) {
  ER_RETURN_IF_ERROR(reasoning::validate_thinking_options(a.think));
  ER_RETURN_IF_ERROR(check_policy(c.options().flavor, a.think));
  ER_RETURN_IF_ERROR(a.sampler.validate());
  if (c.options().flavor == Flavor::kOpenAI) {
    // The plain OpenAI API has no top_k, min_p or repetition penalty: refused, not dropped.
    const bool sampled = !a.sampler.greedy();
    if (sampled && (a.sampler.top_k > 0 || a.sampler.min_p > 0.0f)) {
      return Status::invalid("the ${flavor} openai has no top_k or min_p: give ${top_k} 0 and ${min_p} 0 (or the server's own flavor)");
    }
    if (a.sampler.repeat_penalty != 1.0f) {
      return Status::invalid("the ${flavor} openai has no repetition penalty: ${repeat_penalty} must be 1");
    }
  }
  if (a.n_paths < 1) return Status::invalid("${n_paths} must be at least 1");
  if (a.max_tokens < 1) return Status::invalid("${max_tokens} must be at least 1");
  if (!a.chat && a.think.has_policy()) {
    return Status::invalid("a thinking policy needs a chat request (the server applies the chat template)");
  }
  return Status::ok();
}

std::vector<CompletionRequest> make_requests(const Client& c, const RemoteAsk& a) {
  CompletionRequest r;
  r.chat = a.chat;
  r.prompt = a.chat ? reasoning::with_policy_sentences(a.prompt, a.think) : a.prompt;
  r.system = a.system;
  r.max_tokens = a.max_tokens;
  r.temperature = a.sampler.temperature;
  r.top_p = a.sampler.top_p;
  r.top_k = a.sampler.top_k;
  r.min_p = a.sampler.min_p;
  r.repeat_penalty = a.sampler.repeat_penalty;

  r.seed = a.sampler.seed;
  r.ignore_eos = a.ignore_eos;
  r.extra = policy_fields(c.options().flavor, a.think);
  if (a.n_paths == 1 || flavor_caps(c.options().flavor).n) {
    r.n = a.n_paths;
    return {r};
  }
  std::vector<CompletionRequest> out(static_cast<size_t>(a.n_paths), r);
  for (size_t p = 0; p < out.size(); ++p) {
    out[p].n = 1;
    out[p].seed = a.sampler.seed + p;  // path p's seed, as the local engine seeds its paths
  }
  return out;
}

std::vector<eval::PathAnswer> paths_of(const Completion& c) {
  std::vector<eval::PathAnswer> paths;
  const bool one = c.choices.size() == 1;
  for (const Choice& ch : c.choices) {
    eval::PathAnswer a;
    a.answer_text = ch.content;
    a.thinking_text = ch.reasoning;
    int64_t think = ch.reasoning_chunks, answer = ch.content_chunks;
    if (one && c.usage.completion_tokens) {
      // usage is exact; the split comes from reasoning_tokens when sent, else the chunk ratio.
      const int64_t total = *c.usage.completion_tokens;
      if (c.usage.reasoning_tokens) {
        think = std::clamp<int64_t>(*c.usage.reasoning_tokens, 0, total);
      } else if (ch.reasoning.empty()) {
        think = 0;
      } else if (think + answer > 0) {
        think = std::clamp<int64_t>(total * think / (think + answer), 0, total);
      }
      answer = total - think;
    }
    a.thinking_tokens = think;
    a.answer_tokens = answer;
    a.stop = stop_name(ch.finish_reason);
    a.finish_ms = ch.finish_ms >= 0 ? ch.finish_ms : c.e2e_ms;
    paths.push_back(std::move(a));
  }
  return paths;
}

std::vector<Completion> complete_all(const Client& c, const std::vector<CompletionRequest>& reqs,
                                     const std::atomic<bool>* cancel) {
  std::vector<Completion> out;
  if (reqs.empty()) return out;
  std::vector<std::future<Completion>> fs;
  for (size_t i = 1; i < reqs.size(); ++i) {
    fs.push_back(std::async(std::launch::async, [&c, &r = reqs[i], cancel] { return c.complete(r, cancel); }));
  }
  out.push_back(c.complete(reqs[0], cancel));
  for (auto& f : fs) out.push_back(f.get());
  return out;
}

RemoteOutcome ask_remote(const Client& c, const RemoteAsk& a, telemetry::EnergyMeter* meter,
                         const std::atomic<bool>* cancel) {
  RemoteOutcome out;
  out.completions = complete_all(c, make_requests(c, a), cancel);
  for (const Completion& comp : out.completions) {
    if (comp.failure == Failure::kCancelled) out.solve.cancelled = true;
    if (!comp.ok() && out.ok()) {
      out.failure = comp.failure;
      out.error = comp.error;
    }
  }
  if (!out.ok()) return out;

  // Paths in request order; times from the earliest request sent.
  const std::chrono::steady_clock::time_point t0 =
      std::min_element(out.completions.begin(), out.completions.end(),
                       [](const Completion& x, const Completion& y) { return x.t_sent < y.t_sent; })
          ->t_sent;
  double ttft = -1, e2e = 0;
  int64_t n_prompt = 0, n_out = 0;
  for (const Completion& comp : out.completions) {
    const double shift = std::chrono::duration<double, std::milli>(comp.t_sent - t0).count();
    for (eval::PathAnswer& p : paths_of(comp)) {
      p.finish_ms += shift;
      out.solve.paths.push_back(std::move(p));
    }
    if (comp.ttft_ms >= 0 && (ttft < 0 || comp.ttft_ms + shift < ttft)) ttft = comp.ttft_ms + shift;
    e2e = std::max(e2e, comp.e2e_ms + shift);
    if (comp.usage.prompt_tokens) n_prompt = std::max(n_prompt, *comp.usage.prompt_tokens);
    n_out += comp.output_tokens();
  }
  if (ttft < 0) ttft = e2e;  // no text at all: the whole request was "prefill"
  out.solve.n_prompt = n_prompt;
  out.solve.ttft_ms = ttft;
  out.solve.prefill_ms = ttft;  // the client sees no boundary inside TTFT (queue + prefill + first token)
  out.solve.decode_ms = e2e - ttft;
  out.solve.e2e_ms = e2e;
  if (meter != nullptr) {
    telemetry::PhaseWindows w;
    w.t_start = t0;
    w.prefill_ms = ttft;
    w.ttft_ms = ttft;
    w.e2e_ms = e2e;
    w.n_prefill_tokens = n_prompt;
    w.n_decode_tokens = n_out;
    w.n_counted_tokens = n_out;
    out.solve.energy = meter->phase_energy(w).to_json();
  } else {
    telemetry::PhaseEnergy none;
    none.source = "none";
    out.solve.energy = none.to_json();
  }
  return out;
}

}  // namespace er::client
