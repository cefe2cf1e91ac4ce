#include "study/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "study/fit_bridge.h"

namespace er::study {

namespace {

namespace fs = std::filesystem;

// One database taking part in a merge, read whole.
struct Source {
  std::string path;
  std::unique_ptr<Store> store;
  std::optional<ShardMark> mark;
  std::vector<ConfigRow> configs;
  std::vector<QuestionRow> questions;
  std::vector<RunRow> runs;
  std::vector<std::pair<int64_t, nlohmann::json>> bench;
  size_t n_fits = 0;
  std::map<int64_t, const ConfigRow*> config_by_id;
};

std::string in_quotes(const std::string& p) { return "'" + p + "'"; }

// Exactly this build's schema: the same version and no table or column it does not know (a merge
// would drop what it cannot copy).
Status check_schema(Store& s) {
  ER_ASSIGN_OR_RETURN(auto meta, s.meta());
  if (meta["schema_version"] != std::to_string(kSchemaVersion)) {
    return Status::invalid(in_quotes(s.path()) + " has schema version " + meta["schema_version"] + ", this build " +
                           std::to_string(kSchemaVersion) + "; refusing to merge databases of different schemas");
  }
  ER_ASSIGN_OR_RETURN(std::vector<std::string> extra, s.unknown_schema());
  if (!extra.empty()) {
    std::string list;
    for (const auto& e : extra) list += (list.empty() ? "" : ", ") + e;
    return Status::invalid(in_quotes(s.path()) + " has tables or columns this build's schema lacks (" + list +
                           "); refusing to merge databases of different schemas");
  }
  return Status::ok();
}

Result<Source> load(const std::string& path, Store::Mode mode) {
  Source src;
  src.path = path;
  ER_ASSIGN_OR_RETURN(src.store, Store::open(path, mode));
  ER_RETURN_IF_ERROR(check_schema(*src.store));
  ER_ASSIGN_OR_RETURN(src.mark, read_shard_mark(*src.store));
  ER_ASSIGN_OR_RETURN(src.configs, src.store->configurations());
  ER_ASSIGN_OR_RETURN(src.questions, src.store->questions());
  ER_ASSIGN_OR_RETURN(src.runs, src.store->runs());
  ER_ASSIGN_OR_RETURN(src.bench, src.store->bench_records());
  ER_ASSIGN_OR_RETURN(auto fits, src.store->fits());
  src.n_fits = fits.size();
  for (const ConfigRow& c : src.configs) src.config_by_id[c.id] = &c;
  return src;
}

// Every configuration is a cell of the sweep's grid under its true hash; every question belongs to
// a shard the database holds; every row refers to a configuration (and run) it has.
Status check_rows(const Source& s, const ShardMark& mark) {
  std::map<std::string, int64_t> ordinal;
  for (size_t i = 0; i < mark.sweep.cells.size(); ++i) ordinal[mark.sweep.cells[i]] = static_cast<int64_t>(i);
  for (const ConfigRow& c : s.configs) {
    if (c.cell.hash() != c.hash) {
      return Status::invalid(in_quotes(s.path) + ": configuration " + std::to_string(c.id) + " (" + c.label +
                             ") has hash " + c.hash + " but its stored JSON hashes to " + c.cell.hash());
    }
    if (!ordinal.count(c.hash)) {
      return Status::invalid(in_quotes(s.path) + ": configuration '" + c.label + "' is not a cell of sweep '" +
                             mark.sweep.name + "' (id " + mark.sweep.id + ")");
    }
  }
  std::set<int64_t> run_ids;
  for (const RunRow& r : s.runs) run_ids.insert(r.id);
  const std::set<int64_t> held(mark.held.begin(), mark.held.end());
  for (const QuestionRow& q : s.questions) {
    const auto it = s.config_by_id.find(q.config_id);
    if (it == s.config_by_id.end()) {
      return Status::invalid(in_quotes(s.path) + ": question '" + q.q.question_id + "' refers to configuration " +
                             std::to_string(q.config_id) + ", which it does not have");
    }
    if (!run_ids.count(q.run_id)) {
      return Status::invalid(in_quotes(s.path) + ": question '" + q.q.question_id + "' refers to run " +
                             std::to_string(q.run_id) + ", which it does not have");
    }
    const int64_t sh = shard_of(ordinal.at(it->second->hash), q.q.index, mark.count);
    if (!held.count(sh)) {
      return Status::invalid(in_quotes(s.path) + " holds question '" + q.q.question_id + "' of '" + it->second->label +
                             "', which belongs to shard " + std::to_string(sh) + "/" + std::to_string(mark.count) +
                             ", but the database says it holds " + mark.describe());
    }
  }
  for (const auto& [id, j] : s.bench) {
    if (!s.config_by_id.count(id))
      return Status::invalid(in_quotes(s.path) + ": a bench record refers to configuration " + std::to_string(id) +
                             ", which it does not have");
  }
  return Status::ok();
}

// Everything measured about a question (not when or by which run it was written).
bool same_record(const QuestionRecord& a, const QuestionRecord& b) {
  const auto path_tuple = [](const PathRecord& p) {
    return std::tie(p.index, p.extracted, p.correct, p.thinking_tokens, p.answer_tokens, p.forced_close, p.stop);
  };
  if (std::tie(a.question_id, a.index, a.gold, a.extracted, a.correct, a.n_prompt, a.thinking_tokens, a.answer_tokens,
               a.max_path_tokens, a.prefill_ms, a.ttft_ms, a.decode_ms, a.e2e_ms) !=
      std::tie(b.question_id, b.index, b.gold, b.extracted, b.correct, b.n_prompt, b.thinking_tokens, b.answer_tokens,
               b.max_path_tokens, b.prefill_ms, b.ttft_ms, b.decode_ms, b.e2e_ms))
    return false;
  if (a.paths.size() != b.paths.size()) return false;
  for (size_t i = 0; i < a.paths.size(); ++i)
    if (path_tuple(a.paths[i]) != path_tuple(b.paths[i])) return false;
  if (a.power.has_value() != b.power.has_value()) return false;
  if (a.power) {
    const PowerRecord &x = *a.power, &y = *b.power;
    if (std::tie(x.source, x.estimated, x.prefill_j, x.decode_j, x.total_j, x.mean_w) !=
        std::tie(y.source, y.estimated, y.prefill_j, y.decode_j, y.total_j, y.mean_w))
      return false;
  }
  return true;
}

// Removes a database file this merge created (with its side files) unless the merge succeeded.
struct RemoveIfNew {
  std::string path;
  bool keep;
  ~RemoveIfNew() {
    if (keep) return;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
  }
};

using RunKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
RunKey run_key(const RunRow& r) { return {r.started_at, r.command, r.config_name, r.config_toml, r.build}; }

}  // namespace

Result<MergeReport> merge_databases(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) return Status::invalid("no input databases to merge");
  std::error_code ec;
  for (const std::string& in : inputs) {
    if (!fs::exists(in, ec)) return Status::invalid(in_quotes(in) + ": no such file");
    if (fs::is_directory(in, ec)) return Status::invalid(in_quotes(in) + ": is a directory, not a database file");
    if (fs::exists(out, ec) && fs::equivalent(out, in, ec)) {
      return Status::invalid(in_quotes(in) + " is also the output; merge into another file");
    }
  }

  // Read and check every input before the output is opened (a refusal creates nothing).
  std::vector<Source> srcs;
  for (const std::string& in : inputs) {
    ER_ASSIGN_OR_RETURN(Source s, load(in, Store::Mode::kReadOnly));
    if (!s.mark) {
      return Status::invalid(in_quotes(in) + " is not a shard database (written by a sharded sweep or by merge): "
                             "merge combines the shards of one sweep");
    }
    if (!srcs.empty()) {
      const ShardMark& first = *srcs.front().mark;
      if (s.mark->sweep.id != first.sweep.id) {
        return Status::invalid(in_quotes(in) + " holds " + s.mark->describe() + " but " + in_quotes(srcs.front().path) +
                               " holds " + first.describe() + ": refusing to merge databases of different sweeps");
      }
      if (s.mark->count != first.count) {
        return Status::invalid(in_quotes(in) + " holds " + s.mark->describe() + " but " + in_quotes(srcs.front().path) +
                               " holds " + first.describe() + ": the sweep was cut into different numbers of shards");
      }
    }
    ER_RETURN_IF_ERROR(check_rows(s, *s.mark));
    srcs.push_back(std::move(s));
  }
  const ShardMark& in_mark = *srcs.front().mark;

  RemoveIfNew created{out, fs::exists(out, ec)};  // declared first: removes after `o` closes it
  ER_ASSIGN_OR_RETURN(Source o, load(out, Store::Mode::kReadWrite));
  if (!o.mark) {
    if (!o.configs.empty() || !o.questions.empty()) {
      return Status::invalid(in_quotes(out) + " holds results that are not a sharded sweep's; merge into a new file");
    }
  } else {
    if (o.mark->index) {
      return Status::invalid(in_quotes(out) + " is the database of " + o.mark->describe() +
                             "; merge into another file (the shard's own database stays as it is)");
    }
    if (o.mark->sweep.id != in_mark.sweep.id || o.mark->count != in_mark.count) {
      return Status::invalid(in_quotes(out) + " holds " + o.mark->describe() + " but " + in_quotes(srcs.front().path) +
                             " holds " + in_mark.describe() + ": refusing to merge databases of different sweeps" +
                             (o.mark->sweep.id == in_mark.sweep.id ? " (or shard counts)" : ""));
    }
    ER_RETURN_IF_ERROR(check_rows(o, *o.mark));
  }

  // Plan: what each input adds, with every conflict found before anything is written.
  struct Seen {
    const QuestionRecord* q;
    const std::string* where;
  };
  std::map<std::string, std::pair<int64_t, const std::string*>> size_of;  // hash -> n_questions, where
  std::map<std::pair<std::string, std::string>, Seen> seen_q;             // (hash, question) -> first holder
  std::map<std::string, std::pair<nlohmann::json, const std::string*>> seen_bench;
  const auto note_config = [&](const Source& s, const ConfigRow& c) -> Status {
    const auto [it, fresh] = size_of.emplace(c.hash, std::make_pair(c.n_questions, &s.path));
    if (!fresh && it->second.first != c.n_questions) {
      return Status::invalid("'" + c.label + "' has " + std::to_string(c.n_questions) + " questions in " +
                             in_quotes(s.path) + " but " + std::to_string(it->second.first) + " in " +
                             in_quotes(*it->second.second) + ": their datasets differ; refusing to merge");
    }
    return Status::ok();
  };
  for (const ConfigRow& c : o.configs) ER_RETURN_IF_ERROR(note_config(o, c));
  for (const QuestionRow& q : o.questions)
    seen_q[{o.config_by_id.at(q.config_id)->hash, q.q.question_id}] = {&q.q, &o.path};
  for (const auto& [id, j] : o.bench) seen_bench[o.config_by_id.at(id)->hash] = {j, &o.path};

  MergeReport rep;
  std::vector<std::vector<const QuestionRow*>> add_q(srcs.size());
  std::vector<std::vector<std::pair<std::string, const nlohmann::json*>>> add_bench(srcs.size());
  std::set<int64_t> held;
  if (o.mark) held.insert(o.mark->held.begin(), o.mark->held.end());
  for (size_t si = 0; si < srcs.size(); ++si) {
    const Source& s = srcs[si];
    for (const ConfigRow& c : s.configs) ER_RETURN_IF_ERROR(note_config(s, c));
    for (const QuestionRow& q : s.questions) {
      const ConfigRow& c = *s.config_by_id.at(q.config_id);
      const auto [it, fresh] = seen_q.emplace(std::make_pair(c.hash, q.q.question_id), Seen{&q.q, &s.path});
      if (fresh) {
        add_q[si].push_back(&q);
      } else if (!same_record(*it->second.q, q.q)) {
        return Status::invalid("question '" + q.q.question_id + "' of '" + c.label + "' differs between " +
                               in_quotes(*it->second.where) + " and " + in_quotes(s.path) +
                               " (measured twice: two databases claiming the same shard?); refusing to merge");
      }
    }
    for (const auto& [id, j] : s.bench) {
      const ConfigRow& c = *s.config_by_id.at(id);
      const auto [it, fresh] = seen_bench.emplace(c.hash, std::make_pair(j, &s.path));
      if (fresh) {
        add_bench[si].emplace_back(c.hash, &j);
      } else if (it->second.first != j) {
        return Status::invalid("the bench record of '" + c.label + "' differs between " + in_quotes(*it->second.second) +
                               " and " + in_quotes(s.path) + " (measured twice); refusing to merge");
      }
    }
    held.insert(s.mark->held.begin(), s.mark->held.end());
    rep.input_fits_ignored += static_cast<int64_t>(s.n_fits);
    MergeInputReport ir;
    ir.path = s.path;
    ir.what = s.mark->describe();
    ir.questions = static_cast<int64_t>(s.questions.size());
    ir.added = static_cast<int64_t>(add_q[si].size());
    ir.bench_added = static_cast<int64_t>(add_bench[si].size());
    rep.added += ir.added;
    rep.inputs.push_back(std::move(ir));
  }

  rep.mark.sweep = in_mark.sweep;
  rep.mark.count = in_mark.count;
  rep.mark.held.assign(held.begin(), held.end());

  // Write: one transaction.
  Store& st = *o.store;
  std::map<std::string, int64_t> out_config;  // hash -> id in the output
  for (const ConfigRow& c : o.configs) out_config[c.hash] = c.id;
  std::map<RunKey, std::pair<int64_t, std::string>> out_run;  // key -> id, status
  for (const RunRow& r : o.runs) out_run[run_key(r)] = {r.id, r.status};
  ER_RETURN_IF_ERROR(st.begin_batch());
  const auto write = [&]() -> Status {
    ER_RETURN_IF_ERROR(write_shard_mark(st, rep.mark));
    {  // The cells' facts (runner.h, cell_facts_key): the first holder's, the output's own kept.
      ER_ASSIGN_OR_RETURN(auto have, st.meta());
      for (const Source& s : srcs) {
        ER_ASSIGN_OR_RETURN(auto meta, s.store->meta());
        for (const auto& [k, v] : meta)
          if (k.starts_with(kCellFactsPrefix) && have.emplace(k, v).second) ER_RETURN_IF_ERROR(st.set_meta(k, v));
      }
    }
    for (size_t si = 0; si < srcs.size(); ++si) {
      const Source& s = srcs[si];
      std::map<int64_t, int64_t> run_id;  // input's -> output's
      for (const RunRow& r : s.runs) {
        auto it = out_run.find(run_key(r));
        if (it == out_run.end()) {
          ER_ASSIGN_OR_RETURN(int64_t id, st.add_run(r));
          it = out_run.emplace(run_key(r), std::make_pair(id, r.status)).first;
        } else if (it->second.second == "running" && r.status != "running") {  // it has ended since
          ER_RETURN_IF_ERROR(st.set_run_end(it->second.first, r.finished_at, r.status));
          it->second.second = r.status;
        }
        run_id[r.id] = it->second.first;
      }
      for (const ConfigRow& c : s.configs) {
        if (out_config.count(c.hash)) continue;
        ER_ASSIGN_OR_RETURN(out_config[c.hash], st.ensure_configuration(c.cell, c.n_questions));
      }
      for (const QuestionRow* q : add_q[si]) {
        const std::string& hash = s.config_by_id.at(q->config_id)->hash;
        ER_RETURN_IF_ERROR(st.add_question(out_config.at(hash), run_id.at(q->run_id), q->q));
      }
      for (const auto& [hash, j] : add_bench[si])
        ER_RETURN_IF_ERROR(st.set_bench(out_config.at(hash), nlohmann::ordered_json::parse(j->dump())));
    }
    return st.commit_batch();
  };
  if (Status w = write(); !w.is_ok()) {
    st.rollback_batch();
    return w.with_context("merging into " + in_quotes(out) + " (nothing written)");
  }
  created.keep = true;

  // The output's fits describe its questions: fitted again when those changed.
  if (rep.added > 0 && o.n_fits > 0) {
    ER_ASSIGN_OR_RETURN(rep.fit_note, fit_and_store(st));
  }

  ER_ASSIGN_OR_RETURN(auto configs, st.configurations());
  ER_ASSIGN_OR_RETURN(auto questions, st.questions());
  rep.questions = static_cast<int64_t>(questions.size());
  for (const ConfigRow& c : configs) rep.expected += c.n_questions;
  for (int64_t i = 0; i < rep.mark.count; ++i)
    if (!held.count(i)) rep.missing.push_back(i);
  return rep;
}

}  // namespace er::study
