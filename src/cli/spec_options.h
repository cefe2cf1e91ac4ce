// The speculative-decoding flags of run, bench, eval and serve (--draft, --spec, --draft-max),
// mapped onto session::SessionOptions.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "session/session.h"

namespace er::cli {

struct SpecFlags {
  std::string spec;   // "", "none", "ngram", "draft"
  std::string draft;  // --draft MODEL
  int draft_max = 2;  // the best of 1, 2, 4 on qwen2.5-coder-1.5b here (BENCHMARKS.md)
};

void add_spec_flags(CLI::App* sub, SpecFlags& f);

// One line for the text output: "speculative (ngram, up to 4 per step): 120 drafted, 84 accepted (70.0%)".
std::string speculative_line(const session::SessionOptions& o, const engine::GenerateResult& r);

// Sets o.spec, o.draft_model and o.draft_max; bad combinations are invalid, naming the flags.
Status apply_spec_flags(const SpecFlags& f, session::SessionOptions& o);

}  // namespace er::cli
