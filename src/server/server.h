// The OpenAI-compatible HTTP server over one session::Session (cpp-httplib): the endpoints of
// docs/openapi.yaml, admission (--parallel requests decoded together, a bounded queue, 503 with
// Retry-After beyond it), streaming (SSE) with cancellation when the client goes away, an API
// key, and a graceful shutdown (finish what is in flight, refuse the rest, stop).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "server/api.h"
#include "server/metrics.h"
#include "session/session.h"

namespace httplib {
class Server;
class Request;
class Response;
}  // namespace httplib

namespace er::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port (port() tells which)
  std::string api_key;             // "" = none
  bool insecure = false;           // allow a non-loopback host without a key
  int queue = 8;                   // requests waiting beyond the session's slots
  int64_t max_body_bytes = 1 << 20;
  ApiLimits limits;
  std::string model_name;          // what /v1/models and responses call the model
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);
// Refuses a non-loopback host without an API key unless `insecure` (bad input naming ${host}).
Status check_exposure(const ServerOptions& o);

class Server {
 public:
  Server(session::Session& session, ServerOptions o);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (bad input when the address cannot be bound), then calls on_ready with the bound port
  // and serves until shutdown() has drained the requests in flight.
  Status run(const std::function<void(int port)>& on_ready);
  // Thread-safe, idempotent: new completion requests get 503; once none is in flight the
  // listener stops and run() returns.
  void shutdown();

  int admitted() const { return admitted_.load(); }

 private:
  void routes();
  void complete(Endpoint e, const httplib::Request& req, httplib::Response& res);
  void complete_unguarded(Endpoint e, const httplib::Request& req, httplib::Response& res);
  void reply_error(httplib::Response& res, int status, const Status& s, Endpoint e, const char* type);
  void observe(const session::Outcome& o);
  std::string next_id(Endpoint e);

  session::Session& session_;
  ServerOptions o_;
  std::unique_ptr<httplib::Server> http_;
  Metrics metrics_;
  std::atomic<int> admitted_{0};    // completion requests holding or waiting for a slot
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_id_{0};
  std::thread shutdown_thread_;
};

}  // namespace er::server
