#pragma once
// Host support for circuit models (stg_circuit.hpp: "pyloric", "stg_circuit"): thermalised
// initial states (P04: each cell starts from its isolated steady state, s = 0).
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"

namespace ns {

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
