// The md, csv, json, jsonl and sql printers of BenchRecords (see printers.h).
#include "report/printers.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace er::report {
namespace {

using nlohmann::json;

// Compact JSON text; invalid UTF-8 is replaced rather than thrown on. A template so that ordered
// objects keep their field order (converting to nlohmann::json would sort the keys).
template <typename J>
std::string json_text(const J& j) {
  return j.dump(-1, ' ', false, J::error_handler_t::replace);
}

template <typename T>
std::string join_numbers(const std::vector<T>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += sep;
    if constexpr (std::is_same_v<T, double>) {
      s += format_real(v[i]);
    } else {
      s += std::to_string(v[i]);
    }
  }
  return s;
}

// A value as text for csv and sql: `quote` wraps text (and arrays, which are text there).
template <typename Quote>
std::string flat_value(const FieldValue& v, const char* null_text, const char* true_text, const char* false_text,
                       Quote quote) {
  struct Visitor {
    const char* null_text;
    const char* true_text;
    const char* false_text;
    Quote& quote;
    std::string operator()(std::monostate) const { return null_text; }
    std::string operator()(const std::string& s) const { return quote(s); }
    std::string operator()(int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return format_real(x); }
    std::string operator()(bool b) const { return b ? true_text : false_text; }
    std::string operator()(const std::vector<int64_t>& a) const { return quote(join_numbers(a, " ")); }
    std::string operator()(const std::vector<double>& a) const { return quote(join_numbers(a, " ")); }
  };
  return std::visit(Visitor{null_text, true_text, false_text, quote}, v);
}

std::string bracket(const std::string& inner) {
  std::string s;
  s.reserve(inner.size() + 2);
  s.append(1, '[').append(inner).append(1, ']');
  return s;
}

std::string json_value(const FieldValue& v) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(const std::string& s) const { return json_text(json(s)); }
    std::string operator()(int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return format_real(x); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::vector<int64_t>& a) const { return bracket(join_numbers(a, ", ")); }
    std::string operator()(const std::vector<double>& a) const { return bracket(join_numbers(a, ", ")); }
  };
  return std::visit(Visitor{}, v);
}

// ---- md: a llama-bench-like table; t/s is median ± sample standard deviation ----

struct MdColumn {
  const char* title;
  int width;  // negative: left-aligned (text); positive: right-aligned (numbers)
};

const MdColumn kMdColumns[] = {
    {"model", -30}, {"size", 10},  {"params", 10},  {"isa", -6},     {"threads", 7}, {"paths", 5},
    {"test", 13},   {"t/s", 20},   {"ttft ms", 9},  {"tpot ms", 9},  {"GB/s", 8},    {"% BW", 6},
};

std::string printf_string(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

std::string opt_fixed(const std::optional<double>& x, const char* fmt) { return x ? printf_string(fmt, *x) : "-"; }

std::string md_size(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  return bytes < (int64_t{1} << 30) ? printf_string("%.2f MiB", b / (1 << 20)) : printf_string("%.2f GiB", b / (1 << 30));
}

std::string md_params(int64_t n) {
  const double x = static_cast<double>(n);
  return n < 1000 * 1000 * 1000 ? printf_string("%.2f M", x / 1e6) : printf_string("%.2f B", x / 1e9);
}

std::vector<std::string> md_cells(const BenchRecord& r) {
  char ts[64];
  std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.median_ts, r.stddev_ts);
  const bool remote = r.backend.has_value();  // another engine's server: its size is not known here
  return {r.model_type,
          remote ? "-" : md_size(r.model_size),
          remote ? "-" : md_params(r.model_n_params),
          r.isa,
          std::to_string(r.n_threads),
          std::to_string(r.n_paths),
          r.test,
          ts,
          opt_fixed(r.ttft_ms, "%.2f"),
          opt_fixed(r.tpot_ms, "%.2f"),
          opt_fixed(r.achieved_gbps, "%.2f"),
          r.bandwidth_fraction ? printf_string("%.1f", 100.0 * *r.bandwidth_fraction) : "-"};
}

// Display width of UTF-8 text (code points; every character here is one column wide).
int display_width(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (size_t i = 0; i < cells.size(); ++i) {
    const int width = kMdColumns[i].width;
    const int pad = std::max(0, std::abs(width) - display_width(cells[i]));
    line += ' ';
    if (width > 0) line.append(static_cast<size_t>(pad), ' ');
    line += cells[i];
    if (width < 0) line.append(static_cast<size_t>(pad), ' ');
    line += " |";
  }
  return line + "\n";
}

class MdPrinter : public RecordPrinter {
 public:
  explicit MdPrinter(std::ostream& out) : out_(out) {}
  void begin() override {
    std::vector<std::string> titles;
    std::string rule = "|";
    for (const MdColumn& c : kMdColumns) {
      titles.emplace_back(c.title);
      rule += ' ' + std::string(static_cast<size_t>(std::abs(c.width) - 1), '-') + (c.width > 0 ? ":" : "-") + " |";
    }
    out_ << md_row(titles) << rule << "\n" << std::flush;
  }
  void record(const BenchRecord& r) override {
    out_ << md_row(md_cells(r)) << std::flush;
    build_ = r.build_commit + " (" + r.build_version + ")";
  }
  void end() override {
    if (!build_.empty()) out_ << "\nbuild: " << build_ << "\n" << std::flush;
  }

 private:
  std::ostream& out_;
  std::string build_;
};

// ---- csv: a header of field names, then one row per record ----

class CsvPrinter : public RecordPrinter {
 public:
  explicit CsvPrinter(std::ostream& out) : out_(out) {}
  void begin() override {
    std::string line;
    for (const FieldDef& f : bench_fields()) {
      if (!line.empty()) line += ',';
      line += f.name;
    }
    out_ << line << "\n" << std::flush;
  }
  void record(const BenchRecord& r) override {
    std::string line;
    bool first = true;
    for (const FieldDef& f : bench_fields()) {
      if (!first) line += ',';
      first = false;
      line += flat_value(field_value(r, f), "", "true", "false", csv_quote);
    }
    out_ << line << "\n" << std::flush;
  }

 private:
  std::ostream& out_;
};

// ---- json: an array of objects, one "key": value per line ----

class JsonPrinter : public RecordPrinter {
 public:
  explicit JsonPrinter(std::ostream& out) : out_(out) {}
  void begin() override { out_ << "[\n" << std::flush; }
  void record(const BenchRecord& r) override {
    std::string text = n_ > 0 ? ",\n  {\n" : "  {\n";
    const auto fields = bench_fields();
    for (size_t i = 0; i < fields.size(); ++i) {
      text += "    " + json_text(json(fields[i].name)) + ": " + json_value(field_value(r, fields[i]));
      text += i + 1 < fields.size() ? ",\n" : "\n";
    }
    out_ << text << "  }" << std::flush;
    ++n_;
  }
  void end() override { out_ << (n_ > 0 ? "\n]\n" : "]\n") << std::flush; }

 private:
  std::ostream& out_;
  int64_t n_ = 0;
};

// ---- jsonl: one compact object per line ----

class JsonlPrinter : public RecordPrinter {
 public:
  explicit JsonlPrinter(std::ostream& out) : out_(out) {}
  void record(const BenchRecord& r) override { out_ << json_text(to_json(r)) << "\n" << std::flush; }

 private:
  std::ostream& out_;
};

// ---- sql: CREATE TABLE IF NOT EXISTS, then one INSERT per record (SQLite dialect) ----

}  // namespace

const char* sql_type(FieldType t) {
  switch (t) {
    case FieldType::kInt:
    case FieldType::kBool: return "INTEGER";
    case FieldType::kReal: return "REAL";
    case FieldType::kText:
    case FieldType::kIntArray:
    case FieldType::kRealArray: return "TEXT";
  }
  return "TEXT";
}

namespace {

class SqlPrinter : public RecordPrinter {
 public:
  explicit SqlPrinter(std::ostream& out) : out_(out) {}
  void begin() override {
    std::string text = std::string("CREATE TABLE IF NOT EXISTS ") + kSqlTable + " (\n";
    const auto fields = bench_fields();
    for (size_t i = 0; i < fields.size(); ++i) {
      text += std::string("  ") + fields[i].name + " " + sql_type(fields[i].type()) + (i + 1 < fields.size() ? ",\n" : "\n");
      if (!columns_.empty()) columns_ += ", ";
      columns_ += fields[i].name;
    }
    out_ << text << ");\n\n" << std::flush;
  }
  void record(const BenchRecord& r) override {
    std::string values;
    for (const FieldDef& f : bench_fields()) {
      if (!values.empty()) values += ", ";
      values += flat_value(field_value(r, f), "NULL", "1", "0", sql_quote);
    }
    out_ << "INSERT INTO " << kSqlTable << " (" << columns_ << ") VALUES (" << values << ");\n" << std::flush;
  }

 private:
  std::ostream& out_;
  std::string columns_;
};

}  // namespace

std::string_view output_format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::kMd: return "md";
    case OutputFormat::kCsv: return "csv";
    case OutputFormat::kJson: return "json";
    case OutputFormat::kJsonl: return "jsonl";
    case OutputFormat::kSql: return "sql";
  }
  return "md";
}

std::optional<OutputFormat> output_format_from_name(std::string_view s) {
  for (OutputFormat f : {OutputFormat::kMd, OutputFormat::kCsv, OutputFormat::kJson, OutputFormat::kJsonl,
                         OutputFormat::kSql}) {
    if (s == output_format_name(f)) return f;
  }
  return std::nullopt;
}

std::unique_ptr<RecordPrinter> make_printer(OutputFormat f, std::ostream& out) {
  switch (f) {
    case OutputFormat::kMd: return std::make_unique<MdPrinter>(out);
    case OutputFormat::kCsv: return std::make_unique<CsvPrinter>(out);
    case OutputFormat::kJson: return std::make_unique<JsonPrinter>(out);
    case OutputFormat::kJsonl: return std::make_unique<JsonlPrinter>(out);
    case OutputFormat::kSql: return std::make_unique<SqlPrinter>(out);
  }
  return std::make_unique<MdPrinter>(out);
}

std::string format_records(OutputFormat f, std::span<const BenchRecord> records) {
  std::ostringstream ss;
  std::unique_ptr<RecordPrinter> p = make_printer(f, ss);
  p->begin();
  for (const BenchRecord& r : records) p->record(r);
  p->end();
  return ss.str();
}

std::string format_real(double x) { return json_text(json(x)); }

std::string sql_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += '\'';
    q += c;
  }
  return q + "'";
}

std::string csv_quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace er::report
