// Bench record printers on known records: exact md and csv text, json/jsonl read back into equal
// records, sql loaded into an in-memory SQLite database and queried; the field table itself.
#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <span>
#include <set>
#include <sstream>

#include <sqlite3.h>

#include "report/bench_record.h"
#include "report/printers.h"
#include "report/sqlite_store.h"
#include "support/test_support.h"

namespace er::report {
namespace {

// A tg record with every measured field set and no energy; the values are exact in binary.
BenchRecord tg_record() {
  BenchRecord r;
  r.build_commit = "abc1234";
  r.build_version = "0.1.0";
  r.cpu_info = "Test's CPU";
  r.isa = "avx2";
  r.model_filename = "/m/tiny.gguf";
  r.model_type = "llama 6M Q8_0";
  r.model_size = 6805504;
  r.model_n_params = 6400000;
  r.n_batch = 512;
  r.n_threads = 2;
  r.type_k = r.type_v = "f16";
  r.n_ctx = 160;
  r.n_paths = 4;
  r.n_warmup = 1;
  r.n_reps = 2;
  r.test = "tg128";
  r.n_gen = 128;
  r.test_time = "2025-01-02T03:04:05Z";
  r.avg_ns = 1500000000;
  r.stddev_ns = 707106781;
  r.avg_ts = 384;
  r.stddev_ts = 181.25;
  r.median_ts = 384;
  r.min_ts = 256;
  r.max_ts = 512;
  r.samples_ns = {1000000000, 2000000000};
  r.samples_ts = {512, 256};
  r.ttft_ms = 1.5;
  r.tpot_ms = 12.25;
  r.itl_p50_ms = 12.0;
  r.itl_p90_ms = 13.5;
  r.itl_p99_ms = 20.25;
  r.weight_bytes_read = 1000;
  r.kv_bytes_read = 24;
  r.achieved_gbps = 0.5;
  r.device_name = "host";
  r.device_bandwidth_gbps = 50.0;
  r.bandwidth_fraction = 0.01;
  return r;
}

// A pp record: latency and bandwidth null, a file name that needs quoting, energy set.
BenchRecord pp_record() {
  BenchRecord r = tg_record();
  r.model_filename = "/m/a \"b\",c.gguf";
  r.n_paths = 1;
  r.test = "pp16";
  r.n_prompt = 16;
  r.n_gen = 0;
  r.avg_ns = 4000000;
  r.stddev_ns = 0;
  r.avg_ts = r.median_ts = r.min_ts = r.max_ts = 4000;
  r.stddev_ts = 0;
  r.samples_ns = {4000000};
  r.samples_ts = {4000};
  r.ttft_ms = r.tpot_ms = r.itl_p50_ms = r.itl_p90_ms = r.itl_p99_ms = std::nullopt;
  r.weight_bytes_read = 4096;
  r.kv_bytes_read = 0;
  r.achieved_gbps = r.device_bandwidth_gbps = r.bandwidth_fraction = std::nullopt;
  r.device_name = std::nullopt;
  r.energy_source = "estimated";
  r.prefill_j = 0.5;
  r.j_per_token = 0.03125;
  r.energy_estimated = true;
  r.energy_rail = "cpu-activity";
  r.energy_interval_ms = 20;
  r.prefill_w = 2.5;
  return r;
}

const std::vector<BenchRecord> kRecords = {tg_record(), pp_record()};

TEST(ReportPrinters, MarkdownIsTheLlamaBenchTable) {
  const std::string expected =
      "| model                          |       size |     params | isa    | threads | paths |          test |                  t/s |   ttft ms |   tpot ms |     GB/s |   % BW |\n"
      "| ------------------------------ | ---------: | ---------: | ------ | ------: | ----: | ------------: | -------------------: | --------: | --------: | -------: | -----: |\n"
      "| llama 6M Q8_0                  |   6.49 MiB |     6.40 M | avx2   |       2 |     4 |         tg128 |      384.00 ± 181.25 |      1.50 |     12.25 |     0.50 |    1.0 |\n"
      "| llama 6M Q8_0                  |   6.49 MiB |     6.40 M | avx2   |       2 |     1 |          pp16 |       4000.00 ± 0.00 |         - |         - |        - |      - |\n"
      "\n"
      "build: abc1234 (0.1.0)\n";
  EXPECT_EQ(format_records(OutputFormat::kMd, kRecords), expected);
}

TEST(ReportPrinters, MarkdownSizesInGiBAndBillions) {
  BenchRecord r = tg_record();
  r.model_size = int64_t{3} << 30;
  r.model_n_params = 1500000000;
  const std::string md = format_records(OutputFormat::kMd, std::vector<BenchRecord>{r});
  EXPECT_NE(md.find("|   3.00 GiB |     1.50 B |"), std::string::npos) << md;
}

TEST(ReportPrinters, CsvHeaderIsTheSchemaAndRowsQuoteText) {
  const std::string header =
      "build_commit,build_version,cpu_info,isa,model_filename,model_type,model_size,model_n_params,n_batch,"
      "n_threads,type_k,type_v,n_ctx,n_paths,n_warmup,n_reps,test,n_prompt,n_gen,test_time,avg_ns,stddev_ns,"
      "avg_ts,stddev_ts,median_ts,min_ts,max_ts,samples_ns,samples_ts,ttft_ms,tpot_ms,itl_p50_ms,itl_p90_ms,"
      "itl_p99_ms,weight_bytes_read,kv_bytes_read,achieved_gbps,device_name,device_bandwidth_gbps,"
      "bandwidth_fraction,energy_source,prefill_j,decode_j,j_per_token,energy_estimated,"
      "energy_rail,energy_interval_ms,prefill_w,decode_w,thinking,backend,flavor,server_version,concurrency,request_rate,n_requests,n_failed,duration_s,request_throughput,"
      "output_throughput,ttft_p50_ms,ttft_p99_ms,tpot_p50_ms,tpot_p99_ms,e2e_p50_ms,e2e_p99_ms,slo_ttft_ms,slo_tpot_ms,goodput,"
      "spec,spec_drafted,spec_accepted,spec_acceptance\n";
  const std::string row_tg =
      "\"abc1234\",\"0.1.0\",\"Test's CPU\",\"avx2\",\"/m/tiny.gguf\",\"llama 6M Q8_0\",6805504,6400000,512,"
      "2,\"f16\",\"f16\",160,4,1,2,\"tg128\",0,128,\"2025-01-02T03:04:05Z\",1500000000,707106781,"
      "384.0,181.25,384.0,256.0,512.0,\"1000000000 2000000000\",\"512.0 256.0\",1.5,12.25,12.0,13.5,"
      "20.25,1000,24,0.5,\"host\",50.0,"
      "0.01,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n";
  const std::string row_pp =
      "\"abc1234\",\"0.1.0\",\"Test's CPU\",\"avx2\",\"/m/a \"\"b\"\",c.gguf\",\"llama 6M Q8_0\",6805504,6400000,512,"
      "2,\"f16\",\"f16\",160,1,1,2,\"pp16\",16,0,\"2025-01-02T03:04:05Z\",4000000,0,"
      "4000.0,0.0,4000.0,4000.0,4000.0,\"4000000\",\"4000.0\",,,,,"
      ",4096,0,,,,"
      ",\"estimated\",0.5,,0.03125,true,\"cpu-activity\",20.0,2.5,,,,,,,,,,,,,,,,,,,,,,,,,\n";
  EXPECT_EQ(format_records(OutputFormat::kCsv, kRecords), header + row_tg + row_pp);
}

TEST(ReportPrinters, JsonArrayReadsBackEqual) {
  const std::string text = format_records(OutputFormat::kJson, kRecords);
  EXPECT_EQ(text.rfind("[\n  {\n    \"build_commit\": \"abc1234\",\n", 0), 0u) << text;
  EXPECT_NE(text.find("    \"samples_ns\": [1000000000, 2000000000],\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    \"ttft_ms\": null,\n"), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(text);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    Result<BenchRecord> back = record_from_json(j[i]);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(to_json(*back), to_json(kRecords[i]));
  }
  EXPECT_EQ(j[1]["model_filename"], "/m/a \"b\",c.gguf");
  EXPECT_TRUE(j[0]["energy_source"].is_null());
  EXPECT_EQ(j[1]["energy_estimated"], true);
}

TEST(ReportPrinters, JsonWithoutRecordsIsAnEmptyArray) {
  const std::string text = format_records(OutputFormat::kJson, {});
  EXPECT_EQ(text, "[\n]\n");
  EXPECT_TRUE(nlohmann::json::parse(text).empty());
  EXPECT_EQ(format_records(OutputFormat::kJsonl, {}), "");
}

TEST(ReportPrinters, JsonlIsOneObjectPerLine) {
  const std::string text = format_records(OutputFormat::kJsonl, kRecords);
  EXPECT_EQ(text.rfind("{\"build_commit\":\"abc1234\",\"build_version\":\"0.1.0\",", 0), 0u) << text;  // schema order
  std::istringstream in(text);
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, kRecords.size());
    Result<BenchRecord> back = record_from_json(nlohmann::json::parse(line));
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(to_json(*back), to_json(kRecords[i]));
    ++i;
  }
  EXPECT_EQ(i, kRecords.size());
}

// Runs `sql` on a fresh in-memory database and returns the rows of `query`, cells as text ("NULL").
std::vector<std::vector<std::string>> query(const std::string& sql, const std::string& q) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  std::vector<std::vector<std::string>> rows;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* t = sqlite3_column_text(st, c);
      row.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "NULL");
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// A database written before fields were added gains their columns (null in the old rows).
TEST(ReportPrinters, AppendingToAnOlderTableAddsTheNewColumns) {
  const std::string path = ::testing::TempDir() + "er_old_bench.sqlite";
  std::remove(path.c_str());
  ASSERT_TRUE(exec_sql_file(path, "CREATE TABLE bench (build_commit TEXT, test TEXT, avg_ts REAL);"
                                  "INSERT INTO bench (build_commit, test, avg_ts) VALUES ('old', 'tg128', 10.5);").is_ok());
  BenchRecord r;
  r.build_commit = "new";
  r.test = "serve c4";
  r.backend = "openai:http://127.0.0.1:8080";
  r.concurrency = 4;
  const Status st = append_records(path, std::span<const BenchRecord>(&r, 1));
  ASSERT_TRUE(st.is_ok()) << st.message();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT build_commit, backend, concurrency FROM bench ORDER BY rowid", -1, &q, nullptr), SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(q) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < 3; ++c) {
      const unsigned char* t = sqlite3_column_text(q, c);
      row += std::string(t != nullptr ? reinterpret_cast<const char*>(t) : "NULL") + "|";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  std::remove(path.c_str());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], "old|NULL|NULL|");
  EXPECT_EQ(rows[1], "new|openai:http://127.0.0.1:8080|4|");
}

TEST(ReportPrinters, SqlLoadsIntoSqliteAndQueriesBack) {
  const std::string sql = format_records(OutputFormat::kSql, kRecords);
  EXPECT_EQ(sql.rfind("CREATE TABLE IF NOT EXISTS bench (\n  build_commit TEXT,\n", 0), 0u) << sql;
  EXPECT_NE(sql.find("  avg_ns INTEGER,\n"), std::string::npos);
  EXPECT_NE(sql.find("  energy_estimated INTEGER,\n"), std::string::npos);
  EXPECT_NE(sql.find("  decode_w REAL,\n  thinking TEXT,\n  backend TEXT,\n"), std::string::npos);
  EXPECT_NE(sql.find("  concurrency INTEGER,\n"), std::string::npos);
  EXPECT_NE(sql.find("  goodput REAL,\n  spec TEXT,\n"), std::string::npos);
  EXPECT_NE(sql.find("  spec_acceptance REAL\n);\n\nINSERT INTO bench ("), std::string::npos);
  const auto rows = query(sql,
                          "SELECT test, n_paths, avg_ts, typeof(avg_ts), ttft_ms, cpu_info, model_filename, "
                          "samples_ns, energy_estimated, typeof(n_gen) FROM bench ORDER BY rowid");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"tg128", "4", "384.0", "real", "1.5", "Test's CPU", "/m/tiny.gguf",
                                               "1000000000 2000000000", "NULL", "integer"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"pp16", "1", "4000.0", "real", "NULL", "Test's CPU",
                                               "/m/a \"b\",c.gguf", "4000000", "1", "integer"}));
  // CREATE TABLE IF NOT EXISTS: the same output twice appends.
  EXPECT_EQ(query(sql + sql, "SELECT count(*) FROM bench")[0][0], "4");
}

TEST(ReportPrinters, AppendRecordsToADatabaseFile) {
  test::TempDir tmp;
  const std::string db = (tmp / "results.db").string();
  ASSERT_TRUE(append_records(db, kRecords).is_ok());
  ASSERT_TRUE(append_records(db, std::vector<BenchRecord>{tg_record()}).is_ok());
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT count(*), sum(n_paths) FROM bench", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 3);
  EXPECT_EQ(sqlite3_column_int(st, 1), 9);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST(ReportPrinters, AppendToAnIncompatibleTableFailsNamingTheFile) {
  test::TempDir tmp;
  const std::string db = (tmp / "old.db").string();
  ASSERT_TRUE(exec_sql_file(db, "CREATE TABLE bench (x INTEGER);").is_ok());
  const Status st = append_records(db, kRecords);
  ASSERT_FALSE(st.is_ok());
  EXPECT_TRUE(st.is_bad_input());
  EXPECT_NE(st.message().find(db), std::string::npos) << st.message();
}

TEST(ReportPrinters, FormatNamesRoundTrip) {
  for (const char* name : {"md", "csv", "json", "jsonl", "sql"}) {
    const auto f = output_format_from_name(name);
    ASSERT_TRUE(f.has_value()) << name;
    EXPECT_EQ(output_format_name(*f), name);
  }
  EXPECT_FALSE(output_format_from_name("xml").has_value());
}

TEST(ReportFields, NamesAreUniqueAndEveryOneHasAUnitOrDescription) {
  std::set<std::string> names;
  for (const FieldDef& f : bench_fields()) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate field " << f.name;
    EXPECT_GT(std::string(f.description).size(), 3u) << f.name;
  }
  EXPECT_EQ(names.size(), to_json(BenchRecord{}).size());
  // llama-bench's fields that scripts already parse.
  for (const char* n : {"build_commit", "cpu_info", "model_filename", "model_type", "model_size", "model_n_params",
                        "n_batch", "n_threads", "type_k", "n_prompt", "n_gen", "test_time", "avg_ns", "stddev_ns",
                        "avg_ts", "stddev_ts", "samples_ns", "samples_ts"}) {
    EXPECT_EQ(names.count(n), 1u) << n;
  }
}

TEST(ReportFields, ReadingBackNamesTheBadField) {
  nlohmann::json j = to_json(tg_record());
  j.erase("n_paths");
  Result<BenchRecord> r = record_from_json(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'n_paths'"), std::string::npos) << r.status().message();

  j = to_json(tg_record());
  j["avg_ts"] = "fast";
  r = record_from_json(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'avg_ts'"), std::string::npos) << r.status().message();

  j = to_json(tg_record());
  j["test"] = nullptr;  // not nullable
  EXPECT_FALSE(record_from_json(j).is_ok());

  j = to_json(tg_record());
  j["samples_ns"] = {1, "x"};
  r = record_from_json(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'samples_ns'"), std::string::npos) << r.status().message();
}

TEST(ReportFields, NonFiniteNumbersBecomeNull) {
  BenchRecord r = tg_record();
  r.achieved_gbps = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(to_json(r)["achieved_gbps"].is_null());
  EXPECT_NE(format_records(OutputFormat::kCsv, std::vector<BenchRecord>{r}).find(",24,,\"host\","), std::string::npos);
}

}  // namespace
}  // namespace er::report
