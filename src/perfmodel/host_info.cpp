// Host description from /proc, /sys and cpuid (see host_info.h).
#include "perfmodel/host_info.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "kernels/isa.h"

namespace er::perfmodel {
namespace {

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// "48K", "1024K", "32M" (sysfs cache sizes).
int64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  int64_t n = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s[i++] - '0');
  if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) n <<= 10;
  if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) n <<= 20;
  if (i < s.size() && (s[i] == 'G' || s[i] == 'g')) n <<= 30;
  return n;
}

// Logical CPUs in a list such as "0-3,8".
int count_cpu_list(const std::string& s) {
  int n = 0;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      n += item.empty() ? 0 : 1;
    } else {
      n += std::max(0, std::atoi(item.c_str() + dash + 1) - std::atoi(item.c_str()) + 1);
    }
  }
  return n;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    // x86: "model name"; some ARM kernels: "Hardware" or "Model".
    for (const char* key : {"model name", "Hardware", "Model"}) {
      if (line.rfind(key, 0) == 0) {
        const size_t colon = line.find(':');
        if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
      }
    }
  }
  return "unknown";
}

std::vector<std::string> isa_features() {
  std::vector<std::string> out;
#if defined(__x86_64__)
  __builtin_cpu_init();
  // The features the kernels care about, named as /proc/cpuinfo names them.
  if (__builtin_cpu_supports("sse4.2")) out.push_back("sse4_2");
  if (__builtin_cpu_supports("avx")) out.push_back("avx");
  if (__builtin_cpu_supports("avx2")) out.push_back("avx2");
  if (__builtin_cpu_supports("fma")) out.push_back("fma");
  if (__builtin_cpu_supports("f16c")) out.push_back("f16c");
  if (__builtin_cpu_supports("avxvnni")) out.push_back("avx_vnni");
  if (__builtin_cpu_supports("avx512f")) out.push_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) out.push_back("avx512bw");
  if (__builtin_cpu_supports("avx512dq")) out.push_back("avx512dq");
  if (__builtin_cpu_supports("avx512vl")) out.push_back("avx512vl");
  if (__builtin_cpu_supports("avx512vnni")) out.push_back("avx512_vnni");
  if (__builtin_cpu_supports("avx512bf16")) out.push_back("avx512_bf16");
#elif defined(__aarch64__)
  // The kernel levels' features, named as /proc/cpuinfo names them (asimd, asimddp, i8mm).
  if (kernels::isa_supported(kernels::Isa::kNeon)) out.push_back("asimd");
  if (kernels::isa_supported(kernels::Isa::kDotprod)) out.push_back("asimddp");
  if (kernels::isa_supported(kernels::Isa::kI8mm)) out.push_back("i8mm");
#endif
  return out;
}

int64_t mem_total_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") return kib * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace

HostInfo read_host_info() {
  HostInfo h;
  h.cpu = cpu_model_name();
  h.n_cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  h.isa = isa_features();
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level");
    if (level.empty()) break;
    CacheInfo c;
    c.level = std::atoi(level.c_str());
    c.type = read_line(dir + "type");
    c.size_bytes = parse_size(read_line(dir + "size"));
    c.n_sharing_cpus = count_cpu_list(read_line(dir + "shared_cpu_list"));
    h.caches.push_back(c);
  }
  for (const CacheInfo& c : h.caches) {
    if (c.type != "Instruction") h.llc_bytes = std::max(h.llc_bytes, c.size_bytes);
  }
  if (h.llc_bytes == 0) {  // no sysfs (containers, other OSes): ask libc
#ifdef _SC_LEVEL3_CACHE_SIZE
    h.llc_bytes = std::max<int64_t>(sysconf(_SC_LEVEL3_CACHE_SIZE), sysconf(_SC_LEVEL2_CACHE_SIZE));
#endif
    h.llc_bytes = std::max<int64_t>(h.llc_bytes, 0);
  }
  h.mem_total_bytes = mem_total_bytes();
  return h;
}

std::string format_cache_size(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30) && bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (int64_t{1} << 20) && bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace er::perfmodel
