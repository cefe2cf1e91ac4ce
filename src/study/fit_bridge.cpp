#include "study/fit_bridge.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>

#include "perfmodel/fit_records.h"

namespace er::study {

namespace {

using nlohmann::ordered_json;

ordered_json to_json(const GridPoint& p) {
  return {{"model", p.model},       {"paths", p.paths},           {"threads", p.threads},
          {"n_prompt", p.n_prompt}, {"n_gen", p.n_gen},           {"prefill_ms", p.prefill_ms},
          {"decode_ms", p.decode_ms}};
}

// The grid points stored with the database's fits. A damaged entry is an error naming the model.
Result<std::vector<GridPoint>> stored_grid(Store& store) {
  ER_ASSIGN_OR_RETURN(std::vector<FitRow> fits, store.fits());
  std::vector<GridPoint> out;
  for (const FitRow& f : fits) {
    const auto it = f.json.find("bench_grid");
    if (it == f.json.end() || it->is_null()) continue;
    const std::string where = "'" + store.path() + "': fit for '" + f.model + "': bench_grid";
    if (!it->is_array()) return Status::invalid(where + " must be an array");
    for (const auto& e : *it) {
      GridPoint p;
      try {
        p.model = e.at("model").get<std::string>();
        p.paths = e.at("paths").get<int64_t>();
        p.threads = e.at("threads").get<int64_t>();
        p.n_prompt = e.at("n_prompt").get<int64_t>();
        p.n_gen = e.at("n_gen").get<int64_t>();
        p.prefill_ms = e.at("prefill_ms").get<double>();
        p.decode_ms = e.at("decode_ms").get<double>();
      } catch (const nlohmann::json::exception&) {
        return Status::invalid(where + ": bad entry " + e.dump());
      }
      if (p.paths < 1 || p.n_prompt < 1 || p.n_gen < 2 || !(p.prefill_ms > 0) || !(p.decode_ms > 0)) {
        return Status::invalid(where + ": bad entry " + e.dump());
      }
      out.push_back(std::move(p));
    }
  }
  return out;
}

using GridKey = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t>;  // model, paths, threads, I, O
GridKey key_of(const GridPoint& p) { return {p.model, p.paths, p.threads, p.n_prompt, p.n_gen}; }

}  // namespace

Result<std::vector<GridRequest>> bench_grid_plan(const std::vector<Cell>& cells, Store& store) {
  ER_ASSIGN_OR_RETURN(std::vector<ConfigRow> configs, store.configurations());
  ER_ASSIGN_OR_RETURN(std::vector<QuestionRow> qs, store.questions());
  ER_ASSIGN_OR_RETURN(std::vector<GridPoint> grid, stored_grid(store));
  std::map<int64_t, const ConfigRow*> by_id;
  for (const ConfigRow& c : configs) by_id[c.id] = &c;
  // Per model: the prompt range of its questions; per (model, paths): the longest context decoded.
  struct Prompts {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
  };
  std::map<std::string, Prompts> prompts;
  std::map<std::pair<std::string, int64_t>, int64_t> reached;
  for (const QuestionRow& r : qs) {
    const auto it = by_id.find(r.config_id);
    if (it == by_id.end() || r.q.n_prompt < 1) continue;
    const std::string m = perfmodel::model_key(it->second->cell.model);
    Prompts& p = prompts[m];
    p.lo = std::min(p.lo, r.q.n_prompt);
    p.hi = std::max(p.hi, r.q.n_prompt);
    int64_t& ctx = reached[{m, it->second->cell.paths}];
    ctx = std::max(ctx, r.q.n_prompt + std::max<int64_t>(0, r.q.max_path_tokens - 1));
  }
  for (const GridPoint& g : grid) {
    int64_t& ctx = reached[{g.model, g.paths}];
    ctx = std::max(ctx, g.n_prompt + g.n_gen - 1);
  }
  // Per (model, paths) of the cells: the cap on tokens per path and the first cell (its threads).
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, const Cell*>> need;
  for (const Cell& c : cells) {
    auto [it, fresh] = need.try_emplace({perfmodel::model_key(c.model), c.paths}, c.max_tokens, &c);
    if (!fresh) it->second.first = std::max(it->second.first, c.max_tokens);
  }
  std::vector<GridRequest> out;
  for (const auto& [key, cap] : need) {
    const auto p = prompts.find(key.first);
    if (p == prompts.end()) continue;  // no questions yet: nothing to fit
    const int64_t max_tokens = cap.first;
    if (max_tokens < 2) continue;
    if (reached[key] >= p->second.hi + max_tokens - 1) continue;  // covered
    out.push_back({*cap.second, p->second.lo, max_tokens});
    if (p->second.hi != p->second.lo) out.push_back({*cap.second, p->second.hi, max_tokens});
  }
  return out;
}

std::vector<GridPoint> run_bench_grid(const std::vector<GridRequest>& requests, CellBackend& backend,
                                      const std::function<bool()>& interrupted, std::FILE* progress, std::string* note) {
  std::vector<GridPoint> out;
  for (const GridRequest& r : requests) {
    if (interrupted && interrupted()) {
      if (note != nullptr) *note = "bench grid interrupted";
      break;
    }
    Result<BenchTiming> t = backend.bench_point(r.cell, r.n_prompt, r.n_gen);
    if (!t.is_ok()) {
      if (note != nullptr) *note = "bench grid stopped: " + t.status().message();
      break;
    }
    GridPoint g;
    g.model = perfmodel::model_key(r.cell.model);
    g.paths = r.cell.paths;
    g.threads = r.cell.threads;
    g.n_prompt = r.n_prompt;
    g.n_gen = r.n_gen;
    g.prefill_ms = t->prefill_ms;
    g.decode_ms = t->decode_ms;
    if (!(g.prefill_ms > 0) || !(g.decode_ms > 0)) {
      if (note != nullptr) *note = "bench grid stopped: a timing of 0 for " + r.cell.label();
      break;
    }
    if (progress != nullptr) {
      std::fprintf(progress, "bench grid %s N=%lld: prompt %lld, %lld tokens per path: prefill %.0f ms, decode %.2f s\n",
                   g.model.c_str(), static_cast<long long>(g.paths), static_cast<long long>(g.n_prompt),
                   static_cast<long long>(g.n_gen), g.prefill_ms, g.decode_ms / 1000.0);
      std::fflush(progress);
    }
    out.push_back(std::move(g));
  }
  return out;
}

Result<std::string> fit_and_store(Store& store, const std::vector<GridPoint>& new_points) {
  ER_ASSIGN_OR_RETURN(std::vector<ConfigRow> configs, store.configurations());
  ER_ASSIGN_OR_RETURN(std::vector<QuestionRow> qs, store.questions());
  ER_ASSIGN_OR_RETURN(std::vector<GridPoint> stored, stored_grid(store));
  // The grid: stored points, each replaced by a new one of the same size.
  std::map<GridKey, GridPoint> grid;
  for (const GridPoint& g : stored) grid[key_of(g)] = g;
  for (const GridPoint& g : new_points) grid[key_of(g)] = g;
  std::map<int64_t, const ConfigRow*> by_id;
  for (const ConfigRow& c : configs) by_id[c.id] = &c;
  // One observation per question, as perfmodel reads eval records: decode steps = the longest
  // path's tokens − 1 (the first token comes with the prefill). Only measured energy is fitted.
  std::vector<perfmodel::Observation> obs;
  std::map<std::string, int64_t> n_questions;
  for (const QuestionRow& r : qs) {
    auto it = by_id.find(r.config_id);
    if (it == by_id.end()) continue;
    perfmodel::Observation o;
    o.model = perfmodel::model_key(it->second->cell.model);
    o.n_prompt = r.q.n_prompt;
    o.n_gen = std::max<int64_t>(0, r.q.max_path_tokens - 1);
    o.n_paths = it->second->cell.paths;
    o.prefill_s = r.q.prefill_ms / 1000.0;
    if (o.n_gen > 0) o.decode_s = r.q.decode_ms / 1000.0;
    if (r.q.power && !r.q.power->estimated) {
      o.prefill_j = r.q.power->prefill_j;
      o.decode_j = r.q.power->decode_j;
    }
    o.kind = "study";
    o.origin = "configuration " + std::to_string(r.config_id) + " question " + r.q.question_id;
    ++n_questions[o.model];
    obs.push_back(std::move(o));
  }
  // The grid's points: timings only (no energy), decode steps = tokens − 1 as for questions.
  std::map<std::string, ordered_json> grid_json;
  for (const auto& [key, g] : grid) {
    perfmodel::Observation o;
    o.model = g.model;
    o.n_prompt = g.n_prompt;
    o.n_gen = g.n_gen - 1;
    o.n_paths = g.paths;
    o.prefill_s = g.prefill_ms / 1000.0;
    o.decode_s = g.decode_ms / 1000.0;
    o.kind = "study bench grid";
    o.fit_only = true;  // they exist to extend the range: never held out
    o.origin = "bench grid " + g.model + " N=" + std::to_string(g.paths) + " I=" + std::to_string(g.n_prompt);
    obs.push_back(std::move(o));
    grid_json[g.model].push_back(to_json(g));
  }
  if (obs.empty()) return std::string("fit: no questions to fit");
  perfmodel::FitOptions fo;
  auto reports = perfmodel::fit_observations(obs, fo);
  if (!reports.is_ok()) return "fit: nothing fitted (" + reports.status().message() + ")";
  std::string note;
  for (const perfmodel::ModelFitReport& rep : *reports) {
    ordered_json j;
    j["coefficients"] = perfmodel::to_json(rep.coefficients);
    j["fits"] = ordered_json::array();
    for (const auto& f : rep.fits) j["fits"].push_back(perfmodel::to_json(f));
    j["notes"] = rep.notes;
    j["n_observations"] = rep.n_observations;
    j["bench_grid"] = grid_json.count(rep.model) ? grid_json[rep.model] : ordered_json::array();
    ER_RETURN_IF_ERROR(store.set_fit(rep.model, j));
    const int64_t nq = n_questions[rep.model];
    const int64_t ng = rep.n_observations - nq;
    note += "fit " + rep.model + " (" + std::to_string(nq) + " questions" +
            (ng > 0 ? " + " + std::to_string(ng) + " bench grid points" : std::string()) + "):";
    for (const auto& f : rep.fits) {
      char buf[200];
      if (!f.error.empty())
        std::snprintf(buf, sizeof buf, " %s not fitted (%s);", f.quantity.c_str(), f.error.c_str());
      else if (f.mape_pct)
        std::snprintf(buf, sizeof buf, " %s held-out MAPE %.1f%% (%lld points);", f.quantity.c_str(), *f.mape_pct,
                      static_cast<long long>(f.n_test));
      else
        std::snprintf(buf, sizeof buf, " %s fitted (%lld points);", f.quantity.c_str(), static_cast<long long>(f.n_points));
      note += buf;
      if (!f.at_zero.empty()) {
        std::string z;
        for (const std::string& c : f.at_zero) z += (z.empty() ? "" : ", ") + c;
        note.back() = ' ';
        note += "(" + z + " held at 0);";
      }
    }
    note += "\n";
  }
  if (!note.empty() && note.back() == '\n') note.pop_back();
  return note;
}

}  // namespace er::study
