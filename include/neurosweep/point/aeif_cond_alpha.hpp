#pragma once
// NEST aeif_cond_alpha: AdEx neuron (Brette & Gerstner 2005) with alpha-shaped synaptic
// conductances. Equations, integration and NEST details: aeif_core.hpp.
#include "neurosweep/point/aeif_core.hpp"

namespace ns {

struct AeifCondAlphaModel : point::AeifCond<true> {
  static constexpr const char* kName = "aeif_cond_alpha";
  static constexpr const char* kDescription =
      "NEST aeif_cond_alpha: AdEx (Brette & Gerstner 2005), alpha conductances, RKF45";
  static constexpr int kNumObs = 1;
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV"},    {"w", "pA"},       {"dg_ex", "nS/ms"}, {"g_ex", "nS"},
      {"dg_in", "nS/ms"}, {"g_in", "nS"}, {"refractory_steps", "1"}, {"spike", "1"},
      {"h_int", "ms"}};
};

}  // namespace ns
