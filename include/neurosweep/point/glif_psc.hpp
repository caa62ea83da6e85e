#pragma once
// NEST glif_psc: generalized leaky integrate-and-fire models GLIF 1-5 of the Allen Institute
// (Teeter et al. 2018, Nat Commun 9:709, "Generalized leaky integrate-and-fire models classify
// multiple neuron types", Methods eqs. 1-5 and Table 1), with alpha-shaped PSCs; NEST
// models/glif_psc.{h,cpp} (v3.9 numerics; reference: shared/reference/point-neuron-models.md
// section 7). With U = V - E_L:
//   C dU/dt = -g U + I + sum_j I_j + I_syn                         [Teeter eq. 1]
//   dI_j/dt = -k_j I_j              (after-spike currents, GLIF3-5) [Teeter eq. 2]
//   Theta = Theta_inf + Theta_s + Theta_v                           [Teeter eq. 3]
//   dTheta_s/dt = -b_s Theta_s      (GLIF2/4/5)                     [Teeter eq. 4]
//   dTheta_v/dt = a_v U - b_v Theta_v  (GLIF5)                      [Teeter eq. 5]
//   spike when U > Theta (strict); then, applied at once for the refractory period t_ref:
//   I_j <- asc_amps_j + I_j r_j e^{-k_j t_ref}; GLIF1/3: U <- V_reset;
//   GLIF2/4/5: U <- f_v U_old + voltage_reset_add, Theta_s <- Theta_s e^{-b_s t_ref} + th_spike_add.
// Levels by mechanism flags (spike_dependent_threshold, after_spike_currents, adapting_threshold):
// GLIF1 (0,0,0), GLIF2 (1,0,0), GLIF3 (0,1,0), GLIF4 (1,1,0), GLIF5 (1,1,1). Any other combination
// is invalid (NEST: BadProperty): the instance starts with V = NaN and reports status nonfinite.
// Exact integration per step as NEST's update(): Theta_s decays, ASC step-average
// I_j (1 - e^{-k_j h})/(k_j h) then I_j decays, U by the propagators P33, P30 and the alpha-PSC
// propagators P31, P32 (IAFPropagatorAlpha, tau_m = C/g), Theta_v by its closed form over the
// step. Refractory steps hold U and freeze Theta and the ASCs; PSCs always propagate.
//
// Differences from NEST, all documented in docs/POINT_MODELS.md:
//  * NEST's array parameters have a fixed size here: two after-spike currents (asc_*_0, asc_*_1:
//    the NEST default and every Allen fit) and up to kMaxReceptors = 4 alpha receptor ports
//    (tau_syn_0 .. tau_syn_3 = NEST's tau_syn[0..3], ports 1..4; BMTK's Allen GLIF files have 4).
//    The excitatory Poisson train drives port receptor_ex (default 1), the inhibitory one port
//    receptor_in (default 2); NEST's default is one port with tau_syn = 2 ms, equivalent to two
//    ports of 2 ms. Ports that receive no train stay at zero and are not integrated (the PSCs are
//    linear and start at 0), so the state holds the two driven ports only. Array values in a dynamics_params file
//    map to these names (host/spec/nest_params.cpp).
//  * NEST's glif_psc has no I_e; here I_e (default 0, acting like the other models' I_e) is added
//    so that f-I curves are sweeps over a parameter. NEST's current generators act one step later
//    than I_e (as for every model; see docs/POINT_MODELS.md).
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

#define NS_SRC "NEST models/glif_psc.cpp, Parameters_::set"
struct GlifPscModel : point::SpikeFlagNeuron<GlifPscModel> {
  static constexpr const char* kName = "glif_psc";
  static constexpr const char* kDescription =
      "NEST glif_psc: Allen GLIF 1-5 (Teeter et al. 2018), alpha-shaped PSCs, exact integration";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    g, E_L, V_th, C_m, t_ref, V_reset, th_spike_add, th_spike_decay, voltage_reset_fraction,
    voltage_reset_add, th_voltage_index, th_voltage_decay, asc_init_0, asc_init_1, asc_decay_0,
    asc_decay_1, asc_amps_0, asc_amps_1, asc_r_0, asc_r_1, tau_syn_0, tau_syn_1, tau_syn_2, tau_syn_3,
    spike_dependent_threshold, after_spike_currents, adapting_threshold, I_e, V_m, receptor_ex,
    receptor_in,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr int kMaxReceptors = 4;  // receptor ports (NEST: any number; BMTK files have 4)
  // Defaults: NEST's (Allen cell 490626718, GLIF5 fit), flags all false = GLIF1.
  static constexpr ParamInfo kParams[kNumParams] = {
      {"g", "nS", 9.43, "membrane conductance", gt(0), NS_SRC},
      {"E_L", "mV", -78.85, "resting membrane potential"},
      {"V_th", "mV", -51.68, "instantaneous threshold Theta_inf (absolute)"},
      {"C_m", "pF", 58.72, "membrane capacitance", gt(0), NS_SRC},
      {"t_ref", "ms", 3.75, "refractory period (> 0; rounded to the grid)", gt(0), NS_SRC},
      {"V_reset", "mV", -78.85, "reset potential of GLIF1/3 (absolute)"},
      {"th_spike_add", "mV", 0.37, "threshold jump after a spike (GLIF2/4/5)"},
      {"th_spike_decay", "1/ms", 0.009, "decay rate b_s of the spike threshold component"},
      {"voltage_reset_fraction", "1", 0.20, "f_v: U <- f_v U_old + voltage_reset_add (GLIF2/4/5)"},
      {"voltage_reset_add", "mV", 18.51, "additive voltage reset (GLIF2/4/5)"},
      {"th_voltage_index", "1/ms", 0.005, "a_v: coupling of U into the threshold (GLIF5)"},
      {"th_voltage_decay", "1/ms", 0.09, "b_v: decay rate of the voltage threshold component"},
      {"asc_init_0", "pA", 0.0, "initial after-spike current 0 (NEST asc_init[0])"},
      {"asc_init_1", "pA", 0.0, "initial after-spike current 1 (NEST asc_init[1])"},
      {"asc_decay_0", "1/ms", 0.003, "decay rate k_0 of after-spike current 0 (NEST asc_decay[0])"},
      {"asc_decay_1", "1/ms", 0.1, "decay rate k_1 of after-spike current 1 (NEST asc_decay[1])"},
      {"asc_amps_0", "pA", -9.18, "after-spike current 0 amplitude (NEST asc_amps[0])"},
      {"asc_amps_1", "pA", -198.94, "after-spike current 1 amplitude (NEST asc_amps[1])"},
      {"asc_r_0", "1", 1.0, "fraction of current 0 kept at a spike (NEST asc_r[0])"},
      {"asc_r_1", "1", 1.0, "fraction of current 1 kept at a spike (NEST asc_r[1])"},
      {"tau_syn_0", "ms", 2.0, "alpha PSC time constant of receptor port 1 (NEST tau_syn[0])", gt(0), NS_SRC},
      {"tau_syn_1", "ms", 2.0, "alpha PSC time constant of receptor port 2 (NEST tau_syn[1])", gt(0), NS_SRC},
      {"tau_syn_2", "ms", 2.0, "alpha PSC time constant of receptor port 3 (NEST tau_syn[2])", gt(0), NS_SRC},
      {"tau_syn_3", "ms", 2.0, "alpha PSC time constant of receptor port 4 (NEST tau_syn[3])", gt(0), NS_SRC},
      {"spike_dependent_threshold", "bool", 0.0, "GLIF2/4/5 mechanism: spike threshold + reset rule", whole().ge(0).le(1), "NEST models/glif_psc.cpp (a bool)"},
      {"after_spike_currents", "bool", 0.0, "GLIF3/4/5 mechanism: after-spike currents", whole().ge(0).le(1), "NEST models/glif_psc.cpp (a bool)"},
      {"adapting_threshold", "bool", 0.0, "GLIF5 mechanism: voltage-dependent threshold", whole().ge(0).le(1), "NEST models/glif_psc.cpp (a bool)"},
      {"I_e", "pA", 0.0, "constant input current (neurosweep extension; NEST has none)"},
      {"V_m", "mV", -78.85,
       "start value of the membrane potential (NEST's default = the default E_L; kept when E_L changes)"},
      {"receptor_ex", "1", 1.0, "receptor port (1..4) the excitatory Poisson train drives",
       whole().ge(1).le(kMaxReceptors), "NEST glif_psc: ports 1 .. size of tau_syn"},
      {"receptor_in", "1", 2.0, "receptor port (1..4) the inhibitory Poisson train drives",
       whole().ge(1).le(kMaxReceptors), "NEST glif_psc: ports 1 .. size of tau_syn"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "pA", "(PSC peak amplitude)"),
  };

  // NEST's cross-parameter and mechanism-dependent rules (NS_SRC).
  static const char* check(const double* p) {
    const bool ts = p[spike_dependent_threshold] != 0.0, asc = p[after_spike_currents] != 0.0,
               tv = p[adapting_threshold] != 0.0;
    if (tv && !(ts && asc))
      return "adapting_threshold = 1 needs spike_dependent_threshold = 1 and after_spike_currents = 1 (NEST: "
             "the mechanism combinations are GLIF1-5 only)";
    if (!(p[V_reset] < p[V_th])) return "V_reset < V_th (NEST: reset potential must be smaller than threshold)";
    if (asc && !(p[asc_decay_0] > 0.0 && p[asc_decay_1] > 0.0))
      return "asc_decay_0 > 0 and asc_decay_1 > 0 when after_spike_currents = 1 (NEST: after-spike current "
             "time constant must be strictly positive)";
    if (asc && !(p[asc_r_0] >= 0.0 && p[asc_r_0] <= 1.0 && p[asc_r_1] >= 0.0 && p[asc_r_1] <= 1.0))
      return "0 <= asc_r_0 <= 1 and 0 <= asc_r_1 <= 1 when after_spike_currents = 1 (NEST)";
    if (tv && !(p[th_voltage_decay] > 0.0))
      return "th_voltage_decay > 0 when adapting_threshold = 1 (NEST)";
    if (ts && !(p[th_spike_decay] > 0.0)) return "th_spike_decay > 0 when spike_dependent_threshold = 1 (NEST)";
    if (ts && !(p[voltage_reset_fraction] >= 0.0 && p[voltage_reset_fraction] <= 1.0))
      return "0 <= voltage_reset_fraction <= 1 when spike_dependent_threshold = 1 (NEST)";
    return nullptr;
  }

  enum StateIx {
    V, ThS, ThV, Asc0, Asc1, Y1ex, Y2ex, Y1in, Y2in, refr, spike_flag, kNumState
  };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -78.85, "V_m"}, {"threshold_spike", "mV", 0.0}, {"threshold_voltage", "mV", 0.0},
      {"ASCurrents_0", "pA", 0.0},   {"ASCurrents_1", "pA", 0.0},   {"y1_0", "pA/ms", 0.0},
      {"I_syn_0", "pA", 0.0},        {"y1_1", "pA/ms", 0.0},        {"I_syn_1", "pA", 0.0},
      {"refractory_steps", "1", 0.0}, {"spike", "1", 0.0}};
  // NEST glif_psc.cpp State_::State_(p): U_ = 0 relative to E_L (default -78.85), ASCurrents_ =
  // asc_init (default 0), threshold components 0.
  static constexpr int kNumObs = 1;

  enum Derived {
    dP33, dP30, dP11ex, dP21ex, dP31ex, dP32ex, dPsc0ex, dP11in, dP21in, dP31in, dP32in, dPsc0in,
    dE_L, dThInf, dVreset, dFv, dVadd, dThAdd, dThSDecay, dThSRefDecay,
    dAscRate0, dAscRate1, dAscStable0, dAscStable1, dAscRef0, dAscRef1, dAscAmp0, dAscAmp1, dAscInit0, dAscInit1,
    dPotDecay, dThVDecayInv, dPhi, dAbRatio, dInvG, dNref, dHasTs, dHasAsc, dHasTv, dValid, dI_e, dV0,
    kIn, kNumDerived = kIn + point::kInputDerived
  };

  // NEST glif_psc::pre_run_hook.
  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    const double G = double(p[g]), C = double(p[C_m]), el = double(p[E_L]);
    const double tau = C / G;
    const double p33 = fexp(-h / tau);
    d[dP33] = T(p33);
    d[dP30] = T(1.0 / C * (1.0 - p33) * tau);
    // Time constants of the ports the two trains drive (1-based as NEST's receptor_type).
    const double port_ex = double(p[receptor_ex]), port_in = double(p[receptor_in]);
    const bool ports_ok = port_ex >= 1.0 && port_ex <= kMaxReceptors && port_in >= 1.0 &&
                          port_in <= kMaxReceptors && port_ex == ffloor(port_ex) &&
                          port_in == ffloor(port_in);
    const double te = ports_ok ? double(p[tau_syn_0 + int(port_ex) - 1]) : 2.0;
    const double ti = ports_ok ? double(p[tau_syn_0 + int(port_in) - 1]) : 2.0;
    d[dP11ex] = T(fexp(-h / te));
    d[dP21ex] = T(h * fexp(-h / te));
    d[dP11in] = T(fexp(-h / ti));
    d[dP21in] = T(h * fexp(-h / ti));
    const point::Propagators pe = point::iaf_propagators(te, tau, C, h);
    const point::Propagators pi = point::iaf_propagators(ti, tau, C, h);
    d[dP31ex] = T(pe.p31);
    d[dP32ex] = T(pe.p32);
    d[dP31in] = T(pi.p31);
    d[dP32in] = T(pi.p32);
    const double e = 2.718281828459045235;
    d[dPsc0ex] = T(e / te);
    d[dPsc0in] = T(e / ti);
    d[dE_L] = T(el);
    d[dThInf] = T(double(p[V_th]) - el);
    d[dVreset] = T(double(p[V_reset]) - el);
    d[dFv] = T(p[voltage_reset_fraction]);
    d[dVadd] = T(p[voltage_reset_add]);
    d[dThAdd] = T(p[th_spike_add]);
    const double bs = double(p[th_spike_decay]), tref = double(p[t_ref]);
    d[dThSDecay] = T(fexp(-bs * h));
    d[dThSRefDecay] = T(fexp(-bs * tref));
    for (int j = 0; j < 2; ++j) {
      const double k = double(p[asc_decay_0 + j]);
      const double rate = fexp(-k * h);
      d[dAscRate0 + j] = T(rate);
      d[dAscStable0 + j] = T(((1.0 / k) / h) * (1.0 - rate));
      d[dAscRef0 + j] = T(double(p[asc_r_0 + j]) * fexp(-k * tref));
      d[dAscAmp0 + j] = T(p[asc_amps_0 + j]);
      d[dAscInit0 + j] = T(p[asc_init_0 + j]);
    }
    const double av = double(p[th_voltage_index]), bv = double(p[th_voltage_decay]);
    d[dPotDecay] = T(fexp(-G * h / C));
    d[dThVDecayInv] = T(1.0 / fexp(bv * h));
    d[dPhi] = T(av / (bv - G / C));
    d[dAbRatio] = T(av / bv);
    d[dInvG] = T(1.0 / G);
    d[dNref] = T(point::grid_steps(tref, h));
    const bool ts = double(p[spike_dependent_threshold]) != 0.0;
    const bool asc = double(p[after_spike_currents]) != 0.0;
    const bool tv = double(p[adapting_threshold]) != 0.0;
    d[dHasTs] = ts ? T(1) : T(0);
    d[dHasAsc] = asc ? T(1) : T(0);
    d[dHasTv] = tv ? T(1) : T(0);
    // NEST accepts exactly the five levels (glif_psc.cpp Parameters_::set).
    const bool valid = (!tv || (ts && asc)) && ports_ok;
    d[dValid] = valid ? T(1) : T(0);
    d[dI_e] = T(p[I_e]);
    d[dV0] = T(p[V_m]);
    point::derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  // NEST State_: U = 0 (V_m = E_L), threshold components 0, ASCs = asc_init, PSCs 0.
  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    s[V] = d[dValid] != T(0) ? d[dV0] : T(0) / T(0);
    s[Asc0] = d[dAscInit0];
    s[Asc1] = d[dAscInit1];
  }

  // NEST glif_psc::update() for one grid step.
  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T v_old = s[V] - d[dE_L];
    T u = v_old;
    T ths = s[ThS], thv = s[ThV], a0 = s[Asc0], a1 = s[Asc1];
    T r = s[refr];
    bool fire = false;
    if (r == T(0)) {
      const T I = d[dI_e] + point::input_current<T>(d, kIn, ctx);
      const bool has_ts = d[dHasTs] != T(0), has_asc = d[dHasAsc] != T(0);
      if (has_ts) ths = ths * d[dThSDecay];
      T asc_sum = T(0);
      if (has_asc) {
        asc_sum = asc_sum + d[dAscStable0] * a0;
        a0 = a0 * d[dAscRate0];
        asc_sum = asc_sum + d[dAscStable1] * a1;
        a1 = a1 * d[dAscRate1];
      }
      u = v_old * d[dP33] + (I + asc_sum) * d[dP30];
      u = u + d[dP31ex] * s[Y1ex] + d[dP32ex] * s[Y2ex];
      u = u + d[dP31in] * s[Y1in] + d[dP32in] * s[Y2in];
      if (d[dHasTv] != T(0)) {
        const T beta = (I + asc_sum) * d[dInvG];
        const T pv = d[dPhi] * (v_old - beta);
        thv = pv * d[dPotDecay] + d[dThVDecayInv] * (thv - pv - d[dAbRatio] * beta) +
              d[dAbRatio] * beta;
      }
      const T th = ths + thv + d[dThInf];
      if (u > th) {
        fire = true;
        r = d[dNref];
        if (has_asc) {
          a0 = d[dAscAmp0] + a0 * d[dAscRef0];
          a1 = d[dAscAmp1] + a1 * d[dAscRef1];
        }
        if (!has_ts) {
          u = d[dVreset];
        } else {
          u = d[dFv] * v_old + d[dVadd];
          ths = ths * d[dThSRefDecay] + d[dThAdd];
        }
      }
    } else {
      r = r - T(1);
    }
    // Alpha PSCs (always), then this step's spike input.
    T w_ex, w_in;
    // NEST glif_psc adds each weight, signed, to its receptor port's PSC (no routing by sign).
    point::poisson_input<T, D, false>(d, kIn, ctx, w_ex, w_in);
    const T y1e = s[Y1ex], y2e = s[Y2ex], y1i = s[Y1in], y2i = s[Y2in];
    s[Y2ex] = d[dP21ex] * y1e + d[dP11ex] * y2e;
    s[Y1ex] = y1e * d[dP11ex] + d[dPsc0ex] * w_ex;
    s[Y2in] = d[dP21in] * y1i + d[dP11in] * y2i;
    s[Y1in] = y1i * d[dP11in] - d[dPsc0in] * w_in;
    s[V] = u + d[dE_L];
    s[ThS] = ths;
    s[ThV] = thv;
    s[Asc0] = a0;
    s[Asc1] = a1;
    s[refr] = r;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};
#undef NS_SRC

}  // namespace ns
