// ModelShape from a GGUF file (see model_shape.h).
#include "perfmodel/model_shape.h"

#include "core/dtype.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model_summary.h"

namespace er::perfmodel {

Result<ModelShape> model_shape_from_gguf(const std::string& path) {
  ER_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  Result<model::HParams> hp = model::read_hparams(file);
  if (!hp.is_ok()) return hp.status().with_context("'" + path + "'");
  const model::ModelSummary sum = model::summarize(file);
  ModelShape s;
  const double embd = static_cast<double>(hp->n_vocab) * static_cast<double>(hp->n_embd);
  s.n_params = static_cast<double>(sum.n_params) - (sum.tied_output ? 0.0 : embd);
  s.weight_bytes = static_cast<double>(sum.bytes_read_per_token);
  s.kv_bytes_per_token = static_cast<double>(hp->kv_bytes_per_token(2));  // f16 cache, bench's default
  s.n_layer = hp->n_layer;
  s.n_head = hp->n_head;
  s.head_dim = hp->head_dim_k;
  DType main_type = DType::kF32;
  uint64_t most = 0;
  for (const auto& [type, tally] : sum.by_type) {
    if (tally.n_bytes > most) {
      most = tally.n_bytes;
      main_type = type;
    }
  }
  s.weights_16bit = main_type == DType::kF32 || main_type == DType::kF16 || main_type == DType::kBF16;
  return s;
}

}  // namespace er::perfmodel
