// Answer extraction: boxed, answer phrases, "####", numbers, choice letters (reference.md §9).
#include "eval/extract.h"

#include "eval/equivalence.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace er::eval {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Positions where `needle` occurs in text, case-insensitively, in order.
std::vector<size_t> find_all_icase(std::string_view text, std::string_view needle) {
  std::vector<size_t> at;
  if (needle.empty() || text.size() < needle.size()) return at;
  for (size_t i = 0; i + needle.size() <= text.size(); ++i) {
    bool ok = true;
    for (size_t j = 0; j < needle.size() && ok; ++j) ok = lower(text[i + j]) == lower(needle[j]);
    if (ok) at.push_back(i);
  }
  return at;
}

// A number starting at i (digits with optional comma groups, optional decimals; or ".5"), with
// an optional leading '-' at i. Returns its length (0: none) and the cleaned text.
size_t scan_number(std::string_view t, size_t i, std::string* out, bool allow_fraction) {
  size_t j = i;
  std::string s;
  if (j < t.size() && (t[j] == '-' || t[j] == '+')) {
    if (t[j] == '-') s += '-';
    ++j;
  }
  const size_t digits0 = j;
  while (j < t.size() && is_digit(t[j])) s += t[j++];
  bool int_part = j > digits0;
  // Thousands separators: each ",ddd" group is exactly three digits ("1,234"; "1,23" is a list).
  while (int_part && j + 3 < t.size() && t[j] == ',' && is_digit(t[j + 1]) && is_digit(t[j + 2]) &&
         is_digit(t[j + 3]) && (j + 4 >= t.size() || !is_digit(t[j + 4]))) {
    s.append(t.substr(j + 1, 3));
    j += 4;
  }
  if (j + 1 < t.size() && t[j] == '.' && is_digit(t[j + 1])) {
    s += '.';
    ++j;
    while (j < t.size() && is_digit(t[j])) s += t[j++];
    int_part = true;
  }
  if (!int_part) return 0;
  if (allow_fraction && j + 1 < t.size() && t[j] == '/' && is_digit(t[j + 1])) {
    s += '/';
    ++j;
    while (j < t.size() && is_digit(t[j])) s += t[j++];
  }
  if (out != nullptr) *out = s;
  return j - i;
}

// All numbers in text, in order (cleaned).
std::vector<std::string> numbers_in(std::string_view t, bool allow_fraction) {
  std::vector<std::string> nums;
  size_t i = 0;
  while (i < t.size()) {
    const bool sign_start = (t[i] == '-' || t[i] == '+') && (i == 0 || !is_alnum(t[i - 1]));
    const bool starts = is_digit(t[i]) || (t[i] == '.' && i + 1 < t.size() && is_digit(t[i + 1])) ||
                        (sign_start && i + 1 < t.size() && (is_digit(t[i + 1]) || t[i + 1] == '.'));
    // A number glued to letters on its left ("x2", "a1") is part of a name, not a number.
    if (starts && !(i > 0 && std::isalpha(static_cast<unsigned char>(t[i - 1])) != 0)) {
      std::string s;
      const size_t n = scan_number(t, i, &s, allow_fraction);
      if (n > 0) {
        nums.push_back(s);
        i += n;
        continue;
      }
    }
    ++i;
  }
  return nums;
}

bool valid_letter(char c, int n_choices) { return c >= 'A' && c < 'A' + n_choices; }

// A choice label at the start of s (after markup): "(C)", "[c]", "**C**", "\\text{C}", "C.", "C" —
// any letter, valid or not (the caller checks the range). Wrapped labels may be lower-case; bare
// ones must be upper-case, and a bare "A" followed by a lower-case word is the article.
std::optional<char> label_at(std::string_view s) {
  size_t i = 0;
  for (;;) {
    while (i < s.size() && (is_space(s[i]) || s[i] == '*' || s[i] == '$' || s[i] == ':' || s[i] == '_')) ++i;
    const std::string_view rest = s.substr(i);
    if (rest.starts_with("\\text{") || rest.starts_with("\\mathrm{") || rest.starts_with("\\textbf{") ||
        rest.starts_with("\\boxed{")) {
      i = s.find('{', i) + 1;
      continue;
    }
    break;
  }
  if (i >= s.size()) return std::nullopt;
  auto up = [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); };
  if (s[i] == '(' || s[i] == '[') {
    const char close = s[i] == '(' ? ')' : ']';
    if (i + 2 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1])) != 0 && s[i + 2] == close) return up(s[i + 1]);
    return std::nullopt;
  }
  const bool wrapped = i > 0 && (s[i - 1] == '*' || s[i - 1] == '{');
  const char c = s[i];
  if (std::isalpha(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  if (i + 1 < s.size() && is_alnum(s[i + 1])) return std::nullopt;  // a word, not a label
  if (c != up(c) && !wrapped) return std::nullopt;                  // bare lower-case: "a" is an article
  if (c == 'A' && !wrapped) {
    size_t k = i + 1;
    while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
    if (k < s.size() && k > i + 1 && std::islower(static_cast<unsigned char>(s[k])) != 0) return std::nullopt;
  }
  return up(c);
}

std::optional<char> letter_at(std::string_view s, int n_choices) {
  auto c = label_at(s);
  if (c && valid_letter(*c, n_choices)) return c;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> last_boxed(std::string_view text) {
  size_t best = std::string_view::npos;
  size_t name_len = 0;
  for (std::string_view name : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
    const size_t p = text.rfind(name);
    if (p != std::string_view::npos && (best == std::string_view::npos || p > best)) {
      best = p;
      name_len = name.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  size_t i = best + name_len;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '{') {
    int depth = 0;
    for (size_t j = i; j < text.size(); ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {  // \{ and \} do not count
        ++j;
        continue;
      }
      if (text[j] == '{') ++depth;
      else if (text[j] == '}' && --depth == 0) {
        std::string s = trim(text.substr(i + 1, j - i - 1));
        if (s.empty()) return std::nullopt;
        return s;
      }
    }
    // Cut off before the closing brace: the rest of the line.
    std::string_view rest = text.substr(i + 1);
    rest = rest.substr(0, rest.find('\n'));
    std::string s = trim(rest);
    if (s.empty()) return std::nullopt;
    return s;
  }
  if (i == best + name_len) return std::nullopt;  // "\boxedx": not a box
  size_t j = i;
  while (j < text.size() && !is_space(text[j]) && text[j] != '$') ++j;
  std::string s = trim(text.substr(i, j - i));
  if (s.empty()) return std::nullopt;
  return s;
}

std::optional<std::string> answer_phrase(std::string_view text) {
  // The last marker wins; each marker's text runs to the end of its sentence.
  size_t best = std::string_view::npos, best_end = 0;
  for (std::string_view m : {std::string_view("answer is"), std::string_view("answer:")}) {
    const auto all = find_all_icase(text, m);
    if (!all.empty() && (best == std::string_view::npos || all.back() > best)) {
      best = all.back();
      best_end = all.back() + m.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(best_end);
  size_t b = 0;
  while (b < rest.size() && (is_space(rest[b]) || rest[b] == ':' || rest[b] == '*')) ++b;
  rest = rest.substr(b);
  size_t e = 0;
  for (; e < rest.size(); ++e) {
    if (rest[e] == '\n') break;
    if (rest[e] == '.' && (e + 1 == rest.size() || is_space(rest[e + 1]))) break;
  }
  std::string s = trim(rest.substr(0, e));
  while (!s.empty() && (s.back() == '*' || s.back() == '.')) s.pop_back();
  s = trim(s);
  if (s.empty()) return std::nullopt;
  return s;
}

std::optional<std::string> hashes_number(std::string_view text) {
  const size_t p = text.rfind("####");
  if (p == std::string_view::npos) return std::nullopt;
  return first_number(text.substr(p + 4));
}

std::optional<std::string> last_number(std::string_view text) {
  auto nums = numbers_in(text, /*allow_fraction=*/true);
  if (nums.empty()) return std::nullopt;
  return nums.back();
}

std::optional<std::string> first_number(std::string_view text) {
  auto nums = numbers_in(text, /*allow_fraction=*/false);
  if (nums.empty()) return std::nullopt;
  return nums.front();
}

std::optional<char> extract_choice(std::string_view text, int n_choices) {
  if (auto boxed = last_boxed(text)) {
    if (auto c = letter_at("\\boxed{" + *boxed, n_choices)) return c;
  }
  std::vector<size_t> markers;
  for (std::string_view m : {std::string_view("answer is"), std::string_view("answer:"),
                             std::string_view("answer would be")}) {
    for (size_t p : find_all_icase(text, m)) markers.push_back(p + m.size());
  }
  std::sort(markers.begin(), markers.end());
  // The last phrase that names a label decides ("The answer is X." with a placeholder X is no
  // answer); phrases followed by a word or the article are passed over.
  for (auto it = markers.rbegin(); it != markers.rend(); ++it) {
    std::string_view rest = text.substr(*it);
    if (auto c = label_at(rest.substr(0, rest.find('\n')))) {
      if (valid_letter(*c, n_choices)) return c;
      return std::nullopt;
    }
  }
  // A lone letter ending the text: the last non-empty line is "C", "(C)", "**C.**" or "C. …".
  size_t e = text.size();
  while (e > 0 && is_space(text[e - 1])) --e;
  const size_t b = text.rfind('\n', e == 0 ? 0 : e - 1);
  std::string line = trim(text.substr(b == std::string_view::npos ? 0 : b + 1, e - (b == std::string_view::npos ? 0 : b + 1)));
  std::string core;
  for (char c : line)
    if (c != '*' && c != '$') core += c;
  while (!core.empty() && (core.back() == '.' || core.back() == ' ')) core.pop_back();
  if (core.size() == 1 && valid_letter(core[0], n_choices)) return core[0];
  if (core.size() == 3 && (core[0] == '(' || core[0] == '[') && (core[2] == ')' || core[2] == ']')) {
    const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(core[1])));
    if (valid_letter(up, n_choices)) return up;
  }
  return std::nullopt;
}

std::optional<std::string> extract_answer(Task task, std::string_view text, int n_choices) {
  switch (task) {
    case Task::kMultipleChoice: {
      auto c = extract_choice(text, n_choices);
      if (!c) return std::nullopt;
      return std::string(1, *c);
    }
    case Task::kGsm8k: {
      if (auto b = last_boxed(text)) {
        // An arithmetic expression in the box ("16 * 3", "\\frac{96}{2}") is its value.
        if (auto v = evaluate_number(normalize_math(*b))) return canonical_number(*v);
        if (auto n = last_number(*b)) return n;
      }
      if (auto p = answer_phrase(text)) {
        if (auto n = first_number(*p)) return n;
      }
      if (auto h = hashes_number(text)) return h;
      return last_number(text);
    }
    case Task::kMath: {
      if (auto b = last_boxed(text)) return b;
      if (auto p = answer_phrase(text)) return p;
      return last_number(text);
    }
  }
  return std::nullopt;
}

}  // namespace er::eval
