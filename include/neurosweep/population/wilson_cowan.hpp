#pragma once
// Wilson-Cowan excitatory-inhibitory rate unit:
//   [WC72] Wilson HR, Cowan JD (1972) Excitatory and inhibitory interactions in localized
//          populations of model neurons. Biophys J 12:1-24.
// Equations (WC72 eqs. 11-12 with the refractory term; the sigmoid of eq. 1 shifted so that
// S(0) = 0, eq. 13; as in TVB models/wilson_cowan.py, shared/reference/networks-and-populations.md
// section 4):
//   tau_e dE/dt = -E + (k_e - r_e E) S_e(c1 E - c2 I + P)
//   tau_i dI/dt = -I + (k_i - r_i I) S_i(c3 E - c4 I + Q)
//   S(x) = 1 / (1 + exp(-a (x - theta))) - 1 / (1 + exp(a theta))
// E and I are the proportions of cells firing per unit time (dimensionless); /rates stores
// nu_max * E and nu_max * I in Hz (nu_max only scales the output, it does not enter the dynamics).
// Defaults: the limit-cycle set of the reference (c1..c4 = 16, 12, 15, 3; a_e 1.3, theta_e 4;
// a_i 2, theta_i 3.7; r = 1; P = 1.25, Q = 0), k = 1 (TVB), tau = 10 ms (TVB).
// Integration: classical 4th-order Runge-Kutta with the run's dt (error O(dt^4); dt = 0.1 ms
// against tau = 10 ms gives relative errors far below the float precision of the output).
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

#define NS_SRC "WC72 eqs. 11-13; positivity: physical"
struct WilsonCowanModel : point::NoTable {
  static constexpr const char* kName = "wilson_cowan";
  static constexpr const char* kDescription =
      "Wilson & Cowan (1972) E-I rate unit (eqs. 11-13, shifted sigmoids), RK4; E and I rates into /rates";
  static constexpr ModelKind kKind = ModelKind::kPopulation;

  enum Param {
    tau_e, tau_i, c1, c2, c3, c4, P, Q, a_e, theta_e, a_i, theta_i, k_e, k_i, r_e, r_i, nu_max, E_0, I_0,
    kNumParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"tau_e", "ms", 10.0, "time constant of the excitatory population", gt(0), NS_SRC},
      {"tau_i", "ms", 10.0, "time constant of the inhibitory population", gt(0), NS_SRC},
      {"c1", "1", 16.0, "E -> E coupling", ge(0), NS_SRC},
      {"c2", "1", 12.0, "I -> E coupling (enters with a minus sign)", ge(0), NS_SRC},
      {"c3", "1", 15.0, "E -> I coupling", ge(0), NS_SRC},
      {"c4", "1", 3.0, "I -> I coupling (enters with a minus sign)", ge(0), NS_SRC},
      {"P", "1", 1.25, "external input to the excitatory population"},
      {"Q", "1", 0.0, "external input to the inhibitory population"},
      {"a_e", "1", 1.3, "slope of the excitatory sigmoid", gt(0), NS_SRC},
      {"theta_e", "1", 4.0, "threshold of the excitatory sigmoid"},
      {"a_i", "1", 2.0, "slope of the inhibitory sigmoid", gt(0), NS_SRC},
      {"theta_i", "1", 3.7, "threshold of the inhibitory sigmoid"},
      {"k_e", "1", 1.0, "maximal excitatory response (WC72: S_e(inf); TVB default 1)", gt(0), NS_SRC},
      {"k_i", "1", 1.0, "maximal inhibitory response (WC72: S_i(inf); TVB default 1)", gt(0), NS_SRC},
      {"r_e", "1", 1.0, "refractory factor of E (WC72 r)", ge(0), NS_SRC},
      {"r_i", "1", 1.0, "refractory factor of I (WC72 r)", ge(0), NS_SRC},
      {"nu_max", "Hz", 100.0, "rate of a fully active population (E = 1): scales E, I into /rates", gt(0), "output scale"},
      {"E_0", "1", 0.0, "start value of E"},
      {"I_0", "1", 0.0, "start value of I"},
  };

  enum StateIx { E, I, kNumState };
  static constexpr StateInfo kState[kNumState] = {{"E", "1", 0.0, "E_0"}, {"I", "1", 0.0, "I_0"}};
  static constexpr int kNumObs = 1;  // E (for v_min/v_max/v_mean of the summary)
  // Rate series (population kinds, population/rate_engine.hpp): names and instantaneous rates, Hz.
  static constexpr int kNumRates = 2;
  static constexpr const char* kRateNames[kNumRates] = {"E", "I"};

  enum Derived {
    dh, dInvTe, dInvTi, dC1, dC2, dC3, dC4, dP, dQ, dAe, dThe, dAi, dThi, dSe0, dSi0, dKe, dKi, dRe, dRi,
    dNu, dE0, dI0, kNumDerived
  };

  template <class T, class Pr, class D>
  NS_HD static void derive(const Pr& p, D d, T dt) {
    d[dh] = dt;
    d[dInvTe] = T(1.0 / double(p[tau_e]));
    d[dInvTi] = T(1.0 / double(p[tau_i]));
    d[dC1] = T(p[c1]);
    d[dC2] = T(p[c2]);
    d[dC3] = T(p[c3]);
    d[dC4] = T(p[c4]);
    d[dP] = T(p[P]);
    d[dQ] = T(p[Q]);
    d[dAe] = T(p[a_e]);
    d[dThe] = T(p[theta_e]);
    d[dAi] = T(p[a_i]);
    d[dThi] = T(p[theta_i]);
    // WC72 eq. 13: the sigmoid shifted so that S(0) = 0.
    d[dSe0] = T(1.0 / (1.0 + fexp(double(p[a_e]) * double(p[theta_e]))));
    d[dSi0] = T(1.0 / (1.0 + fexp(double(p[a_i]) * double(p[theta_i]))));
    d[dKe] = T(p[k_e]);
    d[dKi] = T(p[k_i]);
    d[dRe] = T(p[r_e]);
    d[dRi] = T(p[r_i]);
    d[dNu] = T(p[nu_max]);
    d[dE0] = T(p[E_0]);
    d[dI0] = T(p[I_0]);
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    s[E] = d[dE0];
    s[I] = d[dI0];
  }

  // S(x) of WC72 eq. 1 minus S(0) (eq. 13).
  template <class T>
  NS_HD static T sigmoid(T x, T a, T theta, T s0) {
    return T(1) / (T(1) + fexp(-a * (x - theta))) - s0;
  }
  // Right-hand sides of WC72 eqs. 11-12.
  template <class T, class D>
  NS_HD static void rhs(D d, T e, T i, T& de, T& di) {
    const T se = sigmoid<T>(d[dC1] * e - d[dC2] * i + d[dP], d[dAe], d[dThe], d[dSe0]);
    const T si = sigmoid<T>(d[dC3] * e - d[dC4] * i + d[dQ], d[dAi], d[dThi], d[dSi0]);
    de = (-e + (d[dKe] - d[dRe] * e) * se) * d[dInvTe];
    di = (-i + (d[dKi] - d[dRi] * i) * si) * d[dInvTi];
  }

  // Classical RK4 step of length dt.
  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&) {
    const T h = d[dh], e = s[E], i = s[I];
    T k1e, k1i, k2e, k2i, k3e, k3i, k4e, k4i;
    rhs<T>(d, e, i, k1e, k1i);
    rhs<T>(d, e + T(0.5) * h * k1e, i + T(0.5) * h * k1i, k2e, k2i);
    rhs<T>(d, e + T(0.5) * h * k2e, i + T(0.5) * h * k2i, k3e, k3i);
    rhs<T>(d, e + h * k3e, i + h * k3i, k4e, k4i);
    s[E] = e + h / T(6) * (k1e + T(2) * k2e + T(2) * k3e + k4e);
    s[I] = i + h / T(6) * (k1i + T(2) * k2i + T(2) * k3i + k4i);
  }

  template <class T, class S>
  NS_HD static T observe(S s, int) { return s[E]; }

  // Instantaneous rate of series k (0: E, 1: I) in Hz.
  template <class T, class S, class D>
  NS_HD static T rate(S s, D d, int k) { return d[dNu] * (k == 0 ? s[E] : s[I]); }
};
#undef NS_SRC

}  // namespace ns
