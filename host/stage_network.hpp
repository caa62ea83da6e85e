#pragma once
// The network classifier (classify_network.hpp) as a classifier stage of a build, for the
// circuit models (pyloric, stg_circuit). Columns: `label` (network label), `label_<cell>` (the
// single-neuron label of each cell's own spike train), then the network features.
#include <memory>

#include "stage.hpp"

namespace ns {
std::unique_ptr<ClassifierStage> make_network_stage(const RunSpec& spec);
}  // namespace ns
