// The client backend: measures an engine that speaks the OpenAI-compatible API (llama.cpp's server,
// vLLM, SGLang, TensorRT Edge-LLM, edgereason serve) as edgereason measures its own engine.
//
// Every request streams (SSE). At the client, as vLLM's serving benchmark defines them:
//   TTFT  request sent -> first chunk carrying generated text (thinking or answer), any choice;
//   ITL   the gaps between successive text-carrying chunks (all choices, in arrival order);
//   E2E   request sent -> the end of the stream;
//   TPOT  (E2E - TTFT) / (output tokens - 1), output tokens from `usage` when the server sends it,
//         else the text chunks (one token each on the engines above).
// Reasoning text arrives as delta.reasoning_content (DeepSeek, llama.cpp, SGLang) or
// delta.reasoning (newer vLLM); a server that leaves <think>...</think> in the content is split at
// the client.
//
// Failures never throw and never read as zero: a refused connection, a timeout, an HTTP error, a
// malformed or truncated stream each come back as a Completion with `failure` and the reason.
// 429 and 503 are retried (bounded), honouring Retry-After.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/flavor.h"
#include "core/status.h"

namespace er::client {

// --backend: "local" (the in-process engine) or "openai:URL" (URL = http://host:port, optionally
// with a path prefix; a trailing /v1 is accepted and dropped). Bad: ${backend} named.
struct BackendSpec {
  bool remote = false;
  std::string url;          // scheme://host[:port], no trailing slash
  std::string path_prefix;  // "" or "/prefix" (before /v1)
  std::string text() const;  // "local" or "openai:URL"
};
Result<BackendSpec> parse_backend(std::string_view spec);

struct ClientOptions {
  BackendSpec backend;
  std::string model;        // the served model name ("" = the first of GET /v1/models)
  std::string api_key;      // sent as "Authorization: Bearer KEY" when set
  Flavor flavor = Flavor::kOpenAI;
  double timeout_s = 600;   // one request, first byte to last (each retry gets its own)
  double connect_timeout_s = 10;
  int max_retries = 3;      // further attempts after a 429 or 503
  double max_retry_wait_s = 30;  // a longer Retry-After is capped to this
};
// Ranges: ${timeout} > 0, ${max_retries} in [0, 100], the flavor's, the backend's.
Status validate_client_options(const ClientOptions& o);

struct ServerInfo {
  std::vector<std::string> models;  // GET /v1/models ids
  std::string version;              // "vllm 0.9.1", "edgereason 0.1.0", "llama.cpp b5000", or "unknown"
};

// One request: a chat (the server applies its chat template) or a plain completion.
struct CompletionRequest {
  bool chat = true;
  std::string prompt;  // the user's text (chat) or the raw prompt
  std::string system;  // chat: a system message when not empty
  int64_t max_tokens = 512;
  int n = 1;
  float temperature = 0.0f;
  float top_p = 1.0f;
  int32_t top_k = 0;   // 0 = not sent
  float min_p = 0.0f;  // 0 = not sent
  // Always sent where the flavor has it: llama.cpp's server defaults to 1.1, not off.
  float repeat_penalty = 1.0f;
  std::optional<uint64_t> seed;
  bool ignore_eos = false;
  nlohmann::json extra = nlohmann::json::object();  // merged into the body (policy_fields)
};

enum class Failure { kNone, kConnect, kTimeout, kHttp, kMalformed, kTruncated, kServerError, kCancelled };
const char* failure_name(Failure f);  // "", "connect", "timeout", "http", "malformed", "truncated", ...

struct Choice {
  std::string content;    // answer text
  std::string reasoning;  // thinking text
  int64_t content_chunks = 0, reasoning_chunks = 0;
  std::string finish_reason;  // "stop", "length", ... ("" when the stream ended without one)
  double finish_ms = -1;      // since the request was sent
};

struct Usage {
  std::optional<int64_t> prompt_tokens, completion_tokens, reasoning_tokens;
};

struct Completion {
  std::vector<Choice> choices;  // by index
  Usage usage;
  std::chrono::steady_clock::time_point t_sent{};
  double ttft_ms = -1;            // -1: no text arrived
  double e2e_ms = 0;
  std::vector<double> itl_ms;     // gaps between text chunks
  int http_status = 0;
  int attempts = 0;               // requests sent (1 + retries)
  double retry_wait_ms = 0;       // slept on Retry-After
  Failure failure = Failure::kNone;
  std::string error;              // the reason, for the record ("connection refused", "HTTP 500: ...")

  bool ok() const { return failure == Failure::kNone; }
  int64_t text_chunks() const;
  // usage.completion_tokens when the server sent it, else the text chunks.
  int64_t output_tokens() const;
  // (E2E - TTFT) / (output tokens per choice - 1); nullopt below 2 tokens.
  std::optional<double> tpot_ms() const;
};

// Splits "<think>...</think>answer" (a server that did not parse the reasoning) into the choice's
// reasoning and content; leaves a choice that already has reasoning text alone.
void split_think_tags(Choice& c);

class Client {
 public:
  // Checks the options, asks GET /v1/models (fills `model` when empty: the first id) and the
  // server's version. Errors: the backend unreachable or refusing (invalid: bad input).
  static Result<std::unique_ptr<Client>> open(const ClientOptions& o);

  // Sends one request and reads its stream. Thread-safe (a connection per call). `cancel`, when
  // set, stops the request (kCancelled).
  Completion complete(const CompletionRequest& r, const std::atomic<bool>* cancel = nullptr) const;

  // The request body complete() sends (tests, --dry-run).
  nlohmann::json request_body(const CompletionRequest& r) const;

  const ClientOptions& options() const { return o_; }
  const ServerInfo& info() const { return info_; }
  const std::string& model() const { return o_.model; }

 private:
  explicit Client(ClientOptions o) : o_(std::move(o)) {}
  ClientOptions o_;
  ServerInfo info_;
};

}  // namespace er::client
