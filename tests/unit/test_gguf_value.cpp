// Exact tests of GGUF metadata values: factories, range-checked conversions, display, typed look-ups.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "gguf/gguf.h"

namespace er::gguf {
namespace {

TEST(GgufValue, FactoriesSetTypeAndRawBits) {
  EXPECT_EQ(Value::u8(200).type(), ValueType::kUint8);
  EXPECT_EQ(Value::u8(200).raw_u64(), 200u);
  EXPECT_EQ(Value::i8(-5).type(), ValueType::kInt8);
  EXPECT_EQ(Value::i8(-5).raw_i64(), -5);
  EXPECT_EQ(Value::u16(65535).raw_u64(), 65535u);
  EXPECT_EQ(Value::i16(-32768).raw_i64(), -32768);
  EXPECT_EQ(Value::u32(4000000000u).raw_u64(), 4000000000u);
  EXPECT_EQ(Value::i32(-7).raw_i64(), -7);
  EXPECT_EQ(Value::u64(UINT64_MAX).raw_u64(), UINT64_MAX);
  EXPECT_EQ(Value::i64(INT64_MIN).raw_i64(), INT64_MIN);
  EXPECT_EQ(Value::f32(1.5f).type(), ValueType::kFloat32);
  EXPECT_EQ(Value::f32(1.5f).raw_f64(), 1.5);
  EXPECT_EQ(Value::f64(-2.25).raw_f64(), -2.25);
  EXPECT_EQ(Value::f32(1.0f).raw_u64(), 0x3f800000u);  // floats keep their IEEE bits for the writer
  EXPECT_EQ(Value::f64(1.0).raw_u64(), 0x3ff0000000000000u);
  EXPECT_EQ(Value::boolean(true).type(), ValueType::kBool);
  EXPECT_EQ(Value::string("hi").type(), ValueType::kString);
  ASSERT_NE(Value::string("hi").str(), nullptr);
  EXPECT_EQ(*Value::string("hi").str(), "hi");
  EXPECT_EQ(Value::u8(1).str(), nullptr);
  const Value a = Value::string_array({"a", "b", "c"});
  EXPECT_EQ(a.type(), ValueType::kArray);
  EXPECT_EQ(a.elem_type(), ValueType::kString);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(*a.items()[2].str(), "c");
}

TEST(GgufValue, IntegerConversionsCheckRange) {
  EXPECT_EQ(Value::u64(static_cast<uint64_t>(INT64_MAX)).to_int(), INT64_MAX);
  EXPECT_EQ(Value::u64(static_cast<uint64_t>(INT64_MAX) + 1).to_int(), std::nullopt);
  EXPECT_EQ(Value::i64(-1).to_uint(), std::nullopt);
  EXPECT_EQ(Value::i32(-1).to_int(), -1);
  EXPECT_EQ(Value::i8(0).to_uint(), 0u);
  EXPECT_EQ(Value::u16(7).to_uint(), 7u);
  EXPECT_EQ(Value::u64(UINT64_MAX).to_uint(), UINT64_MAX);
  // Not integers: floats, bools, strings, arrays.
  EXPECT_EQ(Value::f32(1.0f).to_int(), std::nullopt);
  EXPECT_EQ(Value::boolean(true).to_int(), std::nullopt);
  EXPECT_EQ(Value::string("1").to_uint(), std::nullopt);
  EXPECT_FALSE(Value::boolean(true).is_integer());
  EXPECT_TRUE(Value::i16(1).is_integer());
  EXPECT_TRUE(Value::f64(1).is_float());
}

TEST(GgufValue, DoubleAndBoolConversions) {
  EXPECT_EQ(Value::f32(0.1f).to_double(), static_cast<double>(0.1f));
  EXPECT_EQ(Value::i32(-3).to_double(), -3.0);
  EXPECT_EQ(Value::u64(10).to_double(), 10.0);
  EXPECT_EQ(Value::string("x").to_double(), std::nullopt);
  EXPECT_EQ(Value::boolean(false).to_bool(), false);
  EXPECT_EQ(Value::boolean(true).to_bool(), true);
  EXPECT_EQ(Value::u8(1).to_bool(), std::nullopt);
}

TEST(GgufValue, Display) {
  EXPECT_EQ(Value::u32(42).to_display(), "42");
  EXPECT_EQ(Value::i64(-9).to_display(), "-9");
  EXPECT_EQ(Value::f32(0.1f).to_display(), "0.1");  // shortest text that reads back as the same float
  EXPECT_EQ(Value::f64(1e-6).to_display(), "1e-06");
  EXPECT_EQ(Value::boolean(true).to_display(), "true");
  EXPECT_EQ(Value::string("a\"b\n").to_display(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Value::string(std::string("\x01", 1)).to_display(), "\"\\x01\"");
  EXPECT_EQ(Value::string_array({"x", "y"}).to_display(), "[\"x\", \"y\"]");
  std::vector<Value> many;
  for (int i = 0; i < 10; ++i) many.push_back(Value::i32(i));
  const Value arr = Value::array(ValueType::kInt32, many);
  EXPECT_EQ(arr.to_display(3), "[0, 1, 2, ...] (10 items)");
  EXPECT_EQ(arr.to_display(0), "[...] (10 items)");
  EXPECT_EQ(Value::array(ValueType::kUint8, {}).to_display(), "[]");
  const Value nested = Value::array(ValueType::kArray, {Value::array(ValueType::kInt8, {Value::i8(1)}),
                                                        Value::array(ValueType::kString, {})});
  EXPECT_EQ(nested.to_display(), "[[1], []]");
}

TEST(GgufValue, DisplayShortensLongStrings) {
  const std::string long_text(1000, 'z');
  const std::string shown = Value::string(long_text).to_display();
  EXPECT_LT(shown.size(), 200u);
  EXPECT_NE(shown.find("(1000 bytes)"), std::string::npos);
  // A cut never splits a UTF-8 character: 'é' is two bytes; 159 'a's put one across the cut.
  std::string utf8 = std::string(159, 'a');
  for (int i = 0; i < 20; ++i) utf8 += "\xc3\xa9";
  const std::string cut = Value::string(utf8).to_display();
  EXPECT_NE(cut.find(std::string(159, 'a') + "\"..."), std::string::npos) << cut;
}

TEST(GgufMetadata, SetReplacesInPlaceAndKeepsOrder) {
  Metadata m;
  m.set("a", Value::u32(1));
  m.set("b", Value::u32(2));
  m.set("a", Value::string("one"));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.entries()[0].first, "a");
  EXPECT_EQ(m.entries()[0].second.type(), ValueType::kString);
  EXPECT_EQ(m.entries()[1].first, "b");
  EXPECT_TRUE(m.contains("b"));
  EXPECT_FALSE(m.contains("c"));
  EXPECT_EQ(m.find("c"), nullptr);
}

TEST(GgufMetadata, TypedGettersReturnValues) {
  Metadata m;
  m.set("n", Value::u32(24));
  m.set("neg", Value::i32(-2));
  m.set("f", Value::f32(0.5f));
  m.set("b", Value::boolean(true));
  m.set("s", Value::string("llama"));
  m.set("toks", Value::string_array({"<s>", "</s>"}));
  m.set("ids", Value::array(ValueType::kInt32, {Value::i32(3), Value::i32(-4)}));
  m.set("fs", Value::array(ValueType::kFloat32, {Value::f32(0.25f), Value::f32(2.0f)}));
  m.set("us", Value::array(ValueType::kUint8, {Value::u8(9)}));
  EXPECT_EQ(*m.get_int("n"), 24);
  EXPECT_EQ(*m.get_uint("n"), 24u);
  EXPECT_EQ(*m.get_int("neg"), -2);
  EXPECT_EQ(*m.get_double("f"), 0.5);
  EXPECT_EQ(*m.get_double("n"), 24.0);  // integers read as numbers
  EXPECT_EQ(*m.get_bool("b"), true);
  EXPECT_EQ(*m.get_string("s"), "llama");
  EXPECT_EQ(*m.get_string_array("toks"), (std::vector<std::string>{"<s>", "</s>"}));
  EXPECT_EQ(*m.get_int_array("ids"), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(*m.get_int_array("us"), (std::vector<int64_t>{9}));
  EXPECT_EQ(*m.get_double_array("fs"), (std::vector<double>{0.25, 2.0}));
  EXPECT_EQ(*m.get_double_array("ids"), (std::vector<double>{3.0, -4.0}));
  EXPECT_EQ(*m.get_array_size("toks"), 2u);
  EXPECT_EQ(*m.get_int_or("missing", 7), 7);
  EXPECT_EQ(*m.get_int_or("n", 7), 24);
  EXPECT_EQ(*m.get_double_or("missing", 1.5), 1.5);
  EXPECT_EQ(*m.get_string_or("missing", "x"), "x");
  EXPECT_EQ(*m.get_string_or("s", "x"), "llama");
}

TEST(GgufMetadata, TypedGetterErrorsNameKeyAndActualType) {
  Metadata m;
  m.set("llama.block_count", Value::string("thirty"));
  m.set("big", Value::u64(UINT64_MAX));
  m.set("neg", Value::i64(-1));
  m.set("ids", Value::array(ValueType::kInt32, {Value::i32(1)}));
  m.set("big_ids", Value::array(ValueType::kUint64, {Value::u64(1), Value::u64(UINT64_MAX)}));
  m.set("f", Value::f32(1.0f));

  const Status s = m.get_int("llama.block_count").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(s.message(), "metadata key 'llama.block_count' is a string, expected an integer");

  const Status absent = m.get_int("llama.context_length").status();
  EXPECT_EQ(absent.code(), StatusCode::kNotFound);
  EXPECT_EQ(absent.message(), "metadata key 'llama.context_length' not found");

  EXPECT_EQ(m.get_int("big").status().message(),
            "metadata key 'big' value 18446744073709551615 does not fit a signed 64-bit integer");
  EXPECT_EQ(m.get_uint("neg").status().message(),
            "metadata key 'neg' is negative (-1), expected a non-negative integer");
  EXPECT_EQ(m.get_string("ids").status().message(), "metadata key 'ids' is an array of int32, expected a string");
  EXPECT_EQ(m.get_string_array("ids").status().message(),
            "metadata key 'ids' is an array of int32, expected an array of string");
  EXPECT_EQ(m.get_int_array("big_ids").status().message(),
            "metadata key 'big_ids' item 1 value 18446744073709551615 does not fit a signed 64-bit integer");
  EXPECT_EQ(m.get_int_array("f").status().message(), "metadata key 'f' is a float32, expected an array of integers");
  EXPECT_EQ(m.get_bool("f").status().message(), "metadata key 'f' is a float32, expected a bool");
  EXPECT_EQ(m.get_double("ids").status().message(), "metadata key 'ids' is an array of int32, expected a number");
  EXPECT_EQ(m.get_array_size("f").status().message(), "metadata key 'f' is a float32, expected an array");
  EXPECT_EQ(m.get_double_array("llama.block_count").status().code(), StatusCode::kInvalidInput);
  // A present key of the wrong type is still an error with a fallback.
  EXPECT_EQ(m.get_int_or("llama.block_count", 3).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(m.get_string_or("f", "x").status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(m.get_double_or("ids", 1.0).status().code(), StatusCode::kInvalidInput);
}

TEST(GgufValue, TypeNames) {
  EXPECT_EQ(value_type_name(ValueType::kUint8), "uint8");
  EXPECT_EQ(value_type_name(ValueType::kFloat64), "float64");
  EXPECT_EQ(value_type_name(ValueType::kArray), "array");
  EXPECT_EQ(value_type_name(static_cast<ValueType>(99)), "unknown");
}

}  // namespace
}  // namespace er::gguf
