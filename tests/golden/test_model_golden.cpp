// The engine against llama.cpp golden files (tools/make_golden_model.py): last-position logits
// within a relative L2 error, and greedy continuations identical except at llama.cpp near ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/f16.h"
#include "model/forward.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = test::source_dir() / "tests/golden/data/model";
constexpr double kNearTie = 0.1;  // llama.cpp top-2 logit margin below which a divergence is allowed

struct GoldenCase {
  std::string name;            // golden file stem: "smollm2", "tiny-llama-f32", ...
  double max_rel_l2;           // 2e-2 for quantized models, 1e-4 for F32 fixtures; 4e-2 for a golden
                               // made by an AVX2-only llama.cpp build (its "system_info")
  double near_tie = kNearTie;  // llama.cpp top-2 margin below which greedy may diverge (0.5 for an
                               // AVX2 golden: its logits carry that build's ~2-3 % rounding spread)
};

fs::path model_for(const std::string& name) {
  if (name.rfind("tiny-", 0) == 0) {
    const fs::path p = test::fixture_dir() / (name + ".gguf");
    return fs::exists(p) ? p : fs::path{};
  }
  return test::model_path(name);
}

std::vector<float> read_logits(const fs::path& p, const std::string& dtype, int64_t n) {
  std::vector<uint8_t> bytes = test::read_bytes(p);
  std::vector<float> out(static_cast<size_t>(n));
  if (dtype == "f32") {
    EXPECT_EQ(bytes.size(), static_cast<size_t>(n) * 4) << p;
    std::memcpy(out.data(), bytes.data(), std::min(bytes.size(), out.size() * 4));
  } else {
    EXPECT_EQ(bytes.size(), static_cast<size_t>(n) * 2) << p;
    for (int64_t i = 0; i < n && static_cast<size_t>(2 * i + 1) < bytes.size(); ++i) {
      out[static_cast<size_t>(i)] = f16_to_f32(static_cast<uint16_t>(bytes[static_cast<size_t>(2 * i)] |
                                                                      (bytes[static_cast<size_t>(2 * i + 1)] << 8)));
    }
  }
  return out;
}

double rel_l2(const float* a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(a[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

class ModelGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(ModelGolden, LogitsAndGreedyMatchLlamaCpp) {
  const GoldenCase& gc = GetParam();
  const fs::path golden = kGoldenDir / (gc.name + ".json");
  ASSERT_TRUE(fs::exists(golden)) << golden;
  const fs::path model_path = model_for(gc.name);
  if (model_path.empty()) {
    if (test::models_required()) FAIL() << "model for golden '" << gc.name << "' is missing";
    GTEST_SKIP() << "model for golden '" << gc.name << "' is missing";
  }
  std::ifstream in(golden);
  const nlohmann::json g = nlohmann::json::parse(in);

  auto m_or = model::Model::load(model_path.string());
  ASSERT_TRUE(m_or.is_ok()) << m_or.status().message();
  const model::Model& m = **m_or;
  ASSERT_EQ(m.hparams().n_vocab, g["n_vocab"].get<int64_t>());
  if (g.contains("system_info")) std::printf("[golden] %s: made by llama.cpp %s\n", gc.name.c_str(), g["system_info"].get<std::string>().c_str());

  model::ContextOptions co;
  co.n_ctx = 1024;
  co.n_threads = 2;
  auto ctx_or = model::Context::create(m, co);
  ASSERT_TRUE(ctx_or.is_ok()) << ctx_or.status().message();
  model::Context& ctx = **ctx_or;
  const int64_t n_vocab = m.hparams().n_vocab;

  int n_diverged_at_tie = 0;
  for (const auto& p : g["prompts"]) {
    const std::string id = p["id"];
    const std::vector<int32_t> tokens = p["tokens"].get<std::vector<int32_t>>();
    const std::vector<int32_t> want = p["greedy"].get<std::vector<int32_t>>();
    const std::vector<double> margin = p["top2_margin"].get<std::vector<double>>();

    // Prefill in chunks as the engine does, logits of the last position only.
    ctx.clear(0);
    std::vector<model::BatchEntry> batch;
    for (size_t start = 0; start < tokens.size(); start += 512) {
      batch.clear();
      for (size_t i = start; i < std::min(tokens.size(), start + 512); ++i) {
        batch.push_back({tokens[i], static_cast<int64_t>(i), 0, i + 1 == tokens.size()});
      }
      ASSERT_TRUE(ctx.eval(batch).is_ok());
    }
    const std::vector<float> ref = read_logits(kGoldenDir / p["logits_file"].get<std::string>(), g["logits_dtype"], n_vocab);
    const double err = rel_l2(ctx.logits(0), ref);
    std::printf("[golden] %s / %-14s %4zu tokens: logits rel L2 %.3g (limit %.0e)\n", gc.name.c_str(), id.c_str(),
                tokens.size(), err, gc.max_rel_l2);
    EXPECT_LE(err, gc.max_rel_l2) << gc.name << " prompt " << id;

    // Greedy continuation: ours must equal llama.cpp's until a near tie, where it may diverge.
    int64_t pos = static_cast<int64_t>(tokens.size());
    for (size_t step = 0; step < want.size(); ++step) {
      const int32_t got = sampling::argmax(std::span(ctx.logits(0), static_cast<size_t>(n_vocab)));
      if (got != want[step]) {
        if (margin[step] < gc.near_tie) {
          ++n_diverged_at_tie;
          std::printf("[golden] %s / %s: diverged at step %zu at a near tie (llama.cpp margin %.4f): ours %d, theirs %d\n",
                      gc.name.c_str(), id.c_str(), step, margin[step], got, want[step]);
        } else {
          ADD_FAILURE() << gc.name << " prompt " << id << ": greedy token " << step << " is " << got << ", llama.cpp has "
                        << want[step] << " (margin " << margin[step] << ")";
        }
        break;
      }
      const model::BatchEntry e{got, pos++, 0, true};
      ASSERT_TRUE(ctx.eval(std::span(&e, 1)).is_ok());
    }
  }
  std::printf("[golden] %s: %d prompt(s) diverged at a near tie\n", gc.name.c_str(), n_diverged_at_tie);
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string n = info.param.name;
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

// The shipped models (Release runs; too slow for the sanitizer build, see scripts/test.sh).
// smollm2's and qwen2.5-coder-1.5b's goldens come from the AVX-512 llama.cpp build the engine
// mirrors (they agree to the f16 storage floor, ~2e-4); qwen2.5-coder-0.5b's and gemma3-270m's
// from an AVX2-only build, whose softmax exp and kernel choices round differently: llama.cpp's own
// AVX2 build differs from its AVX-512 one by 2.2e-2 / 3.3e-2 on Qwen2.5-Coder-1.5B's "short" /
// "code" prompts and 2.5e-2 on SmolLM2's "code" (docs/engine.md), hence 4e-2 and near ties up to 0.5.
// gemma3-270m's "window-gsm8k" (788 tokens) is long enough for the sliding window to mask: 3.6e-2
// with it, 0.85 without.
INSTANTIATE_TEST_SUITE_P(RealModels, ModelGolden,
                         ::testing::Values(GoldenCase{"smollm2", 2e-2}, GoldenCase{"qwen2.5-coder-0.5b", 4e-2, 0.5},
                                           GoldenCase{"qwen2.5-coder-1.5b", 2e-2}, GoldenCase{"gemma3-270m", 4e-2, 0.5}),
                         case_name);

// The tiny fixtures: F32 ones must agree to float rounding, quantized ones like real models.
// tiny-gemma3-f32's golden comes from the AVX2-only build (other F32 lanes in its matmuls): on it
// llama.cpp's own n_batch 1 run differs from its n_batch 512 golden by 1.9e-4 to 5.0e-4 and the
// engine by 1.6e-4 to 5.0e-4, hence 1e-3; greedy is identical on all 8 prompts (64 steps each,
// the window of 8 positions masking in all but the shortest).
INSTANTIATE_TEST_SUITE_P(Fixtures, ModelGolden,
                         ::testing::Values(GoldenCase{"tiny-llama-f32", 1e-4}, GoldenCase{"tiny-qwen2-f32", 1e-4},
                                           GoldenCase{"tiny-qwen3-f32", 1e-4}, GoldenCase{"tiny-gemma3-f32", 1e-3},
                                           GoldenCase{"tiny-llama-q4_k", 2e-2},
                                           GoldenCase{"tiny-qwen2-q8_0", 2e-2}, GoldenCase{"tiny-qwen3-q4_k", 2e-2}),
                         case_name);

}  // namespace
}  // namespace er
