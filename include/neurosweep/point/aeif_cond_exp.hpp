#pragma once
// NEST aeif_cond_exp: AdEx neuron (Brette & Gerstner 2005) with exponentially decaying synaptic
// conductances. Equations, integration and NEST details: aeif_core.hpp.
#include "neurosweep/point/aeif_core.hpp"

namespace ns {

struct AeifCondExpModel : point::AeifCond<false> {
  static constexpr const char* kName = "aeif_cond_exp";
  static constexpr const char* kDescription =
      "NEST aeif_cond_exp: AdEx (Brette & Gerstner 2005), exponential conductances, RKF45";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr int kNumObs = 1;
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.6, "V_m"}, {"w", "pA", 0.0, "w"}, {"g_ex", "nS", 0.0}, {"g_in", "nS", 0.0},
      {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0}, {"h_int", "ms"}};
  // NEST aeif_cond_exp.cpp State_::State_(p): V_m = E_L (default -70.6), all else 0; h_int = dt.
};

}  // namespace ns
