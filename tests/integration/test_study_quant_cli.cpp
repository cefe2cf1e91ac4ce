// The quantization axis end to end: a sweep with quantizations = ["release", "f16"] on the tiny
// fixture model makes the f16 variant once (beside the model), names it in every record, checks
// its weights against the release, and reuses it on a rerun; bad values are exit 2 at --dry-run.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::shell_quote;

std::vector<std::string> column(const std::string& db, const char* sql) {
  std::vector<std::string> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, sql, -1, &s, nullptr) == SQLITE_OK)
      while (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return out;
}

struct QuantSweep {
  test::TempDir dir;
  fs::path model = dir / "models" / "tiny.gguf";
  fs::path data = dir / "toy.jsonl";
  fs::path cfg = dir / "sweep.toml";
  fs::path db = dir / "r.db";
  bool ok = false;
  QuantSweep() {
    const fs::path src = test::fixture_dir() / "tiny-llama-q8_0.gguf";
    if (!fs::exists(src)) return;
    fs::create_directories(model.parent_path());
    fs::copy_file(src, model);
    test::write_text(data,
                     "{\"question\":\"2+2?\",\"answer\":\"#### 4\",\"id\":\"a\"}\n"
                     "{\"question\":\"3+3?\",\"answer\":\"#### 6\",\"id\":\"b\"}\n");
    ok = true;
  }
  void write(const std::string& quantizations, const std::string& extra = "") {
    test::write_text(cfg, "models = \"" + model.string() + "\"\nquantizations = " + quantizations + "\n" + extra +
                              "max_tokens = 8\n[[slices]]\ndataset = \"" + data.string() + "\"\n");
  }
  test::CliResult sweep(const std::string& flags = "") const {
    return run_cli("sweep " + shell_quote(cfg.string()) + " --db " + shell_quote(db.string()) +
                   " --power none --progress off " + flags);
  }
};

TEST(StudyQuantCli, SweepMakesTheVariantOnceAndNamesItInEveryRecord) {
  QuantSweep t;
  if (!t.ok) GTEST_SKIP() << "fixtures not generated";
  t.write("[\"release\", \"f16\"]", "bench = true\n");
  auto dry = t.sweep("--dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("2 cells"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("tiny.gguf@f16 "), std::string::npos) << dry.out;
  EXPECT_FALSE(fs::exists(t.model.parent_path() / ".edgereason-cache")) << "a dry run makes nothing";

  auto r = t.sweep();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("quantize: making tiny f16 (once)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("f16 vs release: "), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(t.model.parent_path() / ".edgereason-cache" / "tiny.f16.gguf"));

  const auto labels = column(t.db.string(), "SELECT label FROM configurations ORDER BY config_id");
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].find("@"), std::string::npos) << labels[0];
  EXPECT_NE(labels[1].find("tiny.gguf@f16 "), std::string::npos) << labels[1];
  const auto configs = column(t.db.string(), "SELECT config_json FROM configurations ORDER BY config_id");
  EXPECT_FALSE(nlohmann::json::parse(configs[0]).contains("quantization"));
  EXPECT_EQ(nlohmann::json::parse(configs[1]).at("quantization"), "f16");
  // Every question of both cells was answered.
  EXPECT_EQ(column(t.db.string(), "SELECT question_id FROM questions").size(), 4u);
  // The bench rows name the precision and its weight bytes per token; the f16 row carries the check.
  const auto bench = column(t.db.string(), "SELECT record_json FROM bench ORDER BY config_id");
  ASSERT_EQ(bench.size(), 2u);
  const auto b0 = nlohmann::json::parse(bench[0]), b1 = nlohmann::json::parse(bench[1]);
  EXPECT_EQ(b0.at("quantization"), "release");
  EXPECT_EQ(b1.at("quantization"), "f16");
  EXPECT_GT(b1.at("weight_bytes_per_token").get<int64_t>(), b0.at("weight_bytes_per_token").get<int64_t>());
  ASSERT_TRUE(b1.contains("weights_vs_release"));
  EXPECT_GT(b1["weights_vs_release"].at("tensors").get<int64_t>(), 0);

  // The report compares the precisions and states the weight check as measured.
  const auto html = t.dir / "r.html";
  auto rep = run_cli("report --db " + shell_quote(t.db.string()) + " -o " + shell_quote(html.string()));
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("id=\"precision\""), std::string::npos);
  EXPECT_NE(page.find(b1["weights_vs_release"].at("identical").get<bool>()
                          ? "The f16 variant has exactly the release's weights (checked: max |Δw| = 0"
                          : "The f16 variant does <b>not</b> hold exactly the release's weights"),
            std::string::npos);

  // A rerun with another precision reuses the cached f16 variant.
  t.write("[\"release\", \"f16\", \"q4_0\"]");
  r = t.sweep();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("making tiny f16"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("making tiny q4_0"), std::string::npos) << r.err;
}

TEST(StudyQuantCli, BadValuesAreRefusedAtTheDryRun) {
  QuantSweep t;
  if (!t.ok) GTEST_SKIP() << "fixtures not generated";
  t.write("[\"release\", \"q3_k\"]");
  auto r = t.sweep("--dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(t.cfg.string() + ":2: key 'quantizations': 'q3_k' is not a quantization"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(t.db));
}

}  // namespace
}  // namespace er
