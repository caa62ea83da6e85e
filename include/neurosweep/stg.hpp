#pragma once
// The 8-conductance model neuron of the stomatogastric ganglion (STG) used by
//   [P03] Prinz AA, Billimoria CP, Marder E (2003) J Neurophysiol 90:3998-4015 (single neurons)
//   [P04] Prinz AA, Bucher D, Marder E (2004) Nat Neurosci 7:1345-1352 (network neurons)
// Kinetics from P03 Table 1 (as collected in shared/reference/prinz-stg-model.md, section 1.3,
// cross-checked there against six reimplementations). One compartment:
//   C dV/dt = -sum_i gbar_i m_i^p h_i^q (V - E_i) + I_ext                       [P03 eq. 1]
//   tau_x dx/dt = x_inf(V) - x  for every gate x                                  [P03 eq. 2]
//   tau_Ca d[Ca]/dt = -f (I_CaT + I_CaS) - [Ca] + [Ca]_0   (currents in nA)       [P03 eq. 3]
//   E_Ca = (RT / 2F) ln([Ca]_out / [Ca])                                          [P03, Nernst]
//
// Units: V mV, t ms, [Ca] uM, gbar mS/cm^2, I_ext nA, area cm^2, C nF. With C/area = 1 uF/cm^2,
// a conductance density times a potential gives dV/dt in mV/ms.
//
// Integration (the exponential-Euler scheme of the Prinz databases; reference section 2.2 and 7):
// every update uses the previous step's state. V and [Ca] relax exponentially towards their
// instantaneous steady states computed with the old gates; each gate relaxes towards x_inf(V_old,
// [Ca]_old) with factor exp(-dt/tau(V_old)). The V update is written
//   V' = V + dt (sum g E + I - g V)/C * phi(dt g / C),  phi(x) = (1 - e^-x)/x,
// which equals V_inf + (V - V_inf) e^(-dt g/C) and stays finite when the total conductance g is 0
// (cold start with no leak: pitfall 6 of the reference).
//
// Two schemes (SimConfig::integration, spec key "integration"), differing only in the relaxation
// factor q(r) of every variable x other than V, r = dt / tau_x, in x' = x_inf + (x - x_inf) q:
//   exp_euler (default): q = exp(-r), exact for frozen V and [Ca] (Dayan & Abbott 2001,
//     pp. 191-193; MKL's and KT's ports, reference section 2.2);
//   prinz: q = max(1 - r, 0), i.e. forward Euler x' = x + (dt/tau)(x_inf - x), truncated to
//     x' = x_inf when dt >= tau: "Prinz used a truncating Forward Euler scheme for the gating
//     variables" (MKL simulator.pyx comment), V alone by exponential Euler, the others by forward
//     Euler (SIM pd.dsl, dt = 0.05 ms); reference sections 2.2 and 6 (pitfall 7).
// V is by exponential Euler with the total conductance (synapses included) in both. The scheme is
// read once, in derive: [Ca]'s factor is a derived constant, the gating table stores the gates'
// q (build_table), and direct gating selects q per gate by the sign of the derived d_dt (dt for
// exp_euler, -dt for prinz: a select, no branch, in the SIMD tiles; no extra derived slot, which
// would add 64 bytes of local memory per thread to the 16-cell circuit kernels).
#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"
#include "neurosweep/hd.hpp"
#include "neurosweep/model_info.hpp"

namespace ns {

// The 16 model neurons of P04 Table 2 (maximal conductances, mS/cm^2), majority values of the
// sources listed in the reference, section 4.4 (AB/PD 5 CaT = 2.5; LP 2 A = 30; PY 3 H = 0.03).
namespace p04 {
#define NS_P04_NEURON(id, na, cat, cas, a, kca, kd, h, l)                                     \
  inline constexpr PresetValue id[] = {{"gNa", na},  {"gCaT", cat}, {"gCaS", cas}, {"gA", a}, \
                                       {"gKCa", kca}, {"gKd", kd},  {"gH", h},     {"gleak", l}};
NS_P04_NEURON(ABPD1, 400, 2.5, 6, 50, 10, 100, 0.01, 0)
NS_P04_NEURON(ABPD2, 100, 2.5, 6, 50, 5, 100, 0.01, 0)
NS_P04_NEURON(ABPD3, 200, 2.5, 4, 50, 5, 50, 0.01, 0)
NS_P04_NEURON(ABPD4, 200, 5.0, 4, 40, 5, 125, 0.01, 0)
NS_P04_NEURON(ABPD5, 300, 2.5, 2, 10, 5, 125, 0.01, 0)
NS_P04_NEURON(LP1, 100, 0, 8, 40, 5, 75, 0.05, 0.02)
NS_P04_NEURON(LP2, 100, 0, 6, 30, 5, 50, 0.05, 0.02)
NS_P04_NEURON(LP3, 100, 0, 10, 50, 5, 100, 0, 0.03)
NS_P04_NEURON(LP4, 100, 0, 4, 20, 0, 25, 0.05, 0.03)
NS_P04_NEURON(LP5, 100, 0, 6, 30, 0, 50, 0.03, 0.02)
NS_P04_NEURON(PY1, 100, 2.5, 2, 50, 0, 125, 0.05, 0.01)
NS_P04_NEURON(PY2, 200, 7.5, 0, 50, 0, 75, 0.05, 0)
NS_P04_NEURON(PY3, 200, 10, 0, 50, 0, 100, 0.03, 0)
NS_P04_NEURON(PY4, 400, 2.5, 2, 50, 0, 75, 0.05, 0)
NS_P04_NEURON(PY5, 500, 2.5, 2, 40, 0, 125, 0.01, 0.03)
NS_P04_NEURON(PY6, 500, 2.5, 2, 40, 0, 125, 0, 0.02)
#undef NS_P04_NEURON
#define NS_P04_PRESET(id) Preset{#id, "Prinz et al. 2004, Table 2", id, 8}
inline constexpr Preset kNeurons[] = {
    NS_P04_PRESET(ABPD1), NS_P04_PRESET(ABPD2), NS_P04_PRESET(ABPD3), NS_P04_PRESET(ABPD4),
    NS_P04_PRESET(ABPD5), NS_P04_PRESET(LP1),   NS_P04_PRESET(LP2),   NS_P04_PRESET(LP3),
    NS_P04_PRESET(LP4),   NS_P04_PRESET(LP5),   NS_P04_PRESET(PY1),   NS_P04_PRESET(PY2),
    NS_P04_PRESET(PY3),   NS_P04_PRESET(PY4),   NS_P04_PRESET(PY5),   NS_P04_PRESET(PY6)};
#undef NS_P04_PRESET
}  // namespace p04

struct StgModel {
  static constexpr const char* kName = "stg";
  static constexpr ModelKind kKind = ModelKind::kConductanceNeuron;
  static constexpr const Preset* kPresets = p04::kNeurons;  // ABPD1..PY6 (P04 Table 2)
  static constexpr int kNumPresets = static_cast<int>(sizeof(p04::kNeurons) / sizeof(p04::kNeurons[0]));
  static constexpr const char* kDescription =
      "Prinz et al. (2003) 8-conductance STG model neuron (single compartment)";

  enum Param {
    gNa, gCaT, gCaS, gA, gKCa, gKd, gH, gleak,       // maximal conductances, mS/cm^2
    E_Na, E_K, E_H, E_leak,                          // reversal potentials, mV
    area, C_m,                                       // cm^2, nF
    tau_Ca, Ca_0, f_Ca, Ca_out, temperature,         // ms, uM, uM/nA, uM, K
    I_ext,                                           // nA
    kNumParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"gNa", "mS/cm^2", 0.0, "maximal Na conductance (P03 grid step 100)", ge(0), "physical: a conductance"},
      {"gCaT", "mS/cm^2", 0.0, "maximal transient Ca conductance (step 2.5)", ge(0), "physical: a conductance"},
      {"gCaS", "mS/cm^2", 0.0, "maximal slow Ca conductance (step 2)", ge(0), "physical: a conductance"},
      {"gA", "mS/cm^2", 0.0, "maximal A-type K conductance (step 10)", ge(0), "physical: a conductance"},
      {"gKCa", "mS/cm^2", 0.0, "maximal Ca-dependent K conductance (step 5)", ge(0), "physical: a conductance"},
      {"gKd", "mS/cm^2", 0.0, "maximal delayed-rectifier K conductance (step 25)", ge(0), "physical: a conductance"},
      {"gH", "mS/cm^2", 0.0, "maximal hyperpolarisation-activated conductance (step 0.01)", ge(0), "physical: a conductance"},
      {"gleak", "mS/cm^2", 0.0, "leak conductance (step 0.01)", ge(0), "physical: a conductance"},
      {"E_Na", "mV", 50.0, "Na reversal potential (P03)"},
      {"E_K", "mV", -80.0, "K reversal potential for I_A, I_KCa, I_Kd (P03)"},
      {"E_H", "mV", -20.0, "H reversal potential (P03)"},
      {"E_leak", "mV", -50.0, "leak reversal potential (P03)"},
      {"area", "cm^2", 0.628e-3, "membrane area (Liu et al. 1998 cylinder, 2*pi*25um*400um)", gt(0), "physical: a membrane area"},
      {"C_m", "nF", 0.628, "membrane capacitance (1 uF/cm^2 times the area)", gt(0), "physical: a capacitance"},
      {"tau_Ca", "ms", 200.0, "calcium buffering time constant (P03)", gt(0), "physical: a time constant"},
      {"Ca_0", "uM", 0.05, "resting intracellular calcium (P03)", gt(0), "physical: [Ca] > 0 for the Nernst potential"},
      {"f_Ca", "uM/nA", 14.96, "calcium current-to-concentration factor (P03)", ge(0), "physical: Ca current raises [Ca]"},
      {"Ca_out", "uM", 3000.0, "extracellular calcium for the Nernst potential (P03)", gt(0), "physical: [Ca] > 0 for the Nernst potential"},
      {"temperature", "K", 283.0, "temperature of the Nernst factor RT/2F (283 K: 12.19 mV)", gt(0), "physical: absolute temperature"},
      {"I_ext", "nA", 0.0, "injected DC current (positive depolarises)"},
  };

  enum StateIx { V, Ca, mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH, kNumState };
  // Same order as the original Prinz snapshot files (reference section 4.6), but in mV and uM.
  static constexpr StateInfo kState[kNumState] = {
      {"V", "mV", -50.0},   {"Ca", "uM", 0.05},    {"m_Na", "1", 0.0}, {"h_Na", "1", 1.0},
      {"m_CaT", "1", 0.0},  {"h_CaT", "1", 1.0},   {"m_CaS", "1", 0.0}, {"h_CaS", "1", 1.0},
      {"m_A", "1", 0.0},    {"h_A", "1", 1.0},     {"m_KCa", "1", 0.0}, {"m_Kd", "1", 0.0},
      {"m_H", "1", 0.0}};  // the P03 cold start (init below)
  static constexpr int kNumGates = 11;  // state entries 2..12
  static constexpr int kNumObs = 1;     // observed potentials (spike detection): V
  static constexpr int kTableWidth = 2 * kNumGates;

  // Derived per-instance constants, computed once before the time loop.
  enum Derived {
    dgNa, dgCaT, dgCaS, dgA, dgKCa, dgKd, dgH, dgleak,
    dE_Na, dE_K, dE_H, dE_leak,
    d_dt_over_c,  // dt / c_m, ms per (uF/cm^2)
    d_i_ext,      // injected current density, uA/cm^2
    d_ca_k,       // f * area * 1e3: uM per (mS/cm^2 mV); 9.395 with the defaults
    d_ca_0,
    d_ca_decay,   // exp(-dt / tau_Ca) (exp_euler) or max(1 - dt / tau_Ca, 0) (prinz)
    d_nernst,     // RT/2F in mV
    d_ln_ca_out,  // ln([Ca]_out / 1 uM)
    d_dt,         // dt for exp_euler, -dt for prinz: the sign is the scheme flag (see relax)
    kNumDerived
  };

  static constexpr bool kNumerics = true;  // derive/build_table take the scheme (engine.hpp)

  // Relaxation factor of the scheme for the signed ratio rs = +dt/tau (exp_euler: q = exp(-rs))
  // or -dt/tau (prinz: q = max(1 + rs, 0), forward Euler truncated to x_inf when dt >= tau).
  template <class T>
  NS_HD static T relax(T rs) {
    const T fe = T(1) + rs;
    const T q_fe = fe > T(0) ? fe : T(0);
    const T q_exp = fexp(-rs);
    return rs < T(0) ? q_fe : q_exp;
  }
  NS_HD static double relax_host(double r, int integration) {
    return integration == kPrinzEuler ? (r < 1.0 ? 1.0 - r : 0.0) : fexp(-r);
  }

  // Nernst factor RT/2F in mV at temperature t_k.
  //  codata2018: R = 8.314462618 J/(mol K), F = 96485.33212 C/mol (CODATA 2018, exact in the 2019
  //    SI): 12.19353 mV at 283 K;
  //  prinz_lab: R = 8.31451, F = 96485.3415, as in MKL (simulator.pyx) and KT (Nernstfactor),
  //    the Prinz-lab-derived codes: 12.19359 mV at 283 K (reference section 1.4).
  NS_HD static double nernst_mv(double t_k, int constants) {
    const double r = constants == kPrinzLab ? 8.31451 : 8.314462618;
    const double f = constants == kPrinzLab ? 96485.3415 : 96485.33212;
    return r * t_k / (2.0 * f) * 1e3;
  }

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt, int integration = kExpEuler,
                           int constants = kCodata2018) {
    NS_UNROLL for (int k = 0; k < 8; ++k) d[dgNa + k] = T(p[gNa + k]);
    d[dE_Na] = T(p[E_Na]);
    d[dE_K] = T(p[E_K]);
    d[dE_H] = T(p[E_H]);
    d[dE_leak] = T(p[E_leak]);
    const double a = double(p[area]);
    const double c_specific = double(p[C_m]) * 1e-3 / a;  // nF -> uF/cm^2
    d[d_dt_over_c] = T(double(dt) / c_specific);
    d[d_i_ext] = T(double(p[I_ext]) * 1e-3 / a);  // nA -> uA/cm^2
    d[d_ca_k] = T(double(p[f_Ca]) * a * 1e3);
    d[d_ca_0] = T(p[Ca_0]);
    d[d_ca_decay] = T(relax_host(double(dt) / double(p[tau_Ca]), integration));
    d[d_nernst] = T(nernst_mv(double(p[temperature]), constants));
    d[d_ln_ca_out] = T(flog(double(p[Ca_out])));
    d[d_dt] = integration == kPrinzEuler ? -dt : dt;
  }

  // Cold start of P03 (p. 4001, via reference section 1.5): V = -50 mV, [Ca] = 0.05 uM,
  // every activation m = 0 and every inactivation h = 1.
  template <class T, class D, class S>
  NS_HD static void init(D /*d*/, S s) {
    s[V] = T(-50);
    s[Ca] = T(0.05);
    s[mNa] = T(0); s[hNa] = T(1);
    s[mCaT] = T(0); s[hCaT] = T(1);
    s[mCaS] = T(0); s[hCaS] = T(1);
    s[mA] = T(0); s[hA] = T(1);
    s[mKCa] = T(0); s[mKd] = T(0); s[mH] = T(0);
  }

  // Steady states x_inf(V) and time constants tau(V) of P03 Table 1 (reference table 1.3).
  // sigma(V; a, b) = 1 / (1 + exp((V + a) / b)). For KCa, inf[8] is the voltage factor only; the
  // caller multiplies by [Ca] / ([Ca] + 3 uM).
  template <class T>
  NS_HD static void gating(T v, T* inf, T* tau) {
    // I_Na: m^3 h
    inf[0] = sigm(v, T(25.5), T(-5.29));
    tau[0] = T(2.64) - T(2.52) * sigm(v, T(120), T(-25));
    inf[1] = sigm(v, T(48.9), T(5.18));
    tau[1] = (T(1.34) * sigm(v, T(62.9), T(-10))) * (T(1.5) + sigm(v, T(34.9), T(3.6)));
    // I_CaT: m^3 h
    inf[2] = sigm(v, T(27.1), T(-7.2));
    tau[2] = T(43.4) - T(42.6) * sigm(v, T(68.1), T(-20.5));
    inf[3] = sigm(v, T(32.1), T(5.5));
    tau[3] = T(210) - T(179.6) * sigm(v, T(55), T(-16.9));
    // I_CaS: m^3 h
    inf[4] = sigm(v, T(33), T(-8.1));
    tau[4] = T(2.8) + T(14) / (fexp((v + T(27)) * T(0.1)) + fexp((v + T(70)) * (T(1) / T(-13))));
    inf[5] = sigm(v, T(60), T(6.2));
    tau[5] = T(120) + T(300) / (fexp((v + T(55)) * (T(1) / T(9))) + fexp((v + T(65)) * (T(1) / T(-16))));
    // I_A: m^3 h
    inf[6] = sigm(v, T(27.2), T(-8.7));
    tau[6] = T(23.2) - T(20.8) * sigm(v, T(32.9), T(-15.2));
    inf[7] = sigm(v, T(56.9), T(4.9));
    tau[7] = T(77.2) - T(58.4) * sigm(v, T(38.9), T(-26.5));
    // I_KCa: m^4, steady state times [Ca]/([Ca] + 3)
    inf[8] = sigm(v, T(28.3), T(-12.6));
    tau[8] = T(180.6) - T(150.2) * sigm(v, T(46), T(-22.7));
    // I_Kd: m^4
    inf[9] = sigm(v, T(12.3), T(-11.8));
    tau[9] = T(14.4) - T(12.8) * sigm(v, T(28.3), T(-19.2));
    // I_H: m (activates on hyperpolarisation: positive slope 5.5)
    inf[10] = sigm(v, T(75), T(5.5));
    tau[10] = T(2) / (fexp((v + T(169.7)) * (T(1) / T(-11.6))) + fexp((v - T(26.7)) * (T(1) / T(14.3))));
  }

  template <class T>
  NS_HD static T kca_factor(T ca) { return ca / (ca + T(3)); }  // P03 Table 1, 3 uM

  // Gate values for potential v: direct evaluation of the formulas; dec = the scheme's factor,
  // dts = d_dt (dt for exp_euler, -dt for prinz).
  template <class T>
  NS_HD static void gate_targets(Direct, T v, T dts, T* inf, T* dec) {
    T tau[kNumGates];
    gating(v, inf, tau);
    NS_UNROLL for (int g = 0; g < kNumGates; ++g) dec[g] = relax(dts / tau[g]);
  }
  // ... or from the shared lookup table (linear interpolation).
  // `key` numbers the table lookups of one step (the cell of a circuit; see table_keys).
  // The table's factors were built for the run's scheme (build_table).
  template <class T, class Tab>
  NS_HD static void gate_targets(const Tab& tab, T v, T /*dts*/, T* inf, T* dec, int key) {
    const auto r = tab.row(v, key);
    NS_UNROLL for (int g = 0; g < kNumGates; ++g) {
      inf[g] = r.at(2 * g);
      dec[g] = r.at(2 * g + 1);
    }
  }
  template <class T>
  NS_HD static void gate_targets(Direct, T v, T dts, T* inf, T* dec, int /*key*/) {
    gate_targets(Direct{}, v, dts, inf, dec);
  }
  // One table lookup per step, at the old V.
  static constexpr int kTableKeys = 1;
  template <class T, class S>
  NS_HD static T table_key(S s, int /*k*/) { return s[V]; }

  // Ionic terms of the current balance for the given state: total conductance gsum (mS/cm^2),
  // sum of g*E (uA/cm^2), and the calcium conductance gca with E_Ca, for the [Ca] equation.
  template <class T, class S, class D>
  NS_HD static void conductances(S s, D d, T& gsum, T& ge, T& gca, T& eca) {
    const T ca = s[Ca];
    const T ca_c = ca < T(1e-9) ? T(1e-9) : ca;  // log domain guard; NaN passes through
    eca = d[d_nernst] * (d[d_ln_ca_out] - flog(ca_c));
    const T m1 = s[mNa], m2 = s[mCaT], m3 = s[mCaS], m4 = s[mA], m5 = s[mKCa], m6 = s[mKd];
    const T g_na = d[dgNa] * (m1 * m1 * m1) * s[hNa];
    const T g_cat = d[dgCaT] * (m2 * m2 * m2) * s[hCaT];
    const T g_cas = d[dgCaS] * (m3 * m3 * m3) * s[hCaS];
    const T g_a = d[dgA] * (m4 * m4 * m4) * s[hA];
    const T g_kca = d[dgKCa] * ((m5 * m5) * (m5 * m5));
    const T g_kd = d[dgKd] * ((m6 * m6) * (m6 * m6));
    const T g_h = d[dgH] * s[mH];
    const T g_l = d[dgleak];
    gca = g_cat + g_cas;
    const T g_k = g_a + g_kca + g_kd;
    gsum = g_na + gca + g_k + g_h + g_l;
    ge = g_na * d[dE_Na] + gca * eca + g_k * d[dE_K] + g_h * d[dE_H] + g_l * d[dE_leak];
  }

  // One step of the scheme chosen in derive (exponential Euler by default). g_ext/ge_ext: extra conductance and g*E from synapses
  // (mS/cm^2, uA/cm^2), 0 for an isolated neuron.
  template <class T, class S, class D, class Tab>
  NS_HD static void step_with(S s, D d, const Tab& tab, T g_ext, T ge_ext, int key = 0) {
    const T v = s[V], ca = s[Ca];
    T gsum, ge, gca, eca;
    conductances<T>(s, d, gsum, ge, gca, eca);
    gsum = gsum + g_ext;
    ge = ge + ge_ext + d[d_i_ext];
    // V: C dV/dt = ge - gsum V, exact for frozen conductances (see header).
    const T x = d[d_dt_over_c] * gsum;
    const T v_new = v + d[d_dt_over_c] * (ge - gsum * v) * expm1_ratio(x);
    // [Ca]: relaxes to Ca_inf = Ca_0 - f A 1e3 (g_CaT + g_CaS)(V - E_Ca) with factor
    // q(dt/tau_Ca) (d_ca_decay).
    const T ca_inf = d[d_ca_0] - d[d_ca_k] * gca * (v - eca);
    const T ca_new = ca_inf + (ca - ca_inf) * d[d_ca_decay];
    // Gates relax with the old V and [Ca].
    T inf[kNumGates], dec[kNumGates];
    gate_targets(tab, v, d[d_dt], inf, dec, key);
    inf[8] = inf[8] * kca_factor(ca);
    NS_UNROLL for (int g = 0; g < kNumGates; ++g) {
      const T x0 = s[mNa + g];
      s[mNa + g] = fmadd(x0 - inf[g], dec[g], inf[g]);  // inf + (x0 - inf) dec
    }
    s[V] = v_new;
    s[Ca] = ca_new;
  }

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab& tab) {
    step_with<T>(s, d, tab, T(0), T(0));
  }

  template <class T, class S>
  NS_HD static T observe(S s, int /*k*/) { return s[V]; }

  // Host: build the gating table for time step dt over [v_min, v_max] with spacing dv: x_inf and
  // the relaxation factor q(dt / tau) of the scheme.
  template <class T>
  static void build_table(HostTable<T>& t, double dt, double v_min = -120.0, double v_max = 80.0,
                          double dv = 0.2, int integration = kExpEuler) {
    t.v_min = v_min;
    t.v_max = v_max;
    t.dv = dv;
    t.n = static_cast<int>((v_max - v_min) / dv + 0.5) + 1;
    t.width = kTableWidth;
    t.data.assign(static_cast<size_t>(t.n) * t.width + HostTable<T>::kPad, T(0));
    for (int k = 0; k < t.n; ++k) {
      const double v = v_min + k * dv;
      double inf[kNumGates], tau[kNumGates];
      gating(v, inf, tau);
      for (int g = 0; g < kNumGates; ++g) {
        t.data[static_cast<size_t>(k) * t.width + 2 * g] = T(inf[g]);
        t.data[static_cast<size_t>(k) * t.width + 2 * g + 1] = T(relax_host(dt / tau[g], integration));
      }
    }
  }
};


}  // namespace ns
