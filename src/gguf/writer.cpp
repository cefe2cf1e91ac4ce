// The GGUF writer: the canonical layout llama.cpp writes, in memory or atomically to a file.
//
// Header padded to the alignment, then tensors in insertion order, each zero-padded to the alignment.
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "core/check.h"
#include "core/checked_math.h"
#include "gguf/gguf.h"
#include "gguf/internal.h"

namespace er::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.insert(out.end(), raw, raw + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// The value's bytes without its type tag (arrays: element type, count, items).
void put_value(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kUint8: put(out, static_cast<uint8_t>(v.raw_u64())); return;
    case ValueType::kInt8: put(out, static_cast<int8_t>(v.raw_i64())); return;
    case ValueType::kUint16: put(out, static_cast<uint16_t>(v.raw_u64())); return;
    case ValueType::kInt16: put(out, static_cast<int16_t>(v.raw_i64())); return;
    case ValueType::kUint32: put(out, static_cast<uint32_t>(v.raw_u64())); return;
    case ValueType::kInt32: put(out, static_cast<int32_t>(v.raw_i64())); return;
    case ValueType::kUint64: put(out, v.raw_u64()); return;
    case ValueType::kInt64: put(out, v.raw_i64()); return;
    case ValueType::kFloat32: put(out, static_cast<uint32_t>(v.raw_u64())); return;  // IEEE bits as read
    case ValueType::kFloat64: put(out, v.raw_u64()); return;
    case ValueType::kBool: put(out, static_cast<uint8_t>(v.raw_u64() != 0 ? 1 : 0)); return;
    case ValueType::kString: put_string(out, *v.str()); return;
    case ValueType::kArray:
      put(out, static_cast<uint32_t>(v.elem_type()));
      put<uint64_t>(out, v.size());
      for (const Value& item : v.items()) put_value(out, item);
      return;
  }
}

void pad_to(std::vector<uint8_t>& out, uint64_t alignment) {
  out.resize(static_cast<size_t>(*checked_align_up(out.size(), alignment)), 0);
}

// The alignment `metadata` asks for: general.alignment (a uint32 power of two) or the default.
Result<uint64_t> alignment_of(const Metadata& metadata) {
  const Value* v = metadata.find("general.alignment");
  if (v == nullptr) return kDefaultAlignment;
  if (v->type() != ValueType::kUint32) {
    return Status::invalid("metadata key 'general.alignment' is " + detail::describe_type(*v) + ", expected a uint32");
  }
  if (!std::has_single_bit(v->raw_u64())) {
    return Status::invalid("metadata key 'general.alignment': " + std::to_string(v->raw_u64()) +
                           " is not a non-zero power of two");
  }
  return v->raw_u64();
}

// Checks what the Value factories cannot: nesting depth (so that the reader accepts the result).
Status check_value(const std::string& key, const Value& v, int depth) {
  if (v.type() != ValueType::kArray) return Status::ok();
  if (depth >= detail::kMaxArrayDepth) {
    return Status::invalid("metadata key " + detail::quote(key) + ": arrays nested more than " +
                           std::to_string(detail::kMaxArrayDepth) + " levels deep");
  }
  for (const Value& item : v.items()) ER_RETURN_IF_ERROR(check_value(key, item, depth + 1));
  return Status::ok();
}

// Byte size of a tensor of `type` and `dims`, or an error naming the tensor.
Result<uint64_t> tensor_bytes(const std::string& name, DType type, const std::vector<uint64_t>& dims) {
  const std::string what = "tensor " + detail::quote(name);
  if (!dtype_traits(static_cast<uint32_t>(type))) {
    return Status::invalid(what + ": unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  }
  if (dims.empty() || dims.size() > kMaxDims) {
    return Status::invalid(what + ": n_dims " + std::to_string(dims.size()) + " is outside 1.." +
                           std::to_string(kMaxDims));
  }
  uint64_t n = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 0) return Status::invalid(what + ": dimension " + std::to_string(d) + " is 0 (each must be >= 1)");
    const auto p = checked_mul(n, dims[d]);
    if (!p || *p > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::invalid(what + ": element count overflows a signed 64-bit integer");
    }
    n = *p;
  }
  const DTypeTraits tr = dtype_traits(type);
  if (dims[0] % tr.block_elems != 0) {
    return Status::invalid(what + ": row length dims[0] = " + std::to_string(dims[0]) + " is not a multiple of the " +
                           std::string(tr.name) + " block size " + std::to_string(tr.block_elems));
  }
  const auto bytes = dtype_row_bytes(type, n);
  if (!bytes) return Status::invalid(what + ": byte size overflows a 64-bit integer");
  return *bytes;
}

}  // namespace

Writer Writer::from_file(const File& file) {
  Writer w(file.version());
  w.metadata_ = file.metadata();
  w.tensors_.reserve(file.tensors().size());
  for (const TensorInfo& info : file.tensors()) {
    const TensorView view = file.view(info);
    w.tensors_.push_back(PendingTensor{info.name, info.type, info.dims,
                                       std::vector<uint8_t>(view.data, view.data + info.n_bytes)});
  }
  return w;
}

Status Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> dims, std::vector<uint8_t> data) {
  ER_ASSIGN_OR_RETURN(const uint64_t n_bytes, tensor_bytes(name, type, dims));
  if (data.size() != n_bytes) {
    return Status::invalid("tensor " + detail::quote(name) + ": " + std::to_string(data.size()) +
                           " bytes of data given, its type and dims need " + std::to_string(n_bytes));
  }
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return Status::invalid("tensor " + detail::quote(name) + ": added twice");
  }
  tensors_.push_back(PendingTensor{std::move(name), type, std::move(dims), std::move(data)});
  return Status::ok();
}

namespace {

struct TensorHeader {
  const std::string& name;
  DType type;
  const std::vector<uint64_t>& dims;
  uint64_t n_bytes;
};

// Everything before the data section (padded to the alignment) and each tensor's data offset;
// *data_bytes is the data section's size (every tensor padded).
Result<std::vector<uint8_t>> header_bytes(uint32_t version, const Metadata& metadata, uint64_t alignment,
                                          const std::vector<TensorHeader>& tensors, std::vector<uint64_t>* offsets,
                                          uint64_t* data_bytes) {
  if (version != 2 && version != 3) {
    return Status::invalid("cannot write GGUF version " + std::to_string(version) + " (only versions 2 and 3)");
  }
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);  // "GGUF"
  put<uint32_t>(out, version);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, metadata.size());
  for (const auto& [key, value] : metadata.entries()) {
    if (key.empty()) return Status::invalid("metadata key '' is empty");
    ER_RETURN_IF_ERROR(check_value(key, value, 0));
    put_string(out, key);
    put(out, static_cast<uint32_t>(value.type()));
    put_value(out, value);
  }

  uint64_t offset = 0;  // from the start of the data section
  offsets->clear();
  offsets->reserve(tensors.size());
  for (const TensorHeader& t : tensors) {  // validated by the caller (add_tensor, declare, the reader)
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offsets->push_back(offset);
    const auto end = checked_add(offset, t.n_bytes);
    const auto padded = end ? checked_align_up(*end, alignment) : std::nullopt;
    if (!padded) return Status::invalid("tensor " + detail::quote(t.name) + ": data section overflows");
    offset = *padded;
  }
  pad_to(out, alignment);
  *data_bytes = offset;
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> Writer::serialize() const {
  ER_ASSIGN_OR_RETURN(const uint64_t alignment, alignment_of(metadata_));
  std::vector<TensorHeader> headers;
  headers.reserve(tensors_.size());
  for (const PendingTensor& t : tensors_) headers.push_back(TensorHeader{t.name, t.type, t.dims, t.data.size()});
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  ER_ASSIGN_OR_RETURN(std::vector<uint8_t> out, header_bytes(version_, metadata_, alignment, headers, &offsets, &data_bytes));

  const auto total = checked_add(out.size(), data_bytes);
  if (!total || *total > std::numeric_limits<size_t>::max() / 2) {
    return Status::invalid("GGUF file would be too large (" + std::to_string(data_bytes) + " bytes of tensor data)");
  }
  const size_t data_start = out.size();
  out.reserve(static_cast<size_t>(*total));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_start + static_cast<size_t>(offsets[i]), 0);
    out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
  }
  out.resize(static_cast<size_t>(*total), 0);
  return out;
}

Status Writer::write_file(const std::string& path) const {
  StreamWriter sw(path, metadata_, version_);
  for (const PendingTensor& t : tensors_) ER_RETURN_IF_ERROR(sw.declare(t.name, t.type, t.dims));
  ER_RETURN_IF_ERROR(sw.begin());
  for (const PendingTensor& t : tensors_) ER_RETURN_IF_ERROR(sw.write_tensor(t.data));
  return sw.commit();
}

StreamWriter::StreamWriter(std::string path, Metadata metadata, uint32_t version)
    : path_(std::move(path)), version_(version), metadata_(std::move(metadata)),
      tmp_(path_ + ".tmp." + std::to_string(::getpid())) {}

StreamWriter::~StreamWriter() { discard(); }

void StreamWriter::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (created_) ::unlink(tmp_.c_str());
  created_ = false;
}

Status StreamWriter::fail(const std::string& what, int err) {
  discard();
  failed_ = true;
  return Status::io_error(detail::quote(path_, 4096) + ": " + what + ": " + std::strerror(err));
}

Status StreamWriter::declare(std::string name, DType type, std::vector<uint64_t> dims) {
  ER_CHECK(fd_ < 0 && !failed_, "StreamWriter::declare after begin()");
  ER_ASSIGN_OR_RETURN(const uint64_t n_bytes, tensor_bytes(name, type, dims));
  for (const Decl& d : decls_) {
    if (d.name == name) return Status::invalid("tensor " + detail::quote(name) + ": added twice");
  }
  decls_.push_back(Decl{std::move(name), type, std::move(dims), n_bytes});
  return Status::ok();
}

Status StreamWriter::write_all(const uint8_t* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::write(fd_, p + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return fail("cannot write", k < 0 ? errno : EIO);
    done += static_cast<size_t>(k);
  }
  return Status::ok();
}

Status StreamWriter::begin() {
  ER_CHECK(fd_ < 0 && !failed_ && !created_, "StreamWriter::begin twice");
  ER_ASSIGN_OR_RETURN(alignment_, alignment_of(metadata_));
  std::vector<TensorHeader> headers;
  headers.reserve(decls_.size());
  for (const Decl& d : decls_) headers.push_back(TensorHeader{d.name, d.type, d.dims, d.n_bytes});
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  ER_ASSIGN_OR_RETURN(const std::vector<uint8_t> header,
                      header_bytes(version_, metadata_, alignment_, headers, &offsets, &data_bytes));
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    failed_ = true;
    return Status::io_error(detail::quote(path_, 4096) + ": cannot create " + detail::quote(tmp_, 4096) + ": " +
                            std::strerror(err));
  }
  created_ = true;
  return write_all(header.data(), header.size());
}

Status StreamWriter::write_tensor(std::span<const uint8_t> data) {
  ER_CHECK(fd_ >= 0, "StreamWriter::write_tensor before begin() or after a failure");
  if (next_ >= decls_.size()) {
    return Status::invalid("more tensors written than the " + std::to_string(decls_.size()) + " declared");
  }
  const Decl& d = decls_[next_];
  if (data.size() != d.n_bytes) {
    return Status::invalid("tensor " + detail::quote(d.name) + ": " + std::to_string(data.size()) +
                           " bytes of data given, its type and dims need " + std::to_string(d.n_bytes));
  }
  ER_RETURN_IF_ERROR(write_all(data.data(), data.size()));
  const uint64_t pad = *checked_align_up(d.n_bytes, alignment_) - d.n_bytes;
  if (pad > 0) {
    const std::vector<uint8_t> zeros(static_cast<size_t>(pad), 0);
    ER_RETURN_IF_ERROR(write_all(zeros.data(), zeros.size()));
  }
  ++next_;
  return Status::ok();
}

Status StreamWriter::commit() {
  ER_CHECK(fd_ >= 0, "StreamWriter::commit before begin() or after a failure");
  if (next_ != decls_.size()) {
    return Status::internal(std::to_string(next_) + " of " + std::to_string(decls_.size()) +
                            " declared tensors written before commit");
  }
  if (::fsync(fd_) != 0) return fail("cannot sync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return fail("cannot close", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return fail("cannot rename the temporary file into place", errno);
  created_ = false;
  return Status::ok();
}

}  // namespace er::gguf
