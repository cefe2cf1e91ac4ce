// The OpenAI-compatible request and response bodies (docs/openapi.yaml): JSON -> session::Request,
// session::Outcome -> JSON, and the error object. Pure functions (no sockets), unit-tested.
//
// Field names are the ones clients already send: OpenAI's (max_tokens, n, temperature, ...),
// llama.cpp's thinking_budget_tokens and reasoning_format, vLLM's thinking_token_budget and
// `reasoning` delta, chat_template_kwargs.enable_thinking, reasoning_effort; and edgereason's
// extensions min_thinking_tokens, answer_budget_tokens, deadline_s, vote, early_stop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/generator.h"
#include "session/session.h"

namespace er::server {

enum class Endpoint { kChat, kCompletions };

// reasoning_effort: "low", "medium" and "high" are these thinking budgets; "none" is NoThink.
inline constexpr int64_t kEffortLowTokens = 256;
inline constexpr int64_t kEffortMediumTokens = 1024;
inline constexpr int64_t kEffortHighTokens = 4096;

struct ApiLimits {
  int max_n = 8;                    // n in [1, max_n]
  int64_t default_max_tokens = 512;  // when the request gives no max_tokens
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::kChat;
  session::Request req;
  bool stream = false;
  bool include_usage = false;        // stream_options.include_usage
  bool reasoning_in_content = false;  // reasoning_format: "none"
};

// Parses and checks a request body. Bad input is Status::invalid naming the JSON field as
// ${field} (param of the error object); the Session's own checks (ranges, conflicts, the prompt's
// length) come later and name library fields, which json_field() spells.
Result<ApiRequest> parse_request(Endpoint e, std::string_view body, const ApiLimits& limits);

// The JSON name of a library field (core/status.h ${field}) for this endpoint.
std::string json_field(std::string_view field, Endpoint e);

// {"error": {"message", "type", "param", "code"}} for a Status (fields spelled for `e`).
nlohmann::ordered_json error_body(const Status& s, Endpoint e, const char* type = "invalid_request_error");

// "stop" (end of generation, an answer budget, cancelled) or "length" (max_tokens, context full).
const char* finish_reason(engine::StopReason r);

// The whole (non-streaming) response.
nlohmann::ordered_json response_json(const ApiRequest& r, const session::Outcome& o, const std::string& id,
                                     int64_t created, const std::string& model);

// usage, timings and energy of an outcome (also the last chunks of a stream).
nlohmann::ordered_json usage_json(const session::Outcome& o);
nlohmann::ordered_json timings_json(const session::Outcome& o);
nlohmann::ordered_json energy_json(const session::Outcome& o);
nlohmann::ordered_json vote_json(const session::Outcome& o);

// One streamed chunk: a delta of path `index` (thinking text goes to reasoning_content and
// reasoning unless reasoning_in_content), or its finish (finish_reason set, empty delta).
nlohmann::ordered_json chunk_json(const ApiRequest& r, const std::string& id, int64_t created, const std::string& model,
                                  int index, std::string_view text, bool thinking, const char* finish = nullptr,
                                  bool role = false);

}  // namespace er::server
