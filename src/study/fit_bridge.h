// Fits perfmodel's analytic models (prefill / decode latency, per path count; power when energy
// was recorded) on a results database's questions and stores them in its fits table.
#pragma once

#include <string>

#include "core/status.h"
#include "study/store.h"

namespace er::study {

// Returns a short note (what was fitted, held-out error). Not enough points is a note, not an error.
Result<std::string> fit_and_store(Store& store);

}  // namespace er::study
