// Math answer equivalence: normalization, a bounded recursive-descent evaluator, structured compare.
#include "eval/equivalence.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace er::eval {
namespace {

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  size_t p = 0;
  while ((p = s.find(from, p)) != std::string::npos) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
}

// Erases the control word `name` ("\left") wherever it is not the prefix of a longer word
// ("\leftarrow"); with drop_dot, also the invisible delimiter "." after it ("\right.").
void erase_word(std::string& s, std::string_view name, bool drop_dot) {
  size_t p = 0;
  while ((p = s.find(name, p)) != std::string::npos) {
    const size_t e = p + name.size();
    if (e < s.size() && is_alpha(s[e])) {
      p = e;
      continue;
    }
    s.erase(p, name.size() + (drop_dot && e < s.size() && s[e] == '.' ? 1 : 0));
  }
}

// Index just past the group opening at s[open] == '{' (brace-balanced), or npos.
size_t group_end(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t j = open; j < s.size(); ++j) {
    if (s[j] == '{') ++depth;
    else if (s[j] == '}' && --depth == 0) return j + 1;
  }
  return std::string_view::npos;
}

// Replaces "\name{content}" by "content" (brace-balanced), for every occurrence.
void unwrap_command(std::string& s, std::string_view name) {
  const std::string open = std::string(name) + "{";
  size_t p = 0;
  while ((p = s.find(open, p)) != std::string::npos) {
    const size_t g = p + name.size();
    const size_t e = group_end(s, g);
    if (e == std::string::npos) {  // unbalanced: just drop the command word
      s.erase(p, open.size());
      continue;
    }
    s = s.substr(0, p) + s.substr(g + 1, e - g - 2) + s.substr(e);
  }
}

// Unit words dropped after a number ("5.4 \text{ cents}", "864 \mbox{ inches}^2"), longest first
// where one is a suffix of another.
constexpr std::string_view kUnits[] = {
    "degrees", "degree", "cents", "cent", "dollars", "dollar", "inches", "inch", "feet", "foot", "ft",
    "meters", "meter", "cm", "mm", "km", "units", "unit", "square", "sq", "hours", "hour", "minutes",
    "minute", "seconds", "second", "days", "day", "miles", "mile", "mph", "pounds", "lbs", "ounces",
    "oz", "kg", "grams", "liters", "cups", "people", "students", "points", "ways", "years", "cubic",
};

void strip_units(std::string& s) {
  for (bool changed = true; changed;) {
    changed = false;
    for (std::string_view u : kUnits) {
      // Optional exponent after the unit: ^2, ^3.
      size_t end = s.size();
      if (end >= 2 && s[end - 2] == '^' && (s[end - 1] == '2' || s[end - 1] == '3')) end -= 2;
      if (end < u.size() + 1) continue;
      if (std::string_view(s).substr(end - u.size(), u.size()) != u) continue;
      const char before = s[end - u.size() - 1];
      if (!(is_digit(before) || before == '}' || before == ')' || before == '.')) continue;
      s.erase(end - u.size());
      changed = true;
      break;
    }
  }
}

// "\fracXY" → "\frac{X}{Y}", "\sqrtX" → "\sqrt{X}" (an argument is a {group}, a control word or one
// character), recursively inside groups.
std::string brace_arguments(std::string_view s, int depth = 0) {
  if (depth > 50) return std::string(s);
  std::string out;
  size_t i = 0;
  auto take_arg = [&](std::string* arg) -> bool {
    if (i >= s.size()) return false;
    if (s[i] == '{') {
      const size_t e = group_end(s, i);
      if (e == std::string_view::npos) return false;
      *arg = brace_arguments(s.substr(i + 1, e - i - 2), depth + 1);
      i = e;
      return true;
    }
    if (s[i] == '\\') {
      size_t j = i + 1;
      while (j < s.size() && is_alpha(s[j])) ++j;
      if (j == i + 1 && j < s.size()) ++j;
      *arg = std::string(s.substr(i, j - i));
      i = j;
      return true;
    }
    *arg = std::string(1, s[i++]);
    return true;
  };
  while (i < s.size()) {
    const bool frac = s.substr(i).starts_with("\\frac") && (i + 5 >= s.size() || !is_alpha(s[i + 5]));
    const bool sqrt = s.substr(i).starts_with("\\sqrt") && (i + 5 >= s.size() || !is_alpha(s[i + 5]));
    if (frac || sqrt) {
      const size_t start = i;
      i += 5;
      std::string head = frac ? "\\frac" : "\\sqrt";
      if (sqrt && i < s.size() && s[i] == '[') {
        const size_t close = s.find(']', i);
        if (close == std::string_view::npos) {
          out.append(s.substr(start));
          return out;
        }
        head += std::string(s.substr(i, close - i + 1));
        i = close + 1;
      }
      std::string a, b;
      bool ok = take_arg(&a);
      if (ok && frac) ok = take_arg(&b);
      if (!ok) {
        out.append(s.substr(start));
        return out;
      }
      out += head + "{" + a + "}";
      if (frac) out += "{" + b + "}";
      continue;
    }
    out += s[i++];
  }
  return out;
}

// "^{2}" → "^2", "_{5}" → "_5".
void unbrace_single(std::string& s) {
  for (size_t p = 0; p + 3 < s.size(); ++p) {
    if ((s[p] == '^' || s[p] == '_') && s[p + 1] == '{' && s[p + 3] == '}' && s[p + 2] != '\\') {
      s.erase(p + 3, 1);
      s.erase(p + 1, 1);
    }
  }
}

// "12,345,678.5" as a whole → "12345678.5".
bool strip_thousands(std::string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t d = 0;
  while (i + d < s.size() && is_digit(s[i + d])) ++d;
  if (d < 1 || d > 3 || i + d >= s.size() || s[i + d] != ',') return false;
  size_t j = i + d;
  while (j < s.size() && s[j] == ',') {
    if (j + 4 > s.size() || !is_digit(s[j + 1]) || !is_digit(s[j + 2]) || !is_digit(s[j + 3])) return false;
    j += 4;
  }
  if (j < s.size()) {
    if (s[j] != '.') return false;
    for (size_t k = j + 1; k < s.size(); ++k)
      if (!is_digit(s[k])) return false;
  }
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return true;
}

// Drops \! \, \; \: "\ " and ~, leaving "\\" (a matrix row break) intact.
std::string drop_thin_spaces(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char n = s[i + 1];
      if (n == '!' || n == ',' || n == ';' || n == ':' || n == ' ') {
        ++i;
        continue;
      }
      out += s[i];
      out += n;
      ++i;
      continue;
    }
    if (s[i] != '~') out += s[i];
  }
  return out;
}

}  // namespace

std::string normalize_math(std::string_view answer) {
  std::string s(answer);
  // Math-mode delimiters and dollars.
  replace_all(s, "\\(", "");
  replace_all(s, "\\)", "");
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  // Sizing and spacing commands.
  erase_word(s, "\\left", true);
  erase_word(s, "\\right", true);
  for (std::string_view w : {"\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\big", "\\Big", "\\displaystyle", "\\quad",
                             "\\qquad"}) {
    erase_word(s, w, false);
  }
  s = drop_thin_spaces(s);
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  // Text wrappers keep their content ("\text{(C)}" → "(C)", "\text{ cents}" → " cents").
  for (std::string_view w : {"\\textbf", "\\textit", "\\textrm", "\\text", "\\mbox", "\\mathrm", "\\mathbf",
                             "\\operatorname", "\\boxed"}) {
    unwrap_command(s, w);
  }
  // Degrees and percent.
  for (std::string_view w : {"^{\\circ}", "^\\circ", "\\circ", "\xC2\xB0", "\\degree", "\\%", "%"}) replace_all(s, w, "");
  replace_all(s, "\\cdot", "*");
  replace_all(s, "\\times", "*");
  // No whitespace at all from here on.
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return is_space(c); }), s.end());
  strip_units(s);
  // A leading "x=" or "x\in" (the answer names its variable), when it is the only '='.
  if (s.size() > 2 && is_alpha(s[0])) {
    if (s[1] == '=' && std::count(s.begin(), s.end(), '=') == 1) s.erase(0, 2);
    else if (s.compare(1, 3, "\\in") == 0 && (s.size() == 4 || !is_alpha(s[4]))) s.erase(0, 4);
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  strip_thousands(s);
  s = brace_arguments(s);
  unbrace_single(s);
  // "(C)" → "C": a lone letter in parentheses is a choice label.
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && is_alpha(s[1])) s = std::string(1, s[1]);
  return s;
}

namespace {

// Recursive-descent evaluator over a normalized answer (no whitespace). Any unknown symbol fails.
class Evaluator {
 public:
  explicit Evaluator(std::string_view s) : s_(s) {}

  std::optional<double> run() {
    const double v = expr();
    if (!ok_ || i_ != s_.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool at(std::string_view w) const { return s_.substr(i_).starts_with(w); }
  bool at_word(std::string_view w) const {
    return at(w) && (i_ + w.size() >= s_.size() || !is_alpha(s_[i_ + w.size()]));
  }
  double fail() {
    ok_ = false;
    return 0;
  }

  // Things that can follow a factor without an operator and start an implicit product.
  bool starts_primary() const {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    return is_digit(c) || c == '.' || c == '(' || c == '{' || at_word("\\pi") || at_word("\\frac") ||
           at_word("\\sqrt");
  }

  double expr() {
    if (++depth_ > kMaxDepth) return fail();
    double v = term();
    while (ok_ && i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) {
      const char op = s_[i_++];
      const double r = term();
      v = op == '+' ? v + r : v - r;
    }
    --depth_;
    return v;
  }

  double term() {
    double v = unary();
    while (ok_ && i_ < s_.size()) {
      if (s_[i_] == '*') {
        ++i_;
        v *= unary();
      } else if (s_[i_] == '/') {
        ++i_;
        const double d = unary();
        if (d == 0) return fail();
        v /= d;
      } else if (starts_primary()) {
        v *= power();
      } else {
        break;
      }
    }
    return v;
  }

  double unary() {
    if (++depth_ > kMaxDepth) return fail();
    double v;
    if (i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) {
      const bool neg = s_[i_++] == '-';
      v = unary();
      if (neg) v = -v;
    } else {
      v = power();
    }
    --depth_;
    return v;
  }

  double power() {
    const double base = primary();
    if (!ok_ || i_ >= s_.size() || s_[i_] != '^') return base;
    ++i_;
    double e;
    if (i_ < s_.size() && is_digit(s_[i_])) {
      // All the digits: "2^10" is 1024 as models write it in plain text (LaTeX would render 2¹0,
      // which no one means).
      e = 0;
      while (i_ < s_.size() && is_digit(s_[i_]) && e < 1e6) e = 10 * e + (s_[i_++] - '0');
    }
    else if (i_ < s_.size() && s_[i_] == '-') {
      ++i_;
      e = -primary();
    } else e = primary();
    if (!ok_) return 0;
    const double v = std::pow(base, e);
    if (!std::isfinite(v)) return fail();
    return v;
  }

  double group(char open, char close) {
    if (i_ >= s_.size() || s_[i_] != open) return fail();
    ++i_;
    const double v = expr();
    if (!ok_ || i_ >= s_.size() || s_[i_] != close) return fail();
    ++i_;
    return v;
  }

  double number() {
    const size_t start = i_;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    if (i_ == start || (i_ == start + 1 && s_[start] == '.')) return fail();
    // Scientific notation: e / E followed by an optionally signed integer.
    if (i_ + 1 < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t j = i_ + 1;
      if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ++j;
      if (j < s_.size() && is_digit(s_[j])) {
        i_ = j;
        while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
      }
    }
    double v = 0;
    const auto r = std::from_chars(s_.data() + start, s_.data() + i_, v);
    if (r.ec != std::errc() || r.ptr != s_.data() + i_) return fail();
    return v;
  }

  double primary() {
    if (++depth_ > kMaxDepth) return fail();
    double v = 0;
    if (i_ >= s_.size()) return fail();
    const char c = s_[i_];
    if (is_digit(c) || c == '.') {
      const size_t start = i_;
      v = number();
      // A mixed number: an integer written right before \frac{int}{int} ("1\frac{4}{5}" = 1.8).
      const bool integer = s_.substr(start, i_ - start).find_first_not_of("0123456789") == std::string_view::npos;
      if (ok_ && integer && at_word("\\frac")) {
        const size_t save = i_;
        const double f = primary();
        const std::string_view frac_text = s_.substr(save, i_ - save);
        if (ok_ && frac_text.find_first_not_of("\\frac{}0123456789") == std::string_view::npos) v += f;
        else if (ok_) v *= f;
      }
    } else if (c == '(') {
      v = group('(', ')');
    } else if (c == '{') {
      v = group('{', '}');
    } else if (at_word("\\pi")) {
      i_ += 3;
      v = std::numbers::pi;
    } else if (at_word("\\frac")) {
      i_ += 5;
      const double num = group('{', '}');
      const double den = group('{', '}');
      if (!ok_ || den == 0) return fail();
      v = num / den;
    } else if (at_word("\\sqrt")) {
      i_ += 5;
      double index = 2;
      if (i_ < s_.size() && s_[i_] == '[') index = group('[', ']');
      const double x = group('{', '}');
      if (!ok_ || index == 0 || x < 0) return fail();
      v = index == 2 ? std::sqrt(x) : std::pow(x, 1.0 / index);
    } else {
      return fail();
    }
    --depth_;
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  bool ok_ = true;
};

// Splits s at top-level occurrences of `sep` (outside (), [], {}).
std::vector<std::string> split_top(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t last = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') --depth;
    else if (depth == 0 && s.substr(i).starts_with(sep)) {
      parts.emplace_back(s.substr(last, i - last));
      last = i + sep.size();
      i = last - 1;
    }
  }
  parts.emplace_back(s.substr(last));
  return parts;
}

// True when the bracket opening at s[0] closes exactly at the last character.
bool wraps_whole(std::string_view s) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0 && i + 1 != s.size()) return false;
    }
  }
  return depth == 0;
}

bool equal_normalized(const std::string& a, const std::string& b, int depth);

bool items_equal(const AnswerShape& x, const AnswerShape& y, bool ordered, int depth) {
  if (x.items.size() != y.items.size()) return false;
  if (ordered) {
    for (size_t k = 0; k < x.items.size(); ++k)
      if (!equal_normalized(x.items[k], y.items[k], depth + 1)) return false;
    return true;
  }
  std::vector<bool> used(y.items.size(), false);
  for (const auto& xi : x.items) {
    bool found = false;
    for (size_t k = 0; k < y.items.size() && !found; ++k) {
      if (!used[k] && equal_normalized(xi, y.items[k], depth + 1)) used[k] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

bool equal_normalized(const std::string& a, const std::string& b, int depth) {
  if (a == b) return true;
  if (depth > 8 || a.empty() || b.empty()) return false;
  const auto va = evaluate_number(a);
  const auto vb = evaluate_number(b);
  if (va && vb) return numbers_equal(*va, *vb);
  if (va || vb) return false;
  const AnswerShape x = answer_shape(a), y = answer_shape(b);
  if (x.kind == AnswerShape::Kind::kAtom || x.kind != y.kind) return false;
  switch (x.kind) {
    case AnswerShape::Kind::kSequence:
      return x.open == y.open && x.close == y.close && items_equal(x, y, true, depth);
    case AnswerShape::Kind::kMatrix:
      return x.rows == y.rows && items_equal(x, y, true, depth);
    case AnswerShape::Kind::kUnion:
      return items_equal(x, y, true, depth);
    case AnswerShape::Kind::kSet:
    case AnswerShape::Kind::kList:
      return items_equal(x, y, false, depth);
    case AnswerShape::Kind::kAtom:
      break;
  }
  return false;
}

}  // namespace

std::optional<double> evaluate_number(std::string_view normalized) {
  if (normalized.empty() || normalized.size() > 1000) return std::nullopt;
  return Evaluator(normalized).run();
}

bool numbers_equal(double a, double b) {
  const double scale = std::max(std::fabs(a), std::fabs(b));
  const bool integers = std::nearbyint(a) == a && std::nearbyint(b) == b && scale < 9e15;
  if (integers) return a == b;
  return std::fabs(a - b) <= 1e-4 * scale;
}

AnswerShape answer_shape(std::string_view s) {
  AnswerShape shape;
  for (std::string_view env : {"pmatrix", "bmatrix"}) {
    const std::string begin = "\\begin{" + std::string(env) + "}", end = "\\end{" + std::string(env) + "}";
    if (s.starts_with(begin) && s.ends_with(end)) {
      shape.kind = AnswerShape::Kind::kMatrix;
      const std::string_view inner = s.substr(begin.size(), s.size() - begin.size() - end.size());
      for (const auto& row : split_top(inner, "\\\\")) {
        if (row.empty()) continue;
        ++shape.rows;
        for (auto& cell : split_top(row, "&")) shape.items.push_back(cell);
      }
      return shape;
    }
  }
  if (auto parts = split_top(s, "\\cup"); parts.size() > 1) {
    shape.kind = AnswerShape::Kind::kUnion;
    shape.items = std::move(parts);
    return shape;
  }
  if (s.size() >= 4 && s.starts_with("\\{") && s.ends_with("\\}")) {
    shape.kind = AnswerShape::Kind::kSet;
    shape.items = split_top(s.substr(2, s.size() - 4), ",");
    return shape;
  }
  if (s.size() >= 2 && (s.front() == '(' || s.front() == '[') && (s.back() == ')' || s.back() == ']') &&
      wraps_whole(s)) {
    auto items = split_top(s.substr(1, s.size() - 2), ",");
    if (items.size() > 1) {
      shape.kind = AnswerShape::Kind::kSequence;
      shape.open = s.front();
      shape.close = s.back();
      shape.items = std::move(items);
      return shape;
    }
  }
  if (auto items = split_top(s, ","); items.size() > 1) {
    shape.kind = AnswerShape::Kind::kList;
    shape.items = std::move(items);
    return shape;
  }
  shape.items = {std::string(s)};
  return shape;
}

bool math_equivalent(std::string_view a, std::string_view b) {
  return equal_normalized(normalize_math(a), normalize_math(b), 0);
}

std::string canonical_number(double v) {
  if (v == 0) return "0";  // also -0
  if (std::nearbyint(v) == v && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

namespace {
std::string key_normalized(const std::string& n, int depth) {
  if (auto v = evaluate_number(n)) return canonical_number(*v);
  if (depth > 8) return n;
  const AnswerShape shape = answer_shape(n);
  if (shape.kind == AnswerShape::Kind::kAtom) return n;
  std::vector<std::string> keys;
  for (const auto& item : shape.items) keys.push_back(key_normalized(item, depth + 1));
  const bool unordered = shape.kind == AnswerShape::Kind::kSet || shape.kind == AnswerShape::Kind::kList;
  if (unordered) std::sort(keys.begin(), keys.end());
  std::string open, close;
  switch (shape.kind) {
    case AnswerShape::Kind::kSequence: open = shape.open, close = shape.close; break;
    case AnswerShape::Kind::kSet: open = "{", close = "}"; break;
    case AnswerShape::Kind::kList: open = "", close = ""; break;
    case AnswerShape::Kind::kUnion: open = "U(", close = ")"; break;
    case AnswerShape::Kind::kMatrix: open = "M" + std::to_string(shape.rows) + "[", close = "]"; break;
    case AnswerShape::Kind::kAtom: break;
  }
  std::string out = open;
  for (size_t k = 0; k < keys.size(); ++k) out += (k ? "," : "") + keys[k];
  return out + close;
}
}  // namespace

std::string math_key(std::string_view answer) { return key_normalized(normalize_math(answer), 0); }

}  // namespace er::eval
