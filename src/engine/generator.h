// Generator: one request end to end — prefill once, fork the prompt's KV into N paths, decode all
// live paths as one batch per step, sample each with its own seed, stop per path, time everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/forward.h"
#include "sampling/sampler.h"

namespace er::engine {

using TokenId = int32_t;
using Clock = std::chrono::steady_clock;

struct GenerateOptions {
  int64_t max_new_tokens = 256;  // per path
  int n_paths = 1;               // <= the context's n_seq
  bool ignore_eos = false;       // generate exactly max_new_tokens (benchmarks)
  sampling::SamplerConfig sampler;  // path p is seeded with sampler.seed + p
};

// Why a path stopped.
enum class StopReason { kNone, kEndOfGeneration, kMaxTokens, kContextFull, kStoppedByCaller };
const char* stop_reason_name(StopReason r);

struct PathResult {
  std::vector<TokenId> tokens;        // generated tokens (the end-of-generation token excluded)
  std::vector<float> logprobs;        // model log-probability of each token
  StopReason stop = StopReason::kNone;
  double last_token_ms = 0;           // since request start
};

struct GenerateResult {
  int64_t n_prompt = 0;
  std::vector<PathResult> paths;
  Clock::time_point t_start{};  // when generate() was called: the origin of the times below, so
                                // telemetry can attribute energy to [prefill] and [ttft, e2e]
  // Timings in milliseconds since the request started (the call to generate()).
  double prefill_ms = 0;   // prompt evaluation
  double ttft_ms = 0;      // until the first generated token was available
  double e2e_ms = 0;       // until the last path finished
  double decode_ms = 0;    // e2e - ttft
  int64_t n_decode_steps = 0;
  int64_t n_generated = 0;              // over all paths
  std::vector<double> token_times_ms;   // time of each decode step's tokens (step 0 = first token)
  uint64_t kv_bytes_read = 0;           // attention traffic over the decode steps
};

// Called for every generated token of every path as soon as it is sampled; return false to stop
// that path (e.g. Ctrl-C or a thinking policy).
using TokenCallback = std::function<bool(int path, TokenId token)>;

class Generator {
 public:
  explicit Generator(model::Context& ctx);

  // REQUIRES nothing; bad options or a prompt that does not fit give a Status naming the flag.
  Result<GenerateResult> generate(std::span<const TokenId> prompt, const GenerateOptions& opts,
                                  const TokenCallback& on_token = {});

 private:
  model::Context& ctx_;
  std::vector<model::BatchEntry> batch_;  // (max(n_seq, max_batch),)
};

}  // namespace er::engine
