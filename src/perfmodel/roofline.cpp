// Roofline bounds for prefill and decode (see roofline.h).
#include "perfmodel/roofline.h"

#include <algorithm>

#include "core/check.h"

namespace er::perfmodel {

ComputePeak compute_peak(const DeviceProfile& d, const ModelShape& s) {
  if (!s.weights_16bit && d.peak_gops_int8) return {*d.peak_gops_int8, "peak_gops_int8"};
  if (d.peak_gflops_f16) return {*d.peak_gflops_f16, "peak_gflops_f16"};
  if (d.peak_gflops_f32) return {*d.peak_gflops_f32, "peak_gflops_f32"};
  return {0, "none"};
}

double decode_flops_per_token(const ModelShape& s, int64_t n_ctx) {
  return 2 * s.n_params +
         4.0 * static_cast<double>(s.n_layer) * static_cast<double>(s.n_head * s.head_dim) * static_cast<double>(n_ctx);
}

double decode_bytes_per_step(const ModelShape& s, int64_t n_ctx, int64_t n_paths) {
  return s.weight_bytes + static_cast<double>(n_paths) * s.kv_bytes_per_token * static_cast<double>(n_ctx);
}

RooflineResult roofline(const DeviceProfile& d, const ModelShape& s, int64_t n_prompt, int64_t n_gen, int64_t n_paths) {
  ER_CHECK(n_prompt >= 1 && n_gen >= 0 && n_paths >= 1 && d.mem_bandwidth_gbps > 0);
  RooflineResult r;
  r.peak = compute_peak(d, s);
  const double bw = d.mem_bandwidth_gbps * 1e9;     // bytes/s
  const double peak = r.peak.gflops * 1e9;          // FLOP/s (0: unknown)
  auto time_s = [&](double bytes, double flops, std::string* bound) {
    const double tm = bytes / bw;
    const double tc = peak > 0 ? flops / peak : 0;
    if (bound != nullptr) *bound = tc > tm ? "compute" : "memory";
    return std::max(tm, tc);
  };
  const double i = static_cast<double>(n_prompt);
  const double prefill_flops =
      2 * s.n_params * i + 2.0 * static_cast<double>(s.n_layer) * static_cast<double>(s.n_head * s.head_dim) * i * i;
  const double prefill_bytes = s.weight_bytes + s.kv_bytes_per_token * i;
  r.prefill_s = time_s(prefill_bytes, prefill_flops, &r.prefill_bound);
  for (int64_t k = 1; k <= n_gen; ++k) {
    const int64_t ctx = n_prompt + k;
    r.decode_s += time_s(decode_bytes_per_step(s, ctx, n_paths),
                         static_cast<double>(n_paths) * decode_flops_per_token(s, ctx), nullptr);
  }
  const int64_t mean_ctx = n_prompt + (n_gen + 1) / 2;
  r.decode_ms_per_token = 1e3 * time_s(decode_bytes_per_step(s, mean_ctx, n_paths),
                                       static_cast<double>(n_paths) * decode_flops_per_token(s, mean_ctx), &r.decode_bound);
  return r;
}

}  // namespace er::perfmodel
