#include "cli/client_flags.h"

#include <cstdio>
#include <cstdlib>

namespace er::cli {

void add_client_flags(CLI::App* sub, ClientFlags& f) {
  sub->add_option("--backend", f.backend,
                  "local (this engine, in-process) or openai:URL (an OpenAI-compatible server: llama.cpp, vLLM, SGLang, "
                  "edgereason serve)")
      ->capture_default_str();
  sub->add_option("--served-model", f.served_model, "The model name the server knows (default: its first in /v1/models)");
  sub->add_option("--flavor", f.flavor,
                  "How the server spells thinking budgets, n, ignore_eos: llamacpp, vllm, sglang, edgereason, openai")
      ->capture_default_str();
  sub->add_option("--api-key-env", f.api_key_env, "Environment variable holding the server's API key (sent if set)")
      ->capture_default_str();
  sub->add_option("--timeout", f.timeout_s, "Seconds one request may take (remote backends)")->capture_default_str();
  sub->add_option("--max-retries", f.max_retries, "Retries of a request answered 429 or 503 (Retry-After honoured)")
      ->capture_default_str();
}

Result<client::ClientOptions> client_options(const ClientFlags& f) {
  client::ClientOptions o;
  ER_ASSIGN_OR_RETURN(o.backend, client::parse_backend(f.backend));
  ER_ASSIGN_OR_RETURN(o.flavor, client::parse_flavor(f.flavor));
  o.model = f.served_model;
  if (!f.api_key_env.empty()) {
    if (const char* k = std::getenv(f.api_key_env.c_str()); k != nullptr) o.api_key = k;
  }
  o.timeout_s = f.timeout_s;
  o.max_retries = f.max_retries;
  ER_RETURN_IF_ERROR(client::validate_client_options(o));
  return o;
}

Result<std::unique_ptr<client::Client>> open_client(const ClientFlags& f) {
  ER_ASSIGN_OR_RETURN(client::ClientOptions o, client_options(f));
  if (!o.backend.remote) return Status::internal("open_client: the backend is local");
  ER_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c, client::Client::open(o));
  std::fprintf(stderr, "backend: %s, flavor %s, model %s, server %s\n", o.backend.text().c_str(),
               client::flavor_name(o.flavor), c->model().c_str(), c->info().version.c_str());
  return c;
}

nlohmann::ordered_json backend_fields(const client::Client* c) {
  nlohmann::ordered_json j;
  if (c == nullptr) {
    j["backend"] = "local";
    return j;
  }
  j["backend"] = c->options().backend.text();
  j["flavor"] = client::flavor_name(c->options().flavor);
  j["served_model"] = c->model();
  j["server_version"] = c->info().version;
  return j;
}

}  // namespace er::cli
