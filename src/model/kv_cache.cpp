// KvCache allocation, views and prefix copies.
#include "model/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/checked_math.h"

namespace er::model {

void KvCache::AlignedFree::operator()(uint8_t* p) const { std::free(p); }

Result<std::unique_ptr<KvCache>> KvCache::create(const HParams& hp, int64_t n_ctx, int n_seq, DType type) {
  if (type != DType::kF16 && type != DType::kF32) return Status::invalid("KV cache type must be f16 or f32");
  if (n_ctx < 1) return Status::invalid("context size must be at least 1");
  if (n_seq < 1) return Status::invalid("number of sequences must be at least 1");
  std::unique_ptr<KvCache> kv(new KvCache());
  kv->n_ctx_ = n_ctx;
  kv->n_seq_ = n_seq;
  kv->type_ = type;
  const uint64_t elem = type == DType::kF16 ? 2 : 4;
  kv->k_elems_ = hp.n_head_kv * hp.head_dim_k;
  kv->v_elems_ = hp.n_head_kv * hp.head_dim_v;
  kv->k_row_bytes_ = static_cast<uint64_t>(kv->k_elems_) * elem;
  kv->v_row_bytes_ = static_cast<uint64_t>(kv->v_elems_) * elem;
  auto seq = checked_mul(static_cast<uint64_t>(n_ctx), kv->k_row_bytes_ + kv->v_row_bytes_);
  auto total = seq ? checked_mul(*seq, static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(n_seq)) : std::nullopt;
  if (!total) return Status::invalid("KV cache size overflows");
  kv->seq_bytes_ = *seq;
  kv->bytes_ = *total;
  const uint64_t alloc = (*total + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, alloc);
  if (p == nullptr) {
    return Status::io_error("cannot allocate the KV cache (" + std::to_string(*total >> 20) +
                            " MiB); lower -c or --paths");
  }
  kv->data_.reset(static_cast<uint8_t*>(p));
  return kv;
}

kernels::KvCacheView KvCache::view(int64_t layer, int seq) {
  kernels::KvCacheView v;
  v.type = type_;
  v.k = base(layer, seq, 0);
  v.v = base(layer, seq, 1);
  v.pos_stride = k_elems_;
  return v;
}

void KvCache::copy_prefix(int src, int dst, int64_t n_pos) {
  if (src == dst || n_pos <= 0) return;
  const int64_t n_layer = static_cast<int64_t>(bytes_ / (seq_bytes_ * static_cast<uint64_t>(n_seq_)));
  for (int64_t il = 0; il < n_layer; ++il) {
    std::memcpy(k_row(il, dst, 0), k_row(il, src, 0), static_cast<size_t>(n_pos) * k_row_bytes_);
    std::memcpy(v_row(il, dst, 0), v_row(il, src, 0), static_cast<size_t>(n_pos) * v_row_bytes_);
  }
}

}  // namespace er::model
