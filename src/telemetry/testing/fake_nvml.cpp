// A stand-in libnvidia-ml for tests of the NVML source (dlopen'ed by path): two GPUs whose energy
// counters grow by 500 mJ and 250 mJ per read, drawing 150 W and 50 W. FAKE_NVML_NO_ENERGY=1 makes
// the energy counter NOT_SUPPORTED, FAKE_NVML_NO_POWER=1 the power reading too (as on Jetson).
#include <cstdlib>
#include <cstring>

namespace {
struct FakeDevice {
  unsigned long long energy_mj;
  unsigned long long step_mj;
  unsigned int power_mw;
};
FakeDevice g_devices[2] = {{1000000, 500, 150000}, {2000000, 250, 50000}};
bool g_no_energy = false;
bool g_no_power = false;
constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotSupported = 3;
bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}
}  // namespace

extern "C" {
__attribute__((visibility("default"))) int nvmlInit_v2() {
  g_no_energy = env_set("FAKE_NVML_NO_ENERGY");
  g_no_power = env_set("FAKE_NVML_NO_POWER");
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlShutdown() { return kSuccess; }
__attribute__((visibility("default"))) int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 2;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void** device) {
  if (i >= 2) return kInvalidArgument;
  *device = &g_devices[i];
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* mj) {
  if (g_no_energy) return kNotSupported;
  FakeDevice* d = static_cast<FakeDevice*>(device);
  d->energy_mj += d->step_mj;
  *mj = d->energy_mj;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetPowerUsage(void* device, unsigned int* mw) {
  if (g_no_power) return kNotSupported;
  *mw = static_cast<FakeDevice*>(device)->power_mw;
  return kSuccess;
}
__attribute__((visibility("default"))) const char* nvmlErrorString(int rc) {
  return rc == kNotSupported ? "Not Supported" : rc == kSuccess ? "Success" : "Unknown Error";
}
}
