// Fits perfmodel's analytic models (prefill / decode latency, per path count; power when energy
// was recorded) on a results database's questions, and on the study's bench grid where the
// questions do not reach the contexts the study's configurations decode, and stores them in its
// fits table (each fit with the range of inputs it saw).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "study/grid.h"
#include "study/runner.h"
#include "study/store.h"

namespace er::study {

// One measured point of the bench grid: a prompt of n_prompt tokens, then n_gen tokens per path
// (end of sequence ignored), on a cell's model, threads and paths.
struct GridPoint {
  std::string model;  // perfmodel's key (the file stem; "SERVED@BACKEND" for a server)
  int64_t paths = 1;
  int64_t threads = 1;
  int64_t n_prompt = 0;
  int64_t n_gen = 0;  // generated tokens per path (decode steps: n_gen − 1)
  double prefill_ms = 0;
  double decode_ms = 0;
};

// A grid point to measure, with the cell whose model, threads and paths it runs under.
struct GridRequest {
  Cell cell;
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
};

// The bench grid the study's fits need. For each model and path count of `cells` with questions
// in the database, the plans use prompts from the shortest to the longest question's and decode up
// to the cells' max_tokens per path, so the decode fit must have seen contexts up to the longest
// prompt + max_tokens − 1. Where neither the questions (decode steps = longest path − 1) nor the
// grid points already stored reach that, two points are asked for: the shortest and the longest
// prompt, each with max_tokens tokens per path. Empty when everything is covered.
Result<std::vector<GridRequest>> bench_grid_plan(const std::vector<Cell>& cells, Store& store);

// Measures the requests through the backend's bench_point, one line each on `progress` (null:
// quiet), stopping early when `interrupted` says so. A backend that cannot (unsupported, a failed
// request) ends the grid there: what was measured is returned and *note says why.
std::vector<GridPoint> run_bench_grid(const std::vector<GridRequest>& requests, CellBackend& backend,
                                      const std::function<bool()>& interrupted, std::FILE* progress, std::string* note);

// Fits every model on its questions and its bench grid points (those stored with its previous
// fit, replaced by `new_points` measured at the same size, plus the new ones; kept in the fit's
// "bench_grid"). Returns a short note (what was fitted, held-out error, coefficients held at 0).
// Not enough points is a note, not an error.
Result<std::string> fit_and_store(Store& store, const std::vector<GridPoint>& new_points = {});

}  // namespace er::study
