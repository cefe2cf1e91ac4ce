// The HTTP server (see server.h). Debian's cpp-httplib is built with OpenSSL, zlib and brotli
// support; the same macros are defined here (CMakeLists.txt) so the header matches the library.
#include "server/server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace er::server {
namespace {

using nlohmann::ordered_json;

constexpr const char* kJson = "application/json";

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* endpoint_name(Endpoint e) { return e == Endpoint::kChat ? "/v1/chat/completions" : "/v1/completions"; }

// A streaming request's hand-off between the decoding thread (producer) and the HTTP thread
// (consumer writing SSE events); the producer never blocks on the client.
struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> events;
  bool done = false;
  session::Ticket ticket;
  std::thread worker;

  ~StreamState() {
    if (worker.joinable()) worker.detach();  // only when the HTTP layer never released the stream
  }
  void push(std::string e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(std::move(e));
    }
    cv.notify_one();
  }
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
    }
    cv.notify_one();
  }
};

std::string sse(const ordered_json& j) { return "data: " + j.dump() + "\n\n"; }

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status check_exposure(const ServerOptions& o) {
  if (is_loopback(o.host) || !o.api_key.empty() || o.insecure) return Status::ok();
  return Status::invalid("${host} " + o.host +
                         " is not a loopback address: anyone who can reach it could use the model; give ${api_key} "
                         "(or ${insecure} to serve it without one)");
}

Server::Server(session::Session& session, ServerOptions o)
    : session_(session), o_(std::move(o)), http_(std::make_unique<httplib::Server>()) {
  routes();
}

Server::~Server() {
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
}

std::string Server::next_id(Endpoint e) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%06llu", e == Endpoint::kChat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(unix_now()), static_cast<unsigned long long>(++next_id_));
  return buf;
}

void Server::reply_error(httplib::Response& res, int status, const Status& s, Endpoint e, const char* type) {
  res.status = status;
  res.set_content(error_body(s, e, type).dump(), kJson);
}

void Server::observe(const session::Outcome& o) {
  const engine::GenerateResult& g = o.result.gen;
  size_t longest = 0;
  for (const engine::PathResult& p : g.paths) longest = std::max(longest, p.tokens.size());
  const double tpot_s = longest > 1 ? g.decode_ms / 1e3 / static_cast<double>(longest - 1) : 0.0;
  int64_t reasoning = 0, answer = 0;
  for (const reasoning::PathOutcome& p : o.result.paths) {
    reasoning += p.thinking_tokens;
    answer += static_cast<int64_t>(p.tokens.size()) - p.thinking_tokens;
  }
  const double joules = o.energy.total_j.value_or(0.0);
  metrics_.observe(g.ttft_ms / 1e3, tpot_s, (g.e2e_ms + o.queue_ms) / 1e3, o.n_prompt, reasoning, answer, joules);
}

void Server::routes() {
  httplib::Server& h = *http_;
  h.set_payload_max_length(static_cast<size_t>(o_.max_body_bytes));
  h.set_read_timeout(30, 0);
  h.set_write_timeout(30, 0);
  // Every admitted request holds an HTTP thread (waiting in the queue or decoding), plus a few for
  // /health, /metrics and the 503s.
  const int n_threads = session_.options().n_slots + o_.queue + 4;
  h.new_task_queue = [n_threads] { return new httplib::ThreadPool(static_cast<size_t>(n_threads)); };

  h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (o_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth == "Bearer " + o_.api_key) return httplib::Server::HandlerResponse::Unhandled;
    metrics_.count_request(req.path, 401);
    reply_error(res, 401, Status::invalid("a valid API key is required (Authorization: Bearer KEY)"), Endpoint::kChat,
                "authentication_error");
    return httplib::Server::HandlerResponse::Handled;
  });
  h.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string what;
    if (res.status == 404) what = "no such endpoint: " + req.method + " " + req.path;
    else if (res.status == 413) what = "the request body is larger than the server's limit of " + std::to_string(o_.max_body_bytes) + " bytes";
    else if (res.status == 405) what = "method " + req.method + " is not allowed on " + req.path;
    else what = "HTTP " + std::to_string(res.status);
    metrics_.count_request(res.status == 404 ? "other" : req.path, res.status);
    res.set_content(error_body(Status::invalid(what), Endpoint::kChat, "invalid_request_error").dump(), kJson);
  });

  h.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(ordered_json{{"status", draining_.load() ? "shutting_down" : "ok"}}.dump(), kJson);
    if (draining_.load()) res.status = 503;
  });
  h.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    metrics_.count_request("/v1/models", 200);
    ordered_json m{{"id", o_.model_name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "edgereason"}};
    res.set_content(ordered_json{{"object", "list"}, {"data", ordered_json::array({m})}}.dump(), kJson);
  });
  h.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(session_.waiting(), session_.in_flight()), "text/plain; version=0.0.4");
  });
  h.Post("/v1/chat/completions",
         [this](const httplib::Request& req, httplib::Response& res) { complete(Endpoint::kChat, req, res); });
  h.Post("/v1/completions",
         [this](const httplib::Request& req, httplib::Response& res) { complete(Endpoint::kCompletions, req, res); });
}

void Server::complete(Endpoint e, const httplib::Request& req, httplib::Response& res) {
  const std::string ep = endpoint_name(e);
  auto refuse = [&](int status, const Status& s, const char* type) {
    metrics_.count_request(ep, status);
    reply_error(res, status, s, e, type);
  };
  Result<ApiRequest> parsed = parse_request(e, req.body, o_.limits);
  if (!parsed.is_ok()) return refuse(400, parsed.status(), "invalid_request_error");
  ApiRequest api = std::move(parsed).value();
  // The session's own checks (ranges, conflicts, the prompt's length) before anything is admitted.
  if (Status s = session_.validate(api.req); !s.is_ok()) return refuse(400, s, "invalid_request_error");
  if (auto ids = session_.encode(api.req); !ids.is_ok()) return refuse(400, ids.status(), "invalid_request_error");

  // Admission: the session's slots plus the queue; beyond that, come back later.
  const int limit = session_.options().n_slots + o_.queue;
  if (draining_.load()) {
    res.set_header("Retry-After", "5");
    return refuse(503, Status::io_error("the server is shutting down"), "server_error");
  }
  if (admitted_.fetch_add(1) >= limit) {
    admitted_.fetch_sub(1);
    res.set_header("Retry-After", "1");
    return refuse(503,
                  Status::io_error("the server is busy: " + std::to_string(limit) +
                                      " requests are decoding or queued (serve --parallel, --queue)"),
                  "server_error");
  }
  const std::string id = next_id(e);
  const int64_t created = unix_now();

  if (!api.stream) {
    Result<session::Outcome> out = session_.ask(api.req);
    admitted_.fetch_sub(1);
    if (!out.is_ok()) {
      const int status = out.status().is_bad_input() ? 400 : 500;
      return refuse(status, out.status(), status == 400 ? "invalid_request_error" : "server_error");
    }
    observe(*out);
    metrics_.count_request(ep, 200);
    res.set_content(response_json(api, *out, id, created, o_.model_name).dump(), kJson);
    return;
  }

  // Streaming: a worker decodes and queues SSE events; this thread writes them. A failed write
  // (the client went away) cancels the request, which frees its slot at the next step.
  auto st = std::make_shared<StreamState>();
  const int n_paths = api.req.gen.n_paths;
  auto first_sent = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n_paths), 0);
  api.req.stream = [st, api_copy = api, id, created, model = o_.model_name, first_sent](int path, std::string_view piece,
                                                                                        bool thinking) {
    const bool role = !(*first_sent)[static_cast<size_t>(path)];
    (*first_sent)[static_cast<size_t>(path)] = 1;
    st->push(sse(chunk_json(api_copy, id, created, model, path, piece, thinking, nullptr, role)));
  };
  st->worker = std::thread([this, st, api, id, created, ep]() mutable {
    Result<session::Outcome> out = session_.ask(api.req, &st->ticket);
    if (out.is_ok()) {
      for (size_t i = 0; i < out->result.gen.paths.size(); ++i) {
        st->push(sse(chunk_json(api, id, created, o_.model_name, static_cast<int>(i), {}, false,
                                finish_reason(out->result.gen.paths[i].stop))));
      }
      ordered_json tail;
      tail["id"] = id;
      tail["object"] = api.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion";
      tail["created"] = created;
      tail["model"] = o_.model_name;
      tail["choices"] = ordered_json::array();
      if (api.include_usage) tail["usage"] = usage_json(*out);
      tail["timings"] = timings_json(*out);
      tail["energy"] = energy_json(*out);
      if (out->result.paths.size() > 1) tail["vote"] = vote_json(*out);
      if (api.include_usage || !out->cancelled) st->push(sse(tail));
      observe(*out);
      metrics_.count_request(ep, out->cancelled ? 499 : 200);
    } else {
      st->push(sse(error_body(out.status(), api.endpoint, out.status().is_bad_input() ? "invalid_request_error" : "server_error")));
      metrics_.count_request(ep, out.status().is_bad_input() ? 400 : 500);
    }
    st->push("data: [DONE]\n\n");
    st->finish();
  });
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t, httplib::DataSink& sink) {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait(lock, [&] { return !st->events.empty() || st->done; });
        while (!st->events.empty()) {
          std::string ev = std::move(st->events.front());
          st->events.pop_front();
          lock.unlock();
          if (!sink.write(ev.data(), ev.size())) {
            st->ticket.cancel();
            return false;
          }
          lock.lock();
        }
        if (st->done) sink.done();
        return true;
      },
      [this, st](bool) {
        st->ticket.cancel();  // no-op when it finished; frees the slot when the client went away
        if (st->worker.joinable()) st->worker.join();
        admitted_.fetch_sub(1);
      });
}

Status Server::run(const std::function<void(int port)>& on_ready) {
  int port = o_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(o_.host);
    if (port < 0) return Status::invalid("${host} " + o_.host + ": cannot bind any port");
  } else if (!http_->bind_to_port(o_.host, port)) {
    return Status::invalid("cannot listen on " + o_.host + ":" + std::to_string(port) +
                           " (${port} in use, or ${host} not an address of this machine)");
  }
  if (on_ready) on_ready(port);
  if (!http_->listen_after_bind() && !draining_.load()) return Status::io_error("the HTTP listener stopped");
  return Status::ok();
}

void Server::shutdown() {
  if (draining_.exchange(true)) return;
  shutdown_thread_ = std::thread([this] {
    while (admitted_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    http_->stop();
  });
}

}  // namespace er::server
