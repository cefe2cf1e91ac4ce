// BatchHub: several requests decoded in the same forward passes (continuous batching).
//
// Each request runs its own Generator (and Reasoner) on its own thread over a slot: a Decoder
// whose sequences are a disjoint range of one shared Decoder's (slot i owns sequences
// [i * k, i * k + k)). A slot's eval() does not run the model itself: it hands its entries to the
// hub and waits; when every attached slot has handed in its entries, the last one to arrive runs
// them all as one eval of the shared Decoder (the weights are read once for every request's
// rows) and wakes the others, each reading its own rows of logits. Requests join (attach) and
// leave (detach) between steps. With the shared model::Context batch-invariant (forward.h), a
// request's tokens are the same whatever shares its passes.
//
// Rules for a slot's user (engine::Generator obeys them): call attach() before the first eval and
// detach() after the last; between its evals a slot must not block on anything but its own work
// (a streaming callback that waits on a slow client stalls every request: hand the text to
// another thread instead). clear() and fork() are serialized with the shared evals.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine/generator.h"

namespace er::engine {

class BatchHub {
 public:
  // `shared` (which must outlive the hub) holds n_slots * seqs_per_slot sequences; a slot's eval
  // takes up to slot_max_batch entries (its prefill chunk), so one shared eval holds up to
  // n_slots * slot_max_batch. REQUIRES: shared.n_seq() >= n_slots * seqs_per_slot,
  // shared.max_batch() >= n_slots * slot_max_batch, slot_max_batch >= seqs_per_slot.
  BatchHub(Decoder& shared, int n_slots, int seqs_per_slot, int64_t slot_max_batch);
  ~BatchHub();
  BatchHub(const BatchHub&) = delete;
  BatchHub& operator=(const BatchHub&) = delete;

  int n_slots() const { return static_cast<int>(slots_.size()); }
  // The Decoder of slot `i` (valid as long as the hub).
  Decoder& slot(int i);

  // Slot i takes part in the shared passes from now on / no longer. attach() waits while a shared
  // eval runs, so a request joins between steps.
  void attach(int i);
  void detach(int i);

  // Shared passes run so far, and the entries they held (for metrics and tests).
  int64_t n_passes() const;
  int64_t n_entries() const;
  // Slots taking part in the shared passes now (attached; for metrics and tests).
  int n_attached() const;

 private:
  class Slot;
  friend class Slot;
  Status submit(int i, std::span<const model::BatchEntry> entries, int64_t* first_row);
  void run_pending_locked(std::unique_lock<std::mutex>& lock);
  void clear(int i, int seq);
  void fork(int i, int src, int dst, int64_t n_pos);

  Decoder& shared_;
  const int seqs_per_slot_;
  std::vector<std::unique_ptr<Slot>> slots_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;        // a shared eval is in progress
  uint64_t generation_ = 0;     // bumped when a shared eval finishes
  std::vector<uint8_t> attached_, submitted_;
  int n_attached_ = 0, n_submitted_ = 0;
  std::vector<model::BatchEntry> pending_;  // the entries of the submitted slots, slot by slot
  std::vector<int64_t> slot_first_entry_, slot_n_entries_, slot_first_row_;
  Status last_status_;
  int64_t n_passes_ = 0, n_entries_ = 0;
};

}  // namespace er::engine
