// `edgereason info`: what a GGUF model is (architecture, shapes, tokenizer, template) and what it costs.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model.h"
#include "model/model_registry.h"
#include "model/model_summary.h"
#include "tokenizer/chat_template.h"

namespace er::cli {
namespace {

using nlohmann::ordered_json;

struct InfoOptions {
  std::string model;
  bool json = false;
};

std::string human_bytes(uint64_t n) {
  char buf[64];
  if (n >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1u << 30));
  } else if (n >= (uint64_t{1} << 20)) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(n) / (1u << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.2f KiB", static_cast<double>(n) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

Result<ordered_json> describe(const std::string& spec) {
  ER_ASSIGN_OR_RETURN(std::string path, model::resolve_model(spec));
  ER_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  const gguf::Metadata& md = file.metadata();
  Result<model::HParams> hp_or = model::read_hparams(file);
  if (!hp_or.is_ok()) return hp_or.status().with_context("'" + path + "'");
  const model::HParams& hp = *hp_or;
  const model::ModelSummary sum = model::summarize(file);

  ER_ASSIGN_OR_RETURN(std::string tok_model, md.get_string_or("tokenizer.ggml.model", ""));
  ER_ASSIGN_OR_RETURN(std::string tok_pre, md.get_string_or("tokenizer.ggml.pre", ""));
  ER_ASSIGN_OR_RETURN(std::string tmpl, md.get_string_or("tokenizer.chat_template", ""));
  const tokenizer::ChatFamily family = tokenizer::detect_chat_family(tmpl, hp.arch);

  ordered_json j;
  j["model"] = spec;
  j["path"] = path;
  j["file_bytes"] = file.file_size();
  j["gguf_version"] = file.version();
  j["name"] = hp.name;
  j["architecture"] = hp.arch;
  j["hparams"] = {
      {"n_layer", hp.n_layer},         {"n_embd", hp.n_embd},
      {"n_head", hp.n_head},           {"n_head_kv", hp.n_head_kv},
      {"head_dim", hp.head_dim_k},     {"n_ff", hp.n_ff},
      {"n_ctx_train", hp.n_ctx_train}, {"rope_freq_base", hp.rope_freq_base},
      {"rope_style", model::rope_style_name(hp.rope_style)},
      {"rms_eps", hp.rms_eps},         {"n_vocab", hp.n_vocab},
      {"sliding_window", hp.n_swa},
  };
  // Layers that attend through the window (0 for an architecture without local layers, or one
  // the engine does not run).
  int64_t n_swa_layers = 0;
  if (auto arch = model::arch_config(hp.arch); arch.is_ok()) {
    for (int64_t il = 0; il < hp.n_layer; ++il) n_swa_layers += model::is_swa_layer(*arch, hp, il) ? 1 : 0;
  }
  j["hparams"]["n_swa_layers"] = n_swa_layers;
  j["tokenizer"] = {{"model", tok_model}, {"pre", tok_pre}};
  j["chat_template"] = {{"family", std::string(tokenizer::chat_family_name(family))},
                        {"in_file", !tmpl.empty()}};
  j["n_params"] = sum.n_params;
  j["n_tensors"] = file.tensors().size();
  j["bytes_weights"] = sum.bytes_weights;
  ordered_json types = ordered_json::array();
  for (const auto& [type, tally] : sum.by_type) {
    types.push_back({{"type", std::string(dtype_name(type))},
                     {"n_tensors", tally.n_tensors},
                     {"n_elements", tally.n_elements},
                     {"bytes", tally.n_bytes}});
  }
  j["bytes_by_type"] = types;
  j["tied_output"] = sum.tied_output;
  j["bytes_read_per_token"] = sum.bytes_read_per_token;
  j["kv_bytes_per_token_f16"] = hp.kv_bytes_per_token(2);
  return j;
}

void print_text(const ordered_json& j) {
  const auto& h = j["hparams"];
  auto line = [](const char* key, const std::string& value) { std::printf("%-24s %s\n", key, value.c_str()); };
  auto num = [](const ordered_json& v) { return v.dump(); };
  line("model", j["model"].get<std::string>() + "  (" + j["path"].get<std::string>() + ")");
  line("name", j["name"].get<std::string>());
  line("file", human_bytes(j["file_bytes"].get<uint64_t>()) + ", GGUF v" + num(j["gguf_version"]) + ", " +
                   num(j["n_tensors"]) + " tensors");
  line("architecture", j["architecture"].get<std::string>());
  line("layers", num(h["n_layer"]));
  line("embedding width", num(h["n_embd"]));
  line("heads / kv heads", num(h["n_head"]) + " / " + num(h["n_head_kv"]) + "  (head dim " + num(h["head_dim"]) + ")");
  line("ffn width", num(h["n_ff"]));
  line("context length", num(h["n_ctx_train"]));
  char rope[64];
  std::snprintf(rope, sizeof rope, "%g (%s)", h["rope_freq_base"].get<double>(),
                h["rope_style"].get<std::string>().c_str());
  line("rope base", rope);
  if (h["sliding_window"].get<int64_t>() > 0) {
    line("sliding window", num(h["sliding_window"]) + " positions, in " + num(h["n_swa_layers"]) + " of " +
                               num(h["n_layer"]) + " layers");
  }
  line("vocabulary", num(h["n_vocab"]));
  line("tokenizer", j["tokenizer"]["model"].get<std::string>() + ", pre-tokenizer '" +
                        j["tokenizer"]["pre"].get<std::string>() + "'");
  line("chat template", j["chat_template"]["family"].get<std::string>() +
                            (j["chat_template"]["in_file"].get<bool>() ? " (from the file's template)"
                                                                       : " (no template in file; by architecture)"));
  char params[64];
  std::snprintf(params, sizeof params, "%.1f M (%s)", j["n_params"].get<double>() / 1e6,
                num(j["n_params"]).c_str());
  line("parameters", params);
  line("weights", human_bytes(j["bytes_weights"].get<uint64_t>()) + (j["tied_output"].get<bool>() ? ", output tied to token embedding" : ""));
  for (const auto& t : j["bytes_by_type"]) {
    char row[160];
    std::snprintf(row, sizeof row, "%-6s %4d tensors %12.1f M elements %12s", t["type"].get<std::string>().c_str(),
                  t["n_tensors"].get<int>(), t["n_elements"].get<double>() / 1e6,
                  human_bytes(t["bytes"].get<uint64_t>()).c_str());
    line("  by type", row);
  }
  line("read per decoded token", human_bytes(j["bytes_read_per_token"].get<uint64_t>()) + " of weights + " +
                                     human_bytes(j["kv_bytes_per_token_f16"].get<uint64_t>()) +
                                     " of f16 KV per token of context");
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Describe a GGUF model: architecture, shapes, tokenizer, sizes");
  sub->add_option("-m,--model", opts->model, "Model file or installed name (see EDGEREASON_MODELS)")->required();
  sub->add_flag("--json", opts->json, "Print one JSON object instead of text");
  return {sub, [opts]() -> Status {
            ER_ASSIGN_OR_RETURN(ordered_json j, describe(opts->model));
            if (opts->json) {
              std::printf("%s\n", j.dump(2).c_str());
            } else {
              print_text(j);
            }
            return Status::ok();
          }};
}

}  // namespace er::cli
