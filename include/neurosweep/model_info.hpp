#pragma once
// Host-visible description of a model: parameter names, units, defaults and the state layout.
// Each model header defines constexpr tables of these; the host (spec parser, database writer,
// CLI) reads them. Device code never touches them.
namespace ns {

struct ParamInfo {
  const char* name;
  const char* unit;
  double default_value;
  const char* doc;
};

struct StateInfo {
  const char* name;
  const char* unit;
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
