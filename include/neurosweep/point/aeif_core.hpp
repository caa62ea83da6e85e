#pragma once
// Shared implementation of NEST's aeif_cond_exp and aeif_cond_alpha (adaptive exponential
// integrate-and-fire, Brette & Gerstner 2005, J Neurophysiol 94:3637, eqs. 1-2; NEST models/
// aeif_cond_{exp,alpha}.{h,cpp}, v3.9 numerics; reference section 6):
//   C_m dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_th)/Delta_T)
//               - g_ex (V - E_ex) - g_in (V - E_in) - w + I_e + I_stim          [B&G eq. 1]
//   tau_w dw/dt = a (V - E_L) - w                                                [B&G eq. 2]
//   V >= V_peak: V <- V_reset, w <- w + b, refractory for t_ref                 [B&G reset]
// Inside the right-hand side V is min(V, V_peak); while refractory V is V_reset and dV/dt = 0.
// Delta_T = 0 drops the exponential and the spike condition becomes V >= V_th.
// Synapses: exp: g' = -g/tau, a spike adds w nS; alpha: dg' = -dg/tau, g' = dg - g/tau, a spike
// adds w e/tau to dg (peak conductance w nS at t = tau).
//
// Integration inside one grid step (chosen per instance by the parameter rk4_substeps):
//  * rk4_substeps = 0 (default, as NEST): embedded Runge-Kutta-Fehlberg 4(5) (Fehlberg 1969,
//    NASA TR R-315, the 5th-order solution is propagated as in GSL's rkf45) with GSL's standard
//    step control gsl_odeiv_control_yp_new(tol, tol): error target per component
//    D_i = tol (1 + h |y'_i|) with y' at the end of the trial step, step shrunk when
//    max |err_i|/D_i > 1.1 (factor 0.9 r^-1/5, at least 0.2), grown when < 0.5 (0.9 r^-1/6, at
//    most 5). The internal step size persists between grid steps (state h_int), the last
//    sub-step is cut to end on the grid, as gsl_odeiv_evolve_apply does.
//  * rk4_substeps = n > 0: n classic RK4 steps of h/n.
// After every accepted sub-step (both schemes, as NEST): V < -1e3 mV or |w| > 1e6 pA is a
// numerical instability (V is set to NaN, the run reports non-finite); if refractory V is held at
// V_reset; else V >= V_peak (V_th when Delta_T = 0) is a spike. With t_ref = 0 several spikes can
// occur within one grid step; the state entry `spike` counts them.
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"
#include "neurosweep/point/rkf45.hpp"

namespace ns {
namespace point {

#define NS_SRC "NEST models/aeif_cond_{exp,alpha}.cpp, Parameters_::set"
template <bool kAlpha>
struct AeifCond : SpikeFlagNeuron<AeifCond<kAlpha>> {
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    V_peak, V_reset, t_ref, g_L, C_m, E_ex, E_in, E_L, Delta_T, tau_w, a, b, V_th, tau_syn_ex,
    tau_syn_in, I_e, gsl_error_tol, rk4_substeps, V_m, w,
    kInputs, kNumParams = kInputs + kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"V_peak", "mV", 0.0, "spike detection threshold (reset when reached)"},
      {"V_reset", "mV", -60.0, "reset potential"},
      {"t_ref", "ms", 0.0, "absolute refractory period (NEST's grid rule: inputs.hpp grid_steps)", ge(0), NS_SRC},
      {"g_L", "nS", 30.0, "leak conductance"},
      {"C_m", "pF", 281.0, "membrane capacitance", gt(0), NS_SRC},
      {"E_ex", "mV", 0.0, "excitatory reversal potential"},
      {"E_in", "mV", -85.0, "inhibitory reversal potential"},
      {"E_L", "mV", -70.6, "leak reversal potential"},
      {"Delta_T", "mV", 2.0, "slope factor of the exponential", ge(0), NS_SRC},
      {"tau_w", "ms", 144.0, "adaptation time constant", gt(0), NS_SRC},
      {"a", "nS", 4.0, "subthreshold adaptation"},
      {"b", "pA", 80.5, "spike-triggered adaptation"},
      {"V_th", "mV", -50.4, "spike initiation threshold (exponential's midpoint)"},
      {"tau_syn_ex", "ms", 0.2, kAlpha ? "rise time of the excitatory conductance"
                                       : "decay time of the excitatory conductance", gt(0), NS_SRC},
      {"tau_syn_in", "ms", 2.0, kAlpha ? "rise time of the inhibitory conductance"
                                       : "decay time of the inhibitory conductance", gt(0), NS_SRC},
      {"I_e", "pA", 0.0, "constant input current"},
      {"gsl_error_tol", "1", 1e-6, "error tolerance of the adaptive RKF45 step control", gt(0), NS_SRC},
      {"rk4_substeps", "1", 0.0,
       "0: adaptive RKF45 as NEST (default); n > 0: n fixed RK4 sub-steps per grid step", whole().ge(0), "neurosweep (a count of sub-steps)"},
      {"V_m", "mV", -70.6,
       "start value of the membrane potential (NEST's default = the default E_L; kept when E_L changes)"},
      {"w", "pA", 0.0, "start value of the adaptation current (NEST's default)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "nS", "(conductance jump / peak)"),
  };

  // NEST's cross-parameter rules (NS_SRC).
  static const char* check(const double* p) {
    if (!(p[V_peak] >= p[V_th])) return "V_peak >= V_th (NEST: V_peak >= V_th required)";
    // NEST: (V_peak - V_th) / Delta_T < log(DBL_MAX / 1e20) = 663.73 (overflow at spike time)
    if (p[Delta_T] > 0.0 && !((p[V_peak] - p[V_th]) / p[Delta_T] < 663.7310110335031))
      return "(V_peak - V_th) / Delta_T < 663.73 = log(DBL_MAX / 1e20) (NEST: numerical overflow at "
             "spike time; increase Delta_T or reduce V_peak)";
    if (!(p[V_reset] < p[V_peak])) return "V_reset < V_peak (NEST: ensure that V_reset < V_peak)";
    return nullptr;
  }

  // ODE state first (kDim entries), then bookkeeping.
  static constexpr int kDim = kAlpha ? 6 : 4;
  enum StateIx {
    V = 0, W = 1,
    DGex = 2, Gex = kAlpha ? 3 : 2, DGin = kAlpha ? 4 : 3, Gin = kAlpha ? 5 : 3,
    refr = kDim, spike_flag, h_int, kNumState
  };
  // (for _exp, DGex/DGin alias Gex/Gin and are never used)

  enum Derived {
    dVpeak, dVreset, dNref, dgL, dInvC, dEex, dEin, dEL, dDT, dInvTauW, da, db, dVth,
    dInvTauEx, dInvTauIn, dJumpEx, dJumpIn, dI_e, dTol, dSub, dH, dVspike, dV0, dW0,
    kIn, kNumDerived = kIn + kInputDerived
  };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const double h = double(dt);
    d[dVpeak] = T(p[V_peak]);
    d[dVreset] = T(p[V_reset]);
    d[dNref] = T(grid_steps(double(p[t_ref]), h));
    d[dgL] = T(p[g_L]);
    d[dInvC] = T(1.0 / double(p[C_m]));
    d[dEex] = T(p[E_ex]);
    d[dEin] = T(p[E_in]);
    d[dEL] = T(p[E_L]);
    d[dDT] = T(p[Delta_T]);
    d[dInvTauW] = T(1.0 / double(p[tau_w]));
    d[da] = T(p[a]);
    d[db] = T(p[b]);
    d[dVth] = T(p[V_th]);
    d[dInvTauEx] = T(1.0 / double(p[tau_syn_ex]));
    d[dInvTauIn] = T(1.0 / double(p[tau_syn_in]));
    const double e = 2.718281828459045235;
    d[dJumpEx] = T(kAlpha ? e / double(p[tau_syn_ex]) : 1.0);
    d[dJumpIn] = T(kAlpha ? e / double(p[tau_syn_in]) : 1.0);
    d[dI_e] = T(p[I_e]);
    d[dTol] = T(p[gsl_error_tol]);
    d[dSub] = T(ffloor(double(p[rk4_substeps]) + 0.5));
    d[dH] = dt;
    // NEST pre_run_hook: V_peak_ = Delta_T > 0 ? V_peak : V_th (spike condition and RHS cap).
    d[dVspike] = double(p[Delta_T]) > 0.0 ? T(p[V_peak]) : T(p[V_th]);
    d[dV0] = T(p[V_m]);
    d[dW0] = T(p[w]);
    derive_inputs<T>(p, kInputs, d, kIn, h);
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    s[V] = d[dV0];
    s[W] = d[dW0];
    s[h_int] = d[dH];  // NEST: B_.IntegrationStep_ = resolution
  }

  // Right-hand side (NEST aeif_cond_*_dynamics). i_ext = I_e + I_stim.
  template <class T, class D>
  NS_HD static void rhs(const T* y, T* f, D d, T i_ext, bool refractory) {
    const T vpk = d[dVspike];
    T v = y[V] < vpk ? y[V] : vpk;
    v = refractory ? d[dVreset] : v;
    const T gex = y[Gex], gin = y[Gin];
    const T dT = d[dDT];
    const T i_spike =
        dT == T(0) ? T(0) : d[dgL] * dT * fexp((v - d[dVth]) / (dT == T(0) ? T(1) : dT));
    const T i_syn = gex * (v - d[dEex]) + gin * (v - d[dEin]);
    const T dv = (-d[dgL] * (v - d[dEL]) + i_spike - i_syn - y[W] + i_ext) * d[dInvC];
    f[V] = refractory ? T(0) : dv;
    f[W] = (d[da] * (v - d[dEL]) - y[W]) * d[dInvTauW];
    if (kAlpha) {
      f[DGex] = -y[DGex] * d[dInvTauEx];
      f[Gex] = y[DGex] - y[Gex] * d[dInvTauEx];
      f[DGin] = -y[DGin] * d[dInvTauIn];
      f[Gin] = y[DGin] - y[Gin] * d[dInvTauIn];
    } else {
      f[Gex] = -y[Gex] * d[dInvTauEx];
      f[Gin] = -y[Gin] * d[dInvTauIn];
    }
  }

  // NEST's check after every accepted sub-step. Returns false on numerical instability.
  template <class T, class D>
  NS_HD static bool after_substep(T* y, T& r, T& nspk, D d) {
    const T wabs = y[W] < T(0) ? -y[W] : y[W];
    if (!(y[V] >= T(-1e3)) || !(wabs <= T(1e6))) return false;
    if (r > T(0)) {
      y[V] = d[dVreset];
    } else if (y[V] >= d[dVspike]) {
      y[V] = d[dVreset];
      y[W] = y[W] + d[db];
      r = d[dNref] > T(0) ? d[dNref] + T(1) : T(0);
      nspk = nspk + T(1);
    }
    return true;
  }

  // The ODE system for rkf45.hpp: right-hand side with this grid step's current and the
  // refractory flag (r > 0), NEST's checks after each accepted sub-step.
  template <class D, class TT>
  struct Sys {
    D d;
    TT i_ext;
    TT r;     // refractory steps left
    TT nspk;  // spikes in this grid step
    template <class T>
    NS_HD void rhs(const T* y, T* f) const { AeifCond::template rhs<T>(y, f, d, i_ext, r > T(0)); }
    template <class T>
    NS_HD bool after(T* y) { return AeifCond::template after_substep<T>(y, r, nspk, d); }
  };

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const T i_ext = d[dI_e] + input_current<T>(d, kIn, ctx);
    T y[kDim];
    for (int i = 0; i < kDim; ++i) y[i] = s[i];
    Sys<D, T> sys{d, i_ext, s[refr], T(0)};
    const T hg = d[dH];
    bool ok = true;
    const int nsub = static_cast<int>(d[dSub]);
    if (nsub > 0) {
      const T hs = hg / T(nsub);
      for (int j = 0; j < nsub && ok; ++j) {
        rk4_step<kDim, T>(sys, y, hs);
        ok = sys.template after<T>(y);
      }
    } else {
      T h = s[h_int];
      ok = rkf45_evolve<kDim, Rkf45Control::kYp, T>(sys, y, h, hg, d[dTol]);
      s[h_int] = h;
    }
    T r = sys.r;
    const T nspk = sys.nspk;
    if (!ok) y[V] = T(0) / T(0);  // NEST throws NumericalInstability
    // End of the grid step: refractory count-down, this step's input, NEST update order.
    r = r > T(0) ? r - T(1) : r;
    T w_ex, w_in;
    poisson_input<T>(d, kIn, ctx, w_ex, w_in);
    if (kAlpha) {
      y[DGex] = y[DGex] + d[dJumpEx] * w_ex;
      y[DGin] = y[DGin] + d[dJumpIn] * w_in;
    } else {
      y[Gex] = y[Gex] + w_ex;
      y[Gin] = y[Gin] + w_in;
    }
    for (int i = 0; i < kDim; ++i) s[i] = y[i];
    s[refr] = r;
    s[spike_flag] = nspk;
  }
};
#undef NS_SRC

}  // namespace point
}  // namespace ns
