#include "study/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "model/model.h"
#include "study/variant.h"

namespace er::study {

namespace {

// Every error carries "FILE:LINE: key 'KEY': ".
class Errors {
 public:
  explicit Errors(std::string path) : path_(std::move(path)) {}
  Status at(const toml::source_region& where, std::string_view key, const std::string& msg) const {
    return Status::invalid(path_ + ":" + std::to_string(where.begin.line) + ": key '" + std::string(key) +
                           "': " + msg);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

Result<int64_t> get_int(const Errors& e, std::string_view key, const toml::node& n, int64_t lo, int64_t hi) {
  auto v = n.value_exact<int64_t>();
  if (!v) return e.at(n.source(), key, "expected an integer, got " + type_name(n));
  if (*v < lo || *v > hi)
    return e.at(n.source(), key, std::to_string(*v) + " is out of range [" + std::to_string(lo) + ", " +
                                     std::to_string(hi) + "]");
  return *v;
}

Result<std::string> get_string(const Errors& e, std::string_view key, const toml::node& n) {
  auto v = n.value_exact<std::string>();
  if (!v) return e.at(n.source(), key, "expected a string, got " + type_name(n));
  if (v->empty()) return e.at(n.source(), key, "must not be empty");
  return *v;
}

// A scalar or an array of scalars → list; duplicates refused (they would repeat cells).
template <typename T, typename Get>
Result<std::vector<T>> get_list(const Errors& e, std::string_view key, const toml::node& n, Get get) {
  std::vector<T> out;
  if (const toml::array* a = n.as_array()) {
    if (a->empty()) return e.at(n.source(), key, "the list is empty");
    for (const toml::node& el : *a) {
      ER_ASSIGN_OR_RETURN(T v, get(el));
      if (std::find(out.begin(), out.end(), v) != out.end())
        return e.at(el.source(), key, "duplicate value in the list");
      out.push_back(std::move(v));
    }
  } else {
    ER_ASSIGN_OR_RETURN(T v, get(n));
    out.push_back(std::move(v));
  }
  return out;
}

constexpr std::string_view kTopKeys[] = {"name",   "models",        "policies",    "budgets", "paths",
                                         "threads", "max_tokens",   "answer_budget", "temperature", "seed",
                                         "vote",   "bench",         "slices",        "backends", "grid",
                                         "quantizations"};
constexpr std::string_view kBackendKeys[] = {"name", "url", "flavor", "served_model"};
constexpr std::string_view kSliceKeys[] = {"dataset", "offset", "limit"};

template <size_t N>
bool known(std::string_view k, const std::string_view (&keys)[N]) {
  return std::find(std::begin(keys), std::end(keys), k) != std::end(keys);
}

std::string list_keys(const auto& keys) {
  std::string s;
  for (std::string_view k : keys) s += (s.empty() ? "" : ", ") + std::string(k);
  return s;
}

Result<Slice> parse_slice(const Errors& e, const toml::table& t, const ConfigChecks& checks) {
  Slice s;
  for (auto&& [k, v] : t)
    if (!known(k.str(), kSliceKeys))
      return e.at(k.source(), "slices." + std::string(k.str()),
                  "unknown key (a slice takes: " + list_keys(kSliceKeys) + ")");
  const toml::node* ds = t.get("dataset");
  if (!ds) return e.at(t.source(), "slices.dataset", "is required in every [[slices]] table");
  ER_ASSIGN_OR_RETURN(s.dataset, get_string(e, "slices.dataset", *ds));
  if (checks.dataset) {
    Status st = checks.dataset(s.dataset);
    if (!st.is_ok()) return e.at(ds->source(), "slices.dataset", st.message());
  }
  const toml::node* offset = t.get("offset");
  if (offset) {
    ER_ASSIGN_OR_RETURN(s.offset, get_int(e, "slices.offset", *offset, 0, int64_t{1} << 40));
  }
  if (const toml::node* n = t.get("limit")) {
    ER_ASSIGN_OR_RETURN(s.limit, get_int(e, "slices.limit", *n, 1, int64_t{1} << 40));
  }
  if (checks.dataset_size) {
    Result<int64_t> size = checks.dataset_size(s.dataset);
    if (!size.is_ok()) return e.at(ds->source(), "slices.dataset", size.status().message());
    if (*size == 0) return e.at(ds->source(), "slices.dataset", "'" + s.dataset + "' holds no questions");
    if (s.offset >= *size) {
      return e.at(offset ? offset->source() : t.source(), "slices.offset",
                  std::to_string(s.offset) + " is past the end of '" + s.dataset + "' (" + std::to_string(*size) +
                      " questions: offsets 0 to " + std::to_string(*size - 1) + ")");
    }
  }
  return s;
}

}  // namespace

std::vector<Cell> SweepConfig::cells() const {
  std::vector<Cell> out;
  // Local models, then the backends (one "model" each; no thread count of ours applies).
  struct Target {
    std::string model;
    const Backend* backend = nullptr;
    std::string quantization;  // "" = release
  };
  std::vector<Target> targets;
  for (const std::string& m : models)
    for (const std::string& q : quantizations) targets.push_back({m, nullptr, q == "release" ? std::string() : q});
  for (const Backend& b : backends) targets.push_back({(b.served_model.empty() ? std::string("default") : b.served_model) + "@" + b.name, &b, ""});
  for (const Slice& sl : slices)
    for (const Target& target : targets)
      for (Policy p : policies) {
        std::vector<std::optional<int64_t>> bs;
        if (policy_takes_budget(p))
          for (int64_t b : budgets) bs.push_back(b);
        else
          bs.push_back(std::nullopt);
        const std::vector<int64_t> ts = target.backend ? std::vector<int64_t>{0} : threads;
        for (const auto& b : bs)
          for (int64_t t : ts)
            for (int64_t n : paths) {
              Cell c;
              c.model = target.model;
              c.quantization = target.quantization;
              if (target.backend) {
                c.backend = target.backend->name;
                c.backend_url = target.backend->url;
                c.flavor = target.backend->flavor;
                c.server_version = target.backend->server_version;
              }
              c.slice = sl;
              c.policy = p;
              c.budget = b;
              c.paths = n;
              c.threads = t;
              c.max_tokens = max_tokens;
              c.answer_budget = answer_budget;
              c.temperature = temperature;
              c.seed = seed;
              c.vote = vote;
              c.bench = bench;
              if (grid == "around-base") {
                // Axes away from the base: thinking (policy with budget), threads, paths and
                // precision (the first of `quantizations`; a backend has only its own).
                const bool base_thinking =
                    p == policies.front() &&
                    (!b || (!budgets.empty() && *b == budgets.front()));
                const std::string base_q =
                    target.backend || quantizations.empty() || quantizations.front() == "release" ? std::string()
                                                                                                 : quantizations.front();
                const int away = (base_thinking ? 0 : 1) + (t == ts.front() ? 0 : 1) + (n == paths.front() ? 0 : 1) +
                                 (target.quantization == base_q ? 0 : 1);
                if (away > 1) continue;
              }
              out.push_back(std::move(c));
            }
      }
  return out;
}

Result<SweepConfig> parse_sweep_config(std::string_view text, const std::string& path, const ConfigChecks& checks) {
  const Errors e(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& err) {
    return Status::invalid(path + ":" + std::to_string(err.source().begin.line) + ":" +
                           std::to_string(err.source().begin.column) + ": TOML syntax: " +
                           std::string(err.description()));
  }
  SweepConfig c;
  c.path = path;
  c.text = std::string(text);

  // Unknown keys first: a typo must not be masked by a later, unrelated error.
  for (auto&& [k, v] : root)
    if (!known(k.str(), kTopKeys))
      return e.at(k.source(), k.str(), "unknown key (known: " + list_keys(kTopKeys) + ")");

  const toml::source_region top{{1, 1}, {1, 1}, nullptr};
  if (const toml::node* n = root.get("name")) {
    ER_ASSIGN_OR_RETURN(c.name, get_string(e, "name", *n));
  }
  const toml::node* models = root.get("models");
  const toml::node* backends = root.get("backends");
  if (!models && !backends) {
    return e.at(top, "models", "is required (a model name or path, or a list of them; or [[backends]] servers)");
  }
  if (models) {
    ER_ASSIGN_OR_RETURN(c.models, get_list<std::string>(e, "models", *models, [&](const toml::node& n) {
                          return get_string(e, "models", n);
                        }));
  }
  if (backends) {
    const toml::array* ba = backends->as_array();
    if (!ba || ba->empty() || !ba->is_array_of_tables()) {
      return e.at(backends->source(), "backends", "expected [[backends]] tables (name, url, flavor, served_model)");
    }
    for (const toml::node& el : *ba) {
      const toml::table& t = *el.as_table();
      for (auto&& [k, v] : t)
        if (!known(k.str(), kBackendKeys))
          return e.at(k.source(), "backends." + std::string(k.str()),
                      "unknown key (a backend takes: " + list_keys(kBackendKeys) + ")");
      Backend b;
      const toml::node* name = t.get("name");
      const toml::node* url = t.get("url");
      if (!name) return e.at(t.source(), "backends.name", "is required in every [[backends]] table");
      if (!url) return e.at(t.source(), "backends.url", "is required in every [[backends]] table (openai:http://host:port)");
      ER_ASSIGN_OR_RETURN(b.name, get_string(e, "backends.name", *name));
      ER_ASSIGN_OR_RETURN(b.url, get_string(e, "backends.url", *url));
      if (b.url.starts_with("http://") || b.url.starts_with("https://")) b.url = "openai:" + b.url;
      if (const toml::node* f = t.get("flavor")) {
        ER_ASSIGN_OR_RETURN(b.flavor, get_string(e, "backends.flavor", *f));
      }
      if (const toml::node* m = t.get("served_model")) {
        ER_ASSIGN_OR_RETURN(b.served_model, get_string(e, "backends.served_model", *m));
      }
      for (const Backend& o : c.backends)
        if (o.name == b.name) return e.at(name->source(), "backends.name", "duplicate backend name '" + b.name + "'");
      c.backends.push_back(std::move(b));
    }
  }
  if (const toml::node* n = root.get("quantizations")) {
    ER_ASSIGN_OR_RETURN(c.quantizations, get_list<std::string>(e, "quantizations", *n, [&](const toml::node& el) -> Result<std::string> {
                          ER_ASSIGN_OR_RETURN(std::string s, get_string(e, "quantizations", el));
                          auto q = quantization_from_name(s);
                          if (!q.is_ok()) return e.at(el.source(), "quantizations", q.status().message());
                          return *q;
                        }));
    const bool variants = std::any_of(c.quantizations.begin(), c.quantizations.end(),
                                      [](const std::string& q) { return q != kRelease; });
    if (variants && !c.backends.empty())
      return e.at(n->source(), "quantizations",
                  "another engine's server ([[backends]]) cannot be quantized by this sweep; measure the "
                  "quantizations in a sweep of local models only");
    if (!models) return e.at(n->source(), "quantizations", "needs local 'models' to quantize");
  }
  if (checks.model && models) {
    const toml::array* a = models->as_array();
    for (size_t i = 0; i < c.models.size(); ++i) {
      Status st = checks.model(c.models[i]);
      if (!st.is_ok()) return e.at(a ? (*a)[i].source() : models->source(), "models", st.message());
    }
  }

  if (const toml::node* n = root.get("policies")) {
    ER_ASSIGN_OR_RETURN(c.policies, get_list<Policy>(e, "policies", *n, [&](const toml::node& el) -> Result<Policy> {
                          ER_ASSIGN_OR_RETURN(std::string s, get_string(e, "policies", el));
                          auto p = policy_from_name(s);
                          if (!p)
                            return e.at(el.source(), "policies",
                                        "unknown policy '" + s +
                                            "' (unlimited, no-think, think-budget, prompt-budget, l1, l1-max)");
                          return *p;
                        }));
  }
  const bool budgeted = std::any_of(c.policies.begin(), c.policies.end(), policy_takes_budget);
  if (const toml::node* n = root.get("budgets")) {
    ER_ASSIGN_OR_RETURN(c.budgets, get_list<int64_t>(e, "budgets", *n, [&](const toml::node& el) {
                          return get_int(e, "budgets", el, 1, 1 << 20);
                        }));
    if (!budgeted) return e.at(n->source(), "budgets", "no policy in 'policies' takes a budget");
  } else if (budgeted) {
    return e.at(top, "budgets", "is required: a budgeted policy (think-budget, prompt-budget, l1, l1-max) is listed");
  }
  if (const toml::node* n = root.get("paths")) {
    ER_ASSIGN_OR_RETURN(c.paths, get_list<int64_t>(e, "paths", *n, [&](const toml::node& el) {
                          return get_int(e, "paths", el, 1, std::min(64, model::kMaxContextSequences));
                        }));
  }
  if (const toml::node* n = root.get("threads")) {
    ER_ASSIGN_OR_RETURN(c.threads, get_list<int64_t>(e, "threads", *n, [&](const toml::node& el) {
                          return get_int(e, "threads", el, 1, model::kMaxContextThreads);
                        }));
  }
  if (const toml::node* n = root.get("max_tokens")) {
    ER_ASSIGN_OR_RETURN(c.max_tokens, get_int(e, "max_tokens", *n, 1, 1 << 20));
  }
  if (const toml::node* n = root.get("answer_budget")) {
    ER_ASSIGN_OR_RETURN(c.answer_budget, get_int(e, "answer_budget", *n, 1, 1 << 20));
  }
  if (const toml::node* n = root.get("seed")) {
    ER_ASSIGN_OR_RETURN(int64_t s, get_int(e, "seed", *n, 0, INT64_MAX));
    c.seed = static_cast<uint64_t>(s);
  }
  if (const toml::node* n = root.get("temperature")) {
    auto v = n->value<double>();  // integers accepted too
    if (!v || !(n->is_number())) return e.at(n->source(), "temperature", "expected a number, got " + type_name(*n));
    if (!std::isfinite(*v) || *v < 0 || *v > 10)
      return e.at(n->source(), "temperature", "must be in [0, 10] (0 = greedy)");
    c.temperature = *v;
    const auto max_paths = *std::max_element(c.paths.begin(), c.paths.end());
    if (c.temperature == 0 && max_paths > 1)
      return e.at(n->source(), "temperature", "0 (greedy) with paths > 1 gives identical paths; use e.g. 0.6");
  } else if (*std::max_element(c.paths.begin(), c.paths.end()) > 1) {
    return e.at(root.get("paths")->source(), "paths", "paths > 1 needs a 'temperature' > 0 (greedy paths are identical)");
  }
  if (const toml::node* n = root.get("vote")) {
    ER_ASSIGN_OR_RETURN(c.vote, get_string(e, "vote", *n));
    if (c.vote != "majority" && c.vote != "weighted")
      return e.at(n->source(), "vote", "'" + c.vote + "' is not majority or weighted");
  }
  if (const toml::node* n = root.get("bench")) {
    auto v = n->value_exact<bool>();
    if (!v) return e.at(n->source(), "bench", "expected true or false, got " + type_name(*n));
    c.bench = *v;
  }
  if (const toml::node* n = root.get("grid")) {
    ER_ASSIGN_OR_RETURN(c.grid, get_string(e, "grid", *n));
    if (c.grid != "cross" && c.grid != "around-base")
      return e.at(n->source(), "grid", "'" + c.grid + "' is not cross or around-base");
  }
  const toml::node* slices = root.get("slices");
  if (!slices) return e.at(top, "slices", "is required: at least one [[slices]] table with a dataset");
  const toml::array* arr = slices->as_array();
  if (!arr || arr->empty() || !arr->is_array_of_tables())
    return e.at(slices->source(), "slices", "expected [[slices]] tables (dataset, offset, limit)");
  for (const toml::node& el : *arr) {
    ER_ASSIGN_OR_RETURN(Slice s, parse_slice(e, *el.as_table(), checks));
    for (const Slice& o : c.slices)
      if (o.dataset == s.dataset && o.offset == s.offset && o.limit == s.limit)
        return e.at(el.source(), "slices", "duplicate slice");
    c.slices.push_back(std::move(s));
  }

  // Every backend answers and can express every policy of the grid (a probe cell per policy and
  // budget), before anything runs.
  if (checks.backend && !c.backends.empty()) {
    const toml::array* ba = backends->as_array();
    for (size_t i = 0; i < c.backends.size(); ++i) {
      Backend& b = c.backends[i];
      SweepConfig probe_cfg = c;
      probe_cfg.models.clear();
      probe_cfg.backends = {b};
      probe_cfg.slices.resize(1);
      probe_cfg.paths = {*std::max_element(c.paths.begin(), c.paths.end())};
      Status st = checks.backend(b, probe_cfg.cells());
      if (!st.is_ok()) return e.at((*ba)[i].source(), "backends", "'" + b.name + "': " + st.message());
    }
  }

  // The engine context each model needs: the same size for every cell, for up to max(paths).
  if (checks.context) {
    Cell probe;
    probe.max_tokens = c.max_tokens;
    probe.answer_budget = c.answer_budget;
    const int64_t n_ctx = probe.context_size();
    const int64_t n_seq = *std::max_element(c.paths.begin(), c.paths.end());
    const toml::node* max_tokens = root.get("max_tokens");
    const toml::node* paths = root.get("paths");
    for (const std::string& m : c.models) {
      Status st = checks.context(m, n_ctx, n_seq);
      if (st.is_ok()) continue;
      const bool one_path_fits = n_seq > 1 && checks.context(m, n_ctx, 1).is_ok();
      if (one_path_fits) {
        return e.at(paths ? paths->source() : top, "paths",
                    "model '" + m + "' with " + std::to_string(n_seq) + " paths: " + st.message());
      }
      return e.at(max_tokens ? max_tokens->source() : top, "max_tokens",
                  "model '" + m + "' with max_tokens " + std::to_string(c.max_tokens) + " and answer_budget " +
                      std::to_string(c.answer_budget) + ": " + st.message());
    }
  }
  return c;
}

Result<SweepConfig> load_sweep_config(const std::string& path, const ConfigChecks& checks) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot open config '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error("reading config '" + path + "' failed");
  return parse_sweep_config(ss.str(), path, checks);
}

}  // namespace er::study
