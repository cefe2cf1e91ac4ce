// er_fuzz_gguf_seeds DIR: writes the GGUF fuzzer's seed corpus (tests/fuzz/gguf_seeds.h) into DIR.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fuzz/gguf_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot create: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  const auto seeds = er::fuzz::make_gguf_seeds();
  for (const auto& [name, bytes] : seeds) {
    const std::filesystem::path p = dir / ("seed-" + name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "%s: cannot write\n", p.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
