// Engine flavors: how each OpenAI-compatible engine spells the requests edgereason sends it (the
// thinking policy's fields, `n`, ignore_eos, the server's version) and what it cannot express.
//
// A policy a flavor cannot express is refused before anything runs (check_policy), never
// silently dropped: a budget sent to an engine that ignores it would measure unbudgeted thinking
// under the budget's name.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "reasoning/reasoner.h"

namespace er::client {

enum class Flavor {
  kLlamaCpp,    // llama.cpp's server (llama-server) and llama-cpp-python's llama_cpp.server
  kVllm,        // vLLM's OpenAI-compatible server
  kSglang,      // SGLang's
  kEdgereason,  // edgereason serve
  kOpenAI,      // the plain OpenAI API (TensorRT Edge-LLM's server, hosted APIs)
};

Result<Flavor> parse_flavor(std::string_view s);  // bad: ${flavor} named
const char* flavor_name(Flavor f);
std::string flavor_names();  // "llamacpp, vllm, sglang, edgereason, openai"

// What a flavor's server takes in a request.
struct FlavorCaps {
  bool n = true;            // n > 1 choices in one request (else the client sends n requests)
  bool ignore_eos = false;  // ignore_eos (fixed-length generations for bench)
  bool top_k = false;       // top_k, min_p (non-OpenAI sampling fields)
  bool seed = true;
  bool no_think = true;     // a NoThink policy (chat_template_kwargs.enable_thinking = false)
  bool think_budget = false;  // a thinking-token budget per request
  bool edgereason_ext = false;  // min_thinking_tokens, answer_budget_tokens, deadline_s, early_stop
};
FlavorCaps flavor_caps(Flavor f);

// Checks that `f` can express policy `t` for requests of `n_paths` paths; invalid naming the
// ${flavor} and what it lacks otherwise.
Status check_policy(Flavor f, const reasoning::ThinkingOptions& t);

// The request fields that carry policy `t` for flavor `f` (merged into the request body). Only
// valid after check_policy(f, t) succeeded.
nlohmann::json policy_fields(Flavor f, const reasoning::ThinkingOptions& t);

}  // namespace er::client
