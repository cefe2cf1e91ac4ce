#include "cli/study_common.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "eval/dataset.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/model_registry.h"
#include "tokenizer/tokenizer.h"

namespace er::cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

// The model's file and validated hyper-parameters (what Model::load checks before the weights).
Result<model::HParams> model_hparams(const std::string& spec, bool with_tokenizer) {
  ER_ASSIGN_OR_RETURN(std::string path, model::resolve_model(spec));
  ER_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  Result<model::HParams> hp = model::read_hparams(file.metadata());
  if (!hp.is_ok()) return hp.status().with_context("'" + path + "'");
  Status st = model::arch_config(hp->arch).status();
  if (st.is_ok()) st = model::check_hparams_against_tensors(file, *hp);
  if (st.is_ok() && with_tokenizer) st = tokenizer::Tokenizer::from_gguf(file.metadata()).status();
  if (!st.is_ok()) return st.with_context("'" + path + "'");
  return hp;
}
}  // namespace

std::atomic<bool>* install_stop_flag() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  return &g_stop;
}

study::ConfigChecks complete_config_checks(study::ConfigChecks base, const std::string& data_dir) {
  base.model = [exists = base.model](const std::string& m) -> Status {
    if (exists) ER_RETURN_IF_ERROR(exists(m));
    return model_hparams(m, /*with_tokenizer=*/true).status();
  };
  if (!base.dataset_size) {
    base.dataset_size = [data_dir](const std::string& d) -> Result<int64_t> {
      eval::DatasetOptions o;
      o.data_dir = data_dir;
      ER_ASSIGN_OR_RETURN(eval::Dataset ds, eval::load_dataset(d, o));
      return static_cast<int64_t>(ds.questions.size());
    };
  }
  if (!base.context) {
    base.context = [](const std::string& m, int64_t n_ctx, int64_t n_seq) -> Status {
      ER_ASSIGN_OR_RETURN(model::HParams hp, model_hparams(m, /*with_tokenizer=*/false));
      return model::KvCache::check_fits(hp, n_ctx, static_cast<int>(n_seq), DType::kF16);
    };
  }
  return base;
}

Status check_results_db(const std::string& db, const std::string& flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (db.empty()) return Status::invalid(flag + ": empty path");
  if (fs::is_directory(db, ec)) return Status::invalid(flag + " '" + db + "': is a directory, not a database file");
  if (fs::exists(db, ec)) {
    if (fs::file_size(db, ec) == 0) return Status::ok();  // an empty file becomes a new database
    return study::Store::open(db, study::Store::Mode::kReadOnly).status().with_context(flag);
  }
  const fs::path parent = fs::path(db).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return Status::invalid(flag + " '" + db + "': the directory '" + parent.string() + "' does not exist");
  }
  if (::access(parent.empty() ? "." : parent.c_str(), W_OK) != 0) {
    return Status::invalid(flag + " '" + db + "': the directory '" + (parent.empty() ? "." : parent.string()) +
                           "' is not writable");
  }
  return Status::ok();
}

void add_shard_flags(CLI::App* sub, ShardFlags& f) {
  sub->add_option_function<std::string>("--shard", [&f](const std::string& v) { f.shard = v; },
                                        "Run only shard I of N (I/N, 0 <= I < N) of the work into this database; "
                                        "combine the shards with merge. Wins over the environment")
      ->type_name("I/N");
  sub->add_option_function<int64_t>("--shards", [&f](const int64_t& v) { f.shards = v; },
                                    "N shards, this one's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed "
                                    "Job). Without --shard/--shards, a Slurm job array's SLURM_ARRAY_TASK_ID/"
                                    "_COUNT (and _MIN, _STEP) choose the shard")
      ->type_name("N");
}

Result<std::optional<study::Shard>> shard_to_run(const ShardFlags& f) {
  ER_ASSIGN_OR_RETURN(std::optional<study::Shard> s,
                      study::resolve_shard(f.shard, f.shards, [](const char* name) { return std::getenv(name); }));
  if (s && !s->source.empty()) std::fprintf(stderr, "shard %s (from %s)\n", s->text().c_str(), s->source.c_str());
  return s;
}

Status check_sweep_db_target(const std::string& db, const study::SweepConfig& cfg,
                             const std::optional<study::Shard>& shard) {
  std::error_code ec;
  if (!std::filesystem::exists(db, ec) || std::filesystem::file_size(db, ec) == 0) return Status::ok();
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(db, study::Store::Mode::kReadOnly));
  return study::check_sweep_target(*store, study::sweep_identity(cfg), shard);
}

Result<StudyData> read_study_db(const std::string& db) {
  StudyData d;
  ER_ASSIGN_OR_RETURN(d.store, study::Store::open(db, study::Store::Mode::kReadOnly));
  ER_ASSIGN_OR_RETURN(d.configs, d.store->configurations());
  ER_ASSIGN_OR_RETURN(d.questions, d.store->questions());
  d.summaries = study::summarize(d.configs, d.questions);
  if (d.summaries.empty()) return Status::invalid("'" + db + "' holds no graded questions yet (run a sweep first)");
  return d;
}

}  // namespace er::cli
