// Long contexts: an 8192-token context is allocated once, filled by chunked prefill and decoded at its end.
#include <gtest/gtest.h>

#include "engine/generator.h"
#include "model/forward.h"
#include "model/model.h"
#include "support/test_support.h"

namespace er::engine {
namespace {

TEST(LongContext, PrefillAndDecodeAt8192) {
  auto m = model::Model::load((test::fixture_dir() / "tiny-qwen3-f32.gguf").string());
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  // f16 (the default) at the full 8192; f32 at 2048 to keep the sanitizer build quick.
  for (auto [kv, n_ctx] : {std::pair{DType::kF16, int64_t{8192}}, std::pair{DType::kF32, int64_t{2048}}}) {
    model::ContextOptions co;
    co.n_ctx = n_ctx;
    co.max_batch = 512;
    co.kv_type = kv;
    auto ctx = model::Context::create(**m, co);
    ASSERT_TRUE(ctx.is_ok()) << ctx.status().message();
    // n_ctx - 8 prompt tokens cycling through ordinary ids, then 8 generated: the context is full.
    std::vector<TokenId> prompt(static_cast<size_t>(n_ctx - 8));
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<TokenId>(100 + (i * 7919) % 20000);
    GenerateOptions o;
    o.max_new_tokens = 8;
    o.ignore_eos = true;
    o.sampler.temperature = 0.0f;
    Generator g(**ctx);
    auto r = g.generate(prompt, o);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->paths[0].tokens.size(), 8u);
    EXPECT_EQ(r->paths[0].stop, StopReason::kMaxTokens);
    EXPECT_EQ((*ctx)->seq_len(0), n_ctx - 1);  // the last generated token is never fed back
  }
}

}  // namespace
}  // namespace er::engine
