// What build produced a result: the source tree's `git describe` at configure time and the version.
#pragma once

#include <string>

namespace er {

std::string build_commit();   // e.g. "9f783f8-dirty"; "unknown" outside a git checkout
std::string build_version();  // the project version, e.g. "0.1.0"

}  // namespace er
