// `edgereason run` end to end: greedy output, JSON record, determinism, and every bad input → exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::shell_quote;

fs::path fixture(const std::string& name) { return test::fixture_dir() / (name + ".gguf"); }

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

// Writes a copy of fixture `src` to `dst` after `edit` changed its metadata or tensors.
// `drop` names a tensor to leave out; `reshape` a tensor whose dims are swapped.
void write_variant(const fs::path& src, const fs::path& dst, const std::function<void(gguf::Metadata&)>& edit,
                   const std::string& drop = "", const std::string& reshape = "") {
  auto f = gguf::File::open(src.string());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata().entries()) w.set(k, v);
  edit(w.metadata());
  for (const auto& t : f->tensors()) {
    if (t.name == drop) continue;
    std::vector<uint64_t> dims = t.dims;
    if (t.name == reshape && dims.size() == 2 && dims[1] % 2 == 0) {
      dims[1] /= 2;  // half the rows: wrong shape, still a valid tensor
    }
    const gguf::TensorView v = f->view(t);
    const uint64_t bytes = t.name == reshape ? t.n_bytes / 2 : t.n_bytes;
    ASSERT_TRUE(w.add_tensor(t.name, t.type, dims, std::vector<uint8_t>(v.data, v.data + bytes)).is_ok());
  }
  ASSERT_TRUE(w.write_file(dst.string()).is_ok());
}

TEST(CliRun, GreedyIsDeterministicAndJsonHasTheRecord) {
  const fs::path m = fixture("tiny-llama-q8_0");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const std::string args = "run -m " + shell_quote(m.string()) + " -p 'Hello there' -n 12 --temp 0 --ignore-eos --json";
  const test::CliResult a = run_cli(args);
  const test::CliResult b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto ja = nlohmann::json::parse(a.out);
  const auto jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["text"], jb["text"]);
  EXPECT_EQ(ja["tokens"]["answer"], 12);
  EXPECT_GT(ja["tokens"]["prompt"].get<int>(), 0);
  for (const char* k : {"load", "prefill", "ttft", "decode", "tpot", "e2e"}) {
    EXPECT_TRUE(ja["timings_ms"].contains(k)) << k;
    EXPECT_GE(ja["timings_ms"][k].get<double>(), 0.0) << k;
  }
  EXPECT_TRUE(ja["energy"]["source"].is_string());  // --power auto's choice; test_power_cli.cpp checks the rest
  EXPECT_EQ(ja["stop"], "length");
}

TEST(CliRun, SameSeedSameTextWithSampling) {
  const fs::path m = fixture("tiny-qwen2-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  auto text = [&](int seed) {
    const test::CliResult r = run_cli("run -m " + shell_quote(m.string()) + " -p 'Once upon' -n 16 --ignore-eos --temp 1.0 --top-k 0 --top-p 1 --min-p 0 --json --seed " + std::to_string(seed));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["text"].get<std::string>();
  };
  EXPECT_EQ(text(7), text(7));
  EXPECT_NE(text(7), text(8));
}

TEST(CliRun, SmolLM2StreamsText) {
  ER_REQUIRE_MODEL(path, "smollm2");
  const test::CliResult r = run_cli("run -m " + shell_quote(path.string()) + " -p 'The capital of France is' -n 8 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Paris"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("TTFT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TPOT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

// Gemma 3 (a base model: a plain-text prompt) runs, with llama.cpp's greedy continuation
// (tests/golden/data/model/gemma3-270m.json, prompt "short": " the capital of the country of France.").
TEST(CliRun, Gemma3RunsWithLlamaCppsGreedyText) {
  ER_REQUIRE_MODEL(path, "gemma3-270m");
  const test::CliResult r = run_cli("run -m " + shell_quote(path.string()) + " -p 'The capital of France is' -n 8 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" the capital of the country of France."), std::string::npos) << r.out;
}

TEST(CliRun, BadFlagsAndPrompts) {
  const fs::path m = fixture("tiny-llama-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  const std::string base = "run -m " + shell_quote(m.string()) + " ";
  expect_bad_input(run_cli(base + "-p hi -n 0"), "-n");
  expect_bad_input(run_cli(base + "-p hi -n -3"), "-n");
  expect_bad_input(run_cli(base + "-f /nonexistent/prompt.txt"), "/nonexistent/prompt.txt");
  expect_bad_input(run_cli(base + "-f /tmp"), "'/tmp': is a directory, not a prompt file");
  // The sampler names its own fields (top_p, temperature, seed, ...); the CLI spells them as its
  // flags.
  expect_bad_input(run_cli(base + "-p hi --top-p 0"), "--top-p must be in (0, 1]");
  expect_bad_input(run_cli(base + "-p hi --top-p 1.5"), "--top-p must be in (0, 1]");
  expect_bad_input(run_cli(base + "-p hi --min-p 2"), "--min-p must be in [0, 1)");
  expect_bad_input(run_cli(base + "-p hi --temp -1"), "--temp must be a finite number >= 0");
  expect_bad_input(run_cli(base + "-p hi --seed -1"), "--seed must be in [0, 9223372036854775807]");
  expect_bad_input(run_cli(base + "-p hi --top-k -1"), "--top-k must be >= 0");
  expect_bad_input(run_cli(base + "-p hi --repeat-penalty 0"), "--repeat-penalty must be a finite number > 0");
  expect_bad_input(run_cli(base + "-p hi --kv-type q4"), "--kv-type");
  expect_bad_input(run_cli(base), "-p");
  // A prompt longer than the context.
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "word ";
  expect_bad_input(run_cli(base + "-c 64 -p " + shell_quote(long_prompt)), "context");
}

TEST(CliRun, ContextLargerThanThisMachineIsBadInputNamingIt) {
  const fs::path m = fixture("tiny-llama-f32");
  if (!fs::exists(m)) GTEST_SKIP() << "fixtures not generated";
  // 384 bytes of f16 KV per position of this model: 10^11 positions are 38 TB.
  expect_bad_input(run_cli("run -m " + shell_quote(m.string()) + " -p hi -n 1 -c 100000000000"),
                   "a context of 100000000000 tokens");
  expect_bad_input(run_cli("run -m " + shell_quote(m.string()) + " -p hi -n 1 -c 100000000000 --paths 4"),
                   "100000000000 tokens x 4 sequences");
}

TEST(CliRun, BadModelsNameTheCulprit) {
  const fs::path src = fixture("tiny-llama-f32");
  if (!fs::exists(src)) GTEST_SKIP() << "fixtures not generated";
  test::TempDir tmp;
  const auto keep = [](gguf::Metadata&) {};

  write_variant(src, tmp / "arch.gguf", [](gguf::Metadata& md) {
    md.set("general.architecture", gguf::Value::string("mamba9"));
    md.set("mamba9.block_count", gguf::Value::u32(3));
    md.set("mamba9.embedding_length", gguf::Value::u32(64));
    md.set("mamba9.feed_forward_length", gguf::Value::u32(128));
    md.set("mamba9.attention.head_count", gguf::Value::u32(4));
    md.set("mamba9.context_length", gguf::Value::u32(2048));
  });
  expect_bad_input(run_cli("run -m " + shell_quote((tmp / "arch.gguf").string()) + " -p hi"), "mamba9");

  write_variant(src, tmp / "missing.gguf", keep, "blk.1.ffn_up.weight");
  expect_bad_input(run_cli("run -m " + shell_quote((tmp / "missing.gguf").string()) + " -p hi"), "blk.1.ffn_up.weight");

  write_variant(src, tmp / "shape.gguf", keep, "", "blk.2.attn_q.weight");
  expect_bad_input(run_cli("run -m " + shell_quote((tmp / "shape.gguf").string()) + " -p hi"), "blk.2.attn_q.weight");
}

TEST(CliRun, WeightsThatOverflowStopGenerationNamingTheModel) {
  const fs::path src = fixture("tiny-llama-f32");
  if (!fs::exists(src)) GTEST_SKIP() << "fixtures not generated";
  // The fixture with one NaN in the final norm's weights: every logit becomes NaN.
  std::vector<uint8_t> bytes = test::read_bytes(src);
  uint64_t at = 0;
  {
    auto f = gguf::File::open(src.string());
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    const gguf::TensorInfo* t = f->find_tensor("output_norm.weight");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->type, DType::kF32);
    at = f->data_offset() + t->offset;
  }
  const uint32_t nan_bits = 0x7fc00000u;
  std::memcpy(bytes.data() + at, &nan_bits, 4);
  test::TempDir tmp;
  const fs::path bad = tmp / "nan-weights.gguf";
  test::write_bytes(bad, bytes);
  const auto r = run_cli("run -m " + shell_quote(bad.string()) + " -p hi -n 4 --temp 0");
  EXPECT_EQ(r.exit_code, 2) << r.err;  // the power line, then the error naming the model
  EXPECT_NE(r.err.find("error: model '" + bad.string() + "'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not finite"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "no garbage text";
}

// Speculative decoding from the command line: the JSON record, the same greedy text as plain
// decoding, and the bad combinations (another vocabulary, a method without its model) refused
// with exit code 2 naming the flags.
TEST(CliRun, SpeculativeDecodingIsExactAndReported) {
  ER_REQUIRE_MODEL(smol, "smollm2");
  const std::string base = "run -m smollm2 -p 'One, two, three, four, one, two, three,' -n 32 --temp 0 --json";
  const auto plain = run_cli(base);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto spec = run_cli(base + " --spec ngram --draft-max 3");
  ASSERT_EQ(spec.exit_code, 0) << spec.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(spec.out);
  EXPECT_EQ(a["text"], b["text"]);
  EXPECT_FALSE(a.contains("speculative"));
  ASSERT_TRUE(b.contains("speculative")) << spec.out;
  EXPECT_EQ(b["speculative"]["method"], "ngram");
  EXPECT_EQ(b["speculative"]["draft_max"], 3);
  EXPECT_GT(b["speculative"]["drafted"].get<int64_t>(), 0);
  EXPECT_LE(b["speculative"]["accepted"].get<int64_t>(), b["speculative"]["drafted"].get<int64_t>());

  auto r = run_cli("run -m smollm2 -p hi -n 4 --spec draft");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--spec draft needs --draft MODEL"), std::string::npos) << r.err;
  r = run_cli("run -m smollm2 -p hi -n 4 --spec ngram --draft smollm2");
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli("run -m smollm2 -p hi -n 4 --spec magic");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--spec 'magic'"), std::string::npos) << r.err;
  r = run_cli("run -m smollm2 -p hi -n 4 --spec ngram --draft-max 0");
  EXPECT_EQ(r.exit_code, 2);
  if (!test::model_path("qwen2.5-coder-0.5b").empty()) {
    r = run_cli("run -m smollm2 -p hi -n 4 --draft qwen2.5-coder-0.5b");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("draft model 'qwen2.5-coder-0.5b' has a vocabulary of 151936 tokens"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace er
