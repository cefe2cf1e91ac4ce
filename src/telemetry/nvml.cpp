// NVIDIA NVML loaded at run time with dlopen: no CUDA headers or link dependency. The few entry
// points used are declared here with the C types of nvml.h.
#include <dlfcn.h>

#include "telemetry/power_source.h"

namespace er::telemetry {
namespace {

// From nvml.h: nvmlReturn_t is an int enum (0 = NVML_SUCCESS), nvmlDevice_t an opaque pointer.
using NvmlReturn = int;
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr NvmlReturn kNvmlSuccess = 0;

struct NvmlApi {
  NvmlReturn (*init)() = nullptr;                                            // nvmlInit_v2
  NvmlReturn (*shutdown)() = nullptr;                                        // nvmlShutdown
  NvmlReturn (*device_count)(unsigned int*) = nullptr;                       // nvmlDeviceGetCount_v2
  NvmlReturn (*device_handle)(unsigned int, NvmlDevice*) = nullptr;          // nvmlDeviceGetHandleByIndex_v2
  NvmlReturn (*total_energy_mj)(NvmlDevice, unsigned long long*) = nullptr;  // nvmlDeviceGetTotalEnergyConsumption
  NvmlReturn (*power_mw)(NvmlDevice, unsigned int*) = nullptr;               // nvmlDeviceGetPowerUsage
  const char* (*error_string)(NvmlReturn) = nullptr;                         // nvmlErrorString
};

template <typename F>
bool bind(void* lib, const char* symbol, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, symbol));
  return *out != nullptr;
}

class NvmlSource final : public PowerSource {
 public:
  NvmlSource(void* lib, NvmlApi api, std::vector<NvmlDevice> devices, bool energy_counter, std::string rail,
             std::string detail)
      : lib_(lib), api_(api), devices_(std::move(devices)), energy_(energy_counter), rail_(std::move(rail)),
        detail_(std::move(detail)) {}
  ~NvmlSource() override {
    api_.shutdown();
    dlclose(lib_);
  }
  const std::string& name() const override { return name_; }
  const std::string& rail() const override { return rail_; }
  bool estimated() const override { return false; }
  ReadingKind kind() const override { return energy_ ? ReadingKind::kEnergyJ : ReadingKind::kPowerW; }
  const std::string& detail() const override { return detail_; }

  Reading read(Clock::time_point) override {
    double sum = 0;
    for (NvmlDevice d : devices_) {
      if (energy_) {
        unsigned long long mj = 0;
        if (api_.total_energy_mj(d, &mj) != kNvmlSuccess) return {false, 0};
        sum += static_cast<double>(mj) * 1e-3;
      } else {
        unsigned int mw = 0;
        if (api_.power_mw(d, &mw) != kNvmlSuccess) return {false, 0};
        sum += static_cast<double>(mw) * 1e-3;
      }
    }
    return {true, sum};
  }

 private:
  std::string name_ = "nvml";
  void* lib_;
  NvmlApi api_;
  std::vector<NvmlDevice> devices_;
  bool energy_;
  std::string rail_;
  std::string detail_;
};

}  // namespace

Result<std::unique_ptr<PowerSource>> open_nvml(const std::string& library) {
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return Status::unsupported("nvml: cannot load '" + library + "' (" + (why ? why : "unknown error") + ")");
  }
  NvmlApi api;
  if (!bind(lib, "nvmlInit_v2", &api.init) || !bind(lib, "nvmlShutdown", &api.shutdown) ||
      !bind(lib, "nvmlDeviceGetCount_v2", &api.device_count) ||
      !bind(lib, "nvmlDeviceGetHandleByIndex_v2", &api.device_handle) ||
      !bind(lib, "nvmlDeviceGetTotalEnergyConsumption", &api.total_energy_mj) ||
      !bind(lib, "nvmlDeviceGetPowerUsage", &api.power_mw) || !bind(lib, "nvmlErrorString", &api.error_string)) {
    dlclose(lib);
    return Status::unsupported("nvml: '" + library + "' lacks an NVML entry point (too old a driver?)");
  }
  auto fail = [&](const std::string& what, NvmlReturn rc, bool initialized) -> Status {
    const std::string msg = "nvml: " + what + ": " + api.error_string(rc);
    if (initialized) api.shutdown();
    dlclose(lib);
    return Status::unsupported(msg);
  };
  if (NvmlReturn rc = api.init(); rc != kNvmlSuccess) return fail("nvmlInit", rc, false);
  unsigned int n = 0;
  if (NvmlReturn rc = api.device_count(&n); rc != kNvmlSuccess) return fail("nvmlDeviceGetCount", rc, true);
  if (n == 0) {
    api.shutdown();
    dlclose(lib);
    return Status::unsupported("nvml: no GPU");
  }
  std::vector<NvmlDevice> devices(n);
  for (unsigned int i = 0; i < n; ++i) {
    if (NvmlReturn rc = api.device_handle(i, &devices[i]); rc != kNvmlSuccess) {
      return fail("nvmlDeviceGetHandleByIndex(" + std::to_string(i) + ")", rc, true);
    }
  }
  // The energy counter (Volta and newer) when every GPU has it; else averaged power (NVML answers
  // NOT_SUPPORTED for both on Jetson).
  bool energy = true;
  NvmlReturn energy_rc = kNvmlSuccess;
  for (NvmlDevice d : devices) {
    unsigned long long mj = 0;
    if (NvmlReturn rc = api.total_energy_mj(d, &mj); rc != kNvmlSuccess) {
      energy = false;
      energy_rc = rc;
    }
  }
  if (!energy) {
    for (NvmlDevice d : devices) {
      unsigned int mw = 0;
      if (NvmlReturn rc = api.power_mw(d, &mw); rc != kNvmlSuccess) {
        return fail(std::string("no energy counter (") + api.error_string(energy_rc) + ") nor power reading", rc, true);
      }
    }
  }
  std::string rail;
  for (unsigned int i = 0; i < n; ++i) rail += (i ? "+gpu" : "gpu") + std::to_string(i);
  const std::string detail = std::string(energy ? "nvmlDeviceGetTotalEnergyConsumption (mJ counter)"
                                                : "nvmlDeviceGetPowerUsage (mW, averaged by the driver over ~1 s)") +
                             " via " + library;
  return std::unique_ptr<PowerSource>(new NvmlSource(lib, api, std::move(devices), energy, rail, detail));
}

}  // namespace er::telemetry
