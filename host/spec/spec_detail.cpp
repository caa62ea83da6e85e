// Value readers and messages of the sweep-spec parser (spec_detail.hpp).
#include "spec/spec_detail.hpp"

namespace ns::spec_detail {

std::string fmt_num(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {  // shortest form that reads back exactly
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

std::string show(const json& v) {
  if (v.is_number_float()) return fmt_num(v.get<double>());
  std::string s = v.dump();
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    default: return "a number";
  }
}

std::string kpath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}
std::string ipath(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t k = 0; k < v.size(); ++k) s += (k ? sep : "") + v[k];
  return s;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Closest candidate within a small edit distance (case-insensitive), or "".
std::string closest(const std::string& s, const std::vector<std::string>& cands) {
  std::string best;
  size_t best_d = std::max<size_t>(2, s.size() / 3) + 1;
  for (const auto& c : cands) {
    const size_t d = edit_distance(lower(s), lower(c));
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& s, const std::vector<std::string>& cands) {
  const std::string c = closest(s, cands);
  return c.empty() ? "" : " (did you mean \"" + c + "\"?)";
}


void check_finite(const Ctx& c, const std::string& path, const json& v) {
  if (v.is_number_float() && !std::isfinite(v.get<double>()))
    c.bad(path, v, "a finite number (NaN and infinities are not allowed anywhere)");
  if (v.is_object())
    for (auto it = v.begin(); it != v.end(); ++it) check_finite(c, kpath(path, it.key()), *it);
  if (v.is_array())
    for (size_t k = 0; k < v.size(); ++k) check_finite(c, ipath(path, k), v[k]);
}

// A quantity with a unit: "0.05 ms", or {"value": 0.05, "unit": "ms"}. A bare number is refused
// (ambiguous); `example_unit` completes the suggested spelling. The caller checks the unit.
std::pair<double, std::string> quantity(const Ctx& c, const std::string& path, const json& v,
                                        const std::string& expect, const char* example_unit) {
  double value = 0;
  std::string unit;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const char* b = s.c_str();
    char* e = nullptr;
    value = std::strtod(b, &e);
    if (e == b) c.bad(path, v, expect);
    unit = e;
    unit.erase(0, unit.find_first_not_of(" \t"));
    unit.erase(unit.find_last_not_of(" \t") + 1);
  } else if (v.is_object()) {
    c.keys(path, v, {"value", "unit"});
    value = c.number(kpath(path, "value"), c.require(path, v, "value"));
    unit = c.str(kpath(path, "unit"), c.require(path, v, "unit"));
  } else if (v.is_number()) {
    c.bad(path, v, expect + " (a bare number is ambiguous: write \"" + show(v) + " " + example_unit + "\")");
  } else {
    c.bad(path, v, expect);
  }
  return {value, unit};
}

double duration(const Ctx& c, const std::string& path, const json& v) {
  const std::string expect =
      "a duration with a unit: \"0.05 ms\", \"10 s\" or {\"value\": 0.05, \"unit\": \"ms\"}";
  const auto [value, unit] = quantity(c, path, v, expect, "ms");
  if (!std::isfinite(value)) c.bad(path, v, "a finite duration");
  if (unit == "ms") return value;
  if (unit == "s") return value * 1000.0;
  c.bad(path, v, expect + "; the unit must be \"ms\" or \"s\"");
}

// Whole number of steps of dt in dur (to within 1e-9 relative).
int64_t steps_of(const Ctx& c, const std::string& path, const json& v, double dur, double dt) {
  const double r = dur / dt;
  if (r > 9.0e15) c.bad(path, v, "fewer than 9e15 time steps of dt = " + fmt_num(dt) + " ms");
  const double n = std::nearbyint(r);
  if (std::fabs(n * dt - dur) > 1e-9 * dur) {
    char steps[32];
    std::snprintf(steps, sizeof steps, "%.10g", r);
    c.fail(path, "got " + show(v) + " = " + steps + " steps of dt = " + fmt_num(dt) +
                     " ms; expected a whole number of steps (durations must be multiples of dt "
                     "to within 1e-9 relative)");
  }
  return static_cast<int64_t>(n);
}

std::vector<std::string> param_names(const ModelDesc& m) {
  std::vector<std::string> v;
  for (const auto& p : m.params)
    if (!is_hidden_name(p.name)) v.emplace_back(p.name);  // circuit wiring and unused cells
  return v;
}

int param_of(const Ctx& c, const ModelDesc& m, const std::string& path, const std::string& name) {
  const int k = name.empty() || name[0] == kHiddenPrefix ? -1 : m.param_index(name);
  if (k < 0) {
    const auto names = param_names(m);
    const bool wiring = m.params.size() > names.size() &&
                        (name == "n_cells" || name == "n_synapses" || name.rfind("pre_", 0) == 0 ||
                         name.rfind("post_", 0) == 0 || name.rfind("type_", 0) == 0 ||
                         name.rfind("cell", 0) == 0 || name.rfind("g_syn", 0) == 0);
    c.fail(path, "got \"" + name + "\": not a parameter of model \"" + m.name + "\"" +
                     (wiring ? " with this circuit (the \"circuit\" object sets the cells, the wiring and "
                               "the synapse types; parameters are named <cell>.<STG parameter> and g_<synapse>)"
                             : "") +
                     did_you_mean(name, names) + "; valid parameters: " + join(names));
  }
  return k;
}

std::vector<double> numbers(const Ctx& c, const std::string& path, const json& v) {
  c.array(path, v);
  if (v.size() > kMaxStoredAxis)
    c.fail(path, "got " + std::to_string(v.size()) + " values; expected at most " +
                     std::to_string(kMaxStoredAxis));
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t k = 0; k < v.size(); ++k) out.push_back(c.number(ipath(path, k), v[k]));
  return out;
}

std::vector<double> spaced(const Ctx& c, const std::string& path, const json& v, bool log) {
  c.object(path, v);
  c.keys(path, v, {"start", "stop", "count"});
  const double a = c.number(kpath(path, "start"), c.require(path, v, "start"));
  const double b = c.number(kpath(path, "stop"), c.require(path, v, "stop"));
  const uint64_t n = c.uint(kpath(path, "count"), c.require(path, v, "count"), 1, kMaxStoredAxis,
                            "count");
  if (log && !(a > 0))
    c.bad(kpath(path, "start"), v["start"],
          "a positive start: logspace spaces the values themselves geometrically (start and stop "
          "are values, not exponents)");
  if (log && !(b > 0))
    c.bad(kpath(path, "stop"), v["stop"],
          "a positive stop: logspace spaces the values themselves geometrically (start and stop "
          "are values, not exponents)");
  if (n > 1 && a == b)
    c.fail(path, "got start = stop = " + fmt_num(a) + " with count " + std::to_string(n) +
                     "; expected distinct start and stop (or count 1)");
  std::vector<double> out(n);
  const double la = log ? std::log(a) : a, lb = log ? std::log(b) : b;
  for (uint64_t j = 0; j < n; ++j) {
    const double t = n > 1 ? static_cast<double>(j) / static_cast<double>(n - 1) : 0.0;
    const double u = la + (lb - la) * t;
    out[j] = log ? std::exp(u) : u;
  }
  out[0] = a;
  if (n > 1) out[n - 1] = b;
  return out;
}

}  // namespace ns::spec_detail
