#pragma once
// CPU path of population models (ModelKind::kPopulation): one instance per OpenMP thread,
// run_rate_instance (population/rate_engine.hpp) per instance. Each instance is independent and
// deterministic, so results do not depend on the thread count or the chunking.
#include <algorithm>
#include <type_traits>

#include "neurosweep/backend.hpp"
#include "neurosweep/population/rate_engine.hpp"

namespace ns {

template <class M, class = void>
struct double_only : std::false_type {};
template <class M>
struct double_only<M, std::void_t<decltype(M::kDoubleOnly)>> : std::bool_constant<M::kDoubleOnly> {};

// The rate series written: the run's (RunSettings::rate_series, e.g. the n_internal populations
// of a density network), at most the model's kNumRates.
template <class Model, class T0>
void run_rate_chunk(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int threads) {
  using T = std::conditional_t<double_only<Model>::value, double, T0>;
  out.resize(in.n, Model::kNumObs, s.sim.max_spikes, Model::kNumState, s.want_final_state);
  const uint64_t nb = s.rate_bins();
  const int n_series = std::min<int>(Model::kNumRates, static_cast<int>(s.rate_series.size()));
  out.resize_rates(n_series, nb);
  if (in.n == 0) return;
  const OutputView ov = out.view();
  const int64_t bin = s.rate_bin_steps > 0 ? s.rate_bin_steps : 1;
  const size_t row = static_cast<size_t>(n_series) * nb;
  const long long n = static_cast<long long>(in.n);
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) if (threads != 1)
  for (long long i = 0; i < n; ++i) {
    float* r = nb ? out.rates.data() + static_cast<size_t>(i) * row : nullptr;
    run_rate_instance<Model, T>(s.sim, in.params, in.init_state, in.n, static_cast<size_t>(i), in.first_index, ov, r,
                                bin, nb, n_series);
  }
}

}  // namespace ns
