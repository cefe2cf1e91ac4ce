// Runs the GGUF fuzz target's checks on seeds, their truncations and random mutations in any build.
#include <gtest/gtest.h>

#include <random>

#include "fuzz/fuzz_gguf.cpp"  // NOLINT(bugprone-suspicious-include): the target's body, reused
#include "fuzz/gguf_seeds.h"

namespace er::fuzz {
namespace {

int run(const std::vector<uint8_t>& bytes) { return check_gguf_input(bytes.data(), bytes.size()); }

TEST(GgufFuzzReplay, SeedsParseAndRoundTrip) {
  const auto seeds = make_gguf_seeds();
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& [name, bytes] : seeds) {
    auto f = gguf::File::parse(bytes, name);
    EXPECT_EQ(f.is_ok(), name.rfind("truncated-", 0) != 0) << name << ": " << f.status().message();
    EXPECT_EQ(run(bytes), 0) << name;
  }
}

TEST(GgufFuzzReplay, EveryTruncationOfEverySeed) {
  for (const auto& [name, bytes] : make_gguf_seeds()) {
    for (size_t len = 0; len <= bytes.size(); ++len) {
      EXPECT_EQ(run(std::vector<uint8_t>(bytes.begin(), bytes.begin() + len)), 0) << name << " " << len;
    }
  }
}

TEST(GgufFuzzReplay, RandomMutations) {
  std::mt19937_64 rng(20240601);
  const uint64_t interesting[] = {0, 1, 4, 8, 0x7f, 0x80, 0xff, 0xffffffffull, uint64_t{1} << 32,
                                  uint64_t{1} << 63, ~uint64_t{0}, 9 /* kArray */, 8 /* kString */};
  size_t parsed_ok = 0;
  const auto seeds = make_gguf_seeds();
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> bytes = seeds[rng() % seeds.size()].second;
    if (bytes.empty()) continue;
    const int n_mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < n_mutations; ++m) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0: bytes[at] = static_cast<uint8_t>(rng()); break;
        case 1: bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        default: {  // an interesting little-endian u64 (or its low bytes) over whatever was there
          const uint64_t v = interesting[rng() % std::size(interesting)];
          for (size_t k = 0; k < 8 && at + k < bytes.size(); ++k) bytes[at + k] = static_cast<uint8_t>(v >> (8 * k));
        }
      }
    }
    ASSERT_EQ(run(bytes), 0);
    parsed_ok += gguf::File::parse(bytes).is_ok();
  }
  EXPECT_GT(parsed_ok, 100u);  // the mutations exercise the accepting paths too, not only errors
}

}  // namespace
}  // namespace er::fuzz
