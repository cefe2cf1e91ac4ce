// ER_CHECK: aborts loudly on a broken invariant (a bug), never on bad user input (that is a Status).
#pragma once

#include <string>

namespace er::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& message);
}  // namespace er::detail

#define ER_CHECK(cond, ...)                                                         \
  do {                                                                              \
    if (!(cond)) [[unlikely]]                                                       \
      ::er::detail::check_failed(#cond, __FILE__, __LINE__, std::string{__VA_ARGS__}); \
  } while (0)
