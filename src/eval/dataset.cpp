// Dataset loaders: built-in sets by name, JSONL files with a field map, per-line validation.
#include "eval/dataset.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "eval/extract.h"

namespace er::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct BuiltinSet {
  std::string_view name;
  std::string_view file;  // under the data directory
  Task task;
  std::string_view question, answer, choices, id, subject;
};

constexpr BuiltinSet kBuiltins[] = {
    {"gsm8k", "gsm8k/test.jsonl", Task::kGsm8k, "question", "answer", "", "idx", ""},
    {"math500", "math500/test.jsonl", Task::kMath, "problem", "answer", "", "unique_id", "subject"},
    {"mmlu_stem", "mmlu_stem/test.jsonl", Task::kMultipleChoice, "question", "answer", "choices", "", "type"},
    {"mmlu", "mmlu_stem/test.jsonl", Task::kMultipleChoice, "question", "answer", "choices", "", "type"},
};

const BuiltinSet* builtin(std::string_view name) {
  for (const auto& b : kBuiltins)
    if (b.name == name) return &b;
  return nullptr;
}

bool has_known_set(const fs::path& dir) {
  std::error_code ec;
  for (const auto& b : kBuiltins)
    if (fs::is_regular_file(dir / b.file, ec)) return true;
  return false;
}

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A scalar field as text: strings as they are, integers in decimal; nullopt otherwise.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  return std::nullopt;
}

// Parses one record into q; returns the reason it is malformed, or "" when it is fine.
std::string parse_record(const json& j, const FieldMap& f, Task task, Question& q) {
  if (!j.is_object()) return "not a JSON object";
  auto qit = j.find(f.question);
  if (qit == j.end()) return "missing field '" + f.question + "' (the question; see ${field_map})";
  if (!qit->is_string() || qit->get<std::string>().empty()) return "field '" + f.question + "' must be a non-empty string";
  q.question = qit->get<std::string>();

  auto ait = j.find(f.answer);
  if (ait == j.end()) return "missing field '" + f.answer + "' (the answer; see ${field_map})";

  if (task == Task::kMultipleChoice) {
    if (f.choices.empty()) return "multiple choice needs a choices field (${field_map} choices=NAME)";
    auto cit = j.find(f.choices);
    if (cit == j.end()) return "missing field '" + f.choices + "' (the choices)";
    if (!cit->is_array() || cit->size() < 2 || cit->size() > 26)
      return "field '" + f.choices + "' must be an array of 2 to 26 strings";
    for (const auto& c : *cit) {
      if (!c.is_string()) return "field '" + f.choices + "' must hold strings only";
      q.choices.push_back(c.get<std::string>());
    }
    const int n = static_cast<int>(q.choices.size());
    if (ait->is_number_integer()) {
      const int64_t k = ait->get<int64_t>();
      if (k < 0 || k >= n) return "field '" + f.answer + "' = " + std::to_string(k) + " is not a choice index in [0, " + std::to_string(n - 1) + "]";
      q.gold = std::string(1, static_cast<char>('A' + k));
    } else if (ait->is_string()) {
      std::string a = trim(ait->get<std::string>());
      if (a.size() == 3 && a[0] == '(' && a[2] == ')') a = a.substr(1, 1);
      if (a.size() == 1 && std::isdigit(static_cast<unsigned char>(a[0])) && a[0] - '0' < n) {
        a = std::string(1, static_cast<char>('A' + (a[0] - '0')));
      }
      const char up = a.size() == 1 ? static_cast<char>(std::toupper(static_cast<unsigned char>(a[0]))) : 0;
      if (up < 'A' || up >= 'A' + n) return "field '" + f.answer + "' must be a choice letter A-" + std::string(1, static_cast<char>('A' + n - 1)) + " or index";
      q.gold = std::string(1, up);
    } else {
      return "field '" + f.answer + "' must be a choice index or letter";
    }
  } else {
    auto a = scalar_text(*ait);
    if (!a && ait->is_number_float()) a = ait->dump();
    if (!a || trim(*a).empty()) return "field '" + f.answer + "' must be a non-empty string or number";
    std::string gold = *a;
    if (task == Task::kGsm8k) {
      if (gold.find("####") != std::string::npos) {
        auto n = hashes_number(gold);
        if (!n) return "field '" + f.answer + "': no number after '####'";
        gold = *n;
      } else {
        auto n = first_number(gold);
        if (!n) return "field '" + f.answer + "' holds no number";
        gold = *n;
      }
    } else if (gold.find("\\boxed") != std::string::npos || gold.find("\\fbox") != std::string::npos) {
      auto b = last_boxed(gold);  // a full solution: its last \boxed{} is the answer
      if (!b) return "field '" + f.answer + "': its last \\boxed{} is empty or unbalanced";
      gold = *b;
    }
    q.gold = trim(gold);
  }
  if (!f.id.empty()) {
    auto iit = j.find(f.id);
    if (iit != j.end()) {
      auto id = scalar_text(*iit);
      if (!id || id->empty()) return "field '" + f.id + "' must be a non-empty string or integer";
      q.id = *id;
    }
  }
  if (!f.subject.empty()) {
    auto sit = j.find(f.subject);
    if (sit != j.end() && sit->is_string()) q.subject = sit->get<std::string>();
  }
  return "";
}

}  // namespace

Result<FieldMap> parse_field_map(std::string_view spec, FieldMap base) {
  size_t p = 0;
  while (p < spec.size()) {
    size_t e = spec.find(',', p);
    if (e == std::string_view::npos) e = spec.size();
    const std::string_view pair = spec.substr(p, e - p);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size()) {
      return Status::invalid("${field_map}: '" + std::string(pair) + "' is not KEY=FIELD (keys: question, answer, choices, id, subject)");
    }
    const std::string key(pair.substr(0, eq)), field(pair.substr(eq + 1));
    if (key == "question") base.question = field;
    else if (key == "answer") base.answer = field;
    else if (key == "choices") base.choices = field;
    else if (key == "id") base.id = field;
    else if (key == "subject") base.subject = field;
    else return Status::invalid("${field_map}: unknown key '" + key + "' (keys: question, answer, choices, id, subject)");
    p = e + 1;
  }
  return base;
}

std::optional<BadLinePolicy> bad_line_policy_from_name(std::string_view name) {
  if (name == "fail") return BadLinePolicy::kFail;
  if (name == "skip") return BadLinePolicy::kSkip;
  return std::nullopt;
}

bool is_builtin_dataset(std::string_view name) { return builtin(name) != nullptr; }

Result<std::string> find_data_dir(std::string_view flag) {
  std::error_code ec;
  if (!flag.empty()) {
    if (!fs::is_directory(fs::path(flag), ec)) return Status::invalid("${data_dir} '" + std::string(flag) + "': not a directory");
    return std::string(flag);
  }
  if (const char* env = std::getenv("EDGEREASON_DATA"); env != nullptr && *env != '\0') {
    if (!fs::is_directory(env, ec)) return Status::invalid("EDGEREASON_DATA='" + std::string(env) + "': not a directory");
    return std::string(env);
  }
  std::vector<fs::path> candidates;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // An installed binary: <prefix>/bin/edgereason finds <prefix>/share/edgereason/data, wherever
    // the prefix was moved to.
    candidates.push_back(exe.parent_path() / "../share/edgereason/data");
  }
#ifdef EDGEREASON_INSTALL_DATA_DIR
  candidates.push_back(EDGEREASON_INSTALL_DATA_DIR);  // the configured install prefix
#endif
#ifdef EDGEREASON_SOURCE_DATA_DIR
  candidates.push_back(EDGEREASON_SOURCE_DATA_DIR);   // the source tree this binary was built from
#endif
  candidates.push_back("data");
  std::string tried;
  for (const auto& c : candidates) {
    if (has_known_set(c)) return fs::weakly_canonical(c, ec).string();
    tried += (tried.empty() ? "" : ", ") + c.lexically_normal().string();
  }
  return Status::not_found("no data directory found (tried " + tried + "); give ${data_dir} DIR or set EDGEREASON_DATA");
}

Result<Dataset> load_dataset(std::string_view name_or_path, const DatasetOptions& opts) {
  Dataset ds;
  FieldMap base;
  const BuiltinSet* b = builtin(name_or_path);
  if (b != nullptr) {
    ER_ASSIGN_OR_RETURN(std::string dir, find_data_dir(opts.data_dir));
    ds.name = std::string(b->name);
    ds.path = (fs::path(dir) / b->file).string();
    ds.task = b->task;
    base.question = b->question;
    base.answer = b->answer;
    base.choices = b->choices;
    base.id = b->id;
    base.subject = b->subject;
    if (opts.task && *opts.task != b->task) {
      return Status::invalid("${task} " + std::string(task_name(*opts.task)) + " does not fit dataset " + ds.name +
                             " (" + std::string(task_name(b->task)) + ")");
    }
  } else {
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(name_or_path), ec)) {
      return Status::not_found("${dataset} '" + std::string(name_or_path) +
                               "': neither a built-in set (gsm8k, math500, mmlu_stem) nor a readable file");
    }
    ds.path = std::string(name_or_path);
    ds.name = fs::path(name_or_path).stem().string();
    base.id = "id";
    base.subject = "subject";
    base.choices = "choices";
  }
  ER_ASSIGN_OR_RETURN(FieldMap fields, parse_field_map(opts.field_map, base));

  std::ifstream in(ds.path, std::ios::binary);
  if (!in) return Status::not_found("cannot read dataset file '" + ds.path + "'");

  std::string line;
  int64_t line_no = 0, index = 0;
  bool task_known = b != nullptr || opts.task.has_value();
  if (opts.task) ds.task = *opts.task;
  std::map<std::string, int64_t> id_line;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const int64_t this_index = index++;
    std::string reason;
    Question q;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      reason = "invalid JSON";
    } else {
      if (!task_known && j.is_object()) {
        // A PATH dataset without --task: multiple choice when its records carry choices.
        ds.task = j.contains(fields.choices) ? Task::kMultipleChoice : Task::kMath;
        task_known = true;
      }
      reason = parse_record(j, fields, ds.task, q);
    }
    if (reason.empty()) {
      q.index = this_index;
      q.line = line_no;
      if (q.id.empty()) q.id = ds.name + "-" + std::to_string(this_index);
      auto [it, inserted] = id_line.emplace(q.id, line_no);
      if (!inserted) reason = "duplicate id '" + q.id + "' (first on line " + std::to_string(it->second) + ")";
    }
    if (!reason.empty()) {
      std::string msg = ds.path + ":" + std::to_string(line_no) + ": " + reason;
      if (opts.on_bad_line == BadLinePolicy::kFail) {
        return Status::invalid(msg + " (${on_bad_line} skip to skip malformed lines)");
      }
      ds.skipped.push_back(std::move(msg));
      continue;
    }
    ds.questions.push_back(std::move(q));
  }
  if (in.bad()) return Status::io_error("read error in '" + ds.path + "'");
  if (ds.questions.empty()) return Status::invalid("dataset '" + ds.path + "' has no valid question");
  return ds;
}

std::string question_hash(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace er::eval
