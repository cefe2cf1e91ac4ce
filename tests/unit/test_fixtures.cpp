// The tiny GGUF fixtures: determinism, structure (tensors, types, shapes, metadata), weight fidelity.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/f16.h"
#include "fixture_gen.h"
#include "fixture_sha256.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "support/test_support.h"

namespace er::fixtures {
namespace {

const Vocab& synthetic() {
  static const Vocab v = synthetic_vocab();
  return v;
}

const FixtureSpec* find_spec(const std::vector<FixtureSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The plan with the vocabulary-sized dims filled in, as build_fixture writes it.
std::vector<TensorPlan> plan_with_vocab(const FixtureSpec& spec, int64_t n_vocab) {
  std::vector<TensorPlan> plan = plan_tensors(spec);
  for (auto& t : plan) {
    if (t.dims.size() == 2 && t.dims[1] == 0) t.dims[1] = static_cast<uint64_t>(n_vocab);
  }
  return plan;
}

TEST(FixtureSha256, KnownVectors) {
  auto sha = [](const std::string& s) {
    return sha256_hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Lengths around the padding boundaries (55, 56 and 64 bytes) and several blocks.
  EXPECT_EQ(sha(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(sha(std::string(1000, 'a')), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(FixtureSpecs, StandardSetCoversEveryArchAndType) {
  const auto specs = standard_specs(synthetic(), synthetic());
  std::set<std::string> names;
  for (const auto& s : specs) names.insert(s.name);
  for (const char* name :
       {"tiny-llama-f32", "tiny-llama-f16", "tiny-llama-q8_0", "tiny-llama-q4_0", "tiny-llama-q4_1",
        "tiny-llama-q4_k", "tiny-llama-q6_k", "tiny-qwen2-f32", "tiny-qwen2-q8_0", "tiny-qwen2-q4_k",
        "tiny-qwen3-f32", "tiny-qwen3-q8_0", "tiny-qwen3-q4_k", "tiny-gemma3-f32"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  int tied = 0, untied = 0;
  for (const auto& s : specs) {
    (s.tied ? tied : untied)++;
    // Every matrix row must be a whole number of blocks of its type.
    for (const auto& t : plan_with_vocab(s, synthetic().n_vocab)) {
      EXPECT_TRUE(dtype_row_bytes(t.type, t.dims[0]).has_value()) << s.name << " " << t.name;
    }
  }
  EXPECT_GT(tied, 0);
  EXPECT_GT(untied, 0);
}

TEST(FixtureSpecs, BigVocabulariesKeepFloatFixtureEmbeddingsSmall) {
  Vocab big = synthetic();
  big.n_vocab = 151936;
  const auto specs = standard_specs(synthetic(), big);
  EXPECT_EQ(find_spec(specs, "tiny-qwen2-f32")->embd_type, DType::kQ8_0);
  EXPECT_EQ(find_spec(specs, "tiny-llama-f32")->embd_type, DType::kF32);  // small vocabulary
  EXPECT_EQ(find_spec(specs, "tiny-qwen3-q4_k")->embd_type, DType::kQ4_K);
}

TEST(FixtureBytes, SameSeedSameBytesOtherSeedOtherBytes) {
  for (const auto& spec : standard_specs(synthetic(), synthetic())) {
    auto a = fixture_bytes(spec, synthetic(), 7);
    auto b = fixture_bytes(spec, synthetic(), 7);
    auto c = fixture_bytes(spec, synthetic(), 8);
    ASSERT_TRUE(a.is_ok()) << spec.name << ": " << a.status().message();
    ASSERT_TRUE(b.is_ok() && c.is_ok());
    EXPECT_TRUE(*a == *b) << spec.name << ": two runs with one seed differ";
    EXPECT_EQ(a->size(), c->size()) << spec.name;
    EXPECT_FALSE(*a == *c) << spec.name << ": seeds 7 and 8 give the same bytes";
  }
}

// Structure: tensor names, types and shapes as planned, metadata llama.cpp's loader needs.
TEST(FixtureBytes, ParseWithExpectedTensorsAndMetadata) {
  for (const auto& spec : standard_specs(synthetic(), synthetic())) {
    SCOPED_TRACE(spec.name);
    auto bytes = fixture_bytes(spec, synthetic(), kDefaultSeed);
    ASSERT_TRUE(bytes.is_ok());
    auto file = gguf::File::parse(*bytes, spec.name);
    ASSERT_TRUE(file.is_ok()) << file.status().message();
    const auto plan = plan_with_vocab(spec, synthetic().n_vocab);
    ASSERT_EQ(file->tensors().size(), plan.size());
    for (const auto& t : plan) {
      const gguf::TensorInfo* info = file->find_tensor(t.name);
      ASSERT_NE(info, nullptr) << t.name;
      EXPECT_EQ(info->type, t.type) << t.name;
      EXPECT_EQ(info->dims, t.dims) << t.name;
    }
    // Norms and biases are F32 as llama.cpp writes them.
    for (const auto& info : file->tensors()) {
      if (info.dims.size() == 1) {
        EXPECT_EQ(info.type, DType::kF32) << info.name;
      }
    }
    EXPECT_EQ(file->find_tensor("output.weight") == nullptr, spec.tied);
    EXPECT_EQ(file->find_tensor("blk.0.attn_q.bias") != nullptr, spec.arch == "qwen2");
    EXPECT_EQ(file->find_tensor("blk.0.attn_q_norm.weight") != nullptr, spec.arch == "qwen3" || spec.arch == "gemma3");
    EXPECT_EQ(file->find_tensor("blk.0.post_ffw_norm.weight") != nullptr, spec.arch == "gemma3");
    EXPECT_EQ(file->metadata().contains(spec.arch + ".attention.sliding_window"), spec.arch == "gemma3");

    const gguf::Metadata& md = file->metadata();
    const std::string a = spec.arch;
    EXPECT_EQ(md.get_string("general.architecture").value(), a);
    EXPECT_EQ(md.get_string("general.name").value(), spec.name);
    EXPECT_NE(md.get_string("general.description").value().find("synthetic"), std::string::npos);
    EXPECT_EQ(md.get_int("general.file_type").value(), static_cast<int64_t>(spec.file_type));
    EXPECT_EQ(md.get_int(a + ".block_count").value(), spec.n_layer);
    EXPECT_EQ(md.get_int(a + ".context_length").value(), 2048);
    EXPECT_EQ(md.get_int(a + ".embedding_length").value(), spec.n_embd);
    EXPECT_EQ(md.get_int(a + ".feed_forward_length").value(), spec.n_ff);
    EXPECT_EQ(md.get_int(a + ".attention.head_count").value(), spec.n_head);
    EXPECT_EQ(md.get_int(a + ".attention.head_count_kv").value(), spec.n_head_kv);
    EXPECT_EQ(md.get_int(a + ".vocab_size").value(), synthetic().n_vocab);
    EXPECT_EQ(md.get_double(a + ".attention.layer_norm_rms_epsilon").value(), static_cast<double>(spec.rms_eps));
    EXPECT_EQ(md.get_double(a + ".rope.freq_base").value(), static_cast<double>(spec.rope_freq_base));
    if (a == "qwen3") {
      EXPECT_EQ(md.get_int(a + ".attention.key_length").value(), spec.head_dim);
      EXPECT_EQ(md.get_int(a + ".attention.value_length").value(), spec.head_dim);
    }
    EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens").value().size(),
              static_cast<size_t>(synthetic().n_vocab));
    EXPECT_EQ(md.get_string("tokenizer.ggml.model").value(), "gpt2");
  }
}

// Every stored tensor dequantizes to (close to) the float weights it was made from.
TEST(FixtureBytes, StoredWeightsMatchTheGeneratedFloats) {
  for (const auto& spec : standard_specs(synthetic(), synthetic())) {
    auto bytes = fixture_bytes(spec, synthetic(), kDefaultSeed);
    ASSERT_TRUE(bytes.is_ok());
    auto file = gguf::File::parse(*bytes, spec.name);
    ASSERT_TRUE(file.is_ok());
    for (const auto& t : plan_with_vocab(spec, synthetic().n_vocab)) {
      SCOPED_TRACE(spec.name + " " + t.name);
      const std::vector<float> want = tensor_weights(spec, t, kDefaultSeed);
      const gguf::TensorView view = file->tensor(t.name).value();
      std::vector<float> got(want.size());
      kernels::dequantize_row(t.type, view.data, got.data(), static_cast<int64_t>(got.size()));
      double err = 0, ref = 0, mean = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        err += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
        ref += static_cast<double>(want[i] - t.mean) * (want[i] - t.mean);
        mean += want[i];
      }
      const double rel = std::sqrt(err / ref);
      switch (t.type) {
        case DType::kF32: EXPECT_EQ(err, 0.0); break;
        case DType::kF16: EXPECT_LT(rel, 1e-3); break;
        case DType::kQ8_0: EXPECT_LT(rel, 0.01); break;
        case DType::kQ6_K: EXPECT_LT(rel, 0.03); break;
        default: EXPECT_LT(rel, 0.12); break;  // 4-bit types
      }
      // The weights have the planned scale: sample mean and spread within a few percent.
      mean /= static_cast<double>(want.size());
      const double sd = std::sqrt(ref / static_cast<double>(want.size()));
      if (want.size() >= 1024) {
        EXPECT_NEAR(mean, t.mean, 0.05 * t.stddev + 1e-3);
        EXPECT_NEAR(sd, t.stddev, 0.05 * t.stddev);
      }
    }
  }
}

TEST(FixtureBytes, FloatWeightsDoNotDependOnTheStorageType) {
  const auto specs = standard_specs(synthetic(), synthetic());
  const FixtureSpec& f32 = *find_spec(specs, "tiny-llama-f32");
  const FixtureSpec& q8 = *find_spec(specs, "tiny-llama-q8_0");
  const auto plan32 = plan_with_vocab(f32, synthetic().n_vocab);
  const auto plan8 = plan_with_vocab(q8, synthetic().n_vocab);
  size_t n_same = 0;
  for (const auto& t : plan32) {
    for (const auto& u : plan8) {
      if (t.name != u.name) continue;
      EXPECT_EQ(tensor_weights(f32, t, 3), tensor_weights(q8, u, 3)) << t.name;
      ++n_same;
    }
  }
  EXPECT_EQ(n_same, plan32.size());  // q8_0 has every tensor of f32 (and output.weight)
  EXPECT_NE(tensor_weights(f32, plan32[0], 3), tensor_weights(f32, plan32[0], 4));
}

// The tool's library entry point: files, manifest, and the up-to-date check.
TEST(GenerateFixtures, WritesFilesAndManifestDeterministically) {
  test::TempDir dir1, dir2;
  GenerateOptions options;
  options.seed = 5;
  options.llama_vocab = options.qwen_vocab = synthetic();
  options.only = {"tiny-llama-q4_k", "tiny-qwen2-f32.gguf", "tiny-qwen3-q8_0"};
  options.out_dir = dir1.path().string();
  std::string log;
  auto first = generate_fixtures(options, &log);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  ASSERT_EQ(first->size(), 3u);
  options.out_dir = dir2.path().string();
  ASSERT_TRUE(generate_fixtures(options, nullptr).is_ok());
  for (const auto& e : *first) {
    const auto a = test::read_bytes(dir1 / e.name);
    EXPECT_EQ(a, test::read_bytes(dir2 / e.name)) << e.name;
    EXPECT_EQ(a.size(), e.bytes);
    EXPECT_EQ(sha256_hex(a), e.sha256);
  }
  EXPECT_EQ(test::read_bytes(dir1 / "manifest.json"), test::read_bytes(dir2 / "manifest.json"));
  std::ifstream in(dir1 / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  EXPECT_EQ(manifest["seed"], 5);
  ASSERT_EQ(manifest["fixtures"].size(), 3u);
  EXPECT_EQ(manifest["fixtures"][0]["name"], "tiny-llama-q4_k.gguf");
  EXPECT_EQ(manifest["fixtures"][0]["type"], "q4_K");
  EXPECT_EQ(manifest["fixtures"][0]["arch"], "llama");

  // A second run finds everything current; a damaged file or --force makes it regenerate.
  log.clear();
  ASSERT_TRUE(generate_fixtures(options, &log).is_ok());
  EXPECT_NE(log.find("up to date"), std::string::npos) << log;
  test::write_bytes(dir2 / "tiny-qwen2-f32.gguf", {1, 2, 3});
  log.clear();
  ASSERT_TRUE(generate_fixtures(options, &log).is_ok());
  EXPECT_EQ(log.find("up to date"), std::string::npos) << log;
  EXPECT_EQ(test::read_bytes(dir2 / "tiny-qwen2-f32.gguf"), test::read_bytes(dir1 / "tiny-qwen2-f32.gguf"));
  options.seed = 6;  // another seed is not current
  log.clear();
  ASSERT_TRUE(generate_fixtures(options, &log).is_ok());
  EXPECT_EQ(log.find("up to date"), std::string::npos);
  EXPECT_NE(test::read_bytes(dir2 / "tiny-qwen2-f32.gguf"), test::read_bytes(dir1 / "tiny-qwen2-f32.gguf"));

  options.only = {"tiny-gpt2-f32"};
  EXPECT_EQ(generate_fixtures(options, nullptr).status().code(), StatusCode::kInvalidInput);
}

TEST(Vocab, MissingOrInvalidSourcesAreBadInput) {
  test::TempDir dir;
  auto missing = load_vocab((dir / "nope.gguf").string());
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(missing.status().is_bad_input()) << missing.status().message();
  EXPECT_NE(missing.status().message().find("nope.gguf"), std::string::npos);
  // A valid GGUF without a tokenizer.
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  ASSERT_TRUE(w.write_file((dir / "empty.gguf").string()).is_ok());
  auto no_tokens = load_vocab((dir / "empty.gguf").string());
  ASSERT_FALSE(no_tokens.is_ok());
  EXPECT_NE(no_tokens.status().message().find("tokenizer"), std::string::npos) << no_tokens.status().message();
}

// With the real SmolLM2 vocabulary: all tokenizer keys are copied verbatim.
TEST(Vocab, CopiesEveryTokenizerKeyOfARealModel) {
  ER_REQUIRE_MODEL(path, "smollm2");
  auto vocab = load_vocab(path.string());
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().message();
  EXPECT_EQ(vocab->n_vocab, 49152);
  EXPECT_EQ(vocab->model, "gpt2");
  EXPECT_EQ(vocab->pre, "smollm");
  const auto specs = standard_specs(*vocab, *vocab);
  auto bytes = fixture_bytes(*find_spec(specs, "tiny-llama-q4_0"), *vocab, kDefaultSeed);
  ASSERT_TRUE(bytes.is_ok());
  auto fixture = gguf::File::parse(*bytes);
  auto source = gguf::File::open(path.string());
  ASSERT_TRUE(fixture.is_ok() && source.is_ok());
  size_t n_keys = 0;
  for (const auto& [key, value] : source->metadata().entries()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    ++n_keys;
    const gguf::Value* copy = fixture->metadata().find(key);
    ASSERT_NE(copy, nullptr) << key;
    EXPECT_EQ(copy->type(), value.type()) << key;
    if (value.type() == gguf::ValueType::kArray) {
      ASSERT_EQ(copy->size(), value.size()) << key;
      ASSERT_EQ(copy->elem_type(), value.elem_type()) << key;
      for (size_t i = 0; i < value.size(); ++i) {
        ASSERT_EQ(copy->items()[i].to_display(), value.items()[i].to_display()) << key << "[" << i << "]";
      }
    } else {
      EXPECT_EQ(copy->to_display(1000), value.to_display(1000)) << key;
    }
  }
  EXPECT_GE(n_keys, 8u);
  EXPECT_EQ(fixture->metadata().get_int("llama.vocab_size").value(), 49152);
  EXPECT_EQ(fixture->find_tensor("token_embd.weight")->dims, (std::vector<uint64_t>{64, 49152}));
}

// The fixtures ctest generated before the tests (tests/CMakeLists.txt): manifest and files agree.
TEST(GeneratedFixtures, ManifestMatchesTheFiles) {
  const auto dir = test::fixture_dir();
  std::ifstream in(dir / "manifest.json");
  if (!in) GTEST_SKIP() << "no fixtures generated in " << dir;
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_GE(manifest["fixtures"].size(), 13u);
  for (const auto& f : manifest["fixtures"]) {
    const std::string name = f["name"];
    auto file = gguf::File::open((dir / name).string());
    ASSERT_TRUE(file.is_ok()) << name << ": " << file.status().message();
    EXPECT_EQ(file->file_size(), f["bytes"].get<uint64_t>()) << name;
    EXPECT_EQ(sha256_hex(file->bytes()), f["sha256"].get<std::string>()) << name;
    EXPECT_EQ(file->metadata().get_string("general.name").value() + ".gguf", name);
  }
}

}  // namespace
}  // namespace er::fixtures
