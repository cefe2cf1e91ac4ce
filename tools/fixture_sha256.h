// SHA-256 (FIPS 180-4) of a byte buffer, for the fixture manifest.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace er::fixtures {

// Lower-case hex digest of `bytes`.
std::string sha256_hex(std::span<const uint8_t> bytes);

}  // namespace er::fixtures
