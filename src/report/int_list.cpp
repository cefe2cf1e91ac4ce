// Benchmark value lists from the command line (see int_list.h).
#include "report/int_list.h"

#include <charconv>
#include <string>

namespace er::report {
namespace {

constexpr size_t kMaxValues = 4096;
constexpr int64_t kMaxValue = int64_t{1} << 40;  // far beyond any token count or thread count

// Reads a non-negative decimal integer at the start of `s`, advancing it.
bool read_number(std::string_view& s, int64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec != std::errc() || *out > kMaxValue) return false;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()));
  return true;
}

}  // namespace

Result<std::vector<int64_t>> parse_int_list(std::string_view text, std::string_view flag, int64_t min_value) {
  const std::string where = std::string(flag) + " '" + std::string(text) + "'";
  if (text.empty()) return Status::invalid(where + ": empty list (expected a,b,c or first-last+step)");
  std::vector<int64_t> out;
  auto add = [&](int64_t v) -> Status {
    if (v < min_value) {
      return Status::invalid(where + ": " + std::to_string(v) + " is below the minimum " + std::to_string(min_value));
    }
    if (out.size() >= kMaxValues) {
      return Status::invalid(where + ": more than " + std::to_string(kMaxValues) + " values");
    }
    out.push_back(v);
    return Status::ok();
  };
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    const std::string_view item_text = text.substr(start, end - start);
    const std::string bad = where + ": '" + std::string(item_text) + "' ";
    std::string_view s = item_text;
    int64_t first = 0;
    if (item_text.empty()) return Status::invalid(where + ": empty item (expected a,b,c or first-last+step)");
    if (!read_number(s, &first)) {
      return Status::invalid(bad + "is not a non-negative integer or a range first-last[+step|*factor]");
    }
    if (s.empty()) {
      ER_RETURN_IF_ERROR(add(first));
    } else {
      int64_t last = 0;
      if (s[0] != '-') return Status::invalid(bad + "has unexpected text '" + std::string(s) + "'");
      s.remove_prefix(1);
      if (!read_number(s, &last)) return Status::invalid(bad + "needs a last value after '-'");
      if (last < first) {
        return Status::invalid(bad + "is descending: last " + std::to_string(last) + " is below first " +
                               std::to_string(first));
      }
      char op = '+';
      int64_t by = 1;
      if (!s.empty()) {
        op = s[0];
        if (op != '+' && op != '*') return Status::invalid(bad + "has unexpected text '" + std::string(s) + "'");
        s.remove_prefix(1);
        if (!read_number(s, &by) || !s.empty()) {
          return Status::invalid(bad + "needs a number after '" + std::string(1, op) + "'");
        }
      }
      if (op == '+' && by < 1) return Status::invalid(bad + "has step 0 (the step must be at least 1)");
      if (op == '*' && (by < 2 || first == 0)) {
        return Status::invalid(bad + "needs a factor of at least 2 and a first value above 0");
      }
      for (int64_t v = first;;) {  // next value checked before it is formed: no overflow
        ER_RETURN_IF_ERROR(add(v));
        if (op == '+' ? v > last - by : v > last / by) break;
        v = op == '+' ? v + by : v * by;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace er::report
