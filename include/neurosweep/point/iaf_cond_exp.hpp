#pragma once
// NEST iaf_cond_exp: leaky integrate-and-fire neuron with exponentially decaying synaptic
// conductances (NEST models/iaf_cond_exp.{h,cpp}, v3.9/3.10 numerics; Meffin, Burkitt & Grayden
// 2004, J Comput Neurosci 16:159, the conductance-based LIF; NEST's equations:
//   C_m dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in) + I_e + I_stim
//   dg_ex/dt = -g_ex / tau_syn_ex,  dg_in/dt = -g_in / tau_syn_in
// a spike of weight w > 0 adds w nS to g_ex, w < 0 adds |w| nS to g_in (handle(SpikeEvent&)).
// Inside the right-hand side (iaf_cond_exp_dynamics) V is min(V, V_th); while refractory V is
// V_reset there and dV/dt = 0.
// Integration: adaptive RKF45 with GSL's gsl_odeiv_control_y_new(1e-3, 0) (absolute error 1e-3
// on every state variable; rkf45.hpp), internal step persistent across grid steps (initialised
// to the resolution, init_buffers_).
// Per grid step (NEST update()): integrate; add this step's spike input to g_ex/g_in; then if
// refractory: count down and hold V = V_reset; else V >= V_th is a spike (stamp t_{k+1}):
// V <- V_reset, refractory for t_ref (Time(ms(t_ref)).get_steps(), inputs.hpp grid_steps).
// Defaults and checks: NEST Parameters_() and Parameters_::set (V_reset < V_th, C_m > 0,
// t_ref >= 0, tau_syn_* > 0). Start state V_m = -70 mV (NEST's State_ is built from the default
// E_L and keeps its absolute V_m when E_L is changed), conductances 0.
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"
#include "neurosweep/point/rkf45.hpp"

namespace ns {

#define NS_SRC "NEST models/iaf_cond_exp.cpp, Parameters_::set"
struct IafCondExpModel : point::SpikeFlagNeuron<IafCondExpModel> {
  static constexpr const char* kName = "iaf_cond_exp";
  static constexpr const char* kDescription =
      "NEST iaf_cond_exp: LIF, exponential conductances, RKF45 (GSL y-control 1e-3)";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    V_th, V_reset, t_ref, g_L, C_m, E_ex, E_in, E_L, tau_syn_ex, tau_syn_in, I_e,
    V_m,  // start state
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"V_th", "mV", -55.0, "spike threshold"},
      {"V_reset", "mV", -60.0, "reset potential"},
      {"t_ref", "ms", 2.0, "absolute refractory period (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"g_L", "nS", 16.6667, "leak conductance", ge(0), "physical (a conductance; NEST does not check)"},
      {"C_m", "pF", 250.0, "membrane capacitance", gt(0), NS_SRC},
      {"E_ex", "mV", 0.0, "excitatory reversal potential"},
      {"E_in", "mV", -85.0, "inhibitory reversal potential"},
      {"E_L", "mV", -70.0, "leak reversal potential"},
      {"tau_syn_ex", "ms", 0.2, "decay time of the excitatory conductance", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 2.0, "decay time of the inhibitory conductance", gt(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"V_m", "mV", -70.0, "start value of V_m (NEST default; kept when E_L changes, as in NEST)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "nS", "(conductance jump)"),
  };

  // NEST's cross-parameter rule (NS_SRC).
  static const char* check(const double* p) {
    if (!(p[V_reset] < p[V_th])) return "V_reset < V_th (NEST: reset potential must be smaller than threshold)";
    return nullptr;
  }

  static constexpr int kDim = 3;
  enum StateIx { V, Gex, Gin, refr, spike_flag, h_int, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.0, "V_m"}, {"g_ex", "nS", 0.0}, {"g_in", "nS", 0.0},
      {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0}, {"h_int", "ms"}};
  // NEST iaf_cond_exp.cpp State_::State_(p): V_M = E_L (default -70), conductances 0, r = 0.
  static constexpr int kNumObs = 1;

  enum Derived {
    dVth, dVreset, dNref, dgL, dInvC, dEex, dEin, dEL, dInvTauEx, dInvTauIn, dI_e, dH, dV0,
    kIn, kNumDerived = kIn + point::kInputDerived
  };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    d[dVth] = T(p[V_th]);
    d[dVreset] = T(p[V_reset]);
    d[dNref] = T(point::grid_steps(double(p[t_ref]), h));
    d[dgL] = T(p[g_L]);
    d[dInvC] = T(1.0 / double(p[C_m]));
    d[dEex] = T(p[E_ex]);
    d[dEin] = T(p[E_in]);
    d[dEL] = T(p[E_L]);
    d[dInvTauEx] = T(1.0 / double(p[tau_syn_ex]));
    d[dInvTauIn] = T(1.0 / double(p[tau_syn_in]));
    d[dI_e] = T(p[I_e]);
    d[dH] = dt;
    d[dV0] = T(p[V_m]);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    s[V] = d[dV0];
    s[h_int] = d[dH];  // NEST: B_.IntegrationStep_ = resolution
  }

  // The ODE system for rkf45.hpp (iaf_cond_exp_dynamics).
  template <class D, class TT>
  struct Sys {
    D d;
    TT i_ext;
    bool refractory;
    template <class T>
    NS_HD void rhs(const T* y, T* f) const {
      T v = y[V] < d[dVth] ? y[V] : d[dVth];
      v = refractory ? d[dVreset] : v;
      const T i_syn = y[Gex] * (v - d[dEex]) + y[Gin] * (v - d[dEin]);
      const T i_l = d[dgL] * (v - d[dEL]);
      f[V] = refractory ? T(0) : (-i_l + i_ext - i_syn) * d[dInvC];
      f[Gex] = -y[Gex] * d[dInvTauEx];
      f[Gin] = -y[Gin] * d[dInvTauIn];
    }
    template <class T>
    NS_HD bool after(T*) { return true; }  // NEST checks nothing per sub-step
  };

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_ext = d[dI_e] + point::input_current<T>(d, kIn, ctx);
    T y[kDim];
    T r = s[refr];
    Sys<D, T> sys{d, i_ext, r > T(0)};
    point::gsl_grid_step<kDim, point::Rkf45Control::kY, T>(s, h_int, y, sys, d[dH], T(1e-3));
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    y[Gex] = y[Gex] + w_ex;
    y[Gin] = y[Gin] + w_in;
    bool fire = false;
    if (r > T(0)) {
      r = r - T(1);
      y[V] = d[dVreset];
    } else if (y[V] >= d[dVth]) {
      fire = true;
      r = d[dNref];
      y[V] = d[dVreset];
    }
    for (int i = 0; i < kDim; ++i) s[i] = y[i];
    s[refr] = r;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};

#undef NS_SRC

}  // namespace ns
