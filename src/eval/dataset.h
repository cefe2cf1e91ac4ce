// Datasets: the built-in sets by name (gsm8k, math500, mmlu_stem under the data directory) or any
// JSONL file with a field mapping, validated line by line ("FILE:LINE: reason").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/grader.h"

namespace er::eval {

struct Question {
  std::string id;        // the set's id (gsm8k "idx", math500 "unique_id"), else "<name>-<index>"
  int64_t index = 0;     // 0-based position among the file's non-blank lines (stable under skips)
  int64_t line = 0;      // 1-based line in the file
  std::string question;  // the problem text as the set gives it
  std::vector<std::string> choices;  // multiple choice only
  std::string gold;      // gsm8k: the number; math: LaTeX; mc: the letter
  std::string subject;   // optional
};

// Field names in the JSONL records. Empty id/subject/choices: not present.
struct FieldMap {
  std::string question = "question";
  std::string answer = "answer";
  std::string choices;
  std::string id;
  std::string subject;
};
// Applies "question=problem,answer=solution,choices=options,id=uid,subject=type" to `base`.
// Unknown keys or malformed pairs are a bad-input Status naming --field-map.
Result<FieldMap> parse_field_map(std::string_view spec, FieldMap base);

enum class BadLinePolicy { kFail, kSkip };
std::optional<BadLinePolicy> bad_line_policy_from_name(std::string_view name);  // "fail", "skip"

struct DatasetOptions {
  std::string data_dir;            // empty: find_data_dir("")
  std::string field_map;           // --field-map spec, applied over the set's defaults
  std::optional<Task> task;        // PATH datasets: forced task (default: mc with choices, else math)
  BadLinePolicy on_bad_line = BadLinePolicy::kFail;
};

struct Dataset {
  std::string name;  // "gsm8k", "math500", "mmlu_stem", or the file's stem
  std::string path;
  Task task = Task::kMath;
  std::vector<Question> questions;
  std::vector<std::string> skipped;  // "FILE:LINE: reason" for each malformed line skipped
};

// Built-in names and their files under the data directory.
//   gsm8k → gsm8k/test.jsonl, math500 → math500/test.jsonl, mmlu / mmlu_stem → mmlu_stem/test.jsonl
bool is_builtin_dataset(std::string_view name);

// The data directory: `flag` when given (it must exist), else $EDGEREASON_DATA, else the first of
// these that holds a known set: <exe>/../share/edgereason/data (an installed binary), the
// configured install directory, the `data/` of the source tree the binary was built from, ./data.
Result<std::string> find_data_dir(std::string_view flag);

// Loads a built-in set by name or a JSONL file by path. A malformed line is an error naming
// FILE:LINE (on_bad_line = kFail) or is recorded in `skipped` (kSkip); never dropped silently.
// An empty set (no valid line) is an error.
Result<Dataset> load_dataset(std::string_view name_or_path, const DatasetOptions& opts);

// FNV-1a 64 of the question text, hex: identifies the question in records without repeating it.
std::string question_hash(std::string_view text);

}  // namespace er::eval
