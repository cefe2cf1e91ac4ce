// The results store: round trip, duplicate refusal, and refusal (untouched) of foreign databases.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "report_fixture.h"
#include "study/store.h"
#include "study_fake.h"
#include "support/test_support.h"

namespace er::study {
namespace {

Cell cell(int64_t paths = 1) {
  Cell c;
  c.model = "m";
  c.slice.dataset = "gsm8k";
  c.slice.limit = 5;
  c.paths = paths;
  c.temperature = paths > 1 ? 0.6 : 0;
  return c;
}

TEST(StudyStore, RoundTrip) {
  test::TempDir dir;
  const std::string db = (dir / "r.db").string();
  auto st = Store::open(db, Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  Store& s = **st;
  auto run = s.begin_run("sweep x.toml", "x", "models = \"m\"");
  ASSERT_TRUE(run.is_ok());
  const Cell c = cell(2);
  auto id = s.ensure_configuration(c, 5);
  ASSERT_TRUE(id.is_ok());
  auto id2 = s.ensure_configuration(c, 5);  // found by hash, not inserted again
  ASSERT_TRUE(id2.is_ok());
  EXPECT_EQ(*id, *id2);
  const QuestionRecord q = testing::FakeBackend::make(c, {"q3", 3});
  ASSERT_TRUE(s.add_question(*id, *run, q).is_ok());
  ASSERT_TRUE(s.finish_run(*run, "completed").is_ok());

  auto qs = s.questions();
  ASSERT_TRUE(qs.is_ok());
  ASSERT_EQ(qs->size(), 1u);
  const QuestionRecord& r = (*qs)[0].q;
  EXPECT_EQ((*qs)[0].config_id, *id);
  EXPECT_EQ((*qs)[0].run_id, *run);
  EXPECT_EQ(r.question_id, "q3");
  EXPECT_EQ(r.index, 3);
  EXPECT_EQ(r.gold, q.gold);
  EXPECT_EQ(r.extracted, q.extracted);
  EXPECT_EQ(r.correct, q.correct);
  EXPECT_EQ(r.n_prompt, q.n_prompt);
  EXPECT_EQ(r.thinking_tokens, q.thinking_tokens);
  EXPECT_EQ(r.answer_tokens, q.answer_tokens);
  EXPECT_EQ(r.max_path_tokens, q.max_path_tokens);
  EXPECT_DOUBLE_EQ(r.decode_ms, q.decode_ms);
  EXPECT_DOUBLE_EQ(r.e2e_ms, q.e2e_ms);
  ASSERT_EQ(r.paths.size(), 2u);
  EXPECT_EQ(r.paths[1].index, 1);
  EXPECT_EQ(r.paths[1].stop, "eog");
  ASSERT_TRUE(r.power.has_value());
  EXPECT_EQ(r.power->source, "estimated");
  EXPECT_TRUE(r.power->estimated);
  EXPECT_DOUBLE_EQ(r.power->total_j, q.power->total_j);

  auto cfgs = s.configurations();
  ASSERT_TRUE(cfgs.is_ok());
  ASSERT_EQ(cfgs->size(), 1u);
  EXPECT_EQ((*cfgs)[0].hash, c.hash());
  EXPECT_EQ((*cfgs)[0].cell.to_json(), c.to_json());  // the stored JSON rebuilds the same cell
  EXPECT_EQ((*cfgs)[0].n_questions, 5);
  auto runs = s.runs();
  ASSERT_TRUE(runs.is_ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "completed");
  EXPECT_EQ((*runs)[0].config_toml, "models = \"m\"");
  EXPECT_EQ(*s.integrity_check(), "ok");
}

// A backend cell comes back with its backend, flavor and the server's version (the version is
// stored, not part of the identity, and follows the server's latest).
TEST(StudyStore, BackendCellsKeepTheirServer) {
  test::TempDir dir;
  auto st = Store::open((dir / "b.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  Store& s = **st;
  Cell c = cell();
  c.model = "qwen3@gpu";
  c.threads = 0;
  c.backend = "gpu";
  c.backend_url = "openai:http://127.0.0.1:8000";
  c.flavor = "vllm";
  c.server_version = "vllm 0.9.1";
  auto id = s.ensure_configuration(c, 5);
  ASSERT_TRUE(id.is_ok()) << id.status().message();
  c.server_version = "vllm 0.9.2";
  auto id2 = s.ensure_configuration(c, 5);
  ASSERT_TRUE(id2.is_ok());
  EXPECT_EQ(*id, *id2);  // same identity
  auto cfgs = s.configurations();
  ASSERT_TRUE(cfgs.is_ok()) << cfgs.status().message();
  ASSERT_EQ(cfgs->size(), 1u);
  const Cell& back = (*cfgs)[0].cell;
  EXPECT_EQ(back.backend, "gpu");
  EXPECT_EQ(back.flavor, "vllm");
  EXPECT_EQ(back.server_version, "vllm 0.9.2");
  EXPECT_EQ(back.hash(), c.hash());
  EXPECT_EQ(back.label(), "qwen3@gpu gsm8k[0:5] unlimited N=1");
}

TEST(StudyStore, DuplicateQuestionIsRefusedAndWritesNothing) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok());
  Store& s = **st;
  const int64_t run = *s.begin_run("t", "t", "");
  const Cell c = cell(2);
  const int64_t id = *s.ensure_configuration(c, 5);
  QuestionRecord q = testing::FakeBackend::make(c, {"q1", 1});
  ASSERT_TRUE(s.add_question(id, run, q).is_ok());
  q.paths.push_back({2, "9", false, 1, 1, false, "eog"});  // would add a third path if it got through
  const Status dup = s.add_question(id, run, q);
  ASSERT_FALSE(dup.is_ok());
  EXPECT_NE(dup.message().find("already recorded"), std::string::npos) << dup.message();
  auto qs = s.questions();
  ASSERT_EQ(qs->size(), 1u);
  EXPECT_EQ((*qs)[0].q.paths.size(), 2u);
  // The same question id under another configuration is a different row.
  const int64_t id1 = *s.ensure_configuration(cell(1), 5);
  EXPECT_TRUE(s.add_question(id1, run, testing::FakeBackend::make(cell(1), {"q1", 1})).is_ok());
  EXPECT_EQ(s.questions()->size(), 2u);
}

void expect_refused_untouched(const std::filesystem::path& p, const std::string& what) {
  const auto before = test::read_bytes(p);
  for (auto mode : {Store::Mode::kReadWrite, Store::Mode::kReadOnly}) {
    auto st = Store::open(p.string(), mode);
    ASSERT_FALSE(st.is_ok()) << what;
    EXPECT_TRUE(st.status().is_bad_input()) << st.status().message();
    EXPECT_NE(st.status().message().find(p.string()), std::string::npos) << st.status().message();
  }
  EXPECT_EQ(test::read_bytes(p), before) << what;
  EXPECT_FALSE(std::filesystem::exists(p.string() + "-wal")) << what;
  EXPECT_FALSE(std::filesystem::exists(p.string() + "-shm")) << what;
}

void sql(const std::filesystem::path& p, const char* text) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, text, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(StudyStore, ForeignDatabaseIsRefusedUntouched) {
  test::TempDir dir;
  const auto p = dir / "bench.db";
  sql(p, "CREATE TABLE bench (model TEXT, t REAL); INSERT INTO bench VALUES ('x', 1.5);");
  expect_refused_untouched(p, "another SQLite database");
}

TEST(StudyStore, NonDatabaseFileIsRefusedUntouched) {
  test::TempDir dir;
  const auto p = dir / "notes.db";
  test::write_text(p, "this is not a database, just text that happens to be long enough to matter.\n");
  expect_refused_untouched(p, "a text file");
}

TEST(StudyStore, NewerSchemaIsRefusedUntouched) {
  test::TempDir dir;
  const auto p = dir / "r.db";
  { ASSERT_TRUE(Store::open(p.string(), Store::Mode::kReadWrite).is_ok()); }
  sql(p, "PRAGMA journal_mode=DELETE; UPDATE edgereason_meta SET value = '99' WHERE key = 'schema_version';");
  const auto before = test::read_bytes(p);
  auto st = Store::open(p.string(), Store::Mode::kReadWrite);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.status().message().find("newer edgereason"), std::string::npos) << st.status().message();
  EXPECT_EQ(test::read_bytes(p), before);
}

// A results database with rows (the report fixture), closed and checkpointed.
std::filesystem::path filled_db(const test::TempDir& dir) {
  const auto p = dir / "r.db";
  const Status st = testing::make_report_db(p.string());
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (std::filesystem::exists(p.string() + "-wal")) {
    ADD_FAILURE() << "-wal of " << std::filesystem::file_size(p.string() + "-wal") << " bytes left";
  }
  return p;
}

std::string open_error(const std::filesystem::path& p, Store::Mode mode) {
  auto st = Store::open(p.string(), mode);
  if (st.is_ok()) return "";
  return st.status().message();
}

TEST(StudyStore, DatabaseFailingTheIntegrityCheckIsRefusedUntouched) {
  test::TempDir dir;
  const auto p = filled_db(dir);
  ASSERT_EQ(open_error(p, Store::Mode::kReadOnly), "");
  // The questions' unique index made to point at the paths' index: every row still reads, but
  // the index no longer matches its table.
  sql(p, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET rootpage = (SELECT rootpage FROM sqlite_master "
         "WHERE name = 'sqlite_autoindex_paths_1') WHERE name = 'sqlite_autoindex_questions_1';");
  expect_refused_untouched(p, "an index that disagrees with its table");
  const std::string m = open_error(p, Store::Mode::kReadOnly);
  EXPECT_NE(m.find("is damaged: SQLite's integrity check reports:"), std::string::npos) << m;
  EXPECT_NE(m.find("sqlite_autoindex_questions_1"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(StudyStore, DatabaseWithAGarbledPageIsRefusedUntouched) {
  test::TempDir dir;
  const auto p = filled_db(dir);
  std::vector<uint8_t> bytes = test::read_bytes(p);
  const size_t page = 4096;
  ASSERT_GE(bytes.size(), 4 * page);
  // The last page (a b-tree page of some table or index; never the schema on page 1).
  for (size_t i = bytes.size() - page; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(0x5a ^ (i * 7));
  test::write_bytes(p, bytes);
  expect_refused_untouched(p, "a garbled page");
  EXPECT_NE(open_error(p, Store::Mode::kReadWrite).find("is damaged"), std::string::npos)
      << open_error(p, Store::Mode::kReadWrite);
}

TEST(StudyStore, DatabaseWithoutATableOrColumnIsRefusedUntouched) {
  {
    test::TempDir dir;
    const auto p = filled_db(dir);
    sql(p, "DROP TABLE power;");
    expect_refused_untouched(p, "no power table");
    const std::string m = open_error(p, Store::Mode::kReadOnly);
    EXPECT_NE(m.find("without the table 'power'"), std::string::npos) << m;
  }
  {
    test::TempDir dir;
    const auto p = filled_db(dir);
    sql(p, "ALTER TABLE questions DROP COLUMN e2e_ms;");
    expect_refused_untouched(p, "no e2e_ms column");
    const std::string m = open_error(p, Store::Mode::kReadWrite);
    EXPECT_NE(m.find("table 'questions' lacks the column 'e2e_ms'"), std::string::npos) << m;
  }
}

TEST(StudyStore, ReadOnlyNeedsAnExistingDatabase) {
  test::TempDir dir;
  auto st = Store::open((dir / "missing.db").string(), Store::Mode::kReadOnly);
  ASSERT_FALSE(st.is_ok());
  EXPECT_TRUE(st.status().is_bad_input());
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
}

TEST(StudyStore, ReopeningKeepsRows) {
  test::TempDir dir;
  const std::string db = (dir / "r.db").string();
  {
    auto s = Store::open(db, Store::Mode::kReadWrite);
    ASSERT_TRUE(s.is_ok());
    const int64_t run = *(*s)->begin_run("t", "t", "");
    const int64_t id = *(*s)->ensure_configuration(cell(), 5);
    ASSERT_TRUE((*s)->add_question(id, run, testing::FakeBackend::make(cell(), {"q0", 0})).is_ok());
  }
  auto s = Store::open(db, Store::Mode::kReadOnly);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ((*s)->questions()->size(), 1u);
  auto done = (*s)->done_questions((*s)->configurations()->at(0).id);
  EXPECT_EQ(*done, std::set<std::string>{"q0"});
}

}  // namespace
}  // namespace er::study
