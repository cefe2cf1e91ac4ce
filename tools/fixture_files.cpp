// Writes the fixture set and DIR/manifest.json, skipping the work when the manifest shows it is current.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "fixture_gen.h"
#include "fixture_sha256.h"

namespace er::fixtures {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

json vocab_json(const Vocab& v) {
  return {{"source", v.source}, {"model", v.model}, {"pre", v.pre}, {"n_vocab", v.n_vocab},
          {"fingerprint", hex64(v.fingerprint)}};
}

Status write_file_atomically(const fs::path& path, const void* data, size_t size) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) return Status::io_error("cannot write '" + tmp.string() + "'");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::io_error("cannot rename '" + tmp.string() + "': " + ec.message());
  return Status::ok();
}

// The manifest entries if `dir` already holds exactly what `options` would produce, else nothing.
std::optional<std::vector<ManifestEntry>> current_manifest(const GenerateOptions& options,
                                                           const std::set<std::string>& names) {
  const fs::path path = fs::path(options.out_dir) / "manifest.json";
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const json m = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) return std::nullopt;
  const json want_vocabs = {{"llama", vocab_json(options.llama_vocab)}, {"qwen", vocab_json(options.qwen_vocab)}};
  if (m.value("generator", "") != kGeneratorVersion || m.value("seed", uint64_t{0}) != options.seed ||
      m.value("vocabs", json()) != want_vocabs || !m.contains("fixtures") || !m["fixtures"].is_array()) {
    return std::nullopt;
  }
  std::vector<ManifestEntry> entries;
  std::set<std::string> seen;
  for (const json& f : m["fixtures"]) {
    if (!f.is_object()) return std::nullopt;
    ManifestEntry e{f.value("name", ""), f.value("arch", ""), f.value("type", ""), f.value("sha256", ""),
                    f.value("bytes", uint64_t{0})};
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(options.out_dir) / e.name, ec) ||
        fs::file_size(fs::path(options.out_dir) / e.name, ec) != e.bytes) {
      return std::nullopt;
    }
    seen.insert(e.name);
    entries.push_back(std::move(e));
  }
  if (seen != names) return std::nullopt;
  return entries;
}

}  // namespace

Result<std::vector<ManifestEntry>> generate_fixtures(const GenerateOptions& options, std::string* log) {
  std::vector<FixtureSpec> specs = standard_specs(options.llama_vocab, options.qwen_vocab);
  if (!options.only.empty()) {
    std::vector<FixtureSpec> chosen;
    for (const std::string& name : options.only) {
      bool found = false;
      for (const FixtureSpec& s : specs) {
        if (s.name == name || s.name + ".gguf" == name) {
          chosen.push_back(s);
          found = true;
        }
      }
      if (!found) return Status::invalid("--only: no fixture named '" + name + "'");
    }
    specs = std::move(chosen);
  }
  std::set<std::string> names;
  for (const FixtureSpec& s : specs) names.insert(s.name + ".gguf");

  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) return Status::io_error("cannot create '" + options.out_dir + "': " + ec.message());
  if (!options.force) {
    if (auto entries = current_manifest(options, names)) {
      if (log != nullptr) *log += "fixtures in " + options.out_dir + " are up to date (seed " +
                                  std::to_string(options.seed) + ")\n";
      return *entries;
    }
  }

  // Fixtures are independent: build them on a few threads (each holds up to ~250 MB while it
  // runs), then report in spec order so that the log and the manifest do not depend on timing.
  struct Slot {
    ManifestEntry entry;
    std::string line;
    Status status;
  };
  std::vector<Slot> slots(specs.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < specs.size(); i = next++) {
      const FixtureSpec& s = specs[i];
      const Vocab& vocab = s.arch == "llama" ? options.llama_vocab : options.qwen_vocab;
      auto bytes = fixture_bytes(s, vocab, options.seed);
      if (!bytes.is_ok()) {
        slots[i].status = bytes.status();
        continue;
      }
      ManifestEntry e{s.name + ".gguf", s.arch, std::string(dtype_name(s.weight_type)), sha256_hex(*bytes),
                      bytes->size()};
      slots[i].status = write_file_atomically(fs::path(options.out_dir) / e.name, bytes->data(), bytes->size());
      std::ostringstream line;
      line << e.name << ": " << e.bytes << " bytes, " << s.n_layer << " layers, n_embd " << s.n_embd
           << ", vocab " << vocab.n_vocab << " (" << vocab.source << ")\n";
      slots[i].line = line.str();
      slots[i].entry = std::move(e);
    }
  };
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t n_threads = std::min<size_t>({size_t{4}, hw, specs.size()});
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();

  std::vector<ManifestEntry> entries;
  json fixtures = json::array();
  for (Slot& slot : slots) {
    ER_RETURN_IF_ERROR(slot.status);
    if (log != nullptr) *log += slot.line;
    const ManifestEntry& e = slot.entry;
    fixtures.push_back({{"name", e.name}, {"arch", e.arch}, {"type", e.type}, {"sha256", e.sha256},
                        {"bytes", e.bytes}});
    entries.push_back(std::move(slot.entry));
  }
  const json manifest = {
      {"generator", kGeneratorVersion},
      {"seed", options.seed},
      {"vocabs", {{"llama", vocab_json(options.llama_vocab)}, {"qwen", vocab_json(options.qwen_vocab)}}},
      {"fixtures", fixtures}};
  const std::string text = manifest.dump(2) + "\n";
  ER_RETURN_IF_ERROR(write_file_atomically(fs::path(options.out_dir) / "manifest.json", text.data(), text.size()));
  return entries;
}

}  // namespace er::fixtures
