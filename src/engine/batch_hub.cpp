// BatchHub: slots hand their entries in; the last of the attached slots to arrive runs the shared eval.
#include "engine/batch_hub.h"

#include <string>

#include "core/check.h"

namespace er::engine {

// A slot: its sequences are [base, base + k) of the shared decoder.
class BatchHub::Slot final : public Decoder {
 public:
  Slot(BatchHub& hub, int index, int64_t max_batch)
      : hub_(hub), index_(index), base_(index * hub.seqs_per_slot_), max_batch_(max_batch) {
    remapped_.reserve(static_cast<size_t>(max_batch));
  }
  int64_t n_ctx() const override { return hub_.shared_.n_ctx(); }
  int n_seq() const override { return hub_.seqs_per_slot_; }
  int64_t max_batch() const override { return max_batch_; }
  int32_t n_vocab() const override { return hub_.shared_.n_vocab(); }
  bool is_eog(TokenId t) const override { return hub_.shared_.is_eog(t); }
  Status eval(std::span<const model::BatchEntry> batch) override {
    if (batch.empty() || static_cast<int64_t>(batch.size()) > max_batch_) {
      return Status::invalid("batch of " + std::to_string(batch.size()) + " entries; a slot takes 1 to " +
                             std::to_string(max_batch_));
    }
    remapped_.assign(batch.begin(), batch.end());
    for (model::BatchEntry& e : remapped_) {
      if (e.seq < 0 || e.seq >= hub_.seqs_per_slot_) return Status::invalid("sequence " + std::to_string(e.seq) + " out of the slot's range");
      e.seq += base_;
    }
    return hub_.submit(index_, remapped_, &first_row_);
  }
  const float* logits(int64_t row) const override { return hub_.shared_.logits(first_row_ + row); }
  void clear(int seq) override { hub_.clear(index_, base_ + seq); }
  void fork(int src, int dst, int64_t n_pos) override { hub_.fork(index_, base_ + src, base_ + dst, n_pos); }
  // A slot's share of the shared decoder's logits rows.
  int64_t max_logits() const override { return hub_.shared_.max_logits() / static_cast<int64_t>(hub_.slots_.size()); }
  // The whole shared pass's attention traffic (every slot's), not this slot's share.
  uint64_t last_kv_bytes_read() const override { return hub_.shared_.last_kv_bytes_read(); }

 private:
  BatchHub& hub_;
  const int index_;
  const int base_;
  const int64_t max_batch_;
  std::vector<model::BatchEntry> remapped_;
  int64_t first_row_ = 0;
};

BatchHub::BatchHub(Decoder& shared, int n_slots, int seqs_per_slot, int64_t slot_max_batch)
    : shared_(shared), seqs_per_slot_(seqs_per_slot) {
  ER_CHECK(n_slots >= 1 && seqs_per_slot >= 1 && slot_max_batch >= seqs_per_slot, "BatchHub: bad slot shape");
  ER_CHECK(shared.n_seq() >= n_slots * seqs_per_slot, "BatchHub: the shared decoder has too few sequences");
  ER_CHECK(shared.max_batch() >= n_slots * slot_max_batch, "BatchHub: the shared decoder's batch is too small");
  for (int i = 0; i < n_slots; ++i) slots_.push_back(std::make_unique<Slot>(*this, i, slot_max_batch));
  attached_.assign(static_cast<size_t>(n_slots), 0);
  submitted_.assign(static_cast<size_t>(n_slots), 0);
  slot_first_entry_.assign(static_cast<size_t>(n_slots), 0);
  slot_n_entries_.assign(static_cast<size_t>(n_slots), 0);
  slot_first_row_.assign(static_cast<size_t>(n_slots), 0);
  pending_.reserve(static_cast<size_t>(n_slots * slot_max_batch));
}

BatchHub::~BatchHub() = default;

Decoder& BatchHub::slot(int i) {
  ER_CHECK(i >= 0 && i < n_slots(), "BatchHub: slot out of range");
  return *slots_[static_cast<size_t>(i)];
}

void BatchHub::attach(int i) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
  ER_CHECK(!attached_[static_cast<size_t>(i)], "BatchHub: slot attached twice");
  attached_[static_cast<size_t>(i)] = 1;
  ++n_attached_;
}

void BatchHub::detach(int i) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
  ER_CHECK(attached_[static_cast<size_t>(i)] && !submitted_[static_cast<size_t>(i)], "BatchHub: detach of a slot not attached or waiting");
  attached_[static_cast<size_t>(i)] = 0;
  --n_attached_;
  // The others may all have handed in already, waiting for this one: run their pass now.
  if (n_attached_ > 0 && n_submitted_ == n_attached_) run_pending_locked(lock);
}

Status BatchHub::submit(int i, std::span<const model::BatchEntry> entries, int64_t* first_row) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
  ER_CHECK(attached_[static_cast<size_t>(i)], "BatchHub: eval on a slot that is not attached");
  ER_CHECK(!submitted_[static_cast<size_t>(i)], "BatchHub: a slot handed in twice in one step");
  slot_first_entry_[static_cast<size_t>(i)] = static_cast<int64_t>(pending_.size());
  slot_n_entries_[static_cast<size_t>(i)] = static_cast<int64_t>(entries.size());
  pending_.insert(pending_.end(), entries.begin(), entries.end());
  submitted_[static_cast<size_t>(i)] = 1;
  ++n_submitted_;
  const uint64_t gen = generation_;
  if (n_submitted_ == n_attached_) {
    run_pending_locked(lock);
  } else {
    cv_.wait(lock, [&] { return generation_ != gen; });
  }
  *first_row = slot_first_row_[static_cast<size_t>(i)];
  return last_status_;
}

// Runs the pending entries as one eval of the shared decoder. Called with the lock held and every
// attached slot handed in; releases the lock during the eval (nothing touches pending_ meanwhile:
// every other call waits for !running_).
void BatchHub::run_pending_locked(std::unique_lock<std::mutex>& lock) {
  running_ = true;
  // pending_ holds the slots' entries in the order they handed in (not slot order): a slot's first
  // logits row is the number of logits rows before its first entry.
  for (size_t s = 0; s < submitted_.size(); ++s) {
    if (!submitted_[s]) continue;
    int64_t row = 0;
    for (int64_t k = 0; k < slot_first_entry_[s]; ++k) row += pending_[static_cast<size_t>(k)].want_logits ? 1 : 0;
    slot_first_row_[s] = row;
  }
  const bool shared_with_others = n_attached_ > 1;
  lock.unlock();
  Status st = shared_.eval(pending_);
  // The other requests now sample on their own threads: the decoder's helper threads must not
  // spin on the cores they need.
  if (shared_with_others) shared_.idle();
  lock.lock();
  last_status_ = std::move(st);
  ++n_passes_;
  n_entries_ += static_cast<int64_t>(pending_.size());
  pending_.clear();
  std::fill(submitted_.begin(), submitted_.end(), 0);
  n_submitted_ = 0;
  running_ = false;
  ++generation_;
  cv_.notify_all();
}

void BatchHub::clear(int i, int seq) {
  (void)i;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
  shared_.clear(seq);
}

void BatchHub::fork(int i, int src, int dst, int64_t n_pos) {
  (void)i;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
  shared_.fork(src, dst, n_pos);
}

int64_t BatchHub::n_passes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return n_passes_;
}

int BatchHub::n_attached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return n_attached_;
}

int64_t BatchHub::n_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return n_entries_;
}

}  // namespace er::engine
