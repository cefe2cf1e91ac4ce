// `edgereason info` end to end: real model facts, JSON output, and bad input → exit 2 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "fixture_gen.h"
#include "gguf/gguf.h"
#include "support/test_support.h"

namespace er {
namespace {

using test::run_cli;
using test::shell_quote;

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// Bad input: exit code 2, nothing on stdout, exactly one line on stderr naming `culprit`.
void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
  EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
}

TEST(CliInfo, Gemma3SlidingWindow) {
  ER_REQUIRE_MODEL(path, "gemma3-270m");
  const test::CliResult r = run_cli("info -m " + shell_quote(path.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sliding window           512 positions, in 15 of 18 layers"), std::string::npos) << r.out;
  const test::CliResult j = run_cli("info --json -m " + shell_quote(path.string()));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto info = nlohmann::json::parse(j.out);
  EXPECT_EQ(info["hparams"]["sliding_window"], 512);
  EXPECT_EQ(info["hparams"]["n_swa_layers"], 15);
}

TEST(CliInfo, SmolLM2Facts) {
  ER_REQUIRE_MODEL(path, "smollm2");
  const test::CliResult r = run_cli("info -m " + shell_quote(path.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama"), std::string::npos);
  EXPECT_NE(r.out.find("134.5 M"), std::string::npos) << r.out;

  const test::CliResult j = run_cli("info --json -m " + shell_quote(path.string()));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto info = nlohmann::json::parse(j.out);
  EXPECT_EQ(info["architecture"], "llama");
  EXPECT_EQ(info["hparams"]["n_layer"], 30);
  EXPECT_EQ(info["hparams"]["n_embd"], 576);
  EXPECT_EQ(info["hparams"]["n_head"], 9);
  EXPECT_EQ(info["hparams"]["n_head_kv"], 3);
  EXPECT_EQ(info["hparams"]["n_ff"], 1536);
  EXPECT_EQ(info["hparams"]["n_vocab"], 49152);
  EXPECT_EQ(info["tokenizer"]["model"], "gpt2");
  EXPECT_EQ(info["tokenizer"]["pre"], "smollm");
  EXPECT_EQ(info["chat_template"]["family"], "chatml");
  const double params_m = info["n_params"].get<double>() / 1e6;
  EXPECT_NEAR(params_m, 134.5, 0.05);
  EXPECT_TRUE(info["tied_output"].get<bool>());
  // Tied output: the whole embedding matrix is read for the logits, so every byte counts.
  EXPECT_EQ(info["bytes_read_per_token"], info["bytes_weights"]);
  uint64_t by_type = 0;
  for (const auto& t : info["bytes_by_type"]) by_type += t["bytes"].get<uint64_t>();
  EXPECT_EQ(by_type, info["bytes_weights"].get<uint64_t>());
}

TEST(CliInfo, ResolvesNamesThroughEdgereasonModels) {
  // A models directory of our own holding a fixture under a short name.
  auto src = test::fixture_dir() / "tiny-llama-f32.gguf";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir dir;
  std::filesystem::copy_file(src, dir / "mini.gguf");
  ASSERT_EQ(::setenv("EDGEREASON_MODELS", dir.path().c_str(), 1), 0);
  const test::CliResult r = run_cli("info -m mini --json");
  const test::CliResult missing = run_cli("info -m smollm2");
  ::unsetenv("EDGEREASON_MODELS");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["path"], (dir / "mini.gguf").string());
  // The error lists what is installed in that directory.
  expect_bad_input(missing, "mini");
}

TEST(CliInfo, FixtureModelsDescribeThemselves) {
  for (const char* name : {"tiny-llama-q4_k", "tiny-qwen2-q8_0", "tiny-qwen3-f32"}) {
    const auto p = test::fixture_dir() / (std::string(name) + ".gguf");
    if (!std::filesystem::exists(p)) continue;
    const test::CliResult r = run_cli("info --json -m " + shell_quote(p.string()));
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_FALSE(nlohmann::json::parse(r.out)["architecture"].get<std::string>().empty());
  }
}

TEST(CliInfo, MissingFileAndUnknownName) {
  expect_bad_input(run_cli("info -m /nonexistent/model.gguf"), "/nonexistent/model.gguf");
  expect_bad_input(run_cli("info -m no-such-model-name"), "no-such-model-name");
}

TEST(CliInfo, DirectoryIsRejected) {
  test::TempDir tmp;
  expect_bad_input(run_cli("info -m " + shell_quote(tmp.path().string())), "directory");
}

TEST(CliInfo, NonGgufAndBadMagic) {
  test::TempDir tmp;
  test::write_text(tmp / "notes.gguf", "this is a text file, not a model\n");
  expect_bad_input(run_cli("info -m " + shell_quote((tmp / "notes.gguf").string())), "GGUF");
  test::write_bytes(tmp / "empty.gguf", {});
  expect_bad_input(run_cli("info -m " + shell_quote((tmp / "empty.gguf").string())), "empty.gguf");
}

TEST(CliInfo, TruncatedModelFilesGiveOneLine) {
  // A real fixture cut at a spread of points: each must be exit 2 with one line, never a crash.
  auto src = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "fixtures not generated";
  const std::vector<uint8_t> bytes = test::read_bytes(src);
  test::TempDir tmp;
  for (size_t cut : {size_t{3}, size_t{8}, size_t{23}, size_t{100}, size_t{4096}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    const auto p = tmp / ("cut" + std::to_string(cut) + ".gguf");
    test::write_bytes(p, part);
    expect_bad_input(run_cli("info -m " + shell_quote(p.string())), p.filename().string());
  }
}

// tiny-llama-f32 (synthetic vocabulary) with one metadata key changed, written to `path`.
void write_fixture_with(const std::filesystem::path& path, const std::string& key, const gguf::Value& value) {
  const fixtures::Vocab v = fixtures::synthetic_vocab();
  for (const fixtures::FixtureSpec& s : fixtures::standard_specs(v, v)) {
    if (s.name != "tiny-llama-f32") continue;
    auto w = fixtures::build_fixture(s, v, fixtures::kDefaultSeed);
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    w->set(key, value);
    ASSERT_TRUE(w->write_file(path.string()).is_ok());
  }
}

TEST(CliInfo, MetadataThatContradictsTheTensorsOrIsAbsurdNamesTheKey) {
  test::TempDir tmp;
  struct Case {
    const char* key;
    gguf::Value value;
    const char* expect;
  };
  const Case cases[] = {
      {"llama.block_count", gguf::Value::u32(2), "key 'llama.block_count' = 2, but tensors of 3 layers are present"},
      {"llama.block_count", gguf::Value::u32(4), "key 'llama.block_count' = 4"},
      {"llama.attention.head_count", gguf::Value::u32(6), "key 'llama.attention.head_count' = 6 does not divide"},
      {"llama.feed_forward_length", gguf::Value::u32(96), "key 'llama.feed_forward_length' disagrees with tensor"},
      {"llama.rope.freq_base", gguf::Value::f32(std::numeric_limits<float>::infinity()), "key 'llama.rope.freq_base' = inf"},
      {"llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(std::numeric_limits<float>::quiet_NaN()), "key 'llama.attention.layer_norm_rms_epsilon'"},
      {"llama.context_length", gguf::Value::u32(0), "key 'llama.context_length' = 0"},
      {"tokenizer.ggml.tokens", gguf::Value::string_array({}), "key 'tokenizer.ggml.tokens' is empty"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const auto p = tmp / ("bad" + std::to_string(i++) + ".gguf");
    write_fixture_with(p, c.key, c.value);
    expect_bad_input(run_cli("info -m " + shell_quote(p.string())), c.expect);
    expect_bad_input(run_cli("run -n 1 -p hi -m " + shell_quote(p.string())), c.expect);
  }
}

TEST(CliInfo, UnknownCommandIsNamed) {
  const test::CliResult r = run_cli("frobnicate -m x");
  expect_bad_input(r, "'frobnicate'");
  EXPECT_NE(r.err.find("info"), std::string::npos) << "the known commands are listed: " << r.err;
}

TEST(CliInfo, BadFlagsExitTwo) {
  EXPECT_EQ(run_cli("info").exit_code, 2);
  EXPECT_EQ(run_cli("info -m x --no-such-flag").exit_code, 2);
  EXPECT_EQ(run_cli("no-such-command").exit_code, 2);
  const test::CliResult help = run_cli("info --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--json"), std::string::npos);
}

}  // namespace
}  // namespace er
