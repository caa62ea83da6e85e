#include "spec/nest_params.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "spec/json_input.hpp"
#include "spec/validate.hpp"

namespace ns {

namespace {

// A value of the file against the parameter's range (spec/validate.hpp), naming file, key, value.
void check_range(const ModelDesc& model, const std::string& path, const std::string& key, int k,
                 const std::vector<double>& p) {
  const std::string v = range_violation(model.params[static_cast<size_t>(k)], p[static_cast<size_t>(k)]);
  if (!v.empty()) {
    std::ostringstream o;
    o.precision(10);
    o << path << ": parameter '" << key << "' = " << p[static_cast<size_t>(k)] << " for model '" << model.name
      << "': expected " << v;
    throw SpecError(o.str());
  }
}

// NEST array parameters (glif_psc: asc_init, asc_decay, asc_amps, asc_r, tau_syn) are stored as
// name_0, name_1, ... The after-spike-current arrays must have exactly that many entries. tau_syn
// is NEST's list of receptor ports (its length = the number of ports, glif_psc.cpp): 1 up to the
// model's maximum (tau_syn_0 .. tau_syn_{max-1}) entries are accepted; one entry (NEST's default:
// one port that takes every input) sets every port, so both Poisson trains see it; with more,
// the ports beyond the array keep their defaults (no train should be routed there).
void set_array(const ModelDesc& model, const std::string& path, const std::string& key,
               const nlohmann::json& v, std::vector<double>& p) {
  std::vector<int> idx;
  for (int i = 0;; ++i) {
    const int k = model.param_index(key + "_" + std::to_string(i));
    if (k < 0) break;
    idx.push_back(k);
  }
  const bool ports = key == "tau_syn";
  const bool broadcast = ports && v.size() == 1;
  const bool size_ok = ports ? (v.size() >= 1 && v.size() <= idx.size()) : v.size() == idx.size();
  if (!size_ok) {
    std::ostringstream o;
    o << path << ": parameter '" << key << "' = " << v.dump() << " has " << v.size()
      << " entries; model '" << model.name << "' supports "
      << (ports ? "1 to " : "exactly ") << idx.size() << " (" << key << "_0 .. " << key << "_"
      << idx.size() - 1 << (ports ? ", one per receptor port" : "") << ")";
    throw SpecError(o.str());
  }
  const size_t n_set = broadcast ? idx.size() : v.size();
  for (size_t i = 0; i < n_set; ++i) {
    const auto& e = v[broadcast ? 0 : i];
    if (!e.is_number() || !std::isfinite(e.get<double>()))
      throw SpecError(path + ": parameter '" + key + "' entry " + std::to_string(i) +
                      " must be a finite number, got " + e.dump());
    p[static_cast<size_t>(idx[i])] = e.get<double>();
    check_range(model, path, key + "[" + std::to_string(i) + "]", idx[i], p);
  }
}

}  // namespace

std::vector<double> load_dynamics_params(const ModelDesc& model, const std::string& path) {
  std::vector<double> p = model.defaults();
  apply_dynamics_params(model, path, p);
  return p;
}

void apply_dynamics_params(const ModelDesc& model, const std::string& path, std::vector<double>& p) {
  const nlohmann::json j = load_json_file(path, "dynamics_params file");  // bounded, SpecError
  if (!j.is_object())
    throw SpecError(path + ": top level must be an object of parameter names to numbers, got " +
                    j.dump().substr(0, 80));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const int k = model.param_index(key);
    if (k < 0 && it.value().is_array() && model.param_index(key + "_0") >= 0) {
      set_array(model, path, key, it.value(), p);
      continue;
    }
    if (k < 0) {
      std::ostringstream o;
      o << path << ": unknown parameter '" << key << "' (value " << it.value().dump()
        << ") for model '" << model.name << "'; valid names:";
      for (const auto& pi : model.params) o << ' ' << pi.name;
      throw SpecError(o.str());
    }
    const auto& v = it.value();
    double x;
    if (v.is_boolean()) {
      x = v.get<bool>() ? 1.0 : 0.0;
    } else if (v.is_number()) {
      x = v.get<double>();
    } else {
      throw SpecError(path + ": parameter '" + key + "' must be a number, got " + v.dump());
    }
    if (!std::isfinite(x))
      throw SpecError(path + ": parameter '" + key + "' must be finite, got " + v.dump());
    p[static_cast<size_t>(k)] = x;
    check_range(model, path, key, k, p);
  }
}

}  // namespace ns
