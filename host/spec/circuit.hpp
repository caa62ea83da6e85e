#pragma once
// Host support for circuit models (stg_circuit.hpp: "pyloric", "stg_circuit"): thermalised
// initial states (P04: each cell starts from its isolated steady state, s = 0).
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <deque>

#include <nlohmann/json.hpp>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace ns {

// A user circuit (the sweep spec's "circuit" object, docs/SWEEP_SPEC.md "Circuit objects"),
// validated by the spec parser and mapped onto the parameters of model "stg_circuit": cell k of
// the description is cell k of the engine, synapse j is synapse j. `model` is a view of
// stg_circuit with the user's names: "<cell>.<stg parameter>", "g_<synapse>" (nS), states
// "<cell>.<variable>" and "s_<synapse>"; its defaults are the circuit (n_cells, n_synapses,
// pre/post/type, strengths, cell parameters). Parameters and states of the unused cells and
// synapses and the wiring parameters are named with a leading '#' (kHiddenPrefix): the spec
// refuses them, the database does not store them.
struct CircuitCell {
  std::string name;
  std::string neuron;                              // P04 Table 2 name, or "" (explicit params)
  std::vector<std::pair<std::string, double>> params;  // explicit StgModel values (after the neuron's)
};
struct CircuitSynapse {
  std::string name;
  int pre = 0, post = 0;
  int type = 0;            // SynapseType: 0 glutamatergic, 1 cholinergic
  double strength_nS = 0;  // maximal conductance
};
struct CircuitDesc {
  std::vector<CircuitCell> cells;
  std::vector<CircuitSynapse> synapses;
  int pacemaker = -1, lp = -1, py = -1;  // roles for the network classifier (-1: none)
  ModelDesc model;                       // the stg_circuit view (see above)

  std::vector<std::string> cell_names() const;
  int cell_index(const std::string& name) const;  // -1 when unknown
  // The normalised description stored in the database (root attribute "circuit"): cells with
  // their neuron and every StgModel parameter, synapses with pre/post names, type, strength in nS.
  nlohmann::json to_json() const;
  // Builds `model` from cells/synapses (call once, after filling them; the object must not be
  // copied or moved afterwards: `model` points into `names_`).
  void build();

 private:
  std::deque<std::string> names_;
  std::deque<std::vector<PresetValue>> preset_values_;
};
constexpr char kHiddenPrefix = '#';
inline bool is_hidden_name(const char* n) { return n && n[0] == kHiddenPrefix; }
// The name as users write it (hidden names without their prefix).
inline std::string shown_name(const char* n) { return is_hidden_name(n) ? std::string(n + 1) : std::string(n); }

// True for the models built from StgCircuit (their cells are StgModel neurons).
bool is_circuit_model(const std::string& model);

struct CircuitShape {
  int max_cells = 0, max_synapses = 0;
  int cell_params = 0, cell_state = 0;  // per-cell block sizes (StgModel)
  int n_params = 0, n_state = 0;
  int n_cells_param = -1;               // index of "n_cells" (-1: fixed number of cells)
};
CircuitShape circuit_shape(const std::string& model);  // throws BackendError for other models

// Thermalised starts. Each distinct cell (its 20 StgModel parameters) is integrated alone from
// the P03 cold start for `thermal_ms`, once per cache (i.e. once per build), with the run's
// precision, gating and dt; its final state is the cell's initial state in every circuit that
// contains it, and every synaptic gate starts at 0. Thread safe.
class ThermalCache {
 public:
  // backend: where the cells are integrated (null: the CPU backend). sim.dt, precision and gating
  // of `s` are used; its durations are replaced by thermal_ms.
  ThermalCache(const RunSettings& s, double thermal_ms, Backend* backend = nullptr);
  double thermal_ms() const { return thermal_ms_; }
  int64_t thermal_steps() const { return steps_; }
  // params: column-major [k * n + i] (all model parameters of a chunk of the circuit model);
  // init: column-major [k * n + i], n_state rows, filled with the thermalised starts.
  void fill(const std::string& model, const double* params, size_t n, double* init);
  size_t distinct_cells() const;  // cells integrated so far

 private:
  RunSettings s_;
  double thermal_ms_;
  int64_t steps_;
  Backend* backend_;
  std::unique_ptr<Backend> own_;
  mutable std::mutex mu_;
  std::map<std::vector<double>, std::vector<double>> cache_;
};

}  // namespace ns
