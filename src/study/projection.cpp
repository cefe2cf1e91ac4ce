#include "study/projection.h"

#include <algorithm>
#include <map>
#include <set>

#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model_registry.h"
#include "model/model_summary.h"
#include "perfmodel/builtin_profiles.h"
#include "perfmodel/extrapolation.h"
#include "perfmodel/fit_records.h"
#include "perfmodel/model_shape.h"
#include "perfmodel/roofline.h"
#include "core/stats.h"

namespace er::study {

namespace {

struct ModelView {
  const perfmodel::ModelCoefficients* fitted = nullptr;
  std::optional<perfmodel::ModelShape> shape;
};

}  // namespace

Result<std::string> project_onto_device(const std::string& device, const std::vector<ConfigRow>& configs,
                                        const std::vector<QuestionRow>& questions, std::vector<ConfigSummary>& summaries,
                                        std::vector<std::string>* warnings) {
  std::string resolve_note;
  Result<perfmodel::DeviceProfile> dev_or = perfmodel::resolve_device(device, &resolve_note);
  if (!dev_or.is_ok()) return dev_or.status().with_context("${device}");
  const perfmodel::DeviceProfile& dev = *dev_or;
  std::map<int64_t, const ConfigRow*> by_id;
  for (const ConfigRow& c : configs) by_id[c.id] = &c;

  std::map<std::string, ModelView> views;
  std::map<std::string, perfmodel::ExtrapolationCheck> checks;  // per model with fitted coefficients
  std::set<std::string> sources;
  auto view_for = [&](const std::string& model) -> Result<const ModelView*> {
    auto it = views.find(model);
    if (it != views.end()) return &it->second;
    ModelView v;
    std::vector<std::string> keys = {model, perfmodel::model_key(model)};
    Result<std::string> path = model::resolve_model(model);
    if (path.is_ok()) keys.push_back(perfmodel::model_key(*path));
    for (const std::string& k : keys)
      if (auto f = dev.models.find(k); f != dev.models.end()) {
        v.fitted = &f->second;
        break;
      }
    if (path.is_ok()) {
      Result<perfmodel::ModelShape> s = perfmodel::model_shape_from_gguf(*path);
      if (s.is_ok()) v.shape = *s;
    }
    if (!v.shape && v.fitted && v.fitted->shape) v.shape = v.fitted->shape;
    if (!v.fitted && !v.shape)
      return Status::invalid("${device} '" + device + "': profile '" + dev.name + "' has no fitted models for '" + model +
                             "' and its shape is unknown (the model file is not installed here)");
    return &views.emplace(model, v).first->second;
  };

  // Per question: projected prefill and decode seconds, and energy when the profile has power models.
  struct P {
    double prefill_s = 0, decode_s = 0;
    std::optional<double> energy_j;
  };
  std::map<int64_t, std::vector<P>> per_config;
  for (const QuestionRow& r : questions) {
    auto c = by_id.find(r.config_id);
    if (c == by_id.end()) continue;
    const Cell& cell = c->second->cell;
    ER_ASSIGN_OR_RETURN(const ModelView* v, view_for(cell.model));
    const int64_t I = std::max<int64_t>(1, r.q.n_prompt);
    const int64_t O = std::max<int64_t>(0, r.q.max_path_tokens - 1);
    const int64_t N = cell.paths;
    std::optional<perfmodel::RooflineResult> roof, roof_one;
    if (v->shape) {
      roof = perfmodel::roofline(dev, *v->shape, I, O, N);
      if (N > 1) roof_one = perfmodel::roofline(dev, *v->shape, I, O, 1);
    }
    if (v->fitted) {
      auto ck = checks.try_emplace(cell.model, *v->fitted, perfmodel::model_key(cell.model)).first;
      ck->second.add(I, O, N);
    }
    P p;
    if (v->fitted && v->fitted->prefill) {
      p.prefill_s = v->fitted->prefill->seconds(I);
      sources.insert("prefill: fitted");
    } else if (roof) {
      p.prefill_s = roof->prefill_s;
      sources.insert("prefill: roofline");
    }
    if (const perfmodel::DecodeLatencyModel* d = v->fitted ? perfmodel::decode_model_for(*v->fitted, N) : nullptr) {
      p.decode_s = d->seconds(I, O);
      sources.insert("decode: fitted");
    } else if (v->fitted && v->fitted->decode && roof && roof_one && roof_one->decode_s > 0) {
      p.decode_s = v->fitted->decode->seconds(I, O) * roof->decode_s / roof_one->decode_s;
      sources.insert("decode: fitted (1 path) x roofline ratio");
    } else if (roof) {
      p.decode_s = roof->decode_s;
      sources.insert("decode: roofline");
    }
    if (v->fitted && v->fitted->decode_power && (v->fitted->prefill_power || O > 0)) {
      const double dj = O > 0 ? v->fitted->decode_power->energy_j(O, p.decode_s) : 0.0;
      const double pw = v->fitted->prefill_power ? v->fitted->prefill_power->watts(I)
                                                 : v->fitted->decode_power->mean_watts(std::max<int64_t>(O, 1), p.decode_s);
      p.energy_j = dj + pw * p.prefill_s;
      sources.insert("energy: fitted power models");
    }
    per_config[r.config_id].push_back(p);
  }
  for (ConfigSummary& s : summaries) {
    auto it = per_config.find(s.config_id);
    if (it == per_config.end()) continue;
    std::vector<double> e2e;
    double pre = 0, dec = 0, en = 0;
    bool all_energy = true;
    for (const P& p : it->second) {
      e2e.push_back(p.prefill_s + p.decode_s);
      pre += p.prefill_s;
      dec += p.decode_s;
      if (p.energy_j) en += *p.energy_j;
      else all_energy = false;
    }
    const double n = static_cast<double>(it->second.size());
    s.mean_s = stats::mean(e2e);
    s.p50_s = stats::percentile(e2e, 50);
    s.p90_s = stats::percentile(e2e, 90);
    s.prefill_mean_s = pre / n;
    s.decode_mean_s = dec / n;
    s.energy_j = all_energy ? std::optional<double>(en / n) : std::nullopt;
    s.energy_estimated = false;
    s.projected = true;
  }
  std::string note = "device '" + dev.name + "' from the measured token counts (prompt, decode steps, paths); ";
  for (const auto& src : sources) note += src + "; ";
  if (sources.count("energy: fitted power models") == 0) note += "energy: not projected (no power models in the profile); ";
  if (!resolve_note.empty()) note += resolve_note + "; ";
  note.resize(note.size() - 2);
  for (ConfigSummary& s : summaries)
    if (s.projected) s.projection_note = note;
  if (warnings != nullptr) {
    for (const auto& [model, check] : checks) {
      for (const std::string& w : check.warnings()) warnings->push_back(w + " (profile '" + dev.name + "')");
    }
  }
  return note;
}

}  // namespace er::study
