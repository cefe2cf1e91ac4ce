#include "study/shard.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <nlohmann/json.hpp>

namespace er::study {

namespace {

// Keys of edgereason_meta that make up a ShardMark.
constexpr const char* kSweepId = "sweep_id";
constexpr const char* kSweepName = "sweep_name";
constexpr const char* kSweepCells = "sweep_cells";
constexpr const char* kShardCount = "shard_count";
constexpr const char* kShardIndex = "shard_index";
constexpr const char* kShardsHeld = "shards_held";

// A whole decimal number (optional leading '-'), nothing else.
std::optional<int64_t> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

}  // namespace

std::string Shard::text() const { return std::to_string(index) + "/" + std::to_string(count); }

int64_t shard_of(int64_t cell_ordinal, int64_t q_index, int64_t count) {
  if (count <= 1) return 0;
  const int64_t r = (cell_ordinal % count + q_index % count) % count;
  return r < 0 ? r + count : r;
}

Result<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto bad = [&](const std::string& why) {
    return Status::invalid("${shard} '" + std::string(text) + "': " + why);
  };
  if (slash == std::string_view::npos) return bad("expected I/N (shard I of N, 0 <= I < N), e.g. 0/4");
  const auto i = parse_int(text.substr(0, slash));
  const auto n = parse_int(text.substr(slash + 1));
  if (!i || !n) return bad("I and N must be whole numbers (I/N, e.g. 0/4)");
  if (*n < 1) return bad("N must be at least 1");
  if (*i < 0 || *i >= *n) return bad("I must be in [0, " + std::to_string(*n - 1) + "] (shards are numbered from 0)");
  return Shard{*i, *n, ""};
}

Result<std::optional<Shard>> resolve_shard(const std::optional<std::string>& shard,
                                           const std::optional<int64_t>& shards, const EnvGetter& env) {
  if (shard && shards) return Status::invalid("${shard} and ${shards} exclude each other (${shard} I/N says both)");
  if (shard) {
    ER_ASSIGN_OR_RETURN(Shard s, parse_shard(*shard));
    return std::optional<Shard>(s);
  }
  const auto var = [&](const char* name) -> std::optional<std::string> {
    const char* v = env ? env(name) : nullptr;
    if (!v) return std::nullopt;
    return std::string(v);
  };
  // name=value as a number, or a Status naming the variable.
  const auto number = [&](const char* name, const std::string& v) -> Result<int64_t> {
    const auto n = parse_int(v);
    if (!n) return Status::invalid(std::string(name) + "='" + v + "': not a whole number");
    return *n;
  };
  if (shards) {
    if (*shards < 1) return Status::invalid("${shards} must be at least 1 (got " + std::to_string(*shards) + ")");
    const auto v = var("JOB_COMPLETION_INDEX");
    if (!v) {
      return Status::invalid(
          "${shards} takes the shard index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it), which is "
          "not set; give ${shard} I/N instead");
    }
    ER_ASSIGN_OR_RETURN(int64_t i, number("JOB_COMPLETION_INDEX", *v));
    if (i < 0 || i >= *shards) {
      return Status::invalid("JOB_COMPLETION_INDEX=" + *v + " is not in [0, " + std::to_string(*shards - 1) +
                             "] (${shards} " + std::to_string(*shards) + "; the Job's completions must equal ${shards})");
    }
    return std::optional<Shard>(Shard{i, *shards, "JOB_COMPLETION_INDEX=" + *v + " of --shards " + std::to_string(*shards)});
  }
  const auto id = var("SLURM_ARRAY_TASK_ID");
  if (!id) return std::optional<Shard>();
  const auto count = var("SLURM_ARRAY_TASK_COUNT");
  if (!count) return Status::invalid("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (give ${shard} I/N)");
  ER_ASSIGN_OR_RETURN(int64_t task, number("SLURM_ARRAY_TASK_ID", *id));
  ER_ASSIGN_OR_RETURN(int64_t n, number("SLURM_ARRAY_TASK_COUNT", *count));
  if (n < 1) return Status::invalid("SLURM_ARRAY_TASK_COUNT=" + *count + ": must be at least 1");
  int64_t min = 0, step = 1;
  std::string source = "SLURM_ARRAY_TASK_ID=" + *id;
  if (const auto m = var("SLURM_ARRAY_TASK_MIN")) {
    ER_ASSIGN_OR_RETURN(min, number("SLURM_ARRAY_TASK_MIN", *m));
    source += " SLURM_ARRAY_TASK_MIN=" + *m;
  }
  if (const auto s = var("SLURM_ARRAY_TASK_STEP")) {
    ER_ASSIGN_OR_RETURN(step, number("SLURM_ARRAY_TASK_STEP", *s));
    if (step < 1) return Status::invalid("SLURM_ARRAY_TASK_STEP=" + *s + ": must be at least 1");
    if (step != 1) source += " SLURM_ARRAY_TASK_STEP=" + *s;
  }
  source += " SLURM_ARRAY_TASK_COUNT=" + *count;
  if (task < min || (task - min) % step != 0) {
    return Status::invalid("SLURM_ARRAY_TASK_ID=" + *id + " is not SLURM_ARRAY_TASK_MIN (" + std::to_string(min) +
                           ") plus a multiple of SLURM_ARRAY_TASK_STEP (" + std::to_string(step) +
                           "): use a range such as --array=0-" + std::to_string(n - 1) + " or give ${shard} I/N");
  }
  const int64_t i = (task - min) / step;
  if (i >= n) {
    return Status::invalid("SLURM_ARRAY_TASK_ID=" + *id + " is task " + std::to_string(i) + " counting from " +
                           "SLURM_ARRAY_TASK_MIN=" + std::to_string(min) + ", not below SLURM_ARRAY_TASK_COUNT=" +
                           *count + " (an array that is not one range, e.g. --array=1,5,9? use a range, or give "
                           "${shard} I/N)");
  }
  return std::optional<Shard>(Shard{i, n, source});
}

SweepIdentity sweep_identity(const SweepConfig& cfg) {
  SweepIdentity s;
  s.name = cfg.name;
  std::string joined;
  for (const Cell& c : cfg.cells()) {
    s.cells.push_back(c.hash());
    joined += (joined.empty() ? "" : ",") + s.cells.back();
  }
  s.id = fnv1a64_hex(joined);
  return s;
}

std::string ShardMark::describe() const {
  std::string s;
  if (index)
    s = "shard " + std::to_string(*index) + "/" + std::to_string(count);
  else if (static_cast<int64_t>(held.size()) == count)
    s = "all " + std::to_string(count) + " shards";
  else
    s = "shards {" + join(held) + "} of " + std::to_string(count);
  return s + " of sweep '" + sweep.name + "' (id " + sweep.id + ")";
}

Result<std::optional<ShardMark>> read_shard_mark(Store& store) {
  ER_ASSIGN_OR_RETURN(auto meta, store.meta());
  const auto it = meta.find(kSweepId);
  if (it == meta.end()) return std::optional<ShardMark>();
  const auto bad = [&](const std::string& why) {
    return Status::invalid("'" + store.path() + "': bad shard record in edgereason_meta: " + why);
  };
  ShardMark m;
  m.sweep.id = it->second;
  m.sweep.name = meta[kSweepName];
  const auto cells = nlohmann::json::parse(meta[kSweepCells], nullptr, false);
  if (!cells.is_array()) return bad("sweep_cells is not a JSON array");
  std::string joined;
  for (const auto& c : cells) {
    if (!c.is_string()) return bad("sweep_cells holds a non-string");
    m.sweep.cells.push_back(c.get<std::string>());
    joined += (joined.empty() ? "" : ",") + m.sweep.cells.back();
  }
  if (fnv1a64_hex(joined) != m.sweep.id) return bad("sweep_id does not match sweep_cells");
  const auto count = parse_int(meta[kShardCount]);
  if (!count || *count < 1) return bad("shard_count '" + meta[kShardCount] + "'");
  m.count = *count;
  if (meta.count(kShardIndex)) {
    const auto i = parse_int(meta[kShardIndex]);
    if (!i || *i < 0 || *i >= m.count) return bad("shard_index '" + meta[kShardIndex] + "'");
    m.index = *i;
  }
  const auto held = nlohmann::json::parse(meta[kShardsHeld], nullptr, false);
  if (!held.is_array()) return bad("shards_held is not a JSON array");
  for (const auto& h : held) {
    if (!h.is_number_integer() || h.get<int64_t>() < 0 || h.get<int64_t>() >= m.count) return bad("shards_held");
    m.held.push_back(h.get<int64_t>());
  }
  std::sort(m.held.begin(), m.held.end());
  m.held.erase(std::unique(m.held.begin(), m.held.end()), m.held.end());
  if (m.index && m.held != std::vector<int64_t>{*m.index}) return bad("a shard database holding other shards");
  return std::optional<ShardMark>(std::move(m));
}

Status write_shard_mark(Store& store, const ShardMark& m) {
  ER_RETURN_IF_ERROR(store.set_meta(kSweepId, m.sweep.id));
  ER_RETURN_IF_ERROR(store.set_meta(kSweepName, m.sweep.name));
  ER_RETURN_IF_ERROR(store.set_meta(kSweepCells, nlohmann::json(m.sweep.cells).dump()));
  ER_RETURN_IF_ERROR(store.set_meta(kShardCount, std::to_string(m.count)));
  if (m.index)
    ER_RETURN_IF_ERROR(store.set_meta(kShardIndex, std::to_string(*m.index)));
  else
    ER_RETURN_IF_ERROR(store.erase_meta(kShardIndex));
  return store.set_meta(kShardsHeld, nlohmann::json(m.held).dump());
}

namespace {

// The check, and the mark to record (nullopt: leave the database as it is).
Result<std::optional<ShardMark>> target_mark(Store& store, const SweepIdentity& sweep, const std::optional<Shard>& shard) {
  ER_ASSIGN_OR_RETURN(std::optional<ShardMark> mark, read_shard_mark(store));
  const std::string db = "'" + store.path() + "'";
  if (!mark) {
    if (!shard) return std::optional<ShardMark>();  // an ordinary database, as always
    ER_ASSIGN_OR_RETURN(auto configs, store.configurations());
    if (!configs.empty()) {
      return Status::invalid(db + " already holds results of a sweep run without shards; shard " + shard->text() +
                             " needs a database of its own (a new file)");
    }
    ShardMark m;
    m.sweep = sweep;
    m.count = shard->count;
    m.index = shard->index;
    m.held = {shard->index};
    return std::optional<ShardMark>(std::move(m));
  }
  if (mark->sweep.id != sweep.id) {
    return Status::invalid(db + " holds " + mark->describe() + ", not this sweep '" + sweep.name + "' (id " +
                           sweep.id + "): its grid differs; use another database");
  }
  if (shard) {
    if (!mark->index || *mark->index != shard->index || mark->count != shard->count) {
      return Status::invalid(db + " holds " + mark->describe() + ", not shard " + shard->text() +
                             ": each shard runs into a database of its own (combine them with merge)");
    }
    return std::optional<ShardMark>();
  }
  if (mark->index) {
    return Status::invalid(db + " holds " + mark->describe() + ": run it with its shard (${shard} " +
                           std::to_string(*mark->index) + "/" + std::to_string(mark->count) +
                           "), or merge the shards and run the whole sweep on the merged database");
  }
  // A merged database that the whole sweep completes: it will hold every shard.
  ShardMark m = *mark;
  m.held.clear();
  for (int64_t i = 0; i < m.count; ++i) m.held.push_back(i);
  if (m.held == mark->held) return std::optional<ShardMark>();
  return std::optional<ShardMark>(std::move(m));
}

}  // namespace

Status check_sweep_target(Store& store, const SweepIdentity& sweep, const std::optional<Shard>& shard) {
  return target_mark(store, sweep, shard).status();
}

Status claim_sweep_target(Store& store, const SweepIdentity& sweep, const std::optional<Shard>& shard) {
  ER_ASSIGN_OR_RETURN(std::optional<ShardMark> m, target_mark(store, sweep, shard));
  if (m) ER_RETURN_IF_ERROR(write_shard_mark(store, *m));
  return Status::ok();
}

}  // namespace er::study
