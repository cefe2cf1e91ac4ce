// A fake sweep backend for the study tests: deterministic per-question results without a model.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "study/runner.h"

namespace er::study::testing {

// Question i of a cell is correct when (i + paths + budget) % 3 != 0; latency grows with the cap.
class FakeBackend : public CellBackend {
 public:
  explicit FakeBackend(int64_t n_questions = 5, int sleep_ms = 0) : n_(n_questions), sleep_ms_(sleep_ms) {}
  Result<std::vector<QuestionRef>> questions(const Cell& cell) override {
    std::vector<QuestionRef> q;
    const int64_t n = cell.slice.limit > 0 ? std::min(n_, cell.slice.limit) : n_;
    for (int64_t i = 0; i < n; ++i) {
      QuestionRef r;
      r.id = std::string("q").append(std::to_string(cell.slice.offset + i));
      r.index = cell.slice.offset + i;
      q.push_back(std::move(r));
    }
    return q;
  }
  Result<QuestionRecord> run(const Cell& cell, const QuestionRef& ref) override {
    if (fail_at >= 0 && calls == fail_at) return Status::io_error("fake failure");
    ++calls;
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    return make(cell, ref);
  }
  static QuestionRecord make(const Cell& cell, const QuestionRef& ref) {
    QuestionRecord r;
    r.question_id = ref.id;
    r.index = ref.index;
    r.gold = std::to_string(ref.index);
    r.correct = (ref.index + cell.paths + cell.budget.value_or(0)) % 3 != 0;
    r.extracted = r.correct ? r.gold : "x";
    r.n_prompt = 100 + ref.index;
    const int64_t per_path = std::min<int64_t>(cell.max_tokens, cell.budget.value_or(cell.max_tokens) + 10);
    r.thinking_tokens = per_path * cell.paths - 10;
    r.answer_tokens = 10;
    r.max_path_tokens = per_path;
    r.prefill_ms = 50;
    r.ttft_ms = 52;
    r.decode_ms = 2.0 * static_cast<double>(per_path) * (1 + 0.2 * static_cast<double>(cell.paths - 1));
    r.e2e_ms = r.prefill_ms + r.decode_ms + 1;
    for (int64_t p = 0; p < cell.paths; ++p)
      r.paths.push_back({p, r.extracted, r.correct, per_path - 10, 10, cell.budget.has_value(), "eog"});
    r.power = PowerRecord{"estimated", true, 0.5, r.decode_ms * 0.01, 0.5 + r.decode_ms * 0.01, 10};
    return r;
  }
  int64_t calls = 0;
  int64_t fail_at = -1;

 private:
  int64_t n_;
  int sleep_ms_;
};

}  // namespace er::study::testing
