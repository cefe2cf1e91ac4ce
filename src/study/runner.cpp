#include "study/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace er::study {

Result<nlohmann::ordered_json> CellBackend::bench(const Cell& cell) {
  return Status::unsupported("bench is not available in this sweep backend (cell " + cell.label() + ")");
}

std::optional<double> CellBackend::estimate_seconds(const Cell&) { return std::nullopt; }

std::optional<nlohmann::ordered_json> CellBackend::cell_facts(const Cell&) { return std::nullopt; }

std::string cell_facts_key(const std::string& cell_hash) { return std::string(kCellFactsPrefix) + cell_hash; }
std::string cell_facts_key(const Cell& cell) { return cell_facts_key(cell.hash()); }

double question_token_cap(const Cell& c) {
  double cap = static_cast<double>(c.max_tokens);
  if (c.policy == Policy::kThinkBudget && c.budget)
    cap = std::min(cap, static_cast<double>(*c.budget + c.answer_budget));
  if (c.policy == Policy::kNoThink) cap = std::min(cap, static_cast<double>(c.answer_budget) * 2);
  return cap;
}

double question_weight(const Cell& c) { return question_token_cap(c) * (1.0 + 0.25 * static_cast<double>(c.paths - 1)); }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<int64_t>(std::llround(s));
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600),
                  static_cast<long long>((t % 3600) / 60));
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  return buf;
}

Result<SweepSummary> run_sweep(const SweepConfig& cfg, Store& store, CellBackend& backend, const SweepOptions& opts) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const std::vector<Cell> cells = cfg.cells();
  // A sharded run needs the shard's own database, a whole-sweep run one not claimed by a shard.
  ER_RETURN_IF_ERROR(claim_sweep_target(store, sweep_identity(cfg), opts.shard));

  // Plan: every cell's questions and what is already done, before any work.
  struct Plan {
    int64_t config_id = 0;
    std::vector<QuestionRef> todo;
    int64_t n = 0;
    bool bench = false;
  };
  std::vector<Plan> plans;
  SweepSummary sum;
  sum.n_cells = static_cast<int64_t>(cells.size());
  double weight_todo = 0;
  for (size_t ci = 0; ci < cells.size(); ++ci) {
    const Cell& c = cells[ci];
    ER_ASSIGN_OR_RETURN(std::vector<QuestionRef> qs, backend.questions(c));
    Plan p;
    ER_ASSIGN_OR_RETURN(p.config_id, store.ensure_configuration(c, static_cast<int64_t>(qs.size())));
    p.bench = c.bench;
    if (opts.shard) {
      const auto ord = static_cast<int64_t>(ci);
      const int64_t n_shards = opts.shard->count, mine = opts.shard->index;
      p.bench = c.bench && !qs.empty() && shard_of(ord, qs.front().index, n_shards) == mine;
      qs.erase(std::remove_if(qs.begin(), qs.end(),
                              [&](const QuestionRef& q) { return shard_of(ord, q.index, n_shards) != mine; }),
               qs.end());
    }
    if (opts.select)
      qs.erase(std::remove_if(qs.begin(), qs.end(), [&](const QuestionRef& q) { return !opts.select(ci, q); }), qs.end());
    p.n = static_cast<int64_t>(qs.size());
    ER_ASSIGN_OR_RETURN(std::set<std::string> done, store.done_questions(p.config_id));
    for (auto& q : qs)
      if (!done.count(q.id)) p.todo.push_back(std::move(q));
    sum.n_expected += p.n;
    sum.n_before += p.n - static_cast<int64_t>(p.todo.size());
    weight_todo += question_weight(c) * static_cast<double>(p.todo.size());
    plans.push_back(std::move(p));
  }
  ER_ASSIGN_OR_RETURN(sum.run_id, store.begin_run(opts.shard ? opts.command + " [shard " + opts.shard->text() + "]" : opts.command,
                                                   cfg.name, cfg.text));

  ProgressStyle style = opts.progress;
  if (style == ProgressStyle::kAuto)
    style = (opts.progress_stream && isatty(fileno(opts.progress_stream))) ? ProgressStyle::kBar : ProgressStyle::kLines;
  std::FILE* out = opts.progress_stream;
  if (!out) style = ProgressStyle::kOff;
  const int64_t n_todo = sum.n_expected - sum.n_before;
  if (style != ProgressStyle::kOff) {
    const std::string shard = opts.shard ? " shard " + opts.shard->text() : "";
    const std::string title = opts.title.empty() ? "sweep '" + cfg.name + "'" : opts.title;
    std::fprintf(out, "%s%s: %lld cells, %lld questions, %lld already in %s, %lld to run\n", title.c_str(),
                 shard.c_str(), static_cast<long long>(sum.n_cells), static_cast<long long>(sum.n_expected),
                 static_cast<long long>(sum.n_before), store.path().c_str(), static_cast<long long>(n_todo));
    if (opts.print_estimate && n_todo > 0) {
      double est = 0;
      bool known = true;
      for (size_t i = 0; i < cells.size() && known; ++i) {
        if (plans[i].todo.empty()) continue;
        auto e = backend.estimate_seconds(cells[i]);
        if (!e) known = false;
        else est += *e * static_cast<double>(plans[i].todo.size());
      }
      if (known)
        std::fprintf(out, "estimate: at most %s (every path to its token cap at the measured decode rate; "
                     "most answers end sooner)\n", format_duration(est).c_str());
      else
        std::fprintf(out, "estimate: unknown before the first questions; the ETA follows\n");
    }
    std::fflush(out);
  }

  double weight_done = 0;
  Status failure;
  for (size_t ci = 0; ci < cells.size() && failure.is_ok() && !sum.interrupted; ++ci) {
    const Cell& c = cells[ci];
    Plan& p = plans[ci];
    if (p.todo.empty()) continue;
    if (style == ProgressStyle::kLines) {
      std::fprintf(out, "cell %zu/%zu: %s (%lld of %lld questions to run)\n", ci + 1, cells.size(), c.label().c_str(),
                   static_cast<long long>(p.todo.size()), static_cast<long long>(p.n));
      std::fflush(out);
    }
    if (p.bench) {
      auto rec = backend.bench(c);
      if (!rec) {
        failure = rec.status().with_context("bench for " + c.label());
        break;
      }
      if (Status st = store.set_bench(p.config_id, *rec); !st.is_ok()) {
        failure = st;
        break;
      }
    }
    for (const QuestionRef& q : p.todo) {
      if (opts.interrupted && opts.interrupted()) {
        sum.interrupted = true;
        break;
      }
      auto rec = backend.run(c, q);
      if (!rec) {
        failure = rec.status().with_context(c.label() + ", question '" + q.id + "'");
        break;
      }
      QuestionRecord r = std::move(rec).value();
      r.question_id = q.id;
      r.index = q.index;
      if (Status st = store.add_question(p.config_id, sum.run_id, r); !st.is_ok()) {
        failure = st;
        break;
      }
      ++sum.n_new;
      weight_done += question_weight(c);
      const double el = std::chrono::duration<double>(Clock::now() - t0).count();
      const double eta = weight_done > 0 ? el / weight_done * (weight_todo - weight_done) : NAN;
      const int64_t done_all = sum.n_before + sum.n_new;
      const double pct = sum.n_expected ? 100.0 * static_cast<double>(done_all) / static_cast<double>(sum.n_expected) : 100;
      if (style == ProgressStyle::kBar) {
        constexpr int kWidth = 24;
        const int fill = static_cast<int>(pct / 100.0 * kWidth);
        std::fprintf(out, "\r[%.*s%*s] %5.1f%% %lld/%lld  cell %zu/%zu  elapsed %s  ETA %s   ", fill,
                     "########################", kWidth - fill, "", pct, static_cast<long long>(done_all),
                     static_cast<long long>(sum.n_expected), ci + 1, cells.size(), format_duration(el).c_str(),
                     format_duration(eta).c_str());
      } else if (style == ProgressStyle::kLines) {
        std::fprintf(out, "  %lld/%lld (%.1f%%) %s %s %.2f s  elapsed %s  ETA %s\n", static_cast<long long>(done_all),
                     static_cast<long long>(sum.n_expected), pct, q.id.c_str(), r.correct ? "correct" : "wrong",
                     r.e2e_ms / 1000.0, format_duration(el).c_str(), format_duration(eta).c_str());
      }
      if (style != ProgressStyle::kOff) std::fflush(out);
    }
    if (failure.is_ok() && !sum.interrupted) {
      if (const auto facts = backend.cell_facts(c)) {
        if (Status st = store.set_meta(cell_facts_key(c), facts->dump()); !st.is_ok()) failure = st;
      }
    }
  }
  if (style == ProgressStyle::kBar) std::fprintf(out, "\n");
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string status = !failure.is_ok() ? "failed" : sum.interrupted ? "interrupted" : "completed";
  Status fin = store.finish_run(sum.run_id, status);
  if (!failure.is_ok()) return failure;
  ER_RETURN_IF_ERROR(fin);
  if (style != ProgressStyle::kOff) {
    std::fprintf(out, "sweep '%s' %s: %lld new questions in %s; %lld/%lld in %s\n", cfg.name.c_str(), status.c_str(),
                 static_cast<long long>(sum.n_new), format_duration(sum.seconds).c_str(),
                 static_cast<long long>(sum.n_before + sum.n_new), static_cast<long long>(sum.n_expected),
                 store.path().c_str());
    std::fflush(out);
  }
  return sum;
}

}  // namespace er::study
