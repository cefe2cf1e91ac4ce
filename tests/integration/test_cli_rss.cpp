// Peak memory of `edgereason run`: the process's peak resident set must stay within the model
// file + the KV cache (kv_bytes_per_token_f16 of `info --json` × context) + 64 MiB for everything
// else (activations, logits, workspaces, thread stacks, the tokenizer, the C++ runtime).
//
// With transparent huge pages set to "always" (CI machines have it) every touched 2 MiB of the KV
// cache is resident whole, so a short run already holds most of its KV: the bound counts all of it.
//
// The peak is the child's ru_maxrss from wait4() — what `/usr/bin/time -v` reports as "Maximum
// resident set size" (the kernel's VmHWM at exit) — so no extra package is needed.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kOverheadBytes = 64ll << 20;  // 64 MiB

struct Measured {
  int exit_code = -1;
  int64_t peak_rss_bytes = 0;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs build/bin/edgereason with `args` (no shell), stdin from /dev/null, and returns its exit
// code, output and peak RSS.
Measured run_measured(const std::vector<std::string>& args) {
  test::TempDir tmp;
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  const std::string exe = test::cli_path().string();
  std::vector<std::string> argv_s{exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  Measured m;
  const pid_t pid = fork();
  if (pid < 0) return m;
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(127);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) != pid) return m;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  m.peak_rss_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;  // KiB on Linux
  m.out = slurp(out);
  m.err = slurp(err);
  return m;
}

double mib(int64_t b) { return static_cast<double>(b) / 1048576.0; }

// AddressSanitizer's shadow memory and quarantine make a resident-set figure meaningless.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

#define ER_SKIP_UNDER_ASAN() \
  if (kAsan) GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer"

// `run` on MODEL with context CTX and N_PREDICT greedy tokens: peak RSS within the bound.
void expect_run_within_bound(const fs::path& model, int64_t ctx, int n_predict) {
  const test::CliResult info = test::run_cli("info -m " + test::shell_quote(model.string()) + " --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const json j = json::parse(info.out);
  const int64_t file_bytes = j.at("file_bytes").get<int64_t>();
  const int64_t kv_per_token = j.at("kv_bytes_per_token_f16").get<int64_t>();
  const int64_t kv_bytes = kv_per_token * ctx;
  const int64_t bound = file_bytes + kv_bytes + kOverheadBytes;

  const Measured r = run_measured({"run", "-m", model.string(), "-p", "The capital of France is", "-n",
                                   std::to_string(n_predict), "-c", std::to_string(ctx), "-t", "2", "--temp", "0",
                                   "--ignore-eos", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rec = json::parse(r.out);
  EXPECT_FALSE(rec.at("text").get<std::string>().empty());

  char line[256];
  std::snprintf(line, sizeof line,
                "peak RSS %.1f MiB; bound %.1f MiB = model file %.1f + KV %.1f (%lld B/token x %lld) + 64",
                mib(r.peak_rss_bytes), mib(bound), mib(file_bytes), mib(kv_bytes), static_cast<long long>(kv_per_token),
                static_cast<long long>(ctx));
  std::cout << "[ rss      ] " << model.filename().string() << ": " << line << "\n";
  ::testing::Test::RecordProperty("peak_rss_bytes", std::to_string(r.peak_rss_bytes));
  ::testing::Test::RecordProperty("bound_bytes", std::to_string(bound));
  EXPECT_GT(r.peak_rss_bytes, 0);
  EXPECT_LE(r.peak_rss_bytes, bound) << model << ": " << line;
}

TEST(CliRss, MeasurementSeesTheChildsMemory) {
  // The measurement must be able to fail: a run's peak includes at least the mapped model pages it
  // read, so it is above a few MiB, and it is the child's figure, not this test process's.
  const fs::path model = test::fixture_dir() / "tiny-llama-q8_0.gguf";
  const Measured r = run_measured({"run", "-m", model.string(), "-p", "Hello", "-n", "4", "-c", "64", "-t", "2",
                                   "--temp", "0", "--ignore-eos", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.peak_rss_bytes, 2ll << 20);
  if (!kAsan) {
    EXPECT_LT(r.peak_rss_bytes, 4ll << 30);
  }
}

TEST(CliRss, TinyFixtureRunStaysWithinModelPlusKvPlus64MiB) {
  ER_SKIP_UNDER_ASAN();
  expect_run_within_bound(test::fixture_dir() / "tiny-llama-q8_0.gguf", 4096, 16);
}

TEST(CliRss, SmolLM2RunStaysWithinModelPlusKvPlus64MiB) {
  ER_SKIP_UNDER_ASAN();
  ER_REQUIRE_MODEL(model, "smollm2");
  expect_run_within_bound(model, 4096, 16);
}

TEST(CliRss, LargestModelRunStaysWithinModelPlusKvPlus64MiB) {
  ER_SKIP_UNDER_ASAN();
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-1.5b");
  expect_run_within_bound(model, 4096, 16);
}

}  // namespace
}  // namespace er
