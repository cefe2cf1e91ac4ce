// `edgereason merge OUT.db IN.db...`: combines the databases of a sharded sweep (sweep --shard)
// into one (study::merge_databases: refuses other sweeps and schemas, never duplicates a question,
// idempotent).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/study_common.h"
#include "study/merge.h"

namespace er::cli {
namespace {

struct MergeCliOptions {
  std::string out;
  std::vector<std::string> inputs;
};

Status run_merge(const MergeCliOptions& o) {
  ER_RETURN_IF_ERROR(check_results_db(o.out, "OUT"));
  ER_ASSIGN_OR_RETURN(study::MergeReport rep, study::merge_databases(o.out, o.inputs));
  for (const auto& in : rep.inputs) {
    std::printf("%s: %s: %lld questions, %lld new%s\n", in.path.c_str(), in.what.c_str(),
                static_cast<long long>(in.questions), static_cast<long long>(in.added),
                in.bench_added ? (", " + std::to_string(in.bench_added) + " bench records").c_str() : "");
  }
  std::printf("%s: %s: %lld of %lld questions (%lld added by this merge)\n", o.out.c_str(), rep.mark.describe().c_str(),
              static_cast<long long>(rep.questions), static_cast<long long>(rep.expected),
              static_cast<long long>(rep.added));
  if (!rep.missing.empty()) {
    std::string list;
    for (int64_t i : rep.missing) list += (list.empty() ? "" : ", ") + std::to_string(i);
    std::printf("missing shards: %s (merge their databases when they are done)\n", list.c_str());
  } else if (rep.questions < rep.expected) {
    std::printf("some shards are incomplete: rerun them (they resume) and merge again\n");
  }
  if (rep.input_fits_ignored > 0)
    std::printf("%lld fits in the inputs not copied (fits describe the whole: run study on %s)\n",
                static_cast<long long>(rep.input_fits_ignored), o.out.c_str());
  if (!rep.fit_note.empty()) std::printf("refitted: %s\n", rep.fit_note.c_str());
  return Status::ok();
}

}  // namespace

Command add_merge_command(CLI::App& app) {
  auto o = std::make_shared<MergeCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "merge",
      "Combine the results databases of a sharded sweep (sweep --shard) into OUT; idempotent, never duplicates a "
      "question, refuses databases of other sweeps or schemas");
  sub->add_option("OUT", o->out, "Output database (created if missing; an existing one takes more shards)")->required();
  sub->add_option("IN", o->inputs, "Shard databases (or earlier merges) of the same sweep")->required();
  return {sub, [o]() { return run_merge(*o); }};
}

}  // namespace er::cli
