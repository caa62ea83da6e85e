#pragma once
// NEST iaf_psc_delta: leaky integrate-and-fire neuron with delta-shaped synaptic input (each
// spike makes V jump by its weight in mV), exact integration (Rotter & Diesmann 1999; NEST
// models/iaf_psc_delta.{h,cpp}, v3.9 numerics; reference section 3).
//   dV/dt = -(V - E_L)/tau_m + (I_e + I_stim)/C_m + sum_k w_k delta(t - t_k)
// Spikes arriving during refractoriness are discarded (refractory_input = false, NEST default).
// Unlike psc_exp/psc_alpha, an input spike can trigger a spike in the step it arrives.
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

#define NS_SRC "NEST models/iaf_psc_delta.cpp, Parameters_::set"
struct IafPscDeltaModel : point::SpikeFlagNeuron<IafPscDeltaModel> {
  static constexpr const char* kName = "iaf_psc_delta";
  static constexpr const char* kDescription =
      "NEST iaf_psc_delta: LIF with voltage-jump (delta) synapses, exact integration";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kCpuWideVectors = true;  // 512-bit CPU tiles (host/backends/cpu_tiles_wide.cpp)
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    E_L, C_m, tau_m, t_ref, V_th, V_reset, I_e, V_min, V_m,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"E_L", "mV", -70.0, "resting membrane potential"},
      {"C_m", "pF", 250.0, "membrane capacitance", gt(0), NS_SRC},
      {"tau_m", "ms", 10.0, "membrane time constant", gt(0), NS_SRC},
      {"t_ref", "ms", 2.0, "absolute refractory period (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"V_th", "mV", -55.0, "spike threshold"},
      {"V_reset", "mV", -70.0, "reset potential"},
      {"I_e", "pA", 0.0, "constant input current"},
      {"V_min", "mV", -1.7976931348623157e308, "absolute lower bound of V (NEST: -DBL_MAX)"},
      {"V_m", "mV", -70.0,
       "start value of the membrane potential (NEST's default; kept when E_L changes, as in NEST)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "mV", "(voltage jump)"),
  };

  // NEST's cross-parameter rule (NS_SRC).
  static const char* check(const double* p) {
    if (!(p[V_reset] < p[V_th])) return "V_reset < V_th (NEST: reset potential must be smaller than threshold)";
    return nullptr;
  }

  enum StateIx { V, refr, spike_flag, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.0, "V_m"}, {"refractory_steps", "1", 0.0},
      {"spike", "1", 0.0}};  // NEST iaf_psc_delta.cpp State_::State_
  static constexpr int kNumObs = 1;

  enum Derived {
    dP33, dP30, dE_L, dVth, dVreset, dVmin, dI_e, dNref, dV0,
    kIn, kNumDerived = kIn + point::kInputDerived
  };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    const double tm = double(p[tau_m]), c = double(p[C_m]), el = double(p[E_L]);
    d[dP33] = T(fexp(-h / tm));
    d[dP30] = T(-tm / c * point::expm1_d(-h / tm));
    d[dE_L] = T(el);
    d[dVth] = T(double(p[V_th]) - el);
    d[dVreset] = T(double(p[V_reset]) - el);
    d[dVmin] = point::clamp_to<T>(double(p[V_min]) - el);
    d[dI_e] = T(p[I_e]);
    d[dNref] = T(point::grid_steps(double(p[t_ref]), h));
    d[dV0] = T(p[V_m]);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    s[V] = d[dV0];
    s[refr] = T(0);
    s[spike_flag] = T(0);
  }

  // NEST iaf_psc_delta::update(): propagate + this step's spike input, or count down the
  // refractory period (input discarded); then threshold.
  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_stim = point::input_current<T>(d, kIn, ctx);
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    T v = s[V] - d[dE_L];
    T r = s[refr];
    if (r == T(0)) {
      v = d[dP30] * (i_stim + d[dI_e]) + d[dP33] * v + (w_ex - w_in);
      v = v < d[dVmin] ? d[dVmin] : v;
    } else {
      r = r - T(1);
    }
    const bool fire = v >= d[dVth];
    if (fire) {
      r = d[dNref];
      v = d[dVreset];
    }
    s[V] = v + d[dE_L];
    s[refr] = r;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};
#undef NS_SRC

}  // namespace ns
