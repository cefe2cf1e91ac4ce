#include "study/adaptive.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "study/variant.h"

namespace er::study {

namespace {

constexpr const char* kDecisionsKey = "study_decisions";

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string pct(double p) {
  char b[16];
  std::snprintf(b, sizeof b, "%.0f%%", 100.0 * p);
  return b;
}

std::string stats_text(const CellStats& s) {
  char b[128];
  std::snprintf(b, sizeof b, "%s [%s, %s] of %lld, mean %.2f s", pct(s.acc.p).c_str(), pct(s.acc.lo).c_str(),
                pct(s.acc.hi).c_str(), static_cast<long long>(s.acc.n), s.mean_s);
  return b;
}

nlohmann::ordered_json stats_json(const CellStats& s) {
  return {{"cell", s.hash},  {"label", s.label}, {"k", s.acc.k},      {"n", s.acc.n},
          {"lo", s.acc.lo}, {"hi", s.acc.hi},   {"mean_s", s.mean_s}};
}

CellStats stats_from_json(const nlohmann::json& j) {
  CellStats s;
  s.hash = j.value("cell", "");
  s.label = j.value("label", "");
  s.acc = stats::wilson_interval(j.value("k", int64_t{0}), j.value("n", int64_t{0}));
  s.mean_s = j.value("mean_s", 0.0);
  return s;
}

// Every record of every cell (by grid position); the rows stay owned by `rows`.
Result<std::vector<std::vector<const QuestionRecord*>>> records_by_cell(const std::vector<Cell>& cells, Store& store,
                                                                        std::vector<QuestionRow>& rows) {
  ER_ASSIGN_OR_RETURN(std::vector<ConfigRow> configs, store.configurations());
  ER_ASSIGN_OR_RETURN(rows, store.questions());
  std::unordered_map<std::string, int64_t> id_of;
  for (const ConfigRow& c : configs) id_of[c.hash] = c.id;
  std::unordered_map<int64_t, std::vector<const QuestionRecord*>> by_id;
  for (const QuestionRow& r : rows) by_id[r.config_id].push_back(&r.q);
  std::vector<std::vector<const QuestionRecord*>> out(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    const auto it = id_of.find(cells[i].hash());
    if (it != id_of.end()) out[i] = by_id[it->second];
  }
  return out;
}

}  // namespace

Result<double> parse_duration(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return Status::invalid("'" + std::string(text) + "': " + why + " (e.g. 90m, 45m, 2h, 300s, 1h30m)");
  };
  if (text.empty()) return bad("empty duration");
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
    if (j == i) return bad("expected a number");
    const std::string num(text.substr(i, j - i));
    if (std::count(num.begin(), num.end(), '.') > 1 || num == ".") return bad("'" + num + "' is not a number");
    if (j == text.size()) return bad("a unit is required after " + num + ": s, m or h");
    double unit = 0;
    switch (text[j]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      default: return bad(std::string("unknown unit '") + text[j] + "' (s, m or h)");
    }
    total += std::stod(num) * unit;
    i = j + 1;
  }
  if (!std::isfinite(total) || total <= 0) return bad("must be more than 0");
  return total;
}

DecodeRate builtin_decode_rate(const std::string& model_name, int64_t file_bytes) {
  std::string name = lower(std::filesystem::path(model_name).filename().string());
  if (name.ends_with(".gguf")) name.resize(name.size() - 5);
  if (name == "smollm2") return {150, "measured on the 2-core machine"};
  if (name == "qwen2.5-coder-1.5b") return {16, "measured on the 2-core machine"};
  if (name == "qwen2.5-coder-0.5b") return {32, "a guess: not measured on an idle machine"};
  const double bytes = file_bytes > 0 ? static_cast<double>(file_bytes) : 1e9;
  return {std::clamp(150.0 * 98e6 / bytes, 1.0, 2000.0), "from the file size (smollm2's rate scaled)"};
}

double paths_time_factor(int64_t paths) { return 1.0 + 0.36 * static_cast<double>(std::max<int64_t>(paths, 1) - 1); }

namespace {

double builtin_generation(const CostModel& m, const Cell& c, double n_prompt, double n_gen) {
  const auto it = m.tok_s.find(c.model);
  double rate = it != m.tok_s.end() ? it->second : 15.0;
  if (c.threads == 1) rate *= 0.55;
  if (!c.quantization.empty()) {  // a variant reads its own bytes per weight
    const auto rb = m.release_bits.find(c.model);
    const std::optional<double> vb = nominal_bits_per_weight(c.quantization);
    if (rb != m.release_bits.end() && rb->second > 0 && vb && *vb > 0) rate *= rb->second / *vb;
  }
  return n_prompt / (10.0 * rate) + n_gen * paths_time_factor(c.paths) / rate;
}

}  // namespace

double CostModel::builtin_seconds(const Cell& c) const { return builtin_generation(*this, c, 200, question_token_cap(c)); }

double CostModel::generation_seconds(const Cell& c, int64_t n_prompt, int64_t n_gen) const {
  const auto s = model_scale.find(c.model);
  return builtin_generation(*this, c, static_cast<double>(n_prompt), static_cast<double>(n_gen)) *
         (s != model_scale.end() ? s->second : 1.0);
}

double CostModel::question_seconds(const Cell& c) const {
  if (const auto it = cell_s.find(c.hash()); it != cell_s.end()) return it->second;
  const auto s = model_scale.find(c.model);
  return builtin_seconds(c) * (s != model_scale.end() ? s->second : 1.0);
}

Status calibrate(CostModel& cost, const std::vector<Cell>& cells, Store& store) {
  std::vector<QuestionRow> rows;
  ER_ASSIGN_OR_RETURN(auto recs, records_by_cell(cells, store, rows));
  std::map<std::string, std::pair<double, double>> model_sum;  // measured, built-in
  for (size_t i = 0; i < cells.size(); ++i) {
    if (recs[i].empty()) continue;
    double sum = 0;
    for (const QuestionRecord* q : recs[i]) sum += q->e2e_ms / 1000.0;
    cost.cell_s[cells[i].hash()] = sum / static_cast<double>(recs[i].size());
    auto& m = model_sum[cells[i].model];
    m.first += sum;
    m.second += cost.builtin_seconds(cells[i]) * static_cast<double>(recs[i].size());
  }
  for (const auto& [model, s] : model_sum)
    if (s.second > 0) cost.model_scale[model] = std::clamp(s.first / s.second, 0.1, 10.0);
  return Status::ok();
}

Result<std::map<std::string, int64_t>> records_per_cell(Store& store) {
  ER_ASSIGN_OR_RETURN(std::vector<ConfigRow> configs, store.configurations());
  ER_ASSIGN_OR_RETURN(std::vector<QuestionRow> rows, store.questions());
  std::map<int64_t, int64_t> by_id;
  for (const QuestionRow& r : rows) ++by_id[r.config_id];
  std::map<std::string, int64_t> out;
  for (const ConfigRow& c : configs) out[c.hash] = by_id[c.id];
  return out;
}

std::vector<int64_t> round_targets(int64_t first, int64_t cap) {
  std::vector<int64_t> t;
  if (cap < 1) return t;
  int64_t q = std::clamp<int64_t>(first, 1, cap);
  t.push_back(q);
  while (q < cap) {
    q = std::min(cap, q * 2);
    t.push_back(q);
  }
  return t;
}

namespace {

int64_t cell_cap(const Cell& c, int64_t first) { return c.slice.limit > 0 ? c.slice.limit : first; }

int64_t target_at(const std::vector<int64_t>& t, size_t r) { return t.empty() ? 0 : r < t.size() ? t[r] : t.back(); }

}  // namespace

PlanEstimate estimate_plan(const SweepConfig& cfg, const CostModel& cost, int64_t first, double budget_s,
                           const std::map<std::string, int64_t>& done) {
  PlanEstimate e;
  const std::vector<Cell> cells = cfg.cells();
  e.cells = static_cast<int64_t>(cells.size());
  std::vector<std::vector<int64_t>> targets;
  std::vector<int64_t> have;
  std::vector<double> sec;
  size_t rounds = 0;
  for (const Cell& c : cells) {
    targets.push_back(round_targets(first, cell_cap(c, first)));
    rounds = std::max(rounds, targets.back().size());
    const auto it = done.find(c.hash());
    have.push_back(it != done.end() ? it->second : 0);
    sec.push_back(cost.question_seconds(c));
  }
  bool within = true;
  for (size_t r = 0; r < rounds; ++r)
    for (size_t i = 0; i < cells.size(); ++i) {
      const int64_t from = std::max(have[i], r == 0 ? int64_t{0} : target_at(targets[i], r - 1));
      const int64_t n = std::max<int64_t>(0, target_at(targets[i], r) - from);
      if (r == 0) {
        e.first_round_questions += n;
        e.first_round_s += sec[i] * static_cast<double>(n);
      }
      e.full_questions += n;
      e.full_s += sec[i] * static_cast<double>(n);
      for (int64_t q = 0; q < n && within; ++q) {
        if (budget_s > 0 && e.planned_s + sec[i] > budget_s) {
          within = false;
          break;
        }
        e.planned_s += sec[i];
        ++e.planned_questions;
      }
    }
  return e;
}

BudgetFit fit_to_budget(const SweepConfig& cfg, const CostModel& cost, int64_t first, double budget_s,
                        const std::map<std::string, int64_t>& done) {
  BudgetFit f{cfg, std::max<int64_t>(first, 1), {}};
  if (budget_s <= 0) return f;
  const auto has_records = [&](const Cell& c) {
    const auto it = done.find(c.hash());
    return it != done.end() && it->second > 0;
  };
  for (;;) {
    const PlanEstimate e = estimate_plan(f.cfg, cost, f.first, 0, done);
    if (e.first_round_s <= budget_s / 2) return f;
    const std::vector<Cell> cells = f.cfg.cells();
    const auto round0 = [&](const Cell& c) {
      const auto it = done.find(c.hash());
      const int64_t have = it != done.end() ? it->second : 0;
      return cost.question_seconds(c) * static_cast<double>(std::max<int64_t>(0, std::min(f.first, cell_cap(c, f.first)) - have));
    };
    // 1. A smaller first round, down to 5 questions (every axis value kept).
    if (f.first > 5) {
      f.first = std::max<int64_t>(5, f.first / 2);
      f.dropped.push_back("first round shrunk to " + std::to_string(f.first) + " questions per cell");
      continue;
    }
    // 2. The most expensive non-base axis value.
    struct Candidate {
      std::string what;
      std::function<bool(const Cell&)> match;
      std::function<void(SweepConfig&)> drop;
    };
    std::vector<Candidate> cands;
    for (size_t i = 1; i < f.cfg.policies.size(); ++i) {
      const Policy p = f.cfg.policies[i];
      cands.push_back({"policy " + std::string(policy_name(p)), [p](const Cell& c) { return c.policy == p; },
                       [p](SweepConfig& s) {
                         s.policies.erase(std::find(s.policies.begin(), s.policies.end(), p));
                         if (std::none_of(s.policies.begin(), s.policies.end(), policy_takes_budget)) s.budgets.clear();
                       }});
    }
    for (size_t i = 1; i < f.cfg.budgets.size(); ++i) {
      const int64_t b = f.cfg.budgets[i];
      cands.push_back({"budget " + std::to_string(b), [b](const Cell& c) { return c.budget == b; },
                       [b](SweepConfig& s) { s.budgets.erase(std::find(s.budgets.begin(), s.budgets.end(), b)); }});
    }
    for (size_t i = 1; i < f.cfg.quantizations.size(); ++i) {
      const std::string q = f.cfg.quantizations[i];
      cands.push_back({"precision " + q, [q](const Cell& c) { return c.quantization_name() == q; },
                       [q](SweepConfig& s) { s.quantizations.erase(std::find(s.quantizations.begin(), s.quantizations.end(), q)); }});
    }
    for (size_t i = 1; i < f.cfg.paths.size(); ++i) {
      const int64_t n = f.cfg.paths[i];
      cands.push_back({"N = " + std::to_string(n), [n](const Cell& c) { return c.paths == n; },
                       [n](SweepConfig& s) { s.paths.erase(std::find(s.paths.begin(), s.paths.end(), n)); }});
    }
    const Candidate* best = nullptr;
    double best_s = -1;
    for (const Candidate& cd : cands) {
      double s = 0;
      bool kept = false;
      for (const Cell& c : cells)
        if (cd.match(c)) {
          s += round0(c);
          kept = kept || has_records(c);
        }
      if (!kept && s > best_s) {
        best_s = s;
        best = &cd;
      }
    }
    if (best) {
      f.dropped.push_back("dropped " + best->what + " (its first round: ~" + format_duration(best_s) + ")");
      best->drop(f.cfg);
      continue;
    }
    // 3. The most expensive model.
    if (f.cfg.models.size() > 1) {
      std::string worst;
      double worst_s = -1;
      for (const std::string& m : f.cfg.models) {
        double s = 0;
        bool kept = false;
        for (const Cell& c : cells)
          if (c.model == m) {
            s = std::max(s, cost.question_seconds(c));
            kept = kept || has_records(c);
          }
        if (!kept && s > worst_s) {
          worst_s = s;
          worst = m;
        }
      }
      if (!worst.empty()) {
        f.dropped.push_back("dropped model " + worst + " (~" + format_duration(worst_s) + " per question)");
        f.cfg.models.erase(std::find(f.cfg.models.begin(), f.cfg.models.end(), worst));
        continue;
      }
    }
    // 4. A smaller first round still.
    if (f.first > 2) {
      f.first = std::max<int64_t>(2, f.first / 2);
      f.dropped.push_back("first round shrunk to " + std::to_string(f.first) + " questions per cell");
      continue;
    }
    return f;
  }
}

std::string sweep_toml(const SweepConfig& cfg, const std::string& header) {
  const auto str = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  const auto ints = [](const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  };
  std::string t;
  size_t start = 0;
  while (start < header.size()) {
    const size_t nl = header.find('\n', start);
    t += "# " + header.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  t += "name = " + str(cfg.name) + "\n";
  t += "grid = " + str(cfg.grid) + "\n";
  t += "models = [";
  for (size_t i = 0; i < cfg.models.size(); ++i) t += (i ? ", " : "") + str(cfg.models[i]);
  t += "]\n";
  if (!(cfg.quantizations.size() == 1 && cfg.quantizations.front() == kRelease)) {
    t += "quantizations = [";
    for (size_t i = 0; i < cfg.quantizations.size(); ++i) t += (i ? ", " : "") + str(cfg.quantizations[i]);
    t += "]\n";
  }
  t += "policies = [";
  for (size_t i = 0; i < cfg.policies.size(); ++i) t += (i ? ", " : "") + str(std::string(policy_name(cfg.policies[i])));
  t += "]\n";
  if (std::any_of(cfg.policies.begin(), cfg.policies.end(), policy_takes_budget)) t += "budgets = " + ints(cfg.budgets) + "\n";
  t += "paths = " + ints(cfg.paths) + "\n";
  t += "threads = " + ints(cfg.threads) + "\n";
  t += "max_tokens = " + std::to_string(cfg.max_tokens) + "\n";
  t += "answer_budget = " + std::to_string(cfg.answer_budget) + "\n";
  char temp[32];
  std::snprintf(temp, sizeof temp, "%.17g", cfg.temperature);
  std::string ts = temp;
  if (ts.find_first_of(".e") == std::string::npos) ts += ".0";
  t += "temperature = " + ts + "\n";
  t += "seed = " + std::to_string(cfg.seed) + "\n";
  t += "vote = " + str(cfg.vote) + "\n";
  for (const Slice& s : cfg.slices) {
    t += "\n[[slices]]\ndataset = " + str(s.dataset) + "\noffset = " + std::to_string(s.offset) + "\n";
    if (s.limit > 0) t += "limit = " + std::to_string(s.limit) + "\n";
  }
  return t;
}

CellStats cell_stats(const Cell& cell, const std::vector<std::string>& order, int64_t upto,
                     const std::vector<const QuestionRecord*>& records) {
  CellStats s;
  s.hash = cell.hash();
  s.label = cell.label();
  std::unordered_map<std::string, const QuestionRecord*> by_id;
  for (const QuestionRecord* q : records) by_id[q->question_id] = q;
  int64_t k = 0, n = 0;
  double sum = 0;
  const auto m = std::min<int64_t>(upto, static_cast<int64_t>(order.size()));
  for (int64_t i = 0; i < m; ++i) {
    const auto it = by_id.find(order[static_cast<size_t>(i)]);
    if (it == by_id.end()) continue;
    ++n;
    k += it->second->correct ? 1 : 0;
    sum += it->second->e2e_ms / 1000.0;
  }
  s.acc = stats::wilson_interval(k, n);
  s.mean_s = n ? sum / static_cast<double>(n) : 0;
  return s;
}

std::optional<size_t> dominated_by(const std::vector<CellStats>& cells, size_t c) {
  const CellStats& me = cells[c];
  if (me.acc.n == 0) return std::nullopt;
  for (size_t d = 0; d < cells.size(); ++d) {
    if (d == c || cells[d].acc.n == 0) continue;
    if (cells[d].mean_s < me.mean_s && cells[d].acc.lo > me.acc.hi) return d;
  }
  return std::nullopt;
}

Result<AdaptiveSummary> run_adaptive(const SweepConfig& cfg, Store& store, CellBackend& backend,
                                     const AdaptiveOptions& opts) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const std::vector<Cell> cells = cfg.cells();
  const bool sharded = opts.sweep.shard.has_value();
  AdaptiveSummary sum;
  // Every cell's questions in order: position i is the slice's i-th question.
  std::vector<std::vector<std::string>> order(cells.size());
  std::vector<std::vector<int64_t>> index(cells.size());  // dataset positions (for the shard)
  std::vector<std::unordered_map<std::string, int64_t>> pos(cells.size());
  std::vector<std::vector<int64_t>> targets(cells.size());
  size_t rounds = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    ER_ASSIGN_OR_RETURN(std::vector<QuestionRef> qs, backend.questions(cells[i]));
    for (const QuestionRef& q : qs) {
      pos[i][q.id] = static_cast<int64_t>(order[i].size());
      order[i].push_back(q.id);
      index[i].push_back(q.index);
    }
    targets[i] = round_targets(opts.first, static_cast<int64_t>(qs.size()));
    rounds = std::max(rounds, targets[i].size());
    sum.cap = std::max(sum.cap, static_cast<int64_t>(qs.size()));
  }
  sum.targets = round_targets(opts.first, sum.cap);
  sum.running.assign(cells.size(), true);
  std::vector<int64_t> stop_upto(cells.size(), 0);
  const bool has_budget = opts.budget_s > 0;
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(has_budget ? opts.budget_s : 0));
  const auto over = [&] { return has_budget && Clock::now() >= deadline; };
  const auto user = [&] { return opts.sweep.interrupted && opts.sweep.interrupted(); };
  // Whether question `id` of the cell belongs to the shard this process runs.
  const auto mine = [&](size_t ci, size_t p) {
    return !sharded || shard_of(static_cast<int64_t>(ci), index[ci][p], opts.sweep.shard->count) == opts.sweep.shard->index;
  };
  const auto store_decisions = [&]() -> Status {
    if (sharded) return Status::ok();
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const Decision& d : sum.decisions)
      j.push_back({{"cell", d.cell}, {"label", d.label}, {"after", d.after}, {"round", d.round},
                   {"stats", stats_json(d.stats)}, {"by", stats_json(d.by)}});
    return store.set_meta(kDecisionsKey, j.dump());
  };

  for (size_t r = 0; r < rounds; ++r) {
    std::vector<QuestionRow> rows;
    ER_ASSIGN_OR_RETURN(auto recs, records_by_cell(cells, store, rows));
    if (r > 0 && !sharded) {
      // Decide on the previous round's prefix only (re-derivable from the stored records).
      std::vector<CellStats> st(cells.size());
      for (size_t i = 0; i < cells.size(); ++i)
        st[i] = cell_stats(cells[i], order[i], sum.running[i] ? target_at(targets[i], r - 1) : stop_upto[i], recs[i]);
      bool changed = false;
      for (size_t i = 0; i < cells.size(); ++i) {
        if (!sum.running[i] || target_at(targets[i], r) <= target_at(targets[i], r - 1)) continue;
        const auto d = dominated_by(st, i);
        if (!d) continue;
        sum.running[i] = false;
        stop_upto[i] = target_at(targets[i], r - 1);
        Decision dec{st[i].hash, st[i].label, st[i].acc.n, st[i], st[*d], static_cast<int64_t>(r + 1)};
        if (opts.decisions) {
          std::fprintf(opts.decisions, "dominated: %s (%s) by %s (%s): its interval lies under a cheaper cell's; it stops at %lld questions\n",
                       dec.label.c_str(), stats_text(dec.stats).c_str(), dec.by.label.c_str(), stats_text(dec.by).c_str(),
                       static_cast<long long>(dec.after));
          std::fflush(opts.decisions);
        }
        sum.decisions.push_back(std::move(dec));
        changed = true;
      }
      if (changed) ER_RETURN_IF_ERROR(store_decisions());
    }
    // This round: every running cell to its target; skipped when nothing of it is missing.
    int64_t missing = 0;
    int64_t round_target = 0;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (!sum.running[i]) continue;
      round_target = std::max(round_target, target_at(targets[i], r));
      std::set<std::string> have;
      for (const QuestionRecord* q : recs[i]) have.insert(q->question_id);
      for (int64_t p = 0; p < target_at(targets[i], r); ++p)
        if (!have.count(order[i][static_cast<size_t>(p)]) && mine(i, static_cast<size_t>(p))) ++missing;
    }
    if (missing == 0) {
      ++sum.rounds_done;
      continue;
    }
    if (user()) {
      sum.interrupted = true;
      break;
    }
    if (over()) {
      sum.out_of_budget = true;
      break;
    }
    SweepOptions so = opts.sweep;
    so.select = [&, r](size_t ci, const QuestionRef& q) {
      if (!sum.running[ci]) return false;
      const auto it = pos[ci].find(q.id);
      return it != pos[ci].end() && it->second < target_at(targets[ci], r);
    };
    so.title = "round " + std::to_string(r + 1) + "/" + std::to_string(rounds) + " (" + std::to_string(round_target) +
               " questions per running cell)";
    so.interrupted = [&] { return user() || over(); };
    ER_ASSIGN_OR_RETURN(SweepSummary s, run_sweep(cfg, store, backend, so));
    sum.n_new += s.n_new;
    if (s.interrupted) {
      if (user()) sum.interrupted = true;
      else sum.out_of_budget = true;
      break;
    }
    ++sum.rounds_done;
  }
  // Every cell's stats over all it has.
  std::vector<QuestionRow> rows;
  ER_ASSIGN_OR_RETURN(auto recs, records_by_cell(cells, store, rows));
  for (size_t i = 0; i < cells.size(); ++i) {
    sum.final.push_back(cell_stats(cells[i], order[i], static_cast<int64_t>(order[i].size()), recs[i]));
    sum.done.push_back(sum.final.back().acc.n);
  }
  ER_RETURN_IF_ERROR(store_decisions());
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return sum;
}

Result<std::vector<Decision>> read_decisions(Store& store) {
  ER_ASSIGN_OR_RETURN(auto meta, store.meta());
  std::vector<Decision> out;
  const auto it = meta.find(kDecisionsKey);
  if (it == meta.end()) return out;
  const auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (!j.is_array()) return Status::invalid("'" + store.path() + "': edgereason_meta." + kDecisionsKey + " is not a JSON array");
  for (const auto& d : j) {
    if (!d.is_object() || !d.contains("stats") || !d.contains("by"))
      return Status::invalid("'" + store.path() + "': a malformed entry in edgereason_meta." + kDecisionsKey);
    Decision x;
    x.cell = d.value("cell", "");
    x.label = d.value("label", "");
    x.after = d.value("after", int64_t{0});
    x.round = d.value("round", int64_t{0});
    x.stats = stats_from_json(d["stats"]);
    x.by = stats_from_json(d["by"]);
    out.push_back(std::move(x));
  }
  return out;
}

std::string adaptive_table(const AdaptiveSummary& s) {
  std::string t;
  size_t w = 4;
  for (const CellStats& c : s.final) w = std::max(w, c.label.size());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %9s %21s %9s  %s\n", static_cast<int>(w), "cell", "questions", "accuracy [95% CI]",
                "mean s", "status");
  t += line;
  for (size_t i = 0; i < s.final.size(); ++i) {
    const CellStats& c = s.final[i];
    std::string status;
    if (!s.running[i]) {
      for (const Decision& d : s.decisions)
        if (d.cell == c.hash) status = "dominated by " + d.by.label + " after " + std::to_string(d.after);
    } else if (c.acc.n >= static_cast<int64_t>(s.cap)) {
      status = "frontier candidate, complete";
    } else {
      status = "running: " + std::to_string(c.acc.n) + " of " + std::to_string(s.cap) + " (left undone)";
    }
    char acc[64];
    std::snprintf(acc, sizeof acc, "%5.1f%% [%5.1f, %5.1f]", 100 * c.acc.p, 100 * c.acc.lo, 100 * c.acc.hi);
    std::snprintf(line, sizeof line, "%-*s %9lld %21s %9.2f  %s\n", static_cast<int>(w), c.label.c_str(),
                  static_cast<long long>(c.acc.n), acc, c.mean_s, status.c_str());
    t += line;
  }
  return t;
}

}  // namespace er::study
