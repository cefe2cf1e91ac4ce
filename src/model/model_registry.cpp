// Model name resolution through EDGEREASON_MODELS / models/.
#include "model/model_registry.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace er::model {

namespace fs = std::filesystem;

std::string models_dir() {
  const char* env = std::getenv("EDGEREASON_MODELS");
  if (env != nullptr && *env != '\0') return env;
  std::error_code ec;
  if (fs::is_directory("models", ec)) return "models";
  return ER_DEFAULT_MODELS_DIR;
}

std::vector<std::string> installed_models() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(models_dir(), ec)) {
    if (entry.path().extension() == ".gguf") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> resolve_model(const std::string& spec) {
  if (spec.empty()) return Status::invalid("${model}: empty model name");
  std::error_code ec;
  if (fs::exists(spec, ec)) {
    if (fs::is_directory(spec, ec)) return Status::invalid("${model} '" + spec + "': is a directory, not a model file");
    return spec;
  }
  const bool looks_like_path = spec.find('/') != std::string::npos || spec.ends_with(".gguf");
  if (!looks_like_path) {
    const fs::path p = fs::path(models_dir()) / (spec + ".gguf");
    if (fs::exists(p, ec)) return p.string();
  }
  std::string msg = "${model} '" + spec + "': no such file";
  if (!looks_like_path) msg += ", and no '" + (fs::path(models_dir()) / (spec + ".gguf")).string() + "'";
  const std::vector<std::string> names = installed_models();
  if (names.empty()) {
    msg += " (no models installed in '" + models_dir() + "': run scripts/get-models.sh or set EDGEREASON_MODELS)";
  } else {
    msg += " (installed:";
    for (const auto& n : names) msg += " " + n;
    msg += ")";
  }
  return Status::not_found(msg);
}

}  // namespace er::model
