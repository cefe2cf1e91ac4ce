// Status names and the CHECK failure handler.
#include <cstdio>
#include <cstdlib>

#include "core/check.h"
#include "core/status.h"

namespace er {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidInput: return "invalid input";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

namespace detail {
void check_failed(const char* expr, const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "edgereason: internal error: CHECK(%s) failed at %s:%d%s%s\n", expr, file, line,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

}  // namespace er
