// The GGUF reader: validates every count, length, offset and dimension of an untrusted file.
//
// Each failure is one Status naming the file, the byte offset, and the key or tensor being read.
#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <stdexcept>
#include <unordered_set>

#include "core/checked_math.h"
#include "gguf/gguf.h"
#include "gguf/internal.h"

namespace er::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

// Smallest possible encodings, used to bound counts by the bytes left before allocating.
constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;       // magic, version, n_tensors, n_kv
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;        // key length, 1-byte key, value type, u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, 1 dim, type, offset

struct Parsed {
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  Metadata metadata;
  std::vector<TensorInfo> tensors;
};

// Byte positions of a tensor's header fields, for messages about checks made after the header.
struct TensorFieldPos {
  uint64_t name = 0;
  uint64_t offset = 0;
};

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), file_(detail::quote(name, 4096)) {}

  Status run(Parsed& out) {
    ER_RETURN_IF_ERROR(read_header(out));
    uint64_t n_tensors = 0, n_kv = 0;
    ER_RETURN_IF_ERROR(read_counts(n_tensors, n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) ER_RETURN_IF_ERROR(read_kv(i, n_kv, out));
    std::vector<TensorFieldPos> where;
    out.tensors.reserve(n_tensors);
    where.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) ER_RETURN_IF_ERROR(read_tensor_info(i, n_tensors, out, where));
    return check_data(out, where);
  }

 private:
  uint64_t left() const { return bytes_.size() - pos_; }

  Status error(uint64_t at, const std::string& what) const {
    return Status::invalid(file_ + ": at byte " + std::to_string(at) + ": " + (context_.empty() ? "" : context_ + ": ") +
                           what);
  }

  // Reads a little-endian scalar; `what` names the field in the truncation message.
  template <typename T>
  Status read(T& out, const char* what) {
    if (left() < sizeof(T)) {
      return error(pos_, std::string("unexpected end of file reading the ") + what + " (needs " +
                             std::to_string(sizeof(T)) + " bytes, " + std::to_string(left()) + " left)");
    }
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  // A GGUF string: u64 length, then that many bytes (checked against the bytes left first).
  Status read_string(std::string& out, const char* what) {
    const uint64_t at = pos_;
    uint64_t n = 0;
    ER_RETURN_IF_ERROR(read(n, (std::string(what) + " length").c_str()));
    if (n > left()) {
      return error(at, std::string(what) + " length " + std::to_string(n) + " exceeds the " +
                           std::to_string(left()) + " bytes left");
    }
    out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
    pos_ += n;
    return Status::ok();
  }

  Status read_header(Parsed& out) {
    if (bytes_.empty()) return error(0, "the file is empty (0 bytes), not a GGUF file");
    const size_t n_magic = std::min<size_t>(4, bytes_.size());
    if (std::memcmp(bytes_.data(), "GGUF", n_magic) != 0) {
      const std::string_view got(reinterpret_cast<const char*>(bytes_.data()), n_magic);
      return error(0, "not a GGUF file (starts with " + detail::quote(got) + ", expected 'GGUF')");
    }
    context_ = "header";
    uint32_t magic = 0;
    ER_RETURN_IF_ERROR(read(magic, "magic"));
    const uint64_t at = pos_;
    ER_RETURN_IF_ERROR(read(out.version, "version"));
    const uint32_t v = out.version;
    if (v != 0 && (v & 0xFFFFu) == 0) {
      return error(at, "GGUF version " + std::to_string(v) +
                           " looks byte-swapped: big-endian GGUF files are not supported");
    }
    if (v == 1) return error(at, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (v != 2 && v != 3) {
      return error(at, "unsupported GGUF version " + std::to_string(v) + " (only versions 2 and 3)");
    }
    return Status::ok();
  }

  Status read_counts(uint64_t& n_tensors, uint64_t& n_kv) {
    const uint64_t at_tensors = pos_;
    ER_RETURN_IF_ERROR(read(n_tensors, "tensor count"));
    const uint64_t at_kv = pos_;
    ER_RETURN_IF_ERROR(read(n_kv, "metadata count"));
    static_assert(kHeaderBytes == 24);
    if (n_tensors > left() / kMinTensorInfoBytes) {
      return error(at_tensors, "tensor count " + std::to_string(n_tensors) + " exceeds what the " +
                                   std::to_string(left()) + " bytes left can hold (" +
                                   std::to_string(kMinTensorInfoBytes) + " bytes per tensor at least)");
    }
    if (n_kv > left() / kMinKvBytes) {
      return error(at_kv, "metadata count " + std::to_string(n_kv) + " exceeds what the " + std::to_string(left()) +
                              " bytes left can hold (" + std::to_string(kMinKvBytes) + " bytes per entry at least)");
    }
    const auto need = checked_add(n_tensors * kMinTensorInfoBytes, n_kv * kMinKvBytes);
    if (!need || *need > left()) {
      return error(at_kv, "metadata count " + std::to_string(n_kv) + " and tensor count " + std::to_string(n_tensors) +
                              " need more than the " + std::to_string(left()) + " bytes left");
    }
    return Status::ok();
  }

  Status read_kv(uint64_t i, uint64_t n_kv, Parsed& out) {
    context_ = "metadata entry " + std::to_string(i) + " of " + std::to_string(n_kv);
    const uint64_t at_key = pos_;
    std::string key;
    ER_RETURN_IF_ERROR(read_string(key, "key"));
    if (key.empty()) return error(at_key, "empty key");
    context_ = "metadata key " + detail::quote(key);
    if (out.metadata.contains(key)) return error(at_key, "duplicate key");
    const uint64_t at_type = pos_;
    uint32_t type_id = 0;
    ER_RETURN_IF_ERROR(read(type_id, "value type"));
    if (!detail::is_known_value_type(type_id)) return error(at_type, "unknown value type " + std::to_string(type_id));
    Value value;
    ER_RETURN_IF_ERROR(read_value(static_cast<ValueType>(type_id), 0, value));
    if (key == "general.alignment") {
      if (value.type() != ValueType::kUint32) {
        return error(at_type, "is " + detail::describe_type(value) + ", expected a uint32");
      }
      const uint64_t a = value.raw_u64();
      if (!std::has_single_bit(a)) {
        return error(at_type + 4, "alignment " + std::to_string(a) + " is not a non-zero power of two");
      }
      out.alignment = a;
    }
    out.metadata.set(std::move(key), std::move(value));
    return Status::ok();
  }

  // Reads one value of type `t`; `depth` is the number of arrays enclosing it.
  Status read_value(ValueType t, int depth, Value& out) {
    switch (t) {
      case ValueType::kUint8: return read_scalar<uint8_t>(out, "uint8 value", Value::u8);
      case ValueType::kInt8: return read_scalar<int8_t>(out, "int8 value", Value::i8);
      case ValueType::kUint16: return read_scalar<uint16_t>(out, "uint16 value", Value::u16);
      case ValueType::kInt16: return read_scalar<int16_t>(out, "int16 value", Value::i16);
      case ValueType::kUint32: return read_scalar<uint32_t>(out, "uint32 value", Value::u32);
      case ValueType::kInt32: return read_scalar<int32_t>(out, "int32 value", Value::i32);
      case ValueType::kUint64: return read_scalar<uint64_t>(out, "uint64 value", Value::u64);
      case ValueType::kInt64: return read_scalar<int64_t>(out, "int64 value", Value::i64);
      case ValueType::kFloat32: return read_scalar<float>(out, "float32 value", Value::f32);
      case ValueType::kFloat64: return read_scalar<double>(out, "float64 value", Value::f64);
      case ValueType::kBool: {
        const uint64_t at = pos_;
        uint8_t b = 0;
        ER_RETURN_IF_ERROR(read(b, "bool value"));
        if (b > 1) return error(at, "bool value " + std::to_string(b) + " is neither 0 nor 1");
        out = Value::boolean(b == 1);
        return Status::ok();
      }
      case ValueType::kString: {
        std::string s;
        ER_RETURN_IF_ERROR(read_string(s, "string"));
        out = Value::string(std::move(s));
        return Status::ok();
      }
      case ValueType::kArray: return read_array(depth, out);
    }
    return error(pos_, "unknown value type");  // unreachable: type ids are checked by the caller
  }

  template <typename T, typename Make>
  Status read_scalar(Value& out, const char* what, Make make) {
    T v{};
    ER_RETURN_IF_ERROR(read(v, what));
    out = make(v);
    return Status::ok();
  }

  Status read_array(int depth, Value& out) {
    const uint64_t at = pos_;
    if (depth >= detail::kMaxArrayDepth) {
      return error(at, "arrays nested more than " + std::to_string(detail::kMaxArrayDepth) +
                           " levels deep (the limit of this reader)");
    }
    uint32_t elem_id = 0;
    ER_RETURN_IF_ERROR(read(elem_id, "array element type"));
    if (!detail::is_known_value_type(elem_id)) {
      return error(at, "unknown array element type " + std::to_string(elem_id));
    }
    const auto elem = static_cast<ValueType>(elem_id);
    const uint64_t at_count = pos_;
    uint64_t count = 0;
    ER_RETURN_IF_ERROR(read(count, "array count"));
    const uint64_t min_bytes = detail::min_value_bytes(elem);
    if (count > left() / min_bytes) {
      return error(at_count, "array count " + std::to_string(count) + " exceeds the " + std::to_string(left()) +
                                 " bytes left" +
                                 (min_bytes > 1 ? " (" + std::string(value_type_name(elem)) + " items take at least " +
                                                      std::to_string(min_bytes) + " bytes)"
                                                : ""));
    }
    n_values_ += count;
    if (n_values_ > detail::kMaxMetadataValues) {
      return error(at_count, "array count " + std::to_string(count) + " brings the metadata past " +
                                 std::to_string(detail::kMaxMetadataValues) + " values (the limit of this reader)");
    }
    std::vector<Value> items(static_cast<size_t>(count));
    for (Value& item : items) ER_RETURN_IF_ERROR(read_value(elem, depth + 1, item));
    out = Value::array(elem, std::move(items));
    return Status::ok();
  }

  Status read_tensor_info(uint64_t i, uint64_t n_tensors, Parsed& out, std::vector<TensorFieldPos>& where) {
    context_ = "tensor " + std::to_string(i) + " of " + std::to_string(n_tensors);
    TensorFieldPos pos;
    pos.name = pos_;
    TensorInfo t;
    ER_RETURN_IF_ERROR(read_string(t.name, "tensor name"));
    context_ = "tensor " + detail::quote(t.name);
    if (!names_.insert(t.name).second) return error(pos.name, "duplicate tensor name");

    const uint64_t at_dims = pos_;
    uint32_t n_dims = 0;
    ER_RETURN_IF_ERROR(read(n_dims, "dimension count"));
    if (n_dims < 1 || n_dims > kMaxDims) {
      return error(at_dims, "n_dims " + std::to_string(n_dims) + " is outside 1.." + std::to_string(kMaxDims));
    }
    t.dims.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = pos_;
      ER_RETURN_IF_ERROR(read(t.dims[d], "dimension"));
      if (t.dims[d] == 0) return error(at, "dimension " + std::to_string(d) + " is 0 (each must be >= 1)");
      const auto product = checked_mul(n_elements, t.dims[d]);
      if (!product || *product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return error(at, "dimension " + std::to_string(d) + " (" + std::to_string(t.dims[d]) +
                             ") makes the element count overflow a signed 64-bit integer");
      }
      n_elements = *product;
    }
    t.n_elements = n_elements;

    const uint64_t at_type = pos_;
    uint32_t type_id = 0;
    ER_RETURN_IF_ERROR(read(type_id, "tensor type"));
    const auto traits = dtype_traits(type_id);
    if (!traits) return error(at_type, "unknown tensor type id " + std::to_string(type_id));
    t.type = traits->type;
    if (t.dims[0] % traits->block_elems != 0) {
      return error(at_type, "row length dims[0] = " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                                std::string(traits->name) + " block size " + std::to_string(traits->block_elems));
    }
    const auto n_bytes = dtype_row_bytes(t.type, n_elements);
    if (!n_bytes) return error(at_type, "byte size overflows a 64-bit integer");
    t.n_bytes = *n_bytes;

    pos.offset = pos_;
    ER_RETURN_IF_ERROR(read(t.offset, "data offset"));
    if (t.offset % out.alignment != 0) {
      return error(pos.offset, "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                   std::to_string(out.alignment));
    }
    out.tensors.push_back(std::move(t));
    where.push_back(pos);
    return Status::ok();
  }

  // After the header: where the data section starts, and that every tensor's bytes lie inside the
  // file without overlapping another's.
  Status check_data(Parsed& out, const std::vector<TensorFieldPos>& where) {
    context_.clear();
    const auto data_offset = checked_align_up(pos_, out.alignment);
    if (!data_offset) return error(pos_, "data section offset overflows a 64-bit integer");
    out.data_offset = *data_offset;
    const uint64_t size = bytes_.size();
    struct Range {
      uint64_t begin, end;
      size_t index;
    };
    std::vector<Range> ranges;
    ranges.reserve(out.tensors.size());
    for (size_t i = 0; i < out.tensors.size(); ++i) {
      const TensorInfo& t = out.tensors[i];
      context_ = "tensor " + detail::quote(t.name);
      const auto begin = checked_add(out.data_offset, t.offset);
      const auto end = begin ? checked_add(*begin, t.n_bytes) : std::nullopt;
      if (!end) {
        return error(where[i].offset, "data offset " + std::to_string(t.offset) + " + size " +
                                          std::to_string(t.n_bytes) + " overflows a 64-bit file position");
      }
      if (*end > size) {
        return error(where[i].offset, "data " + range_text(*begin, *end) + " past end of file (" +
                                          std::to_string(size) + " bytes)");
      }
      ranges.push_back({*begin, *end, i});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.begin != b.begin ? a.begin < b.begin : a.index < b.index; });
    for (size_t k = 1; k < ranges.size(); ++k) {
      const Range& prev = ranges[k - 1];
      const Range& cur = ranges[k];
      if (cur.begin < prev.end) {
        const size_t later = std::max(prev.index, cur.index);
        const size_t earlier = std::min(prev.index, cur.index);
        const Range& a = prev.index == earlier ? prev : cur;
        const Range& b = prev.index == earlier ? cur : prev;
        context_ = "tensor " + detail::quote(out.tensors[later].name);
        return error(where[later].offset, "data " + range_text(b.begin, b.end) + " overlaps tensor " +
                                              detail::quote(out.tensors[earlier].name) + " " +
                                              range_text(a.begin, a.end));
      }
    }
    return Status::ok();
  }

  std::span<const uint8_t> bytes_;
  std::string file_;     // the quoted file name
  std::string context_;  // "header", "metadata key 'x'", "tensor 'y'": what is being read
  uint64_t pos_ = 0;
  uint64_t n_values_ = 0;  // array items read so far, against kMaxMetadataValues
  std::unordered_set<std::string> names_;
};

}  // namespace

Result<File> File::parse(std::span<const uint8_t> bytes, std::string name) {
  Parsed parsed;
  try {
    Parser parser(bytes, name);
    ER_RETURN_IF_ERROR(parser.run(parsed));
  } catch (const std::bad_alloc&) {
    return Status::invalid(detail::quote(name, 4096) + ": out of memory while reading the GGUF header");
  } catch (const std::length_error&) {
    return Status::invalid(detail::quote(name, 4096) + ": out of memory while reading the GGUF header");
  }
  File f;
  f.bytes_ = bytes;
  f.name_ = std::move(name);
  f.version_ = parsed.version;
  f.alignment_ = parsed.alignment;
  f.data_offset_ = parsed.data_offset;
  f.metadata_ = std::move(parsed.metadata);
  f.tensors_ = std::move(parsed.tensors);
  f.tensor_index_.reserve(f.tensors_.size());
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.tensor_index_.emplace(f.tensors_[i].name, i);
  return f;
}

Result<File> File::open(const std::string& path) {
  ER_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
  auto map = std::make_unique<MappedFile>(std::move(mapped));
  ER_ASSIGN_OR_RETURN(File f, parse(map->bytes(), path));
  f.map_ = std::move(map);
  return f;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<TensorView> File::tensor(std::string_view name) const {
  const TensorInfo* info = find_tensor(name);
  if (info == nullptr) return Status::not_found(detail::quote(name_, 4096) + ": no tensor named " + detail::quote(name));
  return view(*info);
}

TensorView File::view(const TensorInfo& info) const {
  const std::less<const TensorInfo*> before;
  ER_CHECK(!tensors_.empty() && !before(&info, tensors_.data()) && before(&info, tensors_.data() + tensors_.size()),
           "File::view: tensor info not from this file");
  return TensorView{&info, bytes_.data() + data_offset_ + info.offset};
}

}  // namespace er::gguf
