// The paper's findings checked on synthetic results databases (built through the store API): each
// verdict kind, the size and precision of models from their names, and the table's formats.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "study/findings.h"
#include "study/store.h"
#include "support/test_support.h"

namespace er::study {
namespace {

constexpr int kQuestions = 100;

struct CellSpec {
  std::string model;
  Policy policy = Policy::kUnlimited;
  std::optional<int64_t> budget;
  int64_t paths = 1;
  int correct = 0;       // of kQuestions: questions 0 .. correct-1
  double e2e_s = 1;      // mean latency (each question varies ±10% around it)
  double j_scale = 1;    // decode energy per token = j_scale·(0.01 + 0.002·ln tokens)
  bool estimated = false;
  bool power = true;
  double prefill_share = 0.05;
};

class Builder {
 public:
  explicit Builder(const std::string& path) {
    auto s = Store::open(path, Store::Mode::kReadWrite);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    store_ = std::move(s).value();
    auto r = store_->begin_run("test", "findings-test", "name = \"findings-test\"\n");
    EXPECT_TRUE(r.is_ok());
    run_ = *r;
  }
  // `quantization`: the sweep's quantizations value ("" = the release).
  void add(const CellSpec& c, const std::string& quantization = "") {
    Cell cell;
    cell.model = c.model;
    cell.slice = {"gsm8k", 0, kQuestions};
    cell.policy = c.policy;
    cell.budget = c.budget;
    cell.paths = c.paths;
    cell.threads = 2;
    cell.max_tokens = 64;
    cell.temperature = 0.6;
    cell.quantization = quantization;
    auto id = store_->ensure_configuration(cell, kQuestions);
    ASSERT_TRUE(id.is_ok()) << id.status().message();
    for (int i = 0; i < kQuestions; ++i) {
      QuestionRecord q;
      q.question_id = "q" + std::to_string(i);
      q.index = i;
      q.gold = "1";
      q.correct = i < c.correct;
      q.extracted = q.correct ? "1" : "2";
      q.n_prompt = 50;
      const int64_t tokens = 20 + 10 * (i % 10);
      q.thinking_tokens = tokens - 5;
      q.answer_tokens = 5;
      q.max_path_tokens = tokens;
      q.e2e_ms = 1000 * c.e2e_s * (0.9 + 0.2 * (i % 7) / 6.0);
      q.prefill_ms = c.prefill_share * q.e2e_ms;
      q.ttft_ms = q.prefill_ms;
      q.decode_ms = q.e2e_ms - q.prefill_ms;
      if (c.power) {
        PowerRecord w;
        w.source = c.estimated ? "estimated" : "rapl";
        w.estimated = c.estimated;
        w.decode_j = static_cast<double>(tokens) * c.j_scale * (0.01 + 0.002 * std::log(static_cast<double>(tokens)));
        w.prefill_j = 0.1;
        w.total_j = w.prefill_j + w.decode_j;
        w.mean_w = w.total_j / (q.e2e_ms / 1000);
        q.power = w;
      }
      ASSERT_TRUE(store_->add_question(*id, run_, q).is_ok());
    }
  }
  void fit(const std::string& model, double prefill_c, double decode_n) {
    nlohmann::ordered_json j;
    j["coefficients"]["prefill"] = {{"a", 0.0}, {"b", 0.0}, {"c", prefill_c}, {"pad", 1}};
    j["coefficients"]["decode"] = {{"m", 0.0}, {"n", decode_n}};
    ASSERT_TRUE(store_->set_fit(model, j).is_ok());
  }
  Store& store() { return *store_; }

 private:
  std::unique_ptr<Store> store_;
  int64_t run_ = 0;
};

const Finding& get(const std::vector<Finding>& f, const std::string& id) {
  for (const Finding& x : f)
    if (x.id == id) return x;
  ADD_FAILURE() << "no finding " << id;
  static Finding none;
  return none;
}

std::vector<Finding> check(Store& s) {
  FindingsOptions o;
  o.db_path = "r.db";
  o.model_info = model_info_from_name;  // never the installed models
  auto f = check_findings(s, o);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return f.is_ok() ? *f : std::vector<Finding>{};
}

// Two sizes where the paper's findings hold: the small model fast and weak, the large one slow and
// strong; budgets and no-think faster and weaker; four paths 1.5× the latency and more accurate;
// measured energy per token rising with ln(tokens), 4× for the large model; decode-dominated fits.
void add_two_sizes(Builder& b, bool estimated = false) {
  for (const auto& [model, scale, acc] :
       {std::tuple<std::string, double, int>{"small-0.5b", 1.0, 0}, std::tuple<std::string, double, int>{"large-1.5b", 4.0, 30}}) {
    b.add({model, Policy::kUnlimited, std::nullopt, 1, 40 + acc, 1.0 * scale, scale, estimated});
    b.add({model, Policy::kUnlimited, std::nullopt, 4, 65 + acc, 1.5 * scale, scale, estimated});
    b.add({model, Policy::kThinkBudget, 8, 1, 5 + acc / 2, 0.5 * scale, scale, estimated});
    b.add({model, Policy::kNoThink, std::nullopt, 1, 10 + acc + acc / 3, 0.3 * scale, scale, estimated});
    b.fit(model, 0.01, 0.02);
  }
}

TEST(StudyFindings, EveryClaimHasNumbersAndACitation) {
  ASSERT_EQ(paper_claims().size(), 9u);
  for (const PaperClaim& c : paper_claims()) {
    EXPECT_FALSE(c.title.empty()) << c.id;
    EXPECT_NE(c.claim.find_first_of("0123456789"), std::string::npos) << c.id << ": a claim without numbers";
  }
  EXPECT_NE(std::string(kPaperCitation).find("2511.01866"), std::string::npos);
}

TEST(StudyFindings, ModelSizeAndPrecisionFromTheName) {
  ModelInfo i = model_info_from_name("qwen2.5-coder-1.5b");
  ASSERT_TRUE(i.params.has_value());
  EXPECT_DOUBLE_EQ(*i.params, 1.5e9);
  EXPECT_EQ(i.weight_bits, 0);
  i = model_info_from_name("models/gemma3-270m.gguf");
  EXPECT_DOUBLE_EQ(i.params.value_or(0), 270e6);
  EXPECT_FALSE(model_info_from_name("smollm2").params.has_value());
  i = model_info_from_name("models/qwen2.5-coder-0.5b-Q4_K_M.gguf");
  EXPECT_DOUBLE_EQ(i.params.value_or(0), 0.5e9);
  EXPECT_EQ(i.weight_type, "q4_k_m");
  EXPECT_EQ(i.weight_bits, 4);
  EXPECT_EQ(model_info_from_name("x-1.5b-f16").weight_bits, 16);
  EXPECT_EQ(model_info_from_name("x-1.5b-bf16").weight_bits, 16);
  EXPECT_EQ(model_info_from_name("x-1.5b-q8_0").weight_bits, 8);
  EXPECT_EQ(model_info_from_name("squad-q4x").weight_bits, 0);  // "q4x" is not a type
}

TEST(StudyFindings, OneSmallModelMakesTheSizeAxisNotMeasurable) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  // smollm2-like: every configuration about as (in)accurate; estimated energy; prefill-heavy fits.
  b.add({"smollm2", Policy::kUnlimited, std::nullopt, 1, 1, 2.0, 1, true, true, 0.2});
  b.add({"smollm2", Policy::kUnlimited, std::nullopt, 4, 2, 2.5, 1, true, true, 0.2});
  b.add({"smollm2", Policy::kThinkBudget, 32, 1, 1, 1.5, 1, true, true, 0.2});
  b.add({"smollm2", Policy::kNoThink, std::nullopt, 1, 2, 0.7, 1, true, true, 0.2});
  b.fit("smollm2", 0.3, 0.0001);  // prefill 0.3 s, decode 0.1 s at the paper's shape
  const auto f = check(b.store());
  ASSERT_EQ(f.size(), 9u);

  const Finding& size = get(f, "deadline-winner-by-size");
  EXPECT_EQ(size.verdict, Verdict::kNotMeasurable);
  EXPECT_NE(size.reason.find("one model size only: the database has smollm2"), std::string::npos) << size.reason;
  EXPECT_NE(size.reason.find("size unknown for smollm2"), std::string::npos) << size.reason;
  EXPECT_NE(size.command.find("edgereason study -m qwen2.5-coder-0.5b --db r.db"), std::string::npos);
  EXPECT_EQ(get(f, "nothink-by-size").verdict, Verdict::kNotMeasurable);
  EXPECT_NE(get(f, "nothink-by-size").measurement.find("no-think 2.0%"), std::string::npos);

  const Finding& energy = get(f, "energy-vs-length");
  EXPECT_EQ(energy.verdict, Verdict::kNotMeasurable);
  EXPECT_NE(energy.reason.find("estimated"), std::string::npos);
  EXPECT_NE(energy.measurement.find("estimated energy"), std::string::npos);  // the estimate is still shown

  const Finding& decode = get(f, "decode-share");
  EXPECT_EQ(decode.verdict, Verdict::kNotReproduced) << decode.reason;
  EXPECT_NE(decode.measurement.find("smollm2: 25.4%"), std::string::npos) << decode.measurement;
  EXPECT_NE(decode.measurement.find("80.0%"), std::string::npos) << decode.measurement;  // measured share

  // 1/100 against 2/100: the data cannot decide.
  EXPECT_EQ(get(f, "paths-accuracy").verdict, Verdict::kInconclusive);
  EXPECT_NE(get(f, "paths-accuracy").reason.find("intervals overlap"), std::string::npos);
  EXPECT_EQ(get(f, "token-budget-trade").verdict, Verdict::kInconclusive);
  // Four paths at 1.25× one: well below N/2 = 2.
  EXPECT_EQ(get(f, "paths-latency").verdict, Verdict::kReproduced) << get(f, "paths-latency").reason;

  const Finding& w4 = get(f, "w4-vs-w16");
  EXPECT_EQ(w4.verdict, Verdict::kNotMeasurable);
  EXPECT_NE(w4.reason.find("no W4 and 16-bit versions"), std::string::npos) << w4.reason;
  EXPECT_NE(w4.reason.find("smollm2 (precision unknown)"), std::string::npos) << w4.reason;
}

TEST(StudyFindings, TwoSizesWhereThePaperHolds) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  add_two_sizes(b);
  const auto f = check(b.store());
  for (const char* id : {"decode-share", "energy-vs-length", "energy-by-size", "deadline-winner-by-size",
                         "nothink-by-size", "token-budget-trade", "paths-latency", "paths-accuracy"}) {
    const Finding& x = get(f, id);
    EXPECT_EQ(x.verdict, Verdict::kReproduced) << id << ": " << x.reason << " | " << x.measurement;
    EXPECT_NE(x.measurement, "—") << id;
    EXPECT_FALSE(x.command.empty()) << id;
  }
  // The winner changes from the small to the large model as the deadline grows.
  const Finding& w = get(f, "deadline-winner-by-size");
  EXPECT_NE(w.measurement.find("small-0.5b"), std::string::npos);
  EXPECT_LT(w.measurement.find("small-0.5b"), w.measurement.find("large-1.5b"));
  // 4× the energy per token: the interval excludes equality.
  EXPECT_NE(get(f, "energy-by-size").reason.find("4.0× less per token"), std::string::npos)
      << get(f, "energy-by-size").reason;
  EXPECT_EQ(get(f, "w4-vs-w16").verdict, Verdict::kNotMeasurable);
}

TEST(StudyFindings, EstimatedEnergyIsNotMeasurable) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  add_two_sizes(b, /*estimated=*/true);
  const auto f = check(b.store());
  EXPECT_EQ(get(f, "energy-vs-length").verdict, Verdict::kNotMeasurable);
  EXPECT_EQ(get(f, "energy-by-size").verdict, Verdict::kNotMeasurable);
  EXPECT_NE(get(f, "energy-by-size").reason.find("estimated"), std::string::npos);
  EXPECT_EQ(get(f, "deadline-winner-by-size").verdict, Verdict::kReproduced);  // the rest stands
}

TEST(StudyFindings, ClaimsTheDataDecideAgainst) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  // The large model is faster and better at every deadline; four paths cost 4× and are worse;
  // a larger budget is less accurate; energy per token falls with length.
  b.add({"small-0.5b", Policy::kUnlimited, std::nullopt, 1, 20, 4.0, 1});
  b.add({"large-1.5b", Policy::kUnlimited, std::nullopt, 1, 80, 0.5, 1});
  b.add({"large-1.5b", Policy::kUnlimited, std::nullopt, 4, 40, 2.0, 1});
  b.add({"large-1.5b", Policy::kThinkBudget, 8, 1, 95, 0.4, 1});
  b.fit("large-1.5b", 1.0, 0.0001);
  const auto f = check(b.store());
  EXPECT_EQ(get(f, "deadline-winner-by-size").verdict, Verdict::kNotReproduced) << get(f, "deadline-winner-by-size").reason;
  EXPECT_EQ(get(f, "paths-latency").verdict, Verdict::kNotReproduced) << get(f, "paths-latency").reason;
  EXPECT_EQ(get(f, "paths-accuracy").verdict, Verdict::kNotReproduced);
  EXPECT_EQ(get(f, "token-budget-trade").verdict, Verdict::kNotReproduced);
  EXPECT_EQ(get(f, "decode-share").verdict, Verdict::kNotReproduced);
  EXPECT_EQ(get(f, "nothink-by-size").verdict, Verdict::kNotMeasurable);  // no no-think cells
  EXPECT_NE(get(f, "nothink-by-size").reason.find("no one-path no-think"), std::string::npos);
}

TEST(StudyFindings, W4AgainstSixteenBitPairsByNameAndSize) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  b.add({"m-1.5b-q4_0", Policy::kUnlimited, std::nullopt, 1, 60, 1.0, 1});
  b.add({"m-1.5b-f16", Policy::kUnlimited, std::nullopt, 1, 62, 3.0, 1});
  auto f = check(b.store());
  const Finding& w = get(f, "w4-vs-w16");
  EXPECT_EQ(w.verdict, Verdict::kReproduced) << w.reason;
  EXPECT_NE(w.measurement.find("m-1.5b-q4_0 vs m-1.5b-f16: latency 0.33×"), std::string::npos) << w.measurement;

  test::TempDir tmp2;
  Builder c((tmp2 / "r.db").string());
  c.add({"m-1.5b-q4_0", Policy::kUnlimited, std::nullopt, 1, 20, 1.0, 1});  // faster but far less accurate
  c.add({"m-1.5b-f16", Policy::kUnlimited, std::nullopt, 1, 62, 3.0, 1});
  f = check(c.store());
  EXPECT_EQ(get(f, "w4-vs-w16").verdict, Verdict::kNotReproduced);
  EXPECT_NE(get(f, "w4-vs-w16").reason.find("decidedly less accurate"), std::string::npos);
}

// The default study's precision axis: one model's release (4-bit by its name) and its f16 variant
// (the sweep's quantizations) are the pair, told apart as "MODEL@f16".
TEST(StudyFindings, W4AgainstSixteenBitPairsAReleaseWithItsQuantizationVariant) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  CellSpec release{"m-0.5b-q4_k_m", Policy::kUnlimited, std::nullopt, 1, 50, 1.0, 1};
  CellSpec f16 = release;
  f16.correct = 51;
  f16.e2e_s = 2.5;
  b.add(release);
  b.add(f16, "f16");
  auto f = check(b.store());
  const Finding& w = get(f, "w4-vs-w16");
  EXPECT_EQ(w.verdict, Verdict::kReproduced) << w.reason << " / " << w.measurement;
  EXPECT_NE(w.measurement.find("m-0.5b-q4_k_m vs m-0.5b-q4_k_m@f16: latency 0.40×"), std::string::npos) << w.measurement;

  // Only the release: nothing to pair, and the reason names what the database has.
  test::TempDir tmp2;
  Builder c((tmp2 / "r.db").string());
  c.add(release);
  f = check(c.store());
  EXPECT_EQ(get(f, "w4-vs-w16").verdict, Verdict::kNotMeasurable);
  EXPECT_NE(get(f, "w4-vs-w16").reason.find("m-0.5b-q4_k_m (q4_k_m)"), std::string::npos) << get(f, "w4-vs-w16").reason;
}

TEST(StudyFindings, EmptyDatabaseSaysSo) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  const auto f = check(b.store());
  ASSERT_EQ(f.size(), 9u);
  for (const Finding& x : f) {
    EXPECT_EQ(x.verdict, Verdict::kNotMeasurable) << x.id;
    EXPECT_EQ(x.reason, "the database holds no graded questions yet") << x.id;
  }
}

TEST(StudyFindings, TableFormats) {
  test::TempDir tmp;
  Builder b((tmp / "r.db").string());
  add_two_sizes(b);
  const auto f = check(b.store());
  const std::string md = findings_markdown(f);
  EXPECT_EQ(md.rfind("| finding | the paper (EdgeReasoning (arXiv 2511.01866))", 0), 0u) << md.substr(0, 80);
  size_t rows = 0;
  for (size_t p = md.find('\n'); p != std::string::npos; p = md.find('\n', p + 1)) ++rows;
  EXPECT_EQ(rows, 2 + f.size());  // header, rule, one row per finding (no newline inside a cell)
  EXPECT_NE(md.find("**reproduced**"), std::string::npos);
  const auto j = findings_json(f);
  ASSERT_EQ(j["findings"].size(), f.size());
  EXPECT_EQ(j["findings"][0]["id"], "decode-share");
  EXPECT_EQ(j["findings"][0]["verdict"], "reproduced");
  EXPECT_TRUE(j["findings"][0]["data"]["models"].contains("small-0.5b"));
  EXPECT_NE(findings_text(f).find("not measurable here"), std::string::npos);  // W4
}

}  // namespace
}  // namespace er::study
