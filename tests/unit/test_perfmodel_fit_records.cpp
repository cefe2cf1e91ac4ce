// Records to fits: bench records (as `bench -o jsonl` writes them) and loose eval records become
// observations; fitting synthetic records recovers the models that made them and scores the
// held-out points; energy-less records say so; bad lines are named.
#include <gtest/gtest.h>

#include <cmath>

#include "perfmodel/extrapolation.h"
#include "perfmodel/fit_records.h"
#include "report/bench_record.h"

namespace er::perfmodel {
namespace {

const PrefillLatencyModel kPrefill{2e-8, 2.5e-3, 0.004, 1};
const DecodeLatencyModel kDecode{3e-6, 0.009};

report::BenchRecord base(const std::string& test) {
  report::BenchRecord r;
  r.model_filename = "/x/models/smollm2.gguf";
  r.test = test;
  r.n_reps = 3;
  r.n_paths = 1;
  return r;
}

// Bench records of the synthetic models: pp at each I, pp+tg at each (I, O), optional energy.
std::string synthetic_jsonl(bool energy) {
  std::string out;
  for (int64_t i = 32; i <= 1024; i += 32) {
    report::BenchRecord r = base("pp" + std::to_string(i));
    r.n_prompt = i;
    const double s = kPrefill.seconds(i);
    r.samples_ns = {static_cast<int64_t>(s * 1e9 * 1.01), static_cast<int64_t>(s * 1e9), static_cast<int64_t>(s * 1e9 * 0.98)};
    out += report::to_json(r).dump() + "\n";
  }
  for (int64_t i : {16, 128, 512, 1024, 2048}) {
    for (int64_t o : {8, 32, 128, 256}) {
      report::BenchRecord r = base("pp" + std::to_string(i) + "+tg" + std::to_string(o));
      r.n_prompt = i;
      r.n_gen = o;
      const double d = kDecode.seconds(i, o);
      r.ttft_ms = kPrefill.seconds(i) * 1e3;
      r.tpot_ms = d / static_cast<double>(o) * 1e3;
      r.samples_ns = {static_cast<int64_t>((kPrefill.seconds(i) + d) * 1e9)};
      if (energy) {
        r.prefill_j = 30.0 * kPrefill.seconds(i);                          // 30 W flat
        r.decode_j = o <= 64 ? (2.0 * std::log(o) + 20) * d                // log model
                             : WarmupPowerModel{28, 6, 0.5}.energy_j(d);  // warm-up model
      }
      out += report::to_json(r).dump() + "\n";
    }
  }
  return out;
}

TEST(PerfmodelFitRecords, BenchRecordsBecomeObservations) {
  int64_t skipped = 0;
  Result<std::vector<Observation>> obs = parse_observations(synthetic_jsonl(false), "x.jsonl", &skipped);
  ASSERT_TRUE(obs.is_ok()) << obs.status().message();
  EXPECT_EQ(skipped, 0);
  ASSERT_EQ(obs->size(), 32u + 20u);
  const Observation& pp = (*obs)[0];
  EXPECT_EQ(pp.model, "smollm2");
  EXPECT_EQ(pp.kind, "bench pp");
  EXPECT_EQ(pp.n_prompt, 32);
  EXPECT_NEAR(*pp.prefill_s, kPrefill.seconds(32), 1e-9);  // the median sample
  EXPECT_EQ(pp.origin, "x.jsonl:1");
  const Observation& pg = (*obs)[32];
  EXPECT_EQ(pg.kind, "bench pp+tg");
  EXPECT_EQ(pg.n_prompt, 16);
  EXPECT_EQ(pg.n_gen, 8);
  EXPECT_NEAR(*pg.decode_s, kDecode.seconds(16, 8), 1e-12);
  EXPECT_FALSE(pg.decode_j.has_value());
  // A JSON array (bench -o json) reads the same.
  std::string arr = "[";
  for (size_t p = 0, q; (q = synthetic_jsonl(false).find('\n', p)) != std::string::npos; p = q + 1) {
    arr += (arr.size() > 1 ? "," : "") + synthetic_jsonl(false).substr(p, q - p);
  }
  arr += "]";
  Result<std::vector<Observation>> a = parse_observations(arr, "x.json", nullptr);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_EQ(a->size(), obs->size());
  EXPECT_EQ((*a)[1].origin, "x.json[1]");
}

TEST(PerfmodelFitRecords, TgRecordsDecodeAfterAOneTokenPrompt) {
  report::BenchRecord r = base("tg64");
  r.n_gen = 64;
  r.samples_ns = {640000000, 650000000, 600000000};
  Result<std::vector<Observation>> obs = parse_observations(report::to_json(r).dump(), "t", nullptr);
  ASSERT_TRUE(obs.is_ok());
  ASSERT_EQ(obs->size(), 1u);
  EXPECT_EQ((*obs)[0].n_prompt, 1);
  EXPECT_EQ((*obs)[0].n_gen, 64);
  EXPECT_NEAR(*(*obs)[0].decode_s, 0.64, 1e-12);
}

TEST(PerfmodelFitRecords, EvalRecordsReadLoosely) {
  const std::string text =
      R"({"model": "models/qwen.gguf", "n_prompt": 100, "thinking_tokens": 90, "answer_tokens": 11, "prefill_ms": 250, "decode_ms": 3000, "energy": {"prefill_j": 5, "decode_j": 60}})"
      "\n"
      R"({"model_name": "qwen", "prompt_tokens": 50, "completion_tokens": 20, "ttft_ms": 120, "decode_ms": 500, "paths": 4})"
      "\n"
      R"({"question": "no timings here"})"
      "\n";
  int64_t skipped = 0;
  Result<std::vector<Observation>> obs = parse_observations(text, "e.jsonl", &skipped);
  ASSERT_TRUE(obs.is_ok()) << obs.status().message();
  EXPECT_EQ(skipped, 1);
  ASSERT_EQ(obs->size(), 2u);
  const Observation& a = (*obs)[0];
  EXPECT_EQ(a.model, "qwen");
  EXPECT_EQ(a.kind, "eval");
  EXPECT_EQ(a.n_gen, 100);  // 101 generated tokens − the first, which came with the prefill
  EXPECT_NEAR(*a.prefill_s, 0.25, 1e-12);
  EXPECT_NEAR(*a.decode_s, 3.0, 1e-12);
  EXPECT_NEAR(*a.decode_j, 60, 1e-12);
  EXPECT_NEAR(*a.prefill_j, 5, 1e-12);
  const Observation& b = (*obs)[1];
  EXPECT_EQ(b.n_paths, 4);
  EXPECT_EQ(b.n_gen, 19);  // completion tokens count the first token too
  EXPECT_NEAR(*b.prefill_s, 0.12, 1e-12);
}

TEST(PerfmodelFitRecords, BadLinesAreNamed) {
  Result<std::vector<Observation>> r = parse_observations("{\"test\": \"pp8\"}\n{oops\n", "f.jsonl", nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("f.jsonl:1"), std::string::npos) << r.status().message();  // no model_filename
  r = parse_observations(R"({"model": "m", "n_prompt": 5, "prefill_ms": "slow"})" "\n{oops\n", "f.jsonl", nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("prefill_ms"), std::string::npos) << r.status().message();
  r = parse_observations(R"({"model": "m", "n_prompt": 5, "prefill_ms": 3})" "\n{oops\n", "f.jsonl", nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("f.jsonl:2: not valid JSON"), std::string::npos) << r.status().message();
}

const QuantityFit& find_fit(const ModelFitReport& r, const std::string& q) {
  for (const QuantityFit& f : r.fits) {
    if (f.quantity == q) return f;
  }
  ADD_FAILURE() << "no fit " << q;
  static const QuantityFit none;
  return none;
}

TEST(PerfmodelFitRecords, SyntheticRecordsGiveBackTheirModels) {
  Result<std::vector<Observation>> obs = parse_observations(synthetic_jsonl(false), "x", nullptr);
  ASSERT_TRUE(obs.is_ok());
  FitOptions o;
  o.holdout = 0.25;
  Result<std::vector<ModelFitReport>> reps = fit_observations(*obs, o);
  ASSERT_TRUE(reps.is_ok()) << reps.status().message();
  ASSERT_EQ(reps->size(), 1u);
  const ModelFitReport& r = (*reps)[0];
  EXPECT_EQ(r.model, "smollm2");
  const ModelCoefficients& c = r.coefficients;
  ASSERT_TRUE(c.prefill && c.decode);
  // The pp medians are the exact model values (samples 1.01x, 1x, 0.98x), up to ns rounding.
  EXPECT_NEAR(c.prefill->a, kPrefill.a, 1e-4 * kPrefill.a);
  EXPECT_NEAR(c.prefill->b, kPrefill.b, 1e-5 * kPrefill.b);
  EXPECT_NEAR(c.decode->m, kDecode.m, 1e-6 * kDecode.m);
  EXPECT_NEAR(c.decode->n, kDecode.n, 1e-6 * kDecode.n);
  const QuantityFit& pf = find_fit(r, "prefill_latency");
  EXPECT_EQ(pf.n_points, 32);
  EXPECT_EQ(pf.n_test, 8);
  EXPECT_EQ(pf.n_train, 24);
  ASSERT_TRUE(pf.mape_pct.has_value());
  EXPECT_LT(*pf.mape_pct, 1e-3);
  EXPECT_GT(*pf.r2, 0.999999);
  EXPECT_EQ(pf.held_out.size(), 8u);
  const QuantityFit& df = find_fit(r, "decode_latency");
  EXPECT_EQ(df.n_test, 5);
  EXPECT_LT(*df.mape_pct, 1e-6);
  // No energy: the note, and no power models.
  EXPECT_FALSE(c.decode_power.has_value());
  EXPECT_NE(std::find(r.notes.begin(), r.notes.end(), "no energy in the records; power models not fitted"), r.notes.end());
  // Measured points: one per pp size and per pp+tg pair.
  EXPECT_EQ(c.measured.size(), 32u + 20u);
  // The same inputs and seed give the same fit.
  Result<std::vector<ModelFitReport>> again = fit_observations(*obs, o);
  EXPECT_EQ(to_json(find_fit((*again)[0], "prefill_latency")), to_json(pf));
}

TEST(PerfmodelFitRecords, FitsRecordTheirRangesAndExtrapolationIsNamed) {
  Result<std::vector<Observation>> obs = parse_observations(synthetic_jsonl(false), "x", nullptr);
  ASSERT_TRUE(obs.is_ok());
  Result<std::vector<ModelFitReport>> reps = fit_observations(*obs, FitOptions{});
  ASSERT_TRUE(reps.is_ok()) << reps.status().message();
  const ModelCoefficients& c = (*reps)[0].coefficients;
  // pp32..pp1024; pp+tg at I in {16 .. 2048}, O in {8 .. 256}: contexts 16 to 2048 + 256.
  ASSERT_EQ(c.ranges.count("prefill_latency"), 1u);
  const FitRange& pr = c.ranges.at("prefill_latency");
  EXPECT_EQ(pr.n_points, 32);
  EXPECT_EQ(pr.n_prompt.min, 32);
  EXPECT_EQ(pr.n_prompt.max, 1024);
  EXPECT_FALSE(pr.n_gen.has_value());
  ASSERT_EQ(c.ranges.count("decode_latency"), 1u);
  const FitRange& dr = c.ranges.at("decode_latency");
  EXPECT_EQ(dr.n_points, 20);
  ASSERT_TRUE(dr.n_gen && dr.context);
  EXPECT_EQ(dr.n_gen->min, 8);
  EXPECT_EQ(dr.n_gen->max, 256);
  EXPECT_EQ(dr.context->min, 16);
  EXPECT_EQ(dr.context->max, 2304);
  // The fit report carries it too, and the coefficients' JSON round-trips it.
  const nlohmann::ordered_json fj = to_json(find_fit((*reps)[0], "decode_latency"));
  EXPECT_EQ(fj["range"]["context"], nlohmann::json::array({16, 2304})) << fj.dump();
  Result<ModelCoefficients> back = model_coefficients_from_json(nlohmann::json::parse(to_json(c).dump()));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  ASSERT_EQ(back->ranges.size(), c.ranges.size());
  EXPECT_EQ(back->ranges.at("decode_latency").context->max, 2304);
  EXPECT_EQ(to_json(back->ranges.at("prefill_latency")), to_json(pr));

  // Inside every range: nothing to say.
  ExtrapolationCheck inside(c, "smollm2");
  inside.add(512, 128, 1);
  inside.add(32, 8, 1);
  EXPECT_TRUE(inside.warnings().empty());
  // A 4096-token prompt with a 16-token answer leaves both latency fits; the lines name the model,
  // the fit, its range and the point.
  ExtrapolationCheck out(c, "smollm2");
  out.add(4096, 16, 1);
  const std::vector<std::string> w = out.warnings();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "extrapolating: smollm2 decode_latency was fitted on context 16-2304 tokens (prompt 16-2048, "
                  "output 8-256) (20 points); requested prompt 4096, output 16 (context 4096-4112)");
  EXPECT_EQ(w[1], "extrapolating: smollm2 prefill_latency was fitted on prompt 32-1024 tokens (32 points); "
                  "requested prompt 4096");
  // Several points: the farthest one, and how many were outside.
  ExtrapolationCheck many(c, "smollm2");
  many.add(100, 2300, 1);
  many.add(100, 100, 1);
  many.add(100, 3000, 1);
  const std::vector<std::string> wm = many.warnings();
  ASSERT_EQ(wm.size(), 1u);
  EXPECT_NE(wm[0].find("requested prompt 100, output 3000 (context 100-3100) (the farthest of 2 of 3 points outside)"),
            std::string::npos) << wm[0];
  // Four paths: no four-path fit, so the one-path fit's range applies.
  ExtrapolationCheck paths(c, "smollm2");
  paths.add(100, 3000, 4);
  EXPECT_EQ(paths.warnings().size(), 1u);

  // Coefficients fitted before ranges were recorded: unknown, not silently in range.
  ModelCoefficients old = c;
  old.ranges.clear();
  old.fit = {{"date", "2026-01-01"}};
  EXPECT_TRUE(ExtrapolationCheck(old, "smollm2").ranges_unknown());
  EXPECT_FALSE(ExtrapolationCheck(c, "smollm2").ranges_unknown());
  // A damaged range is named.
  nlohmann::json bad = nlohmann::json::parse(to_json(c).dump());
  bad["ranges"]["decode_latency"]["context"] = {300, 10};
  Result<ModelCoefficients> b = model_coefficients_from_json(bad);
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("ranges.decode_latency.context"), std::string::npos) << b.status().message();
}

TEST(PerfmodelFitRecords, FitOnlyPointsAreNeverHeldOut) {
  // Ten decode points marked fit_only (O = 100..109) and ten others (O = 10..19), half held out:
  // only the others are ever held out, and the fit_only ones count in the range.
  std::vector<Observation> obs;
  for (int64_t k = 0; k < 20; ++k) {
    Observation x;
    x.model = "m";
    x.n_prompt = 50 + 10 * k;
    x.n_gen = k < 10 ? 100 + k : k;
    x.decode_s = kDecode.seconds(x.n_prompt, x.n_gen);
    x.fit_only = k < 10;
    x.kind = "test";
    obs.push_back(x);
  }
  FitOptions o;
  o.holdout = 0.5;
  Result<std::vector<ModelFitReport>> reps = fit_observations(obs, o);
  ASSERT_TRUE(reps.is_ok()) << reps.status().message();
  const QuantityFit& df = find_fit((*reps)[0], "decode_latency");
  EXPECT_EQ(df.n_test, 5);
  EXPECT_EQ(df.n_train, 15);
  for (const auto& h : df.held_out) EXPECT_LT(h["n_gen"].get<int64_t>(), 100) << df.held_out.dump();
  EXPECT_EQ(df.range->n_gen->max, 109);
  EXPECT_EQ(df.range->context->max, 240 + 19);  // the longest I + O
}

TEST(PerfmodelFitRecords, EnergyRecordsGivePowerModels) {
  Result<std::vector<Observation>> obs = parse_observations(synthetic_jsonl(true), "x", nullptr);
  ASSERT_TRUE(obs.is_ok());
  FitOptions o;
  o.holdout = 0.2;
  Result<std::vector<ModelFitReport>> reps = fit_observations(*obs, o);
  ASSERT_TRUE(reps.is_ok()) << reps.status().message();
  const ModelCoefficients& c = (*reps)[0].coefficients;
  ASSERT_TRUE(c.decode_power.has_value());
  ASSERT_TRUE(c.decode_power->short_run && c.decode_power->long_run);
  EXPECT_NEAR(c.decode_power->short_run->a, 2.0, 1e-6);
  EXPECT_NEAR(c.decode_power->short_run->b, 20.0, 1e-6);
  EXPECT_NEAR(c.decode_power->long_run->p_inf_w, 28, 1e-4);
  EXPECT_NEAR(c.decode_power->long_run->tau_s, 0.5, 1e-3);
  ASSERT_TRUE(c.prefill_power.has_value());
  EXPECT_NEAR(c.prefill_power->watts(100), 30, 1e-6);
  EXPECT_NEAR(c.prefill_power->watts(2000), 30, 1e-6);
  EXPECT_LT(*find_fit((*reps)[0], "decode_energy_long").mape_pct, 1e-3);
}

TEST(PerfmodelFitRecords, NothingFittableIsAnError) {
  Result<std::vector<ModelFitReport>> r = fit_observations({}, FitOptions{});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  FitOptions bad;
  bad.holdout = 1.0;
  Observation x;
  x.model = "m";
  x.n_prompt = 8;
  x.prefill_s = 0.1;
  EXPECT_FALSE(fit_observations({x}, bad).is_ok());
  // One prompt size cannot determine a quadratic.
  std::vector<Observation> same(5, x);
  r = fit_observations(same, FitOptions{});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("prefill_latency"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace er::perfmodel
