#pragma once
// The per-instance integration loop shared by the CUDA kernel (one thread per instance) and the
// CPU reference path; the CPU backend's SIMD tiles call the same Model::step and the same
// detector functions (host/backends/cpu_backend.cpp), so every test of the CPU backend exercises the code
// the GPU runs.
//
// Model concept (see stg.hpp): kNumParams, kNumState, kNumDerived, kNumObs, kParams, kState,
// derive<T>(params, derived, dt), init<T>(derived, state), step<T>(state, derived, gating),
// observe<T>(state, k), build_table<T>(HostTable&, dt, ...).
#include <cstddef>
#include <cstdint>

#include "neurosweep/hd.hpp"

namespace ns {

enum Status : uint8_t { kOk = 0, kNonFinite = 1, kDiverged = 2 };

// Numerical scheme of the conductance-based STG models (stg, pyloric, stg_circuit; stg.hpp):
// kExpEuler: every state variable by exponential Euler (the default); kPrinzEuler: V by
// exponential Euler, gates, [Ca] and synapses by forward Euler truncated to the steady state when
// dt >= tau (the scheme of the Prinz-lab code; shared/reference/prinz-stg-model.md section 2.2).
enum Integration : int { kExpEuler = 0, kPrinzEuler = 1 };
// Physical constants of the Nernst factor RT/2F: CODATA 2018 (default) or the values of the
// Prinz-lab-derived codes (R = 8.31451 J/(mol K), F = 96485.3415 C/mol; reference section 1.4).
enum Constants : int { kCodata2018 = 0, kPrinzLab = 1 };

// Plain-data run settings (kernel argument).
struct SimConfig {
  double dt = 0.05;            // ms
  int64_t n_transient = 0;     // steps integrated and discarded
  int64_t n_analysis = 0;      // steps analysed by the detectors
  float spike_threshold = 0;   // mV: a spike is a local maximum of V above this
  int max_spikes = 0;          // spike times kept per instance and observed potential
  float diverged_abs_v = 1e3f; // |V| above this (mV) at the end: status kDiverged
  uint64_t seed = 0;           // for models with random input (StepContext)
  int integration = kExpEuler; // Integration: models without numerics options ignore it
  int constants = kCodata2018; // Constants: models without numerics options ignore it
};

// Models whose derived constants depend on SimConfig::integration / constants declare
// `static constexpr bool kNumerics = true;` and take them as extra arguments of derive and
// build_table. model_derive / model_build_table call either form.
template <class M, class = void>
struct has_numerics {
  static constexpr bool value = false;
};
template <class M>
struct has_numerics<M, decltype(void(M::kNumerics))> {
  static constexpr bool value = M::kNumerics;
};

template <class Model, class T, class P, class D>
NS_HD void model_derive(const P& p, D d, const SimConfig& c) {
  if constexpr (has_numerics<Model>::value)
    Model::template derive<T>(p, d, T(c.dt), c.integration, c.constants);
  else
    Model::template derive<T>(p, d, T(c.dt));
}

// Host: the gating table of a model for the run's dt (and scheme).
template <class Model, class T, class Table>
void model_build_table(Table& t, const SimConfig& c, double v_min, double v_max, double dv) {
  if constexpr (has_numerics<Model>::value)
    Model::template build_table<T>(t, c.dt, v_min, v_max, dv, c.integration);
  else
    Model::template build_table<T>(t, c.dt, v_min, v_max, dv);
}

// Where per-instance results go. Arrays are indexed [i * n_obs + o] for per-potential values and
// [(i * n_obs + o) * max_spikes + j] for spike times; final_state is column-major [k * n + i].
struct OutputView {
  size_t n = 0;
  int n_obs = 1;
  float* spike_times = nullptr;  // ms from the start of the analysis window
  double* spike_times_f64 = nullptr;  // optional, same layout: the times unrounded (simulate)
  uint32_t* n_spikes = nullptr;  // spikes detected (may exceed max_spikes; only that many kept)
  float* v_min = nullptr;
  float* v_max = nullptr;
  float* v_mean = nullptr;
  double* final_state = nullptr;  // may be null
  uint8_t* status = nullptr;
};

// Column view of a column-major (k * stride + i) array: element k of instance i.
template <class T>
struct Strided {
  T* p;
  size_t stride;
  NS_HD T& operator[](int k) const { return p[static_cast<size_t>(k) * stride]; }
};

// ---- online detectors (shared by every backend) -------------------------------------------------
// A spike is a local maximum of the observed potential above the threshold: sample k-1 with
// v[k-1] > v[k-2] and v[k-1] >= v[k] (reference section 3.2: "maxima ... that overshoot 0 mV").
template <class T>
NS_HD bool is_peak(T v0, T v1, T v2, T thr) {
  return (v1 > thr) & (v1 > v2) & (v1 >= v0);
}
// Time of the maximum refined by the parabola through the three samples, in steps relative to
// the middle sample (|offset| <= 0.5).
template <class T>
NS_HD double peak_offset(T v0, T v1, T v2) {
  const double den = double(v2) - 2.0 * double(v1) + double(v0);
  double off = den < 0.0 ? 0.5 * (double(v2) - double(v0)) / den : 0.0;
  off = off > 0.5 ? 0.5 : off;
  off = off < -0.5 ? -0.5 : off;
  return off;
}
// Record the spike of (instance i, potential o) whose maximum is at analysis sample k - 1.
template <class T>
NS_HD void record_peak(const OutputView& out, const SimConfig& c, size_t i, int o, int64_t k, T v0,
                       T v1, T v2) {
  const size_t slot = i * out.n_obs + o;
  const uint32_t cnt = out.n_spikes[slot];
  if (static_cast<int>(cnt) < c.max_spikes) {
    const double t = (double(k - 1) + peak_offset(v0, v1, v2)) * c.dt;
    out.spike_times[slot * c.max_spikes + cnt] = static_cast<float>(t);
    if (out.spike_times_f64) out.spike_times_f64[slot * c.max_spikes + cnt] = t;
  }
  out.n_spikes[slot] = cnt + 1;
}

template <class T>
NS_HD uint8_t classify_status(T v, const SimConfig& c) {
  if (!(v == v) || v - v != T(0)) return kNonFinite;  // NaN or Inf
  if (v > T(c.diverged_abs_v) || v < -T(c.diverged_abs_v)) return kDiverged;
  return kOk;
}

// Identity of the current step, for models that draw random input (counter-based generators keyed
// by seed, instance and step: results do not depend on backend, chunking or thread count).
// input_mode: which random draws a point model's step makes (point/inputs.hpp,
// model_input_mode): all of them (kInputAll, the default, on every path), or, on the CPU
// backend's tiles only, none (kInputNone) or only the fixed-cost part of the Poisson counts
// (kInputFast) when no lane of the tile needs more, so that the tile's vectorised step leaves out
// work whose result would be zero anyway.
// kInputGiven (CPU tiles only): the Poisson counts of this step were drawn before the step, for all
// lanes of the tile at once (point/poisson_lanes.hpp, the same draws), and arrive in n_ex / n_in.
enum InputMode : int { kInputNone = 0, kInputFast = 1, kInputAll = 2, kInputGiven = 3 };
struct StepContext {
  uint64_t seed;
  uint64_t instance;  // global instance index (network neurons: a key of instance and neuron)
  int64_t step;       // 0-based index of the step being taken (transient steps included)
  int input_mode = kInputAll;  // (see above; aggregate order: {seed, instance, step, input_mode})
  // Network input arriving in this step (spiking networks, docs/NETWORKS.md): the summed weights
  // of the spikes whose delay ends now, read from the neuron's ring buffers, on the excitatory
  // synapse and (a magnitude >= 0) on the inhibitory one, in the model's weight unit. Point models
  // add them where they add their Poisson input (point/inputs.hpp, poisson_input); 0 elsewhere.
  double syn_ex = 0.0;
  double syn_in = 0.0;
  // kInputGiven: this step's Poisson counts of the excitatory and inhibitory trains.
  double n_ex = 0.0;
  double n_in = 0.0;
  // Facts that hold for every lane of a CPU tile (kUniform* bits; 0 elsewhere: nothing known), a
  // compile-time constant of the tile's step, so that a model leaves out the branch its lanes do
  // not take (a SIMD step computes both sides of a per-lane branch).
  int uniform = 0;
};
// kUniformNoStim: no step or ramp current (point/inputs.hpp, input_current); kUniformModelA/B:
// model-defined (a model's uniform_flags(d) says which of its branches a lane takes, e.g.
// izhikevich's consistent_integration).
enum UniformFlag : int { kUniformNoStim = 1, kUniformModelA = 2, kUniformModelB = 4 };

// Models opt in with `static constexpr bool kUsesContext = true;` and a 4-argument step.
template <class M, class = void>
struct uses_context {
  static constexpr bool value = false;
};
template <class M>
struct uses_context<M, decltype(void(M::kUsesContext))> {
  static constexpr bool value = M::kUsesContext;
};

template <class Model, class T, class S, class D, class Tab>
NS_HD void model_step(S s, D d, const Tab& tab, const StepContext& ctx) {
  if constexpr (uses_context<Model>::value) {
    Model::template step<T>(s, d, tab, ctx);
  } else {
    (void)ctx;
    Model::template step<T>(s, d, tab);
  }
}

// Integrate-and-fire models reset V inside the step, so a local maximum is not a spike. They set
// `static constexpr bool kResetSpikes = true;` and report the number of spikes of the last step
// through spike_count(s); the spike carries NEST's time stamp t_{k+1} (end of the step).
template <class M, class = void>
struct reset_spikes {
  static constexpr bool value = false;
};
template <class M>
struct reset_spikes<M, decltype(void(M::kResetSpikes))> {
  static constexpr bool value = M::kResetSpikes;
};

// Record `count` spikes at analysis time t_ms (reset models).
NS_HD void record_spikes_at(const OutputView& out, const SimConfig& c, size_t i, int o,
                                   double t_ms, int count) {
  const size_t slot = i * out.n_obs + o;
  uint32_t cnt = out.n_spikes[slot];
  for (int j = 0; j < count; ++j, ++cnt)
    if (static_cast<int>(cnt) < c.max_spikes) {
      out.spike_times[slot * c.max_spikes + cnt] = static_cast<float>(t_ms);
      if (out.spike_times_f64) out.spike_times_f64[slot * c.max_spikes + cnt] = t_ms;
    }
  out.n_spikes[slot] = cnt;
}

// ---- the online detector: one piece of code for the reference loop and the SIMD tiles ----------
// Running summary of N observed potentials ("slots"): the last three samples (peak test and its
// parabola), extremes, sum and the spikes the last sample marked. run_instance uses one slot per
// potential (N = kNumObs, slot o); the CPU backend's tiles one per potential and lane (N = kNumObs
// x W, slot o * W + l), calling sample() for the lanes of a potential inside one `omp simd` loop
// and record() outside it for the slots that marked spikes. Same operations in the same order in
// both: the tiles stay bit-for-bit equal to the reference (tests/backend_test.cpp).
template <class Model, class T, int N>
struct Detector {
  T v1[N], v2[N], v3[N];  // last, second-last and third-last sample
  T lo[N], hi[N];
  double sum[N];
  int marked[N];  // spikes marked by the last sample

  // Slot j starts at the state at the beginning of the analysis window (sample 0, not counted).
  NS_HD void start(int j, T v) {
    v1[j] = v2[j] = v3[j] = lo[j] = hi[j] = v;
    sum[j] = 0.0;
    marked[j] = 0;
  }
  // Analysis sample of potential o of state s into slot j (after each step); returns the spikes it
  // marks: the count of the step (reset models) or 1 for a peak at the previous sample.
  template <class S>
  NS_HD int sample(int j, S s, int o, T thr) {
    const T v0 = Model::template observe<T>(s, o);
    int m;
    if constexpr (reset_spikes<Model>::value)
      m = Model::template spike_count<T>(s, o);
    else
      m = is_peak(v0, v1[j], v2[j], thr) ? 1 : 0;
    marked[j] = m;
    lo[j] = v0 < lo[j] ? v0 : lo[j];
    hi[j] = v0 > hi[j] ? v0 : hi[j];
    sum[j] += double(v0);
    v3[j] = v2[j];
    v2[j] = v1[j];
    v1[j] = v0;
    return m;
  }
  // Records the spikes that analysis sample k (1-based) marked in slot j as spikes of potential o
  // of instance i.
  NS_HD void record(const OutputView& out, const SimConfig& c, size_t i, int o, int j, int64_t k) const {
    if constexpr (reset_spikes<Model>::value)
      record_spikes_at(out, c, i, o, double(k) * c.dt, marked[j]);
    else
      record_peak(out, c, i, o, k, v1[j], v2[j], v3[j]);
  }
  // Summary of instance i, whose potential o is in slot j0 + o * stride, and final state s: v_min,
  // v_max, v_mean, status (the worst of the last samples' and kNonFinite for a non-finite state
  // variable) and, when requested, the final state.
  template <class S>
  NS_HD void finish(const OutputView& out, const SimConfig& c, size_t i, int j0, int stride, S s) const {
    uint8_t st = kOk;
    for (int o = 0; o < Model::kNumObs; ++o) {
      const int j = j0 + o * stride;
      const size_t slot = i * out.n_obs + o;
      out.v_min[slot] = float(lo[j]);
      out.v_max[slot] = float(hi[j]);
      out.v_mean[slot] = c.n_analysis > 0 ? float(sum[j] / double(c.n_analysis)) : float(v1[j]);
      const uint8_t so = classify_status(v1[j], c);
      st = so > st ? so : st;
    }
    for (int k = 0; k < Model::kNumState; ++k) {
      const T x = s[k];
      if (!(x == x) || x - x != T(0)) st = kNonFinite;
      if (out.final_state) out.final_state[static_cast<size_t>(k) * out.n + i] = double(x);
    }
    out.status[i] = st;
  }
};

struct NoProbe {
  template <class T>
  NS_HD void operator()(int64_t, const T*) const {}
};

// Integrate instance i (global index first_index + i) whose derived constants are in d (any
// indexable view: a local array, or, in the CUDA kernels of the large circuit models, a column of a
// global scratch array so that they do not take registers): start (cold or given state),
// n_transient + n_analysis steps with detectors on the analysis part, then write the summary.
// init is column-major with stride `stride`; it may be null (cold start). The probe sees the state
// after each step.
template <class Model, class T, class D, class Tab, class Probe = NoProbe>
NS_HD void run_instance_derived(const SimConfig& c, D d, const double* init, size_t stride,
                                size_t i, uint64_t first_index, const Tab& tab,
                                const OutputView& out, Probe probe = Probe()) {
  StepContext ctx{c.seed, first_index + i, 0};
  T s[Model::kNumState];
  if (init) {
    for (int k = 0; k < Model::kNumState; ++k) s[k] = T(init[static_cast<size_t>(k) * stride + i]);
  } else {
    Model::template init<T>(d, s);
  }
  for (int64_t k = 0; k < c.n_transient; ++k) {
    ctx.step = k;
    model_step<Model, T>(s, d, tab, ctx);
    probe(k + 1, s);
  }
  Detector<Model, T, Model::kNumObs> det;
  for (int o = 0; o < Model::kNumObs; ++o) {
    det.start(o, Model::template observe<T>(s, o));
    out.n_spikes[i * out.n_obs + o] = 0;
  }
  const T thr = T(c.spike_threshold);
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    ctx.step = c.n_transient + k - 1;
    model_step<Model, T>(s, d, tab, ctx);
    probe(c.n_transient + k, s);
    for (int o = 0; o < Model::kNumObs; ++o)
      if (det.sample(o, s, o, thr)) det.record(out, c, i, o, o, k);
  }
  det.finish(out, c, i, 0, 1, s);
}

// Integrate instance i: derive its constants (params column-major with stride `stride`) into a
// local array, then run_instance_derived.
template <class Model, class T, class Tab, class Probe = NoProbe>
NS_HD void run_instance(const SimConfig& c, const double* params, const double* init,
                        size_t stride, size_t i, uint64_t first_index, const Tab& tab,
                        const OutputView& out, Probe probe = Probe()) {
  T d[Model::kNumDerived];
  model_derive<Model, T>(Strided<const double>{params + i, stride}, d, c);
  run_instance_derived<Model, T>(c, static_cast<T*>(d), init, stride, i, first_index, tab, out,
                                 probe);
}

}  // namespace ns
