// `edgereason findings` end to end on a database filled by the fake backend: the table in each
// format, the report's findings section, and missing, foreign and damaged databases (exit 2, the
// reason named, nothing written).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "../unit/report_fixture.h"
#include "support/test_support.h"

namespace er {
namespace {

using test::run_cli;
using test::shell_quote;

class FindingsCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(study::testing::make_report_db(db_).is_ok()); }
  test::TempDir dir_;
  std::string db_ = (dir_ / "r.db").string();
};

TEST_F(FindingsCli, PrintsEveryFindingInEachFormat) {
  auto r = run_cli("findings --db " + shell_quote(db_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"Decode dominates latency [decode-share]", "Which model size wins depends on the deadline",
                        "W4 weights cut latency", "paper:   prefill:decode latency 1:521", "arXiv 2511.01866"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  // One model ("m", of unknown size): the size axis is not measurable, and says why.
  EXPECT_NE(r.out.find("one model size only: the database has m;"), std::string::npos) << r.out;

  r = run_cli("findings --db " + shell_quote(db_) + " -o md");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("| finding | the paper (", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("|---|---|---|---|---|"), std::string::npos);

  r = run_cli("findings --db " + shell_quote(db_) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["findings"].size(), 9u);
  for (const auto& f : j["findings"]) {
    const std::string v = f["verdict"];
    EXPECT_TRUE(v == "reproduced" || v == "not reproduced" || v == "inconclusive" || v == "not measurable here") << v;
    EXPECT_FALSE(f["reason"].get<std::string>().empty()) << f["id"];
    EXPECT_NE(f["command"].get<std::string>().find("edgereason"), std::string::npos) << f["id"];
  }
  // The fake's N = 4 paths run 1.6× one path's latency per question: below N/2.
  EXPECT_EQ(j["findings"][6]["id"], "paths-latency");
  EXPECT_EQ(j["findings"][6]["verdict"], "reproduced") << j["findings"][6].dump(2);
  EXPECT_EQ(run_cli("findings --db " + shell_quote(db_) + " -o csv").exit_code, 2);
}

TEST_F(FindingsCli, TheReportHasTheSameTable) {
  const auto out = dir_ / "report.html";
  const auto r = run_cli("report --db " + shell_quote(db_) + " -o " + shell_quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = test::read_bytes(out);
  const std::string html(bytes.begin(), bytes.end());
  EXPECT_NE(html.find("id=\"findings-table\""), std::string::npos);
  EXPECT_NE(html.find("data-finding=\"w4-vs-w16\""), std::string::npos);
  EXPECT_NE(html.find("not measurable here"), std::string::npos);
}

TEST_F(FindingsCli, MissingForeignAndDamagedDatabasesAreExit2) {
  auto r = run_cli("findings --db " + shell_quote((dir_ / "none.db").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;

  const auto text = dir_ / "notes.txt";
  test::write_text(text, "not a database\n");
  r = run_cli("findings --db " + shell_quote(text.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(text.string()), std::string::npos) << r.err;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE paths;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const auto before = test::read_bytes(db_);
  r = run_cli("findings --db " + shell_quote(db_));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("without the table 'paths'"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_bytes(db_), before);
}

}  // namespace
}  // namespace er
