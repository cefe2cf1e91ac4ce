// Requests the session tests build again and again.
#pragma once

#include <cstdint>
#include <string>

#include "session/session.h"

namespace er::test {

// A greedy request for `paths` paths of at most `n` tokens each (exactly n with ignore_eos).
inline session::Request greedy_request(const std::string& prompt, int paths, int64_t n, bool ignore_eos) {
  session::Request r;
  r.prompt = prompt;
  r.gen.max_new_tokens = n;
  r.gen.n_paths = paths;
  r.gen.ignore_eos = ignore_eos;
  r.gen.sampler.temperature = 0;
  return r;
}

}  // namespace er::test
