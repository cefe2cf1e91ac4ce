// `edgereason grade`: grade completions made elsewhere (another engine, an earlier run) with the
// same extraction and equivalence as `eval`, so results from different engines are comparable.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flag_names.h"
#include "eval/dataset.h"
#include "eval/grade_outputs.h"
#include "eval/runner.h"
#include "eval/grader.h"

namespace er::cli {
namespace {

struct GradeCliOptions {
  std::string dataset;
  std::string outputs;
  std::string data_dir;
  std::string field_map;
  std::string task;
  std::string id_field;
  std::string text_field;
  std::string on_bad_line = "fail";
  std::string output;
  bool overwrite = false;
  std::string summary_json;
};

Status run(const GradeCliOptions& o) {
  eval::DatasetOptions dopts;
  dopts.data_dir = o.data_dir;
  dopts.field_map = o.field_map;
  if (!o.task.empty()) {
    dopts.task = eval::task_from_name(o.task);
    if (!dopts.task) return Status::invalid("--task must be math, gsm8k or mc");
  }
  auto policy = eval::bad_line_policy_from_name(o.on_bad_line);
  if (!policy) return Status::invalid("--on-bad-line must be fail or skip");
  dopts.on_bad_line = *policy;
  ER_ASSIGN_OR_RETURN(eval::Dataset ds, eval::load_dataset(o.dataset, dopts));
  for (const auto& s : ds.skipped) std::fprintf(stderr, "edgereason grade: warning: skipped %s\n", with_flags(s).c_str());

  eval::GradeOptions go;
  go.outputs_path = o.outputs;
  go.id_field = o.id_field;
  go.text_field = o.text_field;
  go.on_bad_line = *policy;
  go.output_path = o.output;
  go.overwrite = o.overwrite;
  ER_ASSIGN_OR_RETURN(eval::GradeSummary s, eval::grade_outputs(ds, go));
  for (const auto& msg : s.skipped) std::fprintf(stderr, "edgereason grade: warning: skipped %s\n", with_flags(msg).c_str());
  const bool records_on_stdout = o.output.empty() || o.output == "-";
  std::fputs(s.to_text().c_str(), records_on_stdout ? stderr : stdout);
  if (!o.summary_json.empty()) ER_RETURN_IF_ERROR(eval::write_summary_json(o.summary_json, s.to_json()));
  return Status::ok();
}

}  // namespace

Command add_grade_command(CLI::App& app) {
  auto o = std::make_shared<GradeCliOptions>();
  CLI::App* sub = app.add_subcommand("grade", "Grade completions made elsewhere against a dataset's answers");
  sub->add_option("--dataset", o->dataset, "gsm8k, math500, mmlu_stem (mmlu) or a JSONL file")->required();
  sub->add_option("--outputs", o->outputs, "JSONL of completions: an id (or index) and a completion per line")->required();
  sub->add_option("--data-dir", o->data_dir, "Directory of the built-in sets (default: $EDGEREASON_DATA, else the installed or source-tree data/)");
  sub->add_option("--field-map", o->field_map, "Dataset JSONL field names: question=F,answer=F,choices=F,id=F,subject=F");
  sub->add_option("--task", o->task, "How answers are graded for a JSONL dataset: math, gsm8k or mc");
  sub->add_option("--id-field", o->id_field, "Field of --outputs matched to the dataset's ids (default: id, else index/idx)");
  sub->add_option("--text-field", o->text_field,
                  "Field of --outputs holding the completion (default: completion, output, text, response, "
                  "answer_text, generated_text, prediction, or eval's paths)");
  sub->add_option("--on-bad-line", o->on_bad_line, "A malformed or unmatched line: fail or skip (always reported)")->capture_default_str();
  sub->add_option("-o,--output", o->output, "Graded JSONL records (default: stdout)");
  sub->add_flag("--overwrite", o->overwrite, "Replace an existing -o file");
  sub->add_option("--summary-json", o->summary_json, "Also write the summary as JSON to FILE");
  return {sub, [o]() -> Status { return run(*o); }};
}

}  // namespace er::cli
