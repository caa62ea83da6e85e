#pragma once
// Host-visible description of a model: its kind, parameter names, units, defaults, bounds and
// docs, the state layout with default start values, presets. Each model header defines constexpr
// tables of these; the host (spec parser and validation, database writer, CLI) reads them. Device
// code never touches them. What a model header must declare: docs/MODELS.md and the checklist in
// model_concept.hpp.
#include <limits>

namespace ns {

// What a model is; it chooses the classifier stage (and, later, the kind of instance a sweep
// builds). The network kind is reserved for a later issue: no stage handles it yet, so
// model_concept.hpp refuses it with a readable message.
enum class ModelKind : int {
  kConductanceNeuron = 0,  // one conductance-based neuron, STG classifier (silent/tonic/bursting/...)
  kPointNeuron = 1,        // NEST point neuron, firing-pattern classifier (docs/CLASSIFIER.md)
  kCircuit = 2,            // several cells in one instance, network classifier
  kNetwork = 3,            // reserved
  kPopulation = 4,         // population rate model/density network, rate classifier (docs/POPULATIONS.md)
};

constexpr const char* kind_name(ModelKind k) {
  switch (k) {
    case ModelKind::kConductanceNeuron: return "conductance_neuron";
    case ModelKind::kPointNeuron: return "point_neuron";
    case ModelKind::kCircuit: return "circuit";
    case ModelKind::kNetwork: return "network";
    case ModelKind::kPopulation: return "population";
  }
  return "unknown";
}
constexpr bool is_supported_kind(ModelKind k) {
  return k == ModelKind::kConductanceNeuron || k == ModelKind::kPointNeuron || k == ModelKind::kCircuit ||
         k == ModelKind::kPopulation;
}
constexpr bool is_known_kind(ModelKind k) {
  return static_cast<int>(k) >= 0 && static_cast<int>(k) <= static_cast<int>(ModelKind::kPopulation);
}

// Admissible values of one parameter: lo (<= or <) x (<= or <) hi, optionally whole numbers.
// Written in the tables with the builders below, e.g. gt(0) (C_m > 0), ge(0) (t_ref >= 0),
// ge(0).le(1) (a fraction), whole().ge(0) (a count). Checked on the host before any work
// (host/spec/validate.cpp); NaN is never admissible.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  bool integer = false;

  constexpr Range gt(double x) const { Range r = *this; r.lo = x; r.lo_open = true; return r; }
  constexpr Range ge(double x) const { Range r = *this; r.lo = x; r.lo_open = false; return r; }
  constexpr Range lt(double x) const { Range r = *this; r.hi = x; r.hi_open = true; return r; }
  constexpr Range le(double x) const { Range r = *this; r.hi = x; r.hi_open = false; return r; }
  constexpr Range whole() const { Range r = *this; r.integer = true; return r; }
  constexpr bool bounded() const {
    return integer || lo != -std::numeric_limits<double>::infinity() ||
           hi != std::numeric_limits<double>::infinity();
  }
  constexpr bool admits(double x) const {
    if (!(x == x)) return false;
    if (lo_open ? !(x > lo) : !(x >= lo)) return false;
    if (hi_open ? !(x < hi) : !(x <= hi)) return false;
    if (integer && !(x > -9.0e15 && x < 9.0e15 && static_cast<double>(static_cast<long long>(x)) == x))
      return false;
    return true;
  }
};
constexpr Range any() { return Range{}; }
constexpr Range gt(double x) { return Range{}.gt(x); }
constexpr Range ge(double x) { return Range{}.ge(x); }
constexpr Range lt(double x) { return Range{}.lt(x); }
constexpr Range le(double x) { return Range{}.le(x); }
constexpr Range whole() { return Range{}.whole(); }

struct ParamInfo {
  const char* name;
  const char* unit;
  double default_value;
  const char* doc;
  Range range = {};        // admissible values (NEST's Parameters_::set rules, physical bounds)
  const char* source = ""; // where the bound comes from (e.g. "NEST iaf_psc_alpha.cpp"), or ""
};

struct StateInfo {
  const char* name;
  const char* unit;
  // Start value of a cold start with default parameters (NEST: the State_ constructor), NaN
  // where it is computed from the parameters. A test checks these against the model's init().
  double initial = std::numeric_limits<double>::quiet_NaN();
  // The parameter that sets this start value (NEST start states: "V_m", "w", ...), or nullptr.
  const char* start_param = nullptr;
};

// A named parameter set (e.g. a neuron of Prinz et al. 2004, Table 2): the listed parameters
// take these values, all others keep theirs.
struct PresetValue {
  const char* param;
  double value;
};
struct Preset {
  const char* name;
  const char* source;
  const PresetValue* values;
  int n_values;
};

}  // namespace ns
