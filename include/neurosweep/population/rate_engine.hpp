#pragma once
// The per-instance loop of population models (ModelKind::kPopulation): like run_instance
// (engine.hpp) but instead of spike detectors it averages the model's instantaneous population
// rates over bins of RunSettings::rate_bin_steps steps of the analysis window (the /rates output,
// docs/POPULATIONS.md). One instance per CPU thread or CUDA thread; the same NS_HD code on both.
//
// A population model declares, besides the ordinary model members (model_concept.hpp):
//   kNumRates                         number of rate series (populations)
//   kRateNames[kNumRates]             their names (the /rates "series" attribute)
//   rate<T>(state, derived, k)        instantaneous rate of series k after a step, in Hz
// Summary values: v_min / v_max / v_mean are those of rate series 0 over the analysis window (Hz),
// status is kNonFinite when any state variable or rate is not finite (runaway rates are a label of
// the rate classifier, not a status).
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"

namespace ns {

template <class M, class = void>
struct is_rate_model : std::false_type {};
template <class M>
struct is_rate_model<M, std::void_t<decltype(M::kNumRates), decltype(M::kRateNames)>>
    : std::bool_constant<M::kKind == ModelKind::kPopulation> {};

// Models without a GPU path (kCpuOnly = true; none at present): the CUDA backend refuses them by
// name.
template <class M, class = void>
struct cpu_only : std::false_type {};
template <class M>
struct cpu_only<M, std::void_t<decltype(M::kCpuOnly)>> : std::bool_constant<M::kCpuOnly> {};

// The analysis-window bookkeeping of a population model's rates (run_rate_instance and the
// GPU block form of the density network, density_block.hpp): bin averages of every series, the
// extremes and mean of series 0, a non-finite flag. The loops have constant bounds (NR), so that
// on the GPU acc stays in registers.
template <int NR>
struct RateBins {
  double acc[NR];
  double lo = 0, hi = 0, sum = 0;
  bool bad = false;
  uint64_t bin = 0;
  int64_t in_bin = 0;
  // r0: series 0 before the first analysis step
  NS_HD explicit RateBins(double r0) : lo(r0), hi(r0) {
    NS_UNROLL for (int r = 0; r < NR; ++r) acc[r] = 0.0;
  }
  // After a step: rate(r) = series r (Hz); a completed bin is written to rates (n_written series,
  // series-major, n_bins per series) when rates is not null.
  template <class F>
  NS_HD void add(F&& rate, float* rates, int64_t bin_steps, uint64_t n_bins, int n_written) {
    NS_UNROLL for (int r = 0; r < NR; ++r) {
      const double v = rate(r);
      acc[r] += v;
      if (!(v == v) || v - v != 0.0) bad = true;
      if (r == 0) {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
      }
    }
    if (++in_bin == bin_steps) {
      if (rates && bin < n_bins)
        NS_UNROLL for (int r = 0; r < NR; ++r)
          if (r < n_written) rates[static_cast<uint64_t>(r) * n_bins + bin] = float(acc[r] / double(bin_steps));
      NS_UNROLL for (int r = 0; r < NR; ++r) acc[r] = 0.0;
      in_bin = 0;
      ++bin;
    }
  }
  // The summary values of instance i (n_spikes 0; v_min / v_max / v_mean of series 0) and its
  // status (kNonFinite when a rate or, per state_bad, a state variable was not finite).
  NS_HD void finish(const OutputView& out, size_t i, int64_t n_analysis, bool state_bad) const {
    out.n_spikes[i * out.n_obs] = 0;
    out.v_min[i * out.n_obs] = float(lo);
    out.v_max[i * out.n_obs] = float(hi);
    out.v_mean[i * out.n_obs] = n_analysis > 0 ? float(sum / double(n_analysis)) : float(lo);
    out.status[i] = (bad || state_bad) ? uint8_t(kNonFinite) : uint8_t(kOk);
  }
};

// Integrate instance i; rates: this instance's n_bins * n_written floats (series 0 .. n_written-1,
// series-major), or null.
template <class Model, class T>
NS_HD void run_rate_instance(const SimConfig& c, const double* params, const double* init, size_t stride,
                             size_t i, uint64_t first_index, const OutputView& out, float* rates,
                             int64_t bin_steps, uint64_t n_bins, int n_written) {
  constexpr int NR = Model::kNumRates;
  StepContext ctx{c.seed, first_index + i, 0};
  T d[Model::kNumDerived];
  T s[Model::kNumState];
  model_derive<Model, T>(Strided<const double>{params + i, stride}, d, c);
  if (init) {
    for (int k = 0; k < Model::kNumState; ++k) s[k] = T(init[static_cast<size_t>(k) * stride + i]);
  } else {
    Model::template init<T>(d, s);
  }
  const Direct tab{};
  for (int64_t k = 0; k < c.n_transient; ++k) {
    ctx.step = k;
    model_step<Model, T>(s, d, tab, ctx);
  }
  RateBins<NR> bins(double(Model::template rate<T>(s, d, 0)));
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    ctx.step = c.n_transient + k - 1;
    model_step<Model, T>(s, d, tab, ctx);
    bins.add([&](int r) { return double(Model::template rate<T>(s, d, r)); }, rates, bin_steps, n_bins, n_written);
  }
  bool bad = false;
  for (int k = 0; k < Model::kNumState; ++k) {
    const T x = s[k];
    if (!(x == x) || x - x != T(0)) bad = true;
    if (out.final_state) out.final_state[static_cast<size_t>(k) * out.n + i] = double(x);
  }
  bins.finish(out, i, c.n_analysis, bad);
}

}  // namespace ns
