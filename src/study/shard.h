// Sweeps over a fleet: which share of a sweep's work one machine runs (shard I of N), where the
// shard comes from (a flag, a Slurm job array, a Kubernetes Indexed Job), and what a results
// database records about the sharded sweep it holds, so that `merge` can refuse mixing sweeps.
// docs/study.md, "Sweeps over a fleet".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "study/config.h"
#include "study/store.h"

namespace er::study {

// Shard `index` of `count` (0 <= index < count).
struct Shard {
  int64_t index = 0;
  int64_t count = 1;
  std::string source;  // the environment it came from ("SLURM_ARRAY_TASK_ID=3 ..."); "" for the flag
  std::string text() const;  // "I/N"
};

// The unit of work is one question of one cell. Question `q_index` (its position in the dataset
// file) of the cell at `cell_ordinal` (its position in the grid) belongs to shard
// (cell_ordinal + q_index) mod count: round-robin within each cell, so every shard gets
// floor(n/N) or ceil(n/N) of every cell's questions (the expensive cells are spread like the cheap
// ones), rotated by the cell so that the remainders fall on different shards. It depends on
// nothing but the grid and the dataset positions, so any machine (and `merge`) computes it alike.
int64_t shard_of(int64_t cell_ordinal, int64_t q_index, int64_t count);

// "I/N" (0 <= I < N). Errors name ${shard}.
Result<Shard> parse_shard(std::string_view text);

// The shard this process runs, or nullopt (the whole sweep). In order:
//   shard (${shard} "I/N") when given, whatever the environment says;
//   shards (${shards} N) when given: the index is JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's
//     pod index, 0 .. completions-1); unset is an error;
//   SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array) when set: the index is
//     (ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (MIN 0 and STEP 1 when unset), so
//     --array=0-7, --array=1-8 and --array=0-14:2 all give shards 0..7 of 8;
//   otherwise none.
// Every malformed or out-of-range value is a bad-input Status naming the flag or the variable.
using EnvGetter = std::function<const char*(const char* name)>;
Result<std::optional<Shard>> resolve_shard(const std::optional<std::string>& shard,
                                           const std::optional<int64_t>& shards, const EnvGetter& env);

// A sweep's identity: its grid (the cells' hashes in grid order). Two configurations with the same
// grid are the same sweep whatever their names, comments or file paths.
struct SweepIdentity {
  std::string id;    // FNV-1a 64 of the cell hashes joined by ','
  std::string name;  // the configuration's name (messages only)
  std::vector<std::string> cells;
};
SweepIdentity sweep_identity(const SweepConfig& cfg);

// What a database records (edgereason_meta) about the sharded sweep it holds. A database written
// by `sweep --shard I/N` is a shard database (index = I, held = {I}); one written by `merge` holds
// the union of its inputs' shards (no index). A database never written either way has no mark.
struct ShardMark {
  SweepIdentity sweep;
  int64_t count = 1;
  std::optional<int64_t> index;
  std::vector<int64_t> held;  // sorted, distinct
  std::string describe() const;  // "shard 1/3 of sweep 'x' (id …)" or "shards 0,2 of 3 of sweep 'x' (id …)"
};
Result<std::optional<ShardMark>> read_shard_mark(Store& store);
Status write_shard_mark(Store& store, const ShardMark& mark);

// Whether `store` may take a run of `sweep` as `shard` (nullopt: the whole sweep), before anything
// is written (also for --dry-run):
//   a shard run needs a database without results (then marked) or the same shard of the same sweep;
//   a whole-sweep run into a shard database is refused, into a merged one it must be the same sweep;
//   a database without a mark takes whole-sweep runs as always.
Status check_sweep_target(Store& store, const SweepIdentity& sweep, const std::optional<Shard>& shard);
// check_sweep_target, then records the mark (a new shard database; a merged database the whole
// sweep fills holds every shard).
Status claim_sweep_target(Store& store, const SweepIdentity& sweep, const std::optional<Shard>& shard);

}  // namespace er::study
