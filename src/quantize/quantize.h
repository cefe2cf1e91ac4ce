// Requantizes a GGUF model the way llama.cpp's llama_model_quantize does (without an importance matrix).
//
// Every tensor llama.cpp would quantize (2-D or higher weight matrices other than norms and a
// few small special tensors) is dequantized to f32 and requantized with the reference quantizers
// of src/kernels (byte for byte llama.cpp's quantize_row_*_ref); the type each one gets follows
// llama.cpp's llama_tensor_get_type for the chosen file type (its "mix"), or is the file type's
// own tensor type for every weight matrix with `pure`, and falls back as llama.cpp does when a
// row is not a multiple of the type's block (Q4_K -> Q5_0, Q6_K -> Q8_0). All other tensors
// and all metadata are copied; general.file_type and general.quantization_version are set and
// the source is recorded under edgereason.quantize.*. The output is written tensor by tensor to
// a temporary file beside OUT and renamed onto it only when complete (gguf::StreamWriter).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf.h"

namespace er::quantize {

// llama.cpp's llama_ftype values (general.file_type) for the file types we write.
enum class FileType : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ6_K = 18,
  kBF16 = 32,
};

// One target of `quantize`: the name the user gives (llama.cpp's file type names, as
// llama-quantize takes them), the file type written, and the tensor type of the weight matrices.
// llama.cpp's mix rules for the file type pick some tensors' types unless the quantization is
// pure; Q4_K has no mix of its own here (llama.cpp's Q4_K_S mix needs Q5_K, which we do not
// write): it is always pure, written as llama.cpp writes `--pure ... Q4_K_S` (file type 14).
struct Target {
  std::string_view name;
  FileType file_type;
  DType tensor_type;
  bool pure_only;
};

// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K, Q4_K_M.
const std::vector<Target>& targets();
// Case-insensitive look-up; invalid naming the known targets when unknown.
Result<Target> find_target(std::string_view name);
std::string target_names();  // "F32, F16, ..." for messages and --help

// The llama.cpp name of a file type value ("Q4_K_M", "MOSTLY_Q4_1" is printed as "Q4_1"), or
// nullopt for a value llama.cpp does not define.
std::optional<std::string> file_type_name(uint32_t ftype);

// What happens to one tensor.
struct TensorPlan {
  std::string name;
  std::vector<uint64_t> dims;
  DType from;
  DType to;
  bool quantize;      // a weight matrix llama.cpp quantizes (else copied unchanged)
  bool fallback;      // `to` is a fallback for a row not a multiple of the wanted type's block
};

// The type every tensor of `file` gets for `target`, in llama.cpp's output order (tensors not in
// a block first, then block by block; by name within each). Errors: unsupported (an
// architecture or tensor the rules need but we do not implement, e.g. mixture-of-experts; a
// source tensor type we cannot dequantize; a type the rules choose that we cannot produce) and
// invalid (rows not a multiple of 32, metadata missing).
// `pure`: every weight matrix gets target.tensor_type (llama.cpp's --pure; row-size fallbacks
// still apply).
Result<std::vector<TensorPlan>> plan(const gguf::File& file, const Target& target, bool pure);

struct Progress {
  size_t tensor_index;        // 0-based, of n_tensors
  size_t n_tensors;
  const std::string* name;    // the tensor being written
  uint64_t bytes_done;        // of the source tensor bytes
  uint64_t bytes_total;
};

struct Options {
  Target target;
  bool pure = false;
  int n_threads = 1;
  // Called after every tensor (from the calling thread).
  std::function<void(const Progress&)> progress;
  // Called with the temporary file's path before it is created (a signal handler may remove it).
  std::function<void(const std::string& temp_path)> on_temp_file;
};

struct Summary {
  std::vector<TensorPlan> plan;
  uint64_t in_bytes = 0;   // tensor data, source
  uint64_t out_bytes = 0;  // tensor data, output
  std::string source_type;  // the source's file type name ("Q4_1", or "unknown")
};

// Quantizes `in_path` into `out_path` (which the caller has checked it may replace). Nothing is
// left at `out_path` unless the whole file was written.
Result<Summary> quantize_file(const std::string& in_path, const std::string& out_path, const Options& options);

// Metadata keys written besides general.file_type and general.quantization_version.
inline constexpr std::string_view kKeySourceFile = "edgereason.quantize.source_file";
inline constexpr std::string_view kKeySourceType = "edgereason.quantize.source_type";
inline constexpr std::string_view kKeyTarget = "edgereason.quantize.type";

}  // namespace er::quantize
