// TestRng: a fixed-seed splitmix64 source of floats for kernel tests (same sequence everywhere).
#pragma once

#include <cstdint>
#include <vector>

namespace er::test {

class TestRng {
 public:
  explicit TestRng(uint64_t seed) : s_(seed) {}
  float uniform(float lo, float hi) {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<float>(z >> 40) / 16777216.0f;
  }
  std::vector<float> floats(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }

 private:
  uint64_t s_;
};

}  // namespace er::test
