// --backend, --served-model, --flavor, --api-key-env, --timeout, --max-retries: the client backend's
// flags for eval and bench (and the sweep's `backends` key), and opening the client with one line
// on stderr that names the server.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/openai_client.h"
#include "core/status.h"

namespace er::cli {

struct ClientFlags {
  std::string backend = "local";       // --backend local | openai:URL
  std::string served_model;            // --served-model (default: the server's first model)
  std::string flavor = "openai";       // --flavor
  std::string api_key_env = "OPENAI_API_KEY";  // --api-key-env: the variable holding the key
  double timeout_s = 600;              // --timeout
  int max_retries = 3;                 // --max-retries (429/503)

  bool remote() const { return backend != "local"; }
};

void add_client_flags(CLI::App* sub, ClientFlags& f);

// Parses the flags (bad input named by flag) without touching the network.
Result<client::ClientOptions> client_options(const ClientFlags& f);

// Opens the client (GET /v1/models, the version) and prints
// "backend: openai:URL, flavor vllm, model NAME, server vllm 0.9.1" on stderr.
Result<std::unique_ptr<client::Client>> open_client(const ClientFlags& f);

// What records and eval headers carry about the backend: {backend, flavor, served_model,
// server_version} ({backend: "local"} for the in-process engine).
nlohmann::ordered_json backend_fields(const client::Client* c);

}  // namespace er::cli
