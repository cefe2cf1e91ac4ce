// The eval loop: prompts, solver, grading, votes, JSONL records, resume, progress, summary.
#include "eval/runner.h"

#include "reasoning/vote.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "eval/grader.h"
#include "eval/prompts.h"

namespace er::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  return buf;
}

// A bar with ETA on a terminal; otherwise a plain line about every 10% (and at the end).
class Progress {
 public:
  Progress(const EvalOptions& o, int64_t total) : total_(total), t0_(Clock::now()) {
    if (o.progress == ProgressMode::kOff || o.progress_stream == nullptr || total <= 0) return;
    out_ = o.progress_stream;
    tty_ = ::isatty(::fileno(out_)) == 1;
  }
  // `done` counts questions graded before this run (--resume) too; the rate uses this run's only.
  void update(int64_t done, int64_t correct) {
    if (out_ == nullptr) return;
    if (base_ < 0) base_ = done;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
    const double per_q = done > base_ ? elapsed / static_cast<double>(done - base_) : 0;
    const double eta = per_q * static_cast<double>(total_ - done);
    const double acc = done > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(done) : 0;
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(kWidth * done / total_);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(kWidth, '.');
      std::fprintf(out_, "\r%lld/%lld [%s] acc %.1f%% | %.1f s/q | ETA %s   ", static_cast<long long>(done),
                   static_cast<long long>(total_), bar.c_str(), acc, per_q, format_duration(eta).c_str());
      if (done == total_) std::fprintf(out_, "\n");
    } else {
      const int64_t step = std::max<int64_t>(1, total_ / 10);
      if (done == base_ || (done % step != 0 && done != total_)) return;
      std::fprintf(out_, "eval: %lld/%lld questions, acc %.1f%%, %.1f s/question, ETA %s\n",
                   static_cast<long long>(done), static_cast<long long>(total_), acc, per_q,
                   format_duration(eta).c_str());
    }
    std::fflush(out_);
  }
  void finish_line() {
    if (out_ != nullptr && tty_) std::fprintf(out_, "\n");
  }

 private:
  std::FILE* out_ = nullptr;
  bool tty_ = false;
  int64_t total_;
  int64_t base_ = -1;  // questions already done at the first update
  Clock::time_point t0_;
};

ordered_json header_record(const Dataset& ds, const EvalOptions& o) {
  ordered_json h;
  h["record"] = "config";
  h["dataset"] = ds.name;
  h["dataset_path"] = ds.path;
  h["task"] = std::string(task_name(ds.task));
  h["grader_version"] = std::string(kGraderVersion);
  h["config"] = o.config;
  return h;
}

// The path of the first field where two configs differ ("temp", "sampler.top_p"); nullopt when equal.
std::optional<std::string> first_difference(const ordered_json& a, const ordered_json& b) {
  if (a == b) return std::nullopt;
  if (!a.is_object() || !b.is_object()) return std::string();
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key())) return it.key();
    if (auto d = first_difference(it.value(), b.at(it.key()))) return d->empty() ? it.key() : it.key() + "." + *d;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) return it.key();
  return std::string();
}

// The first field of a resumed question record whose type is wrong ("" when all are fine), so
// the summary can read them without surprises.
std::string bad_question_field(const ordered_json& j) {
  if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty()) return "id";
  if (!j.contains("correct") || !j["correct"].is_boolean()) return "correct";
  if (j.contains("extracted") && !j["extracted"].is_string() && !j["extracted"].is_null()) return "extracted";
  for (const char* f : {"e2e_ms", "prefill_ms", "decode_ms", "thinking_tokens", "answer_tokens"}) {
    if (j.contains(f) && !j[f].is_number()) return f;
  }
  if (j.contains("energy") && !j["energy"].is_object() && !j["energy"].is_null()) return "energy";
  return "";
}

struct ExistingOutput {
  std::vector<ordered_json> records;  // question records, first occurrence of each id
  uint64_t good_bytes = 0;            // length of the valid prefix (a torn tail is cut there)
  bool torn = false;
  bool has_header = false;
};

// Reads an output file for --resume. A torn last line (no newline or invalid JSON) is marked for
// truncation; an invalid line before it is an error naming FILE:LINE; a header made with another
// configuration is an error naming the first differing field.
Result<ExistingOutput> read_existing(const std::string& path, const ordered_json& header) {
  ExistingOutput ex;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("${resume}: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string content = ss.str();
  size_t pos = 0;
  int64_t line_no = 0;
  std::set<std::string> ids;
  while (pos < content.size()) {
    const size_t nl = content.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) {  // the last line lacks its newline: torn while writing
      ex.torn = true;
      break;
    }
    const std::string line = content.substr(pos, nl - pos);
    const auto j = ordered_json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("record")) {
      if (nl + 1 == content.size()) {  // a garbled last line: also a torn tail
        ex.torn = true;
        break;
      }
      return Status::invalid(path + ":" + std::to_string(line_no) +
                             ": not an eval record (refusing to ${resume} a file this command did not write)");
    }
    if (j["record"] == "config") {
      if (line_no != 1) return Status::invalid(path + ":" + std::to_string(line_no) + ": a second header line");
      for (const char* k : {"dataset", "task", "grader_version"}) {
        if (j.value(k, ordered_json()) != header[k]) {
          return Status::invalid("${resume}: '" + path + "' was made with " + k + " " + j.value(k, ordered_json()).dump() +
                                 ", this run has " + header[k].dump() + " (use another ${output}, or ${overwrite})");
        }
      }
      if (auto d = first_difference(j.value("config", ordered_json::object()), header["config"])) {
        return Status::invalid("${resume}: '" + path + "' was made with a different configuration (config." + *d +
                               " differs; use another ${output}, or ${overwrite})");
      }
      ex.has_header = true;
    } else if (j["record"] == "failed") {
      // A question a server failed to answer: not done, --resume asks it again.
      if (!j.contains("id") || !j["id"].is_string()) {
        return Status::invalid(path + ":" + std::to_string(line_no) + ": failed record without an id");
      }
    } else if (j["record"] == "question") {
      if (!ex.has_header) return Status::invalid(path + ":" + std::to_string(line_no) + ": question record before the header");
      if (const std::string bad = bad_question_field(j); !bad.empty()) {
        return Status::invalid(path + ":" + std::to_string(line_no) + ": question record with a bad '" + bad + "' field");
      }
      const std::string id = j["id"].get<std::string>();
      if (ids.insert(id).second) ex.records.push_back(j);
    }
    pos = nl + 1;
    ex.good_bytes = pos;
  }
  return ex;
}

}  // namespace

GradedQuestion grade_question(const Dataset& ds, const Question& q, const SolveOutcome& out) {
  const int n_choices = q.choices.empty() ? 4 : static_cast<int>(q.choices.size());
  GradedQuestion g;
  // The one majority rule (reasoning/vote.h): the graded answers in the order the paths finished
  // (then path order), as the Reasoner's own vote sees them.
  std::vector<size_t> order(out.paths.size());
  for (size_t p = 0; p < order.size(); ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return out.paths[a].finish_ms < out.paths[b].finish_ms; });
  reasoning::VoteTally tally(reasoning::VoteMode::kMajority);
  for (size_t p = 0; p < out.paths.size(); ++p) {
    const PathAnswer& a = out.paths[p];
    GradedPath gp;
    gp.graded = grade_completion(ds.task, a.answer_text, q.gold, n_choices);
    gp.thinking_tokens = a.thinking_tokens;
    gp.answer_tokens = a.answer_tokens;
    gp.forced_close = a.forced_close;
    gp.stop = a.stop;
    g.thinking_tokens += a.thinking_tokens;
    g.answer_tokens += a.answer_tokens;
    g.paths.push_back(std::move(gp));
  }
  for (const size_t p : order) tally.add(static_cast<int>(p), g.paths[p].graded.key, 0.0);
  const reasoning::VoteResult v = tally.result();
  for (const auto& [key, votes] : v.tally) g.tally.emplace_back(key, static_cast<int>(votes));
  g.winner_path = v.winner_path;
  if (out.winner_path && *out.winner_path >= 0 && *out.winner_path < static_cast<int>(out.paths.size()) &&
      g.paths[static_cast<size_t>(*out.winner_path)].graded.key) {
    g.winner_path = *out.winner_path;  // the solver's own vote (e.g. weighted) decides
  }
  if (g.winner_path >= 0) {
    const Graded& w = g.paths[static_cast<size_t>(g.winner_path)].graded;
    g.extracted = w.extracted;
    g.correct = w.correct;
  }
  return g;
}

ordered_json make_question_record(const Dataset& ds, const Question& q, const SolveOutcome& out, bool save_text) {
  const GradedQuestion g = grade_question(ds, q, out);
  ordered_json paths = ordered_json::array();
  for (size_t p = 0; p < g.paths.size(); ++p) {
    const GradedPath& gp = g.paths[p];
    ordered_json pj;
    pj["extracted"] = gp.graded.extracted ? ordered_json(*gp.graded.extracted) : ordered_json(nullptr);
    pj["key"] = gp.graded.key ? ordered_json(*gp.graded.key) : ordered_json(nullptr);
    pj["correct"] = gp.graded.correct;
    pj["thinking_tokens"] = gp.thinking_tokens;
    pj["answer_tokens"] = gp.answer_tokens;
    pj["forced_close"] = gp.forced_close;
    pj["stop"] = gp.stop;
    if (save_text) {
      pj["answer_text"] = out.paths[p].answer_text;
      pj["thinking_text"] = out.paths[p].thinking_text;
    }
    paths.push_back(std::move(pj));
  }
  ordered_json r;
  r["record"] = "question";
  r["id"] = q.id;
  r["dataset"] = ds.name;
  r["index"] = q.index;
  r["question_hash"] = question_hash(q.question);
  r["gold"] = q.gold;
  const GradedPath* w = g.winner_path >= 0 ? &g.paths[static_cast<size_t>(g.winner_path)] : nullptr;
  r["extracted"] = g.extracted ? ordered_json(*g.extracted) : ordered_json(nullptr);
  r["correct"] = g.correct;
  r["thinking_tokens"] = g.thinking_tokens;
  r["answer_tokens"] = g.answer_tokens;
  r["n_prompt"] = out.n_prompt;
  r["prefill_ms"] = out.prefill_ms;
  r["ttft_ms"] = out.ttft_ms;
  r["decode_ms"] = out.decode_ms;
  r["e2e_ms"] = out.e2e_ms;
  r["energy"] = out.energy;
  if (!out.speculative.is_null()) r["speculative"] = out.speculative;
  r["paths"] = std::move(paths);
  ordered_json tj = ordered_json::array();
  for (const auto& [k, n] : g.tally) tj.push_back({k, n});
  r["vote"] = {{"winner", w != nullptr ? ordered_json(*w->graded.key) : ordered_json(nullptr)},
               {"winner_path", g.winner_path},
               {"tally", std::move(tj)}};
  r["grader_version"] = std::string(kGraderVersion);
  return r;
}

EvalSummary summarize_records(const Dataset& ds, const std::vector<ordered_json>& records, int64_t n_selected) {
  EvalSummary s;
  s.dataset = ds.name;
  s.task = std::string(task_name(ds.task));
  s.n_selected = n_selected;
  s.skipped_lines = static_cast<int64_t>(ds.skipped.size());
  std::vector<double> e2e, prefill, decode, think, ans, joules;
  bool all_energy = !records.empty();
  for (const auto& r : records) {
    ++s.n_graded;
    if (r.value("correct", false)) ++s.n_correct;
    if (r.value("extracted", ordered_json()).is_null()) ++s.n_unparsed;
    e2e.push_back(r.value("e2e_ms", 0.0));
    prefill.push_back(r.value("prefill_ms", 0.0));
    decode.push_back(r.value("decode_ms", 0.0));
    think.push_back(r.value("thinking_tokens", 0.0));
    ans.push_back(r.value("answer_tokens", 0.0));
    const auto& en = r.contains("energy") ? r["energy"] : ordered_json();
    if (en.is_object()) {
      if (s.energy_source.empty()) s.energy_source = en.value("source", std::string());
      s.energy_estimated = s.energy_estimated || en.value("estimated", false);
    }
    if (en.is_object() && en.contains("total_j") && en["total_j"].is_number()) joules.push_back(en["total_j"].get<double>());
    else all_energy = false;
  }
  s.accuracy = stats::wilson_interval(s.n_correct, s.n_graded);
  s.e2e_ms = stats::describe(e2e);
  s.prefill_ms = stats::describe(prefill);
  s.decode_ms = stats::describe(decode);
  s.thinking_tokens = stats::describe(think);
  s.answer_tokens = stats::describe(ans);
  if (all_energy) s.joules_per_question = stats::describe(joules).mean;
  return s;
}

ordered_json EvalSummary::to_json() const {
  auto dist = [](const stats::Distribution& d) { return ordered_json{{"mean", d.mean}, {"p50", d.p50}, {"p90", d.p90}}; };
  ordered_json j;
  j["record"] = "summary";
  j["dataset"] = dataset;
  j["task"] = task;
  j["n_selected"] = n_selected;
  j["n_graded"] = n_graded;
  j["n_new"] = n_new;
  j["n_correct"] = n_correct;
  j["n_unparsed"] = n_unparsed;
  j["n_failed"] = n_failed;
  j["accuracy"] = accuracy.p;
  j["accuracy_ci95"] = {accuracy.lo, accuracy.hi};
  j["e2e_ms"] = dist(e2e_ms);
  j["prefill_ms"] = dist(prefill_ms);
  j["decode_ms"] = dist(decode_ms);
  j["thinking_tokens"] = dist(thinking_tokens);
  j["answer_tokens"] = dist(answer_tokens);
  j["joules_per_question"] = joules_per_question ? ordered_json(*joules_per_question) : ordered_json(nullptr);
  j["energy_source"] = energy_source;
  j["energy_estimated"] = energy_estimated;
  j["skipped_lines"] = skipped_lines;
  j["interrupted"] = interrupted;
  j["grader_version"] = std::string(kGraderVersion);
  return j;
}

std::string EvalSummary::to_text() const {
  char buf[1024];
  std::string s;
  std::snprintf(buf, sizeof buf, "%s (%s): %lld/%lld correct = %.1f%% (95%% CI %.1f-%.1f%%), %lld unparsed%s\n",
                dataset.c_str(), task.c_str(), static_cast<long long>(n_correct), static_cast<long long>(n_graded),
                100 * accuracy.p, 100 * accuracy.lo, 100 * accuracy.hi, static_cast<long long>(n_unparsed),
                n_graded < n_selected ? (" (" + std::to_string(n_selected - n_graded) + " of the selection not graded)").c_str() : "");
  s += buf;
  if (n_failed > 0) {
    std::snprintf(buf, sizeof buf, "%lld question(s) FAILED (the backend's errors are in their \"failed\" records; continue with --resume to ask them again)\n",
                  static_cast<long long>(n_failed));
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "latency e2e: mean %.0f ms, p50 %.0f ms, p90 %.0f ms (prefill mean %.1f ms, decode mean %.0f ms)\n",
                e2e_ms.mean, e2e_ms.p50, e2e_ms.p90, prefill_ms.mean, decode_ms.mean);
  s += buf;
  std::snprintf(buf, sizeof buf, "tokens per question: thinking mean %.1f (p90 %.0f), answer mean %.1f (p90 %.0f)\n",
                thinking_tokens.mean, thinking_tokens.p90, answer_tokens.mean, answer_tokens.p90);
  s += buf;
  if (joules_per_question) {
    std::snprintf(buf, sizeof buf, "energy: %.3f J per question (%s, %s)\n", *joules_per_question, energy_source.c_str(),
                  energy_estimated ? "ESTIMATED" : "measured");
  }
  else std::snprintf(buf, sizeof buf, "energy: not measured\n");
  s += buf;
  std::snprintf(buf, sizeof buf, "grader %s; %lld malformed dataset line(s) skipped%s\n", std::string(kGraderVersion).c_str(),
                static_cast<long long>(skipped_lines), interrupted ? "; INTERRUPTED (continue with --resume)" : "");
  s += buf;
  return s;
}

Result<EvalSummary> run_eval(const Dataset& ds, const SolveFn& solve, const EvalOptions& o) {
  if (o.offset < 0) return Status::invalid("${offset} must be >= 0");
  if (o.limit < -1 || o.limit == 0) return Status::invalid("${limit} must be >= 1");
  const int64_t n_all = static_cast<int64_t>(ds.questions.size());
  if (o.offset >= n_all) {
    return Status::invalid("${offset} " + std::to_string(o.offset) + " is past the end of the dataset (" +
                           std::to_string(n_all) + " questions)");
  }
  const int64_t end = o.limit < 0 ? n_all : std::min(n_all, o.offset + o.limit);
  const int64_t n_selected = end - o.offset;
  const bool to_stdout = o.output_path.empty() || o.output_path == "-";
  if (o.resume && to_stdout) return Status::invalid("${resume} needs an output file (${output})");
  if (o.resume && o.overwrite) return Status::invalid("${resume} and ${overwrite} exclude each other");

  const ordered_json header = header_record(ds, o);
  std::vector<ordered_json> records;
  std::set<std::string> done_ids;
  std::FILE* out = stdout;
  bool write_header = true;
  if (!to_stdout) {
    std::error_code ec;
    const bool exists = fs::exists(o.output_path, ec) && fs::file_size(o.output_path, ec) > 0;
    if (exists && !o.resume && !o.overwrite) {
      return Status::invalid("output '" + o.output_path + "' exists; give ${resume} to continue it or ${overwrite} to replace it");
    }
    if (exists && o.resume) {
      ER_ASSIGN_OR_RETURN(ExistingOutput ex, read_existing(o.output_path, header));
      if (ex.torn) {
        fs::resize_file(o.output_path, ex.good_bytes, ec);
        if (ec) return Status::io_error("${resume}: cannot truncate the torn last line of '" + o.output_path + "': " + ec.message());
        std::fprintf(stderr, "eval: %s: dropped a torn last line (an interrupted write)\n", o.output_path.c_str());
      }
      write_header = !ex.has_header;
      for (auto& r : ex.records) done_ids.insert(r.value("id", std::string()));
      records = std::move(ex.records);
    }
    out = std::fopen(o.output_path.c_str(), (o.resume && exists) ? "ab" : "wb");
    if (out == nullptr) return Status::io_error("cannot open output '" + o.output_path + "' for writing");
  }
  auto write_line = [&](const ordered_json& j) -> Status {
    // Model text may hold invalid UTF-8 (a multi-byte character cut by the token limit): U+FFFD.
    const std::string s = j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
    if (std::fwrite(s.data(), 1, s.size(), out) != s.size() || std::fflush(out) != 0) {
      return Status::io_error("write error on '" + (to_stdout ? std::string("stdout") : o.output_path) + "'");
    }
    return Status::ok();
  };
  auto close_out = [&] {
    if (out != stdout) std::fclose(out);
  };
  if (write_header) {
    if (Status st = write_line(header); !st.is_ok()) {
      close_out();
      return st;
    }
  }

  // Keep only records of the selected questions in the summary (a resumed file may hold others).
  std::set<std::string> selected_ids;
  for (int64_t k = o.offset; k < end; ++k) selected_ids.insert(ds.questions[static_cast<size_t>(k)].id);
  std::vector<ordered_json> selected;
  for (auto& r : records)
    if (selected_ids.count(r.value("id", std::string()))) selected.push_back(r);
  int64_t already = static_cast<int64_t>(selected.size());
  int64_t correct = 0;
  for (const auto& r : selected) correct += r.value("correct", false) ? 1 : 0;

  Progress progress(o, n_selected);
  progress.update(already, correct);
  int64_t n_new = 0, n_failed = 0;
  bool interrupted = false;
  for (int64_t k = o.offset; k < end; ++k) {
    const Question& q = ds.questions[static_cast<size_t>(k)];
    if (done_ids.count(q.id)) continue;
    if (o.interrupted && o.interrupted()) {
      interrupted = true;
      break;
    }
    Result<SolveOutcome> res = solve(q, task_prompt(ds.task, q));
    if (!res.is_ok()) {
      close_out();
      progress.finish_line();
      return res.status().with_context("question '" + q.id + "' (" + ds.path + ":" + std::to_string(q.line) + ")");
    }
    if (res->cancelled) {  // never record a half-answered question: --resume will redo it
      interrupted = true;
      break;
    }
    if (!res->failure.empty()) {  // recorded with its reason, not graded; --resume asks again
      ordered_json rec;
      rec["record"] = "failed";
      rec["id"] = q.id;
      rec["dataset"] = ds.name;
      rec["index"] = q.index;
      rec["failure"] = res->failure;
      rec["reason"] = res->failure_reason;
      rec["e2e_ms"] = res->e2e_ms;
      if (Status st = write_line(rec); !st.is_ok()) {
        close_out();
        return st;
      }
      ++n_failed;
      progress.update(already + n_new, correct);
      continue;
    }
    if (res->paths.empty()) {
      close_out();
      return Status::internal("the solver returned no path for question '" + q.id + "'");
    }
    ordered_json rec = make_question_record(ds, q, *res, o.save_text);
    if (Status st = write_line(rec); !st.is_ok()) {
      close_out();
      return st;
    }
    correct += rec.value("correct", false) ? 1 : 0;
    selected.push_back(std::move(rec));
    done_ids.insert(q.id);
    ++n_new;
    progress.update(already + n_new, correct);
  }
  if (interrupted) progress.finish_line();
  close_out();
  EvalSummary s = summarize_records(ds, selected, n_selected);
  s.n_new = n_new;
  s.n_failed = n_failed;
  s.interrupted = interrupted;
  return s;
}

Status write_summary_json(const std::string& path, const ordered_json& summary) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::io_error("${summary_json} '" + path + "': cannot open for writing");
  out << summary.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  if (!out) return Status::io_error("${summary_json} '" + path + "': write error");
  return Status::ok();
}

}  // namespace er::eval
