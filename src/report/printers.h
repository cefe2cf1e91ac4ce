// Printers of BenchRecords, all from the one field table: md (llama-bench-like table), csv, json
// (an array), jsonl (one object per line) and sql (CREATE TABLE IF NOT EXISTS + INSERTs).
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "report/bench_record.h"

namespace er::report {

enum class OutputFormat { kMd, kCsv, kJson, kJsonl, kSql };

std::string_view output_format_name(OutputFormat f);                    // "md", "csv", ...
std::optional<OutputFormat> output_format_from_name(std::string_view s);  // inverse

// The table the sql printer creates and inserts into.
inline constexpr const char* kSqlTable = "bench";
// A field's column type in that table: INTEGER, REAL or TEXT (arrays as JSON text).
const char* sql_type(FieldType t);

// Streams records as they are measured: begin() once, record() per result, end() once. Every call
// writes whole lines and flushes, so a reader of a pipe sees each record as soon as it exists.
class RecordPrinter {
 public:
  virtual ~RecordPrinter() = default;
  virtual void begin() {}
  virtual void record(const BenchRecord& r) = 0;
  virtual void end() {}
};

// REQUIRES: `out` outlives the printer.
std::unique_ptr<RecordPrinter> make_printer(OutputFormat f, std::ostream& out);

// All of begin(), record() for each of `records`, end(), as one string.
std::string format_records(OutputFormat f, std::span<const BenchRecord> records);

// Shared value spellings: reals as the shortest text that reads back exactly ("12.5", "1e-05");
// SQL text literals with quotes doubled; CSV fields quoted with quotes doubled.
std::string format_real(double x);
std::string sql_quote(std::string_view s);
std::string csv_quote(std::string_view s);

}  // namespace er::report
