#pragma once
// Internals of the sweep-spec parser shared by its files (host/spec/): the error context Ctx
// (every message names the spec file, the key path and the value), the value readers (numbers,
// quantities with units, durations, parameter names), and the parsers of axes and circuit objects.
// Not a public interface: spec.hpp is.
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
#include "network/network.hpp"

namespace ns::spec_detail {
using json = nlohmann::json;

constexpr uint64_t kMaxStoredAxis = 10000000;  // values held in memory per explicit axis
constexpr int kMaxSpikes = 100000;
constexpr uint64_t kMaxPredicateTraces = 100000;  // output.traces.per_label / max
constexpr uint64_t kDefaultPredicateTraces = 100;  // output.traces.where without max
constexpr uint64_t kTagRandom = 0x52414e44ULL << 32;  // "RAND"
constexpr uint64_t kTagSobol = 0x534f424cULL << 32;   // "SOBL"

// The enum value of a name already checked by Ctx::choice (index in the name table).
template <class E, size_t N>
E enum_of(const std::string& name, const char* const (&names)[N]) {
  for (size_t k = 0; k < N; ++k)
    if (name == names[k]) return static_cast<E>(k);
  throw std::logic_error("enum_of: unknown name '" + name + "'");
}

std::string fmt_num(double x);
std::string show(const json& v);
std::string type_of(const json& v);
std::string kpath(const std::string& parent, const std::string& key);
std::string ipath(const std::string& parent, size_t i);
std::string join(const std::vector<std::string>& v, const char* sep = ", ");
std::string lower(std::string s);
size_t edit_distance(const std::string& a, const std::string& b);
std::string closest(const std::string& s, const std::vector<std::string>& cands);
std::string did_you_mean(const std::string& s, const std::vector<std::string>& cands);

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

void check_finite(const Ctx& c, const std::string& path, const json& v);
std::pair<double, std::string> quantity(const Ctx& c, const std::string& path, const json& v,
                                        const std::string& expect, const char* example_unit);
double duration(const Ctx& c, const std::string& path, const json& v);
int64_t steps_of(const Ctx& c, const std::string& path, const json& v, double dur, double dt);
std::vector<std::string> param_names(const ModelDesc& m);
int param_of(const Ctx& c, const ModelDesc& m, const std::string& path, const std::string& name);
std::vector<double> numbers(const Ctx& c, const std::string& path, const json& v);
std::vector<double> spaced(const Ctx& c, const std::string& path, const json& v, bool log);

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

struct Parsed {
  const ModelDesc* m;
  std::vector<double> base;
  Owners owners;
  const CircuitDesc* circuit = nullptr;  // the spec's "circuit" object, if any
  double dt_ms = 0;                      // the spec's time step (thermalisation steps)
  std::vector<StartSpec> starts;         // the start axis's entries (parse_start_axis)
  int start_axis = -1;                   // its index in "axes"
};

std::string axis_default_name(const AxisInfo& ax);
void parse_range_params(const Ctx& c, Parsed& P, const std::string& path, const json& a,
                        AxisInfo& ax, const std::string& owner);
AxisInfo parse_axis(const Ctx& c, Parsed& P, const std::string& path, const json& a, size_t index);
// A start state (host/spec/starts.cpp): the "initial" value, or an entry of a start axis
// (axis_entry: an optional "label" key is accepted). Its label is set (default or given).
StartSpec parse_start(const Ctx& c, const Parsed& P, const std::string& path, const json& v, bool axis_entry);
// The categorical axis {"kind": "categorical", "name": ..., "starts": [...]} (ax.kind set).
void parse_start_axis(const Ctx& c, Parsed& P, const std::string& path, const json& a, AxisInfo& ax, size_t index);
bool valid_circuit_name(const std::string& s);
double strength_nS(const Ctx& c, const std::string& path, const json& v);
std::shared_ptr<CircuitDesc> parse_circuit(const Ctx& c, const json& v);
// The "network" object (host/spec/network_parse.cpp, docs/NETWORKS.md).
std::shared_ptr<NetworkDesc> parse_network(const Ctx& c, const json& v, double dt_ms);

}  // namespace ns::spec_detail
