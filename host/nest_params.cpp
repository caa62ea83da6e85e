#include "nest_params.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace ns {

std::vector<double> load_dynamics_params(const ModelDesc& model, const std::string& path) {
  std::ifstream f(path);
  if (!f) throw SpecError(path + ": cannot open dynamics_params file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::parse_error& e) {
    throw SpecError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object())
    throw SpecError(path + ": top level must be an object of parameter names to numbers, got " +
                    j.dump().substr(0, 80));
  std::vector<double> p = model.defaults();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const int k = model.param_index(key);
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
  }
  return p;
}

}  // namespace ns
