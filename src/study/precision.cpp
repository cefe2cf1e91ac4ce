#include "study/precision.h"

#include <map>

namespace er::study {

std::vector<PrecisionGroup> precision_groups(const std::vector<ConfigSummary>& summaries,
                                             const std::vector<QuestionRow>& questions,
                                             const std::vector<std::pair<int64_t, nlohmann::json>>& bench) {
  std::map<int64_t, const nlohmann::json*> bench_of;
  for (const auto& [id, j] : bench) bench_of[id] = &j;
  std::map<int64_t, std::map<std::string, std::string>> answers;  // config -> question -> extracted
  for (const QuestionRow& q : questions) answers[q.config_id][q.q.question_id] = q.q.extracted;

  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < summaries.size(); ++i) {
    Cell c = summaries[i].cell;
    c.quantization.clear();
    const std::string key = c.hash();
    if (!by_key.count(key)) order.push_back(key);
    by_key[key].push_back(i);
  }
  std::vector<PrecisionGroup> out;
  for (const std::string& key : order) {
    const std::vector<size_t>& idx = by_key[key];
    bool variant = false;
    for (size_t i : idx) variant = variant || !summaries[i].cell.quantization.empty();
    if (!variant) continue;
    PrecisionGroup g;
    Cell c = summaries[idx[0]].cell;
    c.quantization.clear();
    g.label = c.label();
    std::vector<size_t> sorted;
    for (size_t i : idx)
      if (summaries[i].cell.quantization.empty()) sorted.push_back(i);
    for (size_t i : idx)
      if (!summaries[i].cell.quantization.empty()) sorted.push_back(i);
    const bool has_release = summaries[sorted[0]].cell.quantization.empty();
    for (size_t i : sorted) {
      const ConfigSummary& s = summaries[i];
      PrecisionRow r;
      r.summary = i;
      r.quantization = s.cell.quantization_name();
      if (auto it = bench_of.find(s.config_id); it != bench_of.end()) {
        const nlohmann::json& b = *it->second;
        if (b.contains("weight_bytes_per_token") && b["weight_bytes_per_token"].is_number_integer())
          r.weight_bytes_per_token = b["weight_bytes_per_token"].get<int64_t>();
        if (b.contains("weights_vs_release")) r.weights_vs_release = b["weights_vs_release"];
      }
      if (s.max_path_tokens_mean > 0) r.decode_s_per_step = s.decode_mean_s / s.max_path_tokens_mean;
      if (s.energy_j && s.tokens_mean > 0) r.j_per_token = *s.energy_j / s.tokens_mean;
      if (has_release && !g.rows.empty()) {
        const PrecisionRow* release = &g.rows[0];
        const auto& mine = answers[s.config_id];
        const auto& theirs = answers[summaries[release->summary].config_id];
        for (const auto& [qid, a] : mine) {
          auto t = theirs.find(qid);
          if (t == theirs.end()) continue;
          ++r.n_common;
          if (t->second != a) ++r.n_answers_differ;
        }
        if (r.decode_s_per_step && release->decode_s_per_step && *release->decode_s_per_step > 0)
          r.decode_ratio = *r.decode_s_per_step / *release->decode_s_per_step;
        if (r.weight_bytes_per_token && release->weight_bytes_per_token && *release->weight_bytes_per_token > 0)
          r.bytes_ratio = static_cast<double>(*r.weight_bytes_per_token) / static_cast<double>(*release->weight_bytes_per_token);
      }
      g.rows.push_back(std::move(r));
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace er::study
