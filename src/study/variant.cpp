#include "study/variant.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "quantize/quantize.h"
#include "study/grid.h"

namespace er::study {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string default_fallback_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return (fs::path(xdg) / "edgereason" / "quantized").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr && *home != '\0' ? home : "/tmp") / ".cache" / "edgereason" / "quantized").string();
}

// The source's identity recorded beside a variant: size and modification time (ns).
nlohmann::json source_stamp(const std::string& model_path, const std::string& quantization) {
  std::error_code ec;
  const auto size = fs::file_size(model_path, ec);
  const auto mtime = fs::last_write_time(model_path, ec);
  nlohmann::json j;
  j["source"] = fs::absolute(model_path, ec).string();
  j["size"] = static_cast<uint64_t>(size);
  j["mtime"] = static_cast<int64_t>(mtime.time_since_epoch().count());
  j["type"] = quantization;
  return j;
}

// Whether `path` is a finished variant of the model as it is now.
bool valid_variant(const std::string& path, const std::string& model_path, const std::string& quantization,
                   const quantize::Target& target) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::ifstream in(path + ".source");
  if (!in) return false;
  nlohmann::json stamp;
  try {
    in >> stamp;
  } catch (const std::exception&) {
    return false;
  }
  if (stamp != source_stamp(model_path, quantization)) return false;
  auto f = gguf::File::open(path);
  if (!f.is_ok()) return false;
  auto type = f->metadata().get_string(quantize::kKeyTarget);
  auto source = f->metadata().get_string(quantize::kKeySourceFile);
  return type.is_ok() && *type == target.name && source.is_ok() && *source == fs::path(model_path).filename().string();
}

bool writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return fs::is_directory(dir, ec) && ::access(dir.c_str(), W_OK) == 0;
}

}  // namespace

Result<std::string> quantization_from_name(std::string_view name) {
  if (lower(name) == kRelease) return std::string(kRelease);
  auto t = quantize::find_target(name);
  if (!t.is_ok()) return Status::invalid("'" + std::string(name) + "' is not a quantization (" + quantization_names() + ")");
  return lower(t->name);
}

std::optional<double> nominal_bits_per_weight(std::string_view quantization) {
  const std::string q = lower(quantization);
  if (q == kRelease) return std::nullopt;
  if (q == "q4_k_m") return 4.9;  // Q4_K with some Q6_K (llama.cpp's mix)
  auto t = quantize::find_target(q);
  if (!t.is_ok()) return std::nullopt;
  const DTypeTraits d = dtype_traits(t->tensor_type);
  return 8.0 * static_cast<double>(d.block_bytes) / static_cast<double>(d.block_elems);
}

std::string quantization_names() {
  std::string s(kRelease);
  for (const quantize::Target& t : quantize::targets()) s += ", " + lower(t.name);
  return s;
}

std::string variant_path(const std::string& model_path, const std::string& quantization, bool fallback,
                         const std::string& fallback_dir) {
  const fs::path p(model_path);
  const std::string stem = p.stem().string();
  if (!fallback) return (p.parent_path() / ".edgereason-cache" / (stem + "." + quantization + ".gguf")).string();
  std::error_code ec;
  const std::string hash = fnv1a64_hex(fs::absolute(p, ec).string()).substr(0, 8);
  const fs::path dir = fallback_dir.empty() ? fs::path(default_fallback_dir()) : fs::path(fallback_dir);
  return (dir / (stem + "-" + hash + "." + quantization + ".gguf")).string();
}

Result<Variant> ensure_variant(const std::string& model_path, const std::string& quantization,
                               const VariantOptions& options) {
  ER_ASSIGN_OR_RETURN(const quantize::Target target, quantize::find_target(quantization));
  const auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const std::string name = fs::path(model_path).stem().string();
  Variant v;
  // A valid variant in either place is reused.
  for (bool fallback : {false, true}) {
    const std::string p = variant_path(model_path, quantization, fallback, options.fallback_dir);
    if (valid_variant(p, model_path, quantization, target)) {
      v.path = p;
      v.fallback = fallback;
      return v;
    }
  }
  v.path = variant_path(model_path, quantization, false, options.fallback_dir);
  if (!writable_dir(fs::path(v.path).parent_path())) {
    const std::string beside = fs::path(v.path).parent_path().string();
    v.fallback = true;
    v.path = variant_path(model_path, quantization, true, options.fallback_dir);
    if (!writable_dir(fs::path(v.path).parent_path()))
      return Status::io_error("cannot write the " + quantization + " variant of '" + model_path + "': neither '" +
                              beside + "' nor '" + fs::path(v.path).parent_path().string() + "' is writable");
    log("quantize: '" + beside + "' is not writable; caching variants in '" + fs::path(v.path).parent_path().string() + "'");
  }
  log("quantize: making " + name + " " + quantization + " (once) -> " + v.path);
  std::error_code ec;
  fs::remove(v.path + ".source", ec);  // a stale stamp must not outlive the file it describes
  quantize::Options qo;
  qo.target = target;
  qo.n_threads = std::max(1, options.n_threads);
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  qo.progress = [&](const quantize::Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(2) || p.tensor_index + 1 == p.n_tensors) return;
    last = now;
    log("quantize: " + name + " " + quantization + " " +
        std::to_string(p.bytes_total ? 100 * p.bytes_done / p.bytes_total : 100) + "% (" +
        std::to_string(p.tensor_index + 1) + "/" + std::to_string(p.n_tensors) + " tensors)");
  };
  ER_ASSIGN_OR_RETURN(const quantize::Summary s, quantize::quantize_file(model_path, v.path, qo));
  {
    const std::string tmp = v.path + ".source.tmp";
    std::ofstream out(tmp, std::ios::trunc);
    out << source_stamp(model_path, quantization).dump() << "\n";
    out.close();
    if (!out || (fs::rename(tmp, v.path + ".source", ec), ec)) {
      fs::remove(tmp, ec);
      return Status::io_error("cannot write '" + v.path + ".source'");
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[160];
  std::snprintf(buf, sizeof buf, "quantize: %s %s done in %.1f s (weights %.1f MB -> %.1f MB, from %s)", name.c_str(),
                quantization.c_str(), secs, static_cast<double>(s.in_bytes) / 1e6, static_cast<double>(s.out_bytes) / 1e6,
                s.source_type.c_str());
  log(buf);
  v.made = true;
  return v;
}

Result<WeightComparison> compare_weights(const std::string& a_path, const std::string& b_path) {
  ER_ASSIGN_OR_RETURN(const gguf::File a, gguf::File::open(a_path));
  ER_ASSIGN_OR_RETURN(const gguf::File b, gguf::File::open(b_path));
  WeightComparison out;
  for (const gguf::TensorInfo& ta : a.tensors()) {
    const gguf::TensorInfo* tb = b.find_tensor(ta.name);
    if (tb == nullptr || tb->dims != ta.dims) {
      out.mismatched.push_back(ta.name);
      continue;
    }
    for (const gguf::TensorInfo* t : {&ta, tb})
      if (!kernels::can_dequantize(t->type))
        return Status::unsupported("tensor '" + t->name + "': type " + std::string(dtype_name(t->type)) +
                                   " cannot be dequantized");
    const uint64_t ne0 = ta.dims[0];
    const uint64_t rows = ta.n_elements / ne0;
    const uint64_t ra = *dtype_row_bytes(ta.type, ne0), rb = *dtype_row_bytes(tb->type, ne0);
    const uint8_t* da = a.view(ta).data;
    const uint8_t* db = b.view(*tb).data;
    std::vector<float> xa(ne0), xb(ne0);
    for (uint64_t r = 0; r < rows; ++r) {
      kernels::dequantize_row(ta.type, da + r * ra, xa.data(), static_cast<int64_t>(ne0));
      kernels::dequantize_row(tb->type, db + r * rb, xb.data(), static_cast<int64_t>(ne0));
      for (uint64_t i = 0; i < ne0; ++i) {
        if (xa[i] == xb[i] || (std::isnan(xa[i]) && std::isnan(xb[i]))) continue;
        ++out.n_different;
        const double d = std::fabs(static_cast<double>(xa[i]) - static_cast<double>(xb[i]));
        if (!(d <= out.max_abs_diff)) {  // NaN against a number counts as infinite
          out.max_abs_diff = std::isnan(d) ? INFINITY : d;
          out.max_tensor = ta.name;
        }
      }
    }
    ++out.n_tensors;
    out.n_elements += static_cast<int64_t>(ta.n_elements);
  }
  for (const gguf::TensorInfo& tb : b.tensors())
    if (a.find_tensor(tb.name) == nullptr) out.mismatched.push_back(tb.name);
  return out;
}

}  // namespace er::study
