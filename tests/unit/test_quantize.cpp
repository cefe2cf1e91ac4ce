// quantize: llama.cpp's per-tensor type rules on synthetic models, the file pipeline (metadata,
// data equal to the reference quantizers), and failures that must leave no output behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "quantize/quantize.h"
#include "support/test_support.h"

namespace er::quantize {
namespace {

namespace fs = std::filesystem;

struct Spec {
  std::string arch = "llama";
  int n_layer = 12;
  uint64_t n_embd = 256;
  uint64_t n_ff = 512;
  uint64_t n_vocab = 64;
  bool output = false;     // an untied output.weight
  int64_t n_expert = 0;
  DType type = DType::kF32;
};

std::vector<float> pattern(uint64_t n, uint64_t seed) {
  std::vector<float> x(n);
  for (uint64_t i = 0; i < n; ++i) x[i] = std::sin(0.37f * static_cast<float>(i) + static_cast<float>(seed)) * 0.1f;
  return x;
}

// A llama-style model with F32 (or `type`) weights; the tensors deliberately not in llama.cpp's
// order (blocks descending) so that the plan's ordering is tested.
gguf::Writer make_model(const Spec& s) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string(s.arch));
  w.set("general.file_type", gguf::Value::u32(0));
  w.set(s.arch + ".block_count", gguf::Value::u32(static_cast<uint32_t>(s.n_layer)));
  if (s.n_expert > 0) w.set(s.arch + ".expert_count", gguf::Value::u32(static_cast<uint32_t>(s.n_expert)));
  uint64_t seed = 0;
  const auto add = [&](const std::string& name, std::vector<uint64_t> dims, DType t) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    const std::vector<float> x = pattern(n, ++seed);
    std::vector<uint8_t> bytes(*dtype_row_bytes(t, n));
    ASSERT_TRUE(kernels::quantize_row(t, x.data(), bytes.data(), static_cast<int64_t>(n)).is_ok());
    ASSERT_TRUE(w.add_tensor(name, t, std::move(dims), std::move(bytes)).is_ok()) << name;
  };
  add("token_embd.weight", {s.n_embd, s.n_vocab}, s.type);
  for (int i = s.n_layer - 1; i >= 0; --i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", {s.n_embd}, DType::kF32);
    add(b + "attn_q.weight", {s.n_embd, s.n_embd}, s.type);
    add(b + "attn_k.weight", {s.n_embd, s.n_embd / 4}, s.type);
    add(b + "attn_v.weight", {s.n_embd, s.n_embd / 4}, s.type);
    add(b + "attn_output.weight", {s.n_embd, s.n_embd}, s.type);
    add(b + "ffn_norm.weight", {s.n_embd}, DType::kF32);
    add(b + "ffn_gate.weight", {s.n_embd, s.n_ff}, s.type);
    add(b + "ffn_up.weight", {s.n_embd, s.n_ff}, s.type);
    add(b + "ffn_down.weight", {s.n_ff, s.n_embd}, s.type);
  }
  add("output_norm.weight", {s.n_embd}, DType::kF32);
  if (s.output) add("output.weight", {s.n_embd, s.n_vocab}, s.type);
  return w;
}

std::map<std::string, DType> types_of(const std::vector<TensorPlan>& plan) {
  std::map<std::string, DType> m;
  for (const TensorPlan& p : plan) m[p.name] = p.to;
  return m;
}

Result<std::vector<TensorPlan>> plan_for(const Spec& s, std::string_view target, bool pure = false) {
  const gguf::Writer w = make_model(s);
  auto bytes = w.serialize();
  EXPECT_TRUE(bytes.is_ok());
  static std::vector<std::vector<uint8_t>> keep;  // File::parse borrows the bytes
  keep.push_back(std::move(*bytes));
  auto f = gguf::File::parse(keep.back());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  auto t = find_target(target);
  EXPECT_TRUE(t.is_ok());
  return plan(*f, *t, pure);
}

bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(QuantizeTargets, NamesAndFileTypes) {
  EXPECT_EQ(find_target("q4_k_m")->file_type, FileType::kQ4_K_M);
  EXPECT_EQ(find_target("Q8_0")->tensor_type, DType::kQ8_0);
  EXPECT_EQ(find_target("bf16")->file_type, FileType::kBF16);
  EXPECT_TRUE(find_target("Q4_K")->pure_only);
  EXPECT_EQ(static_cast<uint32_t>(find_target("Q4_K")->file_type), 14u);  // llama.cpp's Q4_K_S, as --pure writes it
  const auto bad = find_target("Q3_K_M");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().is_bad_input());
  EXPECT_NE(bad.status().message().find("Q4_K_M"), std::string::npos) << bad.status().message();
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(3), "Q4_1");
  EXPECT_FALSE(file_type_name(4).has_value());
  EXPECT_FALSE(file_type_name(1000).has_value());
}

TEST(QuantizePlan, Q4KMFollowsLlamaCppMix) {
  Spec s;
  const auto p = plan_for(s, "Q4_K_M");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  // llama.cpp's order: tensors outside blocks by name, then blocks in numeric order (blk.10 after blk.9).
  EXPECT_EQ((*p)[0].name, "output_norm.weight");
  EXPECT_EQ((*p)[1].name, "token_embd.weight");
  EXPECT_EQ((*p)[2].name, "blk.0.attn_k.weight");
  EXPECT_EQ(p->back().name, "blk.11.ffn_up.weight");
  const auto t = types_of(*p);
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ6_K);  // tied: quantized as the output
  EXPECT_EQ(t.at("output_norm.weight"), DType::kF32);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const DType more = more_bits(i, s.n_layer) ? DType::kQ6_K : DType::kQ4_K;
    EXPECT_EQ(t.at(b + "attn_v.weight"), more) << i;
    EXPECT_EQ(t.at(b + "ffn_down.weight"), more) << i;
    EXPECT_EQ(t.at(b + "attn_q.weight"), DType::kQ4_K);
    EXPECT_EQ(t.at(b + "attn_k.weight"), DType::kQ4_K);
    EXPECT_EQ(t.at(b + "attn_output.weight"), DType::kQ4_K);
    EXPECT_EQ(t.at(b + "ffn_gate.weight"), DType::kQ4_K);
    EXPECT_EQ(t.at(b + "ffn_up.weight"), DType::kQ4_K);
    EXPECT_EQ(t.at(b + "attn_norm.weight"), DType::kF32);
  }
}

TEST(QuantizePlan, OutputAndTokenEmbedding) {
  Spec s;
  s.output = true;
  auto t = types_of(*plan_for(s, "Q4_0"));
  EXPECT_EQ(t.at("output.weight"), DType::kQ6_K);
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ4_0);  // untied: the file type's own
  EXPECT_EQ(t.at("blk.3.ffn_down.weight"), DType::kQ4_0);
  t = types_of(*plan_for(s, "Q8_0"));
  EXPECT_EQ(t.at("output.weight"), DType::kQ8_0);
  s.output = false;
  t = types_of(*plan_for(s, "Q4_1"));
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ6_K);
}

TEST(QuantizePlan, PureGivesEveryWeightMatrixTheType) {
  Spec s;
  for (const char* target : {"Q4_0", "Q4_K_M", "Q4_K"}) {
    const bool pure = std::string(target) != "Q4_K";
    const auto p = plan_for(s, target, pure);
    ASSERT_TRUE(p.is_ok()) << target;
    const DType want = find_target(target)->tensor_type;
    for (const TensorPlan& tp : *p) {
      const bool matrix = tp.dims.size() > 1;
      EXPECT_EQ(tp.to, matrix ? want : DType::kF32) << target << " " << tp.name;
      EXPECT_EQ(tp.quantize, matrix) << tp.name;
    }
  }
}

TEST(QuantizePlan, FloatTargetsConvertMatricesOnly) {
  Spec s;
  s.type = DType::kQ8_0;
  for (const char* target : {"F16", "BF16", "F32"}) {
    const auto p = plan_for(s, target);
    ASSERT_TRUE(p.is_ok());
    for (const TensorPlan& tp : *p) {
      EXPECT_EQ(tp.to, tp.dims.size() > 1 ? find_target(target)->tensor_type : DType::kF32) << tp.name;
    }
  }
}

TEST(QuantizePlan, RowSizeFallbacks) {
  Spec s;
  s.n_embd = 576;  // SmolLM2's width: a multiple of 32, not of 256
  s.n_ff = 1536;
  const auto t = types_of(*plan_for(s, "Q4_K_M"));
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ8_0);   // output rule: 576 % 256 != 0
  EXPECT_EQ(t.at("blk.1.attn_q.weight"), DType::kQ5_0);  // Q4_K -> Q5_0
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), DType::kQ8_0);  // Q6_K -> Q8_0
  EXPECT_EQ(t.at("blk.1.attn_v.weight"), DType::kQ5_0);
  EXPECT_EQ(t.at("blk.0.ffn_down.weight"), DType::kQ6_K);  // 1536 wide rows
  EXPECT_EQ(t.at("blk.1.ffn_down.weight"), DType::kQ4_K);

  s.n_embd = 48;  // not a multiple of 32: Q4_0 has no fallback
  const auto bad = plan_for(s, "Q4_0");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().is_bad_input());
  EXPECT_NE(bad.status().message().find("no fallback"), std::string::npos) << bad.status().message();
}

TEST(QuantizePlan, RefusesWhatItCannotDo) {
  Spec s;
  s.n_expert = 8;
  auto p = plan_for(s, "Q4_K_M");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(p.status().message().find("experts"), std::string::npos);
  // The 70B rule asks for Q5_K, which we do not write.
  Spec big;
  big.n_layer = 80;
  big.n_embd = 256;
  gguf::Writer w = make_model(big);
  w.set("llama.attention.head_count", gguf::Value::u32(64));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(8));
  auto bytes = w.serialize();
  auto f = gguf::File::parse(*bytes);
  ASSERT_TRUE(f.is_ok());
  p = plan(*f, *find_target("Q4_K_M"), false);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(p.status().message().find("q5_K"), std::string::npos) << p.status().message();
}

// ---- the file pipeline ----

struct Files {
  test::TempDir dir;
  fs::path in = dir / "in.gguf";
  fs::path out = dir / "out.gguf";
};

Options options_for(std::string_view target) {
  Options o;
  o.target = *find_target(target);
  o.n_threads = 2;
  return o;
}

TEST(QuantizeFile, DataEqualsTheReferenceQuantizersAndMetadataIsKept) {
  Files f;
  Spec s;
  s.n_layer = 2;
  gguf::Writer w = make_model(s);
  w.set("general.name", gguf::Value::string("tiny"));
  ASSERT_TRUE(w.write_file(f.in.string()).is_ok());
  int calls = 0;
  Options o = options_for("Q8_0");
  o.progress = [&](const Progress& p) {
    ++calls;
    EXPECT_LE(p.bytes_done, p.bytes_total);
  };
  const auto sum = quantize_file(f.in.string(), f.out.string(), o);
  ASSERT_TRUE(sum.is_ok()) << sum.status().message();
  EXPECT_EQ(calls, static_cast<int>(sum->plan.size()));
  EXPECT_EQ(sum->source_type, "F32");

  auto in = gguf::File::open(f.in.string());
  auto out = gguf::File::open(f.out.string());
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  const gguf::Metadata& md = out->metadata();
  EXPECT_EQ(*md.get_int("general.file_type"), 7);
  EXPECT_EQ(*md.get_int("general.quantization_version"), 2);
  EXPECT_EQ(*md.get_string("general.name"), "tiny");
  EXPECT_EQ(*md.get_string(kKeySourceFile), "in.gguf");
  EXPECT_EQ(*md.get_string(kKeySourceType), "F32");
  EXPECT_EQ(*md.get_string(kKeyTarget), "Q8_0");
  ASSERT_EQ(out->tensors().size(), in->tensors().size());
  for (const gguf::TensorInfo& t : out->tensors()) {
    const gguf::TensorView src = *in->tensor(t.name);
    const gguf::TensorView dst = out->view(t);
    EXPECT_EQ(t.dims, src.dims());
    if (t.dims.size() == 1) {
      EXPECT_EQ(t.type, DType::kF32);
      EXPECT_EQ(0, std::memcmp(src.data, dst.data, src.n_bytes())) << t.name;
      continue;
    }
    EXPECT_EQ(t.type, DType::kQ8_0) << t.name;  // the tied output rule keeps Q8_0 as Q8_0
    std::vector<float> x(t.n_elements);
    kernels::dequantize_row(DType::kF32, src.data, x.data(), static_cast<int64_t>(x.size()));
    std::vector<uint8_t> q(t.n_bytes);
    ASSERT_TRUE(kernels::quantize_row(t.type, x.data(), q.data(), static_cast<int64_t>(x.size())).is_ok());
    EXPECT_EQ(0, std::memcmp(q.data(), dst.data, q.size())) << t.name;
    std::vector<float> y(t.n_elements);
    kernels::dequantize_row(t.type, dst.data, y.data(), static_cast<int64_t>(y.size()));
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], x[i], 1e-3) << t.name << " " << i;
  }
}

TEST(QuantizeFile, RequantizesFromQuantizedSources) {
  Files f;
  Spec s;
  s.n_layer = 2;
  s.type = DType::kQ4_1;
  ASSERT_TRUE(make_model(s).write_file(f.in.string()).is_ok());
  const auto sum = quantize_file(f.in.string(), f.out.string(), options_for("F16"));
  ASSERT_TRUE(sum.is_ok()) << sum.status().message();
  auto in = gguf::File::open(f.in.string());
  auto out = gguf::File::open(f.out.string());
  const gguf::TensorView src = *in->tensor("blk.1.ffn_up.weight");
  const gguf::TensorView dst = *out->tensor("blk.1.ffn_up.weight");
  EXPECT_EQ(dst.type(), DType::kF16);
  std::vector<float> a(src.info->n_elements), b(a.size());
  kernels::dequantize_row(DType::kQ4_1, src.data, a.data(), static_cast<int64_t>(a.size()));
  kernels::dequantize_row(DType::kF16, dst.data, b.data(), static_cast<int64_t>(b.size()));
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-3);
}

TEST(QuantizeFile, UnsupportedSourceTypeLeavesNoOutput) {
  Files f;
  Spec s;
  s.n_layer = 1;
  gguf::Writer w = make_model(s);
  std::vector<uint8_t> q5k(*dtype_row_bytes(DType::kQ5_K, 256 * 4), 0);
  ASSERT_TRUE(w.add_tensor("blk.0.extra.weight", DType::kQ5_K, {256, 4}, q5k).is_ok());
  ASSERT_TRUE(w.write_file(f.in.string()).is_ok());
  const auto sum = quantize_file(f.in.string(), f.out.string(), options_for("Q8_0"));
  ASSERT_FALSE(sum.is_ok());
  EXPECT_EQ(sum.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(sum.status().message().find("blk.0.extra.weight"), std::string::npos) << sum.status().message();
  EXPECT_FALSE(fs::exists(f.out));
  EXPECT_EQ(std::distance(fs::directory_iterator(f.dir.path()), fs::directory_iterator()), 1);  // in.gguf only
}

TEST(QuantizeFile, NonFiniteWeightIsBadInputAndLeavesNoOutput) {
  Files f;
  Spec s;
  s.n_layer = 1;
  gguf::Writer w = make_model(s);
  std::vector<float> x(256 * 2, 0.5f);
  x[300] = std::nanf("");
  std::vector<uint8_t> bytes(x.size() * 4);
  std::memcpy(bytes.data(), x.data(), bytes.size());
  ASSERT_TRUE(w.add_tensor("blk.0.bad.weight", DType::kF32, {256, 2}, bytes).is_ok());
  ASSERT_TRUE(w.write_file(f.in.string()).is_ok());
  const auto sum = quantize_file(f.in.string(), f.out.string(), options_for("Q4_0"));
  ASSERT_FALSE(sum.is_ok());
  EXPECT_TRUE(sum.status().is_bad_input()) << sum.status().message();
  EXPECT_NE(sum.status().message().find("blk.0.bad.weight' row 1"), std::string::npos) << sum.status().message();
  EXPECT_FALSE(fs::exists(f.out));
  EXPECT_EQ(std::distance(fs::directory_iterator(f.dir.path()), fs::directory_iterator()), 1);
}

// A write that fails part-way (the file size limit stands in for a full disk: write() fails with
// EFBIG as it would with ENOSPC) leaves neither OUT nor the temporary file, and an existing OUT
// untouched.
TEST(QuantizeFile, WriteFailureLeavesNoPartialOutput) {
  Files f;
  Spec s;
  s.n_layer = 4;
  ASSERT_TRUE(make_model(s).write_file(f.in.string()).is_ok());
  test::write_text(f.out, "previous");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    const auto sum = quantize_file(f.in.string(), f.out.string(), options_for("F16"));
    const bool io = !sum.is_ok() && sum.status().code() == StatusCode::kIoError &&
                    sum.status().message().find("cannot write") != std::string::npos;
    ::_exit(io ? 0 : 1);
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "the write did not fail with an I/O error";
  const std::vector<uint8_t> now = test::read_bytes(f.out);
  EXPECT_EQ(std::string(now.begin(), now.end()), "previous");
  EXPECT_EQ(std::distance(fs::directory_iterator(f.dir.path()), fs::directory_iterator()), 2);  // in, out
}

}  // namespace
}  // namespace er::quantize
