#pragma once
// NEST aeif_cond_alpha: AdEx neuron (Brette & Gerstner 2005) with alpha-shaped synaptic
// conductances. Equations, integration and NEST details: aeif_core.hpp.
#include "neurosweep/point/aeif_core.hpp"

namespace ns {

struct AeifCondAlphaModel : point::AeifCond<true> {
  static constexpr const char* kName = "aeif_cond_alpha";
  static constexpr const char* kDescription =
      "NEST aeif_cond_alpha: AdEx (Brette & Gerstner 2005), alpha conductances, RKF45";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr int kNumObs = 1;
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.6, "V_m"}, {"w", "pA", 0.0, "w"}, {"dg_ex", "nS/ms", 0.0}, {"g_ex", "nS", 0.0},
      {"dg_in", "nS/ms", 0.0}, {"g_in", "nS", 0.0}, {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0},
      {"h_int", "ms"}};
  // NEST aeif_cond_alpha.cpp State_::State_(p): V_m = E_L (default -70.6), all else 0; h_int = dt.
};

}  // namespace ns
