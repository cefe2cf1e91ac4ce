// Math answer equivalence (reference.md §9): LaTeX normalization, a small safe expression evaluator,
// and comparison as numbers, as tuples / intervals / sets / matrices element-wise, then as strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace er::eval {

// Normalizes a LaTeX answer: strips $ \left \right \! \, spaces, \text{}/\mbox{} wrappers, units
// after a number, degrees (^\circ), percent signs, a leading "x =" / "x \in", a trailing period,
// thousands separators; \dfrac/\tfrac → \frac; \frac and \sqrt arguments braced ("\frac12" →
// "\frac{1}{2}"); single-character ^{x} / _{x} unbraced; "\text{(C)}" → "C".
std::string normalize_math(std::string_view answer);

// Evaluates a normalized answer that is a plain number or an arithmetic expression of numbers:
// + - * / ^, parentheses, \frac, \sqrt, \sqrt[n], \pi, \cdot, \times, scientific notation ("1.5e-3"),
// implicit products ("3\sqrt{2}", "2\pi"), mixed numbers ("1\frac{4}{5}" = 1.8). nullopt for
// anything else (variables, lists, i) or a non-finite result. Never throws; depth is bounded.
std::optional<double> evaluate_number(std::string_view normalized);

// Numbers equal under the grader: exact when both are integers, otherwise within a relative
// tolerance of 1e-4.
bool numbers_equal(double a, double b);

// The structure of a normalized answer, for element-wise comparison.
struct AnswerShape {
  enum class Kind { kAtom, kSequence, kSet, kList, kUnion, kMatrix };
  Kind kind = Kind::kAtom;
  char open = 0, close = 0;         // brackets of a sequence / interval: ( [ and ) ]
  std::vector<std::string> items;   // elements (normalized), in order
  int rows = 0;                     // matrices
};
// kSequence: "(a,b)", "[a,b)" (tuples and intervals, ordered, brackets must match);
// kSet: "\{a,b\}" (unordered); kList: "a,b" without brackets (unordered: "all solutions");
// kUnion: "A\cupB" (ordered parts); kMatrix: \begin{pmatrix|bmatrix}…\end{…} (row-major).
AnswerShape answer_shape(std::string_view normalized);

// True when two math answers (raw, e.g. extracted and gold) are equivalent.
bool math_equivalent(std::string_view a, std::string_view b);

// Canonical key of a math answer: a number as canonical_number, structures element-wise,
// otherwise the normalized string.
std::string math_key(std::string_view answer);

// A canonical decimal: integers exactly ("-12"), others with 6 significant digits ("0.333333").
std::string canonical_number(double v);

}  // namespace er::eval
