#include "models/describe.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "spec/circuit.hpp"
#include "spec/validate.hpp"

namespace ns {
namespace {

nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

std::string num(double x) {
  std::ostringstream o;
  o << std::setprecision(10) << x;
  return o.str();
}

}  // namespace

nlohmann::json models_json() {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& n : model_names()) {
    const ModelDesc& m = *find_model(n);
    a.push_back({{"name", m.name}, {"kind", kind_name(m.kind)}, {"description", m.description}});
  }
  return a;
}

nlohmann::json model_json(const ModelDesc& m) {
  nlohmann::json ps = nlohmann::json::array(), st = nlohmann::json::array(), pr = nlohmann::json::array();
  for (const auto& p : m.params) {
    if (is_hidden_name(p.name)) continue;
    const Range& r = p.range;
    ps.push_back({{"name", p.name}, {"unit", p.unit}, {"default", p.default_value}, {"doc", p.doc},
                  {"lower", finite_or_null(r.lo)}, {"lower_inclusive", !r.lo_open},
                  {"upper", finite_or_null(r.hi)}, {"upper_inclusive", !r.hi_open},
                  {"integer", r.integer}, {"rule", range_text(p)}, {"source", p.source ? p.source : ""}});
  }
  for (const auto& s : m.state) {
    if (is_hidden_name(s.name)) continue;
    st.push_back({{"name", s.name}, {"unit", s.unit}, {"initial", finite_or_null(s.initial)},
                  {"start_param", s.start_param ? nlohmann::json(s.start_param) : nlohmann::json(nullptr)}});
  }
  for (const auto& p : m.presets) {
    nlohmann::json v = nlohmann::json::object();
    for (int q = 0; q < p.n_values; ++q) v[p.values[q].param] = p.values[q].value;
    pr.push_back({{"name", p.name}, {"source", p.source}, {"values", v}});
  }
  return {{"name", m.name}, {"kind", kind_name(m.kind)}, {"description", m.description},
          {"n_observed", m.n_obs}, {"parameters", ps}, {"state", st}, {"presets", pr}};
}

std::string models_text() {
  std::ostringstream o;
  size_t w = 4, wk = 4;
  for (const auto& n : model_names()) {
    w = std::max(w, n.size());
    wk = std::max(wk, std::string(kind_name(find_model(n)->kind)).size());
  }
  o << std::left << std::setw(static_cast<int>(w + 2)) << "name" << std::setw(static_cast<int>(wk + 2)) << "kind"
    << "description\n";
  for (const auto& n : model_names()) {
    const ModelDesc& m = *find_model(n);
    o << std::setw(static_cast<int>(w + 2)) << m.name << std::setw(static_cast<int>(wk + 2)) << kind_name(m.kind)
      << m.description << "\n";
  }
  o << "\n`neurosweep models NAME` lists a model's parameters, state and presets (--json: machine-readable).\n";
  return o.str();
}

std::string model_text(const ModelDesc& m) {
  std::ostringstream o;
  o << m.name << " (" << kind_name(m.kind) << "): " << m.description << "\n\nparameters:\n";
  size_t w = 4, wu = 4, wd = 7;
  for (const auto& s : m.state)
    if (!is_hidden_name(s.name)) w = std::max(w, std::string(s.name).size());
  for (const auto& p : m.params) {
    if (is_hidden_name(p.name)) continue;
    w = std::max(w, std::string(p.name).size());
    wu = std::max(wu, std::string(p.unit).size());
    wd = std::max(wd, num(p.default_value).size());
  }
  o << "  " << std::left << std::setw(static_cast<int>(w + 2)) << "name" << std::setw(static_cast<int>(wu + 2)) << "unit"
    << std::setw(static_cast<int>(wd + 2)) << "default" << "rule / doc\n";
  for (const auto& p : m.params) {
    if (is_hidden_name(p.name)) continue;
    const std::string rule = range_text(p);
    o << "  " << std::setw(static_cast<int>(w + 2)) << p.name << std::setw(static_cast<int>(wu + 2)) << p.unit
      << std::setw(static_cast<int>(wd + 2)) << num(p.default_value) << (rule.empty() ? "" : "[" + rule + "] ")
      << p.doc << (p.source && *p.source ? std::string(" (rule: ") + p.source + ")" : "") << "\n";
  }
  o << "\nstate (default start value; start parameter):\n";
  for (const auto& s : m.state) {
    if (is_hidden_name(s.name)) continue;
    o << "  " << std::setw(static_cast<int>(w + 2)) << s.name << std::setw(static_cast<int>(wu + 2)) << s.unit
      << (std::isfinite(s.initial) ? num(s.initial) : std::string("(from the parameters)"))
      << (s.start_param ? std::string("  set by parameter ") + s.start_param : "") << "\n";
  }
  if (!m.presets.empty()) {
    o << "\npresets (" << m.presets.size() << "):";
    for (const auto& p : m.presets) o << " " << p.name;
    o << "\n";
  }
  return o.str();
}

}  // namespace ns
