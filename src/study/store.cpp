#include "study/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "core/build_info.h"

namespace er::study {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS edgereason_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  run_id      INTEGER PRIMARY KEY,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  status      TEXT NOT NULL,
  command     TEXT NOT NULL,
  config_name TEXT NOT NULL,
  config_toml TEXT NOT NULL,
  build       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS configurations (
  config_id     INTEGER PRIMARY KEY,
  hash          TEXT NOT NULL UNIQUE,
  label         TEXT NOT NULL,
  model         TEXT NOT NULL,
  dataset       TEXT NOT NULL,
  slice_offset  INTEGER NOT NULL,
  slice_limit   INTEGER NOT NULL,
  policy        TEXT NOT NULL,
  budget        INTEGER,
  paths         INTEGER NOT NULL,
  threads       INTEGER NOT NULL,
  max_tokens    INTEGER NOT NULL,
  answer_budget INTEGER NOT NULL,
  temperature   REAL NOT NULL,
  seed          INTEGER NOT NULL,
  vote          TEXT NOT NULL,
  n_questions   INTEGER NOT NULL,
  config_json   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
  config_id       INTEGER NOT NULL REFERENCES configurations(config_id),
  question_id     TEXT NOT NULL,
  q_index         INTEGER NOT NULL,
  run_id          INTEGER NOT NULL REFERENCES runs(run_id),
  gold            TEXT NOT NULL,
  extracted       TEXT NOT NULL,
  correct         INTEGER NOT NULL,
  n_prompt        INTEGER NOT NULL,
  thinking_tokens INTEGER NOT NULL,
  answer_tokens   INTEGER NOT NULL,
  max_path_tokens INTEGER NOT NULL,
  prefill_ms      REAL NOT NULL,
  ttft_ms         REAL NOT NULL,
  decode_ms       REAL NOT NULL,
  e2e_ms          REAL NOT NULL,
  created_at      TEXT NOT NULL,
  UNIQUE (config_id, question_id)
);
CREATE TABLE IF NOT EXISTS paths (
  config_id       INTEGER NOT NULL,
  question_id     TEXT NOT NULL,
  path_index      INTEGER NOT NULL,
  extracted       TEXT NOT NULL,
  correct         INTEGER NOT NULL,
  thinking_tokens INTEGER NOT NULL,
  answer_tokens   INTEGER NOT NULL,
  forced_close    INTEGER NOT NULL,
  stop            TEXT NOT NULL,
  UNIQUE (config_id, question_id, path_index),
  FOREIGN KEY (config_id, question_id) REFERENCES questions(config_id, question_id)
);
CREATE TABLE IF NOT EXISTS power (
  config_id   INTEGER NOT NULL,
  question_id TEXT NOT NULL,
  source      TEXT NOT NULL,
  estimated   INTEGER NOT NULL,
  prefill_j   REAL NOT NULL,
  decode_j    REAL NOT NULL,
  total_j     REAL NOT NULL,
  mean_w      REAL NOT NULL,
  UNIQUE (config_id, question_id),
  FOREIGN KEY (config_id, question_id) REFERENCES questions(config_id, question_id)
);
CREATE TABLE IF NOT EXISTS bench (
  config_id   INTEGER PRIMARY KEY REFERENCES configurations(config_id),
  record_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fits (
  model      TEXT PRIMARY KEY,
  fit_json   TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int step() { return last_ = sqlite3_step(s_); }
  // After a loop of step() == SQLITE_ROW: whether it ended because the rows ran out (not an error).
  bool finished() const { return last_ == SQLITE_DONE; }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }
  bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const unsigned char* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
  int last_ = SQLITE_ERROR;
};

// The columns each table of kSchema has, by building the schema in memory (so that the check can
// never disagree with the schema it checks).
const std::map<std::string, std::vector<std::string>>& expected_columns() {
  static const std::map<std::string, std::vector<std::string>> kColumns = [] {
    std::map<std::string, std::vector<std::string>> out;
    sqlite3* db = nullptr;
    ER_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "cannot open an in-memory SQLite database");
    ER_CHECK(sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) == SQLITE_OK, "the store schema does not build");
    std::vector<std::string> tables;
    {
      Stmt s(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
      while (s.step() == SQLITE_ROW) tables.push_back(s.text(0));
    }
    for (const std::string& t : tables) {
      Stmt s(db, ("SELECT name FROM pragma_table_info('" + t + "')").c_str());
      while (s.step() == SQLITE_ROW) out[t].push_back(s.text(0));
    }
    sqlite3_close(db);
    return out;
  }();
  return kColumns;
}

// Checks an existing edgereason database before anything reads or writes it: SQLite's
// integrity_check passes, and every table of the schema is there with every column. Reads only.
Status check_existing(sqlite3* db, const std::string& path) {
  {
    Stmt s(db, "PRAGMA integrity_check(20)");
    if (!s.ok()) {
      return Status::invalid("'" + path + "' is damaged: its integrity cannot be checked (" + sqlite3_errmsg(db) +
                             "); refusing to touch it");
    }
    std::string problems;
    int r;
    while ((r = s.step()) == SQLITE_ROW) {
      const std::string line = s.text(0);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (r != SQLITE_DONE) {
      return Status::invalid("'" + path + "' is damaged: its integrity check failed (" + sqlite3_errmsg(db) +
                             "); refusing to touch it");
    }
    if (!problems.empty()) {
      for (char& c : problems) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      return Status::invalid("'" + path + "' is damaged: SQLite's integrity check reports: " + problems +
                             "; refusing to touch it");
    }
  }
  for (const auto& [table, columns] : expected_columns()) {
    std::set<std::string> have;
    Stmt s(db, ("SELECT name FROM pragma_table_info('" + table + "')").c_str());
    if (!s.ok()) return Status::invalid("'" + path + "': cannot read the columns of table '" + table + "'");
    int r;
    while ((r = s.step()) == SQLITE_ROW) have.insert(s.text(0));
    if (r != SQLITE_DONE) {
      return Status::invalid("'" + path + "': cannot read the columns of table '" + table + "' (" +
                             sqlite3_errmsg(db) + ")");
    }
    if (have.empty()) {
      return Status::invalid("'" + path + "' is an edgereason results database without the table '" + table +
                             "'; refusing to touch it");
    }
    for (const std::string& c : columns) {
      if (have.count(c) == 0) {
        return Status::invalid("'" + path + "': table '" + table + "' lacks the column '" + c +
                               "'; refusing to touch it");
      }
    }
  }
  return Status::ok();
}

bool file_nonempty(const std::string& path, bool* exists) {
  struct stat st {};
  *exists = ::stat(path.c_str(), &st) == 0;
  return *exists && st.st_size > 0;
}

// Examines an existing file through `raw` (a read-only connection): which tables are there, and
// is it ours (returned); an edgereason database must be of a schema this build knows and pass
// check_existing(). Anything else is refused.
Result<bool> examine(sqlite3* raw, const std::string& path, Store::Mode mode) {
  std::vector<std::string> tables;
  {
    Stmt s(raw, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    if (!s.ok()) return Status::invalid("'" + path + "': not a SQLite database (" + sqlite3_errmsg(raw) + ")");
    int r;
    while ((r = s.step()) == SQLITE_ROW) tables.push_back(s.text(0));
    if (r != SQLITE_DONE)
      return Status::invalid("'" + path + "': not a readable SQLite database (" + sqlite3_errmsg(raw) + ")");
  }
  const bool ours = std::find(tables.begin(), tables.end(), "edgereason_meta") != tables.end();
  if (!ours && !tables.empty()) {
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
    return Status::invalid("'" + path + "' is a SQLite database but not an edgereason results database (tables: " +
                           list + "); refusing to touch it");
  }
  if (ours) {
    Stmt s(raw, "SELECT key, value FROM edgereason_meta");
    if (!s.ok()) return Status::invalid("'" + path + "': unreadable edgereason_meta table");
    std::string format, version;
    int r;
    while ((r = s.step()) == SQLITE_ROW) {
      if (s.text(0) == "format") format = s.text(1);
      if (s.text(0) == "schema_version") version = s.text(1);
    }
    if (r != SQLITE_DONE) {
      return Status::invalid("'" + path + "' is damaged: unreadable edgereason_meta table (" + sqlite3_errmsg(raw) +
                             "); refusing to touch it");
    }
    if (format != kStoreFormat)
      return Status::invalid("'" + path + "': edgereason_meta says format '" + format + "', expected '" +
                             kStoreFormat + "'; refusing to touch it");
    int v = 0;
    try {
      v = std::stoi(version);
    } catch (...) {
      return Status::invalid("'" + path + "': bad schema_version '" + version + "'");
    }
    if (v > kSchemaVersion)
      return Status::invalid("'" + path + "': schema version " + std::to_string(v) +
                             " was written by a newer edgereason (this one knows " + std::to_string(kSchemaVersion) +
                             "); refusing to touch it");
    if (v < 1) return Status::invalid("'" + path + "': bad schema_version " + std::to_string(v));
    ER_RETURN_IF_ERROR(check_existing(raw, path));
  } else if (mode == Store::Mode::kReadOnly) {
    return Status::invalid("'" + path + "' is empty: not an edgereason results database (run a sweep first)");
  }
  return ours;
}

}  // namespace

Status Store::err(const std::string& what) const {
  const int code = sqlite3_errcode(db_) & 0xff;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {  // the file, not the run, is at fault
    return Status::invalid("'" + path_ + "' is damaged: " + what + ": " + sqlite3_errmsg(db_));
  }
  return Status::io_error("'" + path_ + "': " + what + ": " + sqlite3_errmsg(db_));
}

Status Store::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "SQL error";
    sqlite3_free(msg);
    return Status::io_error("'" + path_ + "': " + m);
  }
  return Status::ok();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode) {
  bool exists = false;
  (void)file_nonempty(path, &exists);
  if (mode == Mode::kReadOnly && !exists) return Status::not_found("results database '" + path + "' does not exist");
  bool ours = false;
  if (exists) {
    // An existing file is examined through a read-only connection first, so that nothing (not
    // even the checkpoint of a killed run's log) writes to a file that is then refused; when it
    // is refused, the side files that connection created (-wal, -shm) are removed again.
    std::error_code ec;
    const std::string wal = path + "-wal", shm = path + "-shm";
    const bool had_wal = std::filesystem::exists(wal, ec), had_shm = std::filesystem::exists(shm, ec);
    sqlite3* ro = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &ro, SQLITE_OPEN_READONLY, nullptr);
    Result<bool> looked = rc == SQLITE_OK ? examine(ro, path, mode)
                                          : Result<bool>(Status::invalid("'" + path + "': cannot open as a SQLite database: " +
                                                                         (ro ? sqlite3_errmsg(ro) : sqlite3_errstr(rc))));
    sqlite3_close(ro);
    if (!looked.is_ok()) {
      if (!had_wal && std::filesystem::exists(wal, ec) && std::filesystem::file_size(wal, ec) == 0) {
        std::filesystem::remove(wal, ec);
      }
      if (!had_shm) std::filesystem::remove(shm, ec);
      return looked.status();
    }
    ours = *looked;
  }
  int flags = mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (mode == Mode::kReadWrite && !exists) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Store> st(new Store(raw, path));
  if (rc != SQLITE_OK) {
    const std::string m = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return Status::invalid("'" + path + "': cannot open as a SQLite database: " + m);
  }
  sqlite3_busy_timeout(raw, 5000);
  if (mode == Mode::kReadWrite) {
    // WAL: a commit is one append to the log; a process killed mid-write leaves the last
    // committed state. synchronous=NORMAL keeps that across process crashes (not power loss).
    ER_RETURN_IF_ERROR(st->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
    if (!ours) {
      ER_RETURN_IF_ERROR(st->exec(std::string("BEGIN IMMEDIATE;") + kSchema +
                                  "INSERT OR IGNORE INTO edgereason_meta VALUES ('format', '" + kStoreFormat +
                                  "'); INSERT OR IGNORE INTO edgereason_meta VALUES ('schema_version', '" +
                                  std::to_string(kSchemaVersion) + "'); COMMIT;"));
    }
  }
  return st;
}

Store::~Store() { sqlite3_close(db_); }

Result<int64_t> Store::begin_run(const std::string& command, const std::string& config_name,
                                 const std::string& config_toml) {
  Stmt s(db_,
         "INSERT INTO runs (started_at, status, command, config_name, config_toml, build) "
         "VALUES (?, 'running', ?, ?, ?, ?)");
  if (!s.ok()) return err("preparing a run");
  s.bind(1, now_utc()).bind(2, command).bind(3, config_name).bind(4, config_toml);
  s.bind(5, er::build_version() + " " + er::build_commit());
  if (s.step() != SQLITE_DONE) return err("recording the run");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status Store::finish_run(int64_t run_id, const std::string& status) {
  Stmt s(db_, "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?");
  if (!s.ok()) return err("preparing the run update");
  s.bind(1, now_utc()).bind(2, status).bind(3, run_id);
  if (s.step() != SQLITE_DONE) return err("updating the run");
  return Status::ok();
}

namespace {

// The stored form: the cell's identity (to_json) plus what describes but does not identify it.
std::string stored_json(const Cell& c) {
  nlohmann::ordered_json j = c.to_json();
  if (!c.server_version.empty()) j["server_version"] = c.server_version;
  return j.dump();
}

}  // namespace

Result<int64_t> Store::ensure_configuration(const Cell& c, int64_t n_questions) {
  const std::string hash = c.hash();
  {
    Stmt s(db_, "SELECT config_id FROM configurations WHERE hash = ?");
    if (!s.ok()) return err("looking up a configuration");
    s.bind(1, hash);
    if (s.step() == SQLITE_ROW) {
      const int64_t id = s.i64(0);
      Stmt u(db_, "UPDATE configurations SET n_questions = ?, config_json = ? WHERE config_id = ?");
      u.bind(1, n_questions).bind(2, stored_json(c)).bind(3, id);  // the server's latest version
      if (u.step() != SQLITE_DONE) return err("updating a configuration");
      return id;
    }
  }
  Stmt s(db_,
         "INSERT INTO configurations (hash, label, model, dataset, slice_offset, slice_limit, policy, budget, "
         "paths, threads, max_tokens, answer_budget, temperature, seed, vote, n_questions, config_json) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s.ok()) return err("preparing a configuration");
  s.bind(1, hash).bind(2, c.label()).bind(3, c.model).bind(4, c.slice.dataset).bind(5, c.slice.offset);
  s.bind(6, c.slice.limit).bind(7, std::string(policy_name(c.policy)));
  if (c.budget)
    s.bind(8, *c.budget);
  else
    s.bind_null(8);
  s.bind(9, c.paths).bind(10, c.threads).bind(11, c.max_tokens).bind(12, c.answer_budget);
  s.bind(13, c.temperature).bind(14, static_cast<int64_t>(c.seed)).bind(15, c.vote).bind(16, n_questions);
  s.bind(17, stored_json(c));
  if (s.step() != SQLITE_DONE) return err("recording a configuration");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::set<std::string>> Store::done_questions(int64_t config_id) {
  Stmt s(db_, "SELECT question_id FROM questions WHERE config_id = ?");
  if (!s.ok()) return err("listing questions");
  s.bind(1, config_id);
  std::set<std::string> out;
  int r;
  while ((r = s.step()) == SQLITE_ROW) out.insert(s.text(0));
  if (r != SQLITE_DONE) return err("listing questions");
  return out;
}

Status Store::add_question(int64_t config_id, int64_t run_id, const QuestionRecord& q) {
  if (!batch_) ER_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  auto fail = [&](const std::string& what) {
    Status e = err(what);
    (void)exec("ROLLBACK");
    batch_ = false;
    return e;
  };
  {
    Stmt s(db_,
           "INSERT INTO questions (config_id, question_id, q_index, run_id, gold, extracted, correct, n_prompt, "
           "thinking_tokens, answer_tokens, max_path_tokens, prefill_ms, ttft_ms, decode_ms, e2e_ms, created_at) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s.ok()) return fail("preparing a question");
    s.bind(1, config_id).bind(2, q.question_id).bind(3, q.index).bind(4, run_id).bind(5, q.gold);
    s.bind(6, q.extracted).bind(7, int64_t{q.correct}).bind(8, q.n_prompt).bind(9, q.thinking_tokens);
    s.bind(10, q.answer_tokens).bind(11, q.max_path_tokens).bind(12, q.prefill_ms).bind(13, q.ttft_ms);
    s.bind(14, q.decode_ms).bind(15, q.e2e_ms).bind(16, now_utc());
    if (s.step() != SQLITE_DONE) {
      const bool dup = sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE;
      Status e = dup ? Status::invalid("'" + path_ + "': question '" + q.question_id +
                                       "' is already recorded for configuration " + std::to_string(config_id))
                     : err("recording question '" + q.question_id + "'");
      (void)exec("ROLLBACK");
      batch_ = false;
      return e;
    }
  }
  for (const PathRecord& p : q.paths) {
    Stmt s(db_,
           "INSERT INTO paths (config_id, question_id, path_index, extracted, correct, thinking_tokens, "
           "answer_tokens, forced_close, stop) VALUES (?,?,?,?,?,?,?,?,?)");
    if (!s.ok()) return fail("preparing a path");
    s.bind(1, config_id).bind(2, q.question_id).bind(3, p.index).bind(4, p.extracted).bind(5, int64_t{p.correct});
    s.bind(6, p.thinking_tokens).bind(7, p.answer_tokens).bind(8, int64_t{p.forced_close}).bind(9, p.stop);
    if (s.step() != SQLITE_DONE) return fail("recording a path");
  }
  if (q.power) {
    const PowerRecord& w = *q.power;
    Stmt s(db_,
           "INSERT INTO power (config_id, question_id, source, estimated, prefill_j, decode_j, total_j, mean_w) "
           "VALUES (?,?,?,?,?,?,?,?)");
    if (!s.ok()) return fail("preparing a power summary");
    s.bind(1, config_id).bind(2, q.question_id).bind(3, w.source).bind(4, int64_t{w.estimated});
    s.bind(5, w.prefill_j).bind(6, w.decode_j).bind(7, w.total_j).bind(8, w.mean_w);
    if (s.step() != SQLITE_DONE) return fail("recording a power summary");
  }
  if (!batch_ && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("committing a question");
  return Status::ok();
}

Status Store::set_bench(int64_t config_id, const nlohmann::ordered_json& record) {
  Stmt s(db_, "INSERT OR REPLACE INTO bench (config_id, record_json) VALUES (?, ?)");
  if (!s.ok()) return err("preparing a bench record");
  s.bind(1, config_id).bind(2, record.dump());
  if (s.step() != SQLITE_DONE) return err("recording a bench record");
  return Status::ok();
}

Status Store::set_fit(const std::string& model, const nlohmann::ordered_json& json) {
  Stmt s(db_, "INSERT OR REPLACE INTO fits (model, fit_json, created_at) VALUES (?, ?, ?)");
  if (!s.ok()) return err("preparing a fit");
  s.bind(1, model).bind(2, json.dump()).bind(3, now_utc());
  if (s.step() != SQLITE_DONE) return err("recording a fit");
  return Status::ok();
}

Result<Cell> cell_from_json(const nlohmann::json& j) {
  try {
    Cell c;
    c.model = j.at("model").get<std::string>();
    c.slice.dataset = j.at("dataset").get<std::string>();
    c.slice.offset = j.at("offset").get<int64_t>();
    c.slice.limit = j.at("limit").get<int64_t>();
    auto p = policy_from_name(j.at("policy").get<std::string>());
    if (!p) return Status::invalid("unknown policy in a stored configuration");
    c.policy = *p;
    if (!j.at("budget").is_null()) c.budget = j.at("budget").get<int64_t>();
    c.paths = j.at("paths").get<int64_t>();
    c.threads = j.at("threads").get<int64_t>();
    c.max_tokens = j.at("max_tokens").get<int64_t>();
    c.answer_budget = j.at("answer_budget").get<int64_t>();
    c.temperature = j.at("temperature").get<double>();
    c.seed = j.at("seed").get<uint64_t>();
    c.vote = j.at("vote").get<std::string>();
    c.bench = j.at("bench").get<bool>();
    if (j.contains("backend")) {  // another engine's server (absent for in-process cells)
      c.backend = j.at("backend").get<std::string>();
      c.flavor = j.at("flavor").get<std::string>();
      if (j.contains("server_version")) c.server_version = j.at("server_version").get<std::string>();
    }
    if (j.contains("quantization")) c.quantization = j.at("quantization").get<std::string>();
    if (c.quantization == "release") c.quantization.clear();
    return c;
  } catch (const std::exception& e) {
    return Status::invalid(std::string("bad stored configuration: ") + e.what());
  }
}

Result<std::vector<ConfigRow>> Store::configurations() {
  Stmt s(db_, "SELECT config_id, hash, label, n_questions, config_json FROM configurations ORDER BY config_id");
  if (!s.ok()) return err("reading configurations");
  std::vector<ConfigRow> out;
  while (s.step() == SQLITE_ROW) {
    ConfigRow r;
    r.id = s.i64(0);
    r.hash = s.text(1);
    r.label = s.text(2);
    r.n_questions = s.i64(3);
    nlohmann::json j = nlohmann::json::parse(s.text(4), nullptr, false);
    if (j.is_discarded()) return Status::invalid("'" + path_ + "': configuration " + std::to_string(r.id) + ": bad JSON");
    auto c = cell_from_json(j);
    if (!c) return c.status().with_context("'" + path_ + "': configuration " + std::to_string(r.id));
    r.cell = std::move(c).value();
    out.push_back(std::move(r));
  }
  if (!s.finished()) return err("reading configurations");
  return out;
}

Result<std::vector<QuestionRow>> Store::questions() {
  std::vector<QuestionRow> out;
  std::map<std::pair<int64_t, std::string>, size_t> at;
  {
    Stmt s(db_,
           "SELECT config_id, run_id, question_id, q_index, gold, extracted, correct, n_prompt, thinking_tokens, "
           "answer_tokens, max_path_tokens, prefill_ms, ttft_ms, decode_ms, e2e_ms FROM questions "
           "ORDER BY config_id, q_index");
    if (!s.ok()) return err("reading questions");
    while (s.step() == SQLITE_ROW) {
      QuestionRow r;
      r.config_id = s.i64(0);
      r.run_id = s.i64(1);
      QuestionRecord& q = r.q;
      q.question_id = s.text(2);
      q.index = s.i64(3);
      q.gold = s.text(4);
      q.extracted = s.text(5);
      q.correct = s.i64(6) != 0;
      q.n_prompt = s.i64(7);
      q.thinking_tokens = s.i64(8);
      q.answer_tokens = s.i64(9);
      q.max_path_tokens = s.i64(10);
      q.prefill_ms = s.f64(11);
      q.ttft_ms = s.f64(12);
      q.decode_ms = s.f64(13);
      q.e2e_ms = s.f64(14);
      at[{r.config_id, q.question_id}] = out.size();
      out.push_back(std::move(r));
    }
    if (!s.finished()) return err("reading questions");
  }
  {
    Stmt s(db_,
           "SELECT config_id, question_id, path_index, extracted, correct, thinking_tokens, answer_tokens, "
           "forced_close, stop FROM paths ORDER BY config_id, question_id, path_index");
    if (!s.ok()) return err("reading paths");
    while (s.step() == SQLITE_ROW) {
      auto it = at.find({s.i64(0), s.text(1)});
      if (it == at.end()) continue;
      PathRecord p;
      p.index = s.i64(2);
      p.extracted = s.text(3);
      p.correct = s.i64(4) != 0;
      p.thinking_tokens = s.i64(5);
      p.answer_tokens = s.i64(6);
      p.forced_close = s.i64(7) != 0;
      p.stop = s.text(8);
      out[it->second].q.paths.push_back(std::move(p));
    }
    if (!s.finished()) return err("reading paths");
  }
  {
    Stmt s(db_, "SELECT config_id, question_id, source, estimated, prefill_j, decode_j, total_j, mean_w FROM power");
    if (!s.ok()) return err("reading power summaries");
    while (s.step() == SQLITE_ROW) {
      auto it = at.find({s.i64(0), s.text(1)});
      if (it == at.end()) continue;
      PowerRecord w;
      w.source = s.text(2);
      w.estimated = s.i64(3) != 0;
      w.prefill_j = s.f64(4);
      w.decode_j = s.f64(5);
      w.total_j = s.f64(6);
      w.mean_w = s.f64(7);
      out[it->second].q.power = w;
    }
    if (!s.finished()) return err("reading power summaries");
  }
  return out;
}

Result<std::vector<RunRow>> Store::runs() {
  Stmt s(db_,
         "SELECT run_id, started_at, COALESCE(finished_at, ''), status, command, config_name, config_toml, build "
         "FROM runs ORDER BY run_id");
  if (!s.ok()) return err("reading runs");
  std::vector<RunRow> out;
  while (s.step() == SQLITE_ROW)
    out.push_back({s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7)});
  if (!s.finished()) return err("reading runs");
  return out;
}

Result<std::vector<FitRow>> Store::fits() {
  Stmt s(db_, "SELECT model, fit_json FROM fits ORDER BY model");
  if (!s.ok()) return err("reading fits");
  std::vector<FitRow> out;
  while (s.step() == SQLITE_ROW) {
    auto j = nlohmann::ordered_json::parse(s.text(1), nullptr, false);
    if (j.is_discarded()) return Status::invalid("'" + path_ + "': fit for '" + s.text(0) + "': bad JSON");
    out.push_back({s.text(0), std::move(j)});
  }
  if (!s.finished()) return err("reading fits");
  return out;
}

Result<std::vector<std::pair<int64_t, nlohmann::json>>> Store::bench_records() {
  Stmt s(db_, "SELECT config_id, record_json FROM bench ORDER BY config_id");
  if (!s.ok()) return err("reading bench records");
  std::vector<std::pair<int64_t, nlohmann::json>> out;
  while (s.step() == SQLITE_ROW) {
    auto j = nlohmann::json::parse(s.text(1), nullptr, false);
    if (j.is_discarded()) continue;
    out.emplace_back(s.i64(0), std::move(j));
  }
  if (!s.finished()) return err("reading bench records");
  return out;
}

Result<std::map<std::string, std::string>> Store::meta() {
  Stmt s(db_, "SELECT key, value FROM edgereason_meta ORDER BY key");
  if (!s.ok()) return err("reading edgereason_meta");
  std::map<std::string, std::string> out;
  while (s.step() == SQLITE_ROW) out[s.text(0)] = s.text(1);
  if (!s.finished()) return err("reading edgereason_meta");
  return out;
}

Status Store::set_meta(const std::string& key, const std::string& value) {
  Stmt s(db_, "INSERT OR REPLACE INTO edgereason_meta (key, value) VALUES (?, ?)");
  if (!s.ok()) return err("preparing a meta entry");
  s.bind(1, key).bind(2, value);
  if (s.step() != SQLITE_DONE) return err("recording meta entry '" + key + "'");
  return Status::ok();
}

Status Store::erase_meta(const std::string& key) {
  Stmt s(db_, "DELETE FROM edgereason_meta WHERE key = ?");
  if (!s.ok()) return err("preparing a meta removal");
  s.bind(1, key);
  if (s.step() != SQLITE_DONE) return err("removing meta entry '" + key + "'");
  return Status::ok();
}

Result<int64_t> Store::add_run(const RunRow& r) {
  Stmt s(db_,
         "INSERT INTO runs (started_at, finished_at, status, command, config_name, config_toml, build) "
         "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return err("preparing a run");
  s.bind(1, r.started_at);
  if (r.finished_at.empty())
    s.bind_null(2);
  else
    s.bind(2, r.finished_at);
  s.bind(3, r.status).bind(4, r.command).bind(5, r.config_name).bind(6, r.config_toml).bind(7, r.build);
  if (s.step() != SQLITE_DONE) return err("copying a run");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status Store::set_run_end(int64_t run_id, const std::string& finished_at, const std::string& status) {
  Stmt s(db_, "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?");
  if (!s.ok()) return err("preparing the run update");
  if (finished_at.empty())
    s.bind_null(1);
  else
    s.bind(1, finished_at);
  s.bind(2, status).bind(3, run_id);
  if (s.step() != SQLITE_DONE) return err("updating a run");
  return Status::ok();
}

Result<std::vector<std::string>> Store::unknown_schema() {
  std::vector<std::string> out;
  std::vector<std::string> tables;
  {
    Stmt s(db_, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    if (!s.ok()) return err("listing tables");
    while (s.step() == SQLITE_ROW) tables.push_back(s.text(0));
    if (!s.finished()) return err("listing tables");
  }
  const auto& known = expected_columns();
  for (const std::string& t : tables) {
    const auto it = known.find(t);
    if (it == known.end()) {
      out.push_back(t);
      continue;
    }
    Stmt s(db_, ("SELECT name FROM pragma_table_info('" + t + "')").c_str());
    if (!s.ok()) return err("reading the columns of '" + t + "'");
    while (s.step() == SQLITE_ROW) {
      if (std::find(it->second.begin(), it->second.end(), s.text(0)) == it->second.end())
        out.push_back(t + "." + s.text(0));
    }
    if (!s.finished()) return err("reading the columns of '" + t + "'");
  }
  return out;
}

Status Store::begin_batch() {
  ER_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  batch_ = true;
  return Status::ok();
}

Status Store::commit_batch() {
  if (!batch_) return Status::internal("'" + path_ + "': commit without a batch (it was rolled back)");
  batch_ = false;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    Status e = err("committing");
    (void)exec("ROLLBACK");
    return e;
  }
  return Status::ok();
}

void Store::rollback_batch() {
  if (batch_) (void)exec("ROLLBACK");
  batch_ = false;
}

Result<std::string> Store::integrity_check() {
  Stmt s(db_, "PRAGMA integrity_check");
  if (!s.ok()) return err("integrity check");
  std::string out;
  while (s.step() == SQLITE_ROW) out += (out.empty() ? "" : "; ") + s.text(0);
  if (!s.finished()) return err("integrity check");
  return out;
}

}  // namespace er::study
