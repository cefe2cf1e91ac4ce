// er_last_logits MODEL OUT.f32 TOKEN...: our engine's last-position logits for a token sequence,
// as raw little-endian f32 (tests/quantize/compare_llamacpp.py compares them with llama.cpp's).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/model.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: er_last_logits MODEL OUT.f32 TOKEN...\n");
    return 2;
  }
  std::vector<int32_t> tokens;
  for (int i = 3; i < argc; ++i) {
    char* end = nullptr;
    const long v = std::strtol(argv[i], &end, 10);
    if (end == argv[i] || *end != '\0' || v < 0 || v > 0x7fffffff) {
      std::fprintf(stderr, "er_last_logits: bad token id '%s'\n", argv[i]);
      return 2;
    }
    tokens.push_back(static_cast<int32_t>(v));
  }
  if (tokens.size() > 512) {
    std::fprintf(stderr, "er_last_logits: at most 512 tokens\n");
    return 2;
  }
  auto m = er::model::Model::load(argv[1]);
  if (!m.is_ok()) {
    std::fprintf(stderr, "er_last_logits: %s\n", m.status().message().c_str());
    return 1;
  }
  er::model::ContextOptions co;
  co.n_ctx = 1024;
  co.n_threads = 2;
  auto ctx = er::model::Context::create(**m, co);
  if (!ctx.is_ok()) {
    std::fprintf(stderr, "er_last_logits: %s\n", ctx.status().message().c_str());
    return 1;
  }
  std::vector<er::model::BatchEntry> batch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.push_back({tokens[i], static_cast<int64_t>(i), 0, i + 1 == tokens.size()});
  }
  const er::Status st = (*ctx)->eval(batch);
  if (!st.is_ok()) {
    std::fprintf(stderr, "er_last_logits: %s\n", st.message().c_str());
    return 1;
  }
  const int64_t n_vocab = (*m)->hparams().n_vocab;
  FILE* f = std::fopen(argv[2], "wb");
  if (f == nullptr || std::fwrite((*ctx)->logits(0), sizeof(float), static_cast<size_t>(n_vocab), f) !=
                          static_cast<size_t>(n_vocab) || std::fclose(f) != 0) {
    std::fprintf(stderr, "er_last_logits: cannot write '%s'\n", argv[2]);
    return 1;
  }
  return 0;
}
