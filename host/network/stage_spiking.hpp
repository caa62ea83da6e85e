#pragma once
// The classifier stage of spiking networks (kind kNetwork): per-population features and labels.
#include <memory>

#include "classify/stage.hpp"

namespace ns {
std::unique_ptr<ClassifierStage> make_spiking_network_stage(const RunSpec& spec);
}  // namespace ns
