// What this host is: CPU model, logical cores, instruction-set features, cache sizes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace er::perfmodel {

struct CacheInfo {
  int level = 0;          // 1, 2, 3, ...
  std::string type;       // "Data", "Instruction", "Unified"
  int64_t size_bytes = 0;
  int n_sharing_cpus = 0;  // logical CPUs sharing one instance (0: unknown)
};

struct HostInfo {
  std::string cpu;                // "AMD EPYC 9R14", "unknown"
  int64_t n_cores = 0;            // logical CPUs online
  std::vector<std::string> isa;   // features present, e.g. "avx2", "fma", "avx512f", "avx512_vnni"
  std::vector<CacheInfo> caches;  // cpu0's caches, level order
  int64_t llc_bytes = 0;          // the largest data/unified cache (0: unknown)
  int64_t mem_total_bytes = 0;    // physical memory (0: unknown)
};

// Reads /proc/cpuinfo, /sys/devices/system/cpu/cpu0/cache and cpuid; falls back to sysconf.
HostInfo read_host_info();

// "48 KiB", "1 MiB", "32 MiB".
std::string format_cache_size(int64_t bytes);

}  // namespace er::perfmodel
