#pragma once
// NEST hh_psc_alpha: Hodgkin-Huxley neuron with alpha-shaped post-synaptic currents (NEST
// models/hh_psc_alpha.{h,cpp}, v3.9 numerics; reference: shared/reference/point-neuron-models.md
// section 8a). Hodgkin & Huxley (1952, J Physiol 117:500), squid axon at 6.3 C, rates in 1/ms,
// V in mV (shifted convention with rest at -65 mV, as NEST):
//   C_m dV/dt = -[g_Na m^3 h (V - E_Na) + g_K n^4 (V - E_K) + g_L (V - E_L)]
//               + I_e + I_stim + I_ex + I_in                                      [HH52 eq. 26]
//   dx/dt = alpha_x(V) (1 - x) - beta_x(V) x,  x = m, h, n                       [HH52 eqs. 7, 15, 16]
//   alpha_n = 0.01 (V+55) / (1 - e^{-(V+55)/10}),  beta_n = 0.125 e^{-(V+65)/80}  [HH52 eqs. 12, 13]
//   alpha_m = 0.1 (V+40) / (1 - e^{-(V+40)/10}),   beta_m = 4 e^{-(V+65)/18}      [HH52 eqs. 20, 21]
//   alpha_h = 0.07 e^{-(V+65)/20},                 beta_h = 1 / (1 + e^{-(V+35)/10}) [HH52 eqs. 23, 24]
//   alpha PSCs: dI' = -dI/tau, I' = dI - I/tau; a spike of weight w adds w e/tau to dI
//   (peak w pA at t = tau; inhibitory currents are negative).
// Integration: adaptive RKF45 with GSL's gsl_odeiv_control_y_new(1e-3, 0) (absolute error 1e-3
// on every state variable; rkf45.hpp), internal step persistent across grid steps.
// Per grid step (NEST update order): remember V_old; integrate; add this step's spike input to
// dI; then if refractory count down, else V >= 0 mV and V_old > V (just past the peak) is a spike
// (stamp t_{k+1}), refractory for t_ref. There is no reset: refractoriness only stops the falling
// flank from being detected again.
// Initial state (NEST): V = -65 mV (not E_L), gates at their steady state for -65 mV, PSCs 0;
// V_m and the gates Act_m, Inact_h, Act_n are start-state parameters (NEST's State_ names).
// The rate functions alpha_n, alpha_m are 0/0 at V = -55 / -40 mV exactly; there the limit
// (0.1 and 1.0) is used (NEST does not guard; only exact hits differ).
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"
#include "neurosweep/point/rkf45.hpp"

namespace ns {

#define NS_SRC "NEST models/hh_psc_alpha.cpp, Parameters_::set"
#define NS_SRC_STATE "NEST models/hh_psc_alpha.cpp, State_::set"
struct HhPscAlphaModel : point::SpikeFlagNeuron<HhPscAlphaModel> {
  static constexpr const char* kName = "hh_psc_alpha";
  static constexpr const char* kDescription =
      "NEST hh_psc_alpha: Hodgkin-Huxley (1952), alpha-shaped PSCs, RKF45 (GSL y-control 1e-3)";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    t_ref, g_Na, g_K, g_L, C_m, E_Na, E_K, E_L, tau_syn_ex, tau_syn_in, I_e, V_m, Act_m, Inact_h, Act_n,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"t_ref", "ms", 2.0, "refractory period of spike detection (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"g_Na", "nS", 12000.0, "sodium peak conductance", ge(0), NS_SRC},
      {"g_K", "nS", 3600.0, "potassium peak conductance", ge(0), NS_SRC},
      {"g_L", "nS", 30.0, "leak conductance", ge(0), NS_SRC},
      {"C_m", "pF", 100.0, "membrane capacitance", gt(0), NS_SRC},
      {"E_Na", "mV", 50.0, "sodium reversal potential"},
      {"E_K", "mV", -77.0, "potassium reversal potential"},
      {"E_L", "mV", -54.402, "leak reversal potential"},
      {"tau_syn_ex", "ms", 0.2, "rise time of the excitatory PSC", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 2.0, "rise time of the inhibitory PSC", gt(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"V_m", "mV", -65.0,
       "start value of the membrane potential (NEST's default -65 mV, not E_L; the gates start at "
       "their steady state for -65 mV whatever V_m, as in NEST)"},
      // NEST's State_ gates, settable as in NEST (State_::set: non-negative); defaults = the
      // steady state at -65 mV as NEST 3.10 reports it (GetStatus, tests/data/nest_reference.json).
      {"Act_m", "1", 0.05293248525724958, "start value of the Na activation m", ge(0), NS_SRC_STATE},
      {"Inact_h", "1", 0.5961207535084603, "start value of the Na inactivation h", ge(0), NS_SRC_STATE},
      {"Act_n", "1", 0.3176769140606974, "start value of the K activation n", ge(0), NS_SRC_STATE},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "pA", "(PSC peak amplitude)"),
  };

  // NEST's rules (NS_SRC) are all per parameter (ranges above).

  static constexpr int kDim = 8;
  enum StateIx { V, M, H, N, dIex, Iex, dIin, Iin, refr, spike_flag, h_int, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -65.0, "V_m"},           {"Act_m", "1", 0.05293248525724958, "Act_m"},
      {"Inact_h", "1", 0.5961207535084603, "Inact_h"}, {"Act_n", "1", 0.3176769140606974, "Act_n"},
      {"dI_ex", "pA/ms", 0.0},  {"I_ex", "pA", 0.0},  {"dI_in", "pA/ms", 0.0},  {"I_in", "pA", 0.0},
      {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0}, {"h_int", "ms"}};
  // NEST hh_psc_alpha.cpp State_::State_: V_m = -65, gates alpha/(alpha + beta) at -65 mV.
  static constexpr int kNumObs = 1;

  enum Derived {
    dgNa, dgK, dgL, dInvC, dENa, dEK, dEL, dInvTauEx, dInvTauIn, dJumpEx, dJumpIn, dI_e, dNref,
    dH, dV0, dM0, dH0, dN0, kIn, kNumDerived = kIn + point::kInputDerived
  };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    d[dgNa] = T(p[g_Na]);
    d[dgK] = T(p[g_K]);
    d[dgL] = T(p[g_L]);
    d[dInvC] = T(1.0 / double(p[C_m]));
    d[dENa] = T(p[E_Na]);
    d[dEK] = T(p[E_K]);
    d[dEL] = T(p[E_L]);
    d[dInvTauEx] = T(1.0 / double(p[tau_syn_ex]));
    d[dInvTauIn] = T(1.0 / double(p[tau_syn_in]));
    const double e = 2.718281828459045235;
    d[dJumpEx] = T(e / double(p[tau_syn_ex]));  // NEST PSCurrInit_E_
    d[dJumpIn] = T(e / double(p[tau_syn_in]));
    d[dI_e] = T(p[I_e]);
    d[dNref] = T(point::grid_steps(double(p[t_ref]), h));
    d[dH] = dt;
    d[dV0] = T(p[V_m]);
    d[dM0] = T(p[Act_m]);
    d[dH0] = T(p[Inact_h]);
    d[dN0] = T(p[Act_n]);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  // x / (1 - e^{-x/10}) * c with the removable singularity at x = 0 (limit 10 c).
  template <class T>
  NS_HD static T linexp(T x, T c) {
    const T ax = x < T(0) ? -x : x;
    const bool tiny = ax < T(1e-6);
    const T xs = tiny ? T(1) : x;
    const T reg = (c * xs) / (T(1) - fexp(-xs / T(10)));
    return tiny ? T(10) * c * (T(1) + x / T(20)) : reg;
  }

  struct Rates {
    template <class T>
    NS_HD static void eval(T v, T& am, T& bm, T& ah, T& bh, T& an, T& bn) {
      an = linexp<T>(v + T(55), T(0.01));
      bn = T(0.125) * fexp(-(v + T(65)) / T(80));
      am = linexp<T>(v + T(40), T(0.1));
      bm = T(4) * fexp(-(v + T(65)) / T(18));
      ah = T(0.07) * fexp(-(v + T(65)) / T(20));
      bh = T(1) / (T(1) + fexp(-(v + T(35)) / T(10)));
    }
  };

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    s[V] = d[dV0];
    s[M] = d[dM0];
    s[H] = d[dH0];
    s[N] = d[dN0];
    s[h_int] = d[dH];  // NEST: IntegrationStep_ = resolution
  }

  // The ODE system for rkf45.hpp (hh_psc_alpha_dynamics).
  template <class D, class TT>
  struct Sys {
    D d;
    TT i_ext;
    template <class T>
    NS_HD void rhs(const T* y, T* f) const {
      const T v = y[V], m = y[M], hh = y[H], n = y[N];
      T am, bm, ah, bh, an, bn;
      Rates::eval<T>(v, am, bm, ah, bh, an, bn);
      const T i_na = d[dgNa] * m * m * m * hh * (v - d[dENa]);
      const T i_k = d[dgK] * n * n * n * n * (v - d[dEK]);
      const T i_l = d[dgL] * (v - d[dEL]);
      f[V] = (-(i_na + i_k + i_l) + i_ext + y[Iex] + y[Iin]) * d[dInvC];
      f[M] = am * (T(1) - m) - bm * m;
      f[H] = ah * (T(1) - hh) - bh * hh;
      f[N] = an * (T(1) - n) - bn * n;
      f[dIex] = -y[dIex] * d[dInvTauEx];
      f[Iex] = y[dIex] - y[Iex] * d[dInvTauEx];
      f[dIin] = -y[dIin] * d[dInvTauIn];
      f[Iin] = y[dIin] - y[Iin] * d[dInvTauIn];
    }
    template <class T>
    NS_HD bool after(T*) { return true; }  // NEST checks nothing per sub-step
  };

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_ext = d[dI_e] + point::input_current<T>(d, kIn, ctx);
    T y[kDim];
    const T v_old = s[V];
    Sys<D, T> sys{d, i_ext};
    point::gsl_grid_step<kDim, point::Rkf45Control::kY, T>(s, h_int, y, sys, d[dH], T(1e-3));
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    y[dIex] = y[dIex] + d[dJumpEx] * w_ex;
    y[dIin] = y[dIin] - d[dJumpIn] * w_in;
    T r = s[refr];
    bool fire = false;
    if (r > T(0)) {
      r = r - T(1);
    } else if (y[V] >= T(0) && v_old > y[V]) {
      fire = true;
      r = d[dNref];
    }
    for (int i = 0; i < kDim; ++i) s[i] = y[i];
    s[refr] = r;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};
#undef NS_SRC
#undef NS_SRC_STATE

}  // namespace ns
