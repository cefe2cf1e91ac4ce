// Field -> flag spellings (flag_names.h).
#include "cli/flag_names.h"

#include <utility>

#include "core/status.h"

namespace er::cli {

std::string flag_for_field(std::string_view field) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"max_new_tokens", "-n"},
      {"max_tokens", "-n"},
      {"n_ctx", "-c"},
      {"n_threads", "-t"},
      {"n_paths", "--paths"},
      {"n_seq", "--paths"},
      {"n_slots", "--parallel"},
      {"temperature", "--temp"},
      {"deadline_s", "--deadline"},
      {"deadline_step_s", "--deadline-step-ms"},
      {"deadline_step_per_ctx_s", "--deadline-step-per-ctx-ms"},
      {"power_interval_ms", "--power-interval"},
      {"prompt", "the prompt (-p/-f)"},
      {"output", "-o"},
      {"model", "-m"},
      {"draft_model", "--draft"},
  };
  for (const auto& [f, flag] : kFlags) {
    if (f == field) return std::string(flag);
  }
  std::string flag = "--";
  for (char c : field) flag += c == '_' ? '-' : c;
  return flag;
}

std::string with_flags(const std::string& library_text) {
  return Status::invalid(library_text).renamed(flag_for_field).message();
}

}  // namespace er::cli
