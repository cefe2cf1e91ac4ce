// DeviceProfile <-> JSON and profile files (see device_profile.h).
#include "perfmodel/device_profile.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace er::perfmodel {
namespace {

using nlohmann::json;

Status field_error(const std::string& field, const std::string& what) {
  return Status::invalid("field '" + field + "' " + what);
}

Result<const json*> require(const json& j, const std::string& field) {
  const auto it = j.find(field);
  if (it == j.end()) return Status::invalid("missing field '" + field + "'");
  return &*it;
}

Result<std::string> get_text(const json& j, const std::string& field, bool allow_empty) {
  ER_ASSIGN_OR_RETURN(const json* v, require(j, field));
  if (!v->is_string()) return field_error(field, "must be a string");
  if (!allow_empty && v->get<std::string>().empty()) return field_error(field, "must not be empty");
  return v->get<std::string>();
}

Result<std::optional<double>> get_rate(const json& j, const std::string& field, bool nullable) {
  ER_ASSIGN_OR_RETURN(const json* v, require(j, field));
  if (v->is_null() && nullable) return std::optional<double>();
  if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() <= 0) {
    return field_error(field, nullable ? "must be a positive number or null" : "must be a positive number");
  }
  return std::optional<double>(v->get<double>());
}

}  // namespace

nlohmann::ordered_json to_json(const DeviceProfile& p) {
  nlohmann::ordered_json j;
  j["name"] = p.name;
  j["kind"] = p.kind;
  j["mem_bandwidth_gbps"] = p.mem_bandwidth_gbps;
  j["peak_gflops_f32"] = p.peak_gflops_f32 ? json(*p.peak_gflops_f32) : json(nullptr);
  j["peak_gops_int8"] = p.peak_gops_int8 ? json(*p.peak_gops_int8) : json(nullptr);
  j["cpu"] = p.cpu;
  j["n_cores"] = p.n_cores;
  j["isa"] = p.isa;
  j["idle_power_w"] = p.idle_power_w ? json(*p.idle_power_w) : json(nullptr);
  j["max_power_w"] = p.max_power_w ? json(*p.max_power_w) : json(nullptr);
  j["measured"] = p.measured;
  j["source"] = p.source;
  j["date"] = p.date;
  if (!p.probe.is_null()) j["probe"] = p.probe;
  // Perf models.
  if (p.peak_gflops_f16) j["peak_gflops_f16"] = *p.peak_gflops_f16;
  if (!p.models.empty()) {
    nlohmann::ordered_json models = nlohmann::ordered_json::object();
    for (const auto& [name, c] : p.models) models[name] = to_json(c);
    j["models"] = models;
  }
  return j;
}

Result<DeviceProfile> profile_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Status::invalid("a device profile must be a JSON object");
  DeviceProfile p;
  ER_ASSIGN_OR_RETURN(p.name, get_text(j, "name", false));
  ER_ASSIGN_OR_RETURN(p.kind, get_text(j, "kind", false));
  ER_ASSIGN_OR_RETURN(std::optional<double> bw, get_rate(j, "mem_bandwidth_gbps", false));
  p.mem_bandwidth_gbps = *bw;
  ER_ASSIGN_OR_RETURN(p.peak_gflops_f32, get_rate(j, "peak_gflops_f32", true));
  ER_ASSIGN_OR_RETURN(p.peak_gops_int8, get_rate(j, "peak_gops_int8", true));
  ER_ASSIGN_OR_RETURN(p.cpu, get_text(j, "cpu", true));
  ER_ASSIGN_OR_RETURN(const json* cores, require(j, "n_cores"));
  if (!cores->is_number_integer() || cores->get<int64_t>() < 1) return field_error("n_cores", "must be an integer >= 1");
  p.n_cores = cores->get<int64_t>();
  ER_ASSIGN_OR_RETURN(const json* isa, require(j, "isa"));
  if (!isa->is_array()) return field_error("isa", "must be an array of strings");
  for (const json& e : *isa) {
    if (!e.is_string()) return field_error("isa", "must be an array of strings");
    p.isa.push_back(e.get<std::string>());
  }
  // Optional (absent = null): whole-device power, for the estimated energy source.
  for (auto [field, out] : {std::pair{"idle_power_w", &p.idle_power_w}, std::pair{"max_power_w", &p.max_power_w}}) {
    if (j.contains(field)) {
      ER_ASSIGN_OR_RETURN(*out, get_rate(j, field, true));
    }
  }
  if (p.idle_power_w && p.max_power_w && *p.max_power_w < *p.idle_power_w) {
    return field_error("max_power_w", "must not be below idle_power_w");
  }
  ER_ASSIGN_OR_RETURN(const json* measured, require(j, "measured"));
  if (!measured->is_boolean()) return field_error("measured", "must be true or false");
  p.measured = measured->get<bool>();
  ER_ASSIGN_OR_RETURN(p.source, get_text(j, "source", true));
  ER_ASSIGN_OR_RETURN(p.date, get_text(j, "date", true));
  if (const auto it = j.find("probe"); it != j.end()) p.probe = *it;
  // Perf models (optional).
  if (const auto it = j.find("peak_gflops_f16"); it != j.end() && !it->is_null()) {
    ER_ASSIGN_OR_RETURN(p.peak_gflops_f16, get_rate(j, "peak_gflops_f16", true));
  }
  if (const auto it = j.find("models"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return field_error("models", "must be an object keyed by model name");
    for (const auto& [name, value] : it->items()) {
      Result<ModelCoefficients> c = model_coefficients_from_json(value);
      if (!c.is_ok()) return c.status().with_context("models." + name);
      p.models[name] = std::move(*c);
    }
  }
  return p;
}

Result<DeviceProfile> load_device_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("'" + path + "': cannot read the device profile");
  std::ostringstream ss;
  ss << in.rdbuf();
  const json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid("'" + path + "': not valid JSON");
  Result<DeviceProfile> p = profile_from_json(j);
  if (!p.is_ok()) return p.status().with_context("'" + path + "'");
  return p;
}

Status save_device_profile(const DeviceProfile& p, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Status::io_error("'" + path + "': cannot create its directory: " + ec.message());
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::io_error("'" + tmp + "': cannot write");
    out << to_json(p).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    if (!out.flush()) return Status::io_error("'" + tmp + "': write error");
  }
  fs::rename(tmp, target, ec);
  if (ec) return Status::io_error("'" + path + "': cannot replace: " + ec.message());
  return Status::ok();
}

std::string default_profile_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/edgereason/host-profile.json";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/edgereason/host-profile.json";
  return "";
}

}  // namespace er::perfmodel
