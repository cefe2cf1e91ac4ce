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
  if (hp.head_dim_k != hp.head_dim_v) return Status::unsupported("key and value head sizes differ");
  std::unique_ptr<KvCache> kv(new KvCache());
  kv->n_ctx_ = n_ctx;
  kv->n_seq_ = n_seq;
  kv->type_ = type;
  const uint64_t elem = type == DType::kF16 ? 2 : 4;
  kv->n_head_kv_ = hp.n_head_kv;
  kv->head_dim_ = hp.head_dim_k;
  kv->head_bytes_ = static_cast<uint64_t>(hp.head_dim_k) * elem;
  auto seq = checked_mul(static_cast<uint64_t>(n_ctx), 2 * static_cast<uint64_t>(hp.n_head_kv) * kv->head_bytes_);
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
  v.pos_stride = head_dim_;
  v.head_stride = n_ctx_ * head_dim_;
  return v;
}

void KvCache::store(int64_t layer, int seq, int64_t pos, const float* k, const float* v,
                    void (*to_f16)(const float*, uint16_t*, int64_t)) {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    uint8_t* kd = k_at(layer, seq, h, pos);
    uint8_t* vd = v_at(layer, seq, h, pos);
    if (type_ == DType::kF16) {
      to_f16(k + h * head_dim_, reinterpret_cast<uint16_t*>(kd), head_dim_);
      to_f16(v + h * head_dim_, reinterpret_cast<uint16_t*>(vd), head_dim_);
    } else {
      std::memcpy(kd, k + h * head_dim_, head_bytes_);
      std::memcpy(vd, v + h * head_dim_, head_bytes_);
    }
  }
}

void KvCache::copy_prefix(int src, int dst, int64_t n_pos) {
  if (src == dst || n_pos <= 0) return;
  const int64_t n_layer = static_cast<int64_t>(bytes_ / (seq_bytes_ * static_cast<uint64_t>(n_seq_)));
  for (int64_t il = 0; il < n_layer; ++il) {
    for (int64_t h = 0; h < n_head_kv_; ++h) {
      std::memcpy(k_at(il, dst, h, 0), k_at(il, src, h, 0), static_cast<size_t>(n_pos) * head_bytes_);
      std::memcpy(v_at(il, dst, h, 0), v_at(il, src, h, 0), static_cast<size_t>(n_pos) * head_bytes_);
    }
  }
}

}  // namespace er::model
