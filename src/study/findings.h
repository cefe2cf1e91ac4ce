// The EdgeReasoning paper's findings (arXiv 2511.01866), checked against a results database: for
// each finding the paper's claim with its numbers (a table in code, read from no file), our measurement on this host with its 95% interval, a verdict with its
// reason, and the command that reproduces it. Verdict rules: docs/study.md, "Findings".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "study/store.h"

namespace er::study {

// reproduced: the data decide for the paper's claim; not_reproduced: they decide against it;
// inconclusive: the data are there but cannot decide (95% intervals overlap, or hold 0);
// not_measurable: the database lacks what the check needs (the reason says what, the command how).
enum class Verdict { kReproduced, kNotReproduced, kInconclusive, kNotMeasurable };
std::string_view verdict_name(Verdict v);  // "reproduced", "not reproduced", "inconclusive", "not measurable here"

// What the findings need to know of a model: its size (parameters) and weight precision.
struct ModelInfo {
  std::optional<double> params;  // parameters (all tensors)
  int weight_bits = 0;           // of the main weight type: 4, 5, 6, 8, 16, 32; 0 = unknown
  std::string weight_type;       // "q4_1", "f16", ... ("" when unknown)
  std::string source;            // "GGUF metadata (PATH)" or "name"
};
using ModelInfoFn = std::function<ModelInfo(const std::string& model)>;

// From the name alone: a size such as "1.5b" or "270m" in it, a type such as "q4_0", "q8_0",
// "f16" or "bf16" as a word of it.
ModelInfo model_info_from_name(const std::string& model);
// The installed GGUF file's tensor table when `model` resolves to one (model::resolve_model; the
// metadata only, no weights loaded), else model_info_from_name.
ModelInfo model_info(const std::string& model);

// One claim of the paper, as data: what it says, with its numbers.
struct PaperClaim {
  std::string id;     // "decode-share", ...
  std::string title;  // "Decode dominates latency"
  std::string claim;  // the paper's words and numbers, with where (device, engine, benchmark)
};
// The paper's claims the findings check, in order. Source: EdgeReasoning, arXiv 2511.01866.
const std::vector<PaperClaim>& paper_claims();
inline constexpr const char* kPaperCitation = "EdgeReasoning (arXiv 2511.01866)";

struct Finding {
  std::string id, title;
  std::string claim;        // the paper's claim with its numbers
  std::string measurement;  // ours, with 95% intervals ("—" when nothing could be measured)
  Verdict verdict = Verdict::kNotMeasurable;
  std::string reason;       // why this verdict
  std::string command;      // what reproduces it (or makes it measurable)
  nlohmann::ordered_json data = nlohmann::ordered_json::object();  // the numbers behind the measurement
};

struct FindingsOptions {
  std::string db_path = "results.db";  // named in the commands
  ModelInfoFn model_info;              // empty: study::model_info
};

// Thresholds of the verdict rules (docs/study.md, "Findings").
inline constexpr double kDecodeShareThreshold = 0.90;  // decode share of latency at the paper's I/O shape
inline constexpr int64_t kPaperPrompt = 512;           // the paper's I/O shape: I = 512, O = 1024
inline constexpr int64_t kPaperOutput = 1024;

// Checks every finding on the database's configurations, questions and fits.
std::vector<Finding> check_findings(const std::vector<ConfigRow>& configs, const std::vector<QuestionRow>& questions,
                                    const std::vector<FitRow>& fits, const FindingsOptions& o = {});
// Reads what it needs from an opened store.
Result<std::vector<Finding>> check_findings(Store& store, const FindingsOptions& o = {});

// The table: markdown (claim | measurement | verdict | command), plain text, JSON.
std::string findings_markdown(const std::vector<Finding>& f);
std::string findings_text(const std::vector<Finding>& f);
nlohmann::ordered_json findings_json(const std::vector<Finding>& f);

}  // namespace er::study
