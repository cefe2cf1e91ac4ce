// Load-time Q4_K repacking (kernels/repack.h, Model::load): which matrices take the x16 layout,
// EDGEREASON_REPACK=0, and bit-identical logits with and without it at every ISA level.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/isa.h"
#include "model/forward.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::model {
namespace {

std::unique_ptr<Model> load(bool repack) {
  if (repack) {
    unsetenv("EDGEREASON_REPACK");
  } else {
    setenv("EDGEREASON_REPACK", "0", 1);
  }
  auto m = Model::load((test::fixture_dir() / "tiny-qwen2-q4_k.gguf").string());
  unsetenv("EDGEREASON_REPACK");
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  return m.is_ok() ? std::move(*m) : nullptr;
}

std::vector<const kernels::Matrix*> matrices(const Model& m) {
  const Weights& w = m.weights();
  std::vector<const kernels::Matrix*> v = {&w.token_embd, &w.output};
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

TEST(ModelRepack, Q4KMatricesTakeTheX16LayoutUnlessDisabled) {
  auto packed = load(true), plain = load(false);
  ASSERT_TRUE(packed && plain);
  int n_x16 = 0;
  const auto a = matrices(*packed), b = matrices(*plain);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]->layout, kernels::Layout::kRowMajor);
    const bool want = a[i]->type == DType::kQ4_K && kernels::can_repack_q4_K_x16(a[i]->n_rows, a[i]->n_cols);
    EXPECT_EQ(a[i]->layout == kernels::Layout::kQ4Kx16, want) << "matrix " << i;
    n_x16 += want ? 1 : 0;
  }
  EXPECT_GT(n_x16, 5);
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
