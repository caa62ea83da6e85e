#pragma once
// Shared pieces of the NEST point-neuron models (include/neurosweep/point/*.hpp):
//   * the sweepable input block every point model appends to its parameters (step current,
//     ramp, excitatory/inhibitory Poisson spike trains),
//   * a counter-based random generator keyed by (seed, instance, step, stream), so random input
//     does not depend on backend, chunking or thread count,
//   * exact Poisson sampling (inversion, large means split into chunks),
//   * NEST's exact-integration propagators (libnestutil/iaf_propagator.cpp, IAFPropagator),
//   * small helpers (expm1, grid rounding, clamping of +-DBL_MAX for float).
// Header-only, NS_HD, no CUDA headers.
#include <cstdint>

#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"
#include "neurosweep/hash.hpp"
#include "neurosweep/hd.hpp"
#include "neurosweep/model_info.hpp"

namespace ns {
namespace point {

// Point models have no gating functions: `--gating table` runs them exactly like `direct`. The
// backends still build a table per run; this gives them a valid 2-row dummy that step() ignores.
struct NoTable {
  template <class T>
  static void build_table(HostTable<T>& t, double /*dt*/, double v_min = -120.0,
                          double v_max = 80.0, double dv = 0.2) {
    t.v_min = v_min;
    t.v_max = v_max;
    t.dv = dv;
    t.n = 2;
    t.width = 1;
    t.data.assign(2, T(0));
  }
};

// The observation and spike report every point model shares: the observed potential is the state
// V, and a step that fires sets the state spike_flag to 1 (NEST's time stamp t_{k+1}; engine.hpp:
// reset_spikes). A model derives from SpikeFlagNeuron<itself> (CRTP); its StateIx names V and
// spike_flag.
template <class M>
struct SpikeFlagNeuron : NoTable {
  template <class T, class S>
  NS_HD static T observe(S s, int /*k*/) { return s[M::V]; }
  template <class S>
  NS_HD static bool spiked(S s) { return s[M::spike_flag] > 0; }
  template <class T, class S>
  NS_HD static int spike_count(S s, int /*obs*/) { return static_cast<int>(s[M::spike_flag]); }
};

// ---- elementary helpers ---------------------------------------------------------------------

// exp(x) - 1 accurate for small |x| (W. Kahan's trick: (u - 1) x / log u with u = exp x rounded;
// the rounding errors of u cancel). Double precision; used in derive() only.
NS_HD double expm1_d(double x) {
  const double u = fexp(x);
  if (u == 1.0) return x;
  const double um1 = u - 1.0;
  if (um1 == -1.0) return -1.0;
  if (x > 0.5 || x < -0.5) return um1;
  return um1 * x / flog(u);
}

// NEST converts times to steps as Time(Time::ms(t)).get_steps() (nestkernel/nest_time.h): the
// time is rounded to the nearest tic (NEST's default 1000 tics per ms), then UP to a whole number
// of steps. Measured with NEST 3.10 at h = 0.1 ms (tests/data/nest_reference.json, "grid"): t_ref
// 3.75 -> 38 steps, 0.1234 -> 2, 0.1004 -> 1 (100 tics), 0.1006 -> 2, 0.0004 -> 0, 1.1 -> 11.
// Always in double and in whole tics, whatever the model precision: derive<float> receives
// dt = 0.1f = 0.100000001490116 ms, which is 100 tics within the 1e-4 tic tolerance below (the
// former round(t_ref / dt) gave 3.75 / 0.1f = 37.4999994 -> 37 steps in float). A dt that is not
// a whole number of tics (NEST refuses it) falls back to the ceiling of t/dt less a relative 1e-9.
NS_HD double grid_steps(double t_ms, double dt) {
  const double step_tics = ffloor(dt * 1000.0 + 0.5);
  const double off = dt * 1000.0 - step_tics;
  if (step_tics >= 1.0 && off < 1e-4 && off > -1e-4) {
    const double tics = ffloor(t_ms * 1000.0 + 0.5);
    return -ffloor(-(tics / step_tics));  // integers below 2^53: the quotient is exact or inexact
  }                                       // only when not a whole number of steps
  const double x = t_ms / dt;
  return -ffloor(-(x - 1e-9 * (x < 0 ? -x : x)));
}

// Values like NEST's V_min = -DBL_MAX must not overflow when converted to float.
template <class T>
NS_HD T clamp_to(double x) {
  const double big = sizeof(T) == 4 ? 3.0e38 : 1.7976931348623157e308;
  x = x > big ? big : x;
  x = x < -big ? -big : x;
  return T(x);
}

NS_HD bool is_normal_positive(double x) {
  return x >= 2.2250738585072014e-308 && x <= 1.7976931348623157e308;  // false for NaN and inf
}

// ---- NEST propagators (Rotter & Diesmann 1999, Biol Cybern 81:381, exact integration) --------
// Membrane tau_m, capacitance c_m, synapse tau_s, step h. beta = tau_s tau_m / (tau_m - tau_s),
// gamma = beta / c_m. P32 (psc -> V) = gamma e^{-h/tau_s} expm1(h/beta); if that is not a
// positive normal number (tau_m == tau_s or nearly) the singular limit (h/c) e^{-h/tau_m} is used
// (NEST IAFPropagator::evaluate_P32_). P31 (alpha: dI -> V) = gamma e^{-h/tau_s}(beta expm1(h/beta)
// - h) for h > 1e-7 tau_m^2/|tau_m - tau_s|, else 0.5 h^2/c e^{-h/tau_m} (IAFPropagatorAlpha).
struct Propagators {
  double p31, p32;
};
NS_HD Propagators iaf_propagators(double tau_s, double tau_m, double c_m, double h) {
  const double beta = tau_s * tau_m / (tau_m - tau_s);  // inf when equal: well defined below
  const double gamma = beta / c_m;
  const double inv_beta = (tau_m - tau_s) / (tau_s * tau_m);
  const double exp_s = fexp(-h / tau_s);
  const double em1 = expm1_d(h * inv_beta);
  double p32 = gamma * exp_s * em1;
  if (!is_normal_positive(p32)) p32 = h / c_m * fexp(-h / tau_m);
  const double diff = tau_m > tau_s ? tau_m - tau_s : tau_s - tau_m;
  const double h_min_regular = 1e-7 * tau_m * tau_m / diff;  // inf when equal
  double p31;
  if (h > h_min_regular) {
    p31 = gamma * exp_s * (beta * em1 - h);
  } else {
    p31 = 0.5 * h * h / c_m * fexp(-h / tau_m);
  }
  return {p31, p32};
}

// ---- counter-based random numbers ------------------------------------------------------------
// Counter-based random numbers: each (seed, instance, step, stream) tuple gives an independent
// key (mix64 of neurosweep/hash.hpp chained over the four words); draw j of that key is
// mix64(key + (j+1) * golden).
enum Stream : uint64_t { kStreamEx = 1, kStreamIn = 2, kStreamEscape = 3 };

struct CounterRng {
  uint64_t key;
  uint64_t ctr = 0;
  NS_HD CounterRng(uint64_t seed, uint64_t instance, int64_t step, uint64_t stream)
      : key(mix64(mix64(mix64(mix64(seed) ^ instance) ^ static_cast<uint64_t>(step)) ^ stream)) {}
  NS_HD explicit CounterRng(const StepContext& c, uint64_t stream)
      : CounterRng(c.seed, c.instance, c.step, stream) {}
  NS_HD uint64_t next_u64() {
    ++ctr;
    return mix64(key + ctr * 0x9e3779b97f4a7c15ULL);
  }
  // Uniform on [0, 1) with 53 random bits.
  NS_HD double uniform() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
};

// Poisson variate: mean lam_chunk per chunk, p0 = exp(-lam_chunk), n_chunks chunks (the sum of
// independent Poisson variates is Poisson with the summed mean, so splitting a large mean into
// chunks of at most kPoissonChunk keeps the inversion exact and its loop short). Inversion by
// sequential search (Devroye 1986, Non-Uniform Random Variate Generation, sec. X.3.3).
constexpr double kPoissonChunk = 16.0;
constexpr int kPoissonMaxK = 200;  // P(K > 200 | mean 16) < 1e-100
NS_HD uint32_t poisson(CounterRng& rng, double lam_chunk, double p0, int n_chunks) {
  uint32_t total = 0;
  for (int c = 0; c < n_chunks; ++c) {
    const double u = rng.uniform();
    double p = p0, f = p0;
    int k = 0;
    while (u > f && k < kPoissonMaxK) {
      ++k;
      p *= lam_chunk / k;
      f += p;
    }
    total += static_cast<uint32_t>(k);
  }
  return total;
}

// ---- the input block -------------------------------------------------------------------------
// Every point model ends its parameter list with these 8 entries (same order), its derived list
// with kInputDerived entries starting at a model-chosen base. The excitatory train adds weight_ex
// (a negative weight_ex acts on the inhibitory synapse, as in NEST: poisson_input), the inhibitory
// train -|weight_in| (current/voltage models) or +|weight_in| to the inhibitory conductance
// (conductance models), in each model's NEST unit.
enum InputParam {
  kStepAmplitude, kStepStart, kStepStop, kRampSlope, kRateEx, kWeightEx, kRateIn, kWeightIn,
  kNumInputParams
};

#define NS_POINT_INPUT_PARAMS(CUR_UNIT, SLOPE_UNIT, W_UNIT, W_DOC)                              \
  {"step_amplitude", CUR_UNIT, 0.0,                                                              \
   "step current, on for step_start <= t_k < step_stop (acts like I_e: no device delay)"},       \
  {"step_start", "ms", 0.0, "step current onset (NEST's grid rule: inputs.hpp grid_steps)", ::ns::ge(0)},            \
  {"step_stop", "ms", 0.0, "step current offset (NEST's grid rule: inputs.hpp grid_steps)", ::ns::ge(0)},            \
  {"ramp_slope", SLOPE_UNIT, 0.0, "ramp current: I_ramp(t_k) = ramp_slope * t_k"},               \
  {"rate_ex", "Hz", 0.0, "rate of the excitatory Poisson spike train", ::ns::ge(0)},             \
  {"weight_ex", W_UNIT, 0.0,                                                                     \
   "weight of each spike of the excitatory train " W_DOC "; negative: acts as NEST's negative "  \
   "weight (inhibitory synapse)"},                                                               \
  {"rate_in", "Hz", 0.0, "rate of the inhibitory Poisson spike train", ::ns::ge(0)},             \
  {"weight_in", W_UNIT, 0.0,                                                                     \
   "weight of each spike of the inhibitory train " W_DOC "; inhibitory whatever its sign "       \
   "(NEST's -|weight_in|)"}

enum InputDerived {
  kDt, kStepAmp, kStepK0, kStepK1, kRampPerStep,
  kLamEx, kP0Ex, kChunksEx, kWEx,
  kLamIn, kP0In, kChunksIn, kWIn,
  kInputDerived
};

template <class T, class P, class D>
NS_HD void derive_inputs(const P& p, int pbase, D d, int dbase, double dt) {
  d[dbase + kDt] = T(dt);
  d[dbase + kStepAmp] = T(p[pbase + kStepAmplitude]);
  d[dbase + kStepK0] = T(grid_steps(double(p[pbase + kStepStart]), dt));
  d[dbase + kStepK1] = T(grid_steps(double(p[pbase + kStepStop]), dt));
  d[dbase + kRampPerStep] = T(double(p[pbase + kRampSlope]) * dt);
  for (int ch = 0; ch < 2; ++ch) {
    const double rate = double(p[pbase + (ch ? kRateIn : kRateEx)]);
    const double w = double(p[pbase + (ch ? kWeightIn : kWeightEx)]);
    const double lam = rate > 0.0 ? rate * dt * 1e-3 : 0.0;
    double chunks = lam > 0.0 ? ffloor(lam / kPoissonChunk) + 1.0 : 0.0;
    const double lam_c = chunks > 0.0 ? lam / chunks : 0.0;
    const int o = ch ? (kLamIn - kLamEx) : 0;
    d[dbase + kLamEx + o] = T(lam_c);
    d[dbase + kP0Ex + o] = T(fexp(-lam_c));
    d[dbase + kChunksEx + o] = T(chunks);
    d[dbase + kWEx + o] = T(ch ? (w < 0.0 ? -w : w) : w);  // weight_in: a magnitude
  }
}

// Stimulus current of step k (t_k -> t_{k+1}), piecewise constant over the step.
template <class T, class D>
NS_HD T input_current(D d, int dbase, int64_t k) {
  const double kd = double(k);
  const bool on = kd >= double(d[dbase + kStepK0]) && kd < double(d[dbase + kStepK1]);
  const double ramp = double(d[dbase + kRampPerStep]) * kd;
  return T((on ? double(d[dbase + kStepAmp]) : 0.0) + ramp);
}

// Poisson spike counts of step k for both trains, as summed weights w_ex (excitatory synapse) and
// w_in (magnitude on the inhibitory synapse, >= 0). NEST's sign convention (its handle(SpikeEvent)
// of iaf_psc_*, aeif_cond_*, hh_psc_alpha: weight > 0 (>= 0 for psc) to the excitatory synapse,
// else to the inhibitory one): a negative weight_ex is routed to the inhibitory synapse with its
// magnitude (kRouteBySign). weight_in is an inhibition of magnitude |weight_in| whatever its sign
// (NEST users write it negative). Models whose NEST original routes by receptor port, not sign
// (glif_psc), pass kRouteBySign = false: w_ex keeps its sign on the first port.
template <class T, class D, bool kRouteBySign = true>
NS_HD void poisson_input(D d, int dbase, const StepContext& ctx, T& w_ex, T& w_in) {
  // Network spikes of this step (StepContext::syn_ex/syn_in, routed by the sign of their weight
  // on the host like NEST's handle(SpikeEvent)); 0 for single neurons, and x + 0 == x keeps their
  // results unchanged.
  w_ex = T(ctx.syn_ex);
  w_in = T(ctx.syn_in);
  T w_neg = T(0);
  const int ce = static_cast<int>(d[dbase + kChunksEx]);
  if (ce > 0) {
    CounterRng rng(ctx, kStreamEx);
    const uint32_t n = poisson(rng, double(d[dbase + kLamEx]), double(d[dbase + kP0Ex]), ce);
    const T w = d[dbase + kWEx];
    if (!kRouteBySign || w >= T(0))
      w_ex = w_ex + T(n) * w;
    else
      w_neg = T(n) * (-w);
  }
  const int ci = static_cast<int>(d[dbase + kChunksIn]);
  if (ci > 0) {
    CounterRng rng(ctx, kStreamIn);
    const uint32_t n = poisson(rng, double(d[dbase + kLamIn]), double(d[dbase + kP0In]), ci);
    w_in = w_in + T(n) * d[dbase + kWIn];
  }
  if (w_neg != T(0)) w_in = w_in + w_neg;
}

}  // namespace point
}  // namespace ns
