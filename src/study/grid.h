// The sweep grid: one Cell per combination of model × thinking policy (× budget) × paths × threads
// × dataset slice, each with a stable hash of its canonical JSON (the configuration's identity in
// the results database, so that a rerun finds the cells it already measured).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace er::study {

// The thinking policies a sweep can vary (reasoning::ThinkingOptions). Budgeted policies take each
// of the config's budgets; the others appear once.
enum class Policy { kUnlimited, kNoThink, kThinkBudget, kPromptBudget, kL1, kL1Max };
std::string_view policy_name(Policy p);  // "unlimited", "no-think", "think-budget", "prompt-budget", "l1", "l1-max"
std::optional<Policy> policy_from_name(std::string_view name);
bool policy_takes_budget(Policy p);

// One dataset slice: questions [offset, offset + limit) of a dataset (limit -1: to the end).
struct Slice {
  std::string dataset;  // a built-in name (gsm8k, math500, mmlu_stem) or a JSONL path
  int64_t offset = 0;
  int64_t limit = -1;
};

struct Cell {
  std::string model;  // as configured: a name under the models directory or a path; for another
                      // engine's server, "SERVED_MODEL@BACKEND"
  // Another engine's server ([[backends]] in the sweep): empty for the in-process engine. Only the
  // name and flavor are part of the cell's identity (a server may move to another port).
  std::string backend;      // the backend's name
  std::string backend_url;  // "openai:http://host:port"
  std::string flavor;       // "llamacpp", "vllm", "sglang", "edgereason", "openai"
  std::string server_version;  // what the server reported (stored with the cell, not identity)
  // The model's precision (the sweep's `quantizations`): "" = "release", the file as shipped; else
  // a quantize target in lowercase ("f16", "q8_0", "q4_k_m"), a variant made from the release
  // (study/variant.h). Part of the identity only when set, so release cells keep their hashes.
  std::string quantization;
  Slice slice;
  Policy policy = Policy::kUnlimited;
  std::optional<int64_t> budget;  // set iff policy_takes_budget(policy)
  int64_t paths = 1;
  int64_t threads = 1;
  // Fixed across the grid (echoed so that the hash changes when they do).
  int64_t max_tokens = 256;     // per path, thinking + answer
  int64_t answer_budget = 64;   // after a forced close
  double temperature = 0;       // 0: greedy
  uint64_t seed = 1;
  std::string vote = "majority";
  bool bench = false;           // also record a bench row (pp/tg at the cell's thread count)

  // Positions of the engine context a cell runs in: room for max_tokens and answer_budget after a
  // prompt of up to 1024 tokens, at least 2048.
  int64_t context_size() const;

  // "release" or the quantization.
  std::string quantization_name() const { return quantization.empty() ? "release" : quantization; }
  // "smollm2 gsm8k[0:30] think-budget=64 N=4 t=2" ("smollm2@q8_0 ..." for a variant)
  std::string label() const;
  // Canonical JSON: fixed key order, every field; the hash is over its compact dump.
  nlohmann::ordered_json to_json() const;
  std::string hash() const;  // 16 hex digits (FNV-1a 64)
};

// FNV-1a 64 of `text` as 16 lowercase hex digits.
std::string fnv1a64_hex(std::string_view text);

}  // namespace er::study
