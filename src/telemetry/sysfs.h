// Small allocation-free readers for sysfs-style files (one number or one word per file), used by
// the power sources at every sample.
#pragma once

#include <string>

namespace er::telemetry {

struct NumberRead {
  bool ok = false;
  double value = 0;
  int error = 0;  // errno of the failing call, or EINVAL when the text is not a number
};

// Reads the whole of `path` (at most 63 bytes used) and parses one decimal number, surrounding
// whitespace allowed. No heap use.
NumberRead read_number_file(const char* path);

// Reads a short text file (a sysfs label), trailing whitespace removed; empty with `error` set on
// failure. Setup only (allocates).
std::string read_word_file(const std::string& path, int* error);

// "not present", "not readable (Permission denied)", "not a number" for a failed read of `path`.
std::string describe_read_error(const std::string& path, int error);

}  // namespace er::telemetry
