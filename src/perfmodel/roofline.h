// The roofline: lower bounds on prefill and decode time from a device's memory bandwidth and peak
// compute, for a model's shape. Decode: each step reads the weights once and the KV cache once per
// path; prefill: the prompt's FLOPs over the peak, or one pass over the weights, whichever is longer.
#pragma once

#include <cstdint>
#include <string>

#include "perfmodel/analytic.h"
#include "perfmodel/device_profile.h"

namespace er::perfmodel {

// The compute rate a model's matrix products run at on a device: 16-bit weights at the f16 rate
// (else f32); quantized weights at the int8 rate (llama.cpp-style W4A8 on CPUs), else f16, else f32.
// gflops = 0 when the profile knows none (compute is then not a bound).
struct ComputePeak {
  double gflops = 0;
  std::string name;  // "peak_gops_int8", "peak_gflops_f16", "peak_gflops_f32", "none"
};
ComputePeak compute_peak(const DeviceProfile& d, const ModelShape& s);

// FLOPs of one token's forward pass at context `n_ctx` (positions attended, itself included):
// 2·n_params + 4·n_layer·n_head·head_dim·n_ctx (QKᵀ and AV).
double decode_flops_per_token(const ModelShape& s, int64_t n_ctx);
// Bytes one decode step reads for n_paths paths at context n_ctx: weights once, KV per path.
double decode_bytes_per_step(const ModelShape& s, int64_t n_ctx, int64_t n_paths);

struct RooflineResult {
  double prefill_s = 0;
  double decode_s = 0;               // all n_gen steps, all paths together
  double decode_ms_per_token = 0;    // per step at the mean context I + (O + 1)/2
  std::string prefill_bound;         // "compute" or "memory"
  std::string decode_bound;          // at the mean context
  ComputePeak peak;
};

// Prefill of n_prompt tokens: max(FLOPs / peak, (weights + KV written) / bandwidth), FLOPs =
// 2·n_params·I + 2·n_layer·n_head·head_dim·I² (causal attention). Decode: Σ over the n_gen steps
// (contexts I+1 … I+O) of max(bytes / bandwidth, n_paths · FLOPs / peak).
// REQUIRES: n_prompt >= 1, n_gen >= 0, n_paths >= 1, d.mem_bandwidth_gbps > 0.
RooflineResult roofline(const DeviceProfile& d, const ModelShape& s, int64_t n_prompt, int64_t n_gen, int64_t n_paths);

}  // namespace er::perfmodel
