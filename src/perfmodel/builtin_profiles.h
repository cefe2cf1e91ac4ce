// Built-in device profiles: the Jetson modules of reference.md §3 (datasheet), the study's Orin
// with its fitted coefficients and measurements ("orin-agx-64-vllm-fp16"), and "host" (this
// machine, from `probe`). `--device` takes one of these names or a profile JSON path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "perfmodel/device_profile.h"

namespace er::perfmodel {

// Every name resolve_device() accepts besides a path, "host" first.
std::vector<std::string> builtin_profile_names();

// A datasheet / study profile by name; empty for unknown names and for "host".
std::optional<DeviceProfile> builtin_profile(const std::string& name);

// --device SPEC: "host" (the profile `probe -o` saved; else a quick 2-second probe, and *note says
// so), a built-in name, or a JSON file. Errors for unknown names list the built-in ones.
Result<DeviceProfile> resolve_device(const std::string& spec, std::string* note);

}  // namespace er::perfmodel
