#pragma once
// The network classifier (classify_network.hpp) as a classifier stage of a build, for the
// circuit models (pyloric, stg_circuit). Columns: `label` (network label), `label_<cell>` (the
// single-neuron label of each cell's own spike train), the network features, then per cell the
// single-neuron features `<cell>.n_spikes`, `<cell>.rate_hz`, `<cell>.burst_period_ms`,
// `<cell>.burst_duration_ms`, `<cell>.duty_cycle`, `<cell>.spikes_per_burst`.
#include <memory>
#include <string>
#include <vector>

#include "classify/stage.hpp"

namespace ns {
std::unique_ptr<ClassifierStage> make_network_stage(const RunSpec& spec);
// Names of the cells of a circuit spec, in engine order (user circuits: circuit.cells; pyloric:
// ABPD, LP, PY; stg_circuit without a circuit object: cell0..cell15).
std::vector<std::string> network_cells(const RunSpec& spec);
}  // namespace ns
