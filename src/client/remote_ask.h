// One question asked of another engine, as the local Session asks its own: the thinking policy's
// prompt sentences and request fields, N paths (one request with `n` where the flavor takes it,
// else N concurrent requests voted at the client by eval's one rule), each path split into
// thinking and answer, the client-side timings, and the local power source's energy in the
// request's windows (the client runs on the device the engine runs on).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/openai_client.h"
#include "eval/runner.h"
#include "reasoning/reasoner.h"
#include "sampling/sampler.h"
#include "telemetry/energy_meter.h"

namespace er::client {

struct RemoteAsk {
  std::string prompt;  // the user's text (policy sentences are added here)
  std::string system;
  bool chat = true;
  reasoning::ThinkingOptions think;
  int n_paths = 1;
  int64_t max_tokens = 1024;  // per path
  sampling::SamplerConfig sampler;
  bool ignore_eos = false;
};

// Checks what the flavor cannot express (check_policy) and the ranges; invalid naming the field.
Status validate_remote_ask(const Client& c, const RemoteAsk& a);

// The request(s) for `a`: one with n = n_paths, or n_paths requests of n = 1 (seed + path each).
std::vector<CompletionRequest> make_requests(const Client& c, const RemoteAsk& a);

struct RemoteOutcome {
  std::vector<Completion> completions;  // as sent (one, or one per path)
  eval::SolveOutcome solve;             // paths, timings, energy: what eval records
  Failure failure = Failure::kNone;     // the first failed request's (the question is not graded)
  std::string error;
  bool ok() const { return failure == Failure::kNone; }
};

// Sends the request(s) (concurrently when several) and builds the outcome. `meter` may be null.
RemoteOutcome ask_remote(const Client& c, const RemoteAsk& a, telemetry::EnergyMeter* meter,
                         const std::atomic<bool>* cancel = nullptr);

// Sends the requests concurrently (one thread each beyond the first); results in order.
std::vector<Completion> complete_all(const Client& c, const std::vector<CompletionRequest>& reqs,
                                     const std::atomic<bool>* cancel = nullptr);

// One completion's choices as eval's paths (tokens from usage when one choice, else the stream's
// text chunks, which these engines send one token each).
std::vector<eval::PathAnswer> paths_of(const Completion& c);

}  // namespace er::client
