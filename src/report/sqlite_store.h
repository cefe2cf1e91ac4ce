// Appends BenchRecords to a SQLite database file, in the schema the sql printer writes.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "report/bench_record.h"

namespace er::report {

// Runs `sql` (statements separated by ';') on the database at `db_path` (":memory:" allowed),
// creating the file if missing, inside one transaction: all or nothing. Errors name the file.
Status exec_sql_file(const std::string& db_path, std::string_view sql);

// Creates table `bench` if missing and inserts `records` (the sql printer's statements).
Status append_records(const std::string& db_path, std::span<const BenchRecord> records);

}  // namespace er::report
