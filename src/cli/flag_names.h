// The command line's spelling of the inputs the libraries name in their messages (${field}, see
// core/status.h): "${think_budget} must be ..." is printed as "--think-budget must be ...".
#pragma once

#include <string>
#include <string_view>

namespace er::cli {

// The flag for a library field: a table for the fields whose flag differs from the field
// (n_ctx -> -c, temperature -> --temp, ...), else "--" + the field with '_' as '-'.
std::string flag_for_field(std::string_view field);

// A library text that is not a Status (a skipped line's reason, a warning) with its ${field}
// markers spelled as flags.
std::string with_flags(const std::string& library_text);

}  // namespace er::cli
