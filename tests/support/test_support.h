// Helpers shared by the tests: where things are, scratch directories, small file utilities.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace er::test {

std::filesystem::path source_dir();   // the repository root
std::filesystem::path binary_dir();   // the CMake build directory
std::filesystem::path fixture_dir();  // generated fixtures (tools/make-fixtures)
std::filesystem::path shared_dir();   // ../shared beside the repository (may be absent)
std::filesystem::path data_dir();     // the evaluation sets shipped in the repository (data/)

// A model installed by scripts/get-models.sh (EDGEREASON_MODELS or <repo>/models), or empty
// when it is not installed. Tests call GTEST_SKIP() on empty unless EDGEREASON_REQUIRE_MODELS=1
// is set (CI sets it), in which case require_model() fails the test instead.
std::filesystem::path model_path(const std::string& name);
bool models_required();

// Bitwise equality of two float vectors (EXPECT_EQ on floats takes -0 for +0 and never NaN for NaN).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs build/bin/edgereason with `args` (a shell-quoted string), stdin from /dev/null, and
// returns its exit code, stdout and stderr.
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CliResult run_cli(const std::string& args);
std::filesystem::path cli_path();
// Single-quotes `s` for the shell.
std::string shell_quote(const std::string& s);

std::vector<uint8_t> read_bytes(const std::filesystem::path& p);
void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& bytes);
void write_text(const std::filesystem::path& p, const std::string& text);

}  // namespace er::test

// Skips (or, with EDGEREASON_REQUIRE_MODELS=1, fails) the current test when model NAME is
// missing; otherwise declares `std::filesystem::path VAR` holding its path.
#define ER_REQUIRE_MODEL(VAR, NAME)                                                   \
  const std::filesystem::path VAR = ::er::test::model_path(NAME);                     \
  if (VAR.empty()) {                                                                  \
    if (::er::test::models_required()) FAIL() << "model '" << NAME << "' not installed"; \
    GTEST_SKIP() << "model '" << NAME << "' not installed (run scripts/get-models.sh)"; \
  }
