// Quantizers and dequantizers against llama.cpp: golden block hashes, and libggml-base.so itself when present.
//
// The golden hashes were produced by llama.cpp's quantize_row_<t>_ref (libggml-base from
// llama-cpp-python 0.3.36, ggml 0.25.3) and match ours byte for byte. When that library can be
// found (EDGEREASON_LLAMACPP_LIB=/path/libggml-base.so, or the llama-cpp-python venv under
// ~/.cache/edgereason), the test also calls it directly on the same inputs.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "kernels/quant.h"

namespace er::kernels {
namespace {

struct Rng {  // splitmix64
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Approximately N(0, 1) from four uniforms (Irwin-Hall): plain arithmetic, so the inputs and
  // the golden hashes do not depend on the libm in use.
  double normal() {
    return (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.7320508075688772;
  }
};

// Inputs that stress different paths: small and huge Gaussians, all-positive, values on a
// coarse grid (many rounding ties), sparse, and all-negative with a tiny spread.
std::vector<float> test_input(int kind, int64_t n) {
  Rng rng{static_cast<uint64_t>(kind) * 7919 + 1};
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) {
    const double g = rng.normal();
    switch (kind) {
      case 0: v = static_cast<float>(0.02 * g); break;
      case 1: v = static_cast<float>(1000 * g); break;
      case 2: v = static_cast<float>(std::fabs(g) * 0.1 + 0.5); break;
      case 3: v = static_cast<float>(std::round(g * 4) / 4); break;
      case 4: v = rng.uniform() < 0.3 ? 0.0f : static_cast<float>(g); break;
      default: v = static_cast<float>(-std::fabs(g) * 1e-3 - 2); break;
    }
  }
  return x;
}
constexpr int kKinds = 6;
constexpr int64_t kN = 4096;

uint64_t fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

std::vector<uint8_t> ours(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(*dtype_row_bytes(t, x.size()));
  EXPECT_TRUE(quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size())).is_ok());
  return q;
}

struct Golden {
  DType type;
  const char* llama_quantize;    // symbol in libggml-base
  const char* llama_dequantize;
  uint64_t hash[kKinds];         // fnv1a of the blocks for test_input(kind, kN)
};

const Golden kGolden[] = {
    {DType::kQ4_0, "quantize_row_q4_0_ref", "dequantize_row_q4_0",
     {0x5d70018332b71135ull, 0x89e7c58318b22f51ull, 0xc8e90bec8d06577full,
      0x118a0d023b7dabf1ull, 0x8710428b0a0d85f9ull, 0x6aa0dfc251b81dbeull}},
    {DType::kQ4_1, "quantize_row_q4_1_ref", "dequantize_row_q4_1",
     {0xfffe35d47143cec0ull, 0xc3b02a26503ab476ull, 0xeb5599fb0cd3ba59ull,
      0x154d72af84baddb0ull, 0x7efe9956f7251787ull, 0xa3879882c7f9b6c0ull}},
    {DType::kQ5_0, "quantize_row_q5_0_ref", "dequantize_row_q5_0",
     {0xd972d7e14764f1e1ull, 0x2c62cb133c108b80ull, 0xee0c9155c1da5a4dull,
      0xa7c1a39cc10298c1ull, 0x0fc7c84aa1a5accaull, 0xe767e972a2c2ac36ull}},
    {DType::kQ5_1, "quantize_row_q5_1_ref", "dequantize_row_q5_1",
     {0x9d3dde432c9e8124ull, 0x54277983ae8de83eull, 0xcc1ccf390b4b03bdull,
      0x51277820b066ed2cull, 0x1bb1bb9510d6f8b7ull, 0xb3a87f17a2b30489ull}},
    {DType::kQ8_0, "quantize_row_q8_0_ref", "dequantize_row_q8_0",
     {0x0549f3eda14c7c85ull, 0xb2f62462d45092e2ull, 0xb6544725b1ecd6e2ull,
      0x49b1ab3823ad0d26ull, 0xa87c8749b2069fe4ull, 0x2f38322cc31752f6ull}},
    {DType::kQ4_K, "quantize_row_q4_K_ref", "dequantize_row_q4_K",
     {0x067b71781af02c86ull, 0xc93526a0cc5fcef4ull, 0xf846112aa1bc0abbull,
      0x33f4340f5176b75eull, 0x45751c0bdfb79daeull, 0x960e772cff38f2b6ull}},
    {DType::kQ6_K, "quantize_row_q6_K_ref", "dequantize_row_q6_K",
     {0x3e0ccddb638ae22eull, 0x96f0a9e4a263b200ull, 0x499dc9473516261full,
      0x1c044df3ac758707ull, 0xc2bca1fde7a855a3ull, 0xd47e6f45a51fc5bdull}},
};

TEST(QuantLlamaCpp, BlocksMatchGoldenHashes) {
  for (const Golden& g : kGolden) {
    for (int kind = 0; kind < kKinds; ++kind) {
      const uint64_t h = fnv1a(ours(g.type, test_input(kind, kN)));
      EXPECT_EQ(h, g.hash[kind]) << dtype_name(g.type) << " input kind " << kind << ": got 0x"
                                 << std::hex << h;
    }
  }
}

// True when the ELF file at `path` was built for the machine this test runs on. The venv's
// library is x86-64; the aarch64 test binary runs under qemu on the same host and must skip it.
bool elf_for_this_machine(const std::string& path) {
#if defined(__x86_64__)
  constexpr uint16_t kMachine = 62;  // EM_X86_64
#elif defined(__aarch64__)
  constexpr uint16_t kMachine = 183;  // EM_AARCH64
#else
  constexpr uint16_t kMachine = 0;  // unknown here: let dlopen decide
#endif
  if (kMachine == 0) return true;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char hdr[20] = {};
  const size_t got = std::fread(hdr, 1, sizeof hdr, f);
  std::fclose(f);
  if (got != sizeof hdr || std::memcmp(hdr, "\x7f" "ELF", 4) != 0) return false;
  const uint16_t machine = static_cast<uint16_t>(hdr[18] | (hdr[19] << 8));  // little-endian
  return machine == kMachine;
}

// libggml-base.so from EDGEREASON_LLAMACPP_LIB or the llama-cpp-python venv, or empty.
std::string find_ggml_base() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("EDGEREASON_LLAMACPP_LIB"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr) return {};
  const fs::path lib = fs::path(home) / ".cache/edgereason/llamacpp-venv/lib";
  std::error_code ec;
  if (!fs::is_directory(lib, ec)) return {};
  for (const auto& py : fs::directory_iterator(lib, ec)) {
    const fs::path p = py.path() / "site-packages/llama_cpp/lib/libggml-base.so";
    if (fs::exists(p, ec) && elf_for_this_machine(p.string())) return p.string();
  }
  return {};
}

// Skips the test when llama.cpp's library is absent; fails when a named one cannot be loaded.
#define ER_OPEN_GGML_BASE(lib)                                           \
  const std::string lib##_path = find_ggml_base();                       \
  if (lib##_path.empty()) {                                              \
    GTEST_SKIP() << "llama.cpp's libggml-base.so for this machine not "  \
                    "found (set EDGEREASON_LLAMACPP_LIB)";               \
  }                                                                      \
  void* lib = dlopen(lib##_path.c_str(), RTLD_NOW | RTLD_LOCAL);         \
  ASSERT_NE(lib, nullptr) << dlerror()

TEST(QuantLlamaCpp, SameBytesAndFloatsAsLibggml) {
  ER_OPEN_GGML_BASE(lib);
  using QuantizeFn = void (*)(const float*, void*, int64_t);
  using DequantizeFn = void (*)(const void*, float*, int64_t);
  for (const Golden& g : kGolden) {
    auto* quantize = reinterpret_cast<QuantizeFn>(dlsym(lib, g.llama_quantize));
    auto* dequantize = reinterpret_cast<DequantizeFn>(dlsym(lib, g.llama_dequantize));
    ASSERT_NE(quantize, nullptr) << g.llama_quantize;
    ASSERT_NE(dequantize, nullptr) << g.llama_dequantize;
    Rng rng{99};
    for (int kind = 0; kind < kKinds; ++kind) {
      const std::vector<float> x = test_input(kind, kN);
      std::vector<uint8_t> theirs(*dtype_row_bytes(g.type, kN));
      quantize(x.data(), theirs.data(), kN);
      EXPECT_EQ(ours(g.type, x), theirs) << dtype_name(g.type) << " input kind " << kind;
      // Dequantize their blocks, then random bytes (any bit pattern is a valid block).
      for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1) {
          for (auto& b : theirs) b = static_cast<uint8_t>(rng.next());
        }
        std::vector<float> a(kN), b(kN);
        dequantize_row(g.type, theirs.data(), a.data(), kN);
        dequantize(theirs.data(), b.data(), kN);
        for (int64_t i = 0; i < kN; ++i) {
          if (std::isnan(a[i]) && std::isnan(b[i])) continue;
          ASSERT_EQ(std::memcmp(&a[i], &b[i], 4), 0)
              << dtype_name(g.type) << " kind " << kind << " pass " << pass << " weight " << i
              << ": " << a[i] << " vs " << b[i];
        }
      }
    }
  }
  dlclose(lib);
}

// f16 and bf16 rows: every f16/bf16 pattern widened, and ~1M strided floats narrowed.
TEST(QuantLlamaCpp, HalfConversionsMatchLibggml) {
  ER_OPEN_GGML_BASE(lib);
  using NarrowFn = void (*)(const float*, uint16_t*, int64_t);
  using WidenFn = void (*)(const uint16_t*, float*, int64_t);
  auto* to_f16 = reinterpret_cast<NarrowFn>(dlsym(lib, "ggml_fp32_to_fp16_row"));
  auto* from_f16 = reinterpret_cast<WidenFn>(dlsym(lib, "ggml_fp16_to_fp32_row"));
  auto* to_bf16 = reinterpret_cast<NarrowFn>(dlsym(lib, "ggml_fp32_to_bf16_row_ref"));
  auto* from_bf16 = reinterpret_cast<WidenFn>(dlsym(lib, "ggml_bf16_to_fp32_row"));
  ASSERT_TRUE(to_f16 && from_f16 && to_bf16 && from_bf16);

  std::vector<uint16_t> halves(65536);
  for (uint32_t i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> theirs(65536), ours_f(65536);
  const std::pair<WidenFn, DequantizeRowFn> widen_pairs[] = {{from_f16, dequantize_row_f16},
                                                            {from_bf16, dequantize_row_bf16}};
  for (auto [widen, ours_widen] : widen_pairs) {
    widen(halves.data(), theirs.data(), 65536);
    ours_widen(halves.data(), ours_f.data(), 65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      if (std::isnan(theirs[i]) && std::isnan(ours_f[i])) continue;
      ASSERT_EQ(std::memcmp(&theirs[i], &ours_f[i], 4), 0) << "pattern " << i;
    }
  }

  std::vector<float> x;
  for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
    const auto bits = static_cast<uint32_t>(u);
    float f;
    std::memcpy(&f, &bits, 4);
    if (!std::isnan(f)) x.push_back(f);  // ggml writes one canonical f16 NaN, we keep the payload
  }
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> a(x.size()), b(x.size());
  to_f16(x.data(), a.data(), n);
  quantize_row_f16(x.data(), b.data(), n);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], b[i]) << std::hexfloat << x[i];
  to_bf16(x.data(), a.data(), n);
  quantize_row_bf16(x.data(), b.data(), n);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], b[i]) << std::hexfloat << x[i];
  dlclose(lib);
}

}  // namespace
}  // namespace er::kernels
