// BenchRecords into a SQLite database file (see sqlite_store.h).
#include "report/sqlite_store.h"

#include <sqlite3.h>

#include <set>

#include "report/printers.h"

namespace er::report {

Status exec_sql_file(const std::string& db_path, std::string_view sql) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::io_error("'" + db_path + "': cannot open the database: " + msg);
  }
  const std::string text = "BEGIN;\n" + std::string(sql) + "\nCOMMIT;\n";
  char* err = nullptr;
  Status st;
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    // A schema mismatch (a table from another version) is the user's file at fault.
    st = Status::invalid("'" + db_path + "': " + (err != nullptr ? err : "SQL error"));
    sqlite3_free(err);
    sqlite3_exec(db, "ROLLBACK;", nullptr, nullptr, nullptr);
  }
  sqlite3_close(db);
  return st;
}

namespace {

// The columns of table `bench` in an existing database ({} when it has none yet).
Result<std::set<std::string>> bench_columns(const std::string& db_path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::io_error("'" + db_path + "': cannot open the database: " + msg);
  }
  std::set<std::string> cols;
  sqlite3_stmt* st = nullptr;
  const std::string q = std::string("PRAGMA table_info(") + kSqlTable + ")";
  if (sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    const std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    return Status::invalid("'" + db_path + "': " + msg);
  }
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    cols.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  }
  const std::string msg = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (step != SQLITE_DONE) return Status::invalid("'" + db_path + "': " + msg);
  return cols;
}

}  // namespace

Status append_records(const std::string& db_path, std::span<const BenchRecord> records) {
  // A table written by an older version lacks the fields added since: add them (null in the old
  // rows) in the same transaction as the records.
  ER_ASSIGN_OR_RETURN(const std::set<std::string> cols, bench_columns(db_path));
  std::string alter;
  if (!cols.empty()) {
    if (!cols.count("test") || !cols.count("build_commit")) {
      return Status::invalid("'" + db_path + "': its table " + kSqlTable +
                             " was not written by edgereason (no test or build_commit column)");
    }
    for (const FieldDef& f : bench_fields()) {
      if (!cols.count(f.name)) alter += std::string("ALTER TABLE ") + kSqlTable + " ADD COLUMN " + f.name + " " + sql_type(f.type()) + ";\n";
    }
  }
  return exec_sql_file(db_path, alter + format_records(OutputFormat::kSql, records));
}

}  // namespace er::report
