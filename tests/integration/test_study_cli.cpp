// The study subcommands end to end: sweep's config errors (key, line, exit 2, no database made),
// pareto / plan / report on a database filled by the fake backend, and foreign databases refused
// untouched.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "../unit/report_fixture.h"
#include "support/test_support.h"

namespace er {
namespace {

using test::run_cli;
using test::shell_quote;

TEST(StudyCli, BadConfigIsExit2WithKeyAndLineAndNoDatabase) {
  test::TempDir dir;
  const auto cfg = dir / "bad.toml";
  const auto db = dir / "r.db";
  test::write_text(cfg, "models = \"smollm2\"\npaths = [1, 4]\ntemprature = 0.6\n[[slices]]\ndataset = \"gsm8k\"\n");
  auto r = run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":3: key 'temprature': unknown key"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));

  test::write_text(cfg, "models = [\"smollm2\", \"no-such-model\"]\n[[slices]]\ndataset = \"gsm8k\"\n");
  r = run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":1: key 'models': "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;

  test::write_text(cfg, "models = \"smollm2\"\n[[slices]]\ndataset = \"/no/such/set.jsonl\"\n");
  r = run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":3: key 'slices.dataset': "), std::string::npos) << r.err;

  r = run_cli("sweep " + shell_quote((dir / "missing.toml").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(StudyCli, DryRunListsTheCells) {
  const auto r = run_cli("sweep " + shell_quote((test::source_dir() / "examples/sweep.toml").string()) + " --dry-run");
  if (r.exit_code == 2 && r.err.find("installed") != std::string::npos) GTEST_SKIP() << "smollm2 not installed";
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sweep 'gsm8k-smollm2': 8 cells"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("smollm2 gsm8k[0:30] think-budget=128 N=4 t=2"), std::string::npos) << r.out;
}

class StudyCliDb : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(study::testing::make_report_db(db_).is_ok()); }
  test::TempDir dir_;
  std::string db_ = (dir_ / "r.db").string();
};

TEST_F(StudyCliDb, ParetoPrintsEachFrontier) {
  auto r = run_cli("pareto --db " + shell_quote(db_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"frontier: accuracy vs mean_s (s)", "frontier: accuracy vs p90_s (s)",
                        "frontier: accuracy vs energy_j (J/question)", "frontier: accuracy vs tokens (tokens/question)"})
    EXPECT_NE(r.out.find(s), std::string::npos) << r.out;
  r = run_cli("pareto --db " + shell_quote(db_) + " --cost p90 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("p90_s"));
  ASSERT_FALSE(j["p90_s"].empty());
  // Sorted by cost, accuracy strictly rising along the frontier.
  for (size_t i = 1; i < j["p90_s"].size(); ++i) {
    EXPECT_GT(j["p90_s"][i]["p90_s"].get<double>(), j["p90_s"][i - 1]["p90_s"].get<double>());
    EXPECT_GT(j["p90_s"][i]["accuracy"].get<double>(), j["p90_s"][i - 1]["accuracy"].get<double>());
  }
  EXPECT_EQ(run_cli("pareto --db " + shell_quote(db_) + " --cost speed").exit_code, 2);
}

TEST_F(StudyCliDb, PlanChoosesWithinTheDeadline) {
  // The fake's latency: 51 ms + 2 ms per path token × (1 + 0.2(N − 1)); paths run to
  // min(32, budget + 10) tokens. think-budget=8 N=1: 87 ms; unlimited N=4: 153 ms; all under 0.2 s.
  auto r = run_cli("plan --db " + shell_quote(db_) + " --deadline 0.2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["choice"].is_null());
  EXPECT_LE(j["choice"]["p90_s"].get<double>(), 0.2);
  for (const auto& ru : j["runners_up"]) {
    EXPECT_LE(ru["p90_s"].get<double>(), 0.2);
    EXPECT_LE(ru["accuracy"].get<double>(), j["choice"]["accuracy"].get<double>());
  }
  r = run_cli("plan --db " + shell_quote(db_) + " --deadline 0.2 --metric mean");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("deadline 200 ms (mean latency): "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Chosen: "), std::string::npos) << r.out;
  // Nothing meets 1 ms: exit 1 and the fastest is named.
  r = run_cli("plan --db " + shell_quote(db_) + " --deadline 0.001");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("The fastest is"), std::string::npos) << r.out;
  EXPECT_EQ(run_cli("plan --db " + shell_quote(db_) + " --deadline -3").exit_code, 2);
  EXPECT_EQ(run_cli("plan --db " + shell_quote(db_) + " --deadline 1 --metric p50").exit_code, 2);
}

TEST_F(StudyCliDb, ReportWritesOneHtmlFile) {
  const auto out = dir_ / "report.html";
  const auto r = run_cli("report --db " + shell_quote(db_) + " -o " + shell_quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = test::read_bytes(out);
  const std::string html(bytes.begin(), bytes.end());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("chart-acc-mean"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out.string() + ".tmp"));
}

TEST(StudyCli, PlanProjectsOntoAnotherDevice) {
  // Questions measured (fake) on a fixture model; the Orin profile has no fit for it, so the
  // roofline projects from the GGUF's shape and the measured token counts.
  const auto model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixture missing: " << model;
  test::TempDir dir;
  const std::string db = (dir / "r.db").string();
  ASSERT_TRUE(study::testing::make_report_db(db, model.string()).is_ok());
  auto measured = run_cli("plan --db " + shell_quote(db) + " --deadline 10 --json");
  ASSERT_EQ(measured.exit_code, 0) << measured.err;
  auto r = run_cli("plan --db " + shell_quote(db) + " --deadline 10 --json --device jetson-orin-nano-8gb");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto m = nlohmann::json::parse(measured.out);
  EXPECT_TRUE(j["choice"]["projected"].get<bool>());
  EXPECT_FALSE(m["choice"]["projected"].get<bool>());
  EXPECT_NE(j["projection"].get<std::string>().find("roofline"), std::string::npos) << j["projection"];
  EXPECT_NE(j["choice"]["mean_s"].get<double>(), m["choice"]["mean_s"].get<double>());
  EXPECT_GT(j["choice"]["mean_s"].get<double>(), 0.0);
  r = run_cli("plan --db " + shell_quote(db) + " --deadline 10 --device jetson-orin-nano-8gb");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("PROJECTED onto jetson-orin-nano-8gb", 0), 0u) << r.out;
  EXPECT_EQ(run_cli("plan --db " + shell_quote(db) + " --deadline 10 --device no-such-device").exit_code, 2);
}

TEST(StudyCli, ForeignDatabasesAreRefusedUntouched) {
  test::TempDir dir;
  const auto db = dir / "bench.db";
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "CREATE TABLE bench (x INTEGER); INSERT INTO bench VALUES (1);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  const auto before = test::read_bytes(db);
  for (const std::string cmd : {"pareto --db ", "plan --deadline 5 --db ", "report -o /dev/null --db "}) {
    const auto r = run_cli(cmd + shell_quote(db.string()));
    EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
    EXPECT_NE(r.err.find("not an edgereason results database"), std::string::npos) << r.err;
  }
  EXPECT_EQ(test::read_bytes(db), before);
  const auto r = run_cli("pareto --db " + shell_quote((dir / "none.db").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "none.db"));
}

}  // namespace
}  // namespace er
