// The grader against every MATH-500, GSM8K and MMLU-STEM gold answer: each equal to itself and to
// rewritten equivalents generated here, unequal to a perturbed copy; prints false-positive/negative
// counts.
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/equivalence.h"
#include "eval/extract.h"
#include "eval/grader.h"
#include "support/test_support.h"

namespace er::eval {
namespace {

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> v;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

bool is_int(const std::string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// Equivalent rewrites of a gold answer, each naming the rule that made it. Every rule applies
// only where it fits; "spacing" and "dollars" fit every answer, so each gold gets at least two.
std::vector<std::pair<std::string, std::string>> rewrites(const std::string& g) {
  std::vector<std::pair<std::string, std::string>> r;
  // Spacing: a space after commas and around + and =; and every space removed.
  std::string spaced = replace_all(replace_all(replace_all(g, ",", ", "), "+", " + "), "=", " = ");
  r.emplace_back("spacing", spaced + " ");
  if (g.find(' ') != std::string::npos && g.find("\\text") == std::string::npos && g.find("\\mbox") == std::string::npos &&
      g.find("matrix") == std::string::npos) {
    std::string tight;
    for (char c : g)
      if (c != ' ') tight += c;
    r.emplace_back("no-spaces", tight);
  }
  r.emplace_back("dollars", "$" + g + "$");
  if (g.find("\\dfrac") != std::string::npos) r.emplace_back("dfrac->frac", replace_all(g, "\\dfrac", "\\frac"));
  else if (g.find("\\frac") != std::string::npos) r.emplace_back("frac->dfrac", replace_all(g, "\\frac", "\\dfrac"));
  // A rational \frac{a}{b}: as a/b and as a decimal.
  {
    const std::string n = normalize_math(g);
    int a = 0, b = 0;
    char tail = 0;
    bool neg = !n.empty() && n[0] == '-';
    if (std::sscanf(n.c_str() + (neg ? 1 : 0), "\\frac{%d}{%d}%c", &a, &b, &tail) == 2 && b != 0) {
      r.emplace_back("frac->a/b", (neg ? "-" : "") + std::to_string(a) + "/" + std::to_string(b));
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.10g", (neg ? -1.0 : 1.0) * a / b);
      r.emplace_back("frac->decimal", buf);
    }
  }
  if (std::regex_search(g, std::regex(R"(\d/\d)"))) {  // "-1/3" in a matrix → "-\frac{1}{3}"
    r.emplace_back("slash->frac", std::regex_replace(g, std::regex(R"((\d+)/(\d+))"), "\\frac{$1}{$2}"));
  }
  if (g.find("^\\circ") != std::string::npos) r.emplace_back("no-degrees", replace_all(g, "^\\circ", ""));
  else if (is_int(g)) r.emplace_back("add-degrees", g + "^\\circ");
  if (g.size() == 10 && g.starts_with("\\text{(") && g.ends_with(")}")) r.emplace_back("text-choice", g.substr(7, 1));
  if (g.find("\\left") != std::string::npos) {
    r.emplace_back("no-left-right", replace_all(replace_all(g, "\\left", ""), "\\right", ""));
  } else if (!g.empty() && (g[0] == '(' || g[0] == '[') && (g.back() == ')' || g.back() == ']')) {
    r.emplace_back("add-left-right", "\\left" + g.substr(0, g.size() - 1) + "\\right" + g.back());
  }
  if (is_int(g) && g.size() > 4) {  // thousands separators
    std::string digits = g, with;
    int k = 0;
    for (size_t i = digits.size(); i-- > 0;) {
      with.insert(with.begin(), digits[i]);
      if (++k % 3 == 0 && i > 0 && digits[i - 1] != '-') with.insert(with.begin(), ',');
    }
    r.emplace_back("thousands", with);
  }
  if (g.find(",\\!") != std::string::npos) r.emplace_back("no-thousands", replace_all(replace_all(g, ",\\! ", ""), ",\\!", ""));
  if (g.find("\\sqrt{") != std::string::npos) {
    // \sqrt{7} → \sqrt7 where the argument is one character.
    std::string s = g;
    for (size_t p = 0; (p = s.find("\\sqrt{", p)) != std::string::npos; ++p) {
      if (p + 7 < s.size() && s[p + 7] == '}') s = s.substr(0, p + 5) + s[p + 6] + s.substr(p + 8);
    }
    if (s != g) r.emplace_back("sqrt-unbraced", s);
  }
  return r;
}

// The gold with its first digit changed (9 → 0), or "+1" appended when it has no digit.
std::string perturb(const std::string& g) {
  std::string s = g;
  for (char& c : s) {
    if (c >= '0' && c <= '9') {
      c = c == '9' ? '0' : static_cast<char>(c + 1);
      return s;
    }
  }
  return s + "+1";
}

TEST(EvalMath500, EveryGoldEqualsItselfRewritesAndNotPerturbed) {
  const auto path = test::data_dir() / "math500/test.jsonl";
  const auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 500u);
  int false_neg = 0, false_pos = 0, pairs_equal = 0, pairs_unequal = 0, boxed_fail = 0;
  for (const auto& row : rows) {
    const std::string g = row["answer"];
    ++pairs_equal;
    if (!math_equivalent(g, g)) {
      ++false_neg;
      ADD_FAILURE() << "self: '" << g << "'";
    }
    const auto rw = rewrites(g);
    EXPECT_GE(rw.size(), 2u) << g;
    bool has_changed = false;
    for (const auto& [rule, alt] : rw) {
      ++pairs_equal;
      has_changed |= alt != g;
      if (!math_equivalent(alt, g) || !math_equivalent(g, alt)) {
        ++false_neg;
        ADD_FAILURE() << rule << ": '" << alt << "' vs gold '" << g << "' judged unequal";
      }
      // Equivalent answers vote together.
      EXPECT_EQ(canonical_answer(Task::kMath, alt), canonical_answer(Task::kMath, g)) << rule << ": " << alt << " vs " << g;
    }
    EXPECT_TRUE(has_changed) << g;
    const std::string bad = perturb(g);
    ++pairs_unequal;
    if (math_equivalent(bad, g)) {
      ++false_pos;
      ADD_FAILURE() << "perturbed '" << bad << "' judged equal to gold '" << g << "'";
    }
    // End to end: the gold as a model would box it is extracted and graded correct, and the
    // solution's own last \boxed{} is equivalent to the answer field.
    const Graded gr = grade_completion(Task::kMath, "So the final result is $\\boxed{" + g + "}$.", g);
    EXPECT_TRUE(gr.correct) << g;
    const auto sol_box = last_boxed(row["solution"].get<std::string>());
    if (!sol_box || !math_equivalent(*sol_box, g)) {
      ++boxed_fail;
      ADD_FAILURE() << "solution's last box '" << sol_box.value_or("<none>") << "' vs answer '" << g << "'";
    }
  }
  std::printf("MATH-500 grader: %d equivalent pairs, %d false negatives; %d perturbed pairs, %d false positives; "
              "%d solution boxes unequal to the answer\n",
              pairs_equal, false_neg, pairs_unequal, false_pos, boxed_fail);
  EXPECT_EQ(false_neg, 0);
  EXPECT_EQ(false_pos, 0);
}

TEST(EvalGsm8k, EveryGoldWithCommasDollarsAndPeriod) {
  const auto path = test::data_dir() / "gsm8k/test.jsonl";
  const auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 1319u);
  int false_neg = 0, false_pos = 0;
  for (const auto& row : rows) {
    const auto gold = hashes_number(row["answer"].get<std::string>());
    ASSERT_TRUE(gold.has_value()) << row["answer"];
    const std::string g = *gold;
    // Written with thousands separators, a dollar sign and a trailing period, in each extraction form.
    std::string with = g;
    if (is_int(g)) {
      with.clear();
      int k = 0;
      for (size_t i = g.size(); i-- > 0;) {
        with.insert(with.begin(), g[i]);
        if (++k % 3 == 0 && i > 0 && g[i - 1] != '-') with.insert(with.begin(), ',');
      }
    }
    for (const std::string& completion :
         {"She makes 3 + 4 = 7 dollars a day. The answer is $" + with + ".",
          "Total: 12 apples.\n#### " + with, "So 2 * 5 = 10, and the total is \\boxed{" + with + "}.",
          "First 3 eggs, then 4 eggs, so $" + with + "."}) {
      const Graded gr = grade_completion(Task::kGsm8k, completion, g);
      if (!gr.correct) {
        ++false_neg;
        ADD_FAILURE() << "'" << completion << "' → " << gr.extracted.value_or("<none>") << " vs " << g;
      }
    }
    const std::string bad = perturb(g);
    if (grade_completion(Task::kGsm8k, "The answer is " + bad + ".", g).correct) {
      ++false_pos;
      ADD_FAILURE() << bad << " judged equal to " << g;
    }
  }
  std::printf("GSM8K grader: %zu golds x 4 forms, %d false negatives; %zu perturbed, %d false positives\n",
              rows.size(), false_neg, rows.size(), false_pos);
  EXPECT_EQ(false_neg, 0);
  EXPECT_EQ(false_pos, 0);
}

TEST(EvalMmluStem, EveryGoldLetterInEachFormAndNotTheArticle) {
  const auto path = test::data_dir() / "mmlu_stem/test.jsonl";
  const auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 3018u);
  int false_neg = 0, false_pos = 0, article_taken = 0;
  for (const auto& row : rows) {
    const std::string gold(1, static_cast<char>('A' + row["answer"].get<int>()));
    const std::string lower(1, static_cast<char>('a' + row["answer"].get<int>()));
    const std::string other(1, static_cast<char>('A' + (row["answer"].get<int>() + 1) % 4));
    const std::string choice = row["choices"][0];
    for (const std::string& c :
         {"Let me think. The answer is (" + gold + ").", "Reasoning...\nAnswer: " + gold, "So $\\boxed{" + gold + "}$",
          "Reasoning...\n\n**" + gold + "**", "Thus the final answer is " + gold + ". It fits best.",
          "the answer is (" + lower + ")"}) {
      if (!grade_completion(Task::kMultipleChoice, c, gold).correct) {
        ++false_neg;
        ADD_FAILURE() << "'" << c << "' not graded " << gold;
      }
    }
    if (grade_completion(Task::kMultipleChoice, "The answer is " + other + ".", gold).correct) ++false_pos;
    // The article before a choice's text is never read as choice A.
    const Graded art = grade_completion(Task::kMultipleChoice, "The answer is a " + choice + ".", gold);
    if (art.extracted) {
      ++article_taken;
      ADD_FAILURE() << "article read as '" << *art.extracted << "' in: The answer is a " << choice;
    }
  }
  std::printf("MMLU-STEM grader: %zu golds x 6 forms, %d false negatives; %zu other letters, %d false positives; "
              "article read as a letter %d times\n",
              rows.size(), false_neg, rows.size(), false_pos, article_taken);
  EXPECT_EQ(false_neg, 0);
  EXPECT_EQ(false_pos, 0);
  EXPECT_EQ(article_taken, 0);
}

}  // namespace
}  // namespace er::eval
