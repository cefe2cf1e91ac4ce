// Build identification compiled in by src/core/CMakeLists.txt (see build_info.h).
#include "core/build_info.h"

#ifndef ER_BUILD_COMMIT
#define ER_BUILD_COMMIT "unknown"
#endif
#ifndef ER_BUILD_VERSION
#define ER_BUILD_VERSION "unknown"
#endif

namespace er {

std::string build_commit() { return ER_BUILD_COMMIT; }
std::string build_version() { return ER_BUILD_VERSION; }

}  // namespace er
