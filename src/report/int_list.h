// Parses benchmark value lists given on the command line: "a,b,c", "first-last", "first-last+step",
// "first-last*factor", and mixes of these ("1,2,8-32*2").
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace er::report {

// Values of LIST in the order written (duplicates kept). Every item is a non-negative integer or a
// range; a range runs from first to last inclusive, adding `step` (default 1) or multiplying by
// `factor` (>= 2) and stopping before it passes last. Values below `min_value`, empty items,
// descending ranges, zero steps and lists of more than 4096 values are errors; every message starts
// with `flag` and the offending text ("-p '8-4': last 4 is below first 8").
Result<std::vector<int64_t>> parse_int_list(std::string_view text, std::string_view flag, int64_t min_value = 0);

}  // namespace er::report
