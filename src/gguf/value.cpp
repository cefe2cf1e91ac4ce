// GGUF metadata values and the key/value table, with typed look-ups whose errors name the key.
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "gguf/gguf.h"
#include "gguf/internal.h"

namespace er::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  return "unknown";
}

namespace detail {

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::kFloat64); }

uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString: return 8;    // u64 length
    case ValueType::kArray: return 4 + 8;  // u32 element type + u64 count
  }
  ER_CHECK(false, "min_value_bytes: unknown value type");
  return 0;
}

std::string article_type_name(ValueType t) {
  const std::string_view name = value_type_name(t);
  const bool vowel = !name.empty() && (name[0] == 'i' || name[0] == 'a');  // "an int8", "a uint8"
  return std::string(vowel ? "an " : "a ") + std::string(name);
}

std::string describe_type(const Value& v) {
  if (v.type() != ValueType::kArray) return article_type_name(v.type());
  return "an array of " + std::string(value_type_name(v.elem_type()));
}

std::string quote(std::string_view s, size_t max_bytes) {
  size_t cut = s.size();
  if (cut > max_bytes) {
    cut = max_bytes;
    while (cut > 0 && (static_cast<uint8_t>(s[cut]) & 0xC0u) == 0x80u) --cut;  // not mid-character
  }
  std::string out = "'";
  for (size_t i = 0; i < cut; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += cut < s.size() ? "...'" : "'";
  return out;
}

}  // namespace detail

// ---- Value -------------------------------------------------------------------------------------
// Storage: unsigned integers and bools in u_, signed integers in i_, floats in f_ as double and,
// so that the writer reproduces every bit (NaN payloads included), their IEEE bits in u_.

namespace {

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64: return true;
    default: return false;
  }
}

bool is_signed_type(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 || t == ValueType::kInt64;
}

template <typename T>
std::string number_text(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

constexpr size_t kDisplayStringBytes = 160;

std::string display_string(const std::string& s) {
  const size_t cut = s.size() > kDisplayStringBytes ? kDisplayStringBytes : s.size();
  size_t end = cut;
  while (end < s.size() && end > 0 && (static_cast<uint8_t>(s[end]) & 0xC0u) == 0x80u) --end;
  std::string out = "\"";
  for (size_t i = 0; i < end; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  if (end < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace

Value Value::u8(uint8_t v) { Value x; x.type_ = ValueType::kUint8; x.u_ = v; return x; }
Value Value::i8(int8_t v) { Value x; x.type_ = ValueType::kInt8; x.i_ = v; return x; }
Value Value::u16(uint16_t v) { Value x; x.type_ = ValueType::kUint16; x.u_ = v; return x; }
Value Value::i16(int16_t v) { Value x; x.type_ = ValueType::kInt16; x.i_ = v; return x; }
Value Value::u32(uint32_t v) { Value x; x.type_ = ValueType::kUint32; x.u_ = v; return x; }
Value Value::i32(int32_t v) { Value x; x.type_ = ValueType::kInt32; x.i_ = v; return x; }
Value Value::u64(uint64_t v) { Value x; x.type_ = ValueType::kUint64; x.u_ = v; return x; }
Value Value::i64(int64_t v) { Value x; x.type_ = ValueType::kInt64; x.i_ = v; return x; }
Value Value::boolean(bool v) { Value x; x.type_ = ValueType::kBool; x.u_ = v ? 1 : 0; return x; }

Value Value::f32(float v) {
  Value x;
  x.type_ = ValueType::kFloat32;
  x.f_ = static_cast<double>(v);
  x.u_ = std::bit_cast<uint32_t>(v);
  return x;
}

Value Value::f64(double v) {
  Value x;
  x.type_ = ValueType::kFloat64;
  x.f_ = v;
  x.u_ = std::bit_cast<uint64_t>(v);
  return x;
}

Value Value::string(std::string v) {
  Value x;
  x.type_ = ValueType::kString;
  x.s_ = std::move(v);
  return x;
}

Value Value::array(ValueType elem, std::vector<Value> items) {
  for (const Value& item : items) {
    ER_CHECK(item.type() == elem, "Value::array: an item of type " + std::string(value_type_name(item.type())) +
                                      " in an array of " + std::string(value_type_name(elem)));
  }
  Value x;
  x.type_ = ValueType::kArray;
  x.elem_type_ = elem;
  x.items_ = std::move(items);
  return x;
}

Value Value::string_array(const std::vector<std::string>& items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (const std::string& s : items) values.push_back(Value::string(s));
  return array(ValueType::kString, std::move(values));
}

bool Value::is_integer() const { return is_integer_type(type_); }

std::optional<int64_t> Value::to_int() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type_)) return i_;
  if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u_);
}

std::optional<uint64_t> Value::to_uint() const {
  if (!is_integer()) return std::nullopt;
  if (!is_signed_type(type_)) return u_;
  if (i_ < 0) return std::nullopt;
  return static_cast<uint64_t>(i_);
}

std::optional<double> Value::to_double() const {
  if (is_float()) return f_;
  if (!is_integer()) return std::nullopt;
  return is_signed_type(type_) ? static_cast<double>(i_) : static_cast<double>(u_);
}

std::optional<bool> Value::to_bool() const {
  if (type_ != ValueType::kBool) return std::nullopt;
  return u_ != 0;
}

const std::string* Value::str() const { return type_ == ValueType::kString ? &s_ : nullptr; }

std::string Value::to_display(size_t max_items) const {
  switch (type_) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64: return std::to_string(u_);
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64: return std::to_string(i_);
    case ValueType::kFloat32: return number_text(std::bit_cast<float>(static_cast<uint32_t>(u_)));
    case ValueType::kFloat64: return number_text(f_);
    case ValueType::kBool: return u_ != 0 ? "true" : "false";
    case ValueType::kString: return display_string(s_);
    case ValueType::kArray: {
      std::string out = "[";
      const size_t shown = items_.size() < max_items ? items_.size() : max_items;
      for (size_t i = 0; i < shown; ++i) {
        if (i > 0) out += ", ";
        out += items_[i].to_display(max_items);
      }
      if (shown == items_.size()) return out + "]";
      return out + (shown > 0 ? ", ...] (" : "...] (") + std::to_string(items_.size()) + " items)";
    }
  }
  return "?";
}

// ---- Metadata ----------------------------------------------------------------------------------

namespace {

std::string key_text(std::string_view key) { return "metadata key " + detail::quote(key); }

Status missing(std::string_view key) { return Status::not_found(key_text(key) + " not found"); }

Status wrong_type(std::string_view key, const Value& v, std::string_view expected) {
  return Status::invalid(key_text(key) + " is " + detail::describe_type(v) + ", expected " + std::string(expected));
}

Status not_int64(std::string_view key, const std::string& where, uint64_t v) {
  return Status::invalid(key_text(key) + where + " value " + std::to_string(v) +
                         " does not fit a signed 64-bit integer");
}

}  // namespace

void Metadata::set(std::string key, Value value) {
  const auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

const Value* Metadata::find(std::string_view key) const {
  const auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Result<int64_t> Metadata::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (!v->is_integer()) return wrong_type(key, *v, "an integer");
  const auto r = v->to_int();
  if (!r) return not_int64(key, "", v->raw_u64());
  return *r;
}

Result<uint64_t> Metadata::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (!v->is_integer()) return wrong_type(key, *v, "a non-negative integer");
  const auto r = v->to_uint();
  if (!r) {
    return Status::invalid(key_text(key) + " is negative (" + std::to_string(v->raw_i64()) +
                           "), expected a non-negative integer");
  }
  return *r;
}

Result<double> Metadata::get_double(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  const auto r = v->to_double();
  if (!r) return wrong_type(key, *v, "a number");
  return *r;
}

Result<bool> Metadata::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  const auto r = v->to_bool();
  if (!r) return wrong_type(key, *v, "a bool");
  return *r;
}

Result<std::string> Metadata::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (v->str() == nullptr) return wrong_type(key, *v, "a string");
  return *v->str();
}

Result<std::vector<std::string>> Metadata::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (v->type() != ValueType::kArray || v->elem_type() != ValueType::kString) {
    return wrong_type(key, *v, "an array of string");
  }
  std::vector<std::string> out;
  out.reserve(v->size());
  for (const Value& item : v->items()) out.push_back(*item.str());
  return out;
}

Result<std::vector<int64_t>> Metadata::get_int_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (v->type() != ValueType::kArray || !is_integer_type(v->elem_type())) {
    return wrong_type(key, *v, "an array of integers");
  }
  std::vector<int64_t> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const auto r = v->items()[i].to_int();
    if (!r) return not_int64(key, " item " + std::to_string(i), v->items()[i].raw_u64());
    out.push_back(*r);
  }
  return out;
}

Result<std::vector<double>> Metadata::get_double_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (v->type() != ValueType::kArray) return wrong_type(key, *v, "an array of numbers");
  switch (v->elem_type()) {
    case ValueType::kString: case ValueType::kArray: case ValueType::kBool:
      return wrong_type(key, *v, "an array of numbers");
    default: break;
  }
  std::vector<double> out;
  out.reserve(v->size());
  for (const Value& item : v->items()) out.push_back(*item.to_double());
  return out;
}

Result<size_t> Metadata::get_array_size(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(key);
  if (v->type() != ValueType::kArray) return wrong_type(key, *v, "an array");
  return v->size();
}

Result<int64_t> Metadata::get_int_or(std::string_view key, int64_t fallback) const {
  if (!contains(key)) return fallback;
  return get_int(key);
}

Result<double> Metadata::get_double_or(std::string_view key, double fallback) const {
  if (!contains(key)) return fallback;
  return get_double(key);
}

Result<std::string> Metadata::get_string_or(std::string_view key, std::string fallback) const {
  if (!contains(key)) return fallback;
  return get_string(key);
}

}  // namespace er::gguf
