// Open-addressing hash tables for the tokenizer's hot look-ups: token text → id, and BPE pair →
// merge. Built once, read-only afterwards (safe to share between threads).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace er::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xFF51AFD7ED558CCDull);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  if (i < s.size()) std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0x165667B19E3779F9ull;
  h ^= h >> 32;
  return h;
}

inline size_t table_capacity(size_t n) {  // power of two, load factor <= 1/2
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
}

// Token text → id over a vector of texts owned elsewhere. Each slot holds the upper hash bits and
// id + 1 (0 = empty), so a miss rarely touches the texts.
class TextIndex {
 public:
  // REQUIRES: texts are distinct and outlive the index.
  void build(const std::vector<std::string>& texts) {
    texts_ = &texts;
    slots_.assign(table_capacity(texts.size()), 0);
    mask_ = slots_.size() - 1;
    for (size_t id = 0; id < texts.size(); ++id) {
      const uint64_t h = hash_bytes(texts[id]);
      for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == 0) {
          slots_[i] = (h & 0xFFFFFFFF00000000ull) | static_cast<uint32_t>(id + 1);
          break;
        }
      }
    }
  }
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(s);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return -1;
      if ((slot ^ h) >> 32 == 0) {
        const auto id = static_cast<int32_t>(static_cast<uint32_t>(slot) - 1);
        if ((*texts_)[static_cast<size_t>(id)] == s) return id;
      }
    }
  }

 private:
  const std::vector<std::string>* texts_ = nullptr;
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
};

// (left, right) symbol pair → (rank, merged symbol); the first insertion of a pair wins.
class PairTable {
 public:
  struct Value {
    int32_t rank;
    int32_t merged;
  };
  void reserve(size_t n) {
    entries_.assign(table_capacity(n), Entry{kEmpty, {0, 0}});
    mask_ = entries_.size() - 1;
  }
  // REQUIRES: reserve() was called with at least the number of insertions.
  void insert_if_absent(uint64_t key, Value v) {
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      if (entries_[i].key == key) return;
      if (entries_[i].key == kEmpty) {
        entries_[i] = {key, v};
        ++size_;
        return;
      }
    }
  }
  const Value* find(uint64_t key) const {
    if (entries_.empty()) return nullptr;
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      if (entries_[i].key == key) return &entries_[i].value;
      if (entries_[i].key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // symbol ids are < 2^31, so no key is all ones
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  struct Entry {
    uint64_t key;
    Value value;
  };
  std::vector<Entry> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace er::tokenizer
