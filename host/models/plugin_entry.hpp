#pragma once
// Compiled INTO a model plugin (host/models/plugin.cpp writes the plugin source: the generated
// model header, `#define NS_PLUGIN_MODEL <type>`, this file), never into neurosweep itself.
// It instantiates, for the plugin's model type, the same code a built-in model gets from the
// registry: the description (host/models/registry.cpp's describe<M>() for point neurons), the CPU
// backend's SIMD tiles (include/neurosweep/cpu_tiles.hpp), the scalar reference path and the
// single-instance trace (engine.hpp's run_instance), and exports them as one C symbol,
// neurosweep_plugin_v1(). NS_PLUGIN_KEY (a -D of the compile) is the cache key, checked on load.
#include <cmath>
#include <iterator>

#include "models/describe_header.hpp"
#include "models/plugin.hpp"
#include "neurosweep/cpu_tiles.hpp"

#ifndef NS_PLUGIN_MODEL
#error "define NS_PLUGIN_MODEL to the model type before including plugin_entry.hpp"
#endif
#ifndef NS_PLUGIN_KEY
#error "define NS_PLUGIN_KEY (the cache key) on the compiler command line"
#endif

namespace ns {
namespace plugin_entry {

using M = NS_PLUGIN_MODEL;
static_assert(check_model<M>(), "neurosweep model checklist");
static_assert(M::kKind == ModelKind::kPointNeuron || M::kKind == ModelKind::kConductanceNeuron,
              "plugins hold single-neuron models (point or conductance kind)");

// Described as the registry describes a built-in neuron (models/describe_header.hpp).
inline ModelDesc describe() { return describe_from_header<M>(); }

// As cpu_tiles::run_typed, with the output sized by the host (the plugin calls no function of
// neurosweep's executable: it links against nothing of it).
template <class T>
void run_cpu_typed(const RunSettings& s, const ChunkInput& in, const OutputView& ov) {
  if (in.n == 0) return;
  if (s.gating == Gating::Table) {
    HostTable<T> table;
    model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
    cpu_tiles::run_all<M, T>(s, in, table.view(), ov);
  } else {
    cpu_tiles::run_all<M, T>(s, in, Direct{}, ov);
  }
}

inline void run_cpu(const RunSettings& s, const ChunkInput& in, const OutputView& out) {
  if (s.precision == Precision::Double)
    run_cpu_typed<double>(s, in, out);
  else
    run_cpu_typed<float>(s, in, out);
}

// As cpu_backend.cpp's run_reference for one model type.
template <class T>
void reference_typed(const RunSettings& s, const ChunkInput& in, const OutputView& ov) {
  HostTable<T> table;
  if (s.gating == Gating::Table) model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
  for (size_t i = 0; i < in.n; ++i) {
    if (s.gating == Gating::Table)
      run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, table.view(), ov);
    else
      run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, Direct{}, ov);
  }
}

inline void run_reference(const RunSettings& s, const ChunkInput& in, const OutputView& out) {
  if (s.precision == Precision::Double)
    reference_typed<double>(s, in, out);
  else
    reference_typed<float>(s, in, out);
}

template <class T>
struct Probe {
  PluginRecord rec;
  void* ctx;
  void operator()(int64_t step, const T* s) const {
    double v[M::kNumState];
    for (int k = 0; k < M::kNumState; ++k) v[k] = double(s[k]);
    rec(ctx, step, v);
  }
};

// As host/run/simulate.cpp's simulate_trace for one model type.
template <class T>
void trace_typed(const RunSettings& s, const double* params, const double* init, uint64_t index,
                 const OutputView& ov, PluginRecord rec, void* ctx) {
  HostTable<T> table;
  if (s.gating == Gating::Table) model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
  T s0[M::kNumState];
  if (init) {
    for (int k = 0; k < M::kNumState; ++k) s0[k] = T(init[k]);
  } else {
    T d[M::kNumDerived];
    model_derive<M, T>(Strided<const double>{params, 1}, d, s.sim);
    M::template init<T>(d, s0);
  }
  const Probe<T> probe{rec, ctx};
  probe(0, s0);
  if (s.gating == Gating::Table)
    run_instance<M, T>(s.sim, params, init, 1, 0, index, table.view(), ov, probe);
  else
    run_instance<M, T>(s.sim, params, init, 1, 0, index, Direct{}, ov, probe);
}

inline bool trace(const RunSettings& s, const double* params, const double* init, uint64_t index,
                  const OutputView& ov, PluginRecord rec, void* ctx) {
  if (s.precision == Precision::Double)
    trace_typed<double>(s, params, init, index, ov, rec, ctx);
  else
    trace_typed<float>(s, params, init, index, ov, rec, ctx);
  return reset_spikes<M>::value;
}

}  // namespace plugin_entry
}  // namespace ns

extern "C" __attribute__((visibility("default"))) const ns::PluginApi* neurosweep_plugin_v1() {
  static const ns::PluginApi api = {ns::kPluginAbi,           NS_PLUGIN_KEY,
                                    ns::plugin_entry::describe, ns::plugin_entry::run_cpu,
                                    ns::plugin_entry::run_reference, ns::plugin_entry::trace};
  return &api;
}
