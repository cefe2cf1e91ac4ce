// A results database filled by the fake backend, for the report tests.
#pragma once

#include <string>

#include "study/runner.h"
#include "study_fake.h"

namespace er::study::testing {

// Writes a sweep of 3 policies (budgets 8, 16) × N ∈ {1, 4} × 6 questions into `db`, with a
// decode fit for N = 1 so that the fitted curve is drawn.
inline Status make_report_db(const std::string& db, const std::string& model = "m") {
  auto cfg = parse_sweep_config(
      "name = \"report-test\"\nmodels = \"" + model + "\"\npolicies = [\"unlimited\", \"think-budget\", \"no-think\"]\n"
      "budgets = [8, 16]\npaths = [1, 4]\ntemperature = 0.5\nmax_tokens = 32\n"
      "[[slices]]\ndataset = \"gsm8k\"\nlimit = 6\n",
      "report.toml", {});
  if (!cfg) return cfg.status();
  ER_ASSIGN_OR_RETURN(auto store, Store::open(db, Store::Mode::kReadWrite));
  FakeBackend fake(6);
  SweepOptions o;
  o.progress = ProgressStyle::kOff;
  auto sum = run_sweep(*cfg, *store, fake, o);
  if (!sum) return sum.status();
  nlohmann::ordered_json fit;
  fit["coefficients"]["decode"] = {{"m", 1e-6}, {"n", 0.002}};
  return store->set_fit(model, fit);
}

}  // namespace er::study::testing
