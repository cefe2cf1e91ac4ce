// BatchHub: slots' entries run as one shared eval, and the shared decoder hears idle() after a
// pass that others share (their threads sample next; its helper threads must not spin).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "engine/batch_hub.h"

namespace er::engine {
namespace {

// Counts evals, entries and idle() hints; every logits row is zeros.
class CountingDecoder final : public Decoder {
 public:
  explicit CountingDecoder(int n_seq) : n_seq_(n_seq), logits_(static_cast<size_t>(n_seq) * 4, 0.0f) {}
  int64_t n_ctx() const override { return 64; }
  int n_seq() const override { return n_seq_; }
  int64_t max_batch() const override { return 16; }
  int32_t n_vocab() const override { return 4; }
  bool is_eog(TokenId) const override { return false; }
  Status eval(std::span<const model::BatchEntry> batch) override {
    ++evals;
    entries += static_cast<int64_t>(batch.size());
    return Status::ok();
  }
  const float* logits(int64_t row) const override { return logits_.data() + row * 4; }
  void clear(int) override {}
  void fork(int, int, int64_t) override {}
  void idle() override { ++idles; }

  std::atomic<int64_t> evals{0}, entries{0}, idles{0};

 private:
  int n_seq_;
  std::vector<float> logits_;
};

TEST(BatchHub, SharedPassesHintIdleOnlyWhenShared) {
  CountingDecoder shared(4);
  BatchHub hub(shared, 2, 2, 4);
  const model::BatchEntry e{.token = 1, .pos = 0, .seq = 0, .want_logits = true};

  // One slot alone: its passes are its own; no hint.
  hub.attach(0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hub.slot(0).eval(std::span(&e, 1)).is_ok());
  hub.detach(0);
  EXPECT_EQ(shared.evals.load(), 3);
  EXPECT_EQ(shared.idles.load(), 0);

  // Two slots: each of their steps is one shared pass of both entries, then the hint.
  hub.attach(0);
  hub.attach(1);
  auto run = [&](int s) {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(hub.slot(s).eval(std::span(&e, 1)).is_ok());
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  hub.detach(0);
  hub.detach(1);
  EXPECT_EQ(shared.evals.load(), 3 + 5);
  EXPECT_EQ(shared.entries.load(), 3 + 10);
  EXPECT_EQ(shared.idles.load(), 5);
}

}  // namespace
}  // namespace er::engine
