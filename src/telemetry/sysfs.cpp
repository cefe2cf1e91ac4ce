// Allocation-free number files and their error messages (see sysfs.h).
#include "telemetry/sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace er::telemetry {
namespace {

// Reads up to cap-1 bytes of `path` into buf (NUL-terminated); returns the count or -errno.
long read_small(const char* path, char* buf, size_t cap) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t n = 0;
  while (n + 1 < cap) {
    const ssize_t got = ::read(fd, buf + n, cap - 1 - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return -e;
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
  }
  ::close(fd);
  buf[n] = '\0';
  return static_cast<long>(n);
}

}  // namespace

NumberRead read_number_file(const char* path) {
  char buf[64];
  const long n = read_small(path, buf, sizeof buf);
  if (n < 0) return {false, 0, static_cast<int>(-n)};
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(buf, &end);
  if (end == buf || errno != 0) return {false, 0, EINVAL};
  while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r') ++end;
  if (*end != '\0') return {false, 0, EINVAL};
  return {true, v, 0};
}

std::string read_word_file(const std::string& path, int* error) {
  char buf[256];
  const long n = read_small(path.c_str(), buf, sizeof buf);
  if (n < 0) {
    *error = static_cast<int>(-n);
    return {};
  }
  *error = 0;
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
  return s;
}

std::string describe_read_error(const std::string& path, int error) {
  if (error == ENOENT) return path + " not present";
  if (error == EINVAL) return path + " does not hold a number";
  return path + " not readable (" + std::strerror(error) + ")";
}

}  // namespace er::telemetry
