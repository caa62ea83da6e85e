#pragma once
// NEST aeif_cond_exp: AdEx neuron (Brette & Gerstner 2005) with exponentially decaying synaptic
// conductances. Equations, integration and NEST details: aeif_core.hpp.
#include "neurosweep/point/aeif_core.hpp"

namespace ns {

struct AeifCondExpModel : point::AeifCond<false> {
  static constexpr const char* kName = "aeif_cond_exp";
  static constexpr const char* kDescription =
      "NEST aeif_cond_exp: AdEx (Brette & Gerstner 2005), exponential conductances, RKF45";
  static constexpr int kNumObs = 1;
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV"},       {"w", "pA"},       {"g_ex", "nS"}, {"g_in", "nS"},
      {"refractory_steps", "1"}, {"spike", "1"}, {"h_int", "ms"}};
};

}  // namespace ns
