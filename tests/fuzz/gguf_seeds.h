// Small GGUF files covering the format, plus truncations: the fuzz seed corpus and replay input.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "fuzz/gguf_bytes.h"
#include "gguf/gguf.h"

namespace er::fuzz {

using Seed = std::pair<std::string, std::vector<uint8_t>>;  // (name, bytes)

namespace seeds_detail {

inline std::vector<uint8_t> pattern(size_t n, uint8_t salt) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 31 + salt);
  return out;
}

inline void add(std::vector<Seed>& seeds, const std::string& name, const gguf::Writer& w) {
  auto bytes = w.serialize();
  ER_CHECK(bytes.is_ok(), "seed " + name + ": " + bytes.status().message());
  seeds.emplace_back(name, std::move(bytes).value());
}

inline void add_tensor(gguf::Writer& w, const std::string& name, DType type, std::vector<uint64_t> dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  const auto bytes = dtype_row_bytes(type, n);
  ER_CHECK(bytes.has_value(), "seed tensor " + name);
  const Status s = w.add_tensor(name, type, std::move(dims), pattern(static_cast<size_t>(*bytes), 7));
  ER_CHECK(s.is_ok(), s.message());
}

}  // namespace seeds_detail

inline std::vector<Seed> make_gguf_seeds() {
  using gguf::Value;
  using gguf::ValueType;
  using gguf::Writer;
  using seeds_detail::add;
  using seeds_detail::add_tensor;
  std::vector<Seed> seeds;

  add(seeds, "empty-v3", Writer(3));

  Writer types(2);
  types.set("u8", Value::u8(200));
  types.set("i8", Value::i8(-100));
  types.set("u16", Value::u16(60000));
  types.set("i16", Value::i16(-30000));
  types.set("u32", Value::u32(4000000000u));
  types.set("i32", Value::i32(-2000000000));
  types.set("f32", Value::f32(0.1f));
  types.set("bool", Value::boolean(true));
  types.set("str", Value::string("h\xc3\xa9llo\n"));
  types.set("u64", Value::u64(UINT64_MAX));
  types.set("i64", Value::i64(INT64_MIN));
  types.set("f64", Value::f64(-1e-300));
  types.set("nested", Value::array(ValueType::kArray, {Value::array(ValueType::kInt32, {Value::i32(1), Value::i32(2)}),
                                                       Value::string_array({"x"}),
                                                       Value::array(ValueType::kUint8, {})}));
  add(seeds, "every-type-v2", types);

  Writer llama(3);
  llama.set("general.architecture", Value::string("llama"));
  llama.set("general.name", Value::string("seed"));
  llama.set("llama.block_count", Value::u32(1));
  llama.set("llama.context_length", Value::u32(64));
  llama.set("llama.embedding_length", Value::u32(32));
  llama.set("llama.attention.head_count", Value::u32(2));
  llama.set("llama.rope.freq_base", Value::f32(10000.0f));
  llama.set("tokenizer.ggml.model", Value::string("gpt2"));
  llama.set("tokenizer.ggml.tokens", Value::string_array({"<s>", "</s>", "a", "b", "\xc4\xa0the"}));
  llama.set("tokenizer.ggml.scores", Value::array(ValueType::kFloat32, {Value::f32(0), Value::f32(-1), Value::f32(-2),
                                                                        Value::f32(-3), Value::f32(-4)}));
  llama.set("tokenizer.ggml.token_type", Value::array(ValueType::kInt32, {Value::i32(3), Value::i32(3), Value::i32(1),
                                                                          Value::i32(1), Value::i32(1)}));
  llama.set("tokenizer.ggml.bos_token_id", Value::u32(0));
  llama.set("tokenizer.chat_template", Value::string("{% for m in messages %}{{ m.content }}{% endfor %}"));
  add_tensor(llama, "token_embd.weight", DType::kQ8_0, {32, 5});
  add_tensor(llama, "blk.0.attn_norm.weight", DType::kF32, {32});
  add_tensor(llama, "blk.0.attn_q.weight", DType::kQ4_0, {32, 32});
  add_tensor(llama, "blk.0.attn_k.weight", DType::kQ4_1, {32, 16});
  add_tensor(llama, "blk.0.ffn_down.weight", DType::kQ4_K, {256, 2});
  add_tensor(llama, "blk.0.ffn_up.weight", DType::kQ6_K, {256, 1});
  add_tensor(llama, "output_norm.weight", DType::kF16, {32});
  add(seeds, "llama-like-v3", llama);

  for (uint32_t align : {1u, 64u}) {
    Writer w(3);
    w.set("general.alignment", Value::u32(align));
    add_tensor(w, "a", DType::kBF16, {3});
    add_tensor(w, "b", DType::kI32, {2, 2});
    add_tensor(w, "c", DType::kF64, {1, 1, 1, 2});
    add(seeds, "align-" + std::to_string(align), w);
  }

  // Hand-built: tensors stored out of order with a gap, and arrays nested the full 8 levels.
  test::GgufBytes b;
  b.header(3, 2, 1).key("deep", test::gguf_id::kArray);
  for (int i = 0; i < 7; ++i) b.u32(test::gguf_id::kArray).u64(1);
  b.u32(test::gguf_id::kU8).u64(1).u8(7);
  b.tensor_info("x", {8}, test::gguf_id::kTensorF32, 64).tensor_info("y", {8}, test::gguf_id::kTensorF32, 0);
  b.pad(32).fill(32, 2).zeros(32).fill(32, 1);
  seeds.emplace_back("hand-unordered", b.bytes());

  // Truncations of the richest file: inside the metadata, inside the tensor infos, inside the data.
  const std::vector<uint8_t> full = seeds[2].second;
  for (size_t len : {size_t{20}, full.size() / 4, full.size() / 2, full.size() - 1}) {
    seeds.emplace_back("truncated-" + std::to_string(len), std::vector<uint8_t>(full.begin(), full.begin() + len));
  }
  return seeds;
}

}  // namespace er::fuzz
