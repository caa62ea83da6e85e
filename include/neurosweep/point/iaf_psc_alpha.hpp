#pragma once
// NEST iaf_psc_alpha: leaky integrate-and-fire neuron with alpha-shaped post-synaptic currents,
// exact integration (Rotter & Diesmann 1999, Biol Cybern 81:381-402; NEST models/
// iaf_psc_alpha.{h,cpp}, v3.9 numerics; reference section 4).
//   dV/dt = -(V - E_L)/tau_m + (I_ex + I_in + I_e + I_stim)/C_m
//   dI_X/dt = dI_X - I_X/tau_X,  d(dI_X)/dt = -dI_X/tau_X
// A spike of weight w adds w e/tau_X to dI_X: PSC (e w/tau) t e^{-t/tau}, peak w pA at t = tau.
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

#define NS_SRC "NEST models/iaf_psc_alpha.cpp, Parameters_::set"
struct IafPscAlphaModel : point::SpikeFlagNeuron<IafPscAlphaModel> {
  static constexpr const char* kName = "iaf_psc_alpha";
  static constexpr const char* kDescription =
      "NEST iaf_psc_alpha: LIF, alpha-shaped PSCs, exact integration (Rotter & Diesmann 1999)";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kCpuWideVectors = true;  // 512-bit CPU tiles (host/backends/cpu_tiles_wide.cpp)
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    E_L, C_m, tau_m, t_ref, V_th, V_reset, tau_syn_ex, tau_syn_in, I_e, V_min, V_m,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"E_L", "mV", -70.0, "resting membrane potential"},
      {"C_m", "pF", 250.0, "membrane capacitance", gt(0), NS_SRC},
      {"tau_m", "ms", 10.0, "membrane time constant", gt(0), NS_SRC},
      {"t_ref", "ms", 2.0, "absolute refractory period (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"V_th", "mV", -55.0, "spike threshold"},
      {"V_reset", "mV", -70.0, "reset potential"},
      {"tau_syn_ex", "ms", 2.0, "rise time of the excitatory PSC", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 2.0, "rise time of the inhibitory PSC", gt(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"V_min", "mV", -1.7976931348623157e308, "absolute lower bound of V (NEST: -DBL_MAX)"},
      {"V_m", "mV", -70.0,
       "start value of the membrane potential (NEST's default; kept when E_L changes, as in NEST)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "pA", "(PSC peak amplitude)"),
  };

  // NEST's cross-parameter rule (NS_SRC).
  static const char* check(const double* p) {
    if (!(p[V_reset] < p[V_th])) return "V_reset < V_th (NEST: reset potential must be smaller than threshold)";
    return nullptr;
  }

  enum StateIx { V, dIex, Iex, dIin, Iin, refr, spike_flag, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.0, "V_m"}, {"dI_syn_ex", "pA/ms", 0.0}, {"I_syn_ex", "pA", 0.0},
      {"dI_syn_in", "pA/ms", 0.0}, {"I_syn_in", "pA", 0.0},       {"refractory_steps", "1", 0.0},
      {"spike", "1", 0.0}};  // NEST iaf_psc_alpha.cpp State_::State_ (y3_ = 0 relative to E_L)
  static constexpr int kNumObs = 1;

  enum Derived {
    dP11ex, dP21ex, dP11in, dP21in, dP30, dP31ex, dP32ex, dP31in, dP32in, dExpm1Tm,
    dPsc0ex, dPsc0in, dE_L, dVth, dVreset, dVmin, dI_e, dNref, dV0,
    kIn, kNumDerived = kIn + point::kInputDerived
  };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    const double tm = double(p[tau_m]), c = double(p[C_m]), el = double(p[E_L]);
    const double te = double(p[tau_syn_ex]), ti = double(p[tau_syn_in]);
    d[dP11ex] = T(fexp(-h / te));  // = P22_ex
    d[dP21ex] = T(h * fexp(-h / te));
    d[dP11in] = T(fexp(-h / ti));
    d[dP21in] = T(h * fexp(-h / ti));
    const double em1 = point::expm1_d(-h / tm);
    d[dExpm1Tm] = T(em1);
    d[dP30] = T(-tm / c * em1);
    const point::Propagators pe = point::iaf_propagators(te, tm, c, h);
    const point::Propagators pi = point::iaf_propagators(ti, tm, c, h);
    d[dP31ex] = T(pe.p31);
    d[dP32ex] = T(pe.p32);
    d[dP31in] = T(pi.p31);
    d[dP32in] = T(pi.p32);
    const double e = 2.718281828459045235;
    d[dPsc0ex] = T(e / te);
    d[dPsc0in] = T(e / ti);
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
    s[dIex] = s[Iex] = s[dIin] = s[Iin] = T(0);
    s[refr] = T(0);
    s[spike_flag] = T(0);
  }

  // NEST iaf_psc_alpha::update() order: V (if not refractory), PSC propagation, this step's
  // spike input into dI (so it reaches V from the next step on), threshold.
  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_stim = point::input_current<T>(d, kIn, ctx);
    T v = s[V] - d[dE_L];
    T r = s[refr];
    const T dex = s[dIex], iex = s[Iex], din = s[dIin], iin = s[Iin];
    if (r == T(0)) {
      v = d[dP30] * (i_stim + d[dI_e]) + d[dP31ex] * dex + d[dP32ex] * iex + d[dP31in] * din +
          d[dP32in] * iin + d[dExpm1Tm] * v + v;
      v = v < d[dVmin] ? d[dVmin] : v;
    } else {
      r = r - T(1);
    }
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    s[Iex] = d[dP21ex] * dex + d[dP11ex] * iex;
    s[dIex] = d[dP11ex] * dex + d[dPsc0ex] * w_ex;
    s[Iin] = d[dP21in] * din + d[dP11in] * iin;
    s[dIin] = d[dP11in] * din - d[dPsc0in] * w_in;
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
