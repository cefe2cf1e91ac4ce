// `edgereason bench`: llama-bench-style prompt-processing (ppN), generation (tgN) and combined
// (ppN+tgM) throughput tests over lists of sizes, paths and threads, with latency percentiles and
// achieved memory bandwidth, printed as md, csv, json, jsonl or sql records.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/spec_options.h"
#include "engine/speculative.h"
#include "client/load.h"
#include "client/remote_ask.h"
#include "cli/power_options.h"
#include "cli/thinking_options.h"
#include "reasoning/reasoner.h"
#include "tokenizer/chat_template.h"
#include "engine/generator.h"
#include "kernels/isa.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/model_registry.h"
#include "model/model_summary.h"
#include "perfmodel/device_profile.h"
#include "perfmodel/host_info.h"
#include "perfmodel/probe.h"
#include "report/bench_record.h"
#include "core/build_info.h"
#include "report/int_list.h"
#include "report/printers.h"
#include "report/sqlite_store.h"
#include "core/stats.h"
#include "sampling/rng.h"

namespace er::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::string n_prompt = "512";
  std::string n_gen = "128";
  std::vector<std::string> pg;  // "N,M" each
  std::string paths = "1";
  std::string threads;          // default: every logical CPU
  int64_t reps = 5;
  int64_t warmup = 1;
  std::string output = "md";
  int64_t n_batch = 512;
  std::string kv_type = "f16";
  std::string isa;
  bool batch_invariant = true;  // model::ContextOptions::batch_invariant
  SpecFlags spec;               // speculative decoding of the generating tests
  std::string device;  // device profile for bandwidth_fraction
  std::string db;      // SQLite file to append the records to
  PowerOptions power;
  ThinkingFlags thinking;  // a thinking policy for the generating tests (plain decode when none)
  ClientFlags client;      // --backend openai:URL: another engine's server is measured
  // Load tests (remote backends): the engine as a server.
  std::string concurrency;      // --concurrency LIST
  double request_rate = 0;      // --request-rate R
  int64_t num_prompts = 32;     // --num-prompts
  double max_duration_s = 0;    // --max-duration
  std::optional<double> slo_ttft_ms, slo_tpot_ms;
};

// The validated plan: what to run and how.
struct BenchPlan {
  std::vector<int64_t> n_prompt;                     // pp tests (zeros dropped)
  std::vector<int64_t> n_gen;                        // tg tests (zeros dropped)
  std::vector<std::pair<int64_t, int64_t>> pg;       // pp+tg tests
  std::vector<int64_t> paths;
  std::vector<int64_t> threads;
  report::OutputFormat format = report::OutputFormat::kMd;
  DType kv_type = DType::kF16;
  kernels::Isa isa = kernels::default_isa();
  std::optional<perfmodel::DeviceProfile> device;
  session::EnergyOptions energy;                     // --power, --power-interval (parsed once)
};

constexpr int64_t kMaxPaths = 64;
constexpr uint64_t kTokenSeed = 1234;  // prompt token ids are random but the same every run

std::vector<int64_t> drop_zeros(std::vector<int64_t> v) {
  v.erase(std::remove(v.begin(), v.end(), 0), v.end());
  return v;
}

Result<BenchPlan> make_plan(const BenchOptions& o, bool device_given) {
  BenchPlan p;
  ER_ASSIGN_OR_RETURN(std::vector<int64_t> pp, report::parse_int_list(o.n_prompt, "-p", 0));
  ER_ASSIGN_OR_RETURN(std::vector<int64_t> tg, report::parse_int_list(o.n_gen, "-n", 0));
  p.n_prompt = drop_zeros(pp);
  p.n_gen = drop_zeros(tg);
  for (const std::string& s : o.pg) {
    if (const size_t colon = s.find(':'); colon != std::string::npos) {  // PROMPTS:GENS, every pair
      ER_ASSIGN_OR_RETURN(std::vector<int64_t> pl, report::parse_int_list(s.substr(0, colon), "--pg", 1));
      ER_ASSIGN_OR_RETURN(std::vector<int64_t> gl, report::parse_int_list(s.substr(colon + 1), "--pg", 1));
      if (pl.size() * gl.size() > 4096) return Status::invalid("--pg '" + s + "': more than 4096 tests");
      for (int64_t np : pl) {
        for (int64_t ng : gl) p.pg.emplace_back(np, ng);
      }
      continue;
    }
    ER_ASSIGN_OR_RETURN(std::vector<int64_t> v, report::parse_int_list(s, "--pg", 1));
    if (v.size() != 2) return Status::invalid("--pg '" + s + "': expected PROMPT,GEN (two values, e.g. 512,128)");
    p.pg.emplace_back(v[0], v[1]);
  }
  if (p.n_prompt.empty() && p.n_gen.empty() && p.pg.empty()) {
    return Status::invalid("-p/-n/--pg: nothing to run (every test size is 0)");
  }
  ER_ASSIGN_OR_RETURN(p.paths, report::parse_int_list(o.paths, "--paths", 1));
  for (int64_t n : p.paths) {
    if (n > kMaxPaths) return Status::invalid("--paths '" + o.paths + "': at most " + std::to_string(kMaxPaths));
  }
  const std::string threads =
      o.threads.empty()
          ? std::to_string(std::min(model::kMaxContextThreads,
                                    static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))))
          : o.threads;
  ER_ASSIGN_OR_RETURN(p.threads, report::parse_int_list(threads, "-t", 1));
  for (int64_t n : p.threads) {
    if (n > model::kMaxContextThreads) {
      return Status::invalid("-t '" + threads + "': at most " + std::to_string(model::kMaxContextThreads) + " threads");
    }
  }
  if (o.reps < 1 || o.reps > 1000) return Status::invalid("-r must be in [1, 1000] (got " + std::to_string(o.reps) + ")");
  if (o.warmup < 0 || o.warmup > 100) return Status::invalid("--warmup must be in [0, 100] (got " + std::to_string(o.warmup) + ")");
  if (o.n_batch < 1 || o.n_batch > 65536) return Status::invalid("-b must be in [1, 65536] (got " + std::to_string(o.n_batch) + ")");
  const auto fmt = report::output_format_from_name(o.output);
  if (!fmt) return Status::invalid("-o '" + o.output + "': expected md, csv, json, jsonl or sql");
  p.format = *fmt;
  if (o.kv_type == "f16") p.kv_type = DType::kF16;
  else if (o.kv_type == "f32") p.kv_type = DType::kF32;
  else return Status::invalid("--kv-type '" + o.kv_type + "': expected f16 or f32");
  if (!o.isa.empty()) {
    const auto v = kernels::isa_from_name(o.isa);
    if (!v) return Status::invalid("--isa '" + o.isa + "': expected " + kernels::built_isa_names());
    if (!kernels::isa_supported(*v)) return Status::unsupported("--isa " + o.isa + ": not supported by this CPU");
    p.isa = *v;
  }
  // The device profile: --device must load; the default one (saved by `probe -o`) is optional.
  if (device_given) {
    Result<perfmodel::DeviceProfile> d = perfmodel::load_device_profile(o.device);
    if (!d.is_ok()) return d.status().with_context("--device");
    p.device = *d;
  } else if (const std::string path = perfmodel::default_profile_path(); !path.empty() && access(path.c_str(), R_OK) == 0) {
    Result<perfmodel::DeviceProfile> d = perfmodel::load_device_profile(path);
    if (d.is_ok()) {
      p.device = *d;
    } else {
      std::fprintf(stderr, "bench: ignoring the default device profile: %s\n", d.status().message().c_str());
    }
  }
  ER_ASSIGN_OR_RETURN(p.energy, energy_options(o.power, p.device));
  return p;
}

// "llama 135M Q4_1": architecture, rounded parameter count, the weight type holding most bytes.
std::string model_type(const model::Model& m, const model::ModelSummary& s) {
  DType main_type = DType::kF32;
  uint64_t most = 0;
  for (const auto& [type, tally] : s.by_type) {
    if (tally.n_bytes > most) {
      most = tally.n_bytes;
      main_type = type;
    }
  }
  std::string type_name(dtype_name(main_type));
  std::transform(type_name.begin(), type_name.end(), type_name.begin(), [](unsigned char c) { return std::toupper(c); });
  char params[32];
  const double n = static_cast<double>(s.n_params);
  if (n >= 1e9) std::snprintf(params, sizeof params, "%.1fB", n / 1e9);
  else std::snprintf(params, sizeof params, "%.0fM", n / 1e6);
  return m.hparams().arch + " " + params + " " + type_name;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
  sampling::Rng rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& id : t) id = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(n_vocab));
  return t;
}

// What one repetition measured.
struct Sample {
  double ms = 0;                 // timed section
  double ttft_ms = -1;           // < 0: not a generating test
  double tpot_ms = -1;
  std::vector<double> itl_ms;    // gaps between decode steps
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;
  std::optional<telemetry::PhaseWindows> windows;  // for energy attribution
  int64_t tokens = -1;           // tokens the repetition counts when a thinking policy decides (else -1)
  int64_t drafted = 0, accepted = 0;  // speculative decoding
};

// Prompt processing: n_prompt tokens in chunks of n_batch through sequence 0, logits of the last.
Result<Sample> run_pp(model::Context& ctx, std::span<const int32_t> prompt, std::vector<model::BatchEntry>& batch) {
  const int64_t n = static_cast<int64_t>(prompt.size());
  const int64_t n_batch = ctx.options().max_batch;
  Sample s;
  ctx.clear(0);
  const engine::Clock::time_point t0 = engine::Clock::now();
  for (int64_t start = 0; start < n; start += n_batch) {
    const int64_t len = std::min(n_batch, n - start);
    for (int64_t i = 0; i < len; ++i) {
      batch[static_cast<size_t>(i)] = {prompt[static_cast<size_t>(start + i)], start + i, 0, start + i == n - 1};
    }
    ER_RETURN_IF_ERROR(ctx.eval(std::span(batch.data(), static_cast<size_t>(len))));
    s.kv_bytes += ctx.last_kv_bytes_read();
    s.weight_bytes += ctx.model().bytes_read_per_token();
  }
  s.ms = std::chrono::duration<double, std::milli>(engine::Clock::now() - t0).count();
  s.windows = bench_pp_windows(t0, s.ms, n);
  return s;
}

// Generation: the prompt's forward pass gives the first token (TTFT), then exactly n_gen timed
// decode steps for every path (ignore_eos, greedy). tg times the decode steps; pp+tg the whole.
// With a thinking policy (`policy` not null) the decode runs through the Reasoner: the policy may
// end a path before n_gen (a think budget plus the answer budget), and `tokens` returns what the
// paths generated, forced tokens included, which is what the test counts.
struct Policy {
  reasoning::Reasoner* reasoner;
  const reasoning::ThinkingOptions* think;
  const reasoning::VoteOptions* vote;
};
Result<Sample> run_gen(engine::Generator& gen, const model::Context& ctx, std::span<const int32_t> prompt,
                       int64_t n_gen, int n_paths, bool whole, const Policy* policy, int64_t* tokens,
                       engine::Drafter* drafter, int draft_max) {
  engine::GenerateOptions go;
  go.max_new_tokens = n_gen + 1;
  go.n_paths = n_paths;
  go.ignore_eos = true;
  go.sampler.temperature = 0;
  go.drafter = drafter;
  go.draft_max = draft_max;
  engine::GenerateResult r;
  if (policy != nullptr) {
    ER_ASSIGN_OR_RETURN(reasoning::ReasonResult rr, policy->reasoner->run(prompt, *policy->think, go, *policy->vote,
                                                                          reasoning::generic_answer_key));
    r = std::move(rr.gen);
  } else {
    ER_ASSIGN_OR_RETURN(r, gen.generate(prompt, go));
  }
  *tokens = 0;
  for (const engine::PathResult& p : r.paths) {
    *tokens += static_cast<int64_t>(p.tokens.size()) - (whole ? 0 : 1);  // tg does not count the first token
    if (policy != nullptr) {
      if (p.tokens.size() < 2) return Status::internal("a path stopped before its first decode step");
      continue;
    }
    if (static_cast<int64_t>(p.tokens.size()) != n_gen + 1) {
      return Status::internal("a path stopped after " + std::to_string(p.tokens.size()) + " of " +
                              std::to_string(n_gen + 1) + " tokens (" + engine::stop_reason_name(p.stop) + ")");
    }
  }
  Sample s;
  s.ms = whole ? r.e2e_ms : r.decode_ms;
  s.ttft_ms = r.ttft_ms;
  // (E2E - TTFT) / (out - 1): out = n_gen + 1 without a policy, the longest path's length with one.
  size_t out = 0;
  for (const engine::PathResult& p : r.paths) out = std::max(out, p.tokens.size());
  s.tpot_ms = r.decode_ms / static_cast<double>(std::max<size_t>(out, 2) - 1);
  for (size_t i = 1; i < r.token_times_ms.size(); ++i) s.itl_ms.push_back(r.token_times_ms[i] - r.token_times_ms[i - 1]);
  // Weights are read once per forward pass however many paths it carries; KV once per path.
  const uint64_t w = ctx.model().bytes_read_per_token();
  s.weight_bytes = w * static_cast<uint64_t>(r.n_decode_steps);
  s.kv_bytes = r.kv_bytes_read;
  s.drafted = r.n_drafted;
  s.accepted = r.n_accepted;
  s.windows = bench_gen_windows(r, whole);
  if (whole) {
    const int64_t n_batch = ctx.options().max_batch;
    s.weight_bytes += w * static_cast<uint64_t>((static_cast<int64_t>(prompt.size()) + n_batch - 1) / n_batch);
  }
  return s;
}

// Fills the statistics of `rec` from the repetitions; `n_tokens` is what one repetition counts.
void summarize(const std::vector<Sample>& samples, int64_t n_tokens, bool bandwidth, const BenchPlan& plan,
               report::BenchRecord& rec) {
  std::vector<double> ns, ts, ttft, tpot, itl;
  for (const Sample& s : samples) {
    ns.push_back(s.ms * 1e6);
    ts.push_back(static_cast<double>(n_tokens) / (s.ms / 1e3));
    rec.samples_ns.push_back(static_cast<int64_t>(s.ms * 1e6 + 0.5));
    if (s.ttft_ms >= 0) {
      ttft.push_back(s.ttft_ms);
      tpot.push_back(s.tpot_ms);
      itl.insert(itl.end(), s.itl_ms.begin(), s.itl_ms.end());
    }
  }
  rec.samples_ts = ts;
  rec.avg_ns = static_cast<int64_t>(stats::mean(ns) + 0.5);
  rec.stddev_ns = static_cast<int64_t>(stats::sample_stddev(ns) + 0.5);
  rec.avg_ts = stats::mean(ts);
  rec.stddev_ts = stats::sample_stddev(ts);
  rec.median_ts = stats::median(ts);
  rec.min_ts = *std::min_element(ts.begin(), ts.end());
  rec.max_ts = *std::max_element(ts.begin(), ts.end());
  if (!ttft.empty()) {
    rec.ttft_ms = stats::median(ttft);
    rec.tpot_ms = stats::median(tpot);
  }
  if (!itl.empty()) {
    rec.itl_p50_ms = stats::percentile(itl, 50);
    rec.itl_p90_ms = stats::percentile(itl, 90);
    rec.itl_p99_ms = stats::percentile(itl, 99);
  }
  // Every repetition reads the same bytes; the rate uses the median repetition time.
  rec.weight_bytes_read = static_cast<int64_t>(samples.front().weight_bytes);
  rec.kv_bytes_read = static_cast<int64_t>(samples.front().kv_bytes);
  if (bandwidth && rec.median_ts > 0) {
    const double median_s = static_cast<double>(n_tokens) / rec.median_ts;
    rec.achieved_gbps = static_cast<double>(rec.weight_bytes_read + rec.kv_bytes_read) / median_s / 1e9;
    if (plan.device) {
      rec.device_name = plan.device->name;
      rec.device_bandwidth_gbps = plan.device->mem_bandwidth_gbps;
      rec.bandwidth_fraction = *rec.achieved_gbps / plan.device->mem_bandwidth_gbps;
    }
  }
}

// Progress on stderr. On a terminal: one live line, rewritten per repetition and erased when the
// test's record is printed. Otherwise (logs, pipes): one short line per finished test.
class Progress {
 public:
  Progress() : tty_(isatty(STDERR_FILENO) != 0) {}
  void rep(const std::string& what, int64_t i, int64_t n, bool warmup) {
    if (!tty_) return;
    std::fprintf(stderr, "\r\033[Kbench: %s %s %lld/%lld", what.c_str(), warmup ? "warm-up" : "rep",
                 static_cast<long long>(i + 1), static_cast<long long>(n));
    std::fflush(stderr);
  }
  void done(const std::string& what, const report::BenchRecord& r) {
    if (tty_) {
      std::fprintf(stderr, "\r\033[K");
    } else {
      std::fprintf(stderr, "bench: %s: %.2f tok/s (median of %lld)\n", what.c_str(), r.median_ts,
                   static_cast<long long>(r.n_reps));
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
};

// ---- another engine's server (--backend openai:URL) ----

// A prompt of about n tokens for a server that tokenizes it itself (" the" is one token in the
// BPE vocabularies of the supported families); usage.prompt_tokens gives the exact count. Each
// request's prompt starts with its own number, so a server's prefix cache (llama.cpp keeps the
// last prompt's KV) cannot turn the next repetition's prefill into a lookup.
std::string filler_prompt(int64_t n) {
  static std::atomic<int64_t> counter{0};
  std::string s = std::to_string(counter.fetch_add(1) % 1000) + ":";
  for (int64_t i = 2; i < n; ++i) s += " the";
  return s;
}

// One repetition through the server: the request(s) for n_paths, timed at the client.
Result<Sample> remote_sample(const client::Client& c, const std::string& prompt, int64_t max_tokens, int n_paths,
                             const reasoning::ThinkingOptions& think, bool pp_only, bool whole, int64_t* n_prompt,
                             int64_t* tokens) {
  client::RemoteAsk a;
  a.prompt = prompt;
  a.chat = think.has_policy();  // a policy needs the server's chat template
  a.think = think;
  a.n_paths = n_paths;
  a.max_tokens = max_tokens;
  a.sampler.temperature = 0;
  a.ignore_eos = !think.has_policy();
  const std::vector<client::Completion> comps = client::complete_all(c, client::make_requests(c, a));
  for (const client::Completion& comp : comps) {
    if (!comp.ok()) {
      return Status::io_error(std::string("the server failed a request (") + client::failure_name(comp.failure) +
                              "): " + comp.error);
    }
  }
  // A server that does not take ignore_eos (llama-cpp-python's) ends generations early: the
  // tokens it generated are what the test counts, and the user is told once.
  static std::atomic<bool> warned{false};
  for (const client::Completion& comp : comps) {
    for (const client::Choice& ch : comp.choices) {
      if (a.ignore_eos && ch.finish_reason == "stop" && !pp_only && !warned.exchange(true)) {
        std::fprintf(stderr, "bench: warning: the server stopped a generation at end-of-sequence although ignore_eos "
                             "was sent (it does not take ignore_eos); tok/s and TPOT count the tokens it generated\n");
      }
    }
  }
  auto t0 = comps.front().t_sent;
  for (const client::Completion& comp : comps) t0 = std::min(t0, comp.t_sent);
  double ttft = -1, e2e = 0;
  int64_t out = 0, longest = 0;
  Sample smp;
  *n_prompt = 0;
  for (const client::Completion& comp : comps) {
    const double shift = std::chrono::duration<double, std::milli>(comp.t_sent - t0).count();
    if (comp.ttft_ms >= 0 && (ttft < 0 || comp.ttft_ms + shift < ttft)) ttft = comp.ttft_ms + shift;
    e2e = std::max(e2e, comp.e2e_ms + shift);
    out += comp.output_tokens();
    for (const client::Choice& ch : comp.choices) {
      longest = std::max(longest, comps.size() == 1 && comp.choices.size() == 1 ? comp.output_tokens()
                                                                                  : ch.content_chunks + ch.reasoning_chunks);
    }
    smp.itl_ms.insert(smp.itl_ms.end(), comp.itl_ms.begin(), comp.itl_ms.end());
    if (comp.usage.prompt_tokens) *n_prompt = std::max(*n_prompt, *comp.usage.prompt_tokens);
  }
  if (ttft < 0) return Status::io_error("the server sent no text (no first token to time)");
  smp.ttft_ms = ttft;
  smp.tpot_ms = longest >= 2 ? (e2e - ttft) / static_cast<double>(longest - 1) : 0;
  if (pp_only) {
    smp.ms = ttft;
    smp.ttft_ms = -1;  // a pp test's figure is its rate; the client cannot see prefill's end apart from TTFT
    smp.itl_ms.clear();
  } else {
    smp.ms = whole ? e2e : e2e - ttft;
  }
  *tokens = pp_only ? 0 : (whole ? out : out - n_paths);  // tg: not the first token of each path
  telemetry::PhaseWindows w;
  w.t_start = t0;
  w.prefill_ms = ttft;
  w.ttft_ms = ttft;
  w.e2e_ms = pp_only ? ttft : e2e;
  w.n_prefill_tokens = *n_prompt;
  w.n_decode_tokens = pp_only ? 0 : out;
  w.n_counted_tokens = pp_only ? *n_prompt : (whole ? *n_prompt + out : out);
  w.count_prefill = pp_only || whole;
  w.count_decode = !pp_only;
  smp.windows = w;
  return smp;
}

// The load test's (prompt, gen) sizes: --pg P,G when exactly one, else -p P and -n G.
Result<std::pair<int64_t, int64_t>> load_sizes(const BenchPlan& plan) {
  if (plan.pg.size() == 1) return plan.pg.front();
  if (plan.pg.empty() && plan.n_prompt.size() == 1 && plan.n_gen.size() == 1) {
    return std::pair{plan.n_prompt.front(), plan.n_gen.front()};
  }
  return Status::invalid("a load test (--concurrency, --request-rate) takes one prompt size and one generation "
                         "length: --pg P,G, or -p P -n G");
}

// The load test's own flags given (they mean nothing without --concurrency or --request-rate).
bool load_only_flag(CLI::App* sub) {
  for (const char* flag : {"--num-prompts", "--max-duration", "--slo-ttft-ms", "--slo-tpot-ms"}) {
    if (sub->get_option(flag)->count() > 0) return true;
  }
  return false;
}

Status run_bench_remote(BenchOptions& o, CLI::App* sub) {
  if (!o.spec.spec.empty() || !o.spec.draft.empty())
    return Status::invalid("--spec and --draft are the in-process engine's; not with --backend");
  for (const char* flag : {"-t", "-b", "--kv-type", "--isa", "--batch-invariant", "--device", "-m"}) {
    if (sub->get_option(flag)->count() > 0) {
      return Status::invalid(std::string(flag) + " configures the local engine; the server at --backend is configured where it runs");
    }
  }
  BenchOptions local = o;
  local.threads = "1";
  ER_ASSIGN_OR_RETURN(BenchPlan plan, make_plan(local, false));
  ER_ASSIGN_OR_RETURN(const reasoning::VoteOptions vote, finish_thinking_flags(o.thinking));
  (void)vote;
  const reasoning::ThinkingOptions& think = o.thinking.think;
  ER_ASSIGN_OR_RETURN(const client::ClientOptions copts, client_options(o.client));
  ER_RETURN_IF_ERROR(client::check_policy(copts.flavor, think));
  const bool load = !o.concurrency.empty() || o.request_rate > 0;
  std::vector<int64_t> concurrencies;
  if (!o.concurrency.empty()) {
    ER_ASSIGN_OR_RETURN(concurrencies, report::parse_int_list(o.concurrency, "--concurrency", 1));
  }
  client::LoadOptions lo;
  lo.request_rate = o.request_rate;
  lo.num_requests = o.num_prompts;
  lo.max_duration_s = o.max_duration_s;
  lo.slo_ttft_ms = o.slo_ttft_ms;
  lo.slo_tpot_ms = o.slo_tpot_ms;
  std::pair<int64_t, int64_t> sizes{0, 0};
  if (load) {
    lo.concurrency = concurrencies.empty() ? 0 : static_cast<int>(concurrencies.front());
    ER_RETURN_IF_ERROR(client::validate_load_options(lo));
    for (int64_t k : concurrencies) {
      if (k > 4096) return Status::invalid("--concurrency must be in [1, 4096]");
    }
    ER_ASSIGN_OR_RETURN(sizes, load_sizes(plan));
    if (think.has_policy()) return Status::invalid("a load test measures plain generation: no thinking policy");
  } else if (load_only_flag(sub)) {
    return Status::invalid("--num-prompts, --max-duration, --slo-ttft-ms and --slo-tpot-ms belong to a load test: "
                           "give --concurrency K or --request-rate R");
  }
  ER_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c, open_client(o.client));
  ER_ASSIGN_OR_RETURN(session::StartedMeter started, start_energy_meter(plan.energy));
  const std::shared_ptr<telemetry::EnergyMeter> meter = started.meter;

  report::BenchRecord base;
  base.build_commit = er::build_commit();
  base.build_version = er::build_version();
  base.cpu_info = perfmodel::read_host_info().cpu;
  base.isa = "remote";
  base.model_filename = c->model();
  base.model_type = c->model();
  base.n_warmup = o.warmup;
  base.n_reps = o.reps;
  base.backend = c->options().backend.text();
  base.flavor = client::flavor_name(c->options().flavor);
  base.server_version = c->info().version;
  if (think.has_policy()) {
    std::string desc;
    for (const auto& [k, v] : describe_thinking_flags(o.thinking)) desc += (desc.empty() ? "" : " ") + k + "=" + v;
    base.thinking = desc;
  }

  std::unique_ptr<report::RecordPrinter> printer = report::make_printer(plan.format, std::cout);
  std::vector<report::BenchRecord> records;
  Progress progress;
  printer->begin();
  auto emit = [&](report::BenchRecord rec) {
    printer->record(rec);
    records.push_back(std::move(rec));
  };

  auto run_all = [&]() -> Status {
    if (load) {
      const auto [np, ng] = sizes;
      std::vector<int64_t> ks = concurrencies;
      if (ks.empty()) ks.push_back(0);  // rate only, unbounded in flight
      for (int64_t k : ks) {
        client::LoadOptions l = lo;
        l.concurrency = static_cast<int>(k);
        report::BenchRecord rec = base;
        rec.test = "serve";
        if (o.request_rate > 0) rec.test += " r" + report::format_real(o.request_rate);
        if (k > 0) rec.test += " c" + std::to_string(k);
        rec.n_prompt = np;
        rec.n_gen = ng;
        rec.n_reps = 1;
        rec.n_warmup = 0;
        rec.test_time = perfmodel::iso8601_utc_now();
        auto make = [&](int64_t) {
          client::CompletionRequest r;
          r.chat = false;
          r.prompt = filler_prompt(np);
          r.max_tokens = ng;
          r.temperature = 0;
          r.ignore_eos = true;
          return r;
        };
        const std::string what = rec.test + " (" + std::to_string(l.num_requests) + " requests)";
        const client::LoadResult res = client::run_load(*c, make, l, nullptr, [&](int64_t done, int64_t) {
          progress.rep(what, done - 1, l.num_requests, false);
        });
        std::fputs(res.to_text().c_str(), stderr);
        if (res.n_completed == 0) {
          return Status::io_error("every request of " + rec.test + " failed" +
                                  (res.first_error.empty() ? std::string() : " (first: " + res.first_error + ")"));
        }
        if (k > 0) rec.concurrency = k;
        if (o.request_rate > 0) rec.request_rate = o.request_rate;
        rec.n_requests = res.n_sent;
        rec.n_failed = res.n_failed;
        rec.duration_s = res.duration_s;
        rec.request_throughput = res.request_throughput;
        rec.output_throughput = res.output_throughput;
        rec.avg_ns = static_cast<int64_t>(res.duration_s * 1e9);
        rec.samples_ns = {rec.avg_ns};
        rec.avg_ts = rec.median_ts = rec.min_ts = rec.max_ts = res.output_throughput;
        rec.samples_ts = {res.output_throughput};
        rec.ttft_ms = rec.ttft_p50_ms = res.ttft_ms.p50;
        rec.ttft_p99_ms = res.ttft_ms.p99;
        rec.tpot_ms = rec.tpot_p50_ms = res.tpot_ms.p50;
        rec.tpot_p99_ms = res.tpot_ms.p99;
        rec.itl_p50_ms = res.itl_ms.p50;
        rec.itl_p90_ms = res.itl_ms.p90;
        rec.itl_p99_ms = res.itl_ms.p99;
        rec.e2e_p50_ms = res.e2e_ms.p50;
        rec.e2e_p99_ms = res.e2e_ms.p99;
        rec.slo_ttft_ms = o.slo_ttft_ms;
        rec.slo_tpot_ms = o.slo_tpot_ms;
        rec.goodput = res.goodput;
        meter->sample_now();
        telemetry::PhaseWindows w;
        w.t_start = res.t_start;
        w.e2e_ms = res.duration_s * 1e3;
        w.n_decode_tokens = w.n_counted_tokens = res.output_tokens;
        w.count_prefill = false;
        fill_bench_energy(*meter, {w}, rec);
        progress.done(what, rec);
        emit(std::move(rec));
      }
      return Status::ok();
    }
    // Single-stream tests, as for the local engine.
    auto run_test = [&](report::BenchRecord rec, const std::function<Result<Sample>(int64_t*)>& once) -> Status {
      const std::string what = rec.test + " (paths " + std::to_string(rec.n_paths) + ")";
      rec.test_time = perfmodel::iso8601_utc_now();
      int64_t counted = 0;
      for (int64_t i = 0; i < o.warmup; ++i) {
        progress.rep(what, i, o.warmup, true);
        ER_RETURN_IF_ERROR(once(&counted).status());
      }
      std::vector<Sample> samples;
      for (int64_t i = 0; i < o.reps; ++i) {
        progress.rep(what, i, o.reps, false);
        ER_ASSIGN_OR_RETURN(Sample smp, once(&counted));
        samples.push_back(std::move(smp));
      }
      summarize(samples, counted, false, plan, rec);
      meter->sample_now();
      std::vector<telemetry::PhaseWindows> windows;
      for (const Sample& smp : samples) windows.push_back(*smp.windows);
      fill_bench_energy(*meter, windows, rec);
      progress.done(what, rec);
      emit(std::move(rec));
      return Status::ok();
    };
    for (size_t pi = 0; pi < plan.paths.size(); ++pi) {
      const int n_paths = static_cast<int>(plan.paths[pi]);
      report::BenchRecord cfg = base;
      if (pi == 0) {
        for (int64_t np : plan.n_prompt) {
          report::BenchRecord rec = cfg;
          rec.test = "pp" + std::to_string(np);
          rec.n_prompt = np;
          ER_RETURN_IF_ERROR(run_test(rec, [&](int64_t* counted) -> Result<Sample> {
            int64_t n_prompt = 0, tokens = 0;
            ER_ASSIGN_OR_RETURN(Sample smp, remote_sample(*c, filler_prompt(np), 1, 1, reasoning::ThinkingOptions{}, true, false,
                                                          &n_prompt, &tokens));
            *counted = n_prompt > 0 ? n_prompt : np;
            return smp;
          }));
        }
      }
      cfg.n_paths = n_paths;
      for (int64_t ng : plan.n_gen) {
        report::BenchRecord rec = cfg;
        rec.test = "tg" + std::to_string(ng);
        rec.n_gen = ng;
        ER_RETURN_IF_ERROR(run_test(rec, [&](int64_t* counted) -> Result<Sample> {
          int64_t n_prompt = 0;
          ER_ASSIGN_OR_RETURN(Sample smp, remote_sample(*c, filler_prompt(2), ng + 1, n_paths, think, false, false, &n_prompt, counted));
          return smp;
        }));
      }
      for (const auto& [np, ng] : plan.pg) {
        report::BenchRecord rec = cfg;
        rec.test = "pp" + std::to_string(np) + "+tg" + std::to_string(ng);
        rec.n_prompt = np;
        rec.n_gen = ng;
        ER_RETURN_IF_ERROR(run_test(rec, [&](int64_t* counted) -> Result<Sample> {
          int64_t n_prompt = 0, tokens = 0;
          ER_ASSIGN_OR_RETURN(Sample smp, remote_sample(*c, filler_prompt(np), ng, n_paths, think, false, true, &n_prompt, &tokens));
          *counted = tokens + (n_prompt > 0 ? n_prompt : np);
          return smp;
        }));
      }
    }
    return Status::ok();
  };
  const Status st = run_all();
  printer->end();
  if (!o.db.empty() && !records.empty()) {
    const Status db = report::append_records(o.db, records).with_context("--db");
    if (st.is_ok()) return db;
  }
  return st;
}

Status run_bench(BenchOptions& o, bool device_given) {
  ER_ASSIGN_OR_RETURN(BenchPlan plan, make_plan(o, device_given));
  ER_ASSIGN_OR_RETURN(const reasoning::VoteOptions vote, finish_thinking_flags(o.thinking));
  const bool with_policy = o.thinking.think.has_policy();
  ER_ASSIGN_OR_RETURN(std::string path, model::resolve_model(o.model));
  ER_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::Model::load(path));
  // Speculative decoding of the generating tests (the draft model loaded and checked once).
  session::SessionOptions spec_opts;
  ER_RETURN_IF_ERROR(apply_spec_flags(o.spec, spec_opts));
  std::shared_ptr<const model::Model> draft_model;
  if (spec_opts.spec == engine::SpecMethod::kDraft) {
    Result<std::shared_ptr<const model::Model>> dm = engine::load_draft_model(*m, spec_opts.draft_model);
    if (!dm.is_ok()) return dm.status().with_context("--draft");
    draft_model = std::move(dm).value();
  }
  tokenizer::ChatTemplate tmpl = tokenizer::chat_template_from_gguf(m->file().metadata());
  const reasoning::ThinkingFormat fmt = reasoning::thinking_format_for(tmpl.family, m->tokenizer());
  const model::ModelSummary summary = model::summarize(m->file());
  const int64_t n_vocab = m->tokenizer().n_vocab();
  ER_ASSIGN_OR_RETURN(session::StartedMeter started, start_energy_meter(plan.energy));
  const std::shared_ptr<telemetry::EnergyMeter> meter = started.meter;

  // One context per (threads, paths), sized for the longest test plus slack.
  int64_t n_ctx = 0;
  for (int64_t n : plan.n_prompt) n_ctx = std::max(n_ctx, n);
  for (int64_t n : plan.n_gen) n_ctx = std::max(n_ctx, n + 2);
  for (const auto& [np, ng] : plan.pg) n_ctx = std::max(n_ctx, np + ng + 1);
  n_ctx += 16;

  report::BenchRecord base;
  base.build_commit = er::build_commit();
  base.build_version = er::build_version();
  base.cpu_info = perfmodel::read_host_info().cpu;
  base.isa = std::string(kernels::isa_name(plan.isa));
  base.model_filename = path;
  base.model_type = model_type(*m, summary);
  base.model_size = static_cast<int64_t>(summary.bytes_weights);
  base.model_n_params = static_cast<int64_t>(summary.n_params);
  base.n_batch = o.n_batch;
  if (with_policy) {
    std::string desc;
    for (const auto& [k, v] : describe_thinking_flags(o.thinking)) desc += (desc.empty() ? "" : " ") + k + "=" + v;
    base.thinking = desc;
  }
  base.type_k = base.type_v = o.kv_type;
  base.n_ctx = n_ctx;
  base.n_warmup = o.warmup;
  base.n_reps = o.reps;

  std::unique_ptr<report::RecordPrinter> printer = report::make_printer(plan.format, std::cout);
  std::vector<report::BenchRecord> records;
  Progress progress;
  printer->begin();
  // Runs warm-ups and repetitions of one test and prints its record.
  auto run_test = [&](report::BenchRecord rec, int64_t n_tokens, bool bandwidth,
                      const std::function<Result<Sample>()>& once) -> Status {
    const std::string what = rec.test + " (threads " + std::to_string(rec.n_threads) + ", paths " +
                             std::to_string(rec.n_paths) + ")";
    rec.test_time = perfmodel::iso8601_utc_now();
    for (int64_t i = 0; i < o.warmup; ++i) {
      progress.rep(what, i, o.warmup, true);
      ER_RETURN_IF_ERROR(once().status());
    }
    std::vector<Sample> samples;
    for (int64_t i = 0; i < o.reps; ++i) {
      progress.rep(what, i, o.reps, false);
      ER_ASSIGN_OR_RETURN(Sample s, once());
      samples.push_back(std::move(s));
    }
    // Under a thinking policy the paths' lengths are the policy's (greedy: the same every repetition).
    if (!samples.empty() && samples.front().tokens >= 0) n_tokens = samples.front().tokens;
    summarize(samples, n_tokens, bandwidth, plan, rec);
    if (spec_opts.spec != engine::SpecMethod::kNone && samples.front().ttft_ms >= 0) {
      int64_t drafted = 0, accepted = 0;
      for (const Sample& sm : samples) {
        drafted += sm.drafted;
        accepted += sm.accepted;
      }
      rec.spec = spec_opts.spec == engine::SpecMethod::kDraft ? "draft:" + spec_opts.draft_model : "ngram";
      rec.spec_drafted = drafted;
      rec.spec_accepted = accepted;
      if (drafted > 0) rec.spec_acceptance = static_cast<double>(accepted) / static_cast<double>(drafted);
    }
    meter->sample_now();
    std::vector<telemetry::PhaseWindows> windows;
    for (const Sample& s : samples) windows.push_back(*s.windows);
    fill_bench_energy(*meter, windows, rec);
    progress.done(what, rec);
    printer->record(rec);
    records.push_back(std::move(rec));
    return Status::ok();
  };

  // Every configuration in turn; a failure stops the run but keeps what was measured (the output
  // is still closed, and --db still gets the finished records).
  auto run_all = [&]() -> Status {
    for (int64_t n_threads : plan.threads) {
      for (size_t pi = 0; pi < plan.paths.size(); ++pi) {
        const int n_paths = static_cast<int>(plan.paths[pi]);
        model::ContextOptions co;
        co.n_ctx = n_ctx;
        co.n_seq = n_paths;
        co.max_batch = o.n_batch;
        co.n_threads = static_cast<int>(n_threads);
        co.kv_type = plan.kv_type;
        co.isa = plan.isa;
        co.batch_invariant = o.batch_invariant;
        if (spec_opts.spec != engine::SpecMethod::kNone) {  // the verify pass's entries and rows
          co.max_logits = static_cast<int64_t>(n_paths) * engine::step_rows_per_path(spec_opts.spec, spec_opts.draft_max);
          co.max_batch = std::max<int64_t>(co.max_batch, co.max_logits);
        }
        ER_ASSIGN_OR_RETURN(std::unique_ptr<model::Context> ctx, model::Context::create(*m, co));
        engine::Generator gen(*ctx);
        ER_ASSIGN_OR_RETURN(std::unique_ptr<engine::Drafter> drafter,
                            engine::make_drafter(spec_opts.spec, draft_model, n_paths, n_ctx, static_cast<int>(n_threads)));
        reasoning::Reasoner reasoner(*ctx, m->tokenizer(), fmt);
        const Policy pol{&reasoner, &o.thinking.think, &vote};
        auto gen_sample = [&](std::span<const int32_t> prompt, int64_t ng, bool whole) -> Result<Sample> {
          int64_t tokens = 0;
          ER_ASSIGN_OR_RETURN(Sample smp, run_gen(gen, *ctx, prompt, ng, n_paths, whole,
                                                  with_policy ? &pol : nullptr, &tokens, drafter.get(),
                                                  spec_opts.draft_max));
          if (with_policy) smp.tokens = tokens + (whole ? static_cast<int64_t>(prompt.size()) : 0);
          return smp;
        };
        report::BenchRecord cfg = base;
        cfg.n_threads = n_threads;
        // Prompt processing does not depend on the paths: once per thread count, as 1 path.
        if (pi == 0) {
          std::vector<model::BatchEntry> batch(static_cast<size_t>(o.n_batch));
          for (int64_t np : plan.n_prompt) {
            const std::vector<int32_t> prompt = random_tokens(np, n_vocab, kTokenSeed + static_cast<uint64_t>(np));
            report::BenchRecord rec = cfg;
            rec.test = "pp" + std::to_string(np);
            rec.n_prompt = np;
            rec.n_paths = 1;
            // Prefill is compute-bound: bytes are recorded, but GB/s is a decode figure.
            ER_RETURN_IF_ERROR(run_test(rec, np, false, [&]() { return run_pp(*ctx, prompt, batch); }));
          }
        }
        cfg.n_paths = n_paths;
        for (int64_t ng : plan.n_gen) {
          const std::vector<int32_t> prompt = random_tokens(1, n_vocab, kTokenSeed);
          report::BenchRecord rec = cfg;
          rec.test = "tg" + std::to_string(ng);
          rec.n_gen = ng;
          ER_RETURN_IF_ERROR(run_test(rec, n_paths * ng, true,
                                      [&]() { return gen_sample(prompt, ng, false); }));
        }
        for (const auto& [np, ng] : plan.pg) {
          const std::vector<int32_t> prompt = random_tokens(np, n_vocab, kTokenSeed + static_cast<uint64_t>(np));
          report::BenchRecord rec = cfg;
          rec.test = "pp" + std::to_string(np) + "+tg" + std::to_string(ng);
          rec.n_prompt = np;
          rec.n_gen = ng;
          // Mixed compute-bound and memory-bound phases: no single GB/s figure either.
          ER_RETURN_IF_ERROR(run_test(rec, np + n_paths * ng, false,
                                      [&]() { return gen_sample(prompt, ng, true); }));
        }
      }
    }
    return Status::ok();
  };
  const Status st = run_all();
  printer->end();
  if (!o.db.empty() && !records.empty()) {
    const Status db = report::append_records(o.db, records).with_context("--db");
    if (st.is_ok()) return db;
  }
  return st;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Benchmark prompt processing and generation (llama-bench style)");
  sub->add_option("-m,--model", o->model, "Model file or installed name (not with --backend openai:URL)");
  sub->add_option("-p,--n-prompt", o->n_prompt, "Prompt sizes LIST (a,b,c or first-last+step; 0 = none)")->capture_default_str();
  sub->add_option("-n,--n-gen", o->n_gen, "Generated-token counts LIST (0 = none)")->capture_default_str();
  sub->add_option("--pg", o->pg, "Combined test PROMPT,GEN (repeatable), e.g. --pg 512,128; or every pair of two "
                                  "LISTs, PROMPTS:GENS, e.g. --pg 128-1024*2:16,64");
  sub->add_option("--paths", o->paths, "Paths decoded together LIST")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "Thread counts LIST (default: every logical CPU)");
  sub->add_option("-r,--repetitions", o->reps, "Recorded repetitions per test")->capture_default_str();
  sub->add_option("--warmup", o->warmup, "Unrecorded warm-up runs per test")->capture_default_str();
  sub->add_option("-o,--output", o->output, "Output format: md, csv, json, jsonl, sql")->capture_default_str();
  sub->add_option("-b,--batch-size", o->n_batch, "Prompt tokens per forward pass")->capture_default_str();
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", o->isa, "Kernel level: " + kernels::built_isa_names() + " (default: the best this CPU supports)");
  sub->add_option("--batch-invariant", o->batch_invariant,
                  "on: each path of a decode step gets a single-row call's arithmetic, so its tokens do not depend on "
                  "how many paths share the step; off: the whole batch's (llama.cpp's batched) arithmetic")
      ->capture_default_str();
  CLI::Option* device = sub->add_option(
      "--device", o->device,
      "Device profile for bandwidth_fraction (default: the one `probe -o` saved, if any)");
  sub->add_option("--db", o->db, "Also append the records to this SQLite database (table bench)");
  add_power_flags(sub, o->power);
  add_spec_flags(sub, o->spec);
  add_thinking_flags(sub, o->thinking);
  add_client_flags(sub, o->client);
  sub->add_option("--concurrency", o->concurrency,
                  "Load test (--backend openai:URL): K clients in a closed loop, LIST (e.g. 1,2,4)");
  sub->add_option("--request-rate", o->request_rate, "Load test: Poisson arrivals at R requests/s (with --concurrency: at most K in flight)");
  sub->add_option("--num-prompts", o->num_prompts, "Load test: requests sent at most")->capture_default_str();
  sub->add_option("--max-duration", o->max_duration_s, "Load test: stop sending after S seconds (0: no limit)")->capture_default_str();
  sub->add_option("--slo-ttft-ms", o->slo_ttft_ms, "Load test: the TTFT objective goodput counts against");
  sub->add_option("--slo-tpot-ms", o->slo_tpot_ms, "Load test: the TPOT objective goodput counts against");
  // Extras are collected (not rejected by the parser) so that llama-bench's `-pg 512,128`, which
  // reads as `-p g` plus a stray value, gets a message saying what to write instead.
  sub->allow_extras();
  return {sub, [o, device, sub]() -> Status {
            if (!o->n_prompt.empty() && o->n_prompt[0] == 'g') {
              return Status::invalid("-pg: the combined test is spelled --pg PROMPT,GEN here (e.g. --pg 512,128)");
            }
            if (!sub->remaining().empty()) {
              return Status::invalid("unexpected argument '" + sub->remaining().front() + "' (see bench --help)");
            }
            if (o->client.remote()) return run_bench_remote(*o, sub);
            if (o->model.empty()) return Status::invalid("-m/--model is required (or --backend openai:URL to measure another engine)");
            for (const char* flag : {"--concurrency", "--request-rate", "--num-prompts", "--max-duration", "--slo-ttft-ms",
                                     "--slo-tpot-ms", "--served-model"}) {
              if (sub->get_option(flag)->count() > 0) {
                return Status::invalid(std::string(flag) + " needs --backend openai:URL (a server to measure; `edgereason "
                                       "serve` serves this engine)");
              }
            }
            return run_bench(*o, device->count() > 0);
          }};
}

}  // namespace er::cli
