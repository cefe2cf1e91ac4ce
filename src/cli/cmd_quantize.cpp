// `edgereason quantize IN.gguf OUT.gguf --type T`: requantize a GGUF model as llama.cpp's quantizer does.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "cli/commands.h"
#include "quantize/quantize.h"

namespace er::cli {
namespace {

struct QuantizeOptions {
  std::string in;
  std::string out;
  std::string type;
  bool pure = false;
  bool force = false;
  bool quiet = false;
  int n_threads = 2;
};

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// Progress with an ETA on stderr: a live line on a terminal, otherwise a line every 5 seconds
// and one at the end.
class ProgressLine {
 public:
  explicit ProgressLine(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}
  void update(const quantize::Progress& p) {
    if (quiet_) return;
    const double elapsed = seconds_since(start_);
    const bool last = p.tensor_index + 1 == p.n_tensors;
    if (!tty_ && !last && seconds_since(last_print_) < 5.0) return;
    last_print_ = Clock::now();
    const double frac = p.bytes_total == 0 ? 1.0 : static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total);
    // The ETA extrapolates the bytes done so far; it needs a few percent of them to mean anything.
    char eta[32] = "ETA --";
    if (last) {
      std::snprintf(eta, sizeof eta, "done");
    } else if (frac >= 0.02) {
      std::snprintf(eta, sizeof eta, "ETA %.1f s", elapsed * (1 - frac) / frac);
    }
    std::fprintf(stderr, "%squantize: [%4zu/%4zu] %5.1f%%  %-36s  elapsed %.1f s, %s%s", tty_ ? "\r\033[K" : "",
                 p.tensor_index + 1, p.n_tensors, 100 * frac, p.name->c_str(), elapsed, eta,
                 tty_ && !last ? "" : "\n");
    std::fflush(stderr);
  }
  double elapsed() const { return seconds_since(start_); }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_print_{};
};

// Ctrl-C, SIGTERM or SIGHUP while writing: remove the temporary file, then die of the signal.
char g_temp_path[4096];
extern "C" void on_quantize_signal(int sig) {
  if (g_temp_path[0] != '\0') ::unlink(g_temp_path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

class SignalCleanup {
 public:
  SignalCleanup() {
    for (int s : kSignals) previous_[index(s)] = std::signal(s, on_quantize_signal);
  }
  ~SignalCleanup() {
    for (int s : kSignals) std::signal(s, previous_[index(s)]);
    g_temp_path[0] = '\0';
  }
  static void set(const std::string& path) {
    if (path.size() < sizeof g_temp_path) std::memcpy(g_temp_path, path.c_str(), path.size() + 1);
  }

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
  static size_t index(int s) { return s == SIGINT ? 0 : s == SIGTERM ? 1 : 2; }
  void (*previous_[3])(int) = {};
};

Status run_quantize(const QuantizeOptions& o) {
  ER_ASSIGN_OR_RETURN(const quantize::Target target, quantize::find_target(o.type));
  if (o.n_threads < 1 || o.n_threads > 1024) {
    return Status::invalid("${n_threads} must be in 1..1024 (got " + std::to_string(o.n_threads) + ")");
  }
  std::error_code ec;
  if (!std::filesystem::exists(o.in, ec)) return Status::not_found("input '" + o.in + "' does not exist");
  if (std::filesystem::exists(o.out, ec) && !o.force) {
    return Status::invalid("output '" + o.out + "' exists (use --force to replace it)");
  }
  if (std::filesystem::exists(o.out, ec) && std::filesystem::equivalent(o.in, o.out, ec)) {
    return Status::invalid("output '" + o.out + "' is the input file");
  }
  if (std::filesystem::is_directory(o.out, ec)) return Status::invalid("output '" + o.out + "' is a directory");

  quantize::Options opt;
  opt.target = target;
  opt.pure = o.pure;
  opt.n_threads = o.n_threads;
  ProgressLine progress(o.quiet);
  opt.progress = [&](const quantize::Progress& p) { progress.update(p); };
  SignalCleanup cleanup;
  opt.on_temp_file = [](const std::string& path) { SignalCleanup::set(path); };
  ER_ASSIGN_OR_RETURN(const quantize::Summary s, quantize::quantize_file(o.in, o.out, opt));

  size_t n_quantized = 0, n_fallback = 0;
  for (const auto& p : s.plan) {
    n_quantized += p.quantize ? 1 : 0;
    n_fallback += p.fallback ? 1 : 0;
  }
  std::printf("quantize: wrote %s: %s%s from %s (%s), %zu of %zu tensors converted%s, %s -> %s of tensor data in %.1f s\n",
              o.out.c_str(), std::string(target.name).c_str(), o.pure && !target.pure_only ? " (pure)" : "",
              o.in.c_str(), s.source_type.c_str(), n_quantized, s.plan.size(),
              n_fallback > 0 ? (", " + std::to_string(n_fallback) + " with a row-size fallback type").c_str() : "",
              mib(s.in_bytes).c_str(), mib(s.out_bytes).c_str(), progress.elapsed());
  return Status::ok();
}

}  // namespace

Command add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "quantize",
      "Requantize a GGUF model as llama.cpp's quantizer does: every weight matrix dequantized and "
      "requantized (reference quantizers, byte-identical to llama.cpp's without an importance matrix), "
      "the per-tensor types of llama.cpp's mix for the type (or one type for all with --pure), all "
      "metadata kept, general.file_type set, the source recorded (edgereason.quantize.*). Writes a "
      "temporary file beside OUT and renames it when complete: no partial OUT on any error. See docs/quantize.md.");
  sub->add_option("IN", o->in, "Input GGUF model")->required();
  sub->add_option("OUT", o->out, "Output GGUF file")->required();
  sub->add_option("--type", o->type,
                  "Output type, as llama-quantize names it: " + quantize::target_names() +
                      ". F32/F16/BF16 convert every weight matrix; Q8_0, Q4_0, Q4_1, Q5_0, Q6_K and Q4_K_M follow "
                      "llama.cpp's mix (e.g. output/tied embeddings Q6_K, Q4_K_M's attn_v/ffn_down layers Q6_K, "
                      "rows not a multiple of 256 falling back to Q5_0/Q8_0); Q4_K is always pure")
      ->required();
  sub->add_flag("--pure", o->pure, "Every weight matrix gets the type itself (llama-quantize --pure); row-size fallbacks still apply");
  sub->add_flag("--force", o->force, "Replace OUT if it exists");
  sub->add_option("-t,--threads", o->n_threads, "Threads")->capture_default_str();
  sub->add_flag("-q,--quiet", o->quiet, "No progress lines on stderr");
  return {sub, [o] { return run_quantize(*o); }};
}

}  // namespace er::cli
