#pragma once
// NEST iaf_psc_exp: leaky integrate-and-fire neuron with exponential post-synaptic currents,
// integrated exactly on the grid (Rotter & Diesmann 1999, Biol Cybern 81:381-402; NEST
// models/iaf_psc_exp.{h,cpp}, numerics of NEST v3.9; reference: shared/reference/
// point-neuron-models.md section 2).
//   dV/dt = -(V - E_L)/tau_m + (I_syn_ex + I_syn_in + I_e + I_stim)/C_m
//   dI_syn_X/dt = -I_syn_X / tau_syn_X;  a spike of weight w makes I_syn_X jump by w (pA).
// Threshold V >= V_th -> V = V_reset, clamped for t_ref (NEST's grid rule: inputs.hpp grid_steps).
// Stochastic threshold when delta > 1e-10: spike with probability rho exp((V - V_th)/delta) h.
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

#define NS_SRC "NEST models/iaf_psc_exp.cpp, Parameters_::set"
struct IafPscExpModel : point::SpikeFlagNeuron<IafPscExpModel> {
  static constexpr const char* kName = "iaf_psc_exp";
  static constexpr const char* kDescription =
      "NEST iaf_psc_exp: LIF, exponential PSCs, exact integration (Rotter & Diesmann 1999)";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kCpuWideVectors = true;  // 512-bit CPU tiles (host/backends/cpu_tiles_wide.cpp)
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    E_L, C_m, tau_m, t_ref, V_th, V_reset, tau_syn_ex, tau_syn_in, I_e, delta, rho, V_m,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"E_L", "mV", -70.0, "resting membrane potential"},
      {"C_m", "pF", 250.0, "membrane capacitance", gt(0), NS_SRC},
      {"tau_m", "ms", 10.0, "membrane time constant", gt(0), NS_SRC},
      {"t_ref", "ms", 2.0, "absolute refractory period (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"V_th", "mV", -55.0, "spike threshold"},
      {"V_reset", "mV", -70.0, "reset potential"},
      {"tau_syn_ex", "ms", 2.0, "excitatory synaptic time constant", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 2.0, "inhibitory synaptic time constant", gt(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"delta", "mV", 0.0, "escape-noise width (0: deterministic threshold)", ge(0), NS_SRC},
      {"rho", "1/s", 0.01, "escape rate at threshold (used when delta > 0)", ge(0), NS_SRC},
      {"V_m", "mV", -70.0,
       "start value of the membrane potential (NEST's default; kept when E_L changes, as in NEST)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "pA", "(jump of I_syn_ex / I_syn_in)"),
  };

  // NEST's cross-parameter rule (NS_SRC).
  static const char* check(const double* p) {
    if (!(p[V_reset] < p[V_th])) return "V_reset < V_th (NEST: reset potential must be smaller than threshold)";
    return nullptr;
  }

  enum StateIx { V, Iex, Iin, refr, spike_flag, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -70.0, "V_m"}, {"I_syn_ex", "pA", 0.0}, {"I_syn_in", "pA", 0.0},
      {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0}};  // NEST iaf_psc_exp.cpp State_::State_
  static constexpr int kNumObs = 1;

  enum Derived {
    dP22, dP21ex, dP21in, dP20, dP11ex, dP11in, dE_L, dVth, dVreset, dI_e, dNref, dDelta, dRhoH, dV0,
    kIn, kNumDerived = kIn + point::kInputDerived
  };

  // NEST pre_run_hook: propagators for step h (V is kept relative to E_L inside step()).
  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    const double tm = double(p[tau_m]), c = double(p[C_m]);
    const double p22 = fexp(-h / tm);
    d[dP22] = T(p22);
    d[dP20] = T(tm / c * (1.0 - p22));
    d[dP11ex] = T(fexp(-h / double(p[tau_syn_ex])));
    d[dP11in] = T(fexp(-h / double(p[tau_syn_in])));
    d[dP21ex] = T(point::iaf_propagators(double(p[tau_syn_ex]), tm, c, h).p32);
    d[dP21in] = T(point::iaf_propagators(double(p[tau_syn_in]), tm, c, h).p32);
    d[dE_L] = T(p[E_L]);
    d[dVth] = T(double(p[V_th]) - double(p[E_L]));
    d[dVreset] = T(double(p[V_reset]) - double(p[E_L]));
    d[dI_e] = T(p[I_e]);
    d[dNref] = T(point::grid_steps(double(p[t_ref]), h));
    d[dDelta] = T(p[delta]);
    d[dRhoH] = T(double(p[rho]) * h * 1e-3);
    d[dV0] = T(p[V_m]);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    s[V] = d[dV0];
    s[Iex] = T(0);
    s[Iin] = T(0);
    s[refr] = T(0);
    s[spike_flag] = T(0);
  }

  // Random draws an instance needs (point/inputs.hpp, model_input_mode): all of them with escape
  // noise, else those of its Poisson input.
  template <class D>
  NS_HD static int input_mode(D d) {
    return d[dDelta] < decltype(+d[dDelta])(1e-10) ? point::input_mode(d, kIn) : kInputAll;
  }

  // One grid step t_k -> t_{k+1} in NEST's update order (iaf_psc_exp.cpp update()).
  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_stim = point::input_current<T>(d, kIn, ctx);
    T v = s[V] - d[dE_L];
    T r = s[refr];
    T iex = s[Iex], iin = s[Iin];
    // 1. membrane (only when not refractory; V clamped otherwise)
    if (r == T(0)) {
      v = d[dP22] * v + d[dP21ex] * iex + d[dP21in] * iin + d[dP20] * (d[dI_e] + i_stim);
    } else {
      r = r - T(1);
    }
    // 2. synaptic decay, 3. this step's input spikes (enter the state at t_{k+1})
    T w_ex, w_in;
    point::poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    iex = d[dP11ex] * iex + w_ex;
    iin = d[dP11in] * iin - w_in;
    // 4. threshold
    // fire as a T (0 or 1) from both rules: a bool selected between a T comparison and a double
    // comparison is a mask of another width, which stops GCC 12 from vectorising the CPU tile.
    const T fire_det = v >= d[dVth] ? T(1) : T(0);
    T fire_esc = T(0);
    // escape noise; like NEST, not gated by refractoriness. (CPU tiles whose lanes all have
    // delta < 1e-10 run with a lower input mode and leave this code out: input_mode below.)
    if (ctx.input_mode == kInputAll && d[dDelta] >= T(1e-10)) {
      point::CounterRng rng(ctx, point::kStreamEscape);
      const double p_fire =
          double(d[dRhoH]) * fexp(double(v - d[dVth]) / double(d[dDelta]));
      fire_esc = rng.uniform() < p_fire ? T(1) : T(0);
    }
    const bool fire = (d[dDelta] < T(1e-10) ? fire_det : fire_esc) > T(0);
    if (fire) {
      r = d[dNref];
      v = d[dVreset];
    }
    s[V] = v + d[dE_L];
    s[Iex] = iex;
    s[Iin] = iin;
    s[refr] = r;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};
#undef NS_SRC

}  // namespace ns
