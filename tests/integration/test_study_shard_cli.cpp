// Sweeps over a fleet end to end on a tiny fixture model: three `sweep --shard I/3` processes run
// concurrently, `merge` combines their databases, and the merged question rows (ids, cells, greedy
// outputs and token counts, every path) equal one unsharded run's. Also the flags' and the
// environment's refusals (exit 2 naming the culprit) and merge's refusals.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace er {
namespace {

using test::run_cli;
using test::shell_quote;

// Every row of `sql`'s result as "a|b|c" lines, in the order the query gives.
std::vector<std::string> query(const std::filesystem::path& db, const char* sql) {
  std::vector<std::string> out;
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << db;
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  while (s && sqlite3_step(s) == SQLITE_ROW) {
    std::string line;
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      const unsigned char* t = sqlite3_column_text(s, c);
      line += (c ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    out.push_back(line);
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

// What greedy decoding makes deterministic: the cell (by hash), the question, its outputs and
// token counts, and every path's. Not timings, run ids or creation times.
constexpr const char* kQuestions =
    "SELECT c.hash, q.question_id, q.q_index, q.gold, q.extracted, q.correct, q.n_prompt, q.thinking_tokens, "
    "q.answer_tokens, q.max_path_tokens FROM questions q JOIN configurations c USING (config_id) ORDER BY 1, 2";
constexpr const char* kPaths =
    "SELECT c.hash, p.question_id, p.path_index, p.extracted, p.correct, p.thinking_tokens, p.answer_tokens, "
    "p.forced_close, p.stop FROM paths p JOIN configurations c USING (config_id) ORDER BY 1, 2, 3";

struct ShardSweep {
  test::TempDir dir;
  std::filesystem::path model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  std::filesystem::path data = dir / "toy.jsonl";
  std::filesystem::path cfg = dir / "sweep.toml";
  ShardSweep() {
    std::string lines;
    for (int i = 0; i < 8; ++i) {
      lines += "{\"question\":\"" + std::to_string(i) + "+" + std::to_string(i) + "?\",\"answer\":\"#### " +
               std::to_string(2 * i) + "\",\"id\":\"q" + std::to_string(i) + "\"}\n";
    }
    test::write_text(data, lines);
    // Two policies × two slices (one with an offset), greedy: 2 × (8 + 5) = 26 questions.
    test::write_text(cfg, "name = \"fleet\"\nmodels = \"" + model.string() +
                              "\"\npolicies = [\"unlimited\", \"no-think\"]\nmax_tokens = 8\n"
                              "[[slices]]\ndataset = \"" + data.string() + "\"\n"
                              "[[slices]]\ndataset = \"" + data.string() + "\"\noffset = 3\n");
  }
  std::string db(const std::string& name) const { return (dir / name).string(); }
  test::CliResult sweep(const std::string& db_name, const std::string& flags = "") const {
    return run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db(db_name)) +
                   " --power none --progress off " + flags);
  }
};

TEST(ShardCli, ThreeConcurrentShardsMergeToTheUnshardedRun) {
  ShardSweep t;
  if (!std::filesystem::exists(t.model)) GTEST_SKIP() << "fixtures not generated";
  const auto whole = t.sweep("all.db");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  std::vector<test::CliResult> res(3);
  std::vector<std::thread> th;
  for (int i = 0; i < 3; ++i)
    th.emplace_back([&, i] { res[i] = t.sweep("s" + std::to_string(i) + ".db", "--shard " + std::to_string(i) + "/3"); });
  for (auto& x : th) x.join();
  size_t sum = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(res[i].exit_code, 0) << res[i].err;
    const auto n = query(t.db("s" + std::to_string(i) + ".db"), "SELECT COUNT(*) FROM questions");
    ASSERT_EQ(n.size(), 1u);
    const int rows = std::stoi(n[0]);
    EXPECT_GE(rows, 8) << i;  // 26 over 3: 8 or 9 each
    EXPECT_LE(rows, 9) << i;
    sum += static_cast<size_t>(rows);
  }
  EXPECT_EQ(sum, 26u);

  auto m = run_cli("merge " + shell_quote(t.db("m.db")) + " " + shell_quote(t.db("s0.db")) + " " +
                   shell_quote(t.db("s1.db")) + " " + shell_quote(t.db("s2.db")));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("all 3 shards of sweep 'fleet'"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("26 of 26 questions (26 added by this merge)"), std::string::npos) << m.out;
  const auto expect_q = query(t.db("all.db"), kQuestions);
  const auto expect_p = query(t.db("all.db"), kPaths);
  ASSERT_EQ(expect_q.size(), 26u);
  EXPECT_EQ(query(t.db("m.db"), kQuestions), expect_q);
  EXPECT_EQ(query(t.db("m.db"), kPaths), expect_p);
  EXPECT_EQ(query(t.db("m.db"), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(query(t.db("m.db"), "SELECT COUNT(*) FROM configurations"), std::vector<std::string>{"4"});
  EXPECT_EQ(query(t.db("m.db"), "SELECT COUNT(*) FROM runs"), std::vector<std::string>{"3"});

  // Idempotent: merging again (and an input twice) adds nothing.
  m = run_cli("merge " + shell_quote(t.db("m.db")) + " " + shell_quote(t.db("s1.db")) + " " +
              shell_quote(t.db("s1.db")) + " " + shell_quote(t.db("s0.db")) + " " + shell_quote(t.db("s2.db")));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("(0 added by this merge)"), std::string::npos) << m.out;
  EXPECT_EQ(query(t.db("m.db"), kQuestions), expect_q);
  EXPECT_EQ(query(t.db("m.db"), "SELECT COUNT(*) FROM runs"), std::vector<std::string>{"3"});

  // The whole sweep on the merged database finds nothing to run; on a shard's it is refused.
  auto r = t.sweep("m.db");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query(t.db("m.db"), kQuestions), expect_q);
  r = t.sweep("s0.db");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("run it with its shard (--shard 0/3)"), std::string::npos) << r.err;
  // Another shard into a shard's database, and a shard into the unsharded run's, are refused.
  r = t.sweep("s0.db", "--shard 1/3");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("each shard runs into a database of its own"), std::string::npos) << r.err;
  r = t.sweep("all.db", "--shard 1/3 --dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("without shards"), std::string::npos) << r.err;

  // merge refuses the unsharded database, a damaged one, and a sweep with another grid.
  const auto before = test::read_bytes(t.db("m.db"));
  r = run_cli("merge " + shell_quote(t.db("m.db")) + " " + shell_quote(t.db("all.db")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a shard database"), std::string::npos) << r.err;
  test::write_text(t.db("junk.db"), "not a database at all, but long enough to look like one maybe");
  r = run_cli("merge " + shell_quote(t.db("m.db")) + " " + shell_quote(t.db("junk.db")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("junk.db"), std::string::npos) << r.err;
  test::write_text(t.cfg, "name = \"other\"\nmodels = \"" + t.model.string() +
                              "\"\nmax_tokens = 8\n[[slices]]\ndataset = \"" + t.data.string() + "\"\nlimit = 2\n");
  ASSERT_EQ(t.sweep("o0.db", "--shard 0/3").exit_code, 0);
  r = run_cli("merge " + shell_quote(t.db("m.db")) + " " + shell_quote(t.db("o0.db")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("different sweeps"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_bytes(t.db("m.db")), before);
  r = run_cli("merge " + shell_quote(t.db("m.db")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// `study --shard`: each shard only measures; merged, the same study command without a shard runs
// nothing more and fits, reports and plans.
TEST(ShardCli, StudyShardsMergeThenStudyFitsAndReports) {
  ShardSweep t;
  if (!std::filesystem::exists(t.model)) GTEST_SKIP() << "fixtures not generated";
  const std::string study = "study -m " + shell_quote(t.model.string()) + " --dataset " + shell_quote(t.data.string()) +
                            " --quick --limit 2 -t 1 --power none --progress off -o " +
                            shell_quote(t.db("r.html")) + " --db ";
  std::vector<test::CliResult> res(2);
  std::vector<std::thread> th;
  for (int i = 0; i < 2; ++i)
    th.emplace_back([&, i] { res[i] = run_cli(study + shell_quote(t.db("st" + std::to_string(i) + ".db")) +
                                              " --shard " + std::to_string(i) + "/2"); });
  for (auto& x : th) x.join();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(res[i].exit_code, 0) << res[i].err;
    EXPECT_NE(res[i].out.find("shard " + std::to_string(i) + "/2 of the study measured"), std::string::npos) << res[i].out;
    EXPECT_EQ(query(t.db("st" + std::to_string(i) + ".db"), "SELECT COUNT(*) FROM fits"), std::vector<std::string>{"0"});
  }
  EXPECT_FALSE(std::filesystem::exists(t.db("r.html")));
  auto m = run_cli("merge " + shell_quote(t.db("stm.db")) + " " + shell_quote(t.db("st0.db")) + " " +
                   shell_quote(t.db("st1.db")));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("8 of 8 questions"), std::string::npos) << m.out;  // 4 cells × 2 (no early stops in shards)
  const auto before = query(t.db("stm.db"), kQuestions);
  auto r = run_cli(study + shell_quote(t.db("stm.db")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query(t.db("stm.db"), kQuestions), before);  // nothing ran again
  EXPECT_NE(query(t.db("stm.db"), "SELECT COUNT(*) FROM fits"), std::vector<std::string>{"0"});
  EXPECT_TRUE(std::filesystem::exists(t.db("r.html")));
  EXPECT_NE(r.out.find("deadline 1.00 s"), std::string::npos) << r.out;
}

// Sets environment variables for the scope (the CLI runs as a child and inherits them).
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

TEST(ShardCli, ShardFromFlagsAndEnvironmentAndItsRefusals) {
  ShardSweep t;
  if (!std::filesystem::exists(t.model)) GTEST_SKIP() << "fixtures not generated";
  for (const auto& [flags, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--shard 3/3", "--shard '3/3': I must be in [0, 2]"},
           {"--shard 0/0", "--shard '0/0': N must be at least 1"},
           {"--shard x/3", "--shard 'x/3': I and N must be whole numbers"},
           {"--shard 1", "--shard '1': expected I/N"},
           {"--shards 3", "JOB_COMPLETION_INDEX"},
           {"--shards 0", "--shards must be at least 1"},
           {"--shard 0/3 --shards 3", "exclude each other"}}) {
    const auto r = t.sweep("x.db", flags + " --dry-run");
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << flags << ": " << r.err;
  }
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_MIN", "1"}});
    auto r = t.sweep("x.db", "--dry-run");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("shard 2/3"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("shard 2/3 (from SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1"), std::string::npos) << r.err;
    r = t.sweep("x.db", "--shard 0/2 --dry-run");  // the flag wins
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("shard 0/2"), std::string::npos) << r.out;
  }
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "three"}, {"SLURM_ARRAY_TASK_COUNT", "3"}});
    const auto r = t.sweep("x.db", "--dry-run");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("SLURM_ARRAY_TASK_ID='three': not a whole number"), std::string::npos) << r.err;
  }
  {
    ScopedEnv env(std::vector<std::pair<std::string, std::string>>{{"JOB_COMPLETION_INDEX", "1"}});
    auto r = t.sweep("k1.db", "--shards 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(query(t.db("k1.db"), "SELECT value FROM edgereason_meta WHERE key = 'shard_index'"),
              std::vector<std::string>{"1"});
    r = t.sweep("x.db", "--shards 1 --dry-run");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("JOB_COMPLETION_INDEX=1 is not in [0, 0]"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(t.db("x.db")));
}

}  // namespace
}  // namespace er
