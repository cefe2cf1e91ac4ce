// Status names and the CHECK failure handler.
#include <cctype>
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

namespace {
// Replaces each "${name}" (name: a letter, then letters, digits, '_', '.', '[', ']') by spell(name).
template <typename Spell>
std::string replace_fields(const std::string& raw, Spell spell) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '$' && i + 2 < raw.size() && raw[i + 1] == '{' && std::isalpha(static_cast<unsigned char>(raw[i + 2]))) {
      size_t j = i + 2;
      while (j < raw.size() && (std::isalnum(static_cast<unsigned char>(raw[j])) || raw[j] == '_' || raw[j] == '.' ||
                                raw[j] == '[' || raw[j] == ']')) {
        ++j;
      }
      if (j < raw.size() && raw[j] == '}') {
        out += spell(std::string_view(raw).substr(i + 2, j - i - 2));
        i = j;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}
}  // namespace

std::string Status::strip_fields(const std::string& raw) {
  if (raw.find("${") == std::string::npos) return raw;
  return replace_fields(raw, [](std::string_view f) { return std::string(f); });
}

Status Status::renamed(const FieldSpeller& spell) const {
  if (is_ok()) return *this;
  Status s = *this;
  s.message_ = replace_fields(raw_, spell);
  s.raw_ = s.message_;  // spelled for this front end from now on (with_context keeps it)
  return s;
}

std::string Status::first_field() const {
  std::string first;
  (void)replace_fields(raw_, [&](std::string_view f) {
    if (first.empty()) first = std::string(f);
    return std::string(f);
  });
  return first;
}

bool Status::names_field(std::string_view field) const {
  return raw_.find("${" + std::string(field) + "}") != std::string::npos;
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
