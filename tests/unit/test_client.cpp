// The client backend against a scripted fake OpenAI-compatible server (cpp-httplib, in-process):
// the stream parsed into thinking and answer, usage and timings; every fault (refused connection,
// timeout, HTTP error, malformed and truncated streams, 429/503 with Retry-After) recorded with its
// reason; the flavors' request fields and refusals; eval's "failed" records and their resume.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include "client/flavor.h"
#include "client/load.h"
#include "client/openai_client.h"
#include "client/remote_ask.h"
#include "eval/runner.h"

namespace er::client {
namespace {

using nlohmann::json;

std::string sse(const json& j) { return "data: " + j.dump() + "\n\n"; }

json delta_chunk(const std::string& field, const std::string& text, int index = 0) {
  return {{"id", "c1"},
          {"object", "chat.completion.chunk"},
          {"choices", json::array({{{"index", index}, {"delta", {{field, text}}}, {"finish_reason", nullptr}}})}};
}

json finish_chunk(const std::string& reason, int index = 0) {
  return {{"id", "c1"}, {"choices", json::array({{{"index", index}, {"delta", json::object()}, {"finish_reason", reason}}})}};
}

json usage_chunk(int prompt, int completion, int reasoning) {
  return {{"id", "c1"},
          {"choices", json::array()},
          {"usage",
           {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"completion_tokens_details", {{"reasoning_tokens", reasoning}}}}}};
}

// A fake server on a free loopback port; `chat` answers POST /v1/chat/completions.
class FakeServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  explicit FakeServer(Handler chat) : chat_(std::move(chat)) {
    srv_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})", "application/json");
    });
    srv_.Get("/version", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"version":"9.9.9"})", "application/json");
    });
    srv_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        bodies_.push_back(json::parse(req.body, nullptr, false));
      }
      chat_(req, res);
    });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    srv_.stop();
    thread_.join();
  }
  std::string url() const { return "openai:http://127.0.0.1:" + std::to_string(port_); }
  std::vector<json> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  httplib::Server srv_;
  Handler chat_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<json> bodies_;
};

// Answers with a fixed event stream.
FakeServer::Handler stream_of(std::string events) {
  return [events](const httplib::Request&, httplib::Response& res) { res.set_content(events, "text/event-stream"); };
}

std::string good_stream() {
  return sse(delta_chunk("reasoning_content", "Let me ")) + sse(delta_chunk("reasoning_content", "think.")) +
         sse(delta_chunk("content", "The answer ")) + sse(delta_chunk("content", "is 42.")) + sse(finish_chunk("stop")) +
         sse(usage_chunk(10, 5, 2)) + "data: [DONE]\n\n";
}

std::unique_ptr<Client> open_client(const FakeServer& s, Flavor f = Flavor::kVllm, double timeout_s = 5) {
  ClientOptions o;
  auto b = parse_backend(s.url());
  EXPECT_TRUE(b.is_ok());
  o.backend = *b;
  o.flavor = f;
  o.timeout_s = timeout_s;
  o.max_retry_wait_s = 1;
  auto c = Client::open(o);
  EXPECT_TRUE(c.is_ok()) << c.status().message();
  return std::move(c).value();
}

CompletionRequest question(const std::string& text) {
  CompletionRequest r;
  r.prompt = text;
  r.max_tokens = 16;
  return r;
}

TEST(ClientBackend, ParsesBackendSpecs) {
  auto b = parse_backend("openai:http://127.0.0.1:8000/v1");
  ASSERT_TRUE(b.is_ok());
  EXPECT_TRUE(b->remote);
  EXPECT_EQ(b->url, "http://127.0.0.1:8000");
  EXPECT_EQ(b->path_prefix, "");
  auto p = parse_backend("openai:http://host:9/proxy/v1/");
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->url, "http://host:9");
  EXPECT_EQ(p->path_prefix, "/proxy");
  auto l = parse_backend("local");
  ASSERT_TRUE(l.is_ok());
  EXPECT_FALSE(l->remote);
  for (const char* bad : {"", "vllm", "openai:", "openai:ftp://x", "openai:http://", "http://x:1"}) {
    auto r = parse_backend(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_NE(r.status().message().find("backend"), std::string::npos) << r.status().message();
    }
  }
}

TEST(ClientBackend, OpensAndReadsTheModelAndVersion) {
  FakeServer s(stream_of(good_stream()));
  auto c = open_client(s);
  EXPECT_EQ(c->model(), "fake-model");
  EXPECT_EQ(c->info().version, "9.9.9");
}

TEST(ClientBackend, StreamsThinkingAnswerUsageAndTimings) {
  FakeServer s(stream_of(good_stream()));
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  ASSERT_TRUE(out.ok()) << out.error;
  ASSERT_EQ(out.choices.size(), 1u);
  EXPECT_EQ(out.choices[0].reasoning, "Let me think.");
  EXPECT_EQ(out.choices[0].content, "The answer is 42.");
  EXPECT_EQ(out.choices[0].finish_reason, "stop");
  EXPECT_EQ(out.usage.prompt_tokens.value_or(-1), 10);
  EXPECT_EQ(out.usage.completion_tokens.value_or(-1), 5);
  EXPECT_EQ(out.usage.reasoning_tokens.value_or(-1), 2);
  EXPECT_EQ(out.text_chunks(), 4);
  EXPECT_EQ(out.itl_ms.size(), 3u);  // gaps between the 4 text chunks
  EXPECT_GE(out.ttft_ms, 0);
  EXPECT_GE(out.e2e_ms, out.ttft_ms);
  ASSERT_TRUE(out.tpot_ms().has_value());
  EXPECT_NEAR(*out.tpot_ms(), (out.e2e_ms - out.ttft_ms) / 4.0, 1e-9);  // usage: 5 tokens
  const auto paths = paths_of(out);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0].thinking_tokens, 2);
  EXPECT_EQ(paths[0].answer_tokens, 3);
  EXPECT_EQ(paths[0].stop, "eos");
}

TEST(ClientBackend, SplitsThinkTagsLeftInTheContent) {
  FakeServer s(stream_of(sse(delta_chunk("content", "<think>abc")) + sse(delta_chunk("content", "</think>\n\nAnswer: 7")) +
                         sse(finish_chunk("length")) + "data: [DONE]\n\n"));
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.choices[0].reasoning, "abc");
  EXPECT_EQ(out.choices[0].content, "Answer: 7");
  EXPECT_EQ(paths_of(out)[0].stop, "length");
}

TEST(ClientBackend, ReadsSeveralChoices) {
  FakeServer s(stream_of(sse(delta_chunk("content", "A", 0)) + sse(delta_chunk("content", "B", 1)) +
                         sse(delta_chunk("content", "B", 1)) + sse(finish_chunk("stop", 1)) + sse(finish_chunk("stop", 0)) +
                         "data: [DONE]\n\n"));
  auto c = open_client(s);
  CompletionRequest r = question("q");
  r.n = 2;
  const Completion out = c->complete(r);
  ASSERT_TRUE(out.ok()) << out.error;
  ASSERT_EQ(out.choices.size(), 2u);
  EXPECT_EQ(out.choices[0].content, "A");
  EXPECT_EQ(out.choices[1].content, "BB");
  EXPECT_EQ(s.bodies().at(0).value("n", 0), 2);
}

TEST(ClientBackend, RefusedConnectionIsAFailureWithItsReason) {
  // A port that was free a moment ago: bound, read and closed, so nothing listens there.
  int port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  ClientOptions o;
  o.backend = *parse_backend("openai:http://127.0.0.1:" + std::to_string(port));
  auto c = Client::open(o);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("cannot reach"), std::string::npos) << c.status().message();
}

TEST(ClientBackend, ServerGoneMidRunIsAConnectFailure) {
  auto s = std::make_unique<FakeServer>(stream_of(good_stream()));
  auto c = open_client(*s);
  s.reset();
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kConnect) << out.error;
  EXPECT_FALSE(out.error.empty());
}

TEST(ClientBackend, HttpErrorCarriesTheServersMessage) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"error":{"message":"out of KV cache","type":"server_error"}})", "application/json");
  });
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kHttp);
  EXPECT_EQ(out.http_status, 500);
  EXPECT_NE(out.error.find("out of KV cache"), std::string::npos) << out.error;
  EXPECT_EQ(out.attempts, 1);  // 500 is not retried
}

TEST(ClientBackend, RetriesA429HonouringRetryAfter) {
  std::atomic<int> calls{0};
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    if (calls.fetch_add(1) == 0) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"error":"busy"})", "application/json");
      return;
    }
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.attempts, 2);
  EXPECT_NEAR(out.retry_wait_ms, 1000, 1);  // Retry-After: 1 (capped at max_retry_wait_s = 1)
}

TEST(ClientBackend, RetriesAreBounded) {
  std::atomic<int> calls{0};
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    calls.fetch_add(1);
    res.status = 503;
    res.set_header("Retry-After", "0");
    res.set_content("overloaded", "text/plain");
  });
  ClientOptions o;
  o.backend = *parse_backend(s.url());
  o.max_retries = 2;
  auto c = Client::open(o);
  ASSERT_TRUE(c.is_ok());
  const Completion out = (*c)->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kHttp);
  EXPECT_EQ(out.http_status, 503);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(calls.load(), 3);
}

TEST(ClientBackend, MalformedStreamIsRecognised) {
  FakeServer s(stream_of(sse(delta_chunk("content", "ok")) + "data: {not json\n\n" + "data: [DONE]\n\n"));
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kMalformed) << out.error;
  EXPECT_FALSE(out.error.empty());
}

TEST(ClientBackend, TruncatedStreamIsRecognised) {
  FakeServer s(stream_of(sse(delta_chunk("content", "The answer")) + sse(delta_chunk("content", " is"))));
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kTruncated) << out.error;
}

TEST(ClientBackend, ErrorEventInTheStreamIsAServerError) {
  FakeServer s(stream_of(sse(delta_chunk("content", "x")) + sse(json{{"error", {{"message", "engine died"}}}})));
  auto c = open_client(s);
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kServerError) << out.error;
  EXPECT_NE(out.error.find("engine died"), std::string::npos) << out.error;
}

TEST(ClientBackend, SlowServerTimesOut) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s, Flavor::kVllm, 0.3);
  const Completion out = c->complete(question("q"));
  EXPECT_EQ(out.failure, Failure::kTimeout) << out.error;
  EXPECT_LT(out.e2e_ms, 1400);
}

TEST(ClientBackend, FlavorsSpellThePolicy) {
  reasoning::ThinkingOptions t;
  t.think_budget = 128;
  EXPECT_EQ(policy_fields(Flavor::kVllm, t).value("thinking_token_budget", 0), 128);
  EXPECT_EQ(policy_fields(Flavor::kLlamaCpp, t).value("thinking_budget_tokens", 0), 128);
  const json e = policy_fields(Flavor::kEdgereason, t);
  EXPECT_EQ(e.value("thinking_budget_tokens", 0), 128);
  EXPECT_EQ(e.value("answer_budget_tokens", 0), 256);
  EXPECT_TRUE(check_policy(Flavor::kVllm, t).is_ok());
  EXPECT_FALSE(check_policy(Flavor::kOpenAI, t).is_ok());
  EXPECT_FALSE(check_policy(Flavor::kSglang, t).is_ok());

  reasoning::ThinkingOptions nt;
  nt.no_think = true;
  EXPECT_EQ(policy_fields(Flavor::kSglang, nt)["chat_template_kwargs"]["enable_thinking"], false);
  EXPECT_EQ(policy_fields(Flavor::kOpenAI, nt).value("reasoning_effort", ""), "none");

  reasoning::ThinkingOptions s1;
  s1.min_think = 64;
  const Status st = check_policy(Flavor::kVllm, s1);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("min_think"), std::string::npos) << st.message();
  EXPECT_TRUE(check_policy(Flavor::kEdgereason, s1).is_ok());
}

TEST(ClientBackend, RequestBodiesFollowTheFlavor) {
  FakeServer s(stream_of(good_stream()));
  CompletionRequest r = question("q");
  r.top_k = 40;
  r.ignore_eos = true;
  r.seed = 7;
  {
    auto c = open_client(s, Flavor::kOpenAI);
    const json b = c->request_body(r);
    EXPECT_EQ(b.value("max_completion_tokens", 0), 16);
    EXPECT_FALSE(b.contains("top_k"));
    EXPECT_FALSE(b.contains("ignore_eos"));
    EXPECT_TRUE(b["stream"].get<bool>());
    EXPECT_TRUE(b["stream_options"]["include_usage"].get<bool>());
  }
  {
    auto c = open_client(s, Flavor::kVllm);
    const json b = c->request_body(r);
    EXPECT_EQ(b.value("max_tokens", 0), 16);
    EXPECT_EQ(b.value("top_k", 0), 40);
    EXPECT_TRUE(b.value("ignore_eos", false));
    EXPECT_EQ(b.value("seed", 0), 7);
    EXPECT_EQ(b.value("model", ""), "fake-model");
  }
}

TEST(ClientBackend, PathsAreOneRequestWithNOrNRequests) {
  FakeServer s(stream_of(good_stream()));
  RemoteAsk a;
  a.prompt = "2+2?";
  a.n_paths = 3;
  a.sampler.seed = 10;
  a.think.l1 = 100;
  {
    auto c = open_client(s, Flavor::kVllm);
    const auto reqs = make_requests(*c, a);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].n, 3);
    EXPECT_NE(reqs[0].prompt.find("Think for 100 tokens."), std::string::npos) << reqs[0].prompt;
  }
  {
    auto c = open_client(s, Flavor::kLlamaCpp);  // no `n`: three requests, seeds 10, 11, 12
    const auto reqs = make_requests(*c, a);
    ASSERT_EQ(reqs.size(), 3u);
    for (size_t p = 0; p < 3; ++p) {
      EXPECT_EQ(reqs[p].n, 1);
      EXPECT_EQ(reqs[p].seed.value_or(0), 10 + p);
    }
    const RemoteOutcome out = ask_remote(*c, a, nullptr);
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_EQ(out.solve.paths.size(), 3u);
    EXPECT_EQ(out.completions.size(), 3u);
    EXPECT_EQ(out.solve.n_prompt, 10);
    EXPECT_GE(out.solve.e2e_ms, out.solve.ttft_ms);
    EXPECT_EQ(out.solve.energy.value("source", ""), "none");
  }
}

TEST(ClientBackend, AFailedPathFailsTheQuestion) {
  std::atomic<int> calls{0};
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    if (calls.fetch_add(1) == 1) {
      res.status = 500;
      res.set_content("boom", "text/plain");
      return;
    }
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s, Flavor::kLlamaCpp);
  RemoteAsk a;
  a.prompt = "q";
  a.n_paths = 2;
  const RemoteOutcome out = ask_remote(*c, a, nullptr);
  EXPECT_EQ(out.failure, Failure::kHttp);
  EXPECT_NE(out.error.find("boom"), std::string::npos) << out.error;
}

TEST(ClientLoad, ClosedLoopCountsThroughputPercentilesAndGoodput) {
  std::atomic<int> in_flight{0}, peak{0};
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    --in_flight;
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s);
  LoadOptions o;
  o.concurrency = 2;
  o.num_requests = 6;
  o.slo_ttft_ms = 60000;  // every request meets it
  const LoadResult r = run_load(*c, [](int64_t) { return question("q"); }, o);
  EXPECT_EQ(r.n_sent, 6);
  EXPECT_EQ(r.n_completed, 6);
  EXPECT_EQ(r.n_failed, 0);
  EXPECT_LE(peak.load(), 2);  // never more than K in flight
  EXPECT_EQ(r.output_tokens, 6 * 5);  // usage.completion_tokens
  EXPECT_EQ(r.input_tokens, 6 * 10);
  EXPECT_GT(r.duration_s, 0.05);
  EXPECT_NEAR(r.request_throughput, 6 / r.duration_s, 1e-9);
  EXPECT_NEAR(r.output_throughput, 30 / r.duration_s, 1e-9);
  EXPECT_EQ(r.ttft_ms.n, 6);
  EXPECT_LE(r.ttft_ms.p50, r.ttft_ms.p99);
  EXPECT_EQ(r.itl_ms.n, 6 * 3);
  ASSERT_TRUE(r.goodput.has_value());
  EXPECT_EQ(r.n_good, 6);
  EXPECT_NE(r.to_text().find("Request goodput"), std::string::npos);
  // An SLO nobody meets: goodput 0, throughput unchanged.
  o.slo_ttft_ms = 1e-6;
  const LoadResult strict = run_load(*c, [](int64_t) { return question("q"); }, o);
  EXPECT_EQ(strict.n_good, 0);
  EXPECT_EQ(*strict.goodput, 0.0);
}

TEST(ClientLoad, PoissonArrivalsAndFailuresByKind) {
  std::atomic<int> calls{0};
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    if (calls.fetch_add(1) % 2 == 1) {
      res.status = 500;
      res.set_content("boom", "text/plain");
      return;
    }
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s);
  LoadOptions o;
  o.request_rate = 200;  // about 5 ms apart
  o.num_requests = 6;
  const LoadResult r = run_load(*c, [](int64_t) { return question("q"); }, o);
  EXPECT_EQ(r.n_sent, 6);
  EXPECT_EQ(r.n_completed, 3);
  EXPECT_EQ(r.n_failed, 3);
  EXPECT_EQ(r.failures.at("http"), 3);
  EXPECT_NE(r.first_error.find("boom"), std::string::npos);
  EXPECT_FALSE(r.goodput.has_value());
  EXPECT_NE(r.to_text().find("Failed requests:                  3"), std::string::npos) << r.to_text();
}

TEST(ClientLoad, BoundedByTime) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    res.set_content(good_stream(), "text/event-stream");
  });
  auto c = open_client(s);
  LoadOptions o;
  o.concurrency = 1;
  o.num_requests = 1000;
  o.max_duration_s = 0.2;
  const LoadResult r = run_load(*c, [](int64_t) { return question("q"); }, o);
  EXPECT_GE(r.n_sent, 1);
  EXPECT_LE(r.n_sent, 6);
  EXPECT_EQ(r.n_completed, r.n_sent);
}

TEST(ClientLoad, OptionsAreChecked) {
  LoadOptions o;
  EXPECT_FALSE(validate_load_options(o).is_ok());  // neither K nor R
  o.concurrency = 2;
  EXPECT_TRUE(validate_load_options(o).is_ok());
  o.num_requests = 0;
  EXPECT_FALSE(validate_load_options(o).is_ok());
  o.num_requests = 4;
  o.request_rate = -1;
  EXPECT_FALSE(validate_load_options(o).is_ok());
  o.request_rate = 0;
  o.slo_tpot_ms = 0;
  EXPECT_FALSE(validate_load_options(o).is_ok());
}

// eval: a failed question gets a "failed" record with the reason, is not graded, and --resume
// asks it again.
TEST(ClientBackend, EvalRecordsFailuresAndResumeRetriesThem) {
  eval::Dataset ds;
  ds.name = "toy";
  ds.path = "toy.jsonl";
  ds.task = eval::Task::kGsm8k;
  for (int i = 0; i < 3; ++i) {
    eval::Question q;
    q.id = "q" + std::to_string(i);
    q.index = i;
    q.line = i + 1;
    q.question = "What is " + std::to_string(i) + "?";
    q.gold = std::to_string(i);
    ds.questions.push_back(q);
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("er_client_eval_" + std::to_string(::getpid()) + ".jsonl")).string();
  std::filesystem::remove(path);
  bool server_up = false;
  eval::SolveFn solve = [&](const eval::Question& q, const std::string&) -> Result<eval::SolveOutcome> {
    eval::SolveOutcome out;
    if (q.id == "q1" && !server_up) {
      out.failure = "http";
      out.failure_reason = "HTTP 500: boom";
      return out;
    }
    eval::PathAnswer p;
    p.answer_text = "The answer is " + q.gold;
    out.paths.push_back(p);
    return out;
  };
  eval::EvalOptions eo;
  eo.output_path = path;
  eo.progress = eval::ProgressMode::kOff;
  auto first = eval::run_eval(ds, solve, eo);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_EQ(first->n_failed, 1);
  EXPECT_EQ(first->n_graded, 2);
  EXPECT_EQ(first->n_correct, 2);  // the failure is not a wrong answer
  EXPECT_NE(first->to_text().find("FAILED"), std::string::npos);
  {
    std::ifstream in(path);
    std::string line, all;
    while (std::getline(in, line)) all += line + "\n";
    EXPECT_NE(all.find(R"("record":"failed","id":"q1")"), std::string::npos) << all;
    EXPECT_NE(all.find("HTTP 500: boom"), std::string::npos);
  }
  server_up = true;
  eo.resume = true;
  auto second = eval::run_eval(ds, solve, eo);
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  EXPECT_EQ(second->n_new, 1);
  EXPECT_EQ(second->n_failed, 0);
  EXPECT_EQ(second->n_graded, 3);
  EXPECT_EQ(second->n_correct, 3);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace er::client
