// libFuzzer target: File::parse on any bytes must fail cleanly or display, view and round-trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/check.h"
#include "gguf/gguf.h"

namespace er::fuzz {

// Calls every typed getter on `key` (each either succeeds or returns a Status; none may crash).
inline size_t exercise_getters(const gguf::Metadata& m, const std::string& key) {
  size_t n = 0;
  n += m.get_int(key).is_ok();
  n += m.get_uint(key).is_ok();
  n += m.get_double(key).is_ok();
  n += m.get_bool(key).is_ok();
  n += m.get_string(key).is_ok();
  n += m.get_string_array(key).is_ok();
  n += m.get_int_array(key).is_ok();
  n += m.get_double_array(key).is_ok();
  n += m.get_array_size(key).is_ok();
  return n;
}

// Alignment above which the round trip is skipped: a file without tensors may declare a huge
// alignment it never pads to, while the writer always pads the header (as llama.cpp does).
inline constexpr uint64_t kMaxRoundTripAlignment = uint64_t{1} << 20;

inline int check_gguf_input(const uint8_t* data, size_t size) {
  auto parsed = gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!parsed.is_ok()) {
    const Status status = parsed.status();
    const std::string& m = status.message();
    ER_CHECK(status.code() == StatusCode::kInvalidInput, m);
    ER_CHECK(m.rfind("'fuzz.gguf': ", 0) == 0 && m.find('\n') == std::string::npos, "bad message: " + m);
    return 0;
  }
  const gguf::File& f = *parsed;
  volatile size_t sink = 0;
  for (const auto& [key, value] : f.metadata().entries()) {
    sink = sink + value.to_display().size() + exercise_getters(f.metadata(), key);
  }
  const uint8_t* end = f.bytes().data() + f.bytes().size();
  for (const gguf::TensorInfo& info : f.tensors()) {
    const gguf::TensorView v = f.view(info);
    ER_CHECK(v.data >= f.bytes().data() + f.data_offset() && v.n_bytes() <= static_cast<uint64_t>(end - v.data),
             "tensor view out of bounds: " + info.name);
    sink = sink + v.data[0] + v.data[v.n_bytes() - 1];  // ASan checks both ends really are readable
  }
  if (f.alignment() > kMaxRoundTripAlignment) return 0;

  auto first = gguf::Writer::from_file(f).serialize();
  ER_CHECK(first.is_ok(), "serialize failed: " + first.status().message());
  auto reparsed = gguf::File::parse(*first, "fuzz-roundtrip.gguf");
  ER_CHECK(reparsed.is_ok(), "re-parse failed: " + reparsed.status().message());
  ER_CHECK(reparsed->metadata().size() == f.metadata().size() && reparsed->tensors().size() == f.tensors().size(),
           "round trip changed the number of keys or tensors");
  auto second = gguf::Writer::from_file(*reparsed).serialize();
  ER_CHECK(second.is_ok() && *second == *first, "serialize(parse(serialize(x))) != serialize(x)");
  return 0;
}

}  // namespace er::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return er::fuzz::check_gguf_input(data, size);
}
