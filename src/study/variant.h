// The quantization axis of a sweep: a model's precision variants (`quantizations` in the sweep
// config), made on first use with src/quantize into a cache beside the model and reused, and the
// consistency check that compares two files' weights after dequantization.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace er::study {

// "release": the model file as shipped (a Cell's empty quantization).
inline constexpr std::string_view kRelease = "release";

// The canonical (lowercase) name of a quantization value: "release" or one of quantize's targets
// (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q4_k, q6_k, q4_k_m), case-insensitive; invalid naming
// the known values otherwise.
Result<std::string> quantization_from_name(std::string_view name);
// "release, f32, f16, ..." for messages and help.
std::string quantization_names();

// Bits per weight of a quantize target's matrix type ("f16" 16, "q8_0" 8.5, "q4_k" 4.5; the mix
// "q4_k_m" about 4.9); nullopt for "release" or an unknown name. For planning only: a variant's
// decode rate is taken as the release's scaled by the bits each weight reads.
std::optional<double> nominal_bits_per_weight(std::string_view quantization);

struct VariantOptions {
  // Where variants go when the model's own directory is not writable ("" = $XDG_CACHE_HOME or
  // ~/.cache, then "edgereason/quantized").
  std::string fallback_dir;
  int n_threads = 1;
  // Progress and notices, one line each ("quantize: making smollm2 q8_0 (once) ...").
  std::function<void(const std::string& line)> log;
};

struct Variant {
  std::string path;       // the variant file
  bool made = false;      // made now (false: a valid cached one was reused)
  bool fallback = false;  // in the fallback cache (the model's directory was not writable)
};

// Where the `quantization` variant of `model_path` is cached: `DIR/.edgereason-cache/STEM.Q.gguf`
// beside the model, or (fallback) `FALLBACK/STEM-HASH.Q.gguf` (HASH of the model's absolute path).
std::string variant_path(const std::string& model_path, const std::string& quantization, bool fallback,
                         const std::string& fallback_dir);

// The variant of `model_path` for `quantization` (canonical, not release): the cached file when it
// is valid (its edgereason.quantize.type is the target's and its sidecar `PATH.source` names the
// model's current size and modification time), else made now with quantize::quantize_file (a
// stale or unfinished file is replaced).
Result<Variant> ensure_variant(const std::string& model_path, const std::string& quantization,
                               const VariantOptions& options);

// The consistency check: every tensor of `a` and `b` dequantized to f32 and compared.
struct WeightComparison {
  int64_t n_tensors = 0;         // compared (present in both, same shape)
  int64_t n_elements = 0;
  int64_t n_different = 0;       // elements whose values differ
  double max_abs_diff = 0;       // max |a - b| over all elements
  std::string max_tensor;        // where it is ("" when 0)
  std::vector<std::string> mismatched;  // tensors present in one only, or of different shapes
  bool identical() const { return mismatched.empty() && n_different == 0; }
};
// Errors: a file that does not open, a tensor type that cannot be dequantized.
Result<WeightComparison> compare_weights(const std::string& a_path, const std::string& b_path);

}  // namespace er::study
