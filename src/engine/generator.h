// Generator: one request end to end — prefill once, fork the prompt's KV into N paths, decode all
// live paths as one batch per step, sample each with its own seed, stop per path, time everything.
// A PathController may steer each path between steps: force tokens into it, take tokens back,
// ban tokens at its next sample, or end it (the thinking policies of src/reasoning do this).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/forward.h"
#include "sampling/sampler.h"

namespace er::engine {

using TokenId = int32_t;
using Clock = std::chrono::steady_clock;

// Speculative decoding's proposer (engine/speculative.h: a draft model, n-gram lookup): tokens
// likely to follow a path's sequence, verified by the target in the next decode step.
class Drafter {
 public:
  virtual ~Drafter() = default;
  // Once per request, after the prompt is in the target's KV.
  virtual Status begin(std::span<const int32_t> prompt, int n_paths) = 0;
  // Up to `k` tokens proposed to follow `history` (prompt and generated tokens) of path `path`,
  // each the proposer's single choice (a deterministic proposal), into `out` (cleared first).
  virtual Status propose(int path, std::span<const int32_t> history, int k, std::vector<int32_t>& out) = 0;
  // After each decode step of a greedy generation (only then: a sampled one's random draws depend
  // on the drafts, so its proposer must not adapt to timings if a seed is to reproduce it): the
  // step's logits rows (every live path's own row plus the drafts), the eval's wall time, and per
  // path proposed this step (path index order) how many drafts it verified and kept.
  struct StepOutcome {
    int64_t rows = 0;
    double eval_ms = 0;
    std::span<const int> paths, drafted, accepted;
  };
  virtual void observe(const StepOutcome&) {}
};

struct GenerateOptions {
  int64_t max_new_tokens = 256;  // per path
  int n_paths = 1;               // <= the context's n_seq
  bool ignore_eos = false;       // generate exactly max_new_tokens (benchmarks)
  sampling::SamplerConfig sampler;  // path p is seeded with sampler.seed + p
  // Speculative decoding: each step, each live path appends up to draft_max drafted tokens after
  // its pending inputs, every one in a row group of its own (model::BatchEntry::new_group, so
  // its logits have plain decoding's bits); the path then samples row by row and keeps the
  // drafts up to the first one its sample rejects (Sampler::sample_draft). Greedy output is
  // token-identical to plain decoding; sampled output has its distribution. null: plain decoding.
  Drafter* drafter = nullptr;
  int draft_max = 2;
};

// Why a path stopped.
enum class StopReason { kNone, kEndOfGeneration, kMaxTokens, kContextFull, kStoppedByCaller };
const char* stop_reason_name(StopReason r);

struct PathResult {
  std::vector<TokenId> tokens;        // generated tokens (the end-of-generation token excluded)
  std::vector<float> logprobs;        // model log-probability of each token (0 for forced ones)
  std::vector<uint8_t> forced;        // 1 where the token was forced by a PathController
  StopReason stop = StopReason::kNone;
  double last_token_ms = 0;           // since request start
  int64_t n_rolled_back = 0;          // tokens a controller took back
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
  int64_t n_generated = 0;              // tokens in the paths' outputs at the end, over all paths
  int64_t n_forced = 0;                 // of which forced by a controller
  std::vector<double> token_times_ms;   // time of each decode step's tokens (step 0 = first token)
  uint64_t kv_bytes_read = 0;           // attention traffic over the decode steps
  // Speculative decoding (GenerateOptions::drafter): tokens drafted and verified, and of those
  // accepted (kept in the output).
  int64_t n_drafted = 0;
  int64_t n_accepted = 0;
};

// Called for every sampled token of every path as soon as it is sampled; return false to stop
// that path (e.g. Ctrl-C). Not called for forced tokens.
using TokenCallback = std::function<bool(int path, TokenId token)>;

// What the model side of the decode loop needs: a batched forward pass with per-sequence KV.
// model::Context through ContextDecoder; tests use scripted fakes.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual int64_t n_ctx() const = 0;      // positions per sequence
  virtual int n_seq() const = 0;          // sequences (paths)
  virtual int64_t max_batch() const = 0;  // entries per eval
  virtual int32_t n_vocab() const = 0;
  virtual bool is_eog(TokenId t) const = 0;
  // As model::Context::eval: rows of logits for the entries with want_logits, in order.
  virtual Status eval(std::span<const model::BatchEntry> batch) = 0;
  virtual const float* logits(int64_t row) const = 0;
  virtual void clear(int seq) = 0;
  virtual void fork(int src, int dst, int64_t n_pos) = 0;
  virtual uint64_t last_kv_bytes_read() const { return 0; }
  // Logits rows one eval may return (at least n_seq): bounds a step's drafted tokens.
  virtual int64_t max_logits() const { return n_seq(); }
  // A hint: no eval follows soon and other threads need the CPU meanwhile (BatchHub, while the
  // requests sharing a pass sample their tokens); helper threads may stop spinning.
  virtual void idle() {}
};

class ContextDecoder final : public Decoder {
 public:
  explicit ContextDecoder(model::Context& ctx) : ctx_(ctx) {}
  int64_t n_ctx() const override { return ctx_.options().n_ctx; }
  int n_seq() const override { return ctx_.options().n_seq; }
  int64_t max_batch() const override { return ctx_.options().max_batch; }
  int32_t n_vocab() const override { return ctx_.model().tokenizer().n_vocab(); }
  bool is_eog(TokenId t) const override { return ctx_.model().tokenizer().is_eog(t); }
  Status eval(std::span<const model::BatchEntry> batch) override { return ctx_.eval(batch); }
  const float* logits(int64_t row) const override { return ctx_.logits(row); }
  void clear(int seq) override { ctx_.clear(seq); }
  void fork(int src, int dst, int64_t n_pos) override { ctx_.fork(src, dst, n_pos); }
  uint64_t last_kv_bytes_read() const override { return ctx_.last_kv_bytes_read(); }
  void idle() override { ctx_.pool().park(); }
  int64_t max_logits() const override {
    return std::max<int64_t>(ctx_.options().max_logits, ctx_.options().n_seq);
  }

 private:
  model::Context& ctx_;
};

// A controller's instruction for one path, applied in this order: take back `rollback` of the
// path's last tokens (from its output, its history and, by re-feeding, its KV), append `force`
// (fed to the model as the path's next inputs, never sampled), then end the path when `stop`.
// `force` must stay valid until the next call into the controller.
struct PathAction {
  int32_t rollback = 0;
  std::span<const TokenId> force;
  bool stop = false;
  StopReason reason = StopReason::kStoppedByCaller;
};

// Per-path steering of the decode loop. Every call is made from the thread running generate().
class PathController {
 public:
  virtual ~PathController() = default;
  // Once, when the prompt is in the KV (before the first sample).
  virtual void on_prefill(double prefill_ms) { (void)prefill_ms; }
  // Tokens path `path` must not sample at its next sample (an empty span: none).
  virtual std::span<const TokenId> banned(int path) {
    (void)path;
    return {};
  }
  // Path `path` sampled `token` with model log-probability `logprob`. A regular token has been
  // appended already; an end-of-generation token (`eog`, not with ignore_eos) has not, and the
  // path ends unless the action forces tokens (which then replace it).
  virtual PathAction on_token(int path, TokenId token, float logprob, bool eog) = 0;
  // Once per step, after every live path of the step was sampled; `now_ms` since the start.
  virtual void on_step(int64_t step, double now_ms) {
    (void)step;
    (void)now_ms;
  }
  // Before each step, for every live path (deadline re-check, early stop, cancel).
  virtual PathAction before_step(int path) {
    (void)path;
    return {};
  }
  // The path ended (for any reason).
  virtual void on_path_end(int path, StopReason reason) {
    (void)path;
    (void)reason;
  }
};

class Generator {
 public:
  explicit Generator(model::Context& ctx);
  explicit Generator(Decoder& dec);

  // REQUIRES nothing; bad options or a prompt that does not fit give a Status naming the flag.
  // `controller` (optional) steers the paths; without one the loop is the plain N-path decode.
  Result<GenerateResult> generate(std::span<const TokenId> prompt, const GenerateOptions& opts,
                                  const TokenCallback& on_token = {}, PathController* controller = nullptr);

 private:
  std::unique_ptr<Decoder> owned_;
  Decoder& dec_;
  std::vector<model::BatchEntry> batch_;  // (max(n_seq, max_batch),)
  std::vector<float> masked_;             // (n_vocab,) logits with a controller's bans applied
  std::vector<std::vector<TokenId>> drafts_;  // (n_paths,) this step's drafted tokens per path
  std::vector<int> obs_paths_, obs_drafted_, obs_accepted_;  // Drafter::observe's lists
};

}  // namespace er::engine
