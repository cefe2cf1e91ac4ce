// KvCache sizing: a cache this machine cannot hold is refused as bad input naming the context size,
// before anything is allocated; one that fits is allocated and sized exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "model/hparams.h"
#include "model/kv_cache.h"

namespace er::model {
namespace {

HParams hparams() {
  HParams hp;
  hp.arch = "llama";
  hp.n_layer = 32;
  hp.n_embd = 4096;
  hp.n_head = 32;
  hp.n_head_kv = 8;
  hp.head_dim_k = hp.head_dim_v = 128;
  hp.n_ff = 11008;
  hp.n_vocab = 32000;
  hp.n_ctx_train = 4096;
  return hp;
}

TEST(KvCache, SizeOfACacheThatFits) {
  const HParams hp = hparams();
  auto kv = KvCache::create(hp, 16, 2, DType::kF16);
  ASSERT_TRUE(kv.is_ok()) << kv.status().message();
  // 32 layers x 2 sequences x {K, V} x 8 heads x 16 positions x 128 dims x 2 bytes.
  EXPECT_EQ((*kv)->bytes(), uint64_t{32} * 2 * 2 * 8 * 16 * 128 * 2);
  EXPECT_EQ(*KvCache::bytes_needed(hp, 16, 2, DType::kF16), (*kv)->bytes());
  EXPECT_EQ(*KvCache::bytes_needed(hp, 16, 2, DType::kF32), 2 * (*kv)->bytes());
}

TEST(KvCache, MoreThanThisMachineHoldsIsBadInputNamingTheContext) {
  const uint64_t mem = KvCache::physical_memory_bytes();
  if (mem == 0) GTEST_SKIP() << "physical memory unknown";
  const HParams hp = hparams();  // 128 KiB of f16 KV per position
  const int64_t n_ctx = static_cast<int64_t>(mem / (128 * 1024)) * 2 + 10000000;  // twice the memory at least
  for (const bool create : {false, true}) {
    const Status st = create ? KvCache::create(hp, n_ctx, 1, DType::kF16).status()
                             : KvCache::check_fits(hp, n_ctx, 1, DType::kF16);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kInvalidInput) << st.message();
    EXPECT_NE(st.message().find("a context of " + std::to_string(n_ctx) + " tokens x 1 sequence"), std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("of memory"), std::string::npos) << st.message();
  }
  // The number of sequences multiplies it too.
  const Status st = KvCache::check_fits(hp, 4096, 1 << 20, DType::kF16);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("4096 tokens x 1048576 sequences"), std::string::npos) << st.message();
}

TEST(KvCache, SizesThatOverflowAreBadInput) {
  const Status st = KvCache::create(hparams(), INT64_MAX, 1, DType::kF32).status();
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_NE(st.message().find(std::to_string(INT64_MAX)), std::string::npos) << st.message();
  EXPECT_FALSE(KvCache::create(hparams(), 0, 1, DType::kF16).is_ok());
  EXPECT_FALSE(KvCache::create(hparams(), 16, 0, DType::kF16).is_ok());
}

}  // namespace
}  // namespace er::model
