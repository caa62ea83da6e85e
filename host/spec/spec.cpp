// Sweep spec parsing, validation and lazy expansion. Contract: docs/SWEEP_SPEC.md.
#include "spec/spec.hpp"
#include "spec/nest_params.hpp"
#include "spec/json_input.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "neurosweep/backend.hpp"
#include "spec/sobol.hpp"
#include "spec/validate.hpp"

namespace ns {
using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxStoredAxis = 10000000;  // values held in memory per explicit axis
constexpr int kMaxSpikes = 100000;
constexpr uint64_t kTagRandom = 0x52414e44ULL << 32;  // "RAND"
constexpr uint64_t kTagSobol = 0x534f424cULL << 32;   // "SOBL"

// The enum value of a name already checked by Ctx::choice (index in the name table).
template <class E, size_t N>
E enum_of(const std::string& name, const char* const (&names)[N]) {
  for (size_t k = 0; k < N; ++k)
    if (name == names[k]) return static_cast<E>(k);
  throw std::logic_error("enum_of: unknown name '" + name + "'");
}

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

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
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

struct Ctx {
  std::string src;

  [[noreturn]] void fail(const std::string& path, const std::string& msg) const {
    throw SpecError(src + ": " + (path.empty() ? std::string("(top level)") : path) + ": " + msg);
  }
  [[noreturn]] void bad(const std::string& path, const json& v, const std::string& expected) const {
    fail(path, "got " + show(v) + "; expected " + expected);
  }

  void keys(const std::string& path, const json& obj, const std::vector<std::string>& allowed) const {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
      fail(kpath(path, it.key()), "unknown key \"" + it.key() + "\"" +
                                      did_you_mean(it.key(), allowed) + "; valid keys here: " +
                                      join(allowed));
    }
  }
  const json& require(const std::string& path, const json& obj, const std::string& key,
                      const std::string& hint = "") const {
    auto it = obj.find(key);
    if (it == obj.end())
      fail(kpath(path, key), "missing required key \"" + key + "\"" + (hint.empty() ? "" : " (" + hint + ")"));
    return *it;
  }
  const json& object(const std::string& path, const json& v) const {
    if (!v.is_object()) bad(path, v, "an object {...}, not " + type_of(v));
    return v;
  }
  const json& array(const std::string& path, const json& v, bool nonempty = true) const {
    if (!v.is_array()) bad(path, v, "an array [...], not " + type_of(v));
    if (nonempty && v.empty()) bad(path, v, "a non-empty array");
    return v;
  }
  double number(const std::string& path, const json& v) const {
    if (!v.is_number()) bad(path, v, "a number, not " + type_of(v));
    const double x = v.get<double>();
    if (!std::isfinite(x)) bad(path, v, "a finite number");
    return x;
  }
  uint64_t uint(const std::string& path, const json& v, uint64_t lo, uint64_t hi,
                const std::string& what) const {
    uint64_t x = 0;
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
      x = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
      bad(path, v, what + ": a non-negative integer");
    } else {
      bad(path, v, what + ": an integer, not " + type_of(v));
    }
    if (x < lo || x > hi)
      bad(path, v, what + ": an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }
  std::string str(const std::string& path, const json& v) const {
    if (!v.is_string()) bad(path, v, "a string, not " + type_of(v));
    return v.get<std::string>();
  }
  std::string choice(const std::string& path, const json& v, const std::vector<std::string>& opts) const {
    const std::string s = str(path, v);
    if (std::find(opts.begin(), opts.end(), s) == opts.end())
      bad(path, v, "one of \"" + join(opts, "\", \"") + "\"" + did_you_mean(s, opts));
    return s;
  }
  bool boolean(const std::string& path, const json& v) const {
    if (!v.is_boolean()) bad(path, v, "true or false, not " + type_of(v));
    return v.get<bool>();
  }
};

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

// Where each parameter is set (fixed.X or axes[k]): a parameter may appear once.
struct Owners {
  std::map<int, std::string> by_param;
  void claim(const Ctx& c, const std::string& path, int k, const std::string& name,
             const std::string& owner) {
    auto it = by_param.find(k);
    if (it != by_param.end()) {
      const bool fixed = it->second.rfind("fixed", 0) == 0;
      c.fail(path, "got parameter \"" + name + "\", which is already " +
                       (fixed ? "fixed at " : "swept by ") + it->second +
                       "; expected each parameter at most once (fixed, or in one axis)");
    }
    by_param[k] = owner;
  }
};

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

struct Parsed {
  const ModelDesc* m;
  std::vector<double> base;
  Owners owners;
  const CircuitDesc* circuit = nullptr;  // the spec's "circuit" object, if any
};

std::string axis_default_name(const AxisInfo& ax) {
  if (ax.kind == AxisKind::kCategorical) return "preset";
  return join(ax.params, "+");
}

void parse_range_params(const Ctx& c, Parsed& P, const std::string& path, const json& a,
                        AxisInfo& ax, const std::string& owner) {
  const std::string pp = kpath(path, "params");
  const json& ps = c.object(pp, c.require(path, a, "params"));
  if (ps.empty()) c.bad(pp, ps, "at least one parameter: {\"gNa\": {\"low\": 0, \"high\": 500}}");
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    const std::string p = kpath(pp, it.key());
    const int k = param_of(c, *P.m, p, it.key());
    P.owners.claim(c, p, k, it.key(), owner);
    c.object(p, *it);
    c.keys(p, *it, {"low", "high", "scale"});
    const double lo = c.number(kpath(p, "low"), c.require(p, *it, "low"));
    const double hi = c.number(kpath(p, "high"), c.require(p, *it, "high"));
    bool lg = false;
    if (it->contains("scale")) lg = c.choice(kpath(p, "scale"), (*it)["scale"], {"linear", "log"}) == "log";
    if (!(lo < hi))
      c.fail(p, "got low = " + fmt_num(lo) + ", high = " + fmt_num(hi) + "; expected low < high");
    if (lg && !(lo > 0))
      c.bad(kpath(p, "low"), (*it)["low"], "low > 0 for \"scale\": \"log\" (log-uniform needs positive bounds)");
    ax.params.push_back(it.key());
    ax.param_index.push_back(k);
    ax.low.push_back(lo);
    ax.high.push_back(hi);
    ax.log_scale.push_back(lg);
  }
}

AxisInfo parse_axis(const Ctx& c, Parsed& P, const std::string& path, const json& a, size_t index) {
  const ModelDesc& m = *P.m;
  c.object(path, a);
  const std::vector<std::string> kinds(std::begin(kAxisKindNames), std::end(kAxisKindNames));
  const std::string kind_path = kpath(path, "kind");
  const json& kv = c.require(path, a, "kind", "one of " + join(kinds) + "; the kind is never inferred");
  AxisInfo ax;
  ax.kind = enum_of<AxisKind>(c.choice(kind_path, kv, kinds), kAxisKindNames);
  const std::string owner = "axes[" + std::to_string(index) + "]";

  if (ax.kind == AxisKind::kGrid || ax.kind == AxisKind::kList) {
    if (ax.kind == AxisKind::kGrid)
      c.keys(path, a, {"kind", "name", "param", "values", "linspace", "logspace"});
    else
      c.keys(path, a, {"kind", "name", "param", "values"});
    const std::string pp = kpath(path, "param");
    const json& pv = c.require(path, a, "param", "the name of the swept parameter; use kind \"linked\" for several");
    const std::string pname = c.str(pp, pv);
    const int k = param_of(c, m, pp, pname);
    P.owners.claim(c, pp, k, pname, owner);
    ax.params = {pname};
    ax.param_index = {k};
    const int given = int(a.contains("values")) + int(a.contains("linspace")) + int(a.contains("logspace"));
    if (given != 1)
      c.fail(path, ax.kind == AxisKind::kGrid
                       ? "got " + std::to_string(given) + " of values/linspace/logspace; expected exactly one"
                       : std::string("missing required key \"values\""));
    if (a.contains("values")) {
      const std::string vp = kpath(path, "values");
      ax.values = numbers(c, vp, a["values"]);
      if (ax.kind == AxisKind::kGrid && ax.values.size() > 1) {
        const bool up = ax.values[1] > ax.values[0];
        for (size_t j = 1; j < ax.values.size(); ++j) {
          const bool ok = up ? ax.values[j] > ax.values[j - 1] : ax.values[j] < ax.values[j - 1];
          if (!ok)
            c.fail(ipath(vp, j), "got " + fmt_num(ax.values[j]) + " after " + fmt_num(ax.values[j - 1]) +
                                     "; expected strictly " + (up ? "increasing" : "decreasing") +
                                     " grid values (use kind \"list\" for repeated or unordered values)");
        }
      }
    } else if (a.contains("linspace")) {
      ax.values = spaced(c, kpath(path, "linspace"), a["linspace"], false);
    } else {
      ax.values = spaced(c, kpath(path, "logspace"), a["logspace"], true);
    }
    ax.size = ax.values.size();
  } else if (ax.kind == AxisKind::kLinked) {
    c.keys(path, a, {"kind", "name", "params"});
    const std::string pp = kpath(path, "params");
    const json& ps = c.object(pp, c.require(path, a, "params"));
    if (ps.size() < 1) c.bad(pp, ps, "at least one parameter with its list of values");
    std::string first;
    for (auto it = ps.begin(); it != ps.end(); ++it) {
      const std::string p = kpath(pp, it.key());
      const int k = param_of(c, m, p, it.key());
      P.owners.claim(c, p, k, it.key(), owner);
      std::vector<double> vals = numbers(c, p, *it);
      if (first.empty()) {
        first = p;
        ax.size = vals.size();
      } else if (vals.size() != ax.size) {
        c.fail(p, "got " + std::to_string(vals.size()) + " values; expected " +
                      std::to_string(ax.size) + " like " + first +
                      " (all lists of a linked axis have equal length)");
      }
      ax.params.push_back(it.key());
      ax.param_index.push_back(k);
      ax.values.insert(ax.values.end(), vals.begin(), vals.end());
    }
  } else if (is_sampled(ax.kind)) {
    const bool sob = ax.kind == AxisKind::kSobol;
    if (sob)
      c.keys(path, a, {"kind", "name", "params", "count", "scramble"});
    else
      c.keys(path, a, {"kind", "name", "params", "count"});
    parse_range_params(c, P, path, a, ax, owner);
    const uint64_t maxc = sob ? sobol::kMaxPoints : kMaxInstances;
    ax.size = c.uint(kpath(path, "count"), c.require(path, a, "count"), 1, maxc, "count");
    if (sob) {
      if (ax.params.size() > static_cast<size_t>(sobol::kMaxDims))
        c.fail(kpath(path, "params"), "got " + std::to_string(ax.params.size()) +
                                          " parameters; expected at most " +
                                          std::to_string(sobol::kMaxDims) + " in one sobol axis");
      ax.scramble = a.contains("scramble")
                        ? enum_of<sobol::Scramble>(
                              c.choice(kpath(path, "scramble"), a["scramble"], {"owen", "shift", "none"}),
                              kScrambleNames)
                        : sobol::Scramble::Owen;
    }
  } else {  // categorical
    c.keys(path, a, {"kind", "name", "presets"});
    const std::string pp = kpath(path, "presets");
    const json& pv = c.require(path, a, "presets", "\"all\" or a list of preset names");
    std::vector<std::string> valid;
    for (const auto& pr : m.presets) valid.emplace_back(pr.name);
    // Circuit objects: an axis named after a cell takes bare P04 neuron names ("LP1") for that
    // cell; the presets are "<cell>:<neuron>".
    std::string cell_prefix;
    if (P.circuit && a.contains("name") && a["name"].is_string() &&
        P.circuit->cell_index(a["name"].get<std::string>()) >= 0) {
      cell_prefix = a["name"].get<std::string>() + ":";
      std::vector<std::string> bare;
      for (const auto& pr : p04::kNeurons) bare.emplace_back(pr.name);
      valid.insert(valid.begin(), bare.begin(), bare.end());
    }
    // Each entry: label and (param index -> value).
    std::vector<std::pair<std::string, std::map<int, double>>> sets;
    auto add_model_preset = [&](const std::string& p, const json& v, const std::string& label) {
      const std::string key = !cell_prefix.empty() && label.find(':') == std::string::npos ? cell_prefix + label : label;
      const Preset* found = nullptr;
      for (const auto& pr0 : m.presets)
        if (key == pr0.name) found = &pr0;
      if (!found)
        c.bad(p, v, "a preset of model \"" + m.name + "\"" + did_you_mean(label, valid) +
                        (valid.empty() ? " (this model has none; give {\"name\": ..., \"params\": {...}})"
                                       : ": " + join(valid)));
      const Preset& pr = *found;
      std::map<int, double> vals;
      for (int q = 0; q < pr.n_values; ++q) {
        const int k = m.param_index(pr.values[q].param);
        if (k < 0) c.fail(p, std::string("internal: preset parameter ") + pr.values[q].param + " unknown");
        vals[k] = pr.values[q].value;
      }
      sets.emplace_back(label, std::move(vals));
    };
    if (pv.is_string()) {
      if (pv.get<std::string>() != "all")
        c.bad(pp, pv, "\"all\" or a list of presets (names or {\"name\": ..., \"params\": {...}})");
      if (valid.empty()) c.bad(pp, pv, "a list of {\"name\": ..., \"params\": {...}}: model \"" + m.name + "\" has no presets");
      if (!cell_prefix.empty()) {  // a cell's axis: every P04 neuron in that cell
        for (const auto& pr : p04::kNeurons) add_model_preset(pp, pv, pr.name);
      } else {
        for (const auto& nm : valid) add_model_preset(pp, pv, nm);
      }
    } else {
      c.array(pp, pv);
      for (size_t q = 0; q < pv.size(); ++q) {
        const std::string p = ipath(pp, q);
        const json& e = pv[q];
        if (e.is_string()) {
          add_model_preset(p, e, e.get<std::string>());
        } else if (e.is_object()) {
          c.keys(p, e, {"name", "params"});
          const std::string label = c.str(kpath(p, "name"), c.require(p, e, "name"));
          if (label.empty()) c.bad(kpath(p, "name"), e["name"], "a non-empty name");
          const std::string ppp = kpath(p, "params");
          const json& ps = c.object(ppp, c.require(p, e, "params"));
          if (ps.empty()) c.bad(ppp, ps, "at least one parameter value");
          std::map<int, double> vals;
          for (auto it = ps.begin(); it != ps.end(); ++it)
            vals[param_of(c, m, kpath(ppp, it.key()), it.key())] = c.number(kpath(ppp, it.key()), *it);
          sets.emplace_back(label, std::move(vals));
        } else {
          c.bad(p, e, "a preset name or {\"name\": ..., \"params\": {...}}");
        }
        for (size_t r = 0; r + 1 < sets.size(); ++r)
          if (sets[r].first == sets.back().first)
            c.bad(p, e, "distinct preset names (\"" + sets.back().first + "\" appears twice)");
      }
    }
    std::set<int> touched;
    for (const auto& s : sets)
      for (const auto& kv2 : s.second) touched.insert(kv2.first);
    std::vector<std::pair<std::string, int>> by_name;
    for (int k : touched) by_name.emplace_back(m.params[static_cast<size_t>(k)].name, k);
    std::sort(by_name.begin(), by_name.end());
    for (const auto& nk : by_name) {
      P.owners.claim(c, pp, nk.second, nk.first, owner);
      ax.params.push_back(nk.first);
      ax.param_index.push_back(nk.second);
    }
    ax.size = sets.size();
    ax.values.assign(ax.params.size() * ax.size, 0.0);
    for (size_t p = 0; p < ax.params.size(); ++p)
      for (size_t j = 0; j < ax.size; ++j) {
        auto f = sets[j].second.find(ax.param_index[p]);
        ax.values[p * ax.size + j] =
            f != sets[j].second.end() ? f->second : P.base[static_cast<size_t>(ax.param_index[p])];
      }
    for (const auto& s : sets) ax.labels.push_back(s.first);
  }

  if (a.contains("name")) {
    const std::string np = kpath(path, "name");
    ax.name = c.str(np, a["name"]);
    if (ax.name.empty() || ax.name.find('/') != std::string::npos)
      c.bad(np, a["name"], "a non-empty axis name without '/'");
  } else {
    ax.name = axis_default_name(ax);
  }
  return ax;
}

// ---- circuit objects (docs/SWEEP_SPEC.md, "Circuit objects") ------------------------------------

bool valid_circuit_name(const std::string& s) {
  if (s.empty() || s.size() > 40 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return true;
}

// Synapse strength: "30 nS", "0.03 uS" (or "µS"), {"value": 30, "unit": "nS"} -> nS.
double strength_nS(const Ctx& c, const std::string& path, const json& v) {
  const std::string expect =
      "a conductance with a unit: \"30 nS\", \"0.03 uS\" or {\"value\": 30, \"unit\": \"nS\"}";
  const auto [value, unit] = quantity(c, path, v, expect, "nS");
  if (!std::isfinite(value)) c.bad(path, v, "a finite strength");
  double nS;
  if (unit == "nS") nS = value;
  else if (unit == "uS" || unit == "\xc2\xb5S" || unit == "\xce\xbcS") nS = value * 1000.0;
  else c.bad(path, v, expect + "; the unit must be \"nS\" or \"uS\" (mS/cm^2 densities are not accepted: "
                               "P04 strengths are absolute conductances)");
  if (nS < 0) c.bad(path, v, "a strength >= 0 (inhibition comes from the reversal potential, not the sign)");
  return nS;
}

std::shared_ptr<CircuitDesc> parse_circuit(const Ctx& c, const json& v) {
  using M = StgCircuitModel;
  const std::string P = "circuit";
  c.object(P, v);
  c.keys(P, v, {"cells", "synapses", "roles"});
  auto d = std::make_shared<CircuitDesc>();
  std::vector<std::string> neurons, stg_params;
  for (const auto& pr : p04::kNeurons) neurons.emplace_back(pr.name);
  for (const auto& pi : StgModel::kParams) stg_params.emplace_back(pi.name);

  const std::string cp = kpath(P, "cells");
  const json& cv = c.array(cp, c.require(P, v, "cells", "a list of {\"name\": ..., \"neuron\": ...}"));
  if (cv.size() > static_cast<size_t>(M::NC))
    c.fail(cp, "got " + std::to_string(cv.size()) + " cells; expected at most " + std::to_string(M::NC) +
                   " (the stg_circuit model's limit)");
  for (size_t k = 0; k < cv.size(); ++k) {
    const std::string p = ipath(cp, k);
    const json& e = c.object(p, cv[k]);
    c.keys(p, e, {"name", "neuron", "params"});
    CircuitCell cell;
    const json& nv = c.require(p, e, "name", "the cell's name, e.g. \"LP\"");
    cell.name = c.str(kpath(p, "name"), nv);
    if (!valid_circuit_name(cell.name))
      c.bad(kpath(p, "name"), nv, "a name of letters, digits and '_' starting with a letter (at most 40 characters)");
    for (size_t q = 0; q < k; ++q)
      if (d->cells[q].name == cell.name)
        c.bad(kpath(p, "name"), nv, "distinct cell names (\"" + cell.name + "\" is already cells[" + std::to_string(q) + "])");
    if (!e.contains("neuron") && !e.contains("params"))
      c.fail(p, "cell \"" + cell.name + "\" has neither \"neuron\" (a P04 model neuron: " + join(neurons) +
                    ") nor \"params\" (STG parameters)");
    if (e.contains("neuron")) {
      cell.neuron = c.str(kpath(p, "neuron"), e["neuron"]);
      if (std::find(neurons.begin(), neurons.end(), cell.neuron) == neurons.end())
        c.bad(kpath(p, "neuron"), e["neuron"],
              "a model neuron of Prinz et al. 2004 Table 2" + did_you_mean(cell.neuron, neurons) + ": " + join(neurons));
    }
    if (e.contains("params")) {
      const std::string pp = kpath(p, "params");
      const json& ps = c.object(pp, e["params"]);
      for (auto it = ps.begin(); it != ps.end(); ++it) {
        if (std::find(stg_params.begin(), stg_params.end(), it.key()) == stg_params.end())
          c.fail(kpath(pp, it.key()), "got \"" + it.key() + "\": not a parameter of the STG neuron" +
                                          did_you_mean(it.key(), stg_params) + "; valid: " + join(stg_params));
        cell.params.emplace_back(it.key(), c.number(kpath(pp, it.key()), *it));
      }
    }
    d->cells.push_back(std::move(cell));
  }
  const std::vector<std::string> cells = d->cell_names();

  if (v.contains("synapses")) {
    const std::string sp = kpath(P, "synapses");
    const json& sv = c.array(sp, v["synapses"], false);
    if (sv.size() > static_cast<size_t>(M::NSY))
      c.fail(sp, "got " + std::to_string(sv.size()) + " synapses; expected at most " + std::to_string(M::NSY) +
                     " (the stg_circuit model's limit)");
    for (size_t k = 0; k < sv.size(); ++k) {
      const std::string p = ipath(sp, k);
      const json& e = c.object(p, sv[k]);
      c.keys(p, e, {"name", "pre", "post", "type", "strength"});
      CircuitSynapse s;
      auto cell_of = [&](const char* key) {
        const std::string kp = kpath(p, key);
        const json& x = c.require(p, e, key, "the name of a cell of circuit.cells");
        const std::string n = c.str(kp, x);
        const int i = d->cell_index(n);
        if (i < 0) c.bad(kp, x, "a cell of circuit.cells" + did_you_mean(n, cells) + ": " + join(cells));
        return i;
      };
      s.pre = cell_of("pre");
      s.post = cell_of("post");
      if (e.contains("name")) {
        s.name = c.str(kpath(p, "name"), e["name"]);
        if (!valid_circuit_name(s.name))
          c.bad(kpath(p, "name"), e["name"], "a name of letters, digits and '_' starting with a letter (at most 40 characters)");
      } else {
        s.name = cells[static_cast<size_t>(s.pre)] + "_" + cells[static_cast<size_t>(s.post)];
      }
      for (size_t q = 0; q < k; ++q)
        if (d->synapses[q].name == s.name)
          c.fail(e.contains("name") ? kpath(p, "name") : p,
                 "got synapse name \"" + s.name + "\", already used by synapses[" + std::to_string(q) +
                     "]; expected distinct names" + (e.contains("name") ? "" : " (set \"name\": the default is <pre>_<post>)"));
      const std::string ty = c.choice(kpath(p, "type"), c.require(p, e, "type", "\"glutamatergic\" or \"cholinergic\" (P04)"),
                                      {"glutamatergic", "cholinergic"});
      s.type = ty == "cholinergic" ? kCholinergic : kGlutamatergic;
      s.strength_nS = strength_nS(c, kpath(p, "strength"), c.require(p, e, "strength", "e.g. \"30 nS\""));
      d->synapses.push_back(std::move(s));
    }
  }

  if (v.contains("roles")) {
    const std::string rp = kpath(P, "roles");
    const json& rv = c.object(rp, v["roles"]);
    c.keys(rp, rv, {"pacemaker", "LP", "PY"});
    auto role = [&](const char* key) {
      if (!rv.contains(key)) return -1;
      const std::string kp = kpath(rp, key);
      const std::string n = c.str(kp, rv[key]);
      const int i = d->cell_index(n);
      if (i < 0) c.bad(kp, rv[key], "a cell of circuit.cells" + did_you_mean(n, cells) + ": " + join(cells));
      return i;
    };
    d->pacemaker = role("pacemaker");
    d->lp = role("LP");
    d->py = role("PY");
    if (d->pacemaker < 0) c.fail(rp, "missing \"pacemaker\": the cell whose bursts define the cycles");
    if ((d->lp < 0) != (d->py < 0))
      c.fail(rp, std::string("got only \"") + (d->lp < 0 ? "PY" : "LP") +
                     "\"; expected both \"LP\" and \"PY\" (the pyloric classifier) or neither (rhythm only)");
    if (d->lp >= 0 && (d->lp == d->pacemaker || d->py == d->pacemaker || d->lp == d->py))
      c.bad(rp, rv, "three different cells for pacemaker, LP and PY");
  }
  d->build();
  return d;
}

}  // namespace

// ---- Sweep --------------------------------------------------------------------------------------

Sweep::Sweep(std::vector<double> base_params, std::vector<AxisInfo> axes, Combine combine,
             uint64_t seed)
    : base_(std::move(base_params)), axes_(std::move(axes)), combine_(combine), seed_(seed) {
  stride_.assign(axes_.size(), 1);
  keys_.resize(axes_.size());
  if (combine_ == Combine::kProduct) {
    uint64_t n = 1;
    for (size_t a = axes_.size(); a-- > 0;) {
      stride_[a] = n;
      if (axes_[a].size == 0 || n > kMaxInstances / axes_[a].size)
        throw std::invalid_argument("Sweep: size out of range");
      n *= axes_[a].size;
    }
    size_ = n;
  } else {
    if (axes_.empty()) throw std::invalid_argument("Sweep: sample needs axes");
    size_ = axes_[0].size;
    for (const auto& ax : axes_)
      if (ax.size != size_ || !is_sampled(ax.kind))
        throw std::invalid_argument("Sweep: sample axes must be random/sobol of equal count");
    std::fill(stride_.begin(), stride_.end(), 0);
  }
  for (size_t a = 0; a < axes_.size(); ++a) {
    const AxisInfo& ax = axes_[a];
    if (!is_sampled(ax.kind) && ax.values.size() != ax.params.size() * ax.size)
      throw std::invalid_argument("Sweep: axis " + ax.name + " has the wrong number of values");
    if (is_sampled(ax.kind) && (ax.low.size() != ax.params.size() || ax.high.size() != ax.params.size() ||
                          ax.log_scale.size() != ax.params.size()))
      throw std::invalid_argument("Sweep: axis " + ax.name + " lacks ranges");
    if (ax.param_index.size() != ax.params.size())
      throw std::invalid_argument("Sweep: axis " + ax.name + " lacks parameter indices");
    for (int k : ax.param_index)
      if (k < 0 || static_cast<size_t>(k) >= base_.size())
        throw std::invalid_argument("Sweep: axis " + ax.name + ": parameter index out of range");
    for (size_t p = 0; p < ax.params.size(); ++p) {
      if (ax.kind == AxisKind::kRandom)
        keys_[a].push_back(fnv1a64(ax.params[p].data(), ax.params[p].size()));
      else if (ax.kind == AxisKind::kSobol)
        keys_[a].push_back(hash_words(seed_, kTagSobol | a, p, 0));
    }
  }
}

double Sweep::value(size_t a, size_t p, uint64_t j) const {
  const AxisInfo& ax = axes_[a];
  if (!is_sampled(ax.kind)) return ax.values[p * ax.size + j];
  const double u = ax.kind == AxisKind::kRandom
                       ? u01_from_hash(hash_words(seed_, kTagRandom | a, keys_[a][p], j))
                       : sobol::scrambled(static_cast<int>(p), j, ax.scramble, keys_[a][p]);
  const double lo = ax.low[p], hi = ax.high[p];
  double v;
  if (ax.log_scale[p]) {
    const double la = std::log(lo), lb = std::log(hi);
    v = std::exp(la + u * (lb - la));
  } else {
    v = lo + u * (hi - lo);
  }
  return std::min(std::max(v, lo), hi);
}

void Sweep::fill(uint64_t i0, size_t n, double* out) const {
  if (i0 > size_ || n > size_ - i0)
    throw std::out_of_range("Sweep::fill: instances [" + std::to_string(i0) + ", " +
                            std::to_string(i0 + n) + ") outside [0, " + std::to_string(size_) + ")");
  for (size_t k = 0; k < base_.size(); ++k) std::fill(out + k * n, out + (k + 1) * n, base_[k]);
  const bool product = combine_ == Combine::kProduct;
  for (size_t a = 0; a < axes_.size(); ++a) {
    const AxisInfo& ax = axes_[a];
    for (size_t j = 0; j < n; ++j) {
      const uint64_t i = i0 + j;
      const uint64_t d = product ? (i / stride_[a]) % ax.size : i;
      for (size_t p = 0; p < ax.params.size(); ++p)
        out[static_cast<size_t>(ax.param_index[p]) * n + j] = value(a, p, d);
    }
  }
}

std::vector<double> Sweep::params_of(uint64_t i) const {
  std::vector<double> v(base_.size());
  fill(i, 1, v.data());
  return v;
}

std::vector<int> Sweep::swept_params() const {
  std::set<int> s;
  for (const auto& ax : axes_) s.insert(ax.param_index.begin(), ax.param_index.end());
  return {s.begin(), s.end()};
}

std::vector<uint64_t> Sweep::decode(uint64_t i) const {
  if (i >= size_) throw std::out_of_range("Sweep::decode: index " + std::to_string(i) + " >= size");
  std::vector<uint64_t> d(axes_.size(), i);
  if (combine_ == Combine::kProduct)
    for (size_t a = 0; a < axes_.size(); ++a) d[a] = (i / stride_[a]) % axes_[a].size;
  return d;
}

uint64_t Sweep::encode(const std::vector<uint64_t>& digits) const {
  if (digits.size() != axes_.size()) throw std::invalid_argument("Sweep::encode: wrong digit count");
  if (combine_ == Combine::kSample) return digits.empty() ? 0 : digits[0];
  uint64_t i = 0;
  for (size_t a = 0; a < axes_.size(); ++a) {
    if (digits[a] >= axes_[a].size) throw std::out_of_range("Sweep::encode: digit out of range");
    i += digits[a] * stride_[a];
  }
  return i;
}

// ---- spec ---------------------------------------------------------------------------------------

double parse_duration_ms(const json& v, const std::string& source, const std::string& path) {
  return duration(Ctx{source}, path, v);
}

RunSpec parse_spec(const json& j, const std::string& source) {
  const Ctx c{source};
  RunSpec r;
  r.source = source;
  if (!j.is_object()) c.bad("", j, "a JSON object {...} at the top level, not " + type_of(j));
  check_finite(c, "", j);
  c.keys("", j, {"name", "description", "model", "dt", "transient", "analysis", "seed", "precision",
                 "gating", "integration", "constants", "probe", "parameter_file", "fixed", "initial", "axes", "combine", "classifier", "output",
                 "circuit"});
  r.raw = j;
  r.canonical = j.dump();
  r.hash = fnv1a64(r.canonical.data(), r.canonical.size());

  // model
  const json& mv = c.require("", j, "model", "one of: " + join(model_names()));
  const std::string mname = c.str("model", mv);
  r.model = find_model(mname);
  if (!r.model) c.bad("model", mv, "a registered model" + did_you_mean(mname, model_names()) + ": " + join(model_names()));
  if (j.contains("circuit")) {
    if (mname != StgCircuitModel::kName)
      c.bad("circuit", j["circuit"], std::string("no \"circuit\" object with \"model\": \"") + mname +
                                         "\" (a circuit object describes an \"" + StgCircuitModel::kName +
                                         "\" network; set \"model\": \"" + StgCircuitModel::kName + "\")");
    r.circuit = parse_circuit(c, j["circuit"]);
    r.model = &r.circuit->model;
  }
  const ModelDesc& m = *r.model;

  // time
  r.dt_ms = duration(c, "dt", c.require("", j, "dt", "the time step, e.g. \"0.05 ms\""));
  if (!(r.dt_ms > 0)) c.bad("dt", j["dt"], "a positive time step");
  r.transient_ms = duration(c, "transient", c.require("", j, "transient", "the discarded warm-up, e.g. \"10 s\"; \"0 ms\" for none"));
  if (r.transient_ms < 0) c.bad("transient", j["transient"], "a duration >= 0");
  r.analysis_ms = duration(c, "analysis", c.require("", j, "analysis", "the analysed window, e.g. \"10 s\""));
  if (!(r.analysis_ms >= kMinAnalysisMs))
    c.bad("analysis", j["analysis"], "an analysis window of at least " + fmt_num(kMinAnalysisMs) + " ms");
  if (const std::string v = dt_violation(r.dt_ms, r.analysis_ms); !v.empty()) c.bad("dt", j["dt"], v);
  r.n_transient = steps_of(c, "transient", j["transient"], r.transient_ms, r.dt_ms);
  r.n_analysis = steps_of(c, "analysis", j["analysis"], r.analysis_ms, r.dt_ms);

  if (j.contains("seed"))
    r.seed = c.uint("seed", j["seed"], 0, std::numeric_limits<uint64_t>::max(), "the seed");
  if (j.contains("precision")) r.precision = parse_precision(c.choice("precision", j["precision"], {"float", "double"}));
  if (j.contains("gating")) r.gating = parse_gating(c.choice("gating", j["gating"], {"direct", "table"}));
  for (const char* key : {"integration", "constants"}) {  // numerics of the STG models
    if (!j.contains(key)) continue;
    if (!has_numerics_options(mname))
      c.bad(key, j[key], std::string("no \"") + key + "\" for model \"" + mname +
                             "\" (only the conductance-based STG models stg, pyloric and stg_circuit have it)");
    if (std::string(key) == "integration") r.integration = parse_integration(c.choice(key, j[key], {"exp_euler", "prinz"}));
    else r.constants = parse_constants(c.choice(key, j[key], {"codata2018", "prinz_lab"}));
  }
  if (j.contains("probe")) r.probe = j["probe"];  // validated by Probe::make (run/probe.cpp)
  if (j.contains("name")) r.name = c.str("name", j["name"]);
  else if (!source.empty() && source[0] != '<') r.name = std::filesystem::path(source).stem().string();
  if (j.contains("description")) r.description = c.str("description", j["description"]);

  // fixed parameters: model defaults, then a NEST/BMTK dynamics_params file, then `fixed`
  Parsed P{r.model, m.defaults(), {}, r.circuit.get()};
  if (j.contains("parameter_file")) {
    std::filesystem::path fp = c.str("parameter_file", j["parameter_file"]);
    if (fp.is_relative() && !source.empty() && source[0] != '<')
      fp = std::filesystem::path(source).parent_path() / fp;
    try {
      P.base = load_dynamics_params(m, fp.string());  // SpecError names the file, key and value
    } catch (const SpecError& e) {
      c.fail("parameter_file", e.what());  // and the spec file and key that named it
    }
    // The file's values are part of what the database means: fold them into the hash, so a
    // resume after the file changed is refused.
    std::string vals;
    for (double v : P.base) vals += fmt_num(v) + ",";
    r.canonical += "\nparameter_file:" + vals;
    r.hash = fnv1a64(r.canonical.data(), r.canonical.size());
  }
  if (j.contains("fixed")) {
    const json& f = c.object("fixed", j["fixed"]);
    for (auto it = f.begin(); it != f.end(); ++it) {
      const std::string p = kpath("fixed", it.key());
      const int k = param_of(c, m, p, it.key());
      P.base[static_cast<size_t>(k)] = c.number(p, *it);
      if (const std::string v = range_violation(m.params[static_cast<size_t>(k)], P.base[static_cast<size_t>(k)]); !v.empty())
        c.bad(p, *it, v);
      P.owners.claim(c, p, k, it.key(), p);
    }
  }
  r.base_params = P.base;

  // axes
  std::vector<AxisInfo> axes;
  if (j.contains("axes")) {
    const json& av = c.array("axes", j["axes"], false);
    for (size_t a = 0; a < av.size(); ++a) {
      axes.push_back(parse_axis(c, P, ipath("axes", a), av[a], a));
      for (size_t b = 0; b + 1 < axes.size(); ++b)
        if (axes[b].name == axes.back().name)
          c.fail(ipath("axes", a), "got axis name \"" + axes.back().name + "\", already used by axes[" +
                                       std::to_string(b) + "]; expected distinct names (set \"name\")");
    }
  }
  const Combine combine = j.contains("combine")
                              ? enum_of<Combine>(c.choice("combine", j["combine"], {"product", "sample"}), kCombineNames)
                              : Combine::kProduct;
  if (combine == Combine::kProduct) {
    long double exact = 1;
    for (const auto& ax : axes) exact *= static_cast<long double>(ax.size);
    if (exact > static_cast<long double>(kMaxInstances)) {
      std::vector<std::string> dims;
      for (const auto& ax : axes) dims.push_back(std::to_string(ax.size));
      std::ostringstream os;
      os.precision(4);
      os << exact;
      c.fail("axes", "got " + join(dims, " x ") + " = " + os.str() +
                         " instances; expected at most 2^48 = " + std::to_string(kMaxInstances));
    }
  } else {
    if (axes.empty()) c.fail("axes", "got no axes; expected at least one random or sobol axis for \"combine\": \"sample\"");
    for (size_t a = 0; a < axes.size(); ++a) {
      const std::string p = ipath("axes", a);
      if (!is_sampled(axes[a].kind))
        c.bad(kpath(p, "kind"), j["axes"][a]["kind"],
              "\"random\" or \"sobol\": \"combine\": \"sample\" zips sampled axes (use \"product\" to cross other kinds)");
      if (axes[a].size != axes[0].size)
        c.bad(kpath(p, "count"), j["axes"][a]["count"],
              std::to_string(axes[0].size) + " like axes[0].count (\"sample\" zips axes of equal count)");
    }
  }
  r.sweep = Sweep(P.base, std::move(axes), combine, r.seed);
  // Every value against the model's ranges and rules, before any work (spec/validate.hpp).
  {
    const std::vector<double> defaults = m.defaults();
    const std::string file = j.contains("parameter_file") ? j["parameter_file"].get<std::string>() : "";
    const OriginFn origin = [&](int k) -> std::string {
      auto it = P.owners.by_param.find(k);
      if (it != P.owners.by_param.end()) return it->second;
      if (!file.empty() && P.base[static_cast<size_t>(k)] != defaults[static_cast<size_t>(k)]) return "parameter_file " + file;
      return r.circuit ? "circuit or default" : "default";
    };
    for (size_t k = 0; k < P.base.size(); ++k) {
      auto it = P.owners.by_param.find(static_cast<int>(k));
      if (it != P.owners.by_param.end() && it->second.rfind("axes", 0) == 0) continue;  // swept: checked below
      if (const std::string v = range_violation(m.params[k], P.base[k]); !v.empty())
        c.fail(origin(static_cast<int>(k)), "got " + shown_name(m.params[k].name) +
                                                " = " + fmt_num(P.base[k]) + "; expected " + v);
    }
    validate_sweep(source, m, r.sweep, origin);
  }

  // initial state
  if (j.contains("initial")) {
    const json& iv = j["initial"];
    if (iv.is_string()) {
      if (iv.get<std::string>() != "cold")
        c.bad("initial", iv, "\"cold\", {\"from_database\": \"path.h5\"} or an object giving every state variable");
    } else if (iv.is_object() && iv.contains("thermalize")) {
      // Circuits (P04): each cell from its isolated steady state after this long, s = 0.
      c.keys("initial", iv, {"thermalize"});
      if (m.kind != ModelKind::kCircuit)
        c.bad("initial.thermalize", iv["thermalize"],
              "a circuit model (\"pyloric\", \"stg_circuit\"); model \"" + m.name + "\" has no cells to thermalise");
      r.thermal_ms = parse_duration_ms(iv["thermalize"], source, "initial.thermalize");
      r.initial_kind = InitialKind::kThermalized;
    } else if (iv.is_object() && iv.contains("from_database")) {
      c.keys("initial", iv, {"from_database"});
      const std::string pth = c.str("initial.from_database", iv["from_database"]);
      if (pth.empty()) c.bad("initial.from_database", iv["from_database"], "a path to a database file");
      std::filesystem::path fp(pth);
      if (fp.is_relative() && !source.empty() && source[0] != '<')
        fp = std::filesystem::path(source).parent_path() / fp;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(fp, ec))
        c.bad("initial.from_database", iv["from_database"],
              "an existing database file (looked for " + fp.string() +
                  "; relative paths are resolved against the spec file's directory)");
      r.initial_kind = InitialKind::kDatabase;
      r.initial_database = fp.string();
    } else if (iv.is_object()) {
      // Every state variable (circuits: of the circuit's cells and synapses; the unused ones of
      // the engine start at 0 and are never integrated).
      std::vector<std::string> names;
      for (const auto& s : m.state)
        if (!is_hidden_name(s.name)) names.emplace_back(s.name);
      std::vector<std::string> allowed = names;
      allowed.push_back("from_database");
      c.keys("initial", iv, allowed);
      std::vector<std::string> missing;
      r.initial_state.assign(m.state.size(), 0.0);
      for (size_t k = 0; k < m.state.size(); ++k) {
        const std::string nk = m.state[k].name;
        if (is_hidden_name(m.state[k].name)) continue;
        if (!iv.contains(nk)) {
          missing.push_back(nk);
          continue;
        }
        r.initial_state[k] = c.number(kpath("initial", nk), iv[nk]);
      }
      if (!missing.empty())
        c.fail("initial", "missing state variables " + join(missing) +
                              "; expected every state variable of model \"" + m.name + "\": " + join(names));
      r.initial_kind = InitialKind::kExplicit;
    } else {
      c.bad("initial", iv, "\"cold\", {\"from_database\": \"path.h5\"} or an object giving every state variable");
    }
  }

  // classifier: kept raw, validated by the classifier module
  if (j.contains("classifier")) r.classifier = c.object("classifier", j["classifier"]);

  // output
  if (j.contains("output")) {
    const json& o = c.object("output", j["output"]);
    c.keys("output", o, {"final_state", "spikes", "traces"});
    if (o.contains("final_state")) r.out_final_state = c.boolean("output.final_state", o["final_state"]);
    if (o.contains("spikes"))
      r.out_spikes = static_cast<int>(c.uint("output.spikes", o["spikes"], 0, kMaxSpikes,
                                             "the number of spike times kept per instance"));
    if (o.contains("traces")) {
      const json& t = c.object("output.traces", o["traces"]);
      c.keys("output.traces", t, {"instances", "every"});
      const json& in = c.array("output.traces.instances",
                               c.require("output.traces", t, "instances", "instance indices to record"));
      std::set<uint64_t> seen;
      for (size_t q = 0; q < in.size(); ++q) {
        const std::string p = ipath("output.traces.instances", q);
        const uint64_t i = c.uint(p, in[q], 0, std::numeric_limits<uint64_t>::max(), "an instance index");
        if (i >= r.sweep.size())
          c.bad(p, in[q], "an instance index < " + std::to_string(r.sweep.size()) + " (the sweep size)");
        if (!seen.insert(i).second) c.bad(p, in[q], "distinct instance indices");
      }
      r.trace_instances.assign(seen.begin(), seen.end());
      if (t.contains("every")) {
        r.trace_every_ms = duration(c, "output.traces.every", t["every"]);
        if (!(r.trace_every_ms > 0)) c.bad("output.traces.every", t["every"], "a positive interval");
        r.trace_every_steps = steps_of(c, "output.traces.every", t["every"], r.trace_every_ms, r.dt_ms);
      } else {
        r.trace_every_ms = r.dt_ms;
        r.trace_every_steps = 1;
      }
    }
  }
  return r;
}

RunSpec parse_spec_text(const std::string& text, const std::string& source) {
  // Bounded nesting, duplicate keys and overflowing numbers refused, positions in messages.
  return parse_spec(parse_json_text(text, source), source);
}

RunSpec load_spec(const std::string& path) {
  return parse_spec_text(read_text_file(path, "sweep spec"), path);  // at most kMaxJsonBytes
}

}  // namespace ns
