// BenchRecords into a SQLite database file (see sqlite_store.h).
#include "report/sqlite_store.h"

#include <sqlite3.h>

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

Status append_records(const std::string& db_path, std::span<const BenchRecord> records) {
  return exec_sql_file(db_path, format_records(OutputFormat::kSql, records));
}

}  // namespace er::report
