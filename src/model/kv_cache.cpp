// KvCache allocation, views and prefix copies.
#include "model/kv_cache.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/checked_math.h"

namespace er::model {

void KvCache::AlignedFree::operator()(uint8_t* p) const { std::free(p); }

namespace {

std::string gib(uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / static_cast<double>(uint64_t{1} << 30));
  return buf;
}

std::string what_context(int64_t n_ctx, int n_seq) {
  return "a context of " + std::to_string(n_ctx) + " tokens x " + std::to_string(n_seq) +
         (n_seq == 1 ? " sequence" : " sequences");
}

}  // namespace

uint64_t KvCache::physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

Result<uint64_t> KvCache::bytes_needed(const HParams& hp, int64_t n_ctx, int n_seq, DType type) {
  if (type != DType::kF16 && type != DType::kF32) return Status::invalid("KV cache type must be f16 or f32");
  if (n_ctx < 1) return Status::invalid("context size must be at least 1 (got " + std::to_string(n_ctx) + ")");
  if (n_seq < 1) return Status::invalid("number of sequences must be at least 1 (got " + std::to_string(n_seq) + ")");
  if (hp.head_dim_k != hp.head_dim_v) return Status::unsupported("key and value head sizes differ");
  const uint64_t elem = type == DType::kF16 ? 2 : 4;
  const uint64_t head_bytes = static_cast<uint64_t>(hp.head_dim_k) * elem;
  auto seq = checked_mul(static_cast<uint64_t>(n_ctx), 2 * static_cast<uint64_t>(hp.n_head_kv) * head_bytes);
  auto total = seq ? checked_mul(*seq, static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(n_seq)) : std::nullopt;
  if (!total || *total > UINT64_MAX - 64) {
    return Status::invalid(what_context(n_ctx, n_seq) + " needs a KV cache too large to address");
  }
  return *total;
}

Status KvCache::check_fits(const HParams& hp, int64_t n_ctx, int n_seq, DType type) {
  ER_ASSIGN_OR_RETURN(const uint64_t bytes, bytes_needed(hp, n_ctx, n_seq, type));
  const uint64_t mem = physical_memory_bytes();
  if (mem > 0 && bytes > mem) {
    return Status::invalid(what_context(n_ctx, n_seq) + " needs a KV cache of " + gib(bytes) + " (" +
                           std::string(dtype_name(type)) + "), more than this machine's " + gib(mem) + " of memory");
  }
  return Status::ok();
}

Result<std::unique_ptr<KvCache>> KvCache::create(const HParams& hp, int64_t n_ctx, int n_seq, DType type) {
  ER_RETURN_IF_ERROR(check_fits(hp, n_ctx, n_seq, type));
  ER_ASSIGN_OR_RETURN(const uint64_t total, bytes_needed(hp, n_ctx, n_seq, type));
  std::unique_ptr<KvCache> kv(new KvCache());
  kv->n_ctx_ = n_ctx;
  kv->n_seq_ = n_seq;
  kv->type_ = type;
  const uint64_t elem = type == DType::kF16 ? 2 : 4;
  kv->n_head_kv_ = hp.n_head_kv;
  kv->head_dim_ = hp.head_dim_k;
  kv->head_bytes_ = static_cast<uint64_t>(hp.head_dim_k) * elem;
  kv->seq_bytes_ = static_cast<uint64_t>(n_ctx) * 2 * static_cast<uint64_t>(hp.n_head_kv) * kv->head_bytes_;
  kv->bytes_ = total;
  const uint64_t alloc = (total + 63) / 64 * 64;
  void* p = alloc > SIZE_MAX ? nullptr : std::aligned_alloc(64, static_cast<size_t>(alloc));
  if (p == nullptr) {
    return Status::invalid("cannot allocate the KV cache of " + gib(total) + " for " + what_context(n_ctx, n_seq) +
                           " (out of memory)");
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
