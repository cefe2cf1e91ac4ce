// Analytic models and the roofline by hand: padding, the study's quoted predictions from its
// coefficients, the warm-up energy's closed form against numerical integration, the roofline on a
// tiny made-up device and model, the model block of a profile through JSON.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>

#include "perfmodel/analytic.h"
#include "perfmodel/builtin_profiles.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/roofline.h"

namespace er::perfmodel {
namespace {

TEST(PerfmodelAnalytic, Padding) {
  EXPECT_EQ(padded_length(512, 128), 512);
  EXPECT_EQ(padded_length(513, 128), 640);
  EXPECT_EQ(padded_length(1, 128), 128);
  EXPECT_EQ(padded_length(0, 128), 0);
  EXPECT_EQ(padded_length(37, 1), 37);
}

TEST(PerfmodelAnalytic, StudyProfileReproducesTheQuotedPredictions) {
  const std::optional<DeviceProfile> p = builtin_profile("orin-agx-64-vllm-fp16");
  ASSERT_TRUE(p.has_value());
  const ModelCoefficients& m = p->models.at("DSR1-Qwen-1.5B");
  ASSERT_TRUE(m.prefill && m.decode);
  // By hand: 1.5636e-7·512² + 2.3096e-6·512 + 0.04598 = 0.0409887 + 0.0011825 + 0.04598 = 0.0881514 s.
  const double prefill = m.prefill->seconds(512);
  EXPECT_NEAR(prefill, 0.0881514, 1e-6);
  EXPECT_NEAR(prefill, 0.088, 0.088 * 0.01);  // the study's 0.088 s, within 1%
  // 0.023634·128 + 1.4968e-7·(512·128 + 128·127/2) = 3.025152 + 1.4968e-7·73664 = 3.0361781 s.
  const double decode = m.decode->seconds(512, 128);
  EXPECT_NEAR(decode, 3.0361781, 1e-6);
  EXPECT_NEAR(decode, 3.04, 3.04 * 0.01);
  // 129 tokens pad to 256 on the Orin: 1.5636e-7·65536 + 2.3096e-6·256 + 0.04598 = 0.0568185 s.
  EXPECT_NEAR(m.prefill->seconds(129), 0.0568185, 1e-6);
  // The study's own long-run J/token (≈0.6 / 2.8 / 5.3) from P∞ × n (ΔP = 0).
  const double expected_j[] = {0.6, 2.8, 5.3};
  const char* names[] = {"DSR1-Qwen-1.5B", "DSR1-Llama-8B", "DSR1-Qwen-14B"};
  for (int i = 0; i < 3; ++i) {
    const ModelCoefficients& c = p->models.at(names[i]);
    const double t = c.decode->seconds(512, 1024);
    const double j_per_token = c.decode_power->energy_j(1024, t) / 1024;
    EXPECT_NEAR(j_per_token, expected_j[i], 0.1) << names[i];
  }
}

TEST(PerfmodelAnalytic, WarmupEnergyMatchesNumericalIntegration) {
  const WarmupPowerModel w{25.4, 10.0, 1.6};
  for (double T : {0.1, 1.0, 5.0, 30.0}) {
    const int n = 200000;
    double e = 0;
    for (int k = 0; k < n; ++k) {
      const double t = (k + 0.5) * T / n;
      e += (w.p_inf_w - w.delta_p_w * std::exp(-t / w.tau_s)) * T / n;
    }
    EXPECT_NEAR(w.energy_j(T), e, 1e-6 * e) << T;
    EXPECT_NEAR(w.mean_watts(T), e / T, 1e-6 * e / T);
  }
  // Short runs use the log model, long runs the warm-up model.
  DecodePowerModel d;
  d.short_run = LogPowerModel{3.0, 1.0};
  d.long_run = w;
  EXPECT_FALSE(d.uses_long_run(64));
  EXPECT_TRUE(d.uses_long_run(65));
  EXPECT_NEAR(d.mean_watts(8, 0.2), 3.0 * std::log(8.0) + 1.0, 1e-12);
  EXPECT_NEAR(d.energy_j(100, 3.0), w.energy_j(3.0), 1e-12);
}

// A made-up device (100 GB/s, 1000 GFLOP/s f32) and model (1e9 parameters, 2e9 bytes, 1e5 KV bytes
// per token, 2 layers × 4 heads × 8 dims).
DeviceProfile tiny_device() {
  DeviceProfile d;
  d.name = "tiny";
  d.kind = "test";
  d.mem_bandwidth_gbps = 100;
  d.peak_gflops_f32 = 1000;
  d.n_cores = 1;
  return d;
}

ModelShape tiny_model() {
  ModelShape s;
  s.n_params = 1e9;
  s.weight_bytes = 2e9;
  s.kv_bytes_per_token = 1e5;
  s.n_layer = 2;
  s.n_head = 4;
  s.head_dim = 8;
  return s;
}

TEST(PerfmodelRoofline, HandComputedTinyCase) {
  const DeviceProfile d = tiny_device();
  const ModelShape s = tiny_model();
  // Decode steps at contexts 11 and 12: bytes 2e9 + 1e5·ctx over 1e11 B/s = 20.011 ms and 20.012 ms;
  // FLOPs 2e9 + 4·2·32·ctx over 1e12 ≈ 2 ms: memory-bound.
  RooflineResult r = roofline(d, s, 10, 2, 1);
  EXPECT_NEAR(r.decode_s, 0.020011 + 0.020012, 1e-12);
  EXPECT_EQ(r.decode_bound, "memory");
  EXPECT_EQ(r.peak.name, "peak_gflops_f32");
  // Prefill of 10: FLOPs 2e10 + 2·2·32·100 = 2.00000128e10 → 20.0000128 ms; bytes 2e9 + 1e6 →
  // 20.01 ms: memory-bound.
  EXPECT_NEAR(r.prefill_s, 0.02001, 1e-12);
  EXPECT_EQ(r.prefill_bound, "memory");
  // Prefill of 100: FLOPs 2e11 + 2·2·32·1e4 = 2.0000128e11 → 200.00128 ms: compute-bound.
  r = roofline(d, s, 100, 0, 1);
  EXPECT_NEAR(r.prefill_s, 0.20000128, 1e-12);
  EXPECT_EQ(r.prefill_bound, "compute");
  EXPECT_EQ(r.decode_s, 0.0);
  // 4 paths at context 11: weights once, KV four times: (2e9 + 4·1.1e6) / 1e11 = 20.044 ms;
  // FLOPs 4·(2e9 + 2816) / 1e12 ≈ 8 ms.
  r = roofline(d, s, 10, 1, 4);
  EXPECT_NEAR(r.decode_s, 0.020044, 1e-12);
  // 600 paths: compute binds (600·2e9 / 1e12 = 1.2 s > (2e9 + 600·1.1e6) / 1e11 = 26.6 ms).
  r = roofline(d, s, 10, 1, 600);
  EXPECT_NEAR(r.decode_s, 600 * (2e9 + 4.0 * 2 * 32 * 11) / 1e12, 1e-9);
  EXPECT_EQ(r.decode_bound, "compute");
}

TEST(PerfmodelRoofline, PeakFollowsTheWeights) {
  DeviceProfile d = tiny_device();
  ModelShape s = tiny_model();
  d.peak_gops_int8 = 4000;
  EXPECT_EQ(compute_peak(d, s).name, "peak_gflops_f32");  // 16-bit weights ignore the int8 rate
  s.weights_16bit = false;
  EXPECT_EQ(compute_peak(d, s).name, "peak_gops_int8");
  EXPECT_EQ(compute_peak(d, s).gflops, 4000);
  d.peak_gops_int8.reset();
  d.peak_gflops_f16 = 2000;
  EXPECT_EQ(compute_peak(d, s).name, "peak_gflops_f16");
  d.peak_gflops_f16.reset();
  d.peak_gflops_f32.reset();
  EXPECT_EQ(compute_peak(d, s).name, "none");
  // Bandwidth only.
  const RooflineResult r = roofline(d, s, 100, 1, 1);
  EXPECT_NEAR(r.prefill_s, (2e9 + 1e7) / 1e11, 1e-12);
}

TEST(PerfmodelAnalytic, ProfileModelsRoundTripAndBadFieldsAreNamed) {
  DeviceProfile p = *builtin_profile("orin-agx-64-vllm-fp16");
  p.models["DSR1-Qwen-1.5B"].decode_by_paths[4] = DecodeLatencyModel{2e-7, 0.03};
  const nlohmann::ordered_json j = to_json(p);
  Result<DeviceProfile> back = profile_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(to_json(*back), j);
  EXPECT_EQ(back->models.size(), 3u);
  EXPECT_EQ(back->models.at("DSR1-Qwen-1.5B").decode_by_paths.at(4).n, 0.03);
  EXPECT_EQ(back->models.at("DSR1-Qwen-14B").measured.size(), 6u);
  EXPECT_TRUE(back->peak_gflops_f16.has_value());

  nlohmann::json bad = j;
  bad["models"]["DSR1-Qwen-1.5B"]["decode"]["m"] = "fast";
  Result<DeviceProfile> r = profile_from_json(bad);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("models.DSR1-Qwen-1.5B"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("decode.m"), std::string::npos) << r.status().message();
  bad = j;
  bad["models"]["DSR1-Qwen-14B"]["prefill"]["pad"] = 0;
  r = profile_from_json(bad);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("prefill.pad"), std::string::npos) << r.status().message();
  // A profile without the perf-model block (older files) still loads.
  nlohmann::json old = j;
  old.erase("models");
  old.erase("peak_gflops_f16");
  EXPECT_TRUE(profile_from_json(old).is_ok());
}

TEST(PerfmodelAnalytic, BuiltinProfilesAreComplete) {
  for (const std::string& name : builtin_profile_names()) {
    if (name == "host") continue;
    const std::optional<DeviceProfile> p = builtin_profile(name);
    ASSERT_TRUE(p.has_value()) << name;
    EXPECT_EQ(p->name, name);
    EXPECT_GT(p->mem_bandwidth_gbps, 0) << name;
    EXPECT_TRUE(profile_from_json(to_json(*p)).is_ok()) << name;
  }
  EXPECT_EQ(builtin_profile("jetson-orin-nano-8gb")->mem_bandwidth_gbps, 68.0);
  EXPECT_EQ(builtin_profile("jetson-agx-thor")->mem_bandwidth_gbps, 273.0);
  EXPECT_FALSE(builtin_profile("jetson-nope").has_value());
  std::string note;
  Result<DeviceProfile> r = resolve_device("jetson-nope", &note);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("orin-agx-64-vllm-fp16"), std::string::npos);
}

// The CPU side of the ARM edge boards (our engine on their cores): datasheet cores, clocks,
// bandwidth and SIMD levels, compute derived from the vector pipes.
TEST(PerfmodelAnalytic, ArmEdgeCpuProfiles) {
  struct Want {
    const char* name;
    int64_t cores;
    double bw, gflops;
    bool i8mm;
  };
  const Want wants[] = {
      {"jetson-agx-orin-cpu", 12, 204.8, 12 * 2.2 * 16, false}, {"jetson-orin-nx-cpu", 8, 102.4, 8 * 2.0 * 16, false},
      {"jetson-orin-nano-cpu", 6, 68.0, 6 * 1.5 * 16, false},   {"jetson-agx-thor-cpu", 14, 273.0, 14 * 2.6 * 32, true},
      {"raspberry-pi-5", 4, 17.1, 4 * 2.4 * 16, false},
  };
  for (const Want& w : wants) {
    const std::optional<DeviceProfile> p = builtin_profile(w.name);
    ASSERT_TRUE(p.has_value()) << w.name;
    EXPECT_EQ(p->kind, "cpu") << w.name;
    EXPECT_EQ(p->n_cores, w.cores) << w.name;
    EXPECT_DOUBLE_EQ(p->mem_bandwidth_gbps, w.bw) << w.name;
    ASSERT_TRUE(p->peak_gflops_f32.has_value()) << w.name;
    EXPECT_NEAR(*p->peak_gflops_f32, w.gflops, 1e-9) << w.name;
    ASSERT_TRUE(p->peak_gops_int8.has_value()) << w.name;
    EXPECT_NEAR(*p->peak_gops_int8, *p->peak_gflops_f32 * 4 * (w.i8mm ? 2 : 1), 1e-9) << w.name;
    EXPECT_NE(std::find(p->isa.begin(), p->isa.end(), "dotprod"), p->isa.end()) << w.name;
    EXPECT_EQ(std::find(p->isa.begin(), p->isa.end(), "i8mm") != p->isa.end(), w.i8mm) << w.name;
    EXPECT_FALSE(p->measured);
  }
}

}  // namespace
}  // namespace er::perfmodel
