// `edgereason serve`: the OpenAI-compatible HTTP server (src/server) over one session.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/spec_options.h"
#include "cli/power_options.h"
#include "model/forward.h"
#include "server/server.h"
#include "session/session.h"

namespace er::cli {
namespace {

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 2;
  int queue = 8;
  int64_t n_ctx = 4096;
  int n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int max_n = 8;
  int64_t max_tokens = 512;
  int64_t max_body_bytes = 1 << 20;
  std::string api_key;
  std::string api_key_file;
  bool insecure = false;
  std::string chat_template;
  bool batch_invariant = true;
  SpecFlags spec;
  PowerOptions power;
};

std::atomic<bool> g_stop{false};
extern "C" void on_serve_signal(int) { g_stop.store(true); }

Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid("--api-key-file '" + path + "': cannot read it");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return Status::invalid("--api-key-file '" + path + "': the file is empty");
  return key;
}

Status serve(ServeOptions& o) {
  if (o.port < 0 || o.port > 65535) return Status::invalid("--port must be in [0, 65535] (0 = any free port)");
  if (o.parallel < 1 || o.parallel > 64) return Status::invalid("--parallel must be in [1, 64]");
  if (o.queue < 0 || o.queue > 4096) return Status::invalid("--queue must be in [0, 4096]");
  if (o.max_n < 1 || o.max_n > 64) return Status::invalid("--max-n must be in [1, 64]");
  if (o.max_tokens < 1) return Status::invalid("--max-tokens must be at least 1");
  if (o.max_body_bytes < 1024) return Status::invalid("--max-body-bytes must be at least 1024");
  if (!o.api_key_file.empty()) {
    if (!o.api_key.empty()) return Status::invalid("give --api-key or --api-key-file, not both");
    ER_ASSIGN_OR_RETURN(o.api_key, read_key_file(o.api_key_file));
  }
  server::ServerOptions so;
  so.host = o.host;
  so.port = o.port;
  so.api_key = o.api_key;
  so.insecure = o.insecure;
  so.queue = o.queue;
  so.max_body_bytes = o.max_body_bytes;
  so.limits.max_n = o.max_n;
  so.limits.default_max_tokens = o.max_tokens;
  ER_RETURN_IF_ERROR(server::check_exposure(so));
  ER_ASSIGN_OR_RETURN(const session::EnergyOptions energy, energy_options(o.power));

  session::SessionOptions ss;
  ss.model = o.model;
  ss.chat_template = o.chat_template;
  ss.n_ctx = o.n_ctx;
  ss.max_paths = o.max_n;
  ss.n_slots = o.parallel;
  ss.n_threads = o.n_threads;
  ss.batch_invariant = o.batch_invariant;
  ER_RETURN_IF_ERROR(apply_spec_flags(o.spec, ss));
  ER_ASSIGN_OR_RETURN(session::StartedMeter meter, start_energy_meter(energy));
  ss.meter = meter.meter;
  ER_ASSIGN_OR_RETURN(std::unique_ptr<session::Session> sess, session::Session::open(ss));
  so.model_name = std::filesystem::path(sess->model_path()).stem().string();

  server::Server srv(*sess, so);
  g_stop.store(false);
  // Kept until the process exits: a second SIGTERM while draining only repeats the request.
  std::signal(SIGTERM, on_serve_signal);
  std::signal(SIGINT, on_serve_signal);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished.load()) {
      if (g_stop.load()) {
        std::fprintf(stderr, "edgereason serve: stopping: finishing %d request(s) in flight, refusing new ones\n",
                     srv.admitted());
        srv.shutdown();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const Status st = srv.run([&](int port) {
    std::fprintf(stderr,
                 "edgereason serve: listening on http://%s:%d (model %s, parallel %d, queue %d, context %lld per "
                 "path, n up to %d)\n",
                 o.host.c_str(), port, so.model_name.c_str(), o.parallel, o.queue, static_cast<long long>(o.n_ctx),
                 o.max_n);
    std::fflush(stderr);
  });
  finished.store(true);
  watcher.join();
  meter.meter->stop();
  if (st.is_ok()) std::fprintf(stderr, "edgereason serve: stopped\n");
  return st;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server: chat and text completions with thinking control, n paths and a vote");
  sub->add_option("-m,--model", o->model, "Model file or installed name")->required();
  sub->add_option("--host", o->host, "Address to listen on (a non-loopback one needs --api-key or --insecure)")
      ->capture_default_str();
  sub->add_option("--port", o->port, "Port (0 = any free port)")->capture_default_str();
  sub->add_option("--parallel", o->parallel, "Requests decoded together in each forward pass")->capture_default_str();
  sub->add_option("--queue", o->queue, "Requests waiting for a slot; beyond them the answer is 503 with Retry-After")
      ->capture_default_str();
  sub->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens, per path")->capture_default_str();
  sub->add_option("-t,--threads", o->n_threads, "Threads")->capture_default_str();
  sub->add_option("--max-n", o->max_n, "Largest n (paths per request) accepted")->capture_default_str();
  sub->add_option("--max-tokens", o->max_tokens, "max_tokens of a request that gives none")->capture_default_str();
  sub->add_option("--max-body-bytes", o->max_body_bytes, "Largest request body (larger: 413)")->capture_default_str();
  auto* key = sub->add_option("--api-key", o->api_key, "Require Authorization: Bearer KEY (except on /health)");
  auto* key_file = sub->add_option("--api-key-file", o->api_key_file, "Read the API key from FILE");
  key->excludes(key_file);
  sub->add_flag("--insecure", o->insecure, "Allow a non-loopback --host without an API key");
  sub->add_option("--chat-template", o->chat_template,
                  "Override the template family: chatml, qwen3, deepseek-r1, llama3, gemma, none");
  sub->add_option("--batch-invariant", o->batch_invariant,
                  "on: a request's tokens do not depend on what shares its forward passes")
      ->capture_default_str();
  add_power_flags(sub, o->power);
  add_spec_flags(sub, o->spec);
  return {sub, [o]() -> Status { return serve(*o); }};
}

}  // namespace er::cli
