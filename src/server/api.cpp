// Request parsing and response building for the OpenAI-compatible API (see api.h).
#include "server/api.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

namespace er::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

Status bad(const std::string& field, const std::string& rule) {
  return Status::invalid("${" + field + "} " + rule);
}

// A field of the body: absent or null gives nullopt; a value of the wrong type is bad input.
Result<std::optional<int64_t>> get_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return bad(key, "is too large");
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  if (it->is_number_float()) {  // 16.0 is an integer; 16.5 is not
    const double d = it->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return std::optional<int64_t>(static_cast<int64_t>(d));
  }
  return bad(key, "must be an integer");
}

Result<std::optional<double>> get_number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return bad(key, "must be a number");
  return std::optional<double>(it->get<double>());
}

Result<std::optional<bool>> get_bool(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return bad(key, "must be true or false");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::string>> get_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return bad(key, "must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts.
Result<std::string> message_content(const json& m, size_t i) {
  const std::string field = "messages[" + std::to_string(i) + "].content";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    std::string out;
    for (const json& part : *it) {
      const auto type = part.is_object() ? part.find("type") : part.end();
      const auto text = part.is_object() ? part.find("text") : part.end();
      if (!part.is_object() || type == part.end() || !type->is_string() || type->get<std::string>() != "text" ||
          text == part.end() || !text->is_string()) {
        return bad(field, "parts must be {\"type\": \"text\", \"text\": STRING} (only text is supported)");
      }
      out += text->get<std::string>();
    }
    return out;
  }
  return bad(field, "must be a string or an array of text parts");
}

Status parse_sampling(const json& j, const ApiLimits& limits, ApiRequest& out) {
  engine::GenerateOptions& g = out.req.gen;
  sampling::SamplerConfig& s = g.sampler;
  ER_ASSIGN_OR_RETURN(auto max_tokens, get_int(j, "max_tokens"));
  ER_ASSIGN_OR_RETURN(auto max_completion, get_int(j, "max_completion_tokens"));
  if (max_completion) max_tokens = max_completion;
  g.max_new_tokens = max_tokens.value_or(limits.default_max_tokens);
  if (g.max_new_tokens < 1) {
    return bad(max_completion ? "max_completion_tokens" : "max_tokens",
               "must be at least 1 (got " + std::to_string(g.max_new_tokens) + ")");
  }
  ER_ASSIGN_OR_RETURN(auto n, get_int(j, "n"));
  const int64_t nv = n.value_or(1);
  if (nv < 1 || nv > limits.max_n) {
    return bad("n", "must be in [1, " + std::to_string(limits.max_n) + "] (got " + std::to_string(nv) + ")");
  }
  g.n_paths = static_cast<int>(nv);
  ER_ASSIGN_OR_RETURN(auto temperature, get_number(j, "temperature"));
  if (temperature) s.temperature = static_cast<float>(*temperature);
  ER_ASSIGN_OR_RETURN(auto top_p, get_number(j, "top_p"));
  if (top_p) s.top_p = static_cast<float>(*top_p);
  ER_ASSIGN_OR_RETURN(auto min_p, get_number(j, "min_p"));
  if (min_p) s.min_p = static_cast<float>(*min_p);
  ER_ASSIGN_OR_RETURN(auto top_k, get_int(j, "top_k"));
  if (top_k) {
    if (*top_k < 0 || *top_k > INT32_MAX) return bad("top_k", "must be in [0, 2147483647] (0 = off)");
    s.top_k = static_cast<int32_t>(*top_k);
  }
  ER_ASSIGN_OR_RETURN(auto repeat_penalty, get_number(j, "repeat_penalty"));
  if (repeat_penalty) s.repeat_penalty = static_cast<float>(*repeat_penalty);
  ER_ASSIGN_OR_RETURN(auto seed, get_int(j, "seed"));
  if (seed) {
    if (*seed < 0) return bad("seed", "must be >= 0 (got " + std::to_string(*seed) + ")");
    s.seed = static_cast<uint64_t>(*seed);
  }
  // n > 1 with greedy decoding gives n identical paths: allowed (a client may want it), but the
  // default temperature is not greedy anyway.
  ER_ASSIGN_OR_RETURN(auto stream, get_bool(j, "stream"));
  out.stream = stream.value_or(false);
  if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return bad("stream_options", "must be an object");
    ER_ASSIGN_OR_RETURN(auto usage, get_bool(*it, "include_usage"));
    out.include_usage = usage.value_or(false);
  }
  if (auto it = j.find("stop"); it != j.end() && !it->is_null()) {
    const bool empty = (it->is_string() && it->get<std::string>().empty()) || (it->is_array() && it->empty());
    if (!empty) return bad("stop", "is not supported (generation ends at the model's end of turn or max_tokens)");
  }
  // vLLM's and llama.cpp's field: generate max_tokens whatever the model's end of turn (benchmarks).
  ER_ASSIGN_OR_RETURN(auto ignore_eos, get_bool(j, "ignore_eos"));
  out.req.gen.ignore_eos = ignore_eos.value_or(false);
  return Status::ok();
}

Status parse_thinking(const json& j, ApiRequest& out) {
  reasoning::ThinkingOptions& t = out.req.think;
  ER_ASSIGN_OR_RETURN(auto fmt, get_string(j, "reasoning_format"));
  if (fmt) {
    if (*fmt == "none") out.reasoning_in_content = true;
    else if (*fmt != "deepseek" && *fmt != "auto" && *fmt != "deepseek-legacy") {
      return bad("reasoning_format", "must be \"deepseek\" or \"none\" (got \"" + *fmt + "\")");
    }
  }
  ER_ASSIGN_OR_RETURN(auto budget, get_int(j, "thinking_budget_tokens"));
  ER_ASSIGN_OR_RETURN(auto vllm_budget, get_int(j, "thinking_token_budget"));
  if (budget && vllm_budget && *budget != *vllm_budget) {
    return bad("thinking_budget_tokens", "and ${thinking_token_budget} disagree (give one)");
  }
  if (!budget) budget = vllm_budget;
  // llama.cpp's convention: -1 = unlimited.
  if (budget && *budget != -1) t.think_budget = *budget;
  bool no_think = false;
  if (auto it = j.find("chat_template_kwargs"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return bad("chat_template_kwargs", "must be an object");
    auto e = it->find("enable_thinking");
    if (e != it->end() && !e->is_null()) {
      if (!e->is_boolean()) return bad("chat_template_kwargs.enable_thinking", "must be true or false");
      no_think = !e->get<bool>();
    }
  }
  ER_ASSIGN_OR_RETURN(auto effort, get_string(j, "reasoning_effort"));
  if (effort) {
    std::optional<int64_t> effort_budget;
    if (*effort == "none") {
      no_think = true;
    } else if (*effort == "low") {
      effort_budget = kEffortLowTokens;
    } else if (*effort == "medium") {
      effort_budget = kEffortMediumTokens;
    } else if (*effort == "high") {
      effort_budget = kEffortHighTokens;
    } else {
      return bad("reasoning_effort", "must be none, low, medium or high (got \"" + *effort + "\")");
    }
    if (effort_budget) {
      if (t.think_budget && *t.think_budget != *effort_budget) {
        return bad("reasoning_effort", "and ${thinking_budget_tokens} disagree (give one)");
      }
      t.think_budget = effort_budget;
    }
  }
  t.no_think = no_think;
  ER_ASSIGN_OR_RETURN(auto min_think, get_int(j, "min_thinking_tokens"));
  if (min_think) t.min_think = *min_think;
  ER_ASSIGN_OR_RETURN(auto answer_budget, get_int(j, "answer_budget_tokens"));
  if (answer_budget) t.answer_budget = *answer_budget;
  ER_ASSIGN_OR_RETURN(auto deadline, get_number(j, "deadline_s"));
  if (deadline) t.deadline_s = *deadline;
  ER_ASSIGN_OR_RETURN(auto vote, get_string(j, "vote"));
  if (vote) {
    if (*vote == "majority") out.req.vote.mode = reasoning::VoteMode::kMajority;
    else if (*vote == "weighted") out.req.vote.mode = reasoning::VoteMode::kWeighted;
    else return bad("vote", "must be majority or weighted (got \"" + *vote + "\")");
  }
  ER_ASSIGN_OR_RETURN(auto early, get_bool(j, "early_stop"));
  out.req.vote.early_stop = early.value_or(false);
  return Status::ok();
}

bool any_thinking_field(const json& j) {
  for (const char* k : {"thinking_budget_tokens", "thinking_token_budget", "chat_template_kwargs", "reasoning_effort",
                        "min_thinking_tokens", "answer_budget_tokens", "deadline_s"}) {
    if (auto it = j.find(k); it != j.end() && !it->is_null()) return true;
  }
  return false;
}

ordered_json nullable(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }

}  // namespace

namespace {
Result<ApiRequest> parse_request_unguarded(Endpoint e, std::string_view body, const ApiLimits& limits);
}  // namespace

Result<ApiRequest> parse_request(Endpoint e, std::string_view body, const ApiLimits& limits) {
  // Every access above checks its type first; a JSON exception here is a bug, reported as bad
  // input rather than a failed server.
  try {
    return parse_request_unguarded(e, body, limits);
  } catch (const nlohmann::json::exception& ex) {
    return Status::invalid(std::string("malformed request: ") + ex.what());
  }
}

namespace {
Result<ApiRequest> parse_request_unguarded(Endpoint e, std::string_view body, const ApiLimits& limits) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid("the request body is not valid JSON");
  if (!j.is_object()) return Status::invalid("the request body must be a JSON object");
  ApiRequest out;
  out.endpoint = e;
  ER_ASSIGN_OR_RETURN(auto model, get_string(j, "model"));
  (void)model;  // one model per server: any name is accepted (clients always send one)
  if (e == Endpoint::kChat) {
    auto it = j.find("messages");
    if (it == j.end() || it->is_null()) return bad("messages", "is required");
    if (!it->is_array() || it->empty()) return bad("messages", "must be a non-empty array");
    out.req.chat = true;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      if (!m.is_object()) return bad("messages[" + std::to_string(i) + "]", "must be an object");
      ER_ASSIGN_OR_RETURN(auto role, get_string(m, "role"));
      if (!role) return bad("messages[" + std::to_string(i) + "].role", "is required");
      ER_ASSIGN_OR_RETURN(std::string content, message_content(m, i));
      // "developer" is OpenAI's newer name for the system role.
      out.req.messages.push_back({*role == "developer" ? "system" : *role, std::move(content)});
    }
    ER_RETURN_IF_ERROR(parse_thinking(j, out));
  } else {
    auto it = j.find("prompt");
    if (it == j.end() || it->is_null()) return bad("prompt", "is required");
    if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      out.req.prompt = (*it)[0].get<std::string>();
    } else if (it->is_string()) {
      out.req.prompt = it->get<std::string>();
    } else {
      return bad("prompt", "must be a string (or an array of one string)");
    }
    if (out.req.prompt.empty()) return bad("prompt", "is empty");
    if (any_thinking_field(j)) {
      return Status::invalid("thinking controls are taken by /v1/chat/completions only (the chat template applies them)");
    }
    ER_ASSIGN_OR_RETURN(auto fmt, get_string(j, "reasoning_format"));
    (void)fmt;
  }
  ER_RETURN_IF_ERROR(parse_sampling(j, limits, out));
  return out;
}
}  // namespace

std::string json_field(std::string_view field, Endpoint e) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"max_new_tokens", "max_tokens"},
      {"n_paths", "n"},
      {"think_budget", "thinking_budget_tokens"},
      {"no_think", "chat_template_kwargs.enable_thinking"},
      {"min_think", "min_thinking_tokens"},
      {"answer_budget", "answer_budget_tokens"},
      {"deadline_step_s", "deadline_s"},
      {"deadline_step_per_ctx_s", "deadline_s"},
      {"n_ctx", "the server's context (serve -c)"},
  };
  if (field == "prompt") return e == Endpoint::kChat ? "messages" : "prompt";
  for (const auto& [lib, name] : kNames) {
    if (lib == field) return std::string(name);
  }
  return std::string(field);
}

ordered_json error_body(const Status& s, Endpoint e, const char* type) {
  const Status spelled = s.renamed([e](std::string_view f) { return json_field(f, e); });
  const std::string field = s.first_field();
  ordered_json err;
  err["message"] = spelled.message();
  err["type"] = type;
  err["param"] = field.empty() ? ordered_json(nullptr) : ordered_json(json_field(field, e));
  err["code"] = nullptr;
  return ordered_json{{"error", std::move(err)}};
}

const char* finish_reason(engine::StopReason r) {
  switch (r) {
    case engine::StopReason::kMaxTokens:
    case engine::StopReason::kContextFull:
      return "length";
    default:
      return "stop";
  }
}

ordered_json usage_json(const session::Outcome& o) {
  int64_t completion = 0, reasoning = 0;
  for (const engine::PathResult& p : o.result.gen.paths) completion += static_cast<int64_t>(p.tokens.size());
  for (const reasoning::PathOutcome& p : o.result.paths) reasoning += p.thinking_tokens;
  return ordered_json{{"prompt_tokens", o.n_prompt},
                      {"completion_tokens", completion},
                      {"total_tokens", o.n_prompt + completion},
                      {"completion_tokens_details", {{"reasoning_tokens", reasoning}}}};
}

ordered_json timings_json(const session::Outcome& o) {
  const engine::GenerateResult& g = o.result.gen;
  size_t longest = 0;
  for (const engine::PathResult& p : g.paths) longest = std::max(longest, p.tokens.size());
  const double tpot = longest > 1 ? g.decode_ms / static_cast<double>(longest - 1) : 0.0;
  return ordered_json{{"prompt_ms", g.prefill_ms}, {"ttft_ms", g.ttft_ms},   {"decode_ms", g.decode_ms},
                      {"tpot_ms", tpot},          {"e2e_ms", g.e2e_ms},     {"queue_ms", o.queue_ms}};
}

ordered_json energy_json(const session::Outcome& o) {
  const telemetry::PhaseEnergy& e = o.energy;
  return ordered_json{{"source", e.source},
                      {"prefill_j", nullable(e.prefill_j)},
                      {"decode_j", nullable(e.decode_j)},
                      {"estimated", e.estimated},
                      {"concurrent_requests", o.concurrent}};
}

ordered_json vote_json(const session::Outcome& o) {
  const reasoning::VoteResult& v = o.result.vote;
  ordered_json tally = ordered_json::array();
  for (const auto& [key, votes] : v.tally) {
    // Majority counts votes (integers); weighted sums probabilities.
    if (v.mode == reasoning::VoteMode::kMajority) tally.push_back({key, static_cast<int64_t>(std::llround(votes))});
    else tally.push_back({key, votes});
  }
  return ordered_json{{"mode", v.mode == reasoning::VoteMode::kWeighted ? "weighted" : "majority"},
                      {"winner", v.winner ? ordered_json(*v.winner) : ordered_json(nullptr)},
                      {"winner_index", v.winner_path},
                      {"tally", std::move(tally)},
                      {"early_stopped", v.early_stopped}};
}

ordered_json response_json(const ApiRequest& r, const session::Outcome& o, const std::string& id, int64_t created,
                           const std::string& model) {
  ordered_json choices = ordered_json::array();
  const bool split = o.format.split && !r.reasoning_in_content;
  for (size_t i = 0; i < o.result.paths.size(); ++i) {
    const reasoning::PathOutcome& p = o.result.paths[i];
    const std::string& whole = i < o.texts.size() ? o.texts[i] : p.text;
    ordered_json c;
    c["index"] = static_cast<int>(i);
    if (r.endpoint == Endpoint::kChat) {
      ordered_json m;
      m["role"] = "assistant";
      m["content"] = split ? p.answer_text : whole;
      const ordered_json thinking = split ? ordered_json(p.thinking_text) : ordered_json(nullptr);
      m["reasoning_content"] = thinking;
      m["reasoning"] = thinking;
      c["message"] = std::move(m);
    } else {
      c["text"] = whole;
    }
    c["finish_reason"] = i < o.result.gen.paths.size() ? finish_reason(o.result.gen.paths[i].stop) : "stop";
    choices.push_back(std::move(c));
  }
  ordered_json j;
  j["id"] = id;
  j["object"] = r.endpoint == Endpoint::kChat ? "chat.completion" : "text_completion";
  j["created"] = created;
  j["model"] = model;
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(o);
  j["timings"] = timings_json(o);
  j["energy"] = energy_json(o);
  if (o.result.paths.size() > 1) j["vote"] = vote_json(o);
  if (!o.speculative.is_null()) j["speculative"] = o.speculative;  // serve --spec / --draft
  return j;
}

ordered_json chunk_json(const ApiRequest& r, const std::string& id, int64_t created, const std::string& model, int index,
                        std::string_view text, bool thinking, const char* finish, bool role) {
  ordered_json c;
  c["index"] = index;
  if (r.endpoint == Endpoint::kChat) {
    ordered_json d = ordered_json::object();
    if (role) d["role"] = "assistant";
    if (!text.empty()) {
      if (thinking && !r.reasoning_in_content) {
        d["reasoning_content"] = text;
        d["reasoning"] = text;
      } else {
        d["content"] = text;
      }
    }
    c["delta"] = std::move(d);
  } else {
    c["text"] = text;
  }
  c["finish_reason"] = finish != nullptr ? ordered_json(finish) : ordered_json(nullptr);
  ordered_json j;
  j["id"] = id;
  j["object"] = r.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion";
  j["created"] = created;
  j["model"] = model;
  j["choices"] = ordered_json::array({std::move(c)});
  return j;
}

}  // namespace er::server
