// The host registry, generated from NS_FOR_EACH_MODEL (models.hpp): every fact about a model comes
// from its header (model_info.hpp, model_concept.hpp). Circuits describe their per-cell and
// per-synapse parameters here (names built from the topology), from the cell model's tables.
#include "neurosweep/models.hpp"

#include <deque>
#include <iterator>
#include <string>

#include "models/describe_header.hpp"
#include "models/plugin.hpp"
#include "spec/circuit.hpp"
#include "neurosweep/population/rate_engine.hpp"
#include "population/population_spec.hpp"

namespace ns {
namespace {

// Circuits (stg_circuit.hpp): names are built here, in storage that lives as long as the program.
const char* keep(std::string s) {
  static std::deque<std::string> pool;
  pool.push_back(std::move(s));
  return pool.back().c_str();
}


// Topology rule of general circuits: the first n_synapses synapses connect cells < n_cells.
template <class M>
std::string circuit_check(const ModelDesc& self, const double* p) {
  if constexpr (M::kStatic) {
    (void)self, (void)p;
    return "";
  } else {
    const int nc = static_cast<int>(p[M::kPNCells]), nsy = static_cast<int>(p[M::kPNSyn]);
    for (int j = 0; j < nsy && j < M::NSY; ++j)
      for (int q : {M::kPPre + j, M::kPPost + j})
        if (!(p[q] < nc))
          return shown_name(self.params[static_cast<size_t>(q)].name) + " < n_cells (synapse " + std::to_string(j) +
                 " is one of the first n_synapses, its cells must be integrated)";
    return "";
  }
}

// cells: the cell names; syns: the synapse names; defaults of the cells' conductances (one P04
// preset per cell, or null) and of the synapse strengths (nS).
template <class M>
ModelDesc describe_circuit(const std::vector<std::string>& cells, const std::vector<std::string>& syns,
                           const std::vector<const Preset*>& cell_defaults, const std::vector<double>& g_defaults) {
  ModelDesc d;
  d.name = M::kName;
  d.description = M::kDescription;
  d.kind = M::kKind;
  for (int c = 0; c < M::NC; ++c)
    for (int k = 0; k < StgModel::kNumParams; ++k) {
      ParamInfo pi = StgModel::kParams[k];
      pi.name = keep(cells[c] + "." + pi.name);
      if (cell_defaults[c])
        for (int q = 0; q < cell_defaults[c]->n_values; ++q)
          if (std::string(cell_defaults[c]->values[q].param) == StgModel::kParams[k].name)
            pi.default_value = cell_defaults[c]->values[q].value;
      d.params.push_back(pi);
    }
  const char* phys = "physical";
  for (int j = 0; j < M::NSY; ++j)
    d.params.push_back({keep("g_" + syns[j]), "nS", g_defaults[j],
                        "maximal conductance of the graded synapse (P04); converted to mS/cm^2 of the postsynaptic area",
                        ge(0), "physical: a conductance"});
  if constexpr (!M::kStatic) {
    const double last_cell = M::NC - 1;
    for (int j = 0; j < M::NSY; ++j)
      d.params.push_back({keep("pre_" + syns[j]), "1", 0.0, "presynaptic cell index (0-based)",
                          whole().ge(0).le(last_cell), "topology: a cell index"});
    for (int j = 0; j < M::NSY; ++j)
      d.params.push_back({keep("post_" + syns[j]), "1", 0.0, "postsynaptic cell index (0-based)",
                          whole().ge(0).le(last_cell), "topology: a cell index"});
    for (int j = 0; j < M::NSY; ++j)
      d.params.push_back({keep("type_" + syns[j]), "1", 0.0, "0 glutamatergic, 1 cholinergic (P04)",
                          whole().ge(0).le(1), "topology: a synapse type"});
    d.params.push_back({"n_cells", "1", 1.0, "cells integrated (the first n_cells)", whole().ge(1).le(M::NC),
                        "topology: at most the engine's cells"});
    d.params.push_back({"n_synapses", "1", 0.0, "synapses integrated (the first n_synapses)",
                        whole().ge(0).le(M::NSY), "topology: at most the engine's synapses"});
  }
  const char* syn_doc[M::kNumSynConst] = {
      "reversal potential of glutamatergic synapses (P04)", "reversal potential of cholinergic synapses (P04)",
      "glutamatergic unbinding rate k_minus (P04: 1/40 ms^-1)", "cholinergic unbinding rate k_minus (P04: 1/100 ms^-1)",
      "half-activation potential of s_inf(V_pre) (P04)", "slope of s_inf(V_pre) (P04)"};
  const char* syn_name[M::kNumSynConst] = {"E_glut", "E_chol", "k_glut", "k_chol", "V_th_syn", "Delta_syn"};
  const char* syn_unit[M::kNumSynConst] = {"mV", "mV", "1/ms", "1/ms", "mV", "mV"};
  const Range syn_range[M::kNumSynConst] = {any(), any(), gt(0), gt(0), any(), gt(0)};
  for (int k = 0; k < M::kNumSynConst; ++k)
    d.params.push_back({syn_name[k], syn_unit[k], M::kSynDefaults[k], syn_doc[k], syn_range[k],
                        syn_range[k].bounded() ? phys : ""});
  for (int c = 0; c < M::NC; ++c)
    for (int k = 0; k < StgModel::kNumState; ++k) {
      StateInfo si = StgModel::kState[k];
      si.name = keep(cells[c] + "." + StgModel::kState[k].name);
      d.state.push_back(si);
    }
  for (int j = 0; j < M::NSY; ++j) d.state.push_back({keep("s_" + syns[j]), "1", 0.0});
  d.n_obs = M::kNumObs;
  if constexpr (!M::kStatic) d.check = circuit_check<M>;  // static topologies have no rule to check
  return d;
}

// Presets of a circuit: P04 neuron `pr` placed in cell `cell` (name `label`).
Preset cell_preset(const std::string& label, const std::string& cell, const Preset& pr) {
  static std::deque<std::vector<PresetValue>> store;
  store.emplace_back();
  for (int q = 0; q < pr.n_values; ++q)
    store.back().push_back({keep(cell + "." + pr.values[q].param), pr.values[q].value});
  return Preset{keep(label), pr.source, store.back().data(), pr.n_values};
}

// The circuits' own descriptions (names from their topology).
ModelDesc describe_circuit_model(const PyloricModel*) {
  const std::vector<std::string> cells = {"ABPD", "LP", "PY"};
  const std::vector<std::string> syns = {"ABLP", "PDLP", "ABPY", "PDPY", "LPPM", "LPPY", "PYLP"};
  // Default: the network of P04 Fig. 2e (reference section 4.5).
  auto* p = p04::kNeurons;
  ModelDesc d = describe_circuit<PyloricModel>(cells, syns, {&p[1], &p[8], &p[10]},
                                               {30, 30, 10, 3, 30, 1, 30});
  // Presets ABPD1..5, LP1..5, PY1..6 set the cell of their population.
  for (const auto& pr : p04::kNeurons) {
    const std::string n = pr.name;
    const std::string cell = n.rfind("ABPD", 0) == 0 ? "ABPD" : n.rfind("LP", 0) == 0 ? "LP" : "PY";
    d.presets.push_back(cell_preset(n, cell, pr));
  }
  return d;
}

ModelDesc describe_circuit_model(const StgCircuitModel*) {
  std::vector<std::string> cells, syns;
  for (int c = 0; c < StgCircuitModel::NC; ++c) cells.push_back("cell" + std::to_string(c));
  for (int j = 0; j < StgCircuitModel::NSY; ++j) syns.push_back("syn" + std::to_string(j));
  ModelDesc d = describe_circuit<StgCircuitModel>(cells, syns, std::vector<const Preset*>(cells.size(), nullptr),
                                                  std::vector<double>(syns.size(), 0.0));
  // Presets "cell<k>:<P04 neuron>".
  for (const auto& c : cells)
    for (const auto& pr : p04::kNeurons) d.presets.push_back(cell_preset(c + ":" + pr.name, c, pr));
  return d;
}

// A neuron: everything from its header.
template <class M>
ModelDesc describe() {
  if constexpr (M::kKind == ModelKind::kCircuit) {
    return describe_circuit_model(static_cast<const M*>(nullptr));
  } else if constexpr (concept_detail::has_host_described<M>::value) {
    return describe_host_model(static_cast<const M*>(nullptr));  // population networks
  } else {
    return describe_from_header<M>();  // models/describe_header.hpp
  }
}

const std::vector<ModelDesc>& registry() {
  static const std::vector<ModelDesc> r = [] {
    std::vector<ModelDesc> v;
#define NS_REGISTER_ONE(M) v.push_back(describe<M>());
    NS_FOR_EACH_MODEL(NS_REGISTER_ONE)
#undef NS_REGISTER_ONE
    return v;
  }();
  return r;
}

}  // namespace

int ModelDesc::param_index(const std::string& n) const {
  for (size_t k = 0; k < params.size(); ++k)
    if (n == params[k].name) return static_cast<int>(k);
  return -1;
}

std::vector<double> ModelDesc::defaults() const {
  std::vector<double> v;
  for (const auto& p : params) v.push_back(p.default_value);
  return v;
}

const ModelDesc* find_model(const std::string& name) {
  for (const auto& m : registry())
    if (m.name == name) return &m;
  return find_plugin_model(name);  // models loaded at run time (plugin.hpp)
}

std::vector<std::string> model_names() {
  std::vector<std::string> v;
  for (const auto& m : registry()) v.push_back(m.name);
  for (auto& n : plugin_model_names()) v.push_back(std::move(n));  // loaded plugins
  return v;
}

bool model_is(const std::string& name, ModelKind kind) {
  const ModelDesc* m = find_model(name);
  return m && m->kind == kind;
}

}  // namespace ns
