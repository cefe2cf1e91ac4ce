// Exact tests of the GGUF reader on hand-built bytes, plus the real SmolLM2 file when installed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "fuzz/gguf_bytes.h"
#include "gguf/gguf.h"
#include "support/test_support.h"

namespace er::gguf {
namespace {

using test::GgufBytes;
namespace id = test::gguf_id;

// One key of every type, in this order, with extreme values.
GgufBytes every_type(uint32_t version) {
  GgufBytes b;
  b.header(version, 0, 13)
      .key("t.u8", id::kU8).u8(255)
      .key("t.i8", id::kI8).i8(-128)
      .key("t.u16", id::kU16).u16(65535)
      .key("t.i16", id::kI16).i16(-32768)
      .key("t.u32", id::kU32).u32(4294967295u)
      .key("t.i32", id::kI32).i32(std::numeric_limits<int32_t>::min())
      .key("t.f32", id::kF32).f32(-0.375f)
      .key("t.bool", id::kBool).u8(1)
      .key("t.str", id::kString).str("h\xc3\xa9llo")
      .key("t.u64", id::kU64).u64(std::numeric_limits<uint64_t>::max())
      .key("t.i64", id::kI64).i64(std::numeric_limits<int64_t>::min())
      .key("t.f64", id::kF64).f64(1e300)
      .array_key("t.arr", id::kI16, 3).i16(1).i16(-2).i16(3);
  return b;
}

TEST(GgufReader, ReadsEveryValueType) {
  const GgufBytes b = every_type(3);
  auto f = File::parse(b.span(), "every.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->name(), "every.gguf");
  EXPECT_EQ(f->file_size(), b.size());
  EXPECT_TRUE(f->tensors().empty());
  const Metadata& m = f->metadata();
  ASSERT_EQ(m.size(), 13u);
  const char* order[] = {"t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32", "t.f32",
                         "t.bool", "t.str", "t.u64", "t.i64", "t.f64", "t.arr"};
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(m.entries()[i].first, order[i]);

  EXPECT_EQ(m.find("t.u8")->type(), ValueType::kUint8);
  EXPECT_EQ(*m.get_uint("t.u8"), 255u);
  EXPECT_EQ(m.find("t.i8")->type(), ValueType::kInt8);
  EXPECT_EQ(*m.get_int("t.i8"), -128);
  EXPECT_EQ(m.find("t.u16")->type(), ValueType::kUint16);
  EXPECT_EQ(*m.get_uint("t.u16"), 65535u);
  EXPECT_EQ(m.find("t.i16")->type(), ValueType::kInt16);
  EXPECT_EQ(*m.get_int("t.i16"), -32768);
  EXPECT_EQ(m.find("t.u32")->type(), ValueType::kUint32);
  EXPECT_EQ(*m.get_uint("t.u32"), 4294967295u);
  EXPECT_EQ(m.find("t.i32")->type(), ValueType::kInt32);
  EXPECT_EQ(*m.get_int("t.i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(m.find("t.f32")->type(), ValueType::kFloat32);
  EXPECT_EQ(*m.get_double("t.f32"), -0.375);
  EXPECT_EQ(m.find("t.bool")->type(), ValueType::kBool);
  EXPECT_EQ(*m.get_bool("t.bool"), true);
  EXPECT_EQ(m.find("t.str")->type(), ValueType::kString);
  EXPECT_EQ(*m.get_string("t.str"), "h\xc3\xa9llo");
  EXPECT_EQ(m.find("t.u64")->type(), ValueType::kUint64);
  EXPECT_EQ(*m.get_uint("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(m.find("t.i64")->type(), ValueType::kInt64);
  EXPECT_EQ(*m.get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(m.find("t.f64")->type(), ValueType::kFloat64);
  EXPECT_EQ(*m.get_double("t.f64"), 1e300);
  EXPECT_EQ(m.find("t.arr")->elem_type(), ValueType::kInt16);
  EXPECT_EQ(*m.get_int_array("t.arr"), (std::vector<int64_t>{1, -2, 3}));
}

TEST(GgufReader, Version2ReadsLikeVersion3) {
  const GgufBytes v2 = every_type(2);
  const GgufBytes v3 = every_type(3);
  auto f2 = File::parse(v2.span());
  auto f3 = File::parse(v3.span());
  ASSERT_TRUE(f2.is_ok()) << f2.status().message();
  ASSERT_TRUE(f3.is_ok()) << f3.status().message();
  EXPECT_EQ(f2->version(), 2u);
  EXPECT_EQ(f3->version(), 3u);
  ASSERT_EQ(f2->metadata().size(), f3->metadata().size());
  for (size_t i = 0; i < f2->metadata().size(); ++i) {
    EXPECT_EQ(f2->metadata().entries()[i].second.to_display(), f3->metadata().entries()[i].second.to_display());
  }
}

TEST(GgufReader, BoolFalseAndEmptyString) {
  GgufBytes b;
  b.header(3, 0, 2).key("no", id::kBool).u8(0).key("empty", id::kString).str("");
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(*f->metadata().get_bool("no"), false);
  EXPECT_EQ(*f->metadata().get_string("empty"), "");
}

TEST(GgufReader, NestedArrays) {
  GgufBytes b;
  b.header(3, 0, 3);
  // [[1, 2], ["x"], []] : an array of arrays whose element types differ.
  b.array_key("nested", id::kArray, 3);
  b.u32(id::kI32).u64(2).i32(1).i32(2);
  b.u32(id::kString).u64(1).str("x");
  b.u32(id::kU8).u64(0);
  b.array_key("empty", id::kF64, 0);
  // [[[true]]]
  b.array_key("deep3", id::kArray, 1).u32(id::kArray).u64(1).u32(id::kBool).u64(1).u8(1);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  const Value* n = f->metadata().find("nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->elem_type(), ValueType::kArray);
  ASSERT_EQ(n->size(), 3u);
  EXPECT_EQ(n->items()[0].elem_type(), ValueType::kInt32);
  EXPECT_EQ(n->items()[0].items()[1].to_int(), 2);
  EXPECT_EQ(n->items()[1].elem_type(), ValueType::kString);
  EXPECT_EQ(*n->items()[1].items()[0].str(), "x");
  EXPECT_EQ(n->items()[2].elem_type(), ValueType::kUint8);
  EXPECT_EQ(n->items()[2].size(), 0u);
  EXPECT_EQ(n->to_display(), "[[1, 2], [\"x\"], []]");
  EXPECT_EQ(*f->metadata().get_array_size("empty"), 0u);
  EXPECT_EQ(f->metadata().find("deep3")->to_display(), "[[[true]]]");
}

// `levels` arrays nested under key "deep", the innermost holding one u8.
GgufBytes nested_levels(int levels) {
  GgufBytes b;
  b.header(3, 0, 1).key("deep", id::kArray);
  for (int i = 0; i < levels - 1; ++i) b.u32(id::kArray).u64(1);
  b.u32(id::kU8).u64(1).u8(7);
  return b;
}

TEST(GgufReader, EightLevelsOfNestingAreAccepted) {
  const GgufBytes ok = nested_levels(8);
  auto f = File::parse(ok.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->metadata().find("deep")->to_display(), "[[[[[[[[7]]]]]]]]");
  const GgufBytes too_deep = nested_levels(9);
  auto g = File::parse(too_deep.span(), "deep.gguf");
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("nested more than 8 levels"), std::string::npos) << g.status().message();
}

// Two tensors: w (f32, 4x2) at 0 and q (q8_0, 32) at 32; data section at the default alignment.
struct TwoTensors {
  GgufBytes b;
  size_t header_end = 0;
  size_t data_offset = 0;
};

TwoTensors two_tensors(uint32_t alignment_key /* 0: no key */) {
  TwoTensors t;
  GgufBytes& b = t.b;
  const uint64_t align = alignment_key != 0 ? alignment_key : 32;
  const uint64_t q_offset = (32 + align - 1) / align * align;
  b.header(3, 2, alignment_key != 0 ? 2 : 1).key("general.architecture", id::kString).str("test");
  if (alignment_key != 0) b.key("general.alignment", id::kU32).u32(alignment_key);
  b.tensor_info("w", {4, 2}, id::kTensorF32, 0).tensor_info("q", {32}, id::kTensorQ8_0, q_offset);
  t.header_end = b.size();
  b.pad(align);
  t.data_offset = b.size();
  for (int i = 0; i < 8; ++i) b.f32(static_cast<float>(i) * 0.5f);
  b.pad(align);
  b.fill(34, 0xAB);
  b.pad(align);
  return t;
}

TEST(GgufReader, TensorInfosAndViews) {
  const TwoTensors t = two_tensors(0);
  auto f = File::parse(t.b.span(), "two.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset(), t.data_offset);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_GT(f->data_offset(), t.header_end);
  ASSERT_EQ(f->tensors().size(), 2u);

  const TensorInfo& w = f->tensors()[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(w.type, DType::kF32);
  EXPECT_EQ(w.offset, 0u);
  EXPECT_EQ(w.n_elements, 8u);
  EXPECT_EQ(w.n_bytes, 32u);
  const TensorInfo& q = f->tensors()[1];
  EXPECT_EQ(q.type, DType::kQ8_0);
  EXPECT_EQ(q.offset, 32u);
  EXPECT_EQ(q.n_elements, 32u);
  EXPECT_EQ(q.n_bytes, 34u);

  auto wv = f->tensor("w");
  ASSERT_TRUE(wv.is_ok());
  EXPECT_EQ(wv->data, t.b.bytes().data() + t.data_offset);
  EXPECT_EQ(wv->type(), DType::kF32);
  EXPECT_EQ(wv->n_bytes(), 32u);
  float x[8];
  std::memcpy(x, wv->data, sizeof x);
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_EQ(x[7], 3.5f);
  const TensorView qv = f->view(q);
  EXPECT_EQ(qv.data[0], 0xAB);
  EXPECT_EQ(qv.data[33], 0xAB);
  EXPECT_EQ(qv.dims(), (std::vector<uint64_t>{32}));

  EXPECT_EQ(f->find_tensor("q"), &q);
  EXPECT_EQ(f->find_tensor("nope"), nullptr);
  const Status missing = f->tensor("blk.0.attn_q.weight").status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "'two.gguf': no tensor named 'blk.0.attn_q.weight'");
}

TEST(GgufReader, AlignmentFromMetadata) {
  for (uint32_t align : {1u, 8u, 64u, 256u}) {
    const TwoTensors t = two_tensors(align);
    auto f = File::parse(t.b.span());
    ASSERT_TRUE(f.is_ok()) << align << ": " << f.status().message();
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset(), t.data_offset);
    EXPECT_EQ(f->data_offset() % align, 0u);
    EXPECT_EQ(f->tensors()[1].offset % align, 0u);
    EXPECT_EQ(f->view(f->tensors()[1]).data[0], 0xAB);
  }
}

TEST(GgufReader, TensorOrderNeedNotMatchDataOrderAndGapsAreAllowed) {
  GgufBytes b;
  b.header(3, 2, 0).tensor_info("late", {8}, id::kTensorF32, 64).tensor_info("early", {8}, id::kTensorF32, 0);
  b.pad(32);
  const size_t data = b.size();
  b.fill(32, 1).zeros(32).fill(32, 2);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->data_offset(), data);
  EXPECT_EQ(f->tensor("early")->data[0], 1);
  EXPECT_EQ(f->tensor("late")->data[0], 2);
}

TEST(GgufReader, FileMayEndRightAfterTheLastTensor) {
  // llama.cpp writes padding after the last tensor, but readers (and llama.cpp itself) do not need it.
  GgufBytes b;
  b.header(3, 1, 0).tensor_info("v", {3}, id::kTensorF32, 0).pad(32).fill(12, 9);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->file_size(), f->data_offset() + 12);
}

TEST(GgufReader, NoTensorsNeedsNoDataSection) {
  GgufBytes b;
  b.header(3, 0, 1).key("a", id::kU8).u8(1);  // 37 bytes: no padding after the header
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->data_offset(), 64u);
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufReader, QuantizedShapes) {
  GgufBytes b;
  b.header(3, 3, 0)
      .tensor_info("k", {256, 2}, id::kTensorQ4_K, 0)     // 2 blocks of 144 bytes
      .tensor_info("s", {512}, id::kTensorQ6_K, 288)      // 2 blocks of 210 bytes
      .tensor_info("h", {3, 1, 1, 2}, id::kTensorF16, 736);  // 6 halves, 4 dims
  b.pad(32).zeros(736 + 12);
  auto f = File::parse(b.span());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->find_tensor("k")->n_bytes, 288u);
  EXPECT_EQ(f->find_tensor("s")->n_bytes, 420u);
  EXPECT_EQ(f->find_tensor("h")->n_elements, 6u);
  EXPECT_EQ(f->find_tensor("h")->n_bytes, 12u);
  EXPECT_EQ(f->find_tensor("h")->dims.size(), 4u);
}

TEST(GgufReader, OpenMapsTheFileAndSurvivesMoves) {
  test::TempDir dir;
  const TwoTensors t = two_tensors(0);
  const std::string path = (dir / "two.gguf").string();
  test::write_bytes(path, t.b.bytes());
  auto opened = File::open(path);
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  File f = std::move(opened).value();
  File g = std::move(f);
  EXPECT_EQ(g.name(), path);
  EXPECT_EQ(g.file_size(), t.b.size());
  auto q = g.tensor("q");
  ASSERT_TRUE(q.is_ok());
  EXPECT_EQ(q->data[5], 0xAB);
  EXPECT_EQ(*g.metadata().get_string("general.architecture"), "test");
}

TEST(GgufReader, RealModelSmolLM2) {
  ER_REQUIRE_MODEL(path, "smollm2");
  auto f = File::open(path.string());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(*f->metadata().get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->metadata().get_int("llama.block_count"), 30);
  EXPECT_EQ(*f->metadata().get_int("llama.embedding_length"), 576);
  EXPECT_GT(*f->metadata().get_array_size("tokenizer.ggml.tokens"), 40000u);
  EXPECT_EQ(f->tensors().size(), 272u);  // 30 blocks x 9 tensors + token_embd + output_norm
  uint64_t total = 0;
  for (const TensorInfo& t : f->tensors()) {
    const TensorView v = f->view(t);
    EXPECT_GE(v.data, f->bytes().data() + f->data_offset());
    EXPECT_LE(v.data + t.n_bytes, f->bytes().data() + f->file_size());
    total += t.n_bytes;
  }
  EXPECT_GT(total, 50'000'000u);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, DType::kQ4_1);
}

}  // namespace
}  // namespace er::gguf
