// What a model file costs: parameters, bytes by tensor type, and bytes read per decoded token.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/dtype.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

namespace er::model {

struct TypeTally {
  int64_t n_tensors = 0;
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

struct ModelSummary {
  uint64_t n_params = 0;                // elements of all tensors
  uint64_t bytes_weights = 0;           // bytes of all tensor data
  std::map<DType, TypeTally> by_type;   // ordered by type id
  bool tied_output = false;             // no output.weight: logits use token_embd.weight
  // Weight bytes streamed from memory to decode one token: every matrix once, but of the token
  // embedding only one row (unless it is also the output matrix, which is read whole).
  uint64_t bytes_read_per_token = 0;
};

ModelSummary summarize(const gguf::File& file);

}  // namespace er::model
