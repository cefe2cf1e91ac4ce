// The quantization axis: the `quantizations` key (values, refusals), cell identity unchanged
// without it, variants made once into the cache beside the model and reused (remade when stale or
// damaged), and the weight consistency check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "study/config.h"
#include "study/precision.h"
#include "study/store.h"
#include "study/variant.h"
#include "support/test_support.h"

namespace er::study {
namespace {

namespace fs = std::filesystem;

const std::string kBase = "models = [\"m1\", \"m2\"]\npolicies = [\"unlimited\", \"no-think\"]\n";
const std::string kSlice = "[[slices]]\ndataset = \"gsm8k\"\nlimit = 10\n";

Result<SweepConfig> parse(const std::string& text) { return parse_sweep_config(text, "s.toml", {}); }

TEST(StudyVariant, QuantizationNames) {
  EXPECT_EQ(*quantization_from_name("release"), "release");
  EXPECT_EQ(*quantization_from_name("RELEASE"), "release");
  EXPECT_EQ(*quantization_from_name("Q8_0"), "q8_0");
  EXPECT_EQ(*quantization_from_name("q4_k_m"), "q4_k_m");
  EXPECT_EQ(*quantization_from_name("f16"), "f16");
  auto bad = quantization_from_name("q3_k");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("'q3_k' is not a quantization (release, f32, f16"), std::string::npos)
      << bad.status().message();
}

TEST(StudyVariant, ConfigExpandsEachLocalModelPerQuantization) {
  auto r = parse(kBase + "quantizations = [\"release\", \"F16\", \"q8_0\"]\n" + kSlice);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->quantizations, (std::vector<std::string>{"release", "f16", "q8_0"}));
  const auto cells = r->cells();
  ASSERT_EQ(cells.size(), 2u * 3u * 2u);
  std::set<std::string> hashes, labels;
  for (const Cell& c : cells) {
    hashes.insert(c.hash());
    labels.insert(c.label());
  }
  EXPECT_EQ(hashes.size(), cells.size());
  EXPECT_TRUE(labels.count("m1 gsm8k[0:10] unlimited N=1 t=1"));
  EXPECT_TRUE(labels.count("m1@f16 gsm8k[0:10] unlimited N=1 t=1"));
  EXPECT_TRUE(labels.count("m2@q8_0 gsm8k[0:10] no-think N=1 t=1"));
  EXPECT_EQ(cells[0].quantization_name(), "release");
  EXPECT_EQ(cells[2].quantization, "f16");
}

TEST(StudyVariant, IdentityOfReleaseCellsIsUnchanged) {
  auto without = parse(kBase + kSlice);
  auto release = parse(kBase + "quantizations = \"release\"\n" + kSlice);
  ASSERT_TRUE(without.is_ok() && release.is_ok());
  const auto a = without->cells(), b = release->cells();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].hash(), b[i].hash());
    EXPECT_FALSE(a[i].to_json().contains("quantization"));
  }
  // The hash of a plain cell, as every earlier build computed it (pinned).
  Cell c;
  c.model = "m";
  c.slice.dataset = "gsm8k";
  const std::string pinned = c.hash();
  c.quantization = "f16";
  EXPECT_NE(c.hash(), pinned);
  EXPECT_EQ(c.to_json()["quantization"], "f16");
}

TEST(StudyVariant, ConfigRefusals) {
  auto r = parse(kBase + "quantizations = [\"release\", \"q3_k\"]\n" + kSlice);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("s.toml:3: key 'quantizations': 'q3_k' is not a quantization"), std::string::npos)
      << r.status().message();
  r = parse(kBase + "quantizations = [\"q8_0\", \"Q8_0\"]\n" + kSlice);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("duplicate"), std::string::npos) << r.status().message();
  r = parse(kBase + "quantizations = 8\n" + kSlice);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("key 'quantizations'"), std::string::npos) << r.status().message();
  // Another engine's server cannot be quantized.
  r = parse(kBase + "quantizations = [\"release\", \"f16\"]\n" + kSlice +
            "[[backends]]\nname = \"peer\"\nurl = \"http://127.0.0.1:1\"\n");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("key 'quantizations': another engine's server ([[backends]]) cannot be quantized"),
            std::string::npos)
      << r.status().message();
  // ... but the release alone is fine beside backends.
  r = parse(kBase + "quantizations = [\"release\"]\n" + kSlice + "[[backends]]\nname = \"peer\"\nurl = \"http://127.0.0.1:1\"\n");
  EXPECT_TRUE(r.is_ok()) << r.status().message();
}

TEST(StudyVariant, TheStoreKeepsTheQuantizationUnderTheSameHash) {
  test::TempDir dir;
  auto st = Store::open((dir / "r.db").string(), Store::Mode::kReadWrite);
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  Cell rel;
  rel.model = "m";
  rel.slice.dataset = "gsm8k";
  Cell f16 = rel;
  f16.quantization = "f16";
  ASSERT_TRUE((*st)->ensure_configuration(rel, 3).is_ok());
  ASSERT_TRUE((*st)->ensure_configuration(f16, 3).is_ok());
  auto rows = (*st)->configurations();
  ASSERT_TRUE(rows.is_ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].cell.quantization, "");
  EXPECT_EQ((*rows)[1].cell.quantization, "f16");
  EXPECT_EQ((*rows)[1].hash, f16.hash());
  EXPECT_EQ((*rows)[1].cell.hash(), f16.hash());  // what merge checks
  EXPECT_EQ((*rows)[1].label, "m@f16 gsm8k[0:] unlimited N=1 t=1");
}

class StudyVariantFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path src = test::fixture_dir() / "tiny-llama-q8_0.gguf";
    if (!fs::exists(src)) GTEST_SKIP() << "fixture missing: " << src;
    fs::create_directories(dir_ / "models");
    fs::copy_file(src, model_);
    opts_.fallback_dir = (dir_ / "fallback").string();
    opts_.log = [this](const std::string& line) { log_ += line + "\n"; };
  }
  test::TempDir dir_;
  std::string model_ = (dir_ / "models" / "tiny.gguf").string();
  VariantOptions opts_;
  std::string log_;
};

TEST_F(StudyVariantFiles, MadeOnceThenReusedAndRemadeWhenStaleOrDamaged) {
  auto v = ensure_variant(model_, "f16", opts_);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_TRUE(v->made);
  EXPECT_FALSE(v->fallback);
  EXPECT_EQ(v->path, (dir_ / "models" / ".edgereason-cache" / "tiny.f16.gguf").string());
  EXPECT_TRUE(fs::exists(v->path));
  EXPECT_NE(log_.find("quantize: making tiny f16 (once)"), std::string::npos) << log_;
  const auto written = fs::last_write_time(v->path);

  log_.clear();
  auto again = ensure_variant(model_, "f16", opts_);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_FALSE(again->made);
  EXPECT_EQ(again->path, v->path);
  EXPECT_EQ(fs::last_write_time(v->path), written);
  EXPECT_EQ(log_, "");

  // The release changes (a new download): the variant is stale and made again.
  fs::last_write_time(model_, fs::last_write_time(model_) + std::chrono::seconds(5));
  auto stale = ensure_variant(model_, "f16", opts_);
  ASSERT_TRUE(stale.is_ok()) << stale.status().message();
  EXPECT_TRUE(stale->made);

  // A damaged (truncated) variant is made again.
  fs::resize_file(v->path, 100);
  auto damaged = ensure_variant(model_, "f16", opts_);
  ASSERT_TRUE(damaged.is_ok()) << damaged.status().message();
  EXPECT_TRUE(damaged->made);
  EXPECT_GT(fs::file_size(v->path), 100u);

  // Another type is its own variant.
  auto q4 = ensure_variant(model_, "q4_0", opts_);
  ASSERT_TRUE(q4.is_ok()) << q4.status().message();
  EXPECT_TRUE(q4->made);
  EXPECT_NE(q4->path, v->path);
}

TEST_F(StudyVariantFiles, FallsBackWhenTheModelDirectoryIsNotWritable) {
  // The cache directory cannot be made (a file is in its place; root ignores permissions, so
  // this stands for a read-only directory).
  std::ofstream(dir_ / "models" / ".edgereason-cache") << "not a directory";
  auto v = ensure_variant(model_, "f32", opts_);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_TRUE(v->fallback);
  EXPECT_EQ(fs::path(v->path).parent_path(), dir_ / "fallback");
  EXPECT_NE(log_.find("is not writable; caching variants in"), std::string::npos) << log_;
}

TEST_F(StudyVariantFiles, ConsistencyCheckComparesDequantizedWeights) {
  // The F32 upcast holds exactly the release's weights.
  auto f32 = ensure_variant(model_, "f32", opts_);
  ASSERT_TRUE(f32.is_ok()) << f32.status().message();
  auto same = compare_weights(model_, f32->path);
  ASSERT_TRUE(same.is_ok()) << same.status().message();
  EXPECT_TRUE(same->identical());
  EXPECT_EQ(same->max_abs_diff, 0.0);
  EXPECT_GT(same->n_tensors, 0);
  EXPECT_GT(same->n_elements, 0);
  // A lossy requantization does not, and the check says where.
  auto q4 = ensure_variant(model_, "q4_0", opts_);
  ASSERT_TRUE(q4.is_ok()) << q4.status().message();
  auto diff = compare_weights(model_, q4->path);
  ASSERT_TRUE(diff.is_ok()) << diff.status().message();
  EXPECT_FALSE(diff->identical());
  EXPECT_GT(diff->max_abs_diff, 0.0);
  EXPECT_GT(diff->n_different, 0);
  EXPECT_FALSE(diff->max_tensor.empty());
  // A file that is not a model.
  std::ofstream(dir_ / "junk.gguf") << "junk";
  EXPECT_FALSE(compare_weights(model_, (dir_ / "junk.gguf").string()).is_ok());
}

TEST(StudyVariant, PrecisionGroupsCompareEachVariantWithTheRelease) {
  auto summary = [](int64_t id, const std::string& model, const std::string& q, double decode_s, double steps) {
    ConfigSummary s;
    s.config_id = id;
    s.cell.model = model;
    s.cell.slice.dataset = "gsm8k";
    s.cell.quantization = q;
    s.label = s.cell.label();
    s.decode_mean_s = decode_s;
    s.max_path_tokens_mean = steps;
    s.tokens_mean = steps;
    s.energy_j = 2.0 * decode_s;
    return s;
  };
  // m: release, f16 (twice the decode time, 4x the bytes), q4_0; m2: a release alone (no group).
  const std::vector<ConfigSummary> S = {summary(1, "m", "", 1.0, 100), summary(2, "m", "f16", 2.0, 100),
                                        summary(3, "m2", "", 1.0, 100), summary(4, "m", "q4_0", 0.5, 100)};
  std::vector<QuestionRow> qs;
  auto add = [&](int64_t id, const std::string& qid, const std::string& answer) {
    QuestionRow r;
    r.config_id = id;
    r.q.question_id = qid;
    r.q.extracted = answer;
    qs.push_back(r);
  };
  add(1, "a", "4"), add(1, "b", "6"), add(1, "c", "2");
  add(2, "a", "4"), add(2, "b", "7");  // c not yet run; b differs
  add(4, "a", "4"), add(4, "b", "6"), add(4, "c", "2");
  std::vector<std::pair<int64_t, nlohmann::json>> bench = {
      {1, {{"quantization", "release"}, {"weight_bytes_per_token", 1000}}},
      {2, {{"quantization", "f16"}, {"weight_bytes_per_token", 4000}, {"weights_vs_release", {{"identical", false}}}}}};
  const auto groups = precision_groups(S, qs, bench);
  ASSERT_EQ(groups.size(), 1u);
  const auto& g = groups[0];
  EXPECT_EQ(g.label, "m gsm8k[0:] unlimited N=1 t=1");
  ASSERT_EQ(g.rows.size(), 3u);
  EXPECT_EQ(g.rows[0].quantization, "release");
  EXPECT_EQ(g.rows[1].quantization, "f16");
  EXPECT_EQ(g.rows[2].quantization, "q4_0");
  EXPECT_EQ(g.rows[1].n_common, 2);
  EXPECT_EQ(g.rows[1].n_answers_differ, 1);
  EXPECT_EQ(g.rows[2].n_common, 3);
  EXPECT_EQ(g.rows[2].n_answers_differ, 0);
  ASSERT_TRUE(g.rows[1].decode_ratio && g.rows[1].bytes_ratio);
  EXPECT_DOUBLE_EQ(*g.rows[1].decode_ratio, 2.0);
  EXPECT_DOUBLE_EQ(*g.rows[1].bytes_ratio, 4.0);
  EXPECT_FALSE(g.rows[2].bytes_ratio);  // no bench row
  EXPECT_DOUBLE_EQ(*g.rows[0].j_per_token, 0.02);
  EXPECT_FALSE(g.rows[1].weights_vs_release.value("identical", true));
  EXPECT_TRUE(g.rows[0].weights_vs_release.is_null());
}

}  // namespace
}  // namespace er::study
