// er_make_fixtures: writes the tiny random-weight GGUF test models (docs/fixtures.md) into a directory.
//
//   er_make_fixtures --out DIR [--seed N] [--vocab-from MODEL.gguf] [--qwen-vocab-from MODEL.gguf]
//                    [--synthetic-vocab] [--only NAME]... [--force] [--list]
//
// Exit codes: 0 done, 1 runtime failure (I/O), 2 bad flags or a missing/invalid vocabulary source.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fixture_gen.h"

namespace fs = std::filesystem;
using er::fixtures::Vocab;

namespace {

#ifndef ER_DEFAULT_MODELS_DIR
#define ER_DEFAULT_MODELS_DIR "models"
#endif

// Where models may be installed, in order: $EDGEREASON_MODELS, ./models, the source tree's models/.
std::vector<fs::path> model_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("EDGEREASON_MODELS"); env != nullptr && *env != '\0') dirs.emplace_back(env);
  dirs.emplace_back("models");
  dirs.emplace_back(ER_DEFAULT_MODELS_DIR);
  return dirs;
}

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "er_make_fixtures: %s\n", message.c_str());
  return 2;
}

// The first installed GGUF (by file name) whose tokenizer.ggml.pre is "qwen2", if any.
std::optional<Vocab> find_qwen_vocab() {
  for (const fs::path& dir : model_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> ggufs;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".gguf") ggufs.push_back(entry.path());
    }
    std::sort(ggufs.begin(), ggufs.end());
    for (const fs::path& p : ggufs) {
      auto v = er::fixtures::load_vocab(p.string());
      if (v.is_ok() && v->pre == "qwen2") return std::move(v).value();
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes deterministic tiny random-weight GGUF models (llama, qwen2, qwen3) for tests."};
  std::string out_dir, vocab_from, qwen_vocab_from;
  uint64_t seed = er::fixtures::kDefaultSeed;
  bool synthetic = false, synthetic_fallback = false, force = false, list = false;
  std::vector<std::string> only;
  app.add_option("--out", out_dir, "directory to write the fixtures and manifest.json into");
  app.add_option("--seed", seed, "weight seed (same seed, same bytes)")->capture_default_str();
  app.add_option("--vocab-from", vocab_from,
                 "GGUF whose tokenizer.* keys are copied (default: smollm2.gguf from $EDGEREASON_MODELS, "
                 "./models or the source tree's models/)");
  app.add_option("--qwen-vocab-from", qwen_vocab_from,
                 "GGUF whose tokenizer the qwen2/qwen3 fixtures copy, or 'auto' for the first installed model "
                 "with tokenizer.ggml.pre = qwen2 (default: the --vocab-from vocabulary, which keeps the "
                 "fixtures and their llama.cpp golden logits small)");
  app.add_flag("--synthetic-vocab", synthetic,
               "use a 263-token byte-level vocabulary instead of a model's (for machines without models)");
  app.add_flag("--synthetic-if-missing", synthetic_fallback,
               "use the synthetic vocabulary, saying so, when smollm2.gguf is not installed (ctest uses this "
               "so that unit tests run on a machine without models)");
  app.add_option("--only", only, "make only these fixtures (names as listed by --list)");
  app.add_flag("--force", force, "regenerate even when manifest.json says the files are current");
  app.add_flag("--list", list, "list the fixtures and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail_usage(e.what());
  }
  if (out_dir.empty() && !list) return fail_usage("--out DIR is required");
  if (synthetic && (!vocab_from.empty() || !qwen_vocab_from.empty())) {
    return fail_usage("--synthetic-vocab cannot be combined with --vocab-from/--qwen-vocab-from");
  }

  er::fixtures::GenerateOptions options;
  options.out_dir = out_dir;
  options.seed = seed;
  options.only = only;
  options.force = force;
  if (!synthetic && vocab_from.empty()) {
    {
      for (const fs::path& dir : model_dirs()) {
        std::error_code ec;
        if (fs::is_regular_file(dir / "smollm2.gguf", ec)) {
          vocab_from = (dir / "smollm2.gguf").string();
          break;
        }
      }
      if (vocab_from.empty() && synthetic_fallback) {
        std::fprintf(stderr, "er_make_fixtures: smollm2.gguf is not installed; using the synthetic vocabulary\n");
        synthetic = true;
      } else if (vocab_from.empty()) {
        return fail_usage("no vocabulary source: smollm2.gguf is not installed (run scripts/get-models.sh "
                          "smollm2, or pass --vocab-from MODEL.gguf or --synthetic-vocab)");
      }
    }
  }
  if (synthetic) {
    options.llama_vocab = options.qwen_vocab = er::fixtures::synthetic_vocab();
  } else {
    auto llama = er::fixtures::load_vocab(vocab_from);
    if (!llama.is_ok()) return fail_usage(llama.status().message());
    options.llama_vocab = std::move(llama).value();
    if (qwen_vocab_from == "auto") {
      if (auto qwen = find_qwen_vocab()) {
        options.qwen_vocab = std::move(*qwen);
      } else {
        return fail_usage("--qwen-vocab-from auto: no installed model has tokenizer.ggml.pre = qwen2");
      }
    } else if (!qwen_vocab_from.empty()) {
      auto qwen = er::fixtures::load_vocab(qwen_vocab_from);
      if (!qwen.is_ok()) return fail_usage(qwen.status().message());
      options.qwen_vocab = std::move(qwen).value();
    } else {
      options.qwen_vocab = options.llama_vocab;
    }
  }

  if (list) {
    for (const auto& s : er::fixtures::standard_specs(options.llama_vocab, options.qwen_vocab)) {
      std::printf("%s.gguf  arch=%s type=%s n_layer=%lld n_embd=%lld n_ff=%lld tied=%s\n", s.name.c_str(),
                  s.arch.c_str(), std::string(er::dtype_name(s.weight_type)).c_str(),
                  static_cast<long long>(s.n_layer), static_cast<long long>(s.n_embd),
                  static_cast<long long>(s.n_ff), s.tied ? "yes" : "no");
    }
    return 0;
  }

  std::string log;
  auto entries = er::fixtures::generate_fixtures(options, &log);
  std::fputs(log.c_str(), stdout);
  if (!entries.is_ok()) {
    std::fprintf(stderr, "er_make_fixtures: %s\n", entries.status().message().c_str());
    return entries.status().is_bad_input() ? 2 : 1;
  }
  uint64_t total = 0;
  for (const auto& e : *entries) total += e.bytes;
  std::printf("%zu fixtures, %.1f MB in %s (llama vocab: %s, qwen vocab: %s)\n", entries->size(),
              static_cast<double>(total) / 1e6, out_dir.c_str(), options.llama_vocab.source.c_str(),
              options.qwen_vocab.source.c_str());
  return 0;
}
