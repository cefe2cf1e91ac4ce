// Load-time repacking (kernels/repack.h, Model::load): which matrices take the x16 and x8 layouts,
// EDGEREASON_REPACK=0 / q4_K / x8, and bit-identical logits with and without it at every ISA level.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "model/forward.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::model {
namespace {

// mode: nullptr (default: every layout), "0" (off), "q4_K" (Q4_K x16 only) or "x8" (Q4_1 in x8).
std::unique_ptr<Model> load(const char* mode, const char* fixture = "tiny-qwen2-q4_k.gguf") {
  if (mode == nullptr) {
    unsetenv("EDGEREASON_REPACK");
  } else {
    setenv("EDGEREASON_REPACK", mode, 1);
  }
  auto m = Model::load((test::fixture_dir() / fixture).string());
  unsetenv("EDGEREASON_REPACK");
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  return m.is_ok() ? std::move(*m) : nullptr;
}
std::unique_ptr<Model> load(bool repack) { return load(repack ? nullptr : "0"); }

// The matrices read whole per token (the embedding table is read a row per token and is never
// repacked: EmbeddingTableStaysRowMajor).
std::vector<const kernels::Matrix*> matrices(const Model& m) {
  const Weights& w = m.weights();
  std::vector<const kernels::Matrix*> v = {&w.output};
  for (const LayerWeights& L : w.layers) {
    for (const kernels::Matrix* x : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) v.push_back(x);
  }
  return v;
}

// Logits of every position of a short prompt (one prefill) and of one decode step after it.
std::vector<float> run(const Model& m, kernels::Isa isa) {
  ContextOptions o;
  o.n_ctx = 64;
  o.max_logits = 8;
  o.isa = isa;
  auto ctx = Context::create(m, o);
  EXPECT_TRUE(ctx.is_ok());
  std::vector<BatchEntry> batch;
  for (int i = 0; i < 7; ++i) batch.push_back({(i * 37 + 5) % 200, i, 0, true});
  EXPECT_TRUE((*ctx)->eval(batch).is_ok());
  const int64_t n_vocab = m.hparams().n_vocab;
  std::vector<float> out((*ctx)->logits(0), (*ctx)->logits(0) + 7 * n_vocab);
  const BatchEntry one{11, 7, 0, true};
  EXPECT_TRUE((*ctx)->eval(std::span<const BatchEntry>(&one, 1)).is_ok());
  out.insert(out.end(), (*ctx)->logits(0), (*ctx)->logits(0) + n_vocab);
  return out;
}

// Whether the default level reads `layout` directly: x86-64 AVX-512 and AArch64 dotprod / i8mm.
bool level_reads_layouts() {
  const kernels::Isa isa = kernels::default_isa();
  return isa == kernels::Isa::kAvx512 || isa == kernels::Isa::kDotprod || isa == kernels::Isa::kI8mm;
}

TEST(ModelRepack, LayoutsAreTakenWhereTheDefaultLevelReadsThem) {
  const kernels::Isa isa = kernels::default_isa();
  EXPECT_EQ(kernels::reads_layout(kernels::Layout::kQ4Kx16, DType::kQ4_K, isa), level_reads_layouts());
  EXPECT_EQ(kernels::reads_layout(kernels::Layout::kQ4_1x16, DType::kQ4_1, isa), level_reads_layouts());
  EXPECT_EQ(kernels::reads_layout(kernels::Layout::kX8, DType::kQ8_0, isa), level_reads_layouts());
  EXPECT_EQ(kernels::reads_layout(kernels::Layout::kQ8_0x16, DType::kQ8_0, isa), isa == kernels::Isa::kAvx512);
  EXPECT_EQ(kernels::reads_layout(kernels::Layout::kQ6Kx16, DType::kQ6_K, isa), isa == kernels::Isa::kAvx512);
  EXPECT_FALSE(kernels::reads_layout(kernels::Layout::kQ4Kx16, DType::kQ4_K, kernels::Isa::kScalar));
  EXPECT_TRUE(kernels::reads_layout(kernels::Layout::kRowMajor, DType::kQ4_K, kernels::Isa::kScalar));
}

TEST(ModelRepack, EmbeddingTableStaysRowMajor) {
  // Repacking an untied table would make all of it resident for the few rows a run reads; a tied
  // one is repacked as the output head while the lookup keeps reading the file's rows.
  for (const char* fixture : {"tiny-llama-q4_1.gguf", "tiny-llama-q8_0.gguf", "tiny-llama-q6_k.gguf", "tiny-qwen2-q4_k.gguf"}) {
    auto packed = load(nullptr, fixture);
    ASSERT_TRUE(packed);
    const Weights& w = packed->weights();
    EXPECT_EQ(w.token_embd.layout, kernels::Layout::kRowMajor) << fixture;
    if (w.output.layout != kernels::Layout::kRowMajor) {
      EXPECT_NE(w.output.data, w.token_embd.data) << fixture;
    }
    std::cout << "[ embd     ] " << fixture << (w.tied_output ? ": tied" : ": untied") << ", output head "
              << (w.output.layout == kernels::Layout::kRowMajor ? "row-major" : "repacked") << "\n";
  }
}

TEST(ModelRepack, Q4KMatricesTakeTheX16LayoutUnlessDisabled) {
  auto packed = load(true), plain = load(false);
  ASSERT_TRUE(packed && plain);
  int n_x16 = 0;
  const auto a = matrices(*packed), b = matrices(*plain);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]->layout, kernels::Layout::kRowMajor);
    const bool want = level_reads_layouts() && a[i]->type == DType::kQ4_K &&
                      kernels::can_repack_q4_K_x16(a[i]->n_rows, a[i]->n_cols);
    EXPECT_EQ(a[i]->layout == kernels::Layout::kQ4Kx16, want) << "matrix " << i;
    n_x16 += want ? 1 : 0;
  }
  if (level_reads_layouts()) {
    EXPECT_GT(n_x16, 5);
  }
}

TEST(ModelRepack, BlockTypesTakeTheX8AndX16LayoutsWhereRead) {
  // Taken where the default kernels read them (AVX-512, dotprod, i8mm; Q8_0 x16 on AVX-512 only);
  // EDGEREASON_REPACK=q4_K keeps them off, =x8 sends Q4_1, Q8_0 and Q6_K to x8 instead of x16.
  const bool avx512 = level_reads_layouts();
  for (const char* fixture : {"tiny-llama-q4_1.gguf", "tiny-llama-q8_0.gguf", "tiny-llama-q6_k.gguf", "tiny-qwen2-q4_k.gguf"}) {
    auto packed = load(nullptr, fixture), q4k_only = load("q4_K", fixture), x8 = load("x8", fixture);
    ASSERT_TRUE(packed && q4k_only && x8);
    int n_new = 0;
    const auto a = matrices(*packed), b = matrices(*q4k_only), c = matrices(*x8);
    for (size_t i = 0; i < a.size(); ++i) {
      const kernels::Matrix& m = *a[i];
      const bool q41 = avx512 && m.type == DType::kQ4_1 && kernels::can_repack_q4_1_x16(m.n_rows, m.n_cols);
      const bool q80 = kernels::default_isa() == kernels::Isa::kAvx512 && m.type == DType::kQ8_0 && kernels::can_repack_q8_0_x16(m.n_rows, m.n_cols);
      const bool q6k = kernels::default_isa() == kernels::Isa::kAvx512 && m.type == DType::kQ6_K && kernels::can_repack_q6_K_x16(m.n_rows, m.n_cols);
      const bool x8_ok = avx512 && kernels::can_repack_x8(m.type, m.n_rows, m.n_cols);
      EXPECT_EQ(m.layout == kernels::Layout::kQ4_1x16, q41) << fixture << " matrix " << i;
      EXPECT_EQ(m.layout == kernels::Layout::kQ8_0x16, q80) << fixture << " matrix " << i;
      EXPECT_EQ(m.layout == kernels::Layout::kQ6Kx16, q6k) << fixture << " matrix " << i;
      EXPECT_EQ(m.layout == kernels::Layout::kX8, x8_ok && !q41 && !q80 && !q6k) << fixture << " matrix " << i;
      EXPECT_EQ(c[i]->layout == kernels::Layout::kX8, x8_ok) << fixture << " matrix " << i;
      EXPECT_NE(b[i]->layout, kernels::Layout::kX8) << fixture << " matrix " << i;
      EXPECT_NE(b[i]->layout, kernels::Layout::kQ4_1x16) << fixture << " matrix " << i;
      EXPECT_NE(b[i]->layout, kernels::Layout::kQ8_0x16) << fixture << " matrix " << i;
      EXPECT_NE(b[i]->layout, kernels::Layout::kQ6Kx16) << fixture << " matrix " << i;
      n_new += q41 || q80 || q6k || x8_ok ? 1 : 0;
    }
    if (avx512 && std::strcmp(fixture, "tiny-qwen2-q4_k.gguf") != 0) {
      EXPECT_GT(n_new, 5) << fixture;
    }
  }
}

TEST(ModelRepack, X8AndX16LogitsAreBitIdenticalAtEveryIsa) {
  for (const char* fixture : {"tiny-llama-q4_1.gguf", "tiny-llama-q8_0.gguf", "tiny-llama-q6_k.gguf"}) {
    auto plain = load("0", fixture);
    ASSERT_TRUE(plain);
    for (const char* mode : {static_cast<const char*>(nullptr), "x8"}) {
      auto packed = load(mode, fixture);
      ASSERT_TRUE(packed);
      for (kernels::Isa isa : kernels::supported_isas()) {
        const std::vector<float> x = run(*packed, isa), y = run(*plain, isa);
        ASSERT_EQ(x.size(), y.size());
        EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0)
            << fixture << " mode " << (mode ? mode : "default") << " " << kernels::isa_name(isa);
      }
    }
  }
}

TEST(ModelRepack, LogitsAreBitIdenticalAtEveryIsa) {
  auto packed = load(true), plain = load(false);
  ASSERT_TRUE(packed && plain);
  for (kernels::Isa isa : kernels::supported_isas()) {
    const std::vector<float> x = run(*packed, isa), y = run(*plain, isa);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << kernels::isa_name(isa);
  }
}

}  // namespace
}  // namespace er::model
