// server/api: request bodies -> session::Request (types, ranges, thinking fields under the names
// clients send), the error object naming the field, and the response and chunk shapes.
#include <gtest/gtest.h>

#include <string>

#include "server/api.h"
#include "server/server.h"

namespace er::server {
namespace {

using nlohmann::json;

Status parse_error(Endpoint e, const std::string& body) {
  auto r = parse_request(e, body, ApiLimits{});
  return r.is_ok() ? Status::ok() : r.status();
}

std::string param_of(Endpoint e, const std::string& body) {
  const Status s = parse_error(e, body);
  EXPECT_FALSE(s.is_ok()) << body;
  EXPECT_TRUE(s.is_bad_input()) << body;
  const auto j = error_body(s, e);
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  return j["error"]["param"].is_null() ? std::string("<null>") : j["error"]["param"].get<std::string>();
}

const char* const kMsg = R"("messages":[{"role":"user","content":"hi"}])";

TEST(ServerApi, ChatRequestMapsOntoTheSession) {
  auto r = parse_request(Endpoint::kChat,
                         std::string("{") + kMsg +
                             R"(,"max_tokens":32,"temperature":0.5,"top_p":0.9,"top_k":20,"min_p":0.1,"seed":7,"n":3,)"
                             R"("stream":true,"stream_options":{"include_usage":true},"thinking_budget_tokens":64,)"
                             R"("answer_budget_tokens":16,"min_thinking_tokens":8,"vote":"weighted","early_stop":true,)"
                             R"("deadline_s":2.5,"model":"whatever","user":"ignored"})",
                         ApiLimits{});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->req.chat);
  ASSERT_EQ(r->req.messages.size(), 1u);
  EXPECT_EQ(r->req.gen.max_new_tokens, 32);
  EXPECT_EQ(r->req.gen.n_paths, 3);
  EXPECT_FLOAT_EQ(r->req.gen.sampler.temperature, 0.5f);
  EXPECT_EQ(r->req.gen.sampler.top_k, 20);
  EXPECT_EQ(r->req.gen.sampler.seed, 7u);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->req.think.think_budget, 64);
  EXPECT_EQ(r->req.think.answer_budget, 16);
  EXPECT_EQ(r->req.think.min_think, 8);
  EXPECT_EQ(r->req.think.deadline_s, 2.5);
  EXPECT_EQ(r->req.vote.mode, reasoning::VoteMode::kWeighted);
  EXPECT_TRUE(r->req.vote.early_stop);
}

TEST(ServerApi, ThinkingFieldsUnderEveryClientsName) {
  auto budget = [](const std::string& extra) {
    auto r = parse_request(Endpoint::kChat, std::string("{") + kMsg + "," + extra + "}", ApiLimits{});
    EXPECT_TRUE(r.is_ok()) << extra << ": " << r.status().message();
    return r.is_ok() ? r->req.think : reasoning::ThinkingOptions{};
  };
  EXPECT_EQ(budget(R"("thinking_token_budget":100)").think_budget, 100);   // vLLM
  EXPECT_EQ(budget(R"("thinking_budget_tokens":100)").think_budget, 100);  // llama.cpp
  EXPECT_FALSE(budget(R"("thinking_budget_tokens":-1)").think_budget);     // llama.cpp: unlimited
  EXPECT_TRUE(budget(R"("chat_template_kwargs":{"enable_thinking":false})").no_think);
  EXPECT_FALSE(budget(R"("chat_template_kwargs":{"enable_thinking":true})").no_think);
  EXPECT_TRUE(budget(R"("reasoning_effort":"none")").no_think);
  EXPECT_EQ(budget(R"("reasoning_effort":"low")").think_budget, kEffortLowTokens);
  EXPECT_EQ(budget(R"("reasoning_effort":"medium")").think_budget, kEffortMediumTokens);
  EXPECT_EQ(budget(R"("reasoning_effort":"high")").think_budget, kEffortHighTokens);
  auto r = parse_request(Endpoint::kChat, std::string("{") + kMsg + R"(,"reasoning_format":"none"})", ApiLimits{});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->reasoning_in_content);
}

// ignore_eos (vLLM's and llama.cpp's field) on both endpoints: the client backend's bench sends it.
TEST(ServerApi, IgnoreEosOnBothEndpoints) {
  auto chat = parse_request(Endpoint::kChat, std::string("{") + kMsg + R"(,"ignore_eos":true})", ApiLimits{});
  ASSERT_TRUE(chat.is_ok()) << chat.status().message();
  EXPECT_TRUE(chat->req.gen.ignore_eos);
  auto plain = parse_request(Endpoint::kCompletions, R"({"prompt":"hi","ignore_eos":true})", ApiLimits{});
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  EXPECT_TRUE(plain->req.gen.ignore_eos);
  auto off = parse_request(Endpoint::kCompletions, R"({"prompt":"hi"})", ApiLimits{});
  ASSERT_TRUE(off.is_ok());
  EXPECT_FALSE(off->req.gen.ignore_eos);
  EXPECT_EQ(param_of(Endpoint::kCompletions, R"({"prompt":"hi","ignore_eos":3})"), "ignore_eos");
}

TEST(ServerApi, BadRequestsNameTheField) {
  EXPECT_EQ(param_of(Endpoint::kChat, "{bad"), "<null>");
  EXPECT_EQ(param_of(Endpoint::kChat, "[1,2]"), "<null>");
  EXPECT_EQ(param_of(Endpoint::kChat, "{}"), "messages");
  EXPECT_EQ(param_of(Endpoint::kChat, R"({"messages":"hi"})"), "messages");
  EXPECT_EQ(param_of(Endpoint::kChat, R"({"messages":[{"content":"hi"}]})"), "messages[0].role");
  EXPECT_EQ(param_of(Endpoint::kChat, R"({"messages":[{"role":"user","content":5}]})"), "messages[0].content");
  // Found by the schemathesis fuzz: a part whose type is not a string.
  EXPECT_EQ(param_of(Endpoint::kChat, R"({"messages":[{"role":"system","content":[{"type":{},"text":""}]}]})"),
            "messages[0].content");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"n":0})"), "n");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"n":99})"), "n");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"n":"2"})"), "n");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"max_tokens":0})"), "max_tokens");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"max_tokens":1.5})"), "max_tokens");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"temperature":"hot"})"), "temperature");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"seed":-1})"), "seed");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"stream":"yes"})"), "stream");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"stop":["\n"]})"), "stop");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"reasoning_effort":"max"})"), "reasoning_effort");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"vote":"loudest"})"), "vote");
  EXPECT_EQ(param_of(Endpoint::kChat, std::string("{") + kMsg + R"(,"thinking_budget_tokens":5,"thinking_token_budget":6})"),
            "thinking_budget_tokens");
  EXPECT_EQ(param_of(Endpoint::kCompletions, R"({"prompt":7})"), "prompt");
  EXPECT_EQ(param_of(Endpoint::kCompletions, R"({"prompt":""})"), "prompt");
  EXPECT_EQ(param_of(Endpoint::kCompletions, R"({"prompt":"hi","thinking_budget_tokens":5})"), "<null>");
}

TEST(ServerApi, LibraryFieldsAreSpelledAsTheApiNamesThem) {
  // The session's checks name library fields; the error object spells them as the JSON keys.
  const auto j = error_body(Status::invalid("${min_think} 10 exceeds ${think_budget} 5"), Endpoint::kChat);
  EXPECT_EQ(j["error"]["message"], "min_thinking_tokens 10 exceeds thinking_budget_tokens 5");
  EXPECT_EQ(j["error"]["param"], "min_thinking_tokens");
  EXPECT_EQ(json_field("max_new_tokens", Endpoint::kChat), "max_tokens");
  EXPECT_EQ(json_field("n_paths", Endpoint::kChat), "n");
  EXPECT_EQ(json_field("no_think", Endpoint::kChat), "chat_template_kwargs.enable_thinking");
  EXPECT_EQ(json_field("prompt", Endpoint::kChat), "messages");
  EXPECT_EQ(json_field("prompt", Endpoint::kCompletions), "prompt");
  EXPECT_EQ(json_field("temperature", Endpoint::kChat), "temperature");
}

TEST(ServerApi, ChunksPutThinkingInReasoningFields) {
  ApiRequest r;
  auto c = chunk_json(r, "id", 1, "m", 2, "thought", true, nullptr, true);
  EXPECT_EQ(c["object"], "chat.completion.chunk");
  EXPECT_EQ(c["choices"][0]["index"], 2);
  EXPECT_EQ(c["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(c["choices"][0]["delta"]["reasoning_content"], "thought");
  EXPECT_EQ(c["choices"][0]["delta"]["reasoning"], "thought");
  EXPECT_FALSE(c["choices"][0]["delta"].contains("content"));
  r.reasoning_in_content = true;
  c = chunk_json(r, "id", 1, "m", 0, "thought", true);
  EXPECT_EQ(c["choices"][0]["delta"]["content"], "thought");
  EXPECT_FALSE(c["choices"][0]["delta"].contains("reasoning_content"));
  c = chunk_json(r, "id", 1, "m", 0, "", false, "length");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(c["choices"][0]["delta"].empty());
}

TEST(ServerExposure, NonLoopbackNeedsAKeyOrInsecure) {
  ServerOptions o;
  EXPECT_TRUE(check_exposure(o).is_ok());
  o.host = "0.0.0.0";
  const Status s = check_exposure(o);
  EXPECT_TRUE(s.is_bad_input());
  EXPECT_TRUE(s.names_field("api_key")) << s.message();
  o.api_key = "k";
  EXPECT_TRUE(check_exposure(o).is_ok());
  o.api_key.clear();
  o.insecure = true;
  EXPECT_TRUE(check_exposure(o).is_ok());
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_FALSE(is_loopback("192.168.1.2"));
}

}  // namespace
}  // namespace er::server
