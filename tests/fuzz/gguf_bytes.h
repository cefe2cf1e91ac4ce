// A tiny little-endian byte builder for hand-made GGUF buffers (unit tests and fuzz seeds).
//
// It uses raw type ids on purpose, so that tests do not borrow expectations from the code under test.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace er::test {

// GGUF value type ids and a few GGML tensor type ids, as the format defines them.
namespace gguf_id {
inline constexpr uint32_t kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
                          kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12;
inline constexpr uint32_t kTensorF32 = 0, kTensorF16 = 1, kTensorQ4_0 = 2, kTensorQ4_1 = 3, kTensorQ8_0 = 8,
                          kTensorQ4_K = 12, kTensorQ6_K = 14;
}  // namespace gguf_id

class GgufBytes {
 public:
  template <typename T>
  GgufBytes& put(T v) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    bytes_.insert(bytes_.end(), raw, raw + sizeof(T));
    return *this;
  }
  GgufBytes& u8(uint8_t v) { return put(v); }
  GgufBytes& i8(int8_t v) { return put(v); }
  GgufBytes& u16(uint16_t v) { return put(v); }
  GgufBytes& i16(int16_t v) { return put(v); }
  GgufBytes& u32(uint32_t v) { return put(v); }
  GgufBytes& i32(int32_t v) { return put(v); }
  GgufBytes& u64(uint64_t v) { return put(v); }
  GgufBytes& i64(int64_t v) { return put(v); }
  GgufBytes& f32(float v) { return put(v); }
  GgufBytes& f64(double v) { return put(v); }
  GgufBytes& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& raw(std::span<const uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  GgufBytes& fill(size_t n, uint8_t v) {
    bytes_.insert(bytes_.end(), n, v);
    return *this;
  }
  // A GGUF string: u64 length + bytes.
  GgufBytes& str(std::string_view s) { return u64(s.size()).raw(s); }

  // magic, version, n_tensors, n_kv
  GgufBytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  // A key and its value type id; the value follows.
  GgufBytes& key(std::string_view k, uint32_t type) { return str(k).u32(type); }
  // An array's element type and count under a key; the items follow.
  GgufBytes& array_key(std::string_view k, uint32_t elem, uint64_t count) {
    return key(k, gguf_id::kArray).u32(elem).u64(count);
  }
  GgufBytes& tensor_info(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t type,
                         uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  // Zero padding up to a multiple of `align` bytes from the start.
  GgufBytes& pad(size_t align) {
    while (bytes_.size() % align != 0) bytes_.push_back(0);
    return *this;
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::span<const uint8_t> span() const { return bytes_; }
  // Overwrites bytes at `at` (for corrupting a valid buffer in place).
  template <typename T>
  void patch(size_t at, T v) {
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace er::test
