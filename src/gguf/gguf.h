// GGUF v2/v3: metadata values, tensor infos, a validating memory-mapped reader and a writer.
//
// Format (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv (v1 used u32; not
// supported), then n_kv × (string key, u32 value type, value), then n_tensors × (string name,
// u32 n_dims, n_dims × u64 dim, u32 type, u64 offset), padding to `general.alignment` (default 32),
// then the tensor data. A string is u64 length + bytes (no NUL). An array is u32 element type +
// u64 count + elements (arrays may nest).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace er::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view value_type_name(ValueType t);

// One metadata value: a scalar, a string, or an array (of scalars, strings or arrays).
class Value {
 public:
  Value() = default;  // a uint8 zero; only for containers
  static Value u8(uint8_t v);
  static Value i8(int8_t v);
  static Value u16(uint16_t v);
  static Value i16(int16_t v);
  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value i64(int64_t v);
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value string(std::string v);
  // REQUIRES: every item has type `elem` (for elem == kArray, any nested arrays).
  static Value array(ValueType elem, std::vector<Value> items);
  static Value string_array(const std::vector<std::string>& items);

  ValueType type() const { return type_; }
  bool is_integer() const;  // u8..i64 (not bool)
  bool is_float() const { return type_ == ValueType::kFloat32 || type_ == ValueType::kFloat64; }

  // Conversions that succeed only when the value is of a fitting type and in range.
  std::optional<int64_t> to_int() const;    // integer types whose value fits int64
  std::optional<uint64_t> to_uint() const;  // non-negative integer types
  std::optional<double> to_double() const;  // float types and integer types
  std::optional<bool> to_bool() const;      // kBool only
  const std::string* str() const;           // kString only, else nullptr

  // Arrays. REQUIRES: type() == kArray for elem_type()/items().
  ValueType elem_type() const { return elem_type_; }
  const std::vector<Value>& items() const { return items_; }
  size_t size() const { return items_.size(); }

  // Raw scalar bits as stored (for the writer): unsigned/signed values widened, floats as double;
  // raw_u64() of a float is its IEEE bit pattern, so NaN payloads survive a round trip.
  uint64_t raw_u64() const { return u_; }
  int64_t raw_i64() const { return i_; }
  double raw_f64() const { return f_; }

  // A short human-readable rendering (arrays abbreviated after `max_items`).
  std::string to_display(size_t max_items = 8) const;

 private:
  ValueType type_ = ValueType::kUint8;
  ValueType elem_type_ = ValueType::kUint8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::vector<Value> items_;
};

// Key/value metadata in file order, with typed look-ups whose errors name the key.
class Metadata {
 public:
  void set(std::string key, Value value);  // replaces an existing key in place
  const Value* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Typed look-ups: not_found if absent, invalid if of the wrong type or out of range.
  Result<int64_t> get_int(std::string_view key) const;
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<double> get_double(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
  Result<std::vector<double>> get_double_array(std::string_view key) const;
  // Length of an array-valued key (not_found / invalid as above).
  Result<size_t> get_array_size(std::string_view key) const;

  // Conveniences for optional keys: the value, or `fallback` when the key is absent.
  // A present key of the wrong type is still an error.
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_double_or(std::string_view key, double fallback) const;
  Result<std::string> get_string_or(std::string_view key, std::string fallback) const;

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// A tensor as described in the file header. dims[0] is the fastest-varying (ggml's ne[0]).
struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // 1..4 entries, each >= 1
  DType type = DType::kF32;
  uint64_t offset = 0;       // bytes from the start of the data section (aligned)
  uint64_t n_elements = 0;   // product of dims
  uint64_t n_bytes = 0;      // n_elements / block_elems * block_bytes
};

// A tensor's bytes inside the mapped file.
struct TensorView {
  const TensorInfo* info = nullptr;
  const uint8_t* data = nullptr;  // info->n_bytes bytes, aligned to the file's alignment
  DType type() const { return info->type; }
  const std::vector<uint64_t>& dims() const { return info->dims; }
  uint64_t n_bytes() const { return info->n_bytes; }
};

// A parsed GGUF file. Every count, length, offset and dimension is validated before use; a
// failure names the key or tensor and the byte offset where the problem was found.
class File {
 public:
  // Memory-maps and parses `path`.
  static Result<File> open(const std::string& path);
  // Parses bytes owned by the caller, who keeps them alive as long as the File (used by the fuzzer
  // and tests). `name` is used in messages.
  static Result<File> parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  uint64_t file_size() const { return bytes_.size(); }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const TensorInfo* find_tensor(std::string_view name) const;
  // not_found naming the tensor when absent.
  Result<TensorView> tensor(std::string_view name) const;
  TensorView view(const TensorInfo& info) const;  // REQUIRES: info is one of tensors()
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  File() = default;
  std::unique_ptr<MappedFile> map_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Builds a GGUF file: metadata in insertion order, tensors in insertion order laid out at aligned
// offsets (zero padding), alignment from `general.alignment` if that key is set (must be a u32
// power of two), else 32.
class Writer {
 public:
  explicit Writer(uint32_t version = 3) : version_(version) {}

  // A writer holding everything `file` holds, in the same order, with the same tensor offsets
  // when they are the canonical aligned layout; serialize() then reproduces the file byte for
  // byte when the file itself was written canonically.
  static Writer from_file(const File& file);

  Metadata& metadata() { return metadata_; }
  void set(std::string key, Value value) { metadata_.set(std::move(key), std::move(value)); }

  // Adds a tensor (dims fastest-first). `data` must hold exactly the tensor's byte size.
  Status add_tensor(std::string name, DType type, std::vector<uint64_t> dims, std::vector<uint8_t> data);

  Result<std::vector<uint8_t>> serialize() const;
  // Writes to `path` atomically (temporary file + rename; a StreamWriter).
  Status write_file(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<uint64_t> dims;
    std::vector<uint8_t> data;
  };
  uint32_t version_;
  Metadata metadata_;
  std::vector<PendingTensor> tensors_;
};

// Writes a GGUF file tensor by tensor, for outputs larger than one wants to hold in memory, with
// the same canonical layout as Writer. Declare every tensor first; begin() creates a temporary
// file beside `path` and writes the header; write_tensor() appends the next declared tensor's
// data (in declaration order, padded to the alignment); commit() syncs the file and renames it
// onto `path`. Until commit() succeeds `path` is untouched, and a writer destroyed (or failing)
// before that removes its temporary file: no partial output is ever left at `path`.
class StreamWriter {
 public:
  StreamWriter(std::string path, Metadata metadata, uint32_t version = 3);
  ~StreamWriter();
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  // Adds a tensor (dims fastest-first) to the header. REQUIRES: before begin().
  Status declare(std::string name, DType type, std::vector<uint64_t> dims);
  Status begin();
  // `data` must hold exactly the next declared tensor's byte size.
  Status write_tensor(std::span<const uint8_t> data);
  // REQUIRES: every declared tensor written.
  Status commit();
  // The temporary file's path, OUT.tmp.PID (it exists from begin() until commit() or a failure),
  // for a signal handler that must remove it.
  const std::string& temp_path() const { return tmp_; }

 private:
  struct Decl {
    std::string name;
    DType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
  };
  Status write_all(const uint8_t* p, size_t n);
  Status fail(const std::string& what, int err);
  void discard();
  std::string path_;
  uint32_t version_;
  Metadata metadata_;
  std::vector<Decl> decls_;
  uint64_t alignment_ = kDefaultAlignment;
  std::string tmp_;
  bool created_ = false;  // tmp_ exists and is ours to remove
  int fd_ = -1;
  size_t next_ = 0;
  bool failed_ = false;
};

}  // namespace er::gguf
