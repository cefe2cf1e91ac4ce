// kill -9 at random moments during a sweep: a rerun continues where it stopped, with every
// question recorded exactly once (its paths and power summary with it) and an intact database.
// The sweep runs in a forked child with a fake backend that takes a few ms per question, so the
// kills land inside question work, inside SQLite commits and between them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "../unit/study_fake.h"
#include "study/runner.h"
#include "support/test_support.h"

namespace er::study {
namespace {

SweepConfig config() {
  auto r = parse_sweep_config(
      "name = \"kill\"\nmodels = \"m\"\npolicies = [\"unlimited\", \"think-budget\", \"no-think\"]\n"
      "budgets = [8, 16]\npaths = [1, 2, 4]\ntemperature = 0.5\nmax_tokens = 32\n"
      "[[slices]]\ndataset = \"d\"\nlimit = 12\n",
      "kill.toml", {});
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

// Runs the sweep in a child; kills it with SIGKILL after `kill_after_us` (0: let it finish).
// Returns true when the child finished the sweep by itself.
bool run_child(const std::string& db, int64_t kill_after_us) {
  const pid_t pid = fork();
  if (pid == 0) {
    auto st = Store::open(db, Store::Mode::kReadWrite);
    if (!st.is_ok()) _exit(3);
    testing::FakeBackend fake(100, /*sleep_ms=*/3);
    SweepOptions o;
    o.progress = ProgressStyle::kOff;
    auto sum = run_sweep(config(), **st, fake, o);
    _exit(sum.is_ok() ? 0 : 4);
  }
  EXPECT_GT(pid, 0);
  if (kill_after_us > 0) {
    usleep(static_cast<useconds_t>(kill_after_us));
    kill(pid, SIGKILL);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed";
    return WEXITSTATUS(status) == 0;
  }
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  return false;
}

int64_t scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sql;
  int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

int64_t rows_now(const std::string& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return 0;
  }
  sqlite3_stmt* s = nullptr;
  int64_t v = 0;
  if (sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM questions", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return v;
}

TEST(StudyKill, KilledSweepsResumeWithoutLossOrDuplicates) {
  test::TempDir dir;
  const std::string db = (dir / "results.db").string();
  const SweepConfig cfg = config();
  const auto cells = cfg.cells();
  const int64_t expected = static_cast<int64_t>(cells.size()) * 12;  // 4 policies·budgets × 3 N × 12
  int64_t expected_paths = 0;
  for (const Cell& c : cells) expected_paths += 12 * c.paths;

  std::mt19937 rng(20261124);
  // Each run lives 2–40 ms (the whole sweep needs over 430 ms), so it takes many kills to finish.
  std::uniform_int_distribution<int64_t> delay_us(2'000, 40'000);
  int kills = 0, mid_run_kills = 0;
  int64_t last = 0;
  bool finished = false;
  for (int round = 0; round < 300 && !finished; ++round) {
    finished = run_child(db, delay_us(rng));
    if (finished) break;
    ++kills;
    const int64_t now = rows_now(db);
    EXPECT_GE(now, last) << "rows were lost after kill " << kills;
    if (now > 0 && now < expected) ++mid_run_kills;
    last = now;
  }
  if (!finished) finished = run_child(db, 0);
  ASSERT_TRUE(finished);
  std::printf("[ info ] %d kills (%d mid-run), %lld questions\n", kills, mid_run_kills, static_cast<long long>(expected));
  EXPECT_GE(kills, 8) << "the sweep ended before enough kills";
  EXPECT_GE(mid_run_kills, 5);

  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM questions"), expected);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM (SELECT DISTINCT config_id, question_id FROM questions)"), expected);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM configurations"), static_cast<int64_t>(cells.size()));
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM paths"), expected_paths);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM power"), expected);
  // Every question has all its paths (none half-written) and no path lacks its question.
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM questions q JOIN configurations c USING (config_id) WHERE "
                      "(SELECT COUNT(*) FROM paths p WHERE p.config_id = q.config_id AND p.question_id = q.question_id) "
                      "!= c.paths"),
            0);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM paths p LEFT JOIN questions q USING (config_id, question_id) "
                      "WHERE q.question_id IS NULL"),
            0);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
  sqlite3_finalize(s);
  // At most one run row per start (a kill before the row was written leaves none): the killed
  // ones stay "running", the last is "completed".
  EXPECT_LE(scalar(h, "SELECT COUNT(*) FROM runs"), kills + 1);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM runs WHERE status = 'running'"), scalar(h, "SELECT COUNT(*) FROM runs") - 1);
  EXPECT_EQ(scalar(h, "SELECT COUNT(*) FROM runs WHERE status = 'completed'"), 1);
  sqlite3_close(h);
}

}  // namespace
}  // namespace er::study
