// Where a fitted model holds: each fit records the range of inputs it saw (FitRange, kept with the
// coefficients), and a prediction outside that range is an extrapolation. This check notes the
// points a prediction asks for and says, one line per fit, which fits were used outside their
// range (`predict`, `plan --device`, `run --deadline` print its lines).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "perfmodel/analytic.h"

namespace er::perfmodel {

class ExtrapolationCheck {
 public:
  // `model` names the model in the lines; `c` must outlive the check.
  ExtrapolationCheck(const ModelCoefficients& c, std::string model) : c_(c), model_(std::move(model)) {}

  // One predicted point: I prompt tokens, O generated tokens per path, N paths. The quantities a
  // prediction there uses and the input each depends on:
  //   prefill_latency, prefill_power: I within the fit's prompt range;
  //   decode_latency (decode_latency_paths_N when fitted for N, else the one-path fit): every
  //     context decoded, I to I + O, within the fit's context range (O > 0);
  //   decode_power_short (O <= short_max_tokens) / decode_energy_long (above): O within its range.
  // Quantities the coefficients lack, or fitted without a recorded range, are not checked.
  void add(int64_t n_prompt, int64_t n_gen, int64_t n_paths);

  // One line per fit that some point left, in quantity order: the model, the fit, its range and
  // the requested point (the farthest outside, with how many of the points were outside when
  // there were several). Empty when every point lies within every range.
  std::vector<std::string> warnings() const;

  // True when the coefficients come from `edgereason fit` (they carry a fit report) but hold no
  // ranges: fitted before ranges were recorded, so extrapolation cannot be checked.
  bool ranges_unknown() const;

 private:
  struct Outside {
    int64_t n_outside = 0;
    double worst = 0;  // how far the farthest point lies outside (a ratio >= 1)
    int64_t n_prompt = 0, n_gen = 0;
  };
  void check(const std::string& quantity, int64_t n_prompt, int64_t n_gen, int64_t lo, int64_t hi, int64_t value_lo,
             int64_t value_hi);

  const ModelCoefficients& c_;
  std::string model_;
  int64_t n_points_ = 0;
  std::map<std::string, Outside> outside_;
};

}  // namespace er::perfmodel
