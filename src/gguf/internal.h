// Private helpers shared by the GGUF reader, writer and value code (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gguf/gguf.h"

namespace er::gguf::detail {

// Nesting limit for arrays of arrays: an array directly under a key is level 1.
inline constexpr int kMaxArrayDepth = 8;
// Upper bound on the number of metadata values (scalars and array items, at every level) one file
// may hold. Real vocabularies hold a few hundred thousand; the cap stops a large malicious file
// from turning each 1-byte item into a ~100-byte Value.
inline constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;

// True for the 13 value type ids GGUF defines.
bool is_known_value_type(uint32_t id);
// Bytes a value of type `t` needs at the very least (a string: its u64 length; an array: its u32
// element type + u64 count).
uint64_t min_value_bytes(ValueType t);
// "a uint32", "an int8", "a string", "an array of float32": for messages.
std::string describe_type(const Value& v);
std::string article_type_name(ValueType t);

// `s` quoted in single quotes for a one-line message: control bytes escaped as \xNN, cut after
// `max_bytes` bytes (at a UTF-8 boundary) with "..." appended.
std::string quote(std::string_view s, size_t max_bytes = 96);

}  // namespace er::gguf::detail
