// Resolves `-m MODEL`: a path to a .gguf file, or a short name installed under the models directory.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace er::model {

// The models directory: $EDGEREASON_MODELS if set, else ./models if it exists, else the
// repository's models/ (where scripts/get-models.sh installs).
std::string models_dir();

// `spec` is tried as a path first; otherwise as NAME (→ models_dir()/NAME.gguf). A failure lists
// the installed names.
Result<std::string> resolve_model(const std::string& spec);

// Short names of the models installed in models_dir(), sorted.
std::vector<std::string> installed_models();

}  // namespace er::model
