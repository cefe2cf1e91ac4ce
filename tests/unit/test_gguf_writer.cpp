// Exact tests of the GGUF writer: byte layout, padding, byte-exact round trips, atomic writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "fuzz/gguf_bytes.h"
#include "gguf/gguf.h"
#include "support/test_support.h"

namespace er::gguf {
namespace {

using test::GgufBytes;
namespace id = test::gguf_id;

std::vector<uint8_t> f32_bytes(std::initializer_list<float> xs) {
  std::vector<uint8_t> out(xs.size() * 4);
  std::memcpy(out.data(), xs.begin(), out.size());
  return out;
}

TEST(GgufWriter, ExactLayout) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("llama.block_count", Value::u32(2));
  w.set("tokenizer.ggml.scores", Value::array(ValueType::kFloat32, {Value::f32(-1.0f), Value::f32(0.5f)}));
  ASSERT_TRUE(w.add_tensor("a", DType::kF32, {3}, f32_bytes({1, 2, 3})).is_ok());
  ASSERT_TRUE(w.add_tensor("b", DType::kF16, {2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}).is_ok());
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();

  GgufBytes e;
  e.header(3, 2, 3)
      .key("general.architecture", id::kString).str("llama")
      .key("llama.block_count", id::kU32).u32(2)
      .array_key("tokenizer.ggml.scores", id::kF32, 2).f32(-1.0f).f32(0.5f)
      .tensor_info("a", {3}, id::kTensorF32, 0)
      .tensor_info("b", {2, 2}, id::kTensorF16, 32)  // a's 12 bytes padded to 32
      .pad(32)
      .f32(1).f32(2).f32(3).pad(32)
      .u8(1).u8(2).u8(3).u8(4).u8(5).u8(6).u8(7).u8(8).pad(32);  // the last tensor is padded too
  EXPECT_EQ(*bytes, e.bytes());
}

TEST(GgufWriter, EveryValueTypeExactBytes) {
  Writer w(2);
  w.set("u8", Value::u8(0xfe));
  w.set("i8", Value::i8(-2));
  w.set("u16", Value::u16(0xbeef));
  w.set("i16", Value::i16(-300));
  w.set("u32", Value::u32(0xdeadbeef));
  w.set("i32", Value::i32(-70000));
  w.set("f32", Value::f32(3.25f));
  w.set("bool", Value::boolean(true));
  w.set("str", Value::string("s"));
  w.set("u64", Value::u64(0x0123456789abcdefull));
  w.set("i64", Value::i64(-5));
  w.set("f64", Value::f64(-0.5));
  w.set("nest", Value::array(ValueType::kArray, {Value::array(ValueType::kBool, {Value::boolean(false)}),
                                                  Value::string_array({"q"})}));
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  GgufBytes e;
  e.header(2, 0, 13)
      .key("u8", id::kU8).u8(0xfe)
      .key("i8", id::kI8).i8(-2)
      .key("u16", id::kU16).u16(0xbeef)
      .key("i16", id::kI16).i16(-300)
      .key("u32", id::kU32).u32(0xdeadbeef)
      .key("i32", id::kI32).i32(-70000)
      .key("f32", id::kF32).f32(3.25f)
      .key("bool", id::kBool).u8(1)
      .key("str", id::kString).str("s")
      .key("u64", id::kU64).u64(0x0123456789abcdefull)
      .key("i64", id::kI64).i64(-5)
      .key("f64", id::kF64).f64(-0.5)
      .array_key("nest", id::kArray, 2)
      .u32(id::kBool).u64(1).u8(0)
      .u32(id::kString).u64(1).str("q")
      .pad(32);  // the data section starts aligned even without tensors (as llama.cpp writes it)
  EXPECT_EQ(*bytes, e.bytes());
}

TEST(GgufWriter, AlignmentFromMetadata) {
  Writer w;
  w.set("general.alignment", Value::u32(64));
  ASSERT_TRUE(w.add_tensor("a", DType::kQ8_0, {32}, std::vector<uint8_t>(34, 7)).is_ok());
  ASSERT_TRUE(w.add_tensor("b", DType::kI8, {1}, {9}).is_ok());
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto f = File::parse(*bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensors()[1].offset, 64u);
  EXPECT_EQ(bytes->size(), f->data_offset() + 128);
  EXPECT_EQ(f->tensor("b")->data[0], 9);
  // Padding is zeros.
  for (size_t i = f->data_offset() + 34; i < f->data_offset() + 64; ++i) EXPECT_EQ((*bytes)[i], 0) << i;
}

TEST(GgufWriter, RejectsBadAlignmentKey) {
  Writer w;
  w.set("general.alignment", Value::u64(32));
  EXPECT_EQ(w.serialize().status().message(), "metadata key 'general.alignment' is a uint64, expected a uint32");
  w.set("general.alignment", Value::u32(48));
  EXPECT_EQ(w.serialize().status().message(),
            "metadata key 'general.alignment': 48 is not a non-zero power of two");
  w.set("general.alignment", Value::u32(0));
  EXPECT_EQ(w.serialize().status().code(), StatusCode::kInvalidInput);
}

TEST(GgufWriter, RejectsBadVersionEmptyKeyAndDeepNesting) {
  EXPECT_EQ(Writer(1).serialize().status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(Writer(4).serialize().status().code(), StatusCode::kInvalidInput);
  Writer w;
  w.set("", Value::u8(1));
  EXPECT_EQ(w.serialize().status().code(), StatusCode::kInvalidInput);
  Writer d;
  Value v = Value::array(ValueType::kUint8, {});
  for (int i = 0; i < 8; ++i) v = Value::array(ValueType::kArray, {v});  // 9 levels
  d.set("deep", v);
  const Status s = d.serialize().status();
  EXPECT_NE(s.message().find("'deep'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("8 levels"), std::string::npos) << s.message();
}

TEST(GgufWriter, AddTensorValidates) {
  Writer w;
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {2}, {1, 2, 3}).message(),
            "tensor 't': 3 bytes of data given, its type and dims need 8");
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {}, {}).message(), "tensor 't': n_dims 0 is outside 1..4");
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {1, 1, 1, 1, 1}, {0, 0, 0, 0}).message(),
            "tensor 't': n_dims 5 is outside 1..4");
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {4, 0}, {}).message(), "tensor 't': dimension 1 is 0 (each must be >= 1)");
  EXPECT_EQ(w.add_tensor("t", DType::kQ4_0, {16}, std::vector<uint8_t>(9)).message(),
            "tensor 't': row length dims[0] = 16 is not a multiple of the q4_0 block size 32");
  EXPECT_EQ(w.add_tensor("t", static_cast<DType>(4), {1}, {0}).message(), "tensor 't': unknown tensor type id 4");
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {1ull << 32, 1ull << 32}, {}).message(),
            "tensor 't': element count overflows a signed 64-bit integer");
  ASSERT_TRUE(w.add_tensor("t", DType::kF32, {1}, {0, 0, 0, 0}).is_ok());
  EXPECT_EQ(w.add_tensor("t", DType::kF32, {1}, {0, 0, 0, 0}).message(), "tensor 't': added twice");
}

// A writer holding every value type, nested arrays and tensors of several types.
Writer rich_writer(uint32_t version) {
  Writer w(version);
  w.set("general.architecture", Value::string("llama"));
  w.set("general.alignment", Value::u32(64));
  w.set("a.u8", Value::u8(1));
  w.set("a.i8", Value::i8(-1));
  w.set("a.u16", Value::u16(2));
  w.set("a.i16", Value::i16(-2));
  w.set("a.u32", Value::u32(3));
  w.set("a.i32", Value::i32(-3));
  w.set("a.u64", Value::u64(4));
  w.set("a.i64", Value::i64(-4));
  w.set("a.f32", Value::f32(std::numeric_limits<float>::quiet_NaN()));
  w.set("a.f64", Value::f64(-std::numeric_limits<double>::infinity()));
  w.set("a.bool", Value::boolean(false));
  w.set("a.tokens", Value::string_array({"<s>", "", "\xe2\x96\x81the"}));
  w.set("a.nested", Value::array(ValueType::kArray, {Value::array(ValueType::kInt64, {Value::i64(7)}),
                                                      Value::array(ValueType::kArray, {})}));
  std::vector<uint8_t> q4k(144 * 2);
  for (size_t i = 0; i < q4k.size(); ++i) q4k[i] = static_cast<uint8_t>(i * 7);
  EXPECT_TRUE(w.add_tensor("token_embd.weight", DType::kQ4_K, {256, 2}, q4k).is_ok());
  EXPECT_TRUE(w.add_tensor("output_norm.weight", DType::kF32, {5}, std::vector<uint8_t>(20, 0x3f)).is_ok());
  EXPECT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::kQ4_1, {64, 1, 1, 3}, std::vector<uint8_t>(120, 5)).is_ok());
  return w;
}

TEST(GgufWriter, RoundTripIsByteExact) {
  for (uint32_t version : {2u, 3u}) {
    auto first = rich_writer(version).serialize();
    ASSERT_TRUE(first.is_ok()) << first.status().message();
    auto f = File::parse(*first);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    EXPECT_EQ(f->version(), version);
    auto second = Writer::from_file(*f).serialize();
    ASSERT_TRUE(second.is_ok()) << second.status().message();
    EXPECT_EQ(*first, *second);
    // The values themselves survived, exact types included.
    const Metadata& m = f->metadata();
    EXPECT_EQ(m.find("a.i16")->type(), ValueType::kInt16);
    EXPECT_TRUE(std::isnan(*m.get_double("a.f32")));
    EXPECT_EQ(*m.get_string_array("a.tokens"), (std::vector<std::string>{"<s>", "", "\xe2\x96\x81the"}));
    EXPECT_EQ(m.find("a.nested")->to_display(), "[[7], []]");
    EXPECT_EQ(f->tensor("blk.0.attn_q.weight")->data[119], 5);
    EXPECT_EQ(f->tensor("token_embd.weight")->data[287], static_cast<uint8_t>(287 * 7));
  }
}

TEST(GgufWriter, RoundTripKeepsFloatBitsExactly) {
  // A signalling NaN with a payload, negative zero and a subnormal survive read + write unchanged.
  GgufBytes b;
  b.header(3, 0, 4)
      .key("snan", id::kF32).u32(0x7f800001u)
      .key("nzero", id::kF32).u32(0x80000000u)
      .key("sub", id::kF64).u64(1)
      .array_key("arr", id::kF64, 1).u64(0x7ff4000000000001ull)
      .pad(32);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto out = Writer::from_file(*f).serialize();
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(*out, b.bytes());
}

TEST(GgufWriter, FromFileRelaysOutNonCanonicalOffsets) {
  // Tensors stored out of order with a gap: the writer lays them out canonically in info order.
  GgufBytes b;
  b.header(3, 2, 0).tensor_info("x", {8}, id::kTensorF32, 64).tensor_info("y", {8}, id::kTensorF32, 0);
  b.pad(32).fill(32, 2).zeros(32).fill(32, 1);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto out = Writer::from_file(*f).serialize();
  ASSERT_TRUE(out.is_ok());
  auto g = File::parse(*out);
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_EQ(g->find_tensor("x")->offset, 0u);
  EXPECT_EQ(g->find_tensor("y")->offset, 32u);
  EXPECT_EQ(g->tensor("x")->data[0], 1);
  EXPECT_EQ(g->tensor("y")->data[31], 2);
  EXPECT_EQ(out->size(), g->data_offset() + 64);
}

TEST(GgufWriter, WriteFileIsAtomicAndLeavesNoTemporary) {
  test::TempDir dir;
  const std::string path = (dir / "out.gguf").string();
  test::write_text(path, "old contents");
  const Writer w = rich_writer(3);
  ASSERT_TRUE(w.write_file(path).is_ok());
  EXPECT_EQ(test::read_bytes(path), *w.serialize());
  size_t n_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++n_files;
    EXPECT_EQ(e.path().filename(), "out.gguf");
  }
  EXPECT_EQ(n_files, 1u);
  auto f = File::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->tensors().size(), 3u);
}

TEST(GgufWriter, WriteFileFailureNamesThePath) {
  test::TempDir dir;
  const std::string path = (dir / "no-such-dir" / "out.gguf").string();
  const Status s = Writer().write_file(path);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  // Renaming onto a directory fails after the temporary was written: it must be cleaned up.
  const std::string dir_path = (dir / "taken").string();
  std::filesystem::create_directory(dir_path);
  std::filesystem::create_directory(dir / "taken" / "child");
  EXPECT_FALSE(Writer().write_file(dir_path).is_ok());
  size_t n_files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++n_files;
  EXPECT_EQ(n_files, 1u);  // only "taken"
}

TEST(GgufWriter, RealModelSmolLM2ReserializesByteForByte) {
  ER_REQUIRE_MODEL(path, "smollm2");
  auto f = File::open(path.string());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto out = Writer::from_file(*f).serialize();
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), f->file_size());
  const std::span<const uint8_t> original = f->bytes();
  if (std::memcmp(out->data(), original.data(), out->size()) != 0) {
    size_t first_diff = 0;
    while ((*out)[first_diff] == original[first_diff]) ++first_diff;
    FAIL() << "re-serialized file differs, first at byte " << first_diff;
  }
}

}  // namespace
}  // namespace er::gguf
