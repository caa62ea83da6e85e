#pragma once
// The model concept as a checklist. Every model in NS_FOR_EACH_MODEL (models.hpp) is checked
// with check_model<M>(); a model that lacks a member fails to compile with a message that names
// the member and says what it is for, instead of an error deep inside a backend template.
// The full description of each member, with a worked example: docs/MODELS.md.
//
// Required of every model:
//   kName, kDescription                 name written in a spec's "model", one-line description
//   kKind                               a ns::ModelKind (conductance neuron, point neuron, circuit)
//   kNumParams, kNumState, kNumDerived, kNumObs
//   derive<T>(params, derived, dt)      per-instance constants (params indexed by the Param enum)
//   init<T>(derived, state)             cold start
//   step<T>(state, derived, table[, StepContext])   one time step (4 arguments: kUsesContext)
//   observe<T>(state, k)                observed potential k (spike detection)
//   build_table<T>(HostTable<T>&, dt)   gating table (point models: inherit point::NoTable)
// Required of neurons (kinds other than circuit; circuits build their tables on the host):
//   kParams[kNumParams]  ParamInfo {name, unit, default, doc, range, source}
//   kState[kNumState]    StateInfo {name, unit, initial, start_param}
// Required of reset models (kResetSpikes = true): spike_count<T>(state, k).
// Required of population models (kKind = kPopulation): kNumRates, kRateNames, rate<T>(state, derived, k)
// (instantaneous rate of series k in Hz; population/rate_engine.hpp runs them).
// Optional: kPresets / kNumPresets (named parameter sets), check(const double* p) (cross-parameter
// rules: nullptr when p is admissible, else the rule broken, naming the parameters, e.g.
// "V_reset < V_th"), kUsesContext, kResetSpikes, kCpuWideVectors (CPU tiles with 512-bit vectors:
// include/neurosweep/cpu_tiles.hpp).
#include <type_traits>
#include <utility>

#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"
#include "neurosweep/model_info.hpp"

namespace ns {
namespace concept_detail {

#define NS_DETECT(TRAIT, ...)                                                         \
  template <class M, class = void>                                                    \
  struct TRAIT : std::false_type {};                                                  \
  template <class M>                                                                  \
  struct TRAIT<M, std::void_t<decltype(__VA_ARGS__)>> : std::true_type {};

template <class T>
using bare = std::remove_cv_t<std::remove_reference_t<T>>;

NS_DETECT(has_name, static_cast<const char*>(M::kName))
NS_DETECT(has_description, static_cast<const char*>(M::kDescription))
NS_DETECT(has_kind_member, M::kKind)
NS_DETECT(has_num_params, static_cast<int>(M::kNumParams))
NS_DETECT(has_num_state, static_cast<int>(M::kNumState))
NS_DETECT(has_num_derived, static_cast<int>(M::kNumDerived))
NS_DETECT(has_num_obs, static_cast<int>(M::kNumObs))
NS_DETECT(has_params_member, M::kParams)
NS_DETECT(has_state_member, M::kState)
NS_DETECT(has_derive, M::template derive<double>(std::declval<const Strided<const double>&>(),
                                                  std::declval<double*>(), 0.0))
NS_DETECT(has_init, M::template init<double>(std::declval<double*>(), std::declval<double*>()))
NS_DETECT(has_step3, M::template step<double>(std::declval<double*>(), std::declval<double*>(),
                                              std::declval<const Direct&>()))
NS_DETECT(has_step4, M::template step<double>(std::declval<double*>(), std::declval<double*>(),
                                              std::declval<const Direct&>(),
                                              std::declval<const StepContext&>()))
NS_DETECT(has_observe, static_cast<double>(M::template observe<double>(std::declval<double*>(), 0)))
NS_DETECT(has_build_table, M::template build_table<double>(std::declval<HostTable<double>&>(), 0.05))
NS_DETECT(has_spike_count, static_cast<int>(M::template spike_count<double>(std::declval<double*>(), 0)))
NS_DETECT(has_presets, static_cast<const Preset*>(M::kPresets), static_cast<int>(M::kNumPresets))
NS_DETECT(has_check, static_cast<const char*>(M::check(std::declval<const double*>())))
NS_DETECT(has_host_described, static_cast<bool>(M::kHostDescribed))
NS_DETECT(has_rates, static_cast<int>(M::kNumRates), static_cast<const char*>(M::kRateNames[0]))
#undef NS_DETECT

template <class M>
constexpr bool kind_is_model_kind() {
  if constexpr (has_kind_member<M>::value) return std::is_same_v<bare<decltype(M::kKind)>, ModelKind>;
  return false;
}

template <class M>
constexpr bool is_circuit_kind() {
  if constexpr (kind_is_model_kind<M>()) return M::kKind == ModelKind::kCircuit;
  return false;
}

template <class M, class Info>
constexpr bool table_of(int n) {
  if constexpr (has_params_member<M>::value && std::is_same_v<Info, ParamInfo>) {
    using A = bare<decltype(M::kParams)>;
    return std::is_array_v<A> && std::is_same_v<bare<std::remove_extent_t<A>>, ParamInfo> &&
           static_cast<int>(std::extent_v<A>) == n;
  } else if constexpr (has_state_member<M>::value && std::is_same_v<Info, StateInfo>) {
    using A = bare<decltype(M::kState)>;
    return std::is_array_v<A> && std::is_same_v<bare<std::remove_extent_t<A>>, StateInfo> &&
           static_cast<int>(std::extent_v<A>) == n;
  }
  return false;
}

constexpr bool same_name(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// -1 when every default lies in its range, else the index of the first that does not.
template <class M>
constexpr int first_default_out_of_range() {
  for (int k = 0; k < M::kNumParams; ++k)
    if (!M::kParams[k].range.admits(M::kParams[k].default_value)) return k;
  return -1;
}
// -1 when every start_param names a parameter whose default is the state's initial value.
template <class M>
constexpr int first_bad_start_param() {
  for (int s = 0; s < M::kNumState; ++s) {
    const StateInfo& si = M::kState[s];
    if (!si.start_param) continue;
    bool ok = false;
    for (int k = 0; k < M::kNumParams; ++k)
      if (same_name(M::kParams[k].name, si.start_param)) ok = M::kParams[k].default_value == si.initial;
    if (!ok) return s;
  }
  return -1;
}

}  // namespace concept_detail

template <class M>
constexpr ModelKind model_kind() { return M::kKind; }

// The checklist. Use: static_assert(check_model<MyModel>());
template <class M>
constexpr bool check_model() {
  using namespace concept_detail;
  static_assert(has_name<M>::value,
                "neurosweep model checklist: the model lacks `static constexpr const char* kName = \"...\";` "
                "(the name users write in a spec's \"model\")");
  static_assert(has_description<M>::value,
                "neurosweep model checklist: the model lacks `static constexpr const char* kDescription` "
                "(one line for `neurosweep models`, citing the source)");
  static_assert(has_kind_member<M>::value,
                "neurosweep model checklist: the model lacks `static constexpr ns::ModelKind kKind` "
                "(ModelKind::kConductanceNeuron, kPointNeuron or kCircuit: it chooses the classifier)");
  if constexpr (has_kind_member<M>::value) {
    static_assert(kind_is_model_kind<M>(),
                  "neurosweep model checklist: kKind must be of type ns::ModelKind");
    if constexpr (kind_is_model_kind<M>()) {
      static_assert(is_known_kind(M::kKind),
                    "neurosweep model checklist: unknown model kind (kKind is not one of the ns::ModelKind values)");
      static_assert(!is_known_kind(M::kKind) || is_supported_kind(M::kKind),
                    "neurosweep model checklist: this model kind (network) is reserved: no "
                    "backend or classifier stage handles it yet");
      if constexpr (M::kKind == ModelKind::kPopulation)
        static_assert(has_rates<M>::value,
                      "neurosweep model checklist: a population model needs kNumRates, kRateNames[kNumRates] and "
                      "rate<T>(state, derived, k) (population/rate_engine.hpp)");
    }
  }
  static_assert(has_num_params<M>::value, "neurosweep model checklist: the model lacks `kNumParams` (number of parameters)");
  static_assert(has_num_state<M>::value, "neurosweep model checklist: the model lacks `kNumState` (number of state variables)");
  static_assert(has_num_derived<M>::value,
                "neurosweep model checklist: the model lacks `kNumDerived` (number of per-instance constants derive() writes)");
  static_assert(has_num_obs<M>::value,
                "neurosweep model checklist: the model lacks `kNumObs` (number of observed potentials)");
  static_assert(has_derive<M>::value,
                "neurosweep model checklist: the model lacks `template <class T, class P, class D> static void "
                "derive(const P& params, D derived, T dt)`");
  static_assert(has_init<M>::value,
                "neurosweep model checklist: the model lacks `template <class T, class D, class S> static void "
                "init(D derived, S state)` (the cold start)");
  if constexpr (uses_context<M>::value)
    static_assert(has_step4<M>::value,
                  "neurosweep model checklist: kUsesContext = true but the model lacks `template <class T, class S, "
                  "class D, class Tab> static void step(S state, D derived, const Tab& table, const StepContext& ctx)`");
  else
    static_assert(has_step3<M>::value,
                  "neurosweep model checklist: the model lacks `template <class T, class S, class D, class Tab> "
                  "static void step(S state, D derived, const Tab& table)`");
  static_assert(has_observe<M>::value,
                "neurosweep model checklist: the model lacks `template <class T, class S> static T observe(S state, int k)` "
                "(the potential the spike detector watches)");
  static_assert(has_build_table<M>::value,
                "neurosweep model checklist: the model lacks `build_table<T>(HostTable<T>&, double dt)` "
                "(point models: derive from point::NoTable)");
  if constexpr (reset_spikes<M>::value)
    static_assert(has_spike_count<M>::value,
                  "neurosweep model checklist: kResetSpikes = true but the model lacks `template <class T, class S> "
                  "static int spike_count(S state, int k)`");
  // Circuits and models with kHostDescribed = true (population networks) get their parameter
  // names from the host (host/models/registry.cpp), not from kParams/kState.
  constexpr bool neuron = !is_circuit_kind<M>() && !has_host_described<M>::value;
  if constexpr (neuron && has_num_params<M>::value && has_num_state<M>::value) {
    static_assert(table_of<M, ParamInfo>(M::kNumParams),
                  "neurosweep model checklist: the model lacks `static constexpr ns::ParamInfo kParams[kNumParams]` "
                  "(name, unit, default, doc, range, source of every parameter, in Param enum order)");
    static_assert(table_of<M, StateInfo>(M::kNumState),
                  "neurosweep model checklist: the model lacks `static constexpr ns::StateInfo kState[kNumState]` "
                  "(name, unit, default start value, start parameter of every state variable)");
    if constexpr (table_of<M, ParamInfo>(M::kNumParams) && table_of<M, StateInfo>(M::kNumState)) {
      static_assert(first_default_out_of_range<M>() < 0,
                    "neurosweep model checklist: a parameter's default lies outside its own range "
                    "(concept_detail::first_default_out_of_range<M>() gives its index)");
      static_assert(first_bad_start_param<M>() < 0,
                    "neurosweep model checklist: a state's start_param does not name a parameter whose default "
                    "equals the state's initial value (concept_detail::first_bad_start_param<M>())");
    }
  }
  return true;
}

// Optional members, with their defaults.
template <class M>
constexpr int num_presets() {
  if constexpr (concept_detail::has_presets<M>::value) return M::kNumPresets;
  return 0;
}
template <class M>
const Preset* presets_of() {
  if constexpr (concept_detail::has_presets<M>::value) return M::kPresets;
  return nullptr;
}
// Cross-parameter rule broken by p (indexed by the model's Param enum), or nullptr.
template <class M>
const char* check_params(const double* p) {
  if constexpr (concept_detail::has_check<M>::value) return M::check(p);
  (void)p;
  return nullptr;
}

}  // namespace ns
