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

#include "core/build_info.h"

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

// Generated text may hold invalid UTF-8 (a sampled byte token, a cut): it is sent with U+FFFD in
// its place rather than failing the response.
std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string sse(const ordered_json& j) { return "data: " + dump(j) + "\n\n"; }

// The length of the longest prefix of s that does not end inside a UTF-8 sequence: a streamed
// piece may end with the first bytes of a character whose rest comes with the next token.
size_t complete_utf8_prefix(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

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
  res.set_content(dump(error_body(s, e, type)), kJson);
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
  // Every admitted request holds an HTTP thread (waiting in the queue or decoding); idle keep-alive
  // connections hold one too (cpp-httplib: a thread per connection), so there are spare ones for
  // /health, /metrics and the 503s, and idle connections are closed after 2 s.
  const int n_threads = session_.options().n_slots + o_.queue + 32;
  h.set_keep_alive_timeout(2);
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
    res.set_content(dump(error_body(Status::invalid(what), Endpoint::kChat,
                                    res.status >= 500 ? "server_error" : "invalid_request_error")),
                    kJson);
  });

  h.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(ordered_json{{"status", draining_.load() ? "shutting_down" : "ok"}}), kJson);
    if (draining_.load()) res.status = 503;
  });
  h.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(ordered_json{{"engine", "edgereason"}, {"version", build_version()}}), kJson);
  });
  h.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    metrics_.count_request("/v1/models", 200);
    ordered_json m{{"id", o_.model_name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "edgereason"}};
    res.set_content(dump(ordered_json{{"object", "list"}, {"data", ordered_json::array({m})}}), kJson);
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
  try {
    complete_unguarded(e, req, res);
  } catch (const std::exception& ex) {  // a bug: answered as one, never a dead server
    if (res.status < 0 || res.status == 200) res.status = 500;
    metrics_.count_request(endpoint_name(e), 500);
    res.set_content(dump(error_body(Status::internal(std::string("internal error: ") + ex.what()), e, "server_error")),
                    kJson);
  }
}

void Server::complete_unguarded(Endpoint e, const httplib::Request& req, httplib::Response& res) {
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
    res.set_content(dump(response_json(api, *out, id, created, o_.model_name)), kJson);
    return;
  }

  // Streaming: a worker decodes and queues SSE events; this thread writes them. A failed write
  // (the client went away) cancels the request, which frees its slot at the next step.
  auto st = std::make_shared<StreamState>();
  const int n_paths = api.req.gen.n_paths;
  // Per path: whether its first chunk (with the role) went out, and the bytes of a character
  // whose rest has not come yet (with the kind of text they belong to).
  struct PathStream {
    bool started = false;
    std::string pending;
    bool pending_thinking = false;
  };
  auto paths = std::make_shared<std::vector<PathStream>>(static_cast<size_t>(n_paths));
  auto emit = [st, api_copy = api, id, created, model = o_.model_name, paths](int path, std::string text, bool thinking,
                                                                              bool flush) {
    PathStream& ps = (*paths)[static_cast<size_t>(path)];
    if (!ps.pending.empty() && ps.pending_thinking != thinking) {  // the kind changed: flush first
      std::string old = std::move(ps.pending);
      ps.pending.clear();
      const bool role = !ps.started;
      ps.started = true;
      st->push(sse(chunk_json(api_copy, id, created, model, path, old, ps.pending_thinking, nullptr, role)));
    }
    text = ps.pending + text;
    ps.pending.clear();
    const size_t keep = flush ? text.size() : complete_utf8_prefix(text);
    ps.pending = text.substr(keep);
    ps.pending_thinking = thinking;
    text.resize(keep);
    if (text.empty()) return;
    const bool role = !ps.started;
    ps.started = true;
    st->push(sse(chunk_json(api_copy, id, created, model, path, text, thinking, nullptr, role)));
  };
  api.req.stream = [emit](int path, std::string_view piece, bool thinking) {
    emit(path, std::string(piece), thinking, false);
  };
  st->worker = std::thread([this, st, api, id, created, ep, emit, paths]() mutable {
    try {
      Result<session::Outcome> out = session_.ask(api.req, &st->ticket);
      if (out.is_ok()) {
        const size_t n = out->result.gen.paths.size();
        for (size_t i = 0; i < n; ++i) {
          const PathStream& ps = (*paths)[i];
          if (!ps.pending.empty()) emit(static_cast<int>(i), std::string(), ps.pending_thinking, /*flush=*/true);
          ordered_json fin = chunk_json(api, id, created, o_.model_name, static_cast<int>(i), {}, false,
                                        finish_reason(out->result.gen.paths[i].stop));
          // timings, energy and the vote ride on the last path's finish chunk; usage, as OpenAI's
          // API has it, only in a last chunk of its own with empty choices (include_usage).
          if (i + 1 == n) {
            fin["timings"] = timings_json(*out);
            fin["energy"] = energy_json(*out);
            if (n > 1) fin["vote"] = vote_json(*out);
            if (!out->speculative.is_null()) fin["speculative"] = out->speculative;
          }
          st->push(sse(fin));
        }
        if (api.include_usage) {
          ordered_json tail;
          tail["id"] = id;
          tail["object"] = api.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion";
          tail["created"] = created;
          tail["model"] = o_.model_name;
          tail["choices"] = ordered_json::array();
          tail["usage"] = usage_json(*out);
          st->push(sse(tail));
        }
        observe(*out);
        metrics_.count_request(ep, out->cancelled ? 499 : 200);
      } else {
        st->push(sse(error_body(out.status(), api.endpoint,
                                out.status().is_bad_input() ? "invalid_request_error" : "server_error")));
        metrics_.count_request(ep, out.status().is_bad_input() ? 400 : 500);
      }
    } catch (const std::exception& ex) {  // never terminate the server from a request's thread
      st->push(sse(error_body(Status::internal(std::string("internal error: ") + ex.what()), api.endpoint,
                              "server_error")));
      metrics_.count_request(ep, 500);
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
