// Tallies a GGUF model's tensors: parameters, bytes by type, decode weight traffic per token.
#include "model/model_summary.h"

namespace er::model {

ModelSummary summarize(const gguf::File& file) {
  ModelSummary s;
  const gguf::TensorInfo* token_embd = file.find_tensor("token_embd.weight");
  s.tied_output = file.find_tensor("output.weight") == nullptr && token_embd != nullptr;
  for (const gguf::TensorInfo& t : file.tensors()) {
    s.n_params += t.n_elements;
    s.bytes_weights += t.n_bytes;
    TypeTally& tally = s.by_type[t.type];
    tally.n_tensors += 1;
    tally.n_elements += t.n_elements;
    tally.n_bytes += t.n_bytes;
    if (&t == token_embd && !s.tied_output) {
      // One row of dims[0] elements is gathered per token.
      const uint64_t n_rows = t.dims.size() > 1 ? t.n_elements / t.dims[0] : 1;
      s.bytes_read_per_token += n_rows > 0 ? t.n_bytes / n_rows : 0;
    } else {
      s.bytes_read_per_token += t.n_bytes;
    }
  }
  return s;
}

}  // namespace er::model
