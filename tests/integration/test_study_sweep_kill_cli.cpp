// `edgereason sweep` itself killed with SIGKILL at random moments on a tiny fixture model: reruns
// complete the grid with every question exactly once and an intact database.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "support/test_support.h"

extern char** environ;

namespace er {
namespace {

int64_t scalar(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return v;
}

constexpr int64_t kWaitForExit = -1;  // sweep_once: no kill
constexpr int64_t kKillAtOnce = -2;   // sweep_once: kill after extra_us, whatever was stored

// Starts `edgereason sweep CFG --db DB --power none --progress off`. With kill_after_rows >= 0 it
// waits until the database holds more than that many question rows (so the kill lands mid-sweep
// whatever the machine's speed or load), then `extra_us` more, and sends SIGKILL; kKillAtOnce
// kills after extra_us; kWaitForExit lets the sweep finish. Returns true when it exited 0 by itself.
bool sweep_once(const std::string& cfg, const std::string& db, int64_t kill_after_rows, int64_t extra_us) {
  const std::string exe = test::cli_path().string();
  std::vector<std::string> args = {exe, "sweep", cfg, "--db", db, "--power", "none", "--progress", "off"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  if (kill_after_rows != kWaitForExit) {
    for (int polls = 0; kill_after_rows >= 0 && polls < 60'000; ++polls) {  // at most ~2 min
      if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (scalar(db, "SELECT COUNT(*) FROM questions") > kill_after_rows) break;
      usleep(2'000);
    }
    usleep(static_cast<useconds_t>(extra_us));
    kill(pid, SIGKILL);
  }
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
    return WEXITSTATUS(status) == 0;
  }
  return false;
}

TEST(StudySweepCli, KillNineAndRerunOnAFixtureModel) {
  const auto model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixture " << model << " missing (run the fixtures.generate test)";
  test::TempDir dir;
  std::string data;
  for (int i = 0; i < 12; ++i)
    data += "{\"question\": \"What is " + std::to_string(i) + " plus 1?\", \"answer\": \"#### " + std::to_string(i + 1) + "\"}\n";
  test::write_text(dir / "set.jsonl", data);
  const std::string cfg = (dir / "sweep.toml").string();
  test::write_text(cfg, "name = \"kill-cli\"\nmodels = \"" + model.string() +
                            "\"\npolicies = [\"unlimited\", \"think-budget\"]\nbudgets = [4]\npaths = [1, 2]\n"
                            "temperature = 0.7\nmax_tokens = 24\nanswer_budget = 4\n[[slices]]\ndataset = \"" +
                            (dir / "set.jsonl").string() + "\"\n");
  const std::string db = (dir / "r.db").string();
  const int64_t expected = 4 * 12;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> delay(0, 20'000);
  int kills = 0, mid_run = 0;
  int64_t last = 0;
  bool done = false;
  for (int round = 0; round < 25 && !done; ++round) {
    // Round 0 is killed at once (during start-up, before any row); later rounds once the sweep has
    // stored a new row, at a random moment after it (mid-transaction included).
    done = round == 0 ? sweep_once(cfg, db, kKillAtOnce, 2'000) : sweep_once(cfg, db, last, delay(rng));
    if (done) break;
    ++kills;
    const int64_t now = std::max<int64_t>(0, scalar(db, "SELECT COUNT(*) FROM questions"));
    EXPECT_GE(now, last) << "rows lost after kill " << kills;
    if (now > last && now < expected) ++mid_run;
    last = now;
  }
  if (!done) done = sweep_once(cfg, db, kWaitForExit, 0);
  ASSERT_TRUE(done);
  std::printf("[ info ] %d kills (%d with progress) before the sweep completed\n", kills, mid_run);
  EXPECT_GE(kills, 3);
  EXPECT_GE(mid_run, 1);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM questions"), expected);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM (SELECT DISTINCT config_id, question_id FROM questions)"), expected);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM paths"), 2 * 12 * (1 + 2));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM configurations"), 4);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
  sqlite3_finalize(s);
  sqlite3_close(h);
}

TEST(StudySweepCli, RealBackendRowsAndBench) {
  const auto model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "fixture " << model << " missing (run the fixtures.generate test)";
  test::TempDir dir;
  test::write_text(dir / "set.jsonl",
                   "{\"question\": \"What is 2 plus 2?\", \"answer\": \"#### 4\"}\n"
                   "{\"question\": \"What is 3 plus 1?\", \"answer\": \"#### 4\"}\n"
                   "{\"question\": \"What is 5 plus 1?\", \"answer\": \"#### 6\"}\n");
  const std::string cfg = (dir / "sweep.toml").string();
  test::write_text(cfg, "models = \"" + model.string() + "\"\npolicies = \"think-budget\"\nbudgets = 4\npaths = [1, 3]\n"
                        "temperature = 0.7\nmax_tokens = 16\nanswer_budget = 4\nbench = true\n[[slices]]\ndataset = \"" +
                        (dir / "set.jsonl").string() + "\"\noffset = 1\n");
  const std::string db = (dir / "r.db").string();
  const auto r = test::run_cli("sweep " + test::shell_quote(cfg) + " --db " + test::shell_quote(db) + " --power none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM questions"), 4);  // questions 1 and 2 of the file, 2 cells
  EXPECT_EQ(scalar(db, "SELECT MIN(q_index) FROM questions"), 1);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM paths"), 2 * (1 + 3));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM questions WHERE gold NOT IN ('#### 4', '#### 6')"), 0);  // as the file gives it
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM questions WHERE n_prompt <= 0 OR e2e_ms <= 0 OR max_path_tokens <= 0"), 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM power"), 0);  // --power none
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM bench"), 2);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM bench WHERE json_extract(record_json, '$.decode_tok_s') > 0"), 2);
}

}  // namespace
}  // namespace er
