// Sweeps over a fleet: the shard assignment, where the shard comes from (flag, Slurm, Kubernetes),
// the runner's share, the databases' shard marks and merge (refusals, idempotence, no duplicates).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "study/merge.h"
#include "study/runner.h"
#include "study/shard.h"
#include "study_fake.h"
#include "support/test_support.h"

namespace er::study {
namespace {

// ---- the shard assignment -------------------------------------------------------------------

TEST(StudyShard, EveryQuestionInExactlyOneShardAndBalancedPerCell) {
  for (int64_t count = 1; count <= 6; ++count) {
    for (int64_t cell = 0; cell < 7; ++cell) {
      for (int64_t offset : {0, 5}) {
        for (int64_t n = 0; n <= 13; ++n) {
          std::vector<int64_t> per(static_cast<size_t>(count), 0);
          for (int64_t i = offset; i < offset + n; ++i) {
            const int64_t s = shard_of(cell, i, count);
            ASSERT_GE(s, 0);
            ASSERT_LT(s, count);
            ++per[static_cast<size_t>(s)];
          }
          const auto [lo, hi] = std::minmax_element(per.begin(), per.end());
          EXPECT_LE(*hi - *lo, 1) << "count " << count << " cell " << cell << " n " << n;
        }
      }
    }
  }
  // The remainders rotate with the cell: over `count` consecutive cells of the same size every
  // shard gets the same number.
  for (int64_t count = 2; count <= 5; ++count) {
    std::vector<int64_t> total(static_cast<size_t>(count), 0);
    for (int64_t cell = 0; cell < count; ++cell)
      for (int64_t i = 0; i < 7; ++i) ++total[static_cast<size_t>(shard_of(cell, i, count))];
    for (int64_t t : total) EXPECT_EQ(t, total[0]) << count;
  }
  EXPECT_EQ(shard_of(3, 4, 1), 0);
}

TEST(StudyShard, ParseShard) {
  auto s = parse_shard("2/3");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 3);
  EXPECT_EQ(s->text(), "2/3");
  EXPECT_TRUE(parse_shard("0/1").is_ok());
  for (const char* bad : {"3/3", "-1/3", "1/0", "0/-2", "a/3", "1", "1/3x", "", "/", "1/ 3", "1.0/3"}) {
    auto r = parse_shard(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_TRUE(r.status().is_bad_input()) << bad;
    EXPECT_TRUE(r.status().names_field("shard")) << bad << ": " << r.status().message();
  }
}

// An environment for resolve_shard.
struct Env {
  std::map<std::string, std::string> vars;
  EnvGetter getter() const {
    return [this](const char* n) -> const char* {
      const auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::optional<Shard> resolved(const Env& env, std::optional<std::string> flag = {}, std::optional<int64_t> shards = {}) {
  auto r = resolve_shard(flag, shards, env.getter());
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : std::nullopt;
}

std::string refusal(const Env& env, std::optional<std::string> flag = {}, std::optional<int64_t> shards = {}) {
  auto r = resolve_shard(flag, shards, env.getter());
  EXPECT_FALSE(r.is_ok());
  if (r.is_ok()) return "";
  EXPECT_TRUE(r.status().is_bad_input());
  return r.status().message();
}

TEST(StudyShard, ResolveFromFlagsAndEnvironment) {
  Env none;
  EXPECT_FALSE(resolved(none).has_value());
  // Slurm, 0-based and 1-based arrays and a stepped one all give shards 0..N-1.
  Env slurm{{{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}};
  auto s = resolved(slurm);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->text(), "2/4");
  EXPECT_NE(s->source.find("SLURM_ARRAY_TASK_ID=2"), std::string::npos);
  Env one_based{{{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}}};
  EXPECT_EQ(resolved(one_based)->text(), "3/4");
  Env stepped{{{"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "0"},
               {"SLURM_ARRAY_TASK_STEP", "2"}}};
  EXPECT_EQ(resolved(stepped)->text(), "3/4");
  // The flag wins over the environment.
  EXPECT_EQ(resolved(slurm, std::string("0/2"))->text(), "0/2");
  EXPECT_EQ(resolved(slurm, std::string("0/2"))->source, "");
  // Kubernetes: --shards N with JOB_COMPLETION_INDEX.
  Env k8s{{{"JOB_COMPLETION_INDEX", "1"}}};
  EXPECT_EQ(resolved(k8s, {}, 3)->text(), "1/3");
  EXPECT_FALSE(resolved(k8s).has_value());  // without --shards the index alone means nothing

  EXPECT_NE(refusal(none, {}, 3).find("JOB_COMPLETION_INDEX"), std::string::npos);
  EXPECT_NE(refusal(k8s, {}, 1).find("JOB_COMPLETION_INDEX=1 is not in [0, 0]"), std::string::npos);
  EXPECT_NE(refusal(k8s, {}, 0).find("shards must be at least 1"), std::string::npos);
  EXPECT_NE(refusal(Env{{{"JOB_COMPLETION_INDEX", "x"}}}, {}, 3).find("JOB_COMPLETION_INDEX='x'"), std::string::npos);
  EXPECT_NE(refusal(none, std::string("1/2"), 2).find("exclude"), std::string::npos);
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "abc"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}})
                .find("SLURM_ARRAY_TASK_ID='abc'"),
            std::string::npos);
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "1"}}}).find("SLURM_ARRAY_TASK_COUNT is not"), std::string::npos);
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "0"}}}).find("SLURM_ARRAY_TASK_COUNT=0"),
            std::string::npos);
  // A 1-based array without SLURM_ARRAY_TASK_MIN: task 4 of 4 cannot be placed.
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}})
                .find("not below SLURM_ARRAY_TASK_COUNT=4"),
            std::string::npos);
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                         {"SLURM_ARRAY_TASK_STEP", "2"}}})
                .find("SLURM_ARRAY_TASK_STEP"),
            std::string::npos);
  EXPECT_NE(refusal(Env{{{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}}})
                .find("SLURM_ARRAY_TASK_MIN"),
            std::string::npos);
}

// ---- the runner's share and the databases' marks ----------------------------------------------

SweepConfig config(const std::string& extra = "", int64_t limit = 7) {
  auto r = parse_sweep_config("name = \"t\"\nmodels = \"m\"\npolicies = [\"unlimited\", \"think-budget\"]\n"
                              "budgets = [8]\npaths = [1, 3]\ntemperature = 0.5\nmax_tokens = 32\n" +
                                  extra + "[[slices]]\ndataset = \"d\"\nlimit = " + std::to_string(limit) + "\n",
                              "t.toml", {});
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

// The fake with a bench, counting bench calls; `skew` changes every measured latency,
// `bench_skew` every bench record.
class BenchFake : public testing::FakeBackend {
 public:
  explicit BenchFake(double skew = 0, double bench_skew = 0) : FakeBackend(10), skew_(skew), bench_skew_(bench_skew) {}
  Result<nlohmann::ordered_json> bench(const Cell& cell) override {
    ++bench_calls;
    return nlohmann::ordered_json{{"cell", cell.label()}, {"tg", 10.0 + bench_skew_}};
  }
  Result<QuestionRecord> run(const Cell& cell, const QuestionRef& ref) override {
    auto r = FakeBackend::run(cell, ref);
    if (r.is_ok()) r->e2e_ms += skew_;
    return r;
  }
  int64_t bench_calls = 0;

 private:
  double skew_, bench_skew_;
};

std::unique_ptr<Store> open_rw(const std::string& path) {
  auto s = Store::open(path, Store::Mode::kReadWrite);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

Status sweep_into(const std::string& db, const SweepConfig& cfg, std::optional<Shard> shard, CellBackend& backend) {
  auto st = Store::open(db, Store::Mode::kReadWrite);
  if (!st.is_ok()) return st.status();
  SweepOptions o;
  o.progress = ProgressStyle::kOff;
  o.shard = shard;
  return run_sweep(cfg, **st, backend, o).status();
}

Shard shard(int64_t i, int64_t n) { return Shard{i, n, ""}; }

// What a database measured, by (cell hash, question id): comparable across databases.
using Row = std::tuple<std::string, std::string, int64_t, std::string, bool, int64_t, int64_t, double, size_t>;
std::vector<Row> rows(const std::string& db) {
  std::vector<Row> out;
  auto st = Store::open(db, Store::Mode::kReadOnly);
  EXPECT_TRUE(st.is_ok()) << st.status().message();
  if (!st.is_ok()) return out;
  auto configs = (*st)->configurations();
  auto questions = (*st)->questions();
  EXPECT_TRUE(configs.is_ok() && questions.is_ok());
  if (!configs.is_ok() || !questions.is_ok()) return out;
  std::map<int64_t, std::string> hash;
  for (const auto& c : configs.value()) hash[c.id] = c.hash;
  for (const auto& q : questions.value())
    out.emplace_back(hash[q.config_id], q.q.question_id, q.q.index, q.q.extracted, q.q.correct, q.q.thinking_tokens,
                     q.q.answer_tokens, q.q.e2e_ms, q.q.paths.size());
  std::sort(out.begin(), out.end());
  return out;
}

class StudyShardDbs : public ::testing::Test {
 protected:
  std::string db(const std::string& name) const { return (dir_ / name).string(); }
  // An unsharded run into all.db and three shards into s0.db .. s2.db.
  void run_all_and_shards(const SweepConfig& cfg) {
    BenchFake whole;
    ASSERT_TRUE(sweep_into(db("all.db"), cfg, std::nullopt, whole).is_ok());
    for (int i = 0; i < 3; ++i) {
      BenchFake f;
      Status st = sweep_into(db("s" + std::to_string(i) + ".db"), cfg, shard(i, 3), f);
      ASSERT_TRUE(st.is_ok()) << st.message();
      shard_calls_ += f.calls;
      bench_calls_ += f.bench_calls;
    }
  }
  test::TempDir dir_;
  int64_t shard_calls_ = 0, bench_calls_ = 0;
};

TEST_F(StudyShardDbs, ShardsSplitTheWorkAndMergeToTheUnshardedRows) {
  const SweepConfig cfg = config("bench = true\n");
  run_all_and_shards(cfg);
  const auto all = rows(db("all.db"));
  ASSERT_EQ(all.size(), 4u * 7u);
  EXPECT_EQ(shard_calls_, 28);  // every question ran once, in one shard
  EXPECT_EQ(bench_calls_, 4);   // every cell's bench ran once, in one shard
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < 3; ++i) {
    const auto r = rows(db("s" + std::to_string(i) + ".db"));
    EXPECT_GE(r.size(), 9u);  // 28 over 3: 9 or 10 each
    EXPECT_LE(r.size(), 10u);
    for (const auto& row : r) EXPECT_TRUE(seen.emplace(std::get<0>(row), std::get<1>(row)).second);
    auto st = Store::open(db("s" + std::to_string(i) + ".db"), Store::Mode::kReadOnly);
    auto mark = read_shard_mark(**st);
    ASSERT_TRUE(mark.is_ok() && mark->has_value());
    EXPECT_EQ((*mark)->index, i);
    EXPECT_EQ((*mark)->count, 3);
    EXPECT_EQ((*mark)->sweep.id, sweep_identity(cfg).id);
    EXPECT_EQ((*st)->configurations()->size(), 4u);  // every shard knows the whole grid
  }

  auto rep = merge_databases(db("m.db"), {db("s0.db"), db("s1.db"), db("s2.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rep->added, 28);
  EXPECT_EQ(rep->questions, 28);
  EXPECT_EQ(rep->expected, 28);
  EXPECT_TRUE(rep->missing.empty());
  EXPECT_EQ(rows(db("m.db")), all);
  {
    auto m = Store::open(db("m.db"), Store::Mode::kReadOnly);
    EXPECT_EQ((*m)->bench_records()->size(), 4u);
    EXPECT_EQ((*m)->runs()->size(), 3u);
    EXPECT_EQ(*(*m)->integrity_check(), "ok");
    auto mark = read_shard_mark(**m);
    EXPECT_FALSE((*mark)->index.has_value());
    EXPECT_EQ((*mark)->held, (std::vector<int64_t>{0, 1, 2}));
  }

  // Idempotent: again, and with an input twice, nothing is added and nothing changes.
  const auto before = rows(db("m.db"));
  rep = merge_databases(db("m.db"), {db("s2.db"), db("s0.db"), db("s0.db"), db("s1.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rep->added, 0);
  EXPECT_EQ(rows(db("m.db")), before);
  auto m = Store::open(db("m.db"), Store::Mode::kReadOnly);
  EXPECT_EQ((*m)->runs()->size(), 3u);
  EXPECT_EQ((*m)->bench_records()->size(), 4u);
}

TEST_F(StudyShardDbs, MergeIntoAnOutputThatAlreadyHasShardsAndMergesOfMerges) {
  const SweepConfig cfg = config();
  run_all_and_shards(cfg);
  auto rep = merge_databases(db("m.db"), {db("s1.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rep->missing, (std::vector<int64_t>{0, 2}));
  EXPECT_LT(rep->questions, rep->expected);
  rep = merge_databases(db("m.db"), {db("s0.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rep->missing, (std::vector<int64_t>{2}));
  // A merge of merges: m.db (shards 0, 1) and a merge of shard 2 into a third file.
  ASSERT_TRUE(merge_databases(db("m2.db"), {db("s2.db")}).is_ok());
  rep = merge_databases(db("m3.db"), {db("m.db"), db("m2.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_TRUE(rep->missing.empty());
  EXPECT_EQ(rows(db("m3.db")), rows(db("all.db")));
  rep = merge_databases(db("m.db"), {db("m2.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rows(db("m.db")), rows(db("all.db")));

  // The whole sweep on a complete merged database runs nothing; a shard database refuses it.
  BenchFake again;
  ASSERT_TRUE(sweep_into(db("m.db"), cfg, std::nullopt, again).is_ok());
  EXPECT_EQ(again.calls, 0);
  Status st = sweep_into(db("s0.db"), cfg, std::nullopt, again);
  EXPECT_TRUE(st.is_bad_input());
  EXPECT_NE(st.message().find("run it with its shard (shard 0/3)"), std::string::npos) << st.message();
}

TEST_F(StudyShardDbs, ShardDatabasesTakeOnlyTheirShardOfTheirSweep) {
  const SweepConfig cfg = config();
  BenchFake f;
  ASSERT_TRUE(sweep_into(db("s0.db"), cfg, shard(0, 3), f).is_ok());
  const int64_t calls = f.calls;
  // The same shard resumes (nothing left).
  ASSERT_TRUE(sweep_into(db("s0.db"), cfg, shard(0, 3), f).is_ok());
  EXPECT_EQ(f.calls, calls);
  for (const auto& [what, s] : {std::pair{"another shard", shard(1, 3)}, std::pair{"another count", shard(0, 2)}}) {
    Status st = sweep_into(db("s0.db"), cfg, s, f);
    EXPECT_TRUE(st.is_bad_input()) << what;
    EXPECT_NE(st.message().find("each shard runs into a database of its own"), std::string::npos) << st.message();
  }
  Status st = sweep_into(db("s0.db"), config("", 6), shard(0, 3), f);
  EXPECT_TRUE(st.is_bad_input());
  EXPECT_NE(st.message().find("not this sweep"), std::string::npos) << st.message();
  // A database with results of an unsharded sweep does not become a shard's.
  ASSERT_TRUE(sweep_into(db("plain.db"), cfg, std::nullopt, f).is_ok());
  st = sweep_into(db("plain.db"), cfg, shard(0, 3), f);
  EXPECT_TRUE(st.is_bad_input());
  EXPECT_NE(st.message().find("without shards"), std::string::npos) << st.message();
  EXPECT_EQ(f.calls, calls + 28);
}

// Runs `sql` on `path`.
void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);
}

TEST_F(StudyShardDbs, MergeRefusalsLeaveTheOutputAsItWas) {
  const SweepConfig cfg = config("bench = true\n");
  run_all_and_shards(cfg);
  ASSERT_TRUE(merge_databases(db("m.db"), {db("s0.db")}).is_ok());
  const auto m_rows = rows(db("m.db"));
  // Other sweeps' and other shard counts' databases.
  {
    BenchFake f;
    ASSERT_TRUE(sweep_into(db("other.db"), config("bench = true\n", 6), shard(1, 3), f).is_ok());
    ASSERT_TRUE(sweep_into(db("two.db"), cfg, shard(1, 2), f).is_ok());
    BenchFake skewed(0.5);  // shard 1 measured again elsewhere: other latencies, the same bench
    ASSERT_TRUE(sweep_into(db("again1.db"), cfg, shard(1, 3), skewed).is_ok());
    BenchFake bench_skewed(0, 0.5);  // the same questions, another bench
    ASSERT_TRUE(sweep_into(db("bench1.db"), cfg, shard(1, 3), bench_skewed).is_ok());
  }
  // A shard database whose mark was changed to claim another shard than its rows belong to.
  ASSERT_TRUE(std::filesystem::copy_file(db("s2.db"), db("lie.db")));
  exec_sql(db("lie.db"), "UPDATE edgereason_meta SET value = '1' WHERE key = 'shard_index';"
                         "UPDATE edgereason_meta SET value = '[1]' WHERE key = 'shards_held';");
  // A configuration whose size differs (another dataset).
  ASSERT_TRUE(std::filesystem::copy_file(db("s1.db"), db("size.db")));
  exec_sql(db("size.db"), "UPDATE configurations SET n_questions = 99 WHERE config_id = 1;");
  // A newer layout: one more column.
  ASSERT_TRUE(std::filesystem::copy_file(db("s1.db"), db("wide.db")));
  exec_sql(db("wide.db"), "ALTER TABLE questions ADD COLUMN extra INTEGER;");

  struct Case {
    std::vector<std::string> inputs;
    std::string out;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {{db("s1.db"), db("other.db")}, db("m.db"), "different sweeps"},
      {{db("other.db")}, db("m.db"), "different sweeps"},
      {{db("s1.db"), db("two.db")}, db("m.db"), "different numbers of shards"},
      {{db("s1.db"), db("again1.db")}, db("m.db"), "' differs between '"},
      {{db("s1.db"), db("again1.db")}, db("m.db"), "measured twice"},
      {{db("s1.db"), db("bench1.db")}, db("m.db"), "the bench record of '"},
      {{db("all.db")}, db("m.db"), "is not a shard database"},
      {{db("lie.db")}, db("m.db"), "belongs to shard 2/3"},
      {{db("size.db")}, db("m.db"), "their datasets differ"},
      {{db("wide.db")}, db("m.db"), "questions.extra"},
      {{db("m.db")}, db("m.db"), "is also the output"},
      {{db("s1.db")}, db("s0.db"), "merge into another file"},
      {{db("s1.db")}, db("all.db"), "not a sharded sweep's"},
      {{db("missing.db")}, db("m.db"), "no such file"},
  };
  for (const Case& c : cases) {
    const bool existed = std::filesystem::exists(c.out);
    const auto bytes = existed ? test::read_bytes(c.out) : std::vector<uint8_t>{};
    auto rep = merge_databases(c.out, c.inputs);
    ASSERT_FALSE(rep.is_ok()) << c.expect;
    EXPECT_TRUE(rep.status().is_bad_input()) << rep.status().message();
    EXPECT_NE(rep.status().message().find(c.expect), std::string::npos) << c.expect << ": " << rep.status().message();
    if (existed) {
      EXPECT_EQ(test::read_bytes(c.out), bytes) << c.expect;
    }
  }
  EXPECT_EQ(rows(db("m.db")), m_rows);
  // A refused merge into a new file creates none.
  EXPECT_FALSE(merge_databases(db("new.db"), {db("s0.db"), db("other.db")}).is_ok());
  EXPECT_FALSE(merge_databases(db("new.db"), {db("s1.db"), db("again1.db")}).is_ok());  // found after opening it
  for (const char* f : {"new.db", "new.db-wal", "new.db-shm"}) EXPECT_FALSE(std::filesystem::exists(db(f))) << f;
  // The conflict is found even after the first copy was merged.
  ASSERT_TRUE(merge_databases(db("m.db"), {db("s1.db")}).is_ok());
  auto rep = merge_databases(db("m.db"), {db("again1.db")});
  ASSERT_FALSE(rep.is_ok());
  EXPECT_EQ(rep.status().message().rfind("question '", 0), 0u) << rep.status().message();
  EXPECT_NE(rep.status().message().find("measured twice"), std::string::npos) << rep.status().message();
  rep = merge_databases(db("m.db"), {db("bench1.db")});
  ASSERT_FALSE(rep.is_ok());
  EXPECT_NE(rep.status().message().find("the bench record of '"), std::string::npos) << rep.status().message();
}

TEST_F(StudyShardDbs, FitsOfInputsAreNotCopied) {
  run_all_and_shards(config());
  {
    auto s = open_rw(db("s0.db"));
    ASSERT_TRUE(s->set_fit("m", nlohmann::ordered_json{{"partial", true}}).is_ok());
  }
  auto rep = merge_databases(db("m.db"), {db("s0.db"), db("s1.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_EQ(rep->input_fits_ignored, 1);
  auto m = Store::open(db("m.db"), Store::Mode::kReadOnly);
  EXPECT_TRUE((*m)->fits()->empty());
}

TEST_F(StudyShardDbs, AnOutputsFitsAreFittedAgainWhenQuestionsAreAdded) {
  run_all_and_shards(config());
  ASSERT_TRUE(merge_databases(db("m.db"), {db("s0.db")}).is_ok());
  {
    auto m = open_rw(db("m.db"));
    ASSERT_TRUE(m->set_fit("m", nlohmann::ordered_json{{"stale", true}}).is_ok());
  }
  auto rep = merge_databases(db("m.db"), {db("s0.db")});  // nothing new: the fits stay
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_TRUE(rep->fit_note.empty());
  rep = merge_databases(db("m.db"), {db("s1.db"), db("s2.db")});
  ASSERT_TRUE(rep.is_ok()) << rep.status().message();
  EXPECT_FALSE(rep->fit_note.empty());
  auto m = Store::open(db("m.db"), Store::Mode::kReadOnly);
  auto fits = (*m)->fits();
  ASSERT_TRUE(fits.is_ok());
  ASSERT_EQ(fits->size(), 1u);
  EXPECT_FALSE(fits->front().json.contains("stale")) << rep->fit_note;
}

}  // namespace
}  // namespace er::study
