// Extraction and equivalence, case by case (reference.md §9), and canonical voting keys.
#include <cmath>
#include <numbers>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "eval/equivalence.h"
#include "eval/extract.h"
#include "eval/grader.h"

namespace er::eval {
namespace {

std::string ex(Task t, const std::string& text) { return extract_answer(t, text).value_or("<none>"); }

TEST(EvalExtract, LastBoxedIsBraceBalanced) {
  EXPECT_EQ(last_boxed("a \\boxed{1} then \\boxed{\\frac{1}{2}} end").value(), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}").value(), "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ(last_boxed("so \\boxed 5$.").value(), "5");
  EXPECT_EQ(last_boxed("\\fbox{7}").value(), "7");
  EXPECT_EQ(last_boxed("cut off: \\boxed{42\nmore").value(), "42");  // budget ran out before '}'
  EXPECT_FALSE(last_boxed("no box here").has_value());
  EXPECT_FALSE(last_boxed("\\boxed{}").has_value());
  EXPECT_EQ(last_boxed("\\boxed{\\{1,2\\}}").value(), "\\{1,2\\}");  // escaped braces do not count
}

TEST(EvalExtract, MathOrder) {
  EXPECT_EQ(ex(Task::kMath, "The answer is 3. But \\boxed{4}"), "4");            // box first
  EXPECT_EQ(ex(Task::kMath, "Thus the final answer is $\\frac{1}{2}$. Done"), "$\\frac{1}{2}$");
  EXPECT_EQ(ex(Task::kMath, "The answer is 3.5."), "3.5");                       // decimal kept
  EXPECT_EQ(ex(Task::kMath, "**Final Answer:** 12\n"), "12");
  EXPECT_EQ(ex(Task::kMath, "we get 3 then 7 and finally -2.5"), "-2.5");         // last number
  EXPECT_EQ(ex(Task::kMath, "x is 3/4"), "3/4");
  EXPECT_EQ(ex(Task::kMath, "nothing numeric"), "<none>");
}

TEST(EvalExtract, Gsm8kNumbers) {
  EXPECT_EQ(ex(Task::kGsm8k, "The answer is $1,234."), "1234");
  EXPECT_EQ(ex(Task::kGsm8k, "She pays $5 for 3 items"), "3");  // last number
  EXPECT_EQ(ex(Task::kGsm8k, "so 7."), "7");
  EXPECT_EQ(ex(Task::kGsm8k, "costs $5"), "5");
  EXPECT_EQ(ex(Task::kGsm8k, "work 2+3\n#### 1,000,000"), "1000000");
  EXPECT_EQ(ex(Task::kGsm8k, "\\boxed{18 \\text{ dollars}}"), "18");
  EXPECT_EQ(ex(Task::kGsm8k, "\\boxed{16 * 3} = 48 ducks"), "48");  // the box's value
  EXPECT_EQ(ex(Task::kGsm8k, "\\boxed{\\$1,200}"), "1200");
  EXPECT_EQ(ex(Task::kGsm8k, "\\boxed{x = 7}"), "7");
  EXPECT_EQ(ex(Task::kGsm8k, "\\boxed{3, 4}"), "4");  // a list is not one number: its last
  EXPECT_EQ(ex(Task::kGsm8k, "The answer is 18 because 9 * 2 = 18 and 3"), "18");  // phrase: first number
  EXPECT_EQ(ex(Task::kGsm8k, "total = -4"), "-4");
  EXPECT_EQ(ex(Task::kGsm8k, "values 1,23"), "23");  // "1,23" is not a thousands group
  EXPECT_EQ(ex(Task::kGsm8k, "no digits"), "<none>");
}

TEST(EvalExtract, ChoiceLetters) {
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is (C)."), "C");
  EXPECT_EQ(ex(Task::kMultipleChoice, "Answer: D"), "D");
  EXPECT_EQ(ex(Task::kMultipleChoice, "blah blah\nB"), "B");
  EXPECT_EQ(ex(Task::kMultipleChoice, "blah blah\n**(b)**"), "B");
  EXPECT_EQ(ex(Task::kMultipleChoice, "So \\boxed{C}"), "C");
  EXPECT_EQ(ex(Task::kMultipleChoice, "\\boxed{\\text{(d)}}"), "D");
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is A."), "A");
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is **B**"), "B");
  EXPECT_EQ(ex(Task::kMultipleChoice, "I think the answer is C. Increase the mortality rate."), "C");
  EXPECT_EQ(ex(Task::kMultipleChoice, "A. one\nB. two\nC. three\nD. four"), "<none>");  // a listing
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is D. No wait.\nThe answer is X."), "<none>");  // placeholder
  // The article "a" is never choice A.
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is a frameshift mutation."), "<none>");
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is A frameshift mutation."), "<none>");
  EXPECT_EQ(ex(Task::kMultipleChoice, "It is a"), "<none>");
  EXPECT_EQ(ex(Task::kMultipleChoice, "Answer: a"), "<none>");
  EXPECT_EQ(ex(Task::kMultipleChoice, "a"), "<none>");
  // An earlier phrase that names a letter is used when the last one does not.
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is B. So the answer is a good one"), "B");
  // Letters beyond the choices are not answers.
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is E."), "<none>");
  EXPECT_EQ(extract_answer(Task::kMultipleChoice, "The answer is E.", 5).value_or("<none>"), "E");
  EXPECT_EQ(ex(Task::kMultipleChoice, "The answer is Because"), "<none>");  // a word, not a letter
}

TEST(EvalEquivalence, Normalize) {
  EXPECT_EQ(normalize_math("\\left( 3, \\dfrac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})");
  EXPECT_EQ(normalize_math("90^\\circ"), "90");
  EXPECT_EQ(normalize_math("\\text{(C)}"), "C");
  EXPECT_EQ(normalize_math("10,\\!080"), "10080");
  EXPECT_EQ(normalize_math("\\$32,\\!348"), "32348");
  EXPECT_EQ(normalize_math("x = 5"), "5");
  EXPECT_EQ(normalize_math("x \\in [-2,7]"), "[-2,7]");
  EXPECT_EQ(normalize_math("5.4 \\text{ cents}"), "5.4");
  EXPECT_EQ(normalize_math("864 \\mbox{ inches}^2"), "864");
  EXPECT_EQ(normalize_math("\\frac 59"), "\\frac{5}{9}");
  EXPECT_EQ(normalize_math("11\\sqrt2"), "11\\sqrt{2}");
  EXPECT_EQ(normalize_math("4210_{5}"), "4210_5");
  EXPECT_EQ(normalize_math("50\\%"), "50");
  EXPECT_EQ(normalize_math("\\text{Evelyn}"), "Evelyn");
  EXPECT_EQ(normalize_math("5x - 7y + 11z + 4 = 0"), "5x-7y+11z+4=0");  // not "x =": kept
}

TEST(EvalEquivalence, Evaluate) {
  EXPECT_DOUBLE_EQ(evaluate_number("\\frac{1}{2}").value(), 0.5);
  EXPECT_DOUBLE_EQ(evaluate_number("3/4").value(), 0.75);
  EXPECT_NEAR(evaluate_number("3\\sqrt{13}").value(), 3 * std::sqrt(13.0), 1e-12);
  EXPECT_NEAR(evaluate_number("-\\frac{\\pi}{6}").value(), -std::numbers::pi / 6, 1e-12);
  EXPECT_NEAR(evaluate_number("18+2\\pi").value(), 18 + 2 * std::numbers::pi, 1e-12);
  EXPECT_DOUBLE_EQ(evaluate_number("1\\frac{4}{5}").value(), 1.8);     // mixed number
  EXPECT_DOUBLE_EQ(evaluate_number("137\\frac{1}{2}").value(), 137.5);
  EXPECT_DOUBLE_EQ(evaluate_number("1.5e-3").value(), 0.0015);
  EXPECT_DOUBLE_EQ(evaluate_number("1.5*10^{-3}").value(), 0.0015);
  EXPECT_DOUBLE_EQ(evaluate_number("2^{10}").value(), 1024);
  EXPECT_DOUBLE_EQ(evaluate_number("2^10").value(), 1024);
  EXPECT_DOUBLE_EQ(evaluate_number(normalize_math("3 \\cdot 2^2")).value(), 12);
  EXPECT_FALSE(evaluate_number("3\\cdot2").has_value());  // \cdot is known only after normalization
  EXPECT_DOUBLE_EQ(evaluate_number("-2^2").value(), -4);
  EXPECT_DOUBLE_EQ(evaluate_number("\\sqrt[3]{27}").value(), 3);
  EXPECT_DOUBLE_EQ(evaluate_number(".0000672").value(), 0.0000672);
  EXPECT_FALSE(evaluate_number("2k+2").has_value());
  EXPECT_FALSE(evaluate_number("6-5i").has_value());
  EXPECT_FALSE(evaluate_number("1,-2").has_value());
  EXPECT_FALSE(evaluate_number("1/0").has_value());
  EXPECT_FALSE(evaluate_number("\\sqrt{-1}").has_value());
  EXPECT_FALSE(evaluate_number("10^{999}").has_value());  // not finite
  EXPECT_FALSE(evaluate_number(std::string(5000, '(')).has_value());  // bounded depth, no crash
  EXPECT_FALSE(evaluate_number(std::string(500, '(') + "1" + std::string(500, ')')).has_value());
}

TEST(EvalEquivalence, Pairs) {
  // Equal.
  for (auto [a, b] : std::initializer_list<std::pair<const char*, const char*>>{
           {"\\dfrac{1}{2}", "1/2"}, {"1/2", "0.5"}, {"\\frac12", "0.5"}, {"90^\\circ", "90"},
           {"\\text{(A)}", "A"}, {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"},
           {"(3, 1.5708)", "\\left( 3, \\frac{\\pi}{2} \\right)"}, {"1,-2", "-2, 1"}, {"\\{1,2\\}", "\\{2,1\\}"},
           {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"}, {"0.333333", "\\frac13"}, {"x=5", "5"},
           {"(-\\infty, 0]", "(-\\infty,0]"}, {"\\$18.90", "18.9"}, {"10,080", "10080"},
           {"\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", "\\begin{pmatrix} -\\frac13 \\\\ 0.666667 \\end{pmatrix}"},
           {"(0,9) \\cup (9,36)", "(0, 9)\\cup(9, 36)"}, {"6 - 5i", "6-5i"}, {"\\text{east}", "east"}}) {
    EXPECT_TRUE(math_equivalent(a, b)) << a << " vs " << b;
    EXPECT_EQ(math_key(a), math_key(b)) << a << " vs " << b;
  }
  // Unequal.
  for (auto [a, b] : std::initializer_list<std::pair<const char*, const char*>>{
           {"1/2", "0.51"}, {"28800", "28801"}, {"(3,4]", "(3,4)"}, {"(1,2)", "(2,1)"}, {"0.3", "1/3"},
           {"\\sqrt{2}", "2"}, {"2k+2", "2k+3"}, {"A", "B"}, {"", "0"}, {"x", "y"},
           {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}"},
           {"(0,9) \\cup (9,36)", "(0,9)"}, {".0000672", ".0000673"}}) {
    EXPECT_FALSE(math_equivalent(a, b)) << a << " vs " << b;
  }
}

TEST(EvalGrader, Gsm8kAndChoice) {
  EXPECT_TRUE(grade_completion(Task::kGsm8k, "The answer is $1,234.", "1234").correct);
  EXPECT_TRUE(grade_completion(Task::kGsm8k, "so 7.", "7").correct);
  EXPECT_TRUE(grade_completion(Task::kGsm8k, "\\boxed{18.00}", "18").correct);
  EXPECT_FALSE(grade_completion(Task::kGsm8k, "The answer is 1,235.", "1234").correct);
  EXPECT_FALSE(grade_completion(Task::kGsm8k, "The answer is 70007", "70000").correct);  // no tolerance
  const Graded none = grade_completion(Task::kGsm8k, "I do not know", "5");
  EXPECT_FALSE(none.extracted.has_value());
  EXPECT_FALSE(none.correct);
  EXPECT_TRUE(grade_completion(Task::kMultipleChoice, "The answer is (C)", "C").correct);
  EXPECT_FALSE(grade_completion(Task::kMultipleChoice, "The answer is a trick", "A").correct);
  EXPECT_EQ(answer_key(Task::kGsm8k, "The answer is $1,200.").value(), "1200");
  EXPECT_EQ(answer_key(Task::kMath, "\\boxed{\\dfrac{1}{2}}").value(), answer_key(Task::kMath, "\\boxed{0.5}").value());
  EXPECT_FALSE(answer_key(Task::kMultipleChoice, "no idea").has_value());
  EXPECT_EQ(task_name(Task::kMultipleChoice), "mc");
  EXPECT_EQ(task_from_name("gsm8k"), Task::kGsm8k);
  EXPECT_FALSE(task_from_name("MC").has_value());
}

}  // namespace
}  // namespace er::eval

namespace er::eval {
namespace {

// Random LaTeX-like junk through every entry point: no crash, no exception, and equivalence stays
// reflexive and symmetric, the evaluator finite.
TEST(EvalGrader, RandomInputsAreSafe) {
  static const char* kPieces[] = {"\\frac", "\\dfrac", "\\sqrt", "{", "}", "(", ")", "[", "]", "\\left", "\\right",
                                  "\\boxed{", "\\text{", "1", "2", "9", ".", ",", "-", "+", "/", "^", "_", "\\pi", "x",
                                  " ", "$", "\\", "\\\\", "\\{", "\\}", "\\cup", "e", "\\begin{pmatrix}", "&",
                                  "\\end{pmatrix}", "answer is", "Answer:", "A", "a", "(c)", "####", "%", "\\!",
                                  "^\\circ", "\n", "\\sqrt[", "*", "0", "1,000", "=", "\\in", "cm", "\\$"};
  std::mt19937 rng(12345);
  int n_numbers = 0, n_equal_pairs = 0;
  std::string prev;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 24);
    for (int k = 0; k < len; ++k) s += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
    EXPECT_TRUE(math_equivalent(s, s)) << s;
    EXPECT_EQ(math_equivalent(s, prev), math_equivalent(prev, s)) << s << " | " << prev;
    n_equal_pairs += math_equivalent(s, prev) ? 1 : 0;
    if (auto v = evaluate_number(normalize_math(s))) {
      EXPECT_TRUE(std::isfinite(*v)) << s;
      ++n_numbers;
    }
    for (Task t : {Task::kMath, Task::kGsm8k, Task::kMultipleChoice}) {
      const Graded g = grade_completion(t, s, prev);
      if (g.extracted) {
        EXPECT_TRUE(g.key.has_value());
        EXPECT_EQ(answer_matches(t, *g.extracted, prev), g.correct);
      }
      if (t == Task::kMultipleChoice && g.extracted) {
        ASSERT_EQ(g.extracted->size(), 1u);
        EXPECT_TRUE((*g.extracted)[0] >= 'A' && (*g.extracted)[0] <= 'D') << s;
      }
    }
    (void)math_key(s);
    prev = s;
  }
  // The generator reaches the evaluator and equal pairs at all (the test exercises something).
  EXPECT_GT(n_numbers, 100);
  EXPECT_GT(n_equal_pairs, 10);
}

}  // namespace
}  // namespace er::eval
