// The study subcommands end to end: sweep's config errors (key, line, exit 2, no database made),
// pareto / plan / report on a database filled by the fake backend, and foreign databases refused
// untouched.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../unit/report_fixture.h"
#include "gguf/gguf.h"
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

// Runs `sql` on the database at `p` (then closed, so its log is checkpointed).
void exec_sql(const std::filesystem::path& p, const char* sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);
}

// A toy GSM8K-style set of three questions, a sweep config over it on a fixture model, and the
// fixture model path ("" when fixtures are not generated).
struct ToySweep {
  test::TempDir dir;
  std::filesystem::path model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  std::filesystem::path data = dir / "toy.jsonl";
  std::filesystem::path cfg = dir / "sweep.toml";
  ToySweep() {
    test::write_text(data,
                     "{\"question\":\"2+2?\",\"answer\":\"#### 4\",\"id\":\"a\"}\n"
                     "{\"question\":\"3+3?\",\"answer\":\"#### 6\",\"id\":\"b\"}\n"
                     "{\"question\":\"1+1?\",\"answer\":\"#### 2\",\"id\":\"c\"}\n");
  }
  // The config: `extra` lines after models, then one slice of the toy set with `slice` lines.
  void write(const std::string& extra, const std::string& slice = "", const std::string& model_path = "") {
    test::write_text(cfg, "models = \"" + (model_path.empty() ? model.string() : model_path) + "\"\n" + extra +
                              "max_tokens = 8\n[[slices]]\ndataset = \"" + data.string() + "\"\n" + slice);
  }
  test::CliResult sweep(const std::filesystem::path& db, const std::string& flags = "") const {
    return run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db.string()) +
                   " --power none --progress off " + flags);
  }
};

TEST(StudyCli, DryRunRefusesWhatTheRunWouldRefuseBeforeAnyDatabase) {
  ToySweep t;
  if (!std::filesystem::exists(t.model)) GTEST_SKIP() << "fixtures not generated";
  const auto db = t.dir / "r.db";
  const std::string cfg = t.cfg.string();
  const auto expect_refused = [&](const std::string& what, const std::string& needle) {
    for (const std::string flags : {"--dry-run", ""}) {
      const auto r = t.sweep(db, flags);
      EXPECT_EQ(r.exit_code, 2) << what << " " << flags << ": " << r.err;
      EXPECT_NE(r.err.find(needle), std::string::npos) << what << " " << flags << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_FALSE(std::filesystem::exists(db)) << what << " " << flags;
    }
  };
  t.write("", "offset = 3\n");  // the toy set has offsets 0..2
  expect_refused("offset past the end", cfg + ":5: key 'slices.offset': 3 is past the end of '");
  t.write("threads = [2, 512]\n");
  expect_refused("threads the engine refuses", cfg + ":2: key 'threads': 512 is out of range [1, 256]");

  // A model whose metadata contradicts its tensors is refused at its line, naming the key.
  const auto bad_model = t.dir / "bad.gguf";
  {
    auto f = gguf::File::open(t.model.string());
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    gguf::Writer w = gguf::Writer::from_file(*f);
    w.set("llama.block_count", gguf::Value::u32(1));
    ASSERT_TRUE(w.write_file(bad_model.string()).is_ok());
  }
  t.write("", "", bad_model.string());
  expect_refused("a corrupt model", cfg + ":1: key 'models': '" + bad_model.string() + "': metadata key 'llama.block_count' = 1");

  // The same configuration without a fault passes the dry run, and creates nothing.
  t.write("");
  const auto ok = t.sweep(db, "--dry-run");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("1 cells"), std::string::npos) << ok.out;
  EXPECT_FALSE(std::filesystem::exists(db));
  // --db in a directory that does not exist.
  const auto r = t.sweep(t.dir / "no" / "such" / "r.db", "--dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--db"), std::string::npos) << r.err;
}

// Damaged results databases (failing SQLite's integrity check, or without a table or column the
// schema has) are refused by every command that opens one, exit 2 naming the reason, untouched.
TEST(StudyCli, DamagedDatabasesAreRefusedUntouched) {
  ToySweep t;
  struct Damage {
    const char* what;
    const char* sql;
    const char* expect;
  };
  const Damage damages[] = {
      {"index and table disagree",
       "PRAGMA writable_schema = ON; UPDATE sqlite_master SET rootpage = (SELECT rootpage FROM sqlite_master WHERE "
       "name = 'sqlite_autoindex_paths_1') WHERE name = 'sqlite_autoindex_questions_1';",
       "integrity check reports"},
      {"a missing table", "DROP TABLE paths;", "without the table 'paths'"},
      {"a missing column", "ALTER TABLE configurations DROP COLUMN config_json;", "lacks the column 'config_json'"},
  };
  const bool have_model = std::filesystem::exists(t.model);
  if (have_model) t.write("");
  int i = 0;
  for (const Damage& d : damages) {
    const auto db = t.dir / ("d" + std::to_string(i++) + ".db");
    ASSERT_TRUE(study::testing::make_report_db(db.string()).is_ok());
    exec_sql(db, d.sql);
    const auto before = test::read_bytes(db);
    std::vector<std::string> cmds = {"pareto --db ", "plan --deadline 5 --db ", "report -o " +
                                     shell_quote((t.dir / "x.html").string()) + " --db "};
    if (have_model) {
      cmds.push_back("sweep " + shell_quote(t.cfg.string()) + " --power none --progress off --db ");
      cmds.push_back("sweep " + shell_quote(t.cfg.string()) + " --dry-run --db ");
      cmds.push_back("study -m " + shell_quote(t.model.string()) + " --dataset " + shell_quote(t.data.string()) +
                     " --power none --progress off --limit 1 -o " + shell_quote((t.dir / "s.html").string()) + " --db ");
    }
    for (const std::string& cmd : cmds) {
      const auto r = run_cli(cmd + shell_quote(db.string()));
      EXPECT_EQ(r.exit_code, 2) << d.what << ": " << cmd << r.err;
      EXPECT_NE(r.err.find(d.expect), std::string::npos) << d.what << ": " << cmd << r.err;
      EXPECT_NE(r.err.find(db.string()), std::string::npos) << r.err;
      EXPECT_EQ(test::read_bytes(db), before) << d.what << ": " << cmd;
      EXPECT_FALSE(std::filesystem::exists(db.string() + "-wal")) << d.what << ": " << cmd;
      EXPECT_FALSE(std::filesystem::exists(db.string() + "-shm")) << d.what << ": " << cmd;
    }
    EXPECT_FALSE(std::filesystem::exists(t.dir / "x.html"));
    EXPECT_FALSE(std::filesystem::exists(t.dir / "s.html"));
  }
}

TEST(StudyCli, StudyFlagsOutOfRange) {
  for (const std::string flags : {"-t 0", "-t -3", "-t 100000", "--limit 0", "--limit -1", "--time-budget 45x",
                                  "--time-budget 90", "--time-budget 0m", "--time-budget -5m", "--first-round 0"}) {
    const auto r = run_cli("study --db /nonexistent/r.db " + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.err;
    EXPECT_NE(r.err.find(flags.substr(0, flags.find(' '))), std::string::npos) << flags << ": " << r.err;
  }
}

// The plan is printed before anything runs (--dry-run: only the plan); a budget too small for the
// grid shrinks it by the documented rule and says so.
TEST(StudyCli, StudyPrintsItsPlanFittedToTheBudget) {
  const auto model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir dir;
  const auto data = dir / "toy.jsonl";
  test::write_text(data, "{\"question\":\"1+1?\",\"answer\":\"#### 2\",\"id\":\"q1\"}\n"
                         "{\"question\":\"2+2?\",\"answer\":\"#### 4\",\"id\":\"q2\"}\n");
  const std::string base = "study -m " + shell_quote(model.string()) + " --dataset " + shell_quote(data.string()) +
                           " --db " + shell_quote((dir / "r.db").string()) + " --dry-run";
  auto r = run_cli(base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // (base + 2 policies + N = 2, 4, 8 + the f16 upcast) × 2 questions
  EXPECT_NE(r.out.find("planned: 7 cells, ~14 questions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tiny-llama-q8_0.gguf@f16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("time budget 1h30m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unlimited N=8"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "r.db"));
  r = run_cli(base + " --time-budget 1s");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("planned: 1 cells"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("to fit the budget: dropped N = 8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("to fit the budget: dropped precision f16"), std::string::npos) << r.out;
  r = run_cli(base + " --quick");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("planned: 4 cells"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("time budget 10m00s"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace er
