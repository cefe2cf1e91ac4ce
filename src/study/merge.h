// Combines the databases of a sharded sweep (shard.h) into one: configurations by hash, questions
// by (configuration hash, question id), bench records by configuration, runs copied with their
// questions. Docs: docs/study.md, "Sweeps over a fleet".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "study/shard.h"

namespace er::study {

struct MergeInputReport {
  std::string path;
  std::string what;       // ShardMark::describe()
  int64_t questions = 0;  // question rows it holds
  int64_t added = 0;      // of them, new to the output
  int64_t bench_added = 0;
};

struct MergeReport {
  std::vector<MergeInputReport> inputs;
  ShardMark mark;                     // the output's, after the merge
  int64_t questions = 0;              // question rows in the output
  int64_t expected = 0;               // the sweep's questions (sum of its configurations' sizes)
  int64_t added = 0;                  // question rows this merge wrote
  std::vector<int64_t> missing;       // shards no input has given the output yet
  std::string fit_note;               // non-empty when the output's fits were refitted
  int64_t input_fits_ignored = 0;     // fits found in inputs (fits are fitted on the whole)
};

// Merges `inputs` into `out` (created when missing). Every input must be an intact edgereason
// results database of exactly this build's schema, written by a sharded sweep or by merge, of one
// sweep (the same grid) and shard count; `out`, when it exists, must be empty or such a merged
// database of the same sweep (not a shard's own database, not one of the inputs). Every question
// row must belong to a shard its database holds. A question (or bench record) found in two places
// with different contents, i.e. measured twice (two databases claiming one shard), is refused, as
// is a configuration whose size differs between them (their datasets differ).
// All checks come before any write, and the writes are one transaction: a refused or failed merge
// leaves `out` as it was (a new `out` is removed again). Rows already in `out` are skipped, so
// merging again adds nothing. When questions were added and `out` had fits, they are fitted again
// (fits of inputs are not copied).
Result<MergeReport> merge_databases(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace er::study
