// No heap allocation in the decode loop: Context::eval of decode steps (1 and 4 paths), the
// sampler (greedy and the full temperature / top-k / top-p / min-p / repetition chain) and
// Generator::generate's per-token loop make zero calls to operator new once prefill is done.
//
// This binary replaces every form of the global operator new / delete (plain, array, nothrow,
// aligned, sized) with counting versions. Counting is on only inside a measured window and then
// counts calls from every thread (the thread pool's workers too). The first allocations of a
// window are recorded with their size and a backtrace, printed when a test fails (resolve the
// addresses with `addr2line -Cfipe BINARY`). A self-test checks that the counter sees what it
// must, so a broken counter cannot make the other tests pass.
//
// Not seen: malloc / aligned_alloc called directly (the KV cache and the workspaces are allocated
// that way, once, at Context creation), and allocations the compiler elides.
#include <execinfo.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "engine/generator.h"
#include "model/forward.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "support/test_support.h"

namespace {

constexpr int kMaxRecorded = 4;
constexpr int kMaxFrames = 24;

struct AllocRecord {
  size_t size = 0;
  int n_frames = 0;
  void* frames[kMaxFrames] = {};
};

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_news{0};
std::atomic<int64_t> g_deletes{0};
AllocRecord g_records[kMaxRecorded];
thread_local bool t_in_hook = false;  // backtrace() may allocate on its first use

void note_new(size_t size) {
  if (!g_counting.load(std::memory_order_relaxed) || t_in_hook) return;
  const int64_t i = g_news.fetch_add(1, std::memory_order_relaxed);
  if (i < kMaxRecorded) {
    t_in_hook = true;
    AllocRecord& r = g_records[i];
    r.size = size;
    r.n_frames = backtrace(r.frames, kMaxFrames);
    t_in_hook = false;
  }
}

[[gnu::noinline]] void release(void* p) {
  if (p != nullptr && g_counting.load(std::memory_order_relaxed) && !t_in_hook) {
    g_deletes.fetch_add(1, std::memory_order_relaxed);
  }
  std::free(p);
}

// Out of line, so that the compiler does not pair an inlined free() with operator new
// (-Wmismatched-new-delete) or elide anything through them.
[[gnu::noinline]] void* checked_malloc(size_t size) {
  note_new(size);
  return std::malloc(size == 0 ? 1 : size);
}

[[gnu::noinline]] void* checked_aligned(size_t size, std::align_val_t al) {
  note_new(size);
  size_t a = static_cast<size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) return nullptr;
  return p;
}

// Warms backtrace() up (it loads libgcc_s on first use) before any window opens.
const bool g_backtrace_ready = [] {
  void* f[2];
  return backtrace(f, 2) >= 0;
}();

}  // namespace

// --- the replaced global allocation functions ------------------------------------------------
void* operator new(size_t n) {
  void* p = checked_malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) {
  void* p = checked_malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return checked_malloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return checked_malloc(n); }
void* operator new(size_t n, std::align_val_t al) {
  void* p = checked_aligned(n, al);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n, std::align_val_t al) {
  void* p = checked_aligned(n, al);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(size_t n, std::align_val_t al, const std::nothrow_t&) noexcept { return checked_aligned(n, al); }
void* operator new[](size_t n, std::align_val_t al, const std::nothrow_t&) noexcept { return checked_aligned(n, al); }

void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, size_t) noexcept {
  release(p);
}
void operator delete[](void* p, size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}

namespace er::engine {
namespace {

namespace fs = std::filesystem;

// A measured window: counts every operator new / delete between begin() and end().
class AllocWindow {
 public:
  void begin() {
    g_news.store(0);
    g_deletes.store(0);
    g_counting.store(true);
  }
  void end() { g_counting.store(false); }
  int64_t news() const { return g_news.load(); }
  int64_t deletes() const { return g_deletes.load(); }
  // What the first allocations were: sizes and backtraces (for a failure message).
  static std::string report() {
    const int64_t n = std::min<int64_t>(g_news.load(), kMaxRecorded);
    std::string s;
    for (int64_t i = 0; i < n; ++i) {
      const AllocRecord& r = g_records[i];
      s += "allocation " + std::to_string(i + 1) + ": " + std::to_string(r.size) + " bytes at\n";
      char** names = backtrace_symbols(const_cast<void* const*>(r.frames), r.n_frames);
      for (int f = 1; f < r.n_frames; ++f) {  // frame 0 is note_new
        s += "    ";
        s += names != nullptr ? names[f] : "?";
        s += "\n";
      }
      std::free(names);
    }
    return s;
  }
};

// Keeps a pointer alive past the optimizer (a new-expression whose result escapes is not elided).
void* volatile g_sink = nullptr;

TEST(AllocCounter, SeesEveryFormOfNewInsideTheWindowOnly) {
  AllocWindow w;
  // Outside a window nothing is counted.
  g_sink = new int(1);
  delete static_cast<int*>(g_sink);
  w.begin();
  w.end();
  EXPECT_EQ(w.news(), 0);

  w.begin();
  g_sink = new int(7);  // the deliberate allocation
  w.end();
  EXPECT_EQ(w.news(), 1) << "the counter must see a plain new";
  EXPECT_EQ(g_records[0].size, sizeof(int));
  EXPECT_GT(g_records[0].n_frames, 1) << "the backtrace of the allocation must be recorded";
  w.begin();
  delete static_cast<int*>(g_sink);
  w.end();
  EXPECT_EQ(w.deletes(), 1);

  struct alignas(128) Wide {
    float v[32];
  };
  w.begin();
  g_sink = new int[5];
  delete[] static_cast<int*>(g_sink);
  g_sink = new (std::nothrow) double(1.0);
  delete static_cast<double*>(g_sink);
  g_sink = new Wide();  // aligned new
  EXPECT_EQ(reinterpret_cast<uintptr_t>(g_sink) % 128, 0u);
  delete static_cast<Wide*>(g_sink);
  g_sink = new Wide[3];
  delete[] static_cast<Wide*>(g_sink);
  {
    std::vector<float> v;
    v.push_back(1.0f);  // a library allocation
    g_sink = v.data();
  }
  {
    auto u = std::make_unique<std::string>(100, 'x');  // two: the string object and its buffer
    g_sink = u.get();
  }
  w.end();
  EXPECT_EQ(w.news(), 7);
  EXPECT_EQ(w.deletes(), 7);
}

TEST(AllocCounter, CountsAllocationsOnOtherThreads) {
  // The thread pool's workers run inside eval(); their allocations must count too.
  AllocWindow w;
  std::atomic<bool> go{false};
  std::thread t([&] {
    while (!go.load()) {
    }
    g_sink = new long(3);
    delete static_cast<long*>(g_sink);
  });
  w.begin();
  go.store(true);
  t.join();
  w.end();
  EXPECT_GE(w.news(), 1);
}

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<model::Context> ctx;
};

Loaded load(const std::string& name, int n_seq) {
  Loaded l;
  const fs::path p = test::fixture_dir() / (name + ".gguf");
  auto m = model::Model::load(p.string());
  EXPECT_TRUE(m.is_ok()) << p << ": " << m.status().message();
  if (!m.is_ok()) return l;
  l.model = std::move(m).value();
  model::ContextOptions co;
  co.n_ctx = 256;
  co.n_seq = n_seq;
  co.max_batch = 64;
  co.max_logits = n_seq;
  co.n_threads = 2;
  auto c = model::Context::create(*l.model, co);
  EXPECT_TRUE(c.is_ok()) << c.status().message();
  if (c.is_ok()) l.ctx = std::move(c).value();
  return l;
}

class DecodeAlloc : public ::testing::TestWithParam<std::string> {};

// Prefill one sequence, fork it into 4, then decode steps of 1 path and of 4 paths, each followed
// by sampling every path with a greedy and a full-chain sampler: all of it with zero allocations.
TEST_P(DecodeAlloc, EvalAndSamplerMakeNoAllocationPerDecodeStep) {
  constexpr int kPaths = 4;
  constexpr int kSteps = 12;
  Loaded l = load(GetParam(), kPaths);
  ASSERT_TRUE(l.ctx);
  model::Context& ctx = *l.ctx;
  const int32_t n_vocab = static_cast<int32_t>(l.model->tokenizer().n_vocab());
  const std::vector<TokenId> prompt = l.model->tokenizer().encode("Once upon a time, in a small town,", false, true);
  ASSERT_GE(prompt.size(), 2u);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());

  // Everything the loop uses is made before the window.
  sampling::SamplerConfig greedy_cfg;
  greedy_cfg.temperature = 0;
  sampling::SamplerConfig chain_cfg;
  chain_cfg.temperature = 0.8f;
  chain_cfg.top_k = 40;
  chain_cfg.top_p = 0.9f;
  chain_cfg.min_p = 0.05f;
  chain_cfg.repeat_penalty = 1.1f;
  chain_cfg.repeat_last_n = 64;
  std::vector<std::unique_ptr<sampling::Sampler>> greedy, chain;
  std::vector<std::vector<TokenId>> history(kPaths);
  for (int p = 0; p < kPaths; ++p) {
    chain_cfg.seed = 42 + static_cast<uint64_t>(p);
    greedy.push_back(std::make_unique<sampling::Sampler>(greedy_cfg, n_vocab));
    chain.push_back(std::make_unique<sampling::Sampler>(chain_cfg, n_vocab));
    history[static_cast<size_t>(p)].reserve(static_cast<size_t>(n_prompt + 2 * kSteps + 2));
    history[static_cast<size_t>(p)].assign(prompt.begin(), prompt.end());
  }
  std::vector<model::BatchEntry> batch(static_cast<size_t>(n_prompt));
  for (int64_t i = 0; i < n_prompt; ++i) {
    batch[static_cast<size_t>(i)] = {prompt[static_cast<size_t>(i)], i, 0, i == n_prompt - 1};
  }
  ASSERT_TRUE(ctx.eval(batch).is_ok());
  for (int p = 1; p < kPaths; ++p) ctx.fork(0, p, n_prompt);
  TokenId next[kPaths];
  for (int p = 0; p < kPaths; ++p) next[p] = sampling::argmax(std::span(ctx.logits(0), static_cast<size_t>(n_vocab)));

  AllocWindow w;
  int64_t pos = n_prompt;
  bool ok = true;
  // 1 path (sequence 0), then 4 paths together.
  for (const int n : {1, kPaths}) {
    for (int step = 0; step < kSteps; ++step, ++pos) {
      w.begin();
      for (int p = 0; p < n; ++p) batch[static_cast<size_t>(p)] = {next[p], pos, p, true};
      ok = ok && ctx.eval(std::span(batch.data(), static_cast<size_t>(n))).is_ok();
      for (int p = 0; p < n; ++p) {
        const std::span<const float> logits(ctx.logits(p), static_cast<size_t>(n_vocab));
        std::vector<TokenId>& h = history[static_cast<size_t>(p)];
        const TokenId g = greedy[static_cast<size_t>(p)]->sample(logits, h);
        const TokenId c = chain[static_cast<size_t>(p)]->sample(logits, h);
        next[p] = (step % 2 == 0) ? g : c;
        h.push_back(next[p]);
      }
      w.end();
      ASSERT_TRUE(ok) << "eval failed at " << n << " paths, step " << step;
      ASSERT_EQ(w.news(), 0) << GetParam() << ": " << n << " path(s), decode step " << step << " allocated "
                             << w.news() << " time(s)\n"
                             << AllocWindow::report();
      ASSERT_EQ(w.deletes(), 0) << GetParam() << ": " << n << " path(s), decode step " << step;
    }
    // Paths 1..3 start where path 0 was forked: give them path 0's position for the batch.
    if (n == 1) {
      for (int p = 1; p < kPaths; ++p) {
        ctx.fork(0, p, pos);
        history[static_cast<size_t>(p)] = history[0];  // (outside the window)
        next[p] = next[0];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecodeAlloc,
                         ::testing::Values("tiny-llama-q8_0", "tiny-llama-q4_1", "tiny-qwen2-q4_k", "tiny-qwen3-f32"));

// Generator::generate: after its set-up (results, samplers, histories, all reserved) its decode
// loop must not allocate. The window opens at the first token's callback (after prefill and the
// first sample) and closes when generate() returns.
TEST(GeneratorAlloc, DecodeLoopMakesNoAllocation) {
  for (const int n_paths : {1, 4}) {
    for (const bool greedy : {true, false}) {
      Loaded l = load("tiny-llama-q8_0", 4);
      ASSERT_TRUE(l.ctx);
      Generator gen(*l.ctx);
      const std::vector<TokenId> prompt = l.model->tokenizer().encode("The quick brown fox", false, true);
      GenerateOptions o;
      o.max_new_tokens = 24;
      o.n_paths = n_paths;
      o.ignore_eos = true;
      if (greedy) {
        o.sampler.temperature = 0;
      } else {
        o.sampler.temperature = 0.8f;
        o.sampler.repeat_penalty = 1.1f;
      }
      AllocWindow w;
      int64_t calls = 0;
      int64_t news_at_last_call = -1;
      const TokenCallback cb = [&](int, TokenId) {
        if (calls++ == 0) w.begin();
        news_at_last_call = g_news.load();
        return true;
      };
      auto r = gen.generate(prompt, o, cb);
      w.end();
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      ASSERT_EQ(calls, 24 * n_paths);
      EXPECT_EQ(news_at_last_call, 0) << n_paths << " path(s), " << (greedy ? "greedy" : "sampled")
                                      << ": the decode loop allocated\n"
                                      << AllocWindow::report();
      EXPECT_EQ(w.news(), 0) << n_paths << " path(s), " << (greedy ? "greedy" : "sampled")
                             << ": generate() allocated between its first token and its return\n"
                             << AllocWindow::report();
    }
  }
}

// With a PathController that bans, forces and takes back tokens (itself allocation-free), the
// decode loop still makes no allocation: forced tokens and rollbacks stay within the reserves.
class SteeringController final : public PathController {
 public:
  explicit SteeringController(std::vector<TokenId> force) : force_(std::move(force)) {}
  std::span<const TokenId> banned(int) override { return std::span<const TokenId>(force_.data(), 1); }
  PathAction on_token(int, TokenId, float, bool) override {
    PathAction a;
    ++n_;
    if (n_ % 7 == 3) a.force = force_;
    if (n_ % 11 == 5) a.rollback = 2;
    return a;
  }

 private:
  std::vector<TokenId> force_;
  int64_t n_ = 0;
};

TEST(GeneratorAlloc, ControllerStepsMakeNoAllocation) {
  Loaded l = load("tiny-llama-q8_0", 4);
  ASSERT_TRUE(l.ctx);
  Generator gen(*l.ctx);
  const std::vector<TokenId> prompt = l.model->tokenizer().encode("The quick brown fox", false, true);
  SteeringController ctl(l.model->tokenizer().encode(" and then", false, true));
  GenerateOptions o;
  o.max_new_tokens = 40;
  o.n_paths = 4;
  o.ignore_eos = true;
  o.sampler.temperature = 0.8f;
  AllocWindow w;
  int64_t calls = 0;
  const TokenCallback cb = [&](int, TokenId) {
    if (calls++ == 0) w.begin();
    return true;
  };
  auto r = gen.generate(prompt, o, cb, &ctl);
  w.end();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_GT(r->n_forced, 0);
  EXPECT_GT(r->paths[0].n_rolled_back, 0);
  EXPECT_EQ(w.news(), 0) << "the steered decode loop allocated\n" << AllocWindow::report();
}

}  // namespace
}  // namespace er::engine
