// The built-in device profiles (see builtin_profiles.h). Datasheet numbers are reference.md §3;
// "derived" marks arithmetic of ours on them.
#include "perfmodel/builtin_profiles.h"

#include <unistd.h>

#include <cstdio>

#include "perfmodel/probe.h"

namespace er::perfmodel {
namespace {

// A Jetson module: bandwidth from the datasheet; compute derived from its GPU:
//   f32 = CUDA cores × max GPU clock × 2 (FMA);
//   f16 = SMs (cores / 128) × 1024 dense FP16 FMA per clock (Ampere tensor cores) × 2 × clock,
//         which gives the AGX Orin 64GB's 170 sparse INT8 TOPS / 4.
DeviceProfile jetson(const std::string& name, double bw_gbps, int cuda_cores, double gpu_ghz, bool ampere_tc,
                     const std::string& cpu, int n_cores, std::vector<std::string> isa) {
  DeviceProfile p;
  p.name = name;
  p.kind = "jetson";
  p.mem_bandwidth_gbps = bw_gbps;
  p.peak_gflops_f32 = cuda_cores * gpu_ghz * 2;
  if (ampere_tc) p.peak_gflops_f16 = cuda_cores / 128.0 * 1024 * 2 * gpu_ghz;
  p.cpu = cpu;
  p.n_cores = n_cores;
  p.isa = std::move(isa);
  p.measured = false;
  p.source = "datasheet (reference.md §3); compute derived: f32 = CUDA cores x max GPU clock x 2, "
             "f16 = SMs x 2048 flop/clock x clock (Ampere tensor cores, dense)";
  p.date = "2025-11-01";
  return p;
}

const std::vector<std::string> kA78 = {"neon", "dotprod", "fp16"};

// The CPU side of an edge board, for projecting our own CPU engine there (kind "cpu"): cores and
// max clock from the vendor's datasheet, memory bandwidth of the module's DRAM (shared with the GPU
// on Jetson; the CPU cluster alone reaches less of it: `probe` on the device measures that).
// Compute derived from the core's vector pipes:
//   f32  = cores x clock x (128-bit FMA pipes x 4 lanes x 2 flops)
//   int8 = cores x clock x (pipes x 16 byte products x 2 ops) with SDOT, x 2 again with SMMLA
//          (a 2x8x2 int8 matrix product per instruction: 32 multiply-adds instead of 16).
DeviceProfile edge_cpu(const std::string& name, const std::string& cpu, int n_cores, double ghz, int fma_pipes,
                       double bw_gbps, std::vector<std::string> isa, const std::string& datasheet) {
  DeviceProfile p;
  p.name = name;
  p.kind = "cpu";
  p.mem_bandwidth_gbps = bw_gbps;
  p.peak_gflops_f32 = n_cores * ghz * fma_pipes * 4 * 2;
  bool i8mm = false;
  for (const std::string& f : isa) i8mm = i8mm || f == "i8mm";
  p.peak_gops_int8 = n_cores * ghz * fma_pipes * 16 * 2 * (i8mm ? 2 : 1);
  char clock[16];
  std::snprintf(clock, sizeof clock, "%.1f", ghz);
  p.cpu = std::to_string(n_cores) + "x " + cpu + " @ " + clock + " GHz";
  p.n_cores = n_cores;
  p.isa = std::move(isa);
  p.measured = false;
  p.source = "datasheet (" + datasheet + "; reference.md §3, §10); compute derived: f32 = cores x clock x " +
             std::to_string(fma_pipes) + " 128-bit FMA pipes x 8 flop, int8 = cores x clock x " +
             std::to_string(fma_pipes) + " pipes x 32 op (SDOT)" + (i8mm ? " x 2 (SMMLA)" : "") +
             "; bandwidth is the module DRAM's, an upper bound for the CPU cluster";
  p.date = "2026-12-06";
  return p;
}

// The study's per-model entry: latency coefficients of its table, decode power below 65 tokens,
// steady decode power with τ (ΔP is not published: 0, i.e. energy = P∞·T, which reproduces the
// table's J/token), its measured TTFTs and decodes, and the model's shape for the roofline
// (derived from the Hugging Face configs: FLOPs and bytes exclude the input embedding table).
struct StudyModel {
  const char* name;
  double a, b, c, m, n;
  double p_short_a, p_short_b, p_inf_w, tau_s;
  double ttft_ms[4];                 // at I = 129, 513, 1027, 4097
  double decode_512_128, decode_512_1024;  // s; 0: not reported
  double n_params_matmul;            // parameters multiplied per token
  int64_t n_layer, n_head, n_head_kv, head_dim;
};

ModelCoefficients study_model(const StudyModel& s) {
  ModelCoefficients c;
  c.source = "EdgeReasoning study (arXiv 2511.01866), Jetson AGX Orin 64GB, vLLM 0.8.6 FP16; reference.md §2";
  c.prefill = PrefillLatencyModel{s.a, s.b, s.c, 128};
  c.decode = DecodeLatencyModel{s.m, s.n};
  DecodePowerModel dp;
  dp.short_max_tokens = 64;
  dp.short_run = LogPowerModel{s.p_short_a, s.p_short_b};
  dp.long_run = WarmupPowerModel{s.p_inf_w, 0.0, s.tau_s};
  c.decode_power = dp;
  ModelShape shape;
  shape.n_params = s.n_params_matmul;
  shape.weight_bytes = s.n_params_matmul * 2;  // FP16
  shape.n_layer = s.n_layer;
  shape.n_head = s.n_head;
  shape.head_dim = s.head_dim;
  shape.kv_bytes_per_token = static_cast<double>(2 * s.n_layer * s.n_head_kv * s.head_dim * 2);  // K+V, FP16
  shape.weights_16bit = true;
  c.shape = shape;
  const int64_t ttft_at[4] = {129, 513, 1027, 4097};
  for (int i = 0; i < 4; ++i) {
    MeasuredPoint p;
    p.n_prompt = ttft_at[i];
    p.prefill_s = s.ttft_ms[i] * 1e-3;
    p.what = "study: measured TTFT";
    c.measured.push_back(p);
  }
  const double decodes[2] = {s.decode_512_128, s.decode_512_1024};
  const int64_t gens[2] = {128, 1024};
  for (int i = 0; i < 2; ++i) {
    if (decodes[i] <= 0) continue;
    MeasuredPoint p;
    p.n_prompt = 512;
    p.n_gen = gens[i];
    p.decode_s = decodes[i];
    p.what = "study: measured decode";
    c.measured.push_back(p);
  }
  return c;
}

DeviceProfile study_orin() {
  DeviceProfile p = jetson("orin-agx-64-vllm-fp16", 204.8, 2048, 1.3, true, "12x Cortex-A78AE", 12, kA78);
  p.source = "EdgeReasoning study setup (Jetson AGX Orin 64GB, MAXN, vLLM 0.8.6, FP16) with its fitted "
             "coefficients and measurements (reference.md §2); " + p.source;
  // name, a, b, c, m, n, short a, short b, P∞, τ, TTFTs, decodes, matmul params, layers, heads, kv heads, head dim
  const StudyModel models[] = {
      // Qwen2.5-Math-1.5B shape: 1.777e9 parameters − 151936 × 1536 embedding.
      {"DSR1-Qwen-1.5B", 1.5636e-7, 2.3096e-6, 0.04598, 1.4968e-7, 0.023634, 3.214, 0.757, 25.4, 1.6,
       {49, 101, 174, 648}, 3.80, 27.7, 1.777e9 - 151936.0 * 1536, 28, 12, 2, 128},
      // Llama-3.1-8B shape: 8.03e9 − 128256 × 4096.
      {"DSR1-Llama-8B", 6.6452e-7, 2.9035e-4, 0.10381, 6.9202e-7, 0.100384, 2.702, 8.807, 27.8, 1.4,
       {188, 544, 988, 3512}, 0, 0, 8.03e9 - 128256.0 * 4096, 32, 32, 8, 128},
      // Qwen2.5-14B shape: 14.77e9 − 152064 × 5120.
      {"DSR1-Qwen-14B", 1.2330e-6, 5.3045e-4, 0.18858, 1.1302e-6, 0.186554, 1.619, 16.887, 28.1, 1.1,
       {339, 997, 1824, 6631}, 23.7, 190.5, 14.77e9 - 152064.0 * 5120, 48, 40, 8, 128},
  };
  for (const StudyModel& m : models) p.models[m.name] = study_model(m);
  return p;
}

}  // namespace

std::vector<std::string> builtin_profile_names() {
  return {"host",
          "jetson-agx-orin-64gb",
          "jetson-agx-orin-32gb",
          "jetson-orin-nx-16gb",
          "jetson-orin-nano-8gb",
          "jetson-orin-nano-4gb",
          "jetson-agx-thor",
          "orin-agx-64-vllm-fp16",
          "jetson-agx-orin-cpu",
          "jetson-orin-nx-cpu",
          "jetson-orin-nano-cpu",
          "jetson-agx-thor-cpu",
          "raspberry-pi-5"};
}

std::optional<DeviceProfile> builtin_profile(const std::string& name) {
  // Max GPU clocks (datasheets): AGX Orin 64GB 1.3 GHz, 32GB 0.93 GHz, Orin NX 16GB 0.918 GHz,
  // Orin Nano 0.625 GHz (non-Super), Thor 1.575 GHz.
  if (name == "jetson-agx-orin-64gb") return jetson(name, 204.8, 2048, 1.3, true, "12x Cortex-A78AE", 12, kA78);
  if (name == "jetson-agx-orin-32gb") return jetson(name, 204.8, 1792, 0.93, true, "8x Cortex-A78AE", 8, kA78);
  if (name == "jetson-orin-nx-16gb") return jetson(name, 102.4, 1024, 0.918, true, "8x Cortex-A78AE", 8, kA78);
  if (name == "jetson-orin-nano-8gb") return jetson(name, 68.0, 1024, 0.625, true, "6x Cortex-A78AE", 6, kA78);
  if (name == "jetson-orin-nano-4gb") return jetson(name, 34.0, 512, 0.625, true, "6x Cortex-A78AE", 6, kA78);
  if (name == "jetson-agx-thor") {
    // Blackwell tensor-core rates are not in reference.md: f16 left unknown (prefill bound by f32).
    DeviceProfile p = jetson(name, 273.0, 2560, 1.575, false, "14x Neoverse-V3AE", 14, {"neon", "dotprod", "sve2"});
    return p;
  }
  if (name == "orin-agx-64-vllm-fp16") return study_orin();
  // The CPU side (our engine on the board's cores). Cortex-A78AE and A76: two 128-bit NEON pipes;
  // Neoverse-V3AE: four 128-bit SVE2 / NEON pipes.
  if (name == "jetson-agx-orin-cpu") {
    return edge_cpu(name, "Cortex-A78AE", 12, 2.2, 2, 204.8, kA78, "Jetson AGX Orin 64GB: 12 cores, 2.2 GHz, LPDDR5 204.8 GB/s");
  }
  if (name == "jetson-orin-nx-cpu") {
    return edge_cpu(name, "Cortex-A78AE", 8, 2.0, 2, 102.4, kA78, "Jetson Orin NX 16GB: 8 cores, 2.0 GHz, LPDDR5 102.4 GB/s");
  }
  if (name == "jetson-orin-nano-cpu") {
    return edge_cpu(name, "Cortex-A78AE", 6, 1.5, 2, 68.0, kA78,
                    "Jetson Orin Nano 8GB: 6 cores, 1.5 GHz (1.7 GHz Super), LPDDR5 68 GB/s (102 GB/s Super)");
  }
  if (name == "jetson-agx-thor-cpu") {
    return edge_cpu(name, "Neoverse-V3AE", 14, 2.6, 4, 273.0, {"neon", "dotprod", "i8mm", "bf16", "sve2"},
                    "Jetson AGX Thor: 14 cores, 2.6 GHz, LPDDR5X 273 GB/s");
  }
  if (name == "raspberry-pi-5") {
    return edge_cpu(name, "Cortex-A76", 4, 2.4, 2, 17.1, {"neon", "dotprod", "fp16"},
                    "Raspberry Pi 5: BCM2712, 4 cores, 2.4 GHz, 32-bit LPDDR4X-4267 = 17.1 GB/s");
  }
  return std::nullopt;
}

Result<DeviceProfile> resolve_device(const std::string& spec, std::string* note) {
  if (spec.empty()) return Status::invalid("${device}: empty (a built-in name or a profile JSON path)");
  if (spec == "host") {
    const std::string path = default_profile_path();
    if (!path.empty() && access(path.c_str(), R_OK) == 0) {
      Result<DeviceProfile> p = load_device_profile(path);
      if (!p.is_ok()) return p.status().with_context("${device} host");
      if (note != nullptr) *note = "host profile from " + path;
      return p;
    }
    ProbeOptions po;
    po.seconds = 2.0;
    Result<ProbeReport> r = run_probe(po);
    if (!r.is_ok()) return r.status().with_context("${device} host: probe");
    if (note != nullptr) *note = "no saved host profile (run `edgereason probe -o`): measured a quick 2 s probe";
    return profile_from_probe(*r, "predict quick probe");
  }
  if (std::optional<DeviceProfile> p = builtin_profile(spec)) return *p;
  if (spec.find('/') != std::string::npos || spec.find(".json") != std::string::npos || access(spec.c_str(), R_OK) == 0) {
    Result<DeviceProfile> p = load_device_profile(spec);
    if (!p.is_ok()) return p.status().with_context("${device}");
    return p;
  }
  std::string names;
  for (const std::string& n : builtin_profile_names()) names += (names.empty() ? "" : ", ") + n;
  return Status::invalid("${device} '" + spec + "': not a built-in profile (" + names + ") nor a readable JSON file");
}

}  // namespace er::perfmodel
