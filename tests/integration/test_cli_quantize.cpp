// `edgereason quantize` end to end: output, --force, bad input (exit 2, one line, no OUT), a full
// disk (exit 1, no OUT, no temporary file), progress on stderr.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "support/test_support.h"

namespace er {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::shell_quote;

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }
size_t n_entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// A two-layer llama-style model with F32 weights, 256 wide, `n_vocab` rows of embedding.
void write_model(const fs::path& p, uint64_t n_vocab = 32) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("general.file_type", gguf::Value::u32(0));
  w.set("llama.block_count", gguf::Value::u32(2));
  const auto add = [&](const std::string& name, std::vector<uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    std::vector<float> x(n);
    for (uint64_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
    std::vector<uint8_t> b(n * 4);
    std::memcpy(b.data(), x.data(), b.size());
    ASSERT_TRUE(w.add_tensor(name, DType::kF32, std::move(dims), std::move(b)).is_ok());
  };
  add("token_embd.weight", {256, n_vocab});
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", {256});
    add(b + "attn_v.weight", {256, 64});
    add(b + "ffn_down.weight", {256, 256});
  }
  ASSERT_TRUE(w.write_file(p.string()).is_ok());
}

void expect_bad_input(const test::CliResult& r, const std::string& culprit) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(culprit), std::string::npos) << "message does not name '" << culprit << "': " << r.err;
}

TEST(CliQuantize, WritesRefusesExistingOutputAndForces) {
  test::TempDir dir;
  const fs::path in = dir / "in.gguf", out = dir / "out.gguf";
  write_model(in);
  const std::string args = "quantize " + shell_quote(in.string()) + " " + shell_quote(out.string());
  test::CliResult r = run_cli(args + " --type q4_k_m");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Q4_K_M"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[   7/   7]"), std::string::npos) << r.err;  // progress, to the last tensor
  EXPECT_NE(r.err.find("done"), std::string::npos) << r.err;
  {
    auto f = gguf::File::open(out.string());
    ASSERT_TRUE(f.is_ok());
    EXPECT_EQ(*f->metadata().get_int("general.file_type"), 15);
    EXPECT_EQ(f->find_tensor("blk.0.attn_v.weight")->type, DType::kQ4_K);  // use_more_bits(0, 2) is false
    EXPECT_EQ(f->find_tensor("blk.1.attn_v.weight")->type, DType::kQ6_K);  // use_more_bits(1, 2): 1 >= 7 * 2 / 8
    EXPECT_EQ(f->find_tensor("token_embd.weight")->type, DType::kQ6_K);   // tied output
    EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, DType::kF32);
  }
  const auto before = test::read_bytes(out);
  r = run_cli(args + " --type q8_0");
  expect_bad_input(r, "--force");
  EXPECT_EQ(test::read_bytes(out), before);
  r = run_cli(args + " --type q8_0 --force -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto f = gguf::File::open(out.string());
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(*f->metadata().get_int("general.file_type"), 7);
  EXPECT_EQ(*f->metadata().get_string("edgereason.quantize.source_type"), "F32");
  EXPECT_EQ(n_entries(dir.path()), 2u);
}

TEST(CliQuantize, BadInputExitsTwoWithoutOutput) {
  test::TempDir dir;
  const fs::path in = dir / "in.gguf", out = dir / "out.gguf";
  write_model(in);
  const std::string args = "quantize " + shell_quote(in.string()) + " " + shell_quote(out.string());
  expect_bad_input(run_cli(args + " --type q3_k_m"), "--type");
  expect_bad_input(run_cli("quantize " + shell_quote((dir / "none.gguf").string()) + " " +
                           shell_quote(out.string()) + " --type q8_0"),
                   "none.gguf");
  expect_bad_input(run_cli(args + " --type q8_0 -t 0"), "-t");
  test::write_text(dir / "junk.gguf", "not a gguf file at all");
  expect_bad_input(run_cli("quantize " + shell_quote((dir / "junk.gguf").string()) + " " +
                           shell_quote(out.string()) + " --type q8_0"),
                   "junk.gguf");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(n_entries(dir.path()), 2u);  // in.gguf, junk.gguf
}

// A full disk, emulated by the shell's file size limit (write() fails with EFBIG, as with ENOSPC):
// exit 1 with the reason, no OUT and no temporary file.
TEST(CliQuantize, FullDiskLeavesNoPartialOutput) {
  test::TempDir dir;
  const fs::path in = dir / "in.gguf", out = dir / "out.gguf";
  write_model(in);
  const std::string cmd = "trap '' XFSZ; ulimit -f 64; exec " + shell_quote(test::cli_path().string()) + " quantize " +
                          shell_quote(in.string()) + " " + shell_quote(out.string()) + " --type f32 -q 2>" +
                          shell_quote((dir / "err.txt").string());
  const int rc = std::system(("sh -c " + shell_quote(cmd)).c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  const auto err = test::read_bytes(dir / "err.txt");
  const std::string msg(err.begin(), err.end());
  EXPECT_NE(msg.find("cannot write"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(n_entries(dir.path()), 2u);  // in.gguf, err.txt
}

// A real full disk where the test may mount a small tmpfs (root, mount allowed); skipped elsewhere
// (the file size limit above covers the same path).
TEST(CliQuantize, FullTmpfsLeavesNoPartialOutput) {
  test::TempDir dir;
  const fs::path in = dir / "in.gguf", mnt = dir / "small";
  write_model(in);
  fs::create_directory(mnt);
  if (::geteuid() != 0 ||
      std::system(("mount -t tmpfs -o size=64k tmpfs " + shell_quote(mnt.string()) + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  }
  const fs::path out = mnt / "out.gguf";
  const test::CliResult r =
      run_cli("quantize " + shell_quote(in.string()) + " " + shell_quote(out.string()) + " --type f32 -q");
  const bool left = fs::exists(out) || !fs::is_empty(mnt);
  EXPECT_EQ(std::system(("umount " + shell_quote(mnt.string())).c_str()), 0);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_FALSE(left) << "a partial output or temporary file was left on the full file system";
}

// SIGTERM while the output is being written removes the temporary file (and there is no OUT).
TEST(CliQuantize, SignalRemovesTheTemporaryFile) {
  test::TempDir dir;
  const fs::path in = dir / "in.gguf", out = dir / "out.gguf";
  write_model(in, 48 * 1024);  // 12.6 M weights: Q6_K (the tied output) takes a while
  const std::string cmd = "exec " + shell_quote(test::cli_path().string()) + " quantize " + shell_quote(in.string()) +
                          " " + shell_quote(out.string()) + " --type q4_k_m -q -t 1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const fs::path tmp = dir / ("out.gguf.tmp." + std::to_string(pid));
  bool seen = false;
  for (int i = 0; i < 4000 && !seen; ++i) {  // up to 20 s
    seen = fs::exists(tmp);
    if (!seen) ::usleep(5000);
  }
  ::kill(pid, SIGTERM);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  if (!seen || (WIFEXITED(st) && WEXITSTATUS(st) == 0)) GTEST_SKIP() << "quantize finished before the signal";
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << st;
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(n_entries(dir.path()), 1u);
}

}  // namespace
}  // namespace er
