#pragma once
// NEST hh_cond_exp_traub: Hodgkin-Huxley neuron with Traub's sodium and potassium kinetics and
// exponentially decaying synaptic conductances (NEST models/hh_cond_exp_traub.{h,cpp}, v3.9/3.10
// numerics). Kinetics of Traub & Miles (1991, Neuronal Networks of the Hippocampus, Cambridge UP),
// as in Brette et al. (2007, J Comput Neurosci 23:349, appendix, benchmark 3 "COBAHH"), the two
// references of NEST's model documentation; rates in 1/ms with
// u = V - V_T (V_T = -63 mV "adjusts threshold to around -50 mV"):
//   C_m dV/dt = -g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L)
//               - g_ex (V - E_ex) - g_in (V - E_in) + I_e + I_stim
//   dx/dt = alpha_x - (alpha_x + beta_x) x,  x = m, h, n
//   alpha_n = 0.032 (15 - u) / (e^{(15-u)/5} - 1),  beta_n = 0.5 e^{(10-u)/40}
//   alpha_m = 0.32 (13 - u) / (e^{(13-u)/4} - 1),   beta_m = 0.28 (u - 40) / (e^{(u-40)/5} - 1)
//   alpha_h = 0.128 e^{(17-u)/18},                 beta_h = 4 / (1 + e^{(40-u)/5})
//   dg_ex/dt = -g_ex/tau_syn_ex, dg_in/dt = -g_in/tau_syn_in; a spike of weight w > 0 adds w nS to
//   g_ex, w < 0 adds |w| nS to g_in (handle(SpikeEvent&)).
// The three 0/0 points (u = 15, 13, 40 exactly) use the limits 0.16, 1.28, 1.4 (NEST does not
// guard; only exact hits differ).
// Integration: adaptive RKF45 with GSL's gsl_odeiv_control_y_new(1e-3, 0) (rkf45.hpp), internal
// step persistent across grid steps.
// Per grid step (NEST update()): remember V_old; integrate; add this step's spike input to the
// conductances; then if refractory count down, else V >= V_T + 30 mV and V_old > V (just past the
// peak) is a spike (stamp t_{k+1}), refractory for t_ref. No reset: t_ref only blinds the detector.
// Start state (NEST State_(Parameters_())): V_m = E_L's default -60 mV and the gates at the
// steady state of the rate functions evaluated at the ABSOLUTE -60 mV (NEST does not subtract
// V_T there, so they are not the dynamics' resting values); NEST keeps all four when E_L or V_T
// change. They are the start-state parameters V_m, Act_m, Inact_h, Act_n (values as NEST 3.10
// reports them with GetStatus).
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"
#include "neurosweep/point/rkf45.hpp"

namespace ns {

#define NS_SRC "NEST models/hh_cond_exp_traub.cpp, Parameters_::set"
#define NS_SRC_STATE "NEST models/hh_cond_exp_traub.cpp, State_::set"
struct HhCondExpTraubModel : point::SpikeFlagNeuron<HhCondExpTraubModel> {
  static constexpr const char* kName = "hh_cond_exp_traub";
  static constexpr const char* kDescription =
      "NEST hh_cond_exp_traub: Hodgkin-Huxley, Traub kinetics, exponential conductances, RKF45";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    g_Na, g_K, g_L, C_m, E_Na, E_K, E_L, V_T, E_ex, E_in, tau_syn_ex, tau_syn_in, t_ref, I_e,
    V_m, Act_m, Inact_h, Act_n,  // start state
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"g_Na", "nS", 20000.0, "sodium peak conductance", ge(0), "physical (a conductance; NEST does not check)"},
      {"g_K", "nS", 6000.0, "potassium peak conductance", ge(0), "physical (a conductance; NEST does not check)"},
      {"g_L", "nS", 10.0, "leak conductance", ge(0), "physical (a conductance; NEST does not check)"},
      {"C_m", "pF", 200.0, "membrane capacitance", gt(0), NS_SRC},
      {"E_Na", "mV", 50.0, "sodium reversal potential"},
      {"E_K", "mV", -90.0, "potassium reversal potential"},
      {"E_L", "mV", -60.0, "leak reversal potential"},
      {"V_T", "mV", -63.0, "voltage offset of the rate functions (spike detection at V_T + 30)"},
      {"E_ex", "mV", 0.0, "excitatory reversal potential"},
      {"E_in", "mV", -80.0, "inhibitory reversal potential"},
      {"tau_syn_ex", "ms", 5.0, "decay time of the excitatory conductance", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 10.0, "decay time of the inhibitory conductance", gt(0), NS_SRC},
      {"t_ref", "ms", 2.0, "refractory period of spike detection (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"V_m", "mV", -60.0, "start value of V_m (NEST default, whatever E_L)"},
      {"Act_m", "1", 9.895563096746586e-09, "start value of m (NEST default)", ge(0), NS_SRC_STATE},
      {"Inact_h", "1", 0.999999999106396, "start value of h (NEST default)", ge(0), NS_SRC_STATE},
      {"Act_n", "1", 2.551577051602551e-07, "start value of n (NEST default)", ge(0), NS_SRC_STATE},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "nS", "(conductance jump)"),
  };

  static constexpr int kDim = 6;
  enum StateIx { V, Gex, Gin, M, H, N, refr, spike_flag, h_int, kNumState };
  // NEST's rules (NS_SRC) are all per parameter (ranges above).

  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -60.0, "V_m"},   {"g_ex", "nS", 0.0},  {"g_in", "nS", 0.0},
      {"Act_m", "1", 9.895563096746586e-09, "Act_m"}, {"Inact_h", "1", 0.999999999106396, "Inact_h"},
      {"Act_n", "1", 2.551577051602551e-07, "Act_n"}, {"refractory_steps", "1", 0.0},
      {"spike", "1", 0.0}, {"h_int", "ms"}};
  // NEST hh_cond_exp_traub.cpp State_::State_(p): V_M = E_L (default -60), gates from the rates
  // at the absolute -60 mV, conductances 0.
  static constexpr int kNumObs = 1;

  enum Derived {
    dgNa, dgK, dgL, dInvC, dENa, dEK, dEL, dVT, dEex, dEin, dInvTauEx, dInvTauIn, dNref, dI_e,
    dH, dV0, dM0, dH0, dN0, dVspike,
    kIn, kNumDerived = kIn + point::kInputDerived
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
    d[dVT] = T(p[V_T]);
    d[dEex] = T(p[E_ex]);
    d[dEin] = T(p[E_in]);
    d[dInvTauEx] = T(1.0 / double(p[tau_syn_ex]));
    d[dInvTauIn] = T(1.0 / double(p[tau_syn_in]));
    d[dNref] = T(point::grid_steps(double(p[t_ref]), h));
    d[dI_e] = T(p[I_e]);
    d[dH] = dt;
    d[dV0] = T(p[V_m]);
    d[dM0] = T(p[Act_m]);
    d[dH0] = T(p[Inact_h]);
    d[dN0] = T(p[Act_n]);
    d[dVspike] = T(double(p[V_T]) + 30.0);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  // c x / (e^{x/k} - 1) with its limit c k at x = 0.
  template <class T>
  NS_HD static T xexp(T x, T k, T c) {
    const T ax = x < T(0) ? -x : x;
    const bool tiny = ax < T(1e-6);
    const T xs = tiny ? T(1) : x;
    const T reg = c * xs / (fexp(xs / k) - T(1));
    return tiny ? c * k * (T(1) - x / (T(2) * k)) : reg;
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    s[V] = d[dV0];
    s[M] = d[dM0];
    s[H] = d[dH0];
    s[N] = d[dN0];
    s[h_int] = d[dH];  // NEST: IntegrationStep_ = resolution
  }

  // The ODE system for rkf45.hpp (hh_cond_exp_traub_dynamics).
  template <class D, class TT>
  struct Sys {
    D d;
    TT i_ext;
    template <class T>
    NS_HD void rhs(const T* y, T* f) const {
      const T v = y[V], m = y[M], hh = y[H], n = y[N];
      const T i_na = d[dgNa] * m * m * m * hh * (v - d[dENa]);
      const T i_k = d[dgK] * n * n * n * n * (v - d[dEK]);
      const T i_l = d[dgL] * (v - d[dEL]);
      const T i_syn = y[Gex] * (v - d[dEex]) + y[Gin] * (v - d[dEin]);
      f[V] = (-i_na - i_k - i_l - i_syn + i_ext) * d[dInvC];
      const T u = v - d[dVT];
      const T an = xexp<T>(T(15) - u, T(5), T(0.032));
      const T bn = T(0.5) * fexp((T(10) - u) / T(40));
      const T am = xexp<T>(T(13) - u, T(4), T(0.32));
      const T bm = xexp<T>(u - T(40), T(5), T(0.28));
      const T ah = T(0.128) * fexp((T(17) - u) / T(18));
      const T bh = T(4) / (T(1) + fexp((T(40) - u) / T(5)));
      f[M] = am - (am + bm) * m;
      f[H] = ah - (ah + bh) * hh;
      f[N] = an - (an + bn) * n;
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
    const T v_old = s[V];
    Sys<D, T> sys{d, i_ext};
    point::gsl_grid_step<kDim, point::Rkf45Control::kY, T>(s, h_int, y, sys, d[dH], T(1e-3));
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    y[Gex] = y[Gex] + w_ex;
    y[Gin] = y[Gin] + w_in;
    T r = s[refr];
    bool fire = false;
    if (r > T(0)) {
      r = r - T(1);
    } else if (y[V] >= d[dVspike] && v_old > y[V]) {
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
