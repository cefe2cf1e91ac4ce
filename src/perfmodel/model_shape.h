// The roofline's view of a GGUF model file (perfmodel::ModelShape), read from its metadata and
// tensor table without loading the weights; shared by `predict` and the study's projections.
#pragma once

#include <string>

#include "core/status.h"
#include "perfmodel/analytic.h"

namespace er::perfmodel {

// Multiplied parameters (the input embedding is looked up, not multiplied, unless it is also the
// output matrix), bytes read per decoded token, f16 KV bytes per position, layers, heads, head
// width, and whether the main weight type is 16-bit or wider. Errors name the file.
Result<ModelShape> model_shape_from_gguf(const std::string& path);

}  // namespace er::perfmodel
