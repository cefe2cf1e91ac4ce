// Sweep configuration: every error names file, line and key; grid expansion and config hashes.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "study/config.h"

namespace er::study {
namespace {

const char* kGood = R"(name = "t"
models = ["m1", "m2"]
policies = ["unlimited", "think-budget", "no-think"]
budgets = [64, 128]
paths = [1, 4]
threads = [2]
temperature = 0.6

[[slices]]
dataset = "gsm8k"
limit = 10
)";

Result<SweepConfig> parse(const std::string& text, ConfigChecks checks = {}) {
  return parse_sweep_config(text, "s.toml", checks);
}

std::string error_of(const std::string& text, ConfigChecks checks = {}) {
  auto r = parse(text, checks);
  EXPECT_FALSE(r.is_ok()) << text;
  if (r.is_ok()) return "";
  EXPECT_TRUE(r.status().is_bad_input()) << r.status().message();
  return r.status().message();
}

TEST(StudyConfig, GoodConfigExpandsToTheGrid) {
  auto r = parse(kGood);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const auto cells = r->cells();
  // 2 models × (unlimited + 2 budgets + no-think) × 1 thread × 2 paths × 1 slice.
  ASSERT_EQ(cells.size(), 2u * 4u * 2u);
  EXPECT_EQ(cells[0].label(), "m1 gsm8k[0:10] unlimited N=1 t=2");
  EXPECT_EQ(cells[1].label(), "m1 gsm8k[0:10] unlimited N=4 t=2");
  EXPECT_EQ(cells[2].label(), "m1 gsm8k[0:10] think-budget=64 N=1 t=2");
  EXPECT_EQ(cells[7].label(), "m1 gsm8k[0:10] no-think N=4 t=2");
  EXPECT_EQ(cells[8].model, "m2");
  std::set<std::string> hashes;
  for (const Cell& c : cells) {
    EXPECT_EQ(c.budget.has_value(), policy_takes_budget(c.policy));
    EXPECT_DOUBLE_EQ(c.temperature, 0.6);
    hashes.insert(c.hash());
  }
  EXPECT_EQ(hashes.size(), cells.size());  // every cell has its own identity
}

TEST(StudyConfig, HashIsStableAndCoversEveryField) {
  Cell a;
  a.model = "m";
  a.slice.dataset = "gsm8k";
  const std::string h = a.hash();
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(Cell(a).hash(), h);
  // FNV-1a 64 of "" and "a" (published test vectors).
  EXPECT_EQ(fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(fnv1a64_hex("a"), "af63dc4c8601ec8c");
  auto changed = [&](auto mutate) {
    Cell b = a;
    mutate(b);
    return b.hash() != h;
  };
  EXPECT_TRUE(changed([](Cell& c) { c.model = "m2"; }));
  EXPECT_TRUE(changed([](Cell& c) { c.slice.offset = 1; }));
  EXPECT_TRUE(changed([](Cell& c) { c.slice.limit = 5; }));
  EXPECT_TRUE(changed([](Cell& c) { c.policy = Policy::kNoThink; }));
  EXPECT_TRUE(changed([](Cell& c) { c.budget = 64; }));
  EXPECT_TRUE(changed([](Cell& c) { c.paths = 2; }));
  EXPECT_TRUE(changed([](Cell& c) { c.threads = 3; }));
  EXPECT_TRUE(changed([](Cell& c) { c.max_tokens = 100; }));
  EXPECT_TRUE(changed([](Cell& c) { c.answer_budget = 10; }));
  EXPECT_TRUE(changed([](Cell& c) { c.temperature = 0.5; }));
  EXPECT_TRUE(changed([](Cell& c) { c.seed = 7; }));
  EXPECT_TRUE(changed([](Cell& c) { c.vote = "weighted"; }));
  EXPECT_TRUE(changed([](Cell& c) { c.bench = true; }));
}

TEST(StudyConfig, BackendsAreCellsBesideTheLocalModels) {
  const std::string text = R"(models = ["m1"]
threads = [1, 2]
[[backends]]
name = "gpu"
url = "http://127.0.0.1:8000"
flavor = "vllm"
served_model = "qwen3"
[[backends]]
name = "lcpp"
url = "openai:http://127.0.0.1:8080"
flavor = "llamacpp"
[[slices]]
dataset = "gsm8k"
limit = 3
)";
  std::vector<std::string> checked;
  ConfigChecks checks;
  checks.backend = [&](Backend& b, const std::vector<Cell>& probes) -> Status {
    checked.push_back(b.name + ":" + std::to_string(probes.size()));
    if (b.served_model.empty()) b.served_model = "from-server";
    return Status::ok();
  };
  auto r = parse(text, checks);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(checked, (std::vector<std::string>{"gpu:1", "lcpp:1"}));
  ASSERT_EQ(r->backends.size(), 2u);
  EXPECT_EQ(r->backends[0].url, "openai:http://127.0.0.1:8000");  // http:// taken as openai:http://
  const auto cells = r->cells();
  ASSERT_EQ(cells.size(), 2u + 2u);  // the local model at 2 thread counts, each backend once
  EXPECT_EQ(cells[0].label(), "m1 gsm8k[0:3] unlimited N=1 t=1");
  EXPECT_EQ(cells[2].label(), "qwen3@gpu gsm8k[0:3] unlimited N=1");
  EXPECT_EQ(cells[2].backend, "gpu");
  EXPECT_EQ(cells[2].flavor, "vllm");
  EXPECT_EQ(cells[3].model, "from-server@lcpp");
  // A local cell's identity does not change with the backend fields (old databases resume);
  // a backend cell's includes its name and flavor, not its URL.
  EXPECT_FALSE(cells[0].to_json().contains("backend"));
  Cell moved = cells[2];
  moved.backend_url = "openai:http://10.0.0.2:8000";
  EXPECT_EQ(moved.hash(), cells[2].hash());
  moved.flavor = "sglang";
  EXPECT_NE(moved.hash(), cells[2].hash());
}

TEST(StudyConfig, BackendErrorsNameLineAndKey) {
  const std::string head = "[[slices]]\ndataset = \"gsm8k\"\n";
  EXPECT_EQ(error_of(head + "[[backends]]\nurl = \"http://x:1\"\n"),
            "s.toml:3: key 'backends.name': is required in every [[backends]] table");
  EXPECT_EQ(error_of(head + "[[backends]]\nname = \"a\"\nport = 3\n"),
            "s.toml:5: key 'backends.port': unknown key (a backend takes: name, url, flavor, served_model)");
  EXPECT_EQ(error_of("backends = 3\n" + head), "s.toml:1: key 'backends': expected [[backends]] tables (name, url, flavor, served_model)");
  ConfigChecks refuse;
  refuse.backend = [](Backend&, const std::vector<Cell>&) { return Status::invalid("cannot reach it"); };
  EXPECT_EQ(error_of(head + "[[backends]]\nname = \"a\"\nurl = \"http://x:1\"\n", refuse),
            "s.toml:3: key 'backends': 'a': cannot reach it");
}

TEST(StudyConfig, UnknownKeyNamesLineAndKey) {
  EXPECT_EQ(error_of("models = [\"m\"]\n\nmax_token = 5\n[[slices]]\ndataset = \"gsm8k\"\n"),
            "s.toml:3: key 'max_token': unknown key (known: name, models, policies, budgets, paths, threads, "
            "max_tokens, answer_budget, temperature, seed, vote, bench, slices, backends, grid, quantizations)");
  const std::string e = error_of("models = \"m\"\n[[slices]]\ndataset = \"gsm8k\"\nlimt = 3\n");
  EXPECT_EQ(e.rfind("s.toml:4: key 'slices.limt': unknown key", 0), 0u) << e;
}

TEST(StudyConfig, BadValuesNameLineAndKey) {
  const std::string tail = "\n[[slices]]\ndataset = \"gsm8k\"\n";
  EXPECT_EQ(error_of("models = \"m\"\npaths = [1, 0]" + tail), "s.toml:2: key 'paths': 0 is out of range [1, 64]");
  EXPECT_EQ(error_of("models = \"m\"\nthreads = \"two\"" + tail),
            "s.toml:2: key 'threads': expected an integer, got a string");
  EXPECT_EQ(error_of("models = \"m\"\npolicies = [\"unlimited\", \"think-hard\"]" + tail),
            "s.toml:2: key 'policies': unknown policy 'think-hard' (unlimited, no-think, think-budget, "
            "prompt-budget, l1, l1-max)");
  EXPECT_EQ(error_of("models = \"m\"\n\npolicies = \"think-budget\"" + tail),
            "s.toml:1: key 'budgets': is required: a budgeted policy (think-budget, prompt-budget, l1, l1-max) is listed");
  EXPECT_EQ(error_of("models = \"m\"\nbudgets = [5]" + tail),
            "s.toml:2: key 'budgets': no policy in 'policies' takes a budget");
  EXPECT_EQ(error_of("models = \"m\"\npaths = [1, 4]\ntemperature = 0" + tail),
            "s.toml:3: key 'temperature': 0 (greedy) with paths > 1 gives identical paths; use e.g. 0.6");
  EXPECT_EQ(error_of("models = \"m\"\npaths = [2, 2]\ntemperature = 1" + tail),
            "s.toml:2: key 'paths': duplicate value in the list");
  EXPECT_EQ(error_of("models = \"m\"\nvote = \"loudest\"" + tail),
            "s.toml:2: key 'vote': 'loudest' is not majority or weighted");
  EXPECT_EQ(error_of("models = \"m\"\nbench = 1" + tail), "s.toml:2: key 'bench': expected true or false, got an integer");
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\ndataset = \"gsm8k\"\nlimit = 0\n"),
            "s.toml:4: key 'slices.limit': 0 is out of range [1, 1099511627776]");
  EXPECT_EQ(error_of("models = []" + tail), "s.toml:1: key 'models': the list is empty");
}

TEST(StudyConfig, MissingRequiredKeys) {
  EXPECT_EQ(error_of("name = \"x\"\n"),
            "s.toml:1: key 'models': is required (a model name or path, or a list of them; or [[backends]] servers)");
  EXPECT_EQ(error_of("models = \"m\"\n"),
            "s.toml:1: key 'slices': is required: at least one [[slices]] table with a dataset");
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\noffset = 2\n"),
            "s.toml:2: key 'slices.dataset': is required in every [[slices]] table");
}

TEST(StudyConfig, SyntaxErrorNamesLine) {
  const std::string e = error_of("models = [\"m\"\n\npaths = = 3\n");
  EXPECT_EQ(e.rfind("s.toml:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax"), std::string::npos) << e;
}

TEST(StudyConfig, MissingModelAndDatasetThroughTheChecks) {
  ConfigChecks checks;
  checks.model = [](const std::string& m) { return m == "ok" ? Status::ok() : Status::not_found("no model '" + m + "'"); };
  checks.dataset = [](const std::string& d) { return d == "gsm8k" ? Status::ok() : Status::not_found("no dataset '" + d + "'"); };
  EXPECT_EQ(error_of("models = [\"ok\",\n  \"gone\"]\n[[slices]]\ndataset = \"gsm8k\"\n", checks),
            "s.toml:2: key 'models': no model 'gone'");
  EXPECT_EQ(error_of("models = \"ok\"\n[[slices]]\ndataset = \"gsm8k\"\n[[slices]]\ndataset = \"nope.jsonl\"\n", checks),
            "s.toml:5: key 'slices.dataset': no dataset 'nope.jsonl'");
  EXPECT_TRUE(parse("models = \"ok\"\n[[slices]]\ndataset = \"gsm8k\"\n", checks).is_ok());
}

TEST(StudyConfig, ThreadsTheEngineRefusesAreRefusedHere) {
  const std::string tail = "\n[[slices]]\ndataset = \"gsm8k\"\n";
  EXPECT_EQ(error_of("models = \"m\"\nthreads = [2, 300]" + tail), "s.toml:2: key 'threads': 300 is out of range [1, 256]");
  EXPECT_EQ(error_of("models = \"m\"\nthreads = -1" + tail), "s.toml:2: key 'threads': -1 is out of range [1, 256]");
  EXPECT_TRUE(parse("models = \"m\"\nthreads = 256" + tail).is_ok());
}

TEST(StudyConfig, SliceOffsetPastTheEndOfTheDatasetNamesLineAndKey) {
  ConfigChecks checks;
  int calls = 0;
  checks.dataset_size = [&](const std::string& d) -> Result<int64_t> {
    ++calls;
    if (d == "broken.jsonl") return Status::invalid("broken.jsonl:3: not JSON");
    return d == "empty.jsonl" ? 0 : 1319;
  };
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\ndataset = \"gsm8k\"\noffset = 1319\nlimit = 5\n", checks),
            "s.toml:4: key 'slices.offset': 1319 is past the end of 'gsm8k' (1319 questions: offsets 0 to 1318)");
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\ndataset = \"gsm8k\"\n[[slices]]\ndataset = \"gsm8k\"\n"
                     "offset = 5000\n",
                     checks),
            "s.toml:6: key 'slices.offset': 5000 is past the end of 'gsm8k' (1319 questions: offsets 0 to 1318)");
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\ndataset = \"broken.jsonl\"\n", checks),
            "s.toml:3: key 'slices.dataset': broken.jsonl:3: not JSON");
  EXPECT_EQ(error_of("models = \"m\"\n[[slices]]\ndataset = \"empty.jsonl\"\n", checks),
            "s.toml:3: key 'slices.dataset': 'empty.jsonl' holds no questions");
  // The last question, and a limit past the end (the slice then ends with the dataset), are fine.
  EXPECT_TRUE(parse("models = \"m\"\n[[slices]]\ndataset = \"gsm8k\"\noffset = 1318\nlimit = 30\n", checks).is_ok());
  EXPECT_GT(calls, 0);
}

TEST(StudyConfig, ContextTheEngineCannotHoldNamesMaxTokensOrPaths) {
  ConfigChecks checks;
  std::vector<std::string> seen;
  // A machine whose engine holds 100000 positions x paths.
  checks.context = [&](const std::string& m, int64_t n_ctx, int64_t n_seq) -> Status {
    seen.push_back(m + ":" + std::to_string(n_ctx) + "x" + std::to_string(n_seq));
    if (n_ctx * n_seq > 100000) return Status::invalid("KV cache too large");
    return Status::ok();
  };
  const std::string tail = "\n[[slices]]\ndataset = \"gsm8k\"\n";
  // One path does not fit: max_tokens is at fault.
  EXPECT_EQ(error_of("models = \"m\"\n\nmax_tokens = 200000" + tail, checks),
            "s.toml:3: key 'max_tokens': model 'm' with max_tokens 200000 and answer_budget 64: KV cache too large");
  // One path fits, 64 do not: paths is at fault.
  EXPECT_EQ(error_of("models = \"m\"\npaths = [1, 64]\ntemperature = 0.6\nmax_tokens = 4000" + tail, checks),
            "s.toml:2: key 'paths': model 'm' with 64 paths: KV cache too large");
  seen.clear();
  ASSERT_TRUE(parse("models = [\"a\", \"b\"]\npaths = [1, 4]\ntemperature = 0.6" + tail, checks).is_ok());
  // Once per model, at the context every cell uses (max_tokens 256 + answer_budget 64 + 1024, at
  // least 2048) and the most paths.
  EXPECT_EQ(seen, (std::vector<std::string>{"a:2048x4", "b:2048x4"}));
  Cell c;
  c.max_tokens = 4000;
  c.answer_budget = 100;
  EXPECT_EQ(c.context_size(), 5124);
}

TEST(StudyConfig, MissingFileIsBadInput) {
  auto r = load_sweep_config("/nonexistent/sweep.toml", {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_input());
  EXPECT_NE(r.status().message().find("/nonexistent/sweep.toml"), std::string::npos);
}

TEST(StudyConfig, ExampleConfigParses) {
  auto r = load_sweep_config(std::string(ER_SOURCE_DIR) + "/examples/sweep.toml", {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->cells().size(), 8u);
}

}  // namespace
}  // namespace er::study
