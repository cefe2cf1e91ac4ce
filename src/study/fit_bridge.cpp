#include "study/fit_bridge.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "perfmodel/fit_records.h"

namespace er::study {

Result<std::string> fit_and_store(Store& store) {
  ER_ASSIGN_OR_RETURN(std::vector<ConfigRow> configs, store.configurations());
  ER_ASSIGN_OR_RETURN(std::vector<QuestionRow> qs, store.questions());
  std::map<int64_t, const ConfigRow*> by_id;
  for (const ConfigRow& c : configs) by_id[c.id] = &c;
  // One observation per question, as perfmodel reads eval records: decode steps = the longest
  // path's tokens − 1 (the first token comes with the prefill). Only measured energy is fitted.
  std::vector<perfmodel::Observation> obs;
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
    obs.push_back(std::move(o));
  }
  if (obs.empty()) return std::string("fit: no questions to fit");
  perfmodel::FitOptions fo;
  auto reports = perfmodel::fit_observations(obs, fo);
  if (!reports.is_ok()) return "fit: nothing fitted (" + reports.status().message() + ")";
  std::string note;
  for (const perfmodel::ModelFitReport& rep : *reports) {
    nlohmann::ordered_json j;
    j["coefficients"] = perfmodel::to_json(rep.coefficients);
    j["fits"] = nlohmann::ordered_json::array();
    for (const auto& f : rep.fits) j["fits"].push_back(perfmodel::to_json(f));
    j["notes"] = rep.notes;
    j["n_observations"] = rep.n_observations;
    ER_RETURN_IF_ERROR(store.set_fit(rep.model, j));
    note += "fit " + rep.model + " (" + std::to_string(rep.n_observations) + " questions):";
    for (const auto& f : rep.fits) {
      char buf[160];
      if (!f.error.empty())
        std::snprintf(buf, sizeof buf, " %s not fitted (%s);", f.quantity.c_str(), f.error.c_str());
      else if (f.mape_pct)
        std::snprintf(buf, sizeof buf, " %s held-out MAPE %.1f%% (%lld points);", f.quantity.c_str(), *f.mape_pct,
                      static_cast<long long>(f.n_test));
      else
        std::snprintf(buf, sizeof buf, " %s fitted (%lld points);", f.quantity.c_str(), static_cast<long long>(f.n_points));
      note += buf;
    }
    note += "\n";
  }
  if (!note.empty() && note.back() == '\n') note.pop_back();
  return note;
}

}  // namespace er::study
