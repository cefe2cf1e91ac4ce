// KvCache: keys and values of every layer for n_seq sequences (paths), allocated once.
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/attention.h"
#include "model/hparams.h"

namespace er::model {

class KvCache {
 public:
  // Allocates n_seq × n_ctx positions for every layer in `type` (kF16 or kF32).
  static Result<std::unique_ptr<KvCache>> create(const HParams& hp, int64_t n_ctx, int n_seq, DType type);

  int64_t n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  DType type() const { return type_; }
  uint64_t bytes() const { return bytes_; }

  // K and V rows of (layer, seq, pos): n_head_kv * head_dim elements of type().
  uint8_t* k_row(int64_t layer, int seq, int64_t pos) { return base(layer, seq, 0) + pos * k_row_bytes_; }
  uint8_t* v_row(int64_t layer, int seq, int64_t pos) { return base(layer, seq, 1) + pos * v_row_bytes_; }
  // The attention kernel's view of one (layer, seq).
  kernels::KvCacheView view(int64_t layer, int seq);

  // Copies positions [0, n_pos) of sequence `src` into `dst` in every layer (fork of a prefix).
  void copy_prefix(int src, int dst, int64_t n_pos);

 private:
  KvCache() = default;
  uint8_t* base(int64_t layer, int seq, int kv) {
    return data_.get() + (static_cast<uint64_t>(layer) * n_seq_ + static_cast<uint64_t>(seq)) * seq_bytes_ +
           (kv == 0 ? 0 : static_cast<uint64_t>(n_ctx_) * k_row_bytes_);
  }
  struct AlignedFree {
    void operator()(uint8_t* p) const;
  };
  int64_t n_ctx_ = 0;
  int n_seq_ = 0;
  DType type_ = DType::kF16;
  int64_t k_elems_ = 0;      // n_head_kv * head_dim_k per position
  int64_t v_elems_ = 0;      // n_head_kv * head_dim_v per position
  uint64_t k_row_bytes_ = 0;
  uint64_t v_row_bytes_ = 0;
  uint64_t seq_bytes_ = 0;   // K then V of one (layer, seq): n_ctx * (k_row + v_row)
  uint64_t bytes_ = 0;
  std::unique_ptr<uint8_t[], AlignedFree> data_;  // (n_layer, n_seq, {K (n_ctx, k_elems), V (n_ctx, v_elems)})
};

}  // namespace er::model
