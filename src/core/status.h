// Status and Result<T>: how user-caused failures travel up to src/cli (the only place that exits).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/check.h"

namespace er {

// What went wrong, coarsely. The CLI maps kInvalidInput/kNotFound/kUnsupported to exit code 2
// (bad usage or bad input) and the rest to exit code 1 (runtime failure).
enum class StatusCode { kOk = 0, kInvalidInput, kNotFound, kUnsupported, kIoError, kInternal };

const char* status_code_name(StatusCode code);

// Library messages name the input at fault by its library name as ${name}, e.g.
// "${think_budget} must be at least 1": message() shows the bare name ("think_budget must be ..."),
// and a front end shows its own spelling with renamed() (the CLI: "--think-budget must be ...",
// the server: "thinking_budget_tokens must be ..."). Only src/cli and src/server know those.
using FieldSpeller = std::function<std::string(std::string_view field)>;

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), raw_(std::move(message)), message_(strip_fields(raw_)) {}

  static Status ok() { return {}; }
  static Status invalid(std::string m) { return {StatusCode::kInvalidInput, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // True when the user's input (file, flag, data) is at fault: exit code 2.
  bool is_bad_input() const {
    return code_ == StatusCode::kInvalidInput || code_ == StatusCode::kNotFound ||
           code_ == StatusCode::kUnsupported;
  }
  // Prefixes context ("reading 'x.gguf'") to the message, keeping the code.
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return {code_, context + ": " + raw_};
  }
  // The same status with every ${name} in its message spelled as spell(name).
  Status renamed(const FieldSpeller& spell) const;
  // True when the message names ${field}.
  bool names_field(std::string_view field) const;
  // The first ${field} the message names ("" when none): the input at fault, for an API's error
  // object ("param").
  std::string first_field() const;

 private:
  static std::string strip_fields(const std::string& raw);
  StatusCode code_ = StatusCode::kOk;
  std::string raw_;      // with ${field} markers
  std::string message_;  // markers stripped
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    ER_CHECK(!std::get<Status>(v_).is_ok(), "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & {
    ER_CHECK(is_ok(), "Result::value() on error: " + std::get<Status>(v_).message());
    return std::get<T>(v_);
  }
  const T& value() const& {
    ER_CHECK(is_ok(), "Result::value() on error: " + std::get<Status>(v_).message());
    return std::get<T>(v_);
  }
  T&& value() && {
    ER_CHECK(is_ok(), "Result::value() on error: " + std::get<Status>(v_).message());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace er

#define ER_CONCAT_INNER(a, b) a##b
#define ER_CONCAT(a, b) ER_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) failed.
#define ER_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::er::Status er_status_ = (expr);         \
    if (!er_status_.is_ok()) return er_status_; \
  } while (0)

// `ER_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its Status.
#define ER_ASSIGN_OR_RETURN(lhs, expr) ER_ASSIGN_OR_RETURN_IMPL(ER_CONCAT(er_result_, __LINE__), lhs, expr)
#define ER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.is_ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
