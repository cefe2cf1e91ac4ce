// Grading external completions: match records to questions by id or index, grade, vote, summarize.
#include "eval/grade_outputs.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "eval/grader.h"

namespace er::eval {
namespace {

using nlohmann::ordered_json;

std::optional<std::string> id_text(const ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return std::nullopt;
}

// The completions of one record: a string, an array of strings (several paths), or eval's
// "paths" objects. Sets *why on failure.
std::optional<std::vector<std::string>> completions_of(const ordered_json& j, const std::string& field, std::string* why) {
  auto texts_from = [&](const ordered_json& v, const std::string& name) -> std::optional<std::vector<std::string>> {
    if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
    if (v.is_array() && !v.empty()) {
      std::vector<std::string> t;
      for (const auto& e : v) {
        if (e.is_string()) t.push_back(e.get<std::string>());
        else if (e.is_object() && e.contains("answer_text") && e["answer_text"].is_string()) t.push_back(e["answer_text"].get<std::string>());
        else {
          *why = "field '" + name + "' must be a string, an array of strings or eval's paths";
          return std::nullopt;
        }
      }
      return t;
    }
    *why = "field '" + name + "' must be a string or a non-empty array of strings";
    return std::nullopt;
  };
  if (!field.empty()) {
    if (!j.contains(field)) {
      *why = "missing field '" + field + "'";
      return std::nullopt;
    }
    return texts_from(j[field], field);
  }
  for (const char* f : kCompletionFields) {
    if (j.contains(f)) return texts_from(j[f], f);
  }
  if (j.contains("paths")) return texts_from(j["paths"], "paths");
  *why = "no completion field (tried completion, output, text, response, answer_text, generated_text, prediction, paths; see ${text_field})";
  return std::nullopt;
}

}  // namespace

Result<GradeSummary> grade_outputs(const Dataset& ds, const GradeOptions& o) {
  GradeSummary s;
  s.dataset = ds.name;
  s.task = std::string(task_name(ds.task));
  s.outputs = o.outputs_path;
  s.skipped_dataset_lines = static_cast<int64_t>(ds.skipped.size());
  std::ifstream in(o.outputs_path, std::ios::binary);
  if (!in) return Status::not_found("${outputs} '" + o.outputs_path + "': cannot read the file");

  std::map<std::string, size_t> by_id;
  for (size_t k = 0; k < ds.questions.size(); ++k) by_id.emplace(ds.questions[k].id, k);
  std::map<int64_t, size_t> by_index;
  for (size_t k = 0; k < ds.questions.size(); ++k) by_index.emplace(ds.questions[k].index, k);

  const bool to_stdout = o.output_path.empty() || o.output_path == "-";
  if (!to_stdout) {
    std::error_code ec;
    if (std::filesystem::exists(o.output_path, ec) && !o.overwrite) {
      return Status::invalid("output '" + o.output_path + "' exists; give ${overwrite} to replace it");
    }
  }
  std::vector<std::string> lines_out;
  std::vector<bool> seen(ds.questions.size(), false);
  std::map<size_t, int64_t> seen_line;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string why;
    const auto j = ordered_json::parse(line, nullptr, false);
    std::optional<size_t> qi;
    std::optional<std::vector<std::string>> texts;
    if (j.is_discarded()) why = "invalid JSON";
    else if (!j.is_object()) why = "not a JSON object";
    else if (j.contains("record") && j["record"].is_string() && j["record"] != "question") continue;  // eval's header
    else {
      // Match: the id field, else index / idx positions.
      const std::string idf = o.id_field.empty() ? "id" : o.id_field;
      if (j.contains(idf)) {
        auto id = id_text(j[idf]);
        if (!id) why = "field '" + idf + "' must be a string or integer";
        else if (auto it = by_id.find(*id); it != by_id.end()) qi = it->second;
        else why = "id '" + *id + "' is not in dataset " + ds.name;
      } else if (o.id_field.empty() && (j.contains("index") || j.contains("idx"))) {
        const auto& v = j.contains("index") ? j["index"] : j["idx"];
        if (!v.is_number_integer()) why = "field 'index' must be an integer";
        else if (auto it = by_index.find(v.get<int64_t>()); it != by_index.end()) qi = it->second;
        else why = "index " + std::to_string(v.get<int64_t>()) + " is not in dataset " + ds.name;
      } else {
        why = o.id_field.empty() ? "no 'id' or 'index' field to match the dataset (see ${id_field})" : "missing field '" + idf + "'";
      }
      if (qi && seen[*qi]) {
        why = "a second completion for question '" + ds.questions[*qi].id + "' (first on line " + std::to_string(seen_line[*qi]) + ")";
        qi.reset();
      }
      if (qi) texts = completions_of(j, o.text_field, &why);
    }
    if (!qi || !texts) {
      std::string msg = o.outputs_path + ":" + std::to_string(line_no) + ": " + why;
      if (o.on_bad_line == BadLinePolicy::kFail) return Status::invalid(msg + " (${on_bad_line} skip to skip such lines)");
      s.skipped.push_back(std::move(msg));
      continue;
    }
    seen[*qi] = true;
    seen_line[*qi] = line_no;
    const Question& q = ds.questions[*qi];
    const int n_choices = q.choices.empty() ? 4 : static_cast<int>(q.choices.size());
    // Grade every completion; majority over their keys, ties to the first.
    ordered_json paths = ordered_json::array();
    std::map<std::string, int> votes;
    std::vector<Graded> graded;
    for (const auto& t : *texts) {
      graded.push_back(grade_completion(ds.task, t, q.gold, n_choices));
      const Graded& g = graded.back();
      if (g.key) ++votes[*g.key];
      paths.push_back({{"extracted", g.extracted ? ordered_json(*g.extracted) : ordered_json(nullptr)},
                       {"key", g.key ? ordered_json(*g.key) : ordered_json(nullptr)},
                       {"correct", g.correct}});
    }
    int winner = -1;
    for (size_t p = 0; p < graded.size(); ++p) {
      if (!graded[p].key) continue;
      if (winner < 0 || votes[*graded[p].key] > votes[*graded[static_cast<size_t>(winner)].key]) winner = static_cast<int>(p);
    }
    const Graded* w = winner >= 0 ? &graded[static_cast<size_t>(winner)] : nullptr;
    ordered_json r;
    r["record"] = "graded";
    r["id"] = q.id;
    r["index"] = q.index;
    r["gold"] = q.gold;
    r["extracted"] = w != nullptr ? ordered_json(*w->extracted) : ordered_json(nullptr);
    r["key"] = w != nullptr ? ordered_json(*w->key) : ordered_json(nullptr);
    r["correct"] = w != nullptr && w->correct;
    if (texts->size() > 1) r["paths"] = std::move(paths);
    r["grader_version"] = std::string(kGraderVersion);
    ++s.n_records;
    if (w == nullptr) ++s.n_unparsed;
    if (w != nullptr && w->correct) ++s.n_correct;
    lines_out.push_back(r.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
  }
  if (in.bad()) return Status::io_error("read error in '" + o.outputs_path + "'");
  for (bool b : seen) s.n_missing += b ? 0 : 1;
  s.accuracy = stats::wilson_interval(s.n_correct, s.n_records);

  std::FILE* out = to_stdout ? stdout : std::fopen(o.output_path.c_str(), "wb");
  if (out == nullptr) return Status::io_error("cannot open output '" + o.output_path + "' for writing");
  bool ok = true;
  for (const auto& l : lines_out) {
    ok = ok && std::fwrite(l.data(), 1, l.size(), out) == l.size() && std::fputc('\n', out) != EOF;
  }
  ok = ok && std::fflush(out) == 0;
  if (out != stdout) ok = std::fclose(out) == 0 && ok;
  if (!ok) return Status::io_error("write error on '" + (to_stdout ? std::string("stdout") : o.output_path) + "'");
  return s;
}

nlohmann::ordered_json GradeSummary::to_json() const {
  ordered_json j;
  j["record"] = "summary";
  j["dataset"] = dataset;
  j["task"] = task;
  j["outputs"] = outputs;
  j["n_graded"] = n_records;
  j["n_correct"] = n_correct;
  j["n_unparsed"] = n_unparsed;
  j["n_missing"] = n_missing;
  j["accuracy"] = accuracy.p;
  j["accuracy_ci95"] = {accuracy.lo, accuracy.hi};
  j["skipped_lines"] = static_cast<int64_t>(skipped.size());
  j["skipped_dataset_lines"] = skipped_dataset_lines;
  j["grader_version"] = std::string(kGraderVersion);
  return j;
}

std::string GradeSummary::to_text() const {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "%s (%s): %lld/%lld correct = %.1f%% (95%% CI %.1f-%.1f%%), %lld unparsed; %lld question(s) without a "
                "completion; %zu output line(s) skipped; grader %s\n",
                dataset.c_str(), task.c_str(), static_cast<long long>(n_correct), static_cast<long long>(n_records),
                100 * accuracy.p, 100 * accuracy.lo, 100 * accuracy.hi, static_cast<long long>(n_unparsed),
                static_cast<long long>(n_missing), skipped.size(), std::string(kGraderVersion).c_str());
  return buf;
}

}  // namespace er::eval
