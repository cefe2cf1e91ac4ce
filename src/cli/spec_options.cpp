#include "cli/spec_options.h"

#include <cstdio>

namespace er::cli {

void add_spec_flags(CLI::App* sub, SpecFlags& f) {
  sub->add_option("--draft", f.draft,
                  "Speculative decoding with this draft model (a .gguf path or installed name with the model's "
                  "tokenizer, e.g. qwen2.5-coder-0.5b for qwen2.5-coder-1.5b); implies --spec draft")
      ->type_name("MODEL");
  sub->add_option("--spec", f.spec,
                  "Speculative decoding: none, draft (needs --draft) or ngram (draft-free lookup in the prompt and "
                  "the path's own tokens). Greedy output is token-identical to plain decoding")
      ->type_name("METHOD");
  sub->add_option("--draft-max", f.draft_max, "Drafted tokens per path and decode step (with --spec or --draft)")
      ->capture_default_str();
}

std::string speculative_line(const session::SessionOptions& o, const engine::GenerateResult& r) {
  char b[256];
  std::snprintf(b, sizeof b, "speculative (%s%s%s, up to %d per step): %lld drafted, %lld accepted (%.1f%%) in %lld decode steps",
                engine::spec_method_name(o.spec), o.spec == engine::SpecMethod::kDraft ? " " : "",
                o.spec == engine::SpecMethod::kDraft ? o.draft_model.c_str() : "", o.draft_max,
                static_cast<long long>(r.n_drafted), static_cast<long long>(r.n_accepted),
                r.n_drafted > 0 ? 100.0 * static_cast<double>(r.n_accepted) / static_cast<double>(r.n_drafted) : 0.0,
                static_cast<long long>(r.n_decode_steps));
  return b;
}

Status apply_spec_flags(const SpecFlags& f, session::SessionOptions& o) {
  std::string spec = f.spec;
  if (spec.empty()) spec = f.draft.empty() ? "none" : "draft";
  if (spec == "none") {
    if (!f.draft.empty()) return Status::invalid("--draft needs --spec draft (or no --spec), not --spec none");
    o.spec = engine::SpecMethod::kNone;
    return Status::ok();
  }
  if (f.draft_max < 1 || f.draft_max > 32) {
    return Status::invalid("--draft-max must be in [1, 32] (got " + std::to_string(f.draft_max) + ")");
  }
  o.draft_max = f.draft_max;
  if (spec == "draft") {
    if (f.draft.empty()) return Status::invalid("--spec draft needs --draft MODEL");
    o.spec = engine::SpecMethod::kDraft;
    o.draft_model = f.draft;
    return Status::ok();
  }
  if (spec == "ngram") {
    if (!f.draft.empty()) return Status::invalid("--draft is for --spec draft; --spec ngram drafts without a model");
    o.spec = engine::SpecMethod::kNgram;
    return Status::ok();
  }
  return Status::invalid("--spec '" + f.spec + "': expected none, draft or ngram");
}

}  // namespace er::cli
