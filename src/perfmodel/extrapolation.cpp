// Extrapolation warnings (see extrapolation.h).
#include "perfmodel/extrapolation.h"

#include <algorithm>

namespace er::perfmodel {

namespace {

std::string range_text(const TokenRange& r) {
  return r.min == r.max ? std::to_string(r.min) : std::to_string(r.min) + "-" + std::to_string(r.max);
}

}  // namespace

void ExtrapolationCheck::check(const std::string& quantity, int64_t n_prompt, int64_t n_gen, int64_t lo, int64_t hi,
                               int64_t value_lo, int64_t value_hi) {
  if (value_lo >= lo && value_hi <= hi) return;
  // How far out: the ratio by which the requested span exceeds the range (>= 1).
  double worst = 1;
  if (value_hi > hi) worst = std::max(worst, static_cast<double>(value_hi) / static_cast<double>(std::max<int64_t>(hi, 1)));
  if (value_lo < lo) worst = std::max(worst, static_cast<double>(lo) / static_cast<double>(std::max<int64_t>(value_lo, 1)));
  Outside& o = outside_[quantity];
  ++o.n_outside;
  if (o.n_outside == 1 || worst > o.worst) {
    o.worst = worst;
    o.n_prompt = n_prompt;
    o.n_gen = n_gen;
  }
}

void ExtrapolationCheck::add(int64_t n_prompt, int64_t n_gen, int64_t n_paths) {
  ++n_points_;
  auto range = [&](const std::string& q) -> const FitRange* {
    const auto it = c_.ranges.find(q);
    return it == c_.ranges.end() ? nullptr : &it->second;
  };
  if (c_.prefill) {
    if (const FitRange* r = range("prefill_latency"))
      check("prefill_latency", n_prompt, n_gen, r->n_prompt.min, r->n_prompt.max, n_prompt, n_prompt);
  }
  if (c_.prefill_power) {
    if (const FitRange* r = range("prefill_power"))
      check("prefill_power", n_prompt, n_gen, r->n_prompt.min, r->n_prompt.max, n_prompt, n_prompt);
  }
  if (n_gen > 0) {
    std::string q;
    if (n_paths > 1 && c_.decode_by_paths.count(n_paths)) q = "decode_latency_paths_" + std::to_string(n_paths);
    else if (c_.decode) q = "decode_latency";
    if (const FitRange* r = q.empty() ? nullptr : range(q); r != nullptr && r->context)
      check(q, n_prompt, n_gen, r->context->min, r->context->max, n_prompt, n_prompt + n_gen);
    if (c_.decode_power) {
      const std::string p = c_.decode_power->uses_long_run(n_gen) ? "decode_energy_long" : "decode_power_short";
      if (const FitRange* r = range(p); r != nullptr && r->n_gen)
        check(p, n_prompt, n_gen, r->n_gen->min, r->n_gen->max, n_gen, n_gen);
    }
  }
}

std::vector<std::string> ExtrapolationCheck::warnings() const {
  std::vector<std::string> out;
  for (const auto& [q, o] : outside_) {
    const FitRange& r = c_.ranges.at(q);
    std::string fitted, requested;
    const std::string point = "prompt " + std::to_string(o.n_prompt) + ", output " + std::to_string(o.n_gen);
    if (q == "prefill_latency" || q == "prefill_power") {
      fitted = "prompt " + range_text(r.n_prompt) + " tokens";
      requested = "prompt " + std::to_string(o.n_prompt);
    } else if (r.context && q.rfind("decode_latency", 0) == 0) {
      fitted = "context " + range_text(*r.context) + " tokens (prompt " + range_text(r.n_prompt) + ", output " +
               (r.n_gen ? range_text(*r.n_gen) : std::string("?")) + ")";
      requested = point + " (context " + std::to_string(o.n_prompt) + "-" + std::to_string(o.n_prompt + o.n_gen) + ")";
    } else {
      fitted = "output " + (r.n_gen ? range_text(*r.n_gen) : std::string("?")) + " tokens";
      requested = "output " + std::to_string(o.n_gen);
    }
    std::string line = "extrapolating: " + model_ + " " + q + " was fitted on " + fitted + " (" +
                       std::to_string(r.n_points) + " points); requested " + requested;
    if (n_points_ > 1) {
      line += " (the farthest of " + std::to_string(o.n_outside) + " of " + std::to_string(n_points_) +
              " points outside)";
    }
    out.push_back(line);
  }
  return out;
}

bool ExtrapolationCheck::ranges_unknown() const { return c_.ranges.empty() && !c_.fit.is_null(); }

}  // namespace er::perfmodel
