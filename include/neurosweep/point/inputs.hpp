#pragma once
// Shared pieces of the NEST point-neuron models (include/neurosweep/point/*.hpp):
//   * the sweepable input block every point model appends to its parameters (step current,
//     ramp, excitatory/inhibitory Poisson spike trains),
//   * a counter-based random generator keyed by (seed, instance, step, stream), so random input
//     does not depend on backend, chunking or thread count,
//   * exact Poisson sampling (inversion with a fixed-cost first part that vectorises, large means
//     split into chunks),
//   * NEST's exact-integration propagators (libnestutil/iaf_propagator.cpp, IAFPropagator),
//   * small helpers (expm1, grid rounding, clamping of +-DBL_MAX for float).
// Header-only, NS_HD, no CUDA headers.
#include <cstdint>
#include <type_traits>
#include <utility>

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

// ---- Poisson counts ---------------------------------------------------------------------------
// A Poisson variate of mean lam is drawn as the sum of independent Poisson variates (the sum of
// independent Poisson variates is Poisson with the summed mean): a first part of mean
// a = min(lam, kPoissonFastMean) and, when lam > kPoissonFastMean, n_rest parts of mean
// (lam - a) / n_rest <= kPoissonChunk. Each part is drawn by inversion (sequential search of the
// CDF, Devroye 1986, Non-Uniform Random Variate Generation, sec. X.3.3): X = min{k : u <= F(k)}.
//
// The first part uses a FIXED number of comparisons, kPoissonFastK, without a data-dependent loop:
// X = #{j < K : u > F(j)} (F is non-decreasing, so this count is the search's answer capped at K),
// so the step of a SIMD tile vectorises (the CPU backend runs it for 8-16 instances per
// instruction). The cap is below the resolution of the 53-bit uniform: P(X > 17 | mean 1) =
// 6.1e-17 < 2^-53 = 1.1e-16, so a uniform u > F(17) occurs with probability below one part in
// 2^53 (the same criterion as the sequential search's own cap kPoissonMaxK, below). Rates up to
// kPoissonFastMean / dt (10 kHz at dt = 0.1 ms) draw only this part. The remaining parts use the
// sequential search (a loop whose length depends on the uniform), in poisson_rest, which the CPU
// tile runs only for tiles that need it (StepContext::input_mode).
//
// Rounding: the CDF recursion p(j) = p(j-1) lam (1/j), F(j) = F(j-1) + p(j) is written with
// mul_rn/add_rn, which the CUDA compiler does not contract into fused multiply-adds (the host
// build disables contraction), so the CPU tiles, the scalar reference and the CUDA kernel draw the
// same counts bit for bit (tests/point_models_test.cpp: PointInputs.*).
constexpr double kPoissonFastMean = 1.0;
constexpr int kPoissonFastK = 17;
constexpr double kPoissonChunk = 16.0;
constexpr int kPoissonMaxK = 200;  // P(K > 200 | mean 16) < 1e-100

// Products and sums that the CUDA compiler must not fuse (nvcc contracts a * b + c by default).
NS_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
NS_HD double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

// The fixed-cost part: a Poisson(lam) count, lam <= kPoissonFastMean, p0 = exp(-lam), from the
// uniform u in [0, 1). Branch-free; the result is a whole number in [0, kPoissonFastK] (double,
// so that the SIMD lanes stay in one register type).
NS_HD double poisson_fast(double u, double lam, double p0) {
#if defined(__CUDA_ARCH__)
  // On the device the same recursion with an early exit (a thread runs alone; unrolled, the 17
  // double iterations of two trains cost the point kernels 30-50 registers). F is non-decreasing,
  // so the first j with u <= F(j) (capped at K) is the count below; 1.0 / j is correctly rounded
  // at run time as at compile time: the same values.
  double p = p0, f = p0;
  int k = 0;
  while (k < kPoissonFastK && u > f) {
    ++k;
    if (k < kPoissonFastK) {
      p = mul_rn(mul_rn(p, lam), 1.0 / double(k));
      f = add_rn(f, p);
    }
  }
  return double(k);
#else
  double p = p0, f = p0;
  double k = u > f ? 1.0 : 0.0;
  NS_UNROLL
  for (int j = 1; j < kPoissonFastK; ++j) {
    p = mul_rn(mul_rn(p, lam), 1.0 / double(j));  // 1/j: a constant once unrolled
    f = add_rn(f, p);
    k += u > f ? 1.0 : 0.0;
  }
  return k;
#endif
}

// The remaining parts: n_chunks Poisson(lam_chunk) counts by sequential search (p0 =
// exp(-lam_chunk)), from draws 2, 3, ... of the stream's key (draw 1 is the fixed-cost part's).
// Its loops keep GCC from vectorising a step that contains it: the CPU tile runs it (input mode
// kInputAll) only for tiles with a lane whose rate exceeds kPoissonFastMean / dt, as a scalar
// loop over the lanes.
NS_HD double poisson_rest(uint64_t key, double lam_chunk, double p0, double n_chunks) {
  double total = 0.0;
  const int n = static_cast<int>(n_chunks);
  for (int c = 0; c < n; ++c) {
    const double u = double(mix64(key + uint64_t(c + 2) * 0x9e3779b97f4a7c15ULL) >> 11) *
                     (1.0 / 9007199254740992.0);
    double p = p0, f = p0;
    int k = 0;
    while (u > f && k < kPoissonMaxK) {
      ++k;
      p = mul_rn(p, lam_chunk / k);
      f = add_rn(f, p);
    }
    total += k;
  }
  return total;
}

// How a rate splits (derive time, double): mean of the fixed-cost part, exp(-it), and the mean,
// exp(-mean) and number of the remaining parts.
struct PoissonSplit {
  double fast, p0_fast, rest, p0_rest, n_rest;
};
NS_HD PoissonSplit poisson_split(double lam) {
  PoissonSplit s{0.0, 1.0, 0.0, 1.0, 0.0};
  if (!(lam > 0.0)) return s;
  s.fast = lam < kPoissonFastMean ? lam : kPoissonFastMean;
  s.p0_fast = fexp(-s.fast);
  const double r = lam - s.fast;
  if (r > 0.0) {
    s.n_rest = -ffloor(-(r / kPoissonChunk));  // ceil
    s.rest = r / s.n_rest;
    s.p0_rest = fexp(-s.rest);
  }
  return s;
}

// Poisson count of one stream at one step (the full draw: fixed-cost part plus the rest).
NS_HD double poisson_count(const CounterRng& rng, const PoissonSplit& s) {
  const double u = double(mix64(rng.key + 0x9e3779b97f4a7c15ULL) >> 11) * (1.0 / 9007199254740992.0);
  return poisson_fast(u, s.fast, s.p0_fast) + poisson_rest(rng.key, s.rest, s.p0_rest, s.n_rest);
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
  kLamEx, kP0Ex, kRestEx, kP0RestEx, kChunksEx, kWEx,  // poisson_split of rate_ex dt, weight
  kLamIn, kP0In, kRestIn, kP0RestIn, kChunksIn, kWIn,
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
    const PoissonSplit sp = poisson_split(rate > 0.0 ? rate * dt * 1e-3 : 0.0);
    const int o = ch ? (kLamIn - kLamEx) : 0;
    d[dbase + kLamEx + o] = T(sp.fast);
    d[dbase + kP0Ex + o] = T(sp.p0_fast);
    d[dbase + kRestEx + o] = T(sp.rest);
    d[dbase + kP0RestEx + o] = T(sp.p0_rest);
    d[dbase + kChunksEx + o] = T(sp.n_rest);
    d[dbase + kWEx + o] = T(ch ? (w < 0.0 ? -w : w) : w);  // weight_in: a magnitude
  }
}

// Which Poisson draws an instance needs (StepContext::input_mode): none (both rates 0), only the
// fixed-cost part (rates below kPoissonFastMean / dt), or all. The CPU tile takes the largest over
// its lanes and runs its step with that mode; every other caller runs kInputAll.
template <class D>
NS_HD int input_mode(D d, int dbase) {
  if (double(d[dbase + kChunksEx]) > 0.0 || double(d[dbase + kChunksIn]) > 0.0) return kInputAll;
  if (double(d[dbase + kLamEx]) > 0.0 || double(d[dbase + kLamIn]) > 0.0) return kInputFast;
  return kInputNone;
}

// Models with the input block: a `kIn` entry in their Derived enum (every point model and the
// NESTML-generated ones).
template <class M, class = void>
struct has_input_block : std::false_type {};
template <class M>
struct has_input_block<M, decltype(void(M::kIn))> : std::true_type {};

// Models with tile-uniform branches: `template <class D> static int uniform_flags(D d)` returns the
// kUniformModelA/B bits that hold for an instance (StepContext::uniform).
template <class M, class D, class = void>
struct has_uniform_flags : std::false_type {};
template <class M, class D>
struct has_uniform_flags<M, D, decltype(void(M::uniform_flags(std::declval<D>())))> : std::true_type {};

// The input mode an instance needs: the model's own `input_mode(d)` when it has other random draws
// (iaf_psc_exp's escape noise: kInputAll when it is on), else input_mode of its input block.
template <class M, class D, class = void>
struct has_own_input_mode : std::false_type {};
template <class M, class D>
struct has_own_input_mode<M, D, decltype(void(M::input_mode(std::declval<D>())))> : std::true_type {};
template <class M, class D>
NS_HD int model_input_mode(D d) {
  if constexpr (has_own_input_mode<M, D>::value)
    return M::input_mode(d);
  else
    return input_mode(d, M::kIn);
}

// Stimulus current of step k (t_k -> t_{k+1}), piecewise constant over the step.
template <class T, class D>
NS_HD T input_current(D d, int dbase, int64_t k) {
  const double kd = double(k);
  const bool on = kd >= double(d[dbase + kStepK0]) && kd < double(d[dbase + kStepK1]);
  const double ramp = double(d[dbase + kRampPerStep]) * kd;
  return T((on ? double(d[dbase + kStepAmp]) : 0.0) + ramp);
}

// The same for the step of ctx; +0 without evaluating it when the CPU tile knows that no lane has
// a step or ramp current (kUniformNoStim: both are +0, where the expression above gives +0 too).
template <class T, class D>
NS_HD T input_current(D d, int dbase, const StepContext& ctx) {
  if (ctx.uniform & kUniformNoStim) return T(0);
  return input_current<T>(d, dbase, ctx.step);
}
// Whether an instance has neither a step nor a ramp current (both exactly +0).
template <class D>
NS_HD bool stim_off(D d, int dbase) {
  const double a = double(d[dbase + kStepAmp]), r = double(d[dbase + kRampPerStep]);
  return a == 0.0 && r == 0.0 && 1.0 / a > 0.0 && 1.0 / r > 0.0;  // +0 (1/+0 = +inf, 1/-0 = -inf)
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
  if (ctx.input_mode == kInputNone) return;  // the tile has no Poisson input (CPU tiles only)
  T ne, ni;
  if (ctx.input_mode == kInputGiven) {  // drawn for the whole tile (CPU tiles only)
    ne = T(ctx.n_ex);
    ni = T(ctx.n_in);
  } else {
    const PoissonSplit se{double(d[dbase + kLamEx]), double(d[dbase + kP0Ex]),
                          double(d[dbase + kRestEx]), double(d[dbase + kP0RestEx]),
                          ctx.input_mode == kInputAll ? double(d[dbase + kChunksEx]) : 0.0};
    const PoissonSplit si{double(d[dbase + kLamIn]), double(d[dbase + kP0In]),
                          double(d[dbase + kRestIn]), double(d[dbase + kP0RestIn]),
                          ctx.input_mode == kInputAll ? double(d[dbase + kChunksIn]) : 0.0};
    ne = T(poisson_count(CounterRng(ctx, kStreamEx), se));
    ni = T(poisson_count(CounterRng(ctx, kStreamIn), si));
  }
  const T w = d[dbase + kWEx];
  const bool to_ex = !kRouteBySign || w >= T(0);
  w_ex = to_ex ? w_ex + ne * w : w_ex;
  const T w_neg = to_ex ? T(0) : ne * (-w);
  w_in = w_in + ni * d[dbase + kWIn];
  if (w_neg != T(0)) w_in = w_in + w_neg;
}

}  // namespace point
}  // namespace ns
