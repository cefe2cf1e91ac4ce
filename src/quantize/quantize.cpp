// The quantize pipeline: plan, then dequantize and requantize tensor by tensor into a StreamWriter.
#include "quantize/quantize.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <span>

#include "core/thread_pool.h"
#include "kernels/quant.h"

namespace er::quantize {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION, as llama.cpp records it

std::string source_type_of(const gguf::File& file) {
  const gguf::Value* v = file.metadata().find("general.file_type");
  if (v == nullptr) return "unknown";
  const auto u = v->to_uint();
  if (!u || *u > 0xffffffffu) return "unknown";
  const auto name = file_type_name(static_cast<uint32_t>(*u));
  return name ? *name : "unknown (" + std::to_string(*u) + ")";
}

// Requantizes `n_rows` rows of `ne0` weights from `src` (type `from`) into `dst` (type `to`).
Status convert_rows(ThreadPool& pool, DType from, DType to, const uint8_t* src, uint8_t* dst, uint64_t ne0,
                    uint64_t n_rows, const std::string& name) {
  const uint64_t in_row = *dtype_row_bytes(from, ne0);
  const uint64_t out_row = *dtype_row_bytes(to, ne0);
  const int n_threads = pool.n_threads();
  std::vector<std::vector<float>> scratch(static_cast<size_t>(n_threads), std::vector<float>(ne0));
  std::vector<Status> errors(static_cast<size_t>(n_threads));
  std::vector<uint64_t> bad_row(static_cast<size_t>(n_threads), 0);
  pool.run(static_cast<int64_t>(n_rows), [&](int64_t begin, int64_t end, int tid) {
    std::vector<float>& x = scratch[static_cast<size_t>(tid)];
    Status& err = errors[static_cast<size_t>(tid)];
    for (int64_t r = begin; r < end && err.is_ok(); ++r) {
      const auto row = static_cast<uint64_t>(r);
      kernels::dequantize_row(from, src + row * in_row, x.data(), static_cast<int64_t>(ne0));
      err = kernels::quantize_row(to, x.data(), dst + row * out_row, static_cast<int64_t>(ne0));
      if (!err.is_ok()) bad_row[static_cast<size_t>(tid)] = row;
    }
  });
  for (size_t t = 0; t < errors.size(); ++t) {
    if (!errors[t].is_ok()) {
      return errors[t].with_context("tensor '" + name + "' row " + std::to_string(bad_row[t]));
    }
  }
  return Status::ok();
}

}  // namespace

Result<Summary> quantize_file(const std::string& in_path, const std::string& out_path, const Options& options) {
  ER_ASSIGN_OR_RETURN(gguf::File in, gguf::File::open(in_path));
  if (const gguf::Value* v = in.metadata().find("split.count"); v != nullptr && v->to_uint().value_or(1) > 1) {
    return Status::unsupported("'" + in_path + "' is one part of a split model; quantize reads whole files only");
  }
  Summary summary;
  {
    Result<std::vector<TensorPlan>> p = plan(in, options.target, options.pure);
    if (!p.is_ok()) return p.status().with_context("'" + in_path + "'");
    summary.plan = std::move(*p);
  }
  summary.source_type = source_type_of(in);

  gguf::Metadata md = in.metadata();
  md.set("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  md.set("general.file_type", gguf::Value::u32(static_cast<uint32_t>(options.target.file_type)));
  md.set(std::string(kKeySourceFile), gguf::Value::string(std::filesystem::path(in_path).filename().string()));
  md.set(std::string(kKeySourceType), gguf::Value::string(summary.source_type));
  md.set(std::string(kKeyTarget),
         gguf::Value::string(std::string(options.target.name) + (options.pure && !options.target.pure_only ? " (pure)" : "")));

  gguf::StreamWriter out(out_path, std::move(md), 3);  // llama.cpp writes version 3 whatever it read
  for (const TensorPlan& p : summary.plan) ER_RETURN_IF_ERROR(out.declare(p.name, p.to, p.dims));
  for (const TensorPlan& p : summary.plan) summary.in_bytes += in.find_tensor(p.name)->n_bytes;
  if (options.on_temp_file) options.on_temp_file(out.temp_path());
  ER_RETURN_IF_ERROR(out.begin());

  ThreadPool pool(std::clamp(options.n_threads, 1, 1024));
  std::vector<uint8_t> buf;
  uint64_t done = 0;
  for (size_t i = 0; i < summary.plan.size(); ++i) {
    const TensorPlan& p = summary.plan[i];
    const gguf::TensorView view = in.view(*in.find_tensor(p.name));
    if (!p.quantize) {
      ER_RETURN_IF_ERROR(out.write_tensor(std::span<const uint8_t>(view.data, view.n_bytes())));
      summary.out_bytes += view.n_bytes();
    } else {
      const uint64_t ne0 = p.dims[0];
      const uint64_t n_rows = view.info->n_elements / ne0;
      const uint64_t out_bytes = *dtype_row_bytes(p.to, view.info->n_elements);
      buf.resize(static_cast<size_t>(out_bytes));
      ER_RETURN_IF_ERROR(convert_rows(pool, p.from, p.to, view.data, buf.data(), ne0, n_rows, p.name));
      ER_RETURN_IF_ERROR(out.write_tensor(buf));
      summary.out_bytes += out_bytes;
    }
    done += view.n_bytes();
    if (options.progress) options.progress(Progress{i, summary.plan.size(), &p.name, done, summary.in_bytes});
  }
  ER_RETURN_IF_ERROR(out.commit());
  return summary;
}

}  // namespace er::quantize
