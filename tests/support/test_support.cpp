// Helpers shared by the tests.
#include "support/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace er::test {

namespace fs = std::filesystem;

fs::path source_dir() { return ER_SOURCE_DIR; }
fs::path binary_dir() { return ER_BINARY_DIR; }
fs::path fixture_dir() { return ER_FIXTURE_DIR; }
fs::path shared_dir() { return source_dir().parent_path() / "shared"; }
fs::path data_dir() { return source_dir() / "data"; }

fs::path model_path(const std::string& name) {
  const char* env = std::getenv("EDGEREASON_MODELS");
  const fs::path dir = (env != nullptr && *env != '\0') ? fs::path(env) : source_dir() / "models";
  const fs::path p = dir / (name + ".gguf");
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p : fs::path{};
}

bool models_required() {
  const char* env = std::getenv("EDGEREASON_REQUIRE_MODELS");
  return env != nullptr && std::string(env) == "1";
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() /
                 ("edgereason-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path cli_path() { return binary_dir() / "bin" / "edgereason"; }

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

CliResult run_cli(const std::string& args) {
  TempDir tmp;
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  const std::string cmd = shell_quote(cli_path().string()) + " " + args + " </dev/null >" +
                          shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

}  // namespace er::test
