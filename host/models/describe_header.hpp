#pragma once
// The description of a model whose header says everything (single neurons and rate units): used by
// the registry (registry.cpp, built-in models) and compiled into NESTML plugins (plugin_entry.hpp),
// so that a plugin's model is described exactly as a built-in one. A template, so that
// `if constexpr` discards the check of a model without one.
#include <iterator>
#include <string>

#include "neurosweep/model_concept.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/population/rate_engine.hpp"

namespace ns {

template <class M>
ModelDesc describe_from_header() {
  ModelDesc d;
  d.name = M::kName;
  d.description = M::kDescription;
  d.kind = M::kKind;
  d.params.assign(std::begin(M::kParams), std::end(M::kParams));
  d.state.assign(std::begin(M::kState), std::end(M::kState));
  d.n_obs = M::kNumObs;
  if (const Preset* pr = presets_of<M>()) d.presets.assign(pr, pr + num_presets<M>());
  if constexpr (is_rate_model<M>::value)
    for (int k = 0; k < M::kNumRates; ++k) d.rate_series.push_back(M::kRateNames[k]);
  if constexpr (concept_detail::has_check<M>::value)  // empty: no per-instance pass over the sweep
    d.check = [](const ModelDesc&, const double* p) -> std::string {
      const char* r = M::check(p);
      return r ? r : "";
    };
  return d;
}

}  // namespace ns
