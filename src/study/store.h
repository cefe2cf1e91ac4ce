// The results database (SQLite): what a sweep measured, one row per completed question, written so
// that a process killed at any moment (kill -9) loses at most the question in flight and a rerun
// never duplicates a row. Schema and invariants: docs/study.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "study/grid.h"

struct sqlite3;

namespace er::study {

inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kStoreFormat = "edgereason-study";

// One reasoning path of one question.
struct PathRecord {
  int64_t index = 0;
  std::string extracted;  // the answer extracted from this path ("" = none)
  bool correct = false;
  int64_t thinking_tokens = 0;
  int64_t answer_tokens = 0;
  bool forced_close = false;
  std::string stop;  // "eog", "max_tokens", ...
};

// Energy of one question (a power summary): measured or estimated, by phase.
struct PowerRecord {
  std::string source;  // "rapl", "estimated", ...
  bool estimated = false;
  double prefill_j = 0, decode_j = 0, total_j = 0;
  double mean_w = 0;  // total_j / e2e seconds
};

// One graded question of one configuration.
struct QuestionRecord {
  std::string question_id;
  int64_t index = 0;      // position in the dataset file
  std::string gold;
  std::string extracted;  // the voted answer ("" = none)
  bool correct = false;
  int64_t n_prompt = 0;
  int64_t thinking_tokens = 0;  // summed over paths
  int64_t answer_tokens = 0;    // summed over paths
  int64_t max_path_tokens = 0;  // the longest path (≈ decode steps)
  double prefill_ms = 0, ttft_ms = 0, decode_ms = 0, e2e_ms = 0;
  std::vector<PathRecord> paths;
  std::optional<PowerRecord> power;
};

struct ConfigRow {
  int64_t id = 0;
  std::string hash;
  Cell cell;
  std::string label;
  int64_t n_questions = 0;  // questions in the slice (expected rows)
};

struct QuestionRow {
  int64_t config_id = 0;
  int64_t run_id = 0;
  QuestionRecord q;
};

struct RunRow {
  int64_t id = 0;
  std::string started_at, finished_at, status, command, config_name, config_toml, build;
};

struct FitRow {
  std::string model;
  nlohmann::ordered_json json;  // perfmodel coefficients + fit report
};

class Store {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // kReadWrite creates the file (and the schema) when missing or empty. An existing file must be an
  // edgereason results database of a schema this build knows; anything else (another SQLite
  // database, a non-database file, a newer schema) is a bad-input Status and the file is left
  // untouched. kReadOnly never writes and needs the file to exist.
  static Result<std::unique_ptr<Store>> open(const std::string& path, Mode mode);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  // A sweep invocation. status: running → completed | interrupted | failed (a killed run stays
  // "running").
  Result<int64_t> begin_run(const std::string& command, const std::string& config_name,
                            const std::string& config_toml);
  Status finish_run(int64_t run_id, const std::string& status);

  // The configuration row for `cell` (found by hash, else inserted); n_questions updated.
  Result<int64_t> ensure_configuration(const Cell& cell, int64_t n_questions);
  // Question ids already recorded for a configuration.
  Result<std::set<std::string>> done_questions(int64_t config_id);
  // Inserts the question, its paths and its power summary in one transaction. A question already
  // recorded for the configuration is refused (a Status; nothing written).
  Status add_question(int64_t config_id, int64_t run_id, const QuestionRecord& q);
  // One bench record (JSON) for a configuration; replaced if one exists.
  Status set_bench(int64_t config_id, const nlohmann::ordered_json& record);
  Status set_fit(const std::string& model, const nlohmann::ordered_json& json);

  Result<std::vector<ConfigRow>> configurations();
  Result<std::vector<QuestionRow>> questions();  // every question, with its paths and power
  Result<std::vector<RunRow>> runs();
  Result<std::vector<FitRow>> fits();
  Result<std::vector<std::pair<int64_t, nlohmann::json>>> bench_records();

  // "ok" or SQLite's complaints.
  Result<std::string> integrity_check();

  // Sweeps over a fleet (shard.h, merge.h).
  // edgereason_meta as key -> value (format, schema_version, and a sharded sweep's mark).
  Result<std::map<std::string, std::string>> meta();
  Status set_meta(const std::string& key, const std::string& value);
  Status erase_meta(const std::string& key);
  // Copies a run of another database (a new run_id is returned; run.id is ignored).
  Result<int64_t> add_run(const RunRow& run);
  Status set_run_end(int64_t run_id, const std::string& finished_at, const std::string& status);
  // What the file has beyond this build's schema: "table" or "table.column" entries (empty when
  // its layout is exactly this build's).
  Result<std::vector<std::string>> unknown_schema();
  // One transaction around many writes: add_question joins it instead of committing on its own.
  Status begin_batch();
  Status commit_batch();
  void rollback_batch();

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status exec(const std::string& sql);
  Status err(const std::string& what) const;
  sqlite3* db_;
  std::string path_;
  bool batch_ = false;  // inside begin_batch() .. commit_batch()
};

// Rebuilds a Cell from its canonical JSON (Cell::to_json).
Result<Cell> cell_from_json(const nlohmann::json& j);

}  // namespace er::study
