// The GGUF reader on bad input: a one-line Status naming file, key/tensor and byte, never a crash.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "fuzz/gguf_bytes.h"
#include "gguf/gguf.h"
#include "support/test_support.h"

namespace er::gguf {
namespace {

using test::GgufBytes;
namespace id = test::gguf_id;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t k2To63 = uint64_t{1} << 63;

// Parses a copy of `bytes` holding exactly those bytes (so that ASan sees any read past the end) and
// returns the error message; fails the test if parsing succeeds or the code is not kInvalidInput.
std::string parse_error(std::span<const uint8_t> bytes, const std::string& name = "x.gguf") {
  const std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  auto f = File::parse(copy, name);
  if (f.is_ok()) {
    ADD_FAILURE() << "parsed successfully";
    return "";
  }
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidInput) << f.status().message();
  const std::string m = f.status().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << "message is not one line: " << m;
  EXPECT_EQ(m.rfind("'" + name + "': ", 0), 0u) << "message does not start with the file name: " << m;
  return m;
}
std::string parse_error(const GgufBytes& b) { return parse_error(b.span()); }

// A small valid file: 3 keys, 2 tensors whose data ends exactly at the end of the file.
struct Small {
  GgufBytes b;
  size_t q_offset_field = 0;  // byte position of the first tensor's offset field
  size_t n_offset_field = 0;  // ... and of the second's
  size_t data_offset = 0;
};

Small small_file() {
  Small s;
  GgufBytes& b = s.b;
  b.header(3, 2, 3)
      .key("general.architecture", id::kString).str("llama")
      .array_key("tokenizer.ggml.tokens", id::kString, 2).str("a").str("bc")
      .key("general.alignment", id::kU32).u32(32);
  b.str("blk.3.attn_q.weight").u32(2).u64(32).u64(2).u32(id::kTensorQ8_0);
  s.q_offset_field = b.size();
  b.u64(0);
  b.str("output_norm.weight").u32(1).u64(8).u32(id::kTensorF32);
  s.n_offset_field = b.size();
  b.u64(96);
  b.pad(32);
  s.data_offset = b.size();
  b.fill(68, 0x11).pad(32).fill(32, 0x22);
  return s;
}

TEST(GgufErrors, SmallFixtureIsValid) {
  const Small s = small_file();
  auto f = File::parse(s.b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->data_offset(), s.data_offset);
  EXPECT_EQ(f->file_size(), s.data_offset + 128);
}

TEST(GgufErrors, EveryTruncationIsAnError) {
  const Small s = small_file();
  const std::vector<uint8_t>& all = s.b.bytes();
  for (size_t len = 0; len < all.size(); ++len) {
    const std::string m = parse_error(std::span<const uint8_t>(all.data(), len));
    EXPECT_NE(m.find("at byte "), std::string::npos) << "length " << len << ": " << m;
  }
}

TEST(GgufErrors, MissingFileDirectoryAndNonGguf) {
  test::TempDir dir;
  const std::string missing = (dir / "missing.gguf").string();
  const Status a = File::open(missing).status();
  EXPECT_EQ(a.code(), StatusCode::kNotFound);
  EXPECT_NE(a.message().find(missing), std::string::npos) << a.message();

  const Status d = File::open(dir.path().string()).status();
  EXPECT_EQ(d.code(), StatusCode::kInvalidInput);
  EXPECT_NE(d.message().find("directory"), std::string::npos) << d.message();

  const std::string text = (dir / "notes.txt").string();
  test::write_text(text, "hello, world\n");
  const Status t = File::open(text).status();
  EXPECT_EQ(t.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(t.message(), "'" + text + "': at byte 0: not a GGUF file (starts with 'hell', expected 'GGUF')");

  const std::string empty = (dir / "empty.gguf").string();
  test::write_text(empty, "");
  EXPECT_EQ(File::open(empty).status().message(),
            "'" + empty + "': at byte 0: the file is empty (0 bytes), not a GGUF file");
}

TEST(GgufErrors, BadMagic) {
  GgufBytes b;
  b.raw("GGML").u32(3).u64(0).u64(0);
  EXPECT_EQ(parse_error(b), "'x.gguf': at byte 0: not a GGUF file (starts with 'GGML', expected 'GGUF')");
  GgufBytes c;
  c.u8(0).u8(0x1f);
  EXPECT_EQ(parse_error(c), "'x.gguf': at byte 0: not a GGUF file (starts with '\\x00\\x1f', expected 'GGUF')");
}

TEST(GgufErrors, BadVersion) {
  auto with_version = [](uint32_t v) {
    GgufBytes b;
    b.header(v, 0, 0);
    return b;
  };
  EXPECT_EQ(parse_error(with_version(1)),
            "'x.gguf': at byte 4: header: GGUF version 1 is not supported (only versions 2 and 3)");
  EXPECT_EQ(parse_error(with_version(0)),
            "'x.gguf': at byte 4: header: unsupported GGUF version 0 (only versions 2 and 3)");
  EXPECT_EQ(parse_error(with_version(4)),
            "'x.gguf': at byte 4: header: unsupported GGUF version 4 (only versions 2 and 3)");
  EXPECT_EQ(parse_error(with_version(0x03000000)),
            "'x.gguf': at byte 4: header: GGUF version 50331648 looks byte-swapped: big-endian GGUF files are not "
            "supported");
}

TEST(GgufErrors, AbsurdHeaderCounts) {
  for (uint64_t n : {k2To63, kU64Max, uint64_t{2}}) {
    GgufBytes kv;
    kv.header(3, 0, n).key("a", id::kU8).u8(1);  // 14 bytes: room for one entry, not two
    EXPECT_EQ(parse_error(kv), "'x.gguf': at byte 16: header: metadata count " + std::to_string(n) +
                                   " exceeds what the 14 bytes left can hold (14 bytes per entry at least)");
    GgufBytes t;
    t.header(3, n, 0).zeros(40);
    EXPECT_EQ(parse_error(t), "'x.gguf': at byte 8: header: tensor count " + std::to_string(n) +
                                  " exceeds what the 40 bytes left can hold (32 bytes per tensor at least)");
  }
}

TEST(GgufErrors, AbsurdStringLengths) {
  for (uint64_t n : {k2To63, kU64Max}) {
    GgufBytes key;
    key.header(3, 0, 1).u64(n).raw("abcdef");
    EXPECT_EQ(parse_error(key), "'x.gguf': at byte 24: metadata entry 0 of 1: key length " + std::to_string(n) +
                                    " exceeds the 6 bytes left");
    GgufBytes val;
    val.header(3, 0, 1).key("general.name", id::kString).u64(n).raw("abc");
    EXPECT_EQ(parse_error(val), "'x.gguf': at byte 48: metadata key 'general.name': string length " +
                                    std::to_string(n) + " exceeds the 3 bytes left");
    GgufBytes name;
    name.header(3, 1, 0).u64(n).zeros(30);
    EXPECT_EQ(parse_error(name), "'x.gguf': at byte 24: tensor 0 of 1: tensor name length " + std::to_string(n) +
                                     " exceeds the 30 bytes left");
  }
}

TEST(GgufErrors, AbsurdArrayCounts) {
  GgufBytes b;
  b.header(3, 0, 1).key("tokenizer.ggml.tokens", id::kArray).u32(id::kString);
  const size_t at = b.size();
  b.u64(kU64Max).zeros(100);
  EXPECT_EQ(parse_error(b), "'x.gguf': at byte " + std::to_string(at) +
                                ": metadata key 'tokenizer.ggml.tokens': array count 18446744073709551615 exceeds "
                                "the 100 bytes left (string items take at least 8 bytes)");
  // 13 strings need at least 104 bytes: refused before allocating, though each count alone is small.
  GgufBytes c;
  c.header(3, 0, 1).array_key("k", id::kString, 13).zeros(100);
  EXPECT_NE(parse_error(c).find("array count 13 exceeds the 100 bytes left"), std::string::npos);
  GgufBytes d;
  d.header(3, 0, 1).array_key("k", id::kU8, k2To63).zeros(10);
  EXPECT_NE(parse_error(d).find("'k': array count 9223372036854775808 exceeds the 10 bytes left"), std::string::npos);
  GgufBytes e;
  e.header(3, 0, 1).array_key("k", id::kArray, uint64_t{1} << 60).zeros(64);
  EXPECT_NE(parse_error(e).find("array items take at least 12 bytes"), std::string::npos);
}

TEST(GgufErrors, TooManyMetadataValues) {
  // 2^24 + 1 one-byte items fit in the file, but would cost ~100 bytes each in memory: refused up front.
  const uint64_t n = (uint64_t{1} << 24) + 1;
  GgufBytes b;
  b.header(3, 0, 1).array_key("k", id::kU8, n).zeros(n);
  const std::string m = parse_error(b);
  EXPECT_NE(m.find("at byte 41: metadata key 'k': array count 16777217 brings the metadata past 16777216 values"),
            std::string::npos) << m;
}

TEST(GgufErrors, UnknownValueTypes) {
  GgufBytes b;
  b.header(3, 0, 1).key("general.foo", 13).u32(0);
  EXPECT_EQ(parse_error(b), "'x.gguf': at byte 43: metadata key 'general.foo': unknown value type 13");
  GgufBytes c;
  c.header(3, 0, 1).array_key("a", 99, 1).u32(0);
  EXPECT_EQ(parse_error(c), "'x.gguf': at byte 37: metadata key 'a': unknown array element type 99");
}

TEST(GgufErrors, BadScalarsKeysAndAlignment) {
  GgufBytes b;
  b.header(3, 0, 1).key("flag", id::kBool).u8(2);
  EXPECT_EQ(parse_error(b), "'x.gguf': at byte 40: metadata key 'flag': bool value 2 is neither 0 nor 1");
  GgufBytes e;
  e.header(3, 0, 1).key("", id::kU8).u8(0).zeros(1);  // 14 bytes: enough for the count check
  EXPECT_EQ(parse_error(e), "'x.gguf': at byte 24: metadata entry 0 of 1: empty key");
  GgufBytes d;
  d.header(3, 0, 2).key("dup", id::kU8).u8(0).key("dup", id::kU8).u8(1);
  EXPECT_EQ(parse_error(d), "'x.gguf': at byte 40: metadata key 'dup': duplicate key");
  GgufBytes w;
  w.header(3, 0, 1).key("general.alignment", id::kU64).u64(32);
  EXPECT_EQ(parse_error(w),
            "'x.gguf': at byte 49: metadata key 'general.alignment': is a uint64, expected a uint32");
  for (uint32_t a : {0u, 48u}) {
    GgufBytes p;
    p.header(3, 0, 1).key("general.alignment", id::kU32).u32(a);
    EXPECT_EQ(parse_error(p), "'x.gguf': at byte 53: metadata key 'general.alignment': alignment " +
                                  std::to_string(a) + " is not a non-zero power of two");
  }
  GgufBytes ctl;  // a key with a newline stays on one line in the message
  ctl.header(3, 0, 1).key("bad\nkey", 77).u32(0);
  EXPECT_EQ(parse_error(ctl), "'x.gguf': at byte 39: metadata key 'bad\\x0akey': unknown value type 77");
}

TEST(GgufErrors, ArrayNestingBomb) {
  GgufBytes b;
  b.header(3, 0, 1).key("bomb", id::kArray);
  for (int i = 0; i < 100000; ++i) b.u32(id::kArray).u64(1);
  const std::string m = parse_error(b);
  EXPECT_NE(m.find("metadata key 'bomb': arrays nested more than 8 levels deep"), std::string::npos) << m;
  EXPECT_NE(m.find("at byte 136:"), std::string::npos) << m;  // the 9th array: 40 + 8 x 12
}

// A file with one tensor info (name "t") whose fields are given raw; data follows at 32.
GgufBytes one_tensor(std::initializer_list<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  GgufBytes b;
  b.header(3, 1, 0).tensor_info("t", dims, type, offset).pad(32).zeros(data_bytes);
  return b;
}

TEST(GgufErrors, BadTensorShapes) {
  EXPECT_EQ(parse_error(one_tensor({}, id::kTensorF32, 0, 32)),
            "'x.gguf': at byte 33: tensor 't': n_dims 0 is outside 1..4");
  EXPECT_EQ(parse_error(one_tensor({1, 1, 1, 1, 1}, id::kTensorF32, 0, 32)),
            "'x.gguf': at byte 33: tensor 't': n_dims 5 is outside 1..4");
  EXPECT_EQ(parse_error(one_tensor({4, 0}, id::kTensorF32, 0, 32)),
            "'x.gguf': at byte 45: tensor 't': dimension 1 is 0 (each must be >= 1)");
  EXPECT_EQ(parse_error(one_tensor({uint64_t{1} << 32, uint64_t{1} << 31}, id::kTensorF32, 0, 32)),
            "'x.gguf': at byte 45: tensor 't': dimension 1 (2147483648) makes the element count overflow a signed "
            "64-bit integer");
  EXPECT_EQ(parse_error(one_tensor({kU64Max, kU64Max, kU64Max}, id::kTensorF32, 0, 32)),
            "'x.gguf': at byte 37: tensor 't': dimension 0 (18446744073709551615) makes the element count overflow "
            "a signed 64-bit integer");
  EXPECT_EQ(parse_error(one_tensor({48}, id::kTensorQ4_0, 0, 64)),
            "'x.gguf': at byte 45: tensor 't': row length dims[0] = 48 is not a multiple of the q4_0 block size 32");
  // n_elements fits int64 but the byte size of f64 elements would not fit uint64: still refused.
  EXPECT_EQ(parse_error(one_tensor({uint64_t{1} << 62}, 28 /* f64 */, 0, 32)),
            "'x.gguf': at byte 45: tensor 't': byte size overflows a 64-bit integer");
}

TEST(GgufErrors, UnknownTensorType) {
  EXPECT_EQ(parse_error(one_tensor({8}, 1000, 0, 32)), "'x.gguf': at byte 45: tensor 't': unknown tensor type id 1000");
  EXPECT_EQ(parse_error(one_tensor({8}, 4, 0, 32)), "'x.gguf': at byte 45: tensor 't': unknown tensor type id 4");
}

TEST(GgufErrors, TensorDataPastEndOfFile) {
  Small s = small_file();
  s.b.patch<uint64_t>(s.q_offset_field, 4096);
  const std::string size = std::to_string(s.b.size());
  const std::string begin = std::to_string(s.data_offset + 4096);
  const std::string end = std::to_string(s.data_offset + 4096 + 68);
  EXPECT_EQ(parse_error(s.b), "'x.gguf': at byte " + std::to_string(s.q_offset_field) +
                                  ": tensor 'blk.3.attn_q.weight': data [" + begin + ", " + end +
                                  ") past end of file (" + size + " bytes)");
  // An offset so large that offset + size overflows.
  Small o = small_file();
  o.b.patch<uint64_t>(o.n_offset_field, kU64Max - 31);
  const std::string m = parse_error(o.b);
  EXPECT_NE(m.find("tensor 'output_norm.weight': data offset 18446744073709551584 + size 32 overflows"),
            std::string::npos) << m;
}

TEST(GgufErrors, MisalignedTensorOffset) {
  Small s = small_file();
  s.b.patch<uint64_t>(s.n_offset_field, 80);
  EXPECT_EQ(parse_error(s.b), "'x.gguf': at byte " + std::to_string(s.n_offset_field) +
                                  ": tensor 'output_norm.weight': data offset 80 is not a multiple of the alignment 32");
}

TEST(GgufErrors, OverlappingTensors) {
  Small s = small_file();
  s.b.patch<uint64_t>(s.n_offset_field, 64);  // q8_0 data is [0, 68)
  const std::string d = std::to_string(s.data_offset);
  EXPECT_EQ(parse_error(s.b), "'x.gguf': at byte " + std::to_string(s.n_offset_field) +
                                  ": tensor 'output_norm.weight': data [" + std::to_string(s.data_offset + 64) + ", " +
                                  std::to_string(s.data_offset + 96) + ") overlaps tensor 'blk.3.attn_q.weight' [" +
                                  d + ", " + std::to_string(s.data_offset + 68) + ")");
}

TEST(GgufErrors, DuplicateTensorNames) {
  GgufBytes b;
  b.header(3, 2, 0).tensor_info("t", {8}, id::kTensorF32, 0).tensor_info("t", {8}, id::kTensorF32, 32);
  b.pad(32).zeros(64);
  EXPECT_EQ(parse_error(b), "'x.gguf': at byte 57: tensor 't': duplicate tensor name");
}

}  // namespace
}  // namespace er::gguf
