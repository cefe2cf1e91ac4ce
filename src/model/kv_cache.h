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
  // Allocates n_seq × n_ctx positions for every layer in `type` (kF16 or kF32). A cache this
  // machine cannot hold (check_fits) or that cannot be allocated is invalid input, naming the
  // context size.
  static Result<std::unique_ptr<KvCache>> create(const HParams& hp, int64_t n_ctx, int n_seq, DType type);

  // Bytes of such a cache, or an invalid Status naming the context size when the arguments are
  // out of range or the size overflows.
  static Result<uint64_t> bytes_needed(const HParams& hp, int64_t n_ctx, int n_seq, DType type);
  // bytes_needed(), and the cache must fit in this machine's physical memory (bytes reported by
  // physical_memory_bytes()); otherwise invalid, naming the context size, the sequences and both
  // sizes. For checking a request before anything is loaded or created.
  static Status check_fits(const HParams& hp, int64_t n_ctx, int n_seq, DType type);
  // Physical memory of this machine in bytes (0 when unknown: then nothing is refused by size).
  static uint64_t physical_memory_bytes();

  int64_t n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  DType type() const { return type_; }
  uint64_t bytes() const { return bytes_; }

  // K and V of (layer, seq, kv_head, pos): head_dim elements of type(). Head-major: the positions
  // of one head are contiguous (attention.h KvCacheView).
  uint8_t* k_at(int64_t layer, int seq, int64_t head, int64_t pos) {
    return base(layer, seq, 0) + (head * n_ctx_ + pos) * head_bytes_;
  }
  uint8_t* v_at(int64_t layer, int seq, int64_t head, int64_t pos) {
    return base(layer, seq, 1) + (head * n_ctx_ + pos) * head_bytes_;
  }
  // Stores the K and V rows of one position (n_head_kv * head_dim floats each, heads in order),
  // converted to type() with `to_f16` for an f16 cache (Ops::to_f16).
  void store(int64_t layer, int seq, int64_t pos, const float* k, const float* v,
             void (*to_f16)(const float*, uint16_t*, int64_t));
  // The attention kernel's view of one (layer, seq).
  kernels::KvCacheView view(int64_t layer, int seq);

  // Copies positions [0, n_pos) of sequence `src` into `dst` in every layer (fork of a prefix).
  void copy_prefix(int src, int dst, int64_t n_pos);

 private:
  KvCache() = default;
  uint8_t* base(int64_t layer, int seq, int kv) {
    return data_.get() + (static_cast<uint64_t>(layer) * n_seq_ + static_cast<uint64_t>(seq)) * seq_bytes_ +
           (kv == 0 ? 0 : seq_bytes_ / 2);
  }
  struct AlignedFree {
    void operator()(uint8_t* p) const;
  };
  int64_t n_ctx_ = 0;
  int n_seq_ = 0;
  DType type_ = DType::kF16;
  uint64_t seq_bytes_ = 0;   // K then V of one (layer, seq): 2 * n_head_kv * n_ctx * head_bytes
  int64_t n_head_kv_ = 0;
  int64_t head_dim_ = 0;
  uint64_t head_bytes_ = 0;  // head_dim * element size
  uint64_t bytes_ = 0;
  std::unique_ptr<uint8_t[], AlignedFree> data_;  // (n_layer, n_seq, {K, V} (n_head_kv, n_ctx, head_dim))
};

}  // namespace er::model
