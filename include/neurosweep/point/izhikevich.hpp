#pragma once
// NEST izhikevich: the simple spiking model of Izhikevich (2003, IEEE Trans Neural Netw 14:1569,
// eqs. 1-3), NEST models/izhikevich.{h,cpp} (v3.9 numerics; reference section 5):
//   dV/dt = 0.04 V^2 + 5 V + 140 - U + I_e + I_stim           [eq. 1]
//   dU/dt = a (b V - U)                                         [eq. 2]
//   if V >= V_th: V <- c, U <- U + d                            [eq. 3]
// Units as in NEST: V mV, t ms; currents are added to dV/dt directly (mV/ms, "pA with R = 1").
// Spike weights are voltage jumps (mV).
// consistent_integration != 0 (NEST default): forward Euler with the old values; the spike input
// is added as a jump. consistent_integration == 0: the published scheme (two half steps for V,
// the input acting as a current during them, then U with the new V; exact for h = 1 ms only).
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

struct IzhikevichModel : point::SpikeFlagNeuron<IzhikevichModel> {
  static constexpr const char* kName = "izhikevich";
  static constexpr const char* kDescription =
      "NEST izhikevich: Izhikevich (2003) simple model, NEST's Euler integration";
  static constexpr ModelKind kKind = ModelKind::kPointNeuron;
  static constexpr bool kCpuWideVectors = true;  // 512-bit CPU tiles (host/backends/cpu_tiles_wide.cpp)
  static constexpr bool kUsesContext = true;
  static constexpr bool kResetSpikes = true;

  enum Param {
    a, b, c, d, V_th, I_e, V_min, consistent_integration, V_m, U_m,
    kInputs, kNumParams = kInputs + point::kNumInputParams
  };
  static constexpr ParamInfo kParams[kNumParams] = {
      {"a", "1/ms", 0.02, "time scale of the recovery variable U"},
      {"b", "1", 0.2, "sensitivity of U to V"},
      {"c", "mV", -65.0, "after-spike reset of V"},
      {"d", "mV/ms", 8.0, "after-spike increment of U"},
      {"V_th", "mV", 30.0, "spike cut-off"},
      {"I_e", "pA", 0.0, "constant input (added to dV/dt in mV/ms, R = 1)"},
      {"V_min", "mV", -1.7976931348623157e308, "absolute lower bound of V (NEST: -DBL_MAX)"},
      {"consistent_integration", "bool", 1.0,
       "1: NEST's forward Euler (default); 0: published two-half-step scheme", whole().ge(0).le(1), "NEST models/izhikevich.cpp (a bool)"},
      {"V_m", "mV", -65.0, "start value of the membrane potential (NEST's default -65 mV)"},
      {"U_m", "mV/ms", -13.0, "start value of the recovery variable (NEST's default 0.2 * -65, whatever b)"},
      NS_POINT_INPUT_PARAMS("pA", "pA/ms", "mV", "(voltage jump)"),
  };

  enum StateIx { V, U, spike_flag, kNumState };
  static constexpr StateInfo kState[kNumState] = {
      {"V_m", "mV", -65.0, "V_m"}, {"U_m", "mV/ms", -13.0, "U_m"}, {"spike", "1", 0.0}};
  static constexpr int kNumObs = 1;

  enum Derived { da, db, dc, dd, dVth, dI_e, dVmin, dConsistent, dH, dV0, dU0, kIn,
                 kNumDerived = kIn + point::kInputDerived };

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D dv, T dt) {
    dv[da] = T(p[a]);
    dv[db] = T(p[b]);
    dv[dc] = T(p[c]);
    dv[dd] = T(p[d]);
    dv[dVth] = T(p[V_th]);
    dv[dI_e] = T(p[I_e]);
    dv[dVmin] = point::clamp_to<T>(double(p[V_min]));
    dv[dConsistent] = double(p[consistent_integration]) != 0.0 ? T(1) : T(0);
    dv[dH] = dt;
    dv[dV0] = T(p[V_m]);
    dv[dU0] = T(p[U_m]);
    point::derive_inputs<T>(p, kInputs, dv, kIn, double(dt));
  }

  // NEST's initial state (the defaults of V_m, U_m): V = -65 mV, U = 0.2 * (-65) = -13 (independent of b, c;
  // shared/reference/point-neuron-models.md section 5, NEST HEAD 84b06d8d). Older NEST releases
  // (e.g. commit 6ff5be8b of models/izhikevich.cpp) start from U = 0.
  template <class T, class D, class S>
  NS_HD static void init(D dv, S s) {
    s[V] = dv[dV0];
    s[U] = dv[dU0];
    s[spike_flag] = T(0);
  }

  // Which integration branch an instance takes (StepContext::uniform): A consistent, B not.
  template <class D>
  NS_HD static int uniform_flags(D dv) {
    return double(dv[dConsistent]) != 0.0 ? kUniformModelA : kUniformModelB;
  }

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D dv, const Tab&, const StepContext& ctx) {
    const T h = dv[dH];
    const T i = point::input_current<T>(dv, kIn, ctx) + dv[dI_e];
    T w_ex, w_in;
    point::poisson_input<T>(dv, kIn, ctx, w_ex, w_in);
    const T syn = w_ex - w_in;
    const T v_old = s[V], u_old = s[U];
    T v, u;
    // (a CPU tile whose lanes all take the same side computes only that one: uniform_flags)
    const bool consistent = (ctx.uniform & kUniformModelA)   ? true
                            : (ctx.uniform & kUniformModelB) ? false
                                                             : dv[dConsistent] != T(0);
    if (consistent) {
      v = v_old + h * (T(0.04) * v_old * v_old + T(5) * v_old + T(140) - u_old + i) + syn;
      u = u_old + h * dv[da] * (dv[db] * v_old - u_old);
    } else {
      const T hh = T(0.5) * h;
      v = v_old + hh * (T(0.04) * v_old * v_old + T(5) * v_old + T(140) - u_old + i + syn);
      v = v + hh * (T(0.04) * v * v + T(5) * v + T(140) - u_old + i + syn);
      u = u_old + h * dv[da] * (dv[db] * v - u_old);
    }
    v = v < dv[dVmin] ? dv[dVmin] : v;
    const bool fire = v >= dv[dVth];
    if (fire) {
      v = dv[dc];
      u = u + dv[dd];
    }
    s[V] = v;
    s[U] = u;
    s[spike_flag] = fire ? T(1) : T(0);
  }
};

}  // namespace ns
