// CPU backend: OpenMP across cores, SIMD across instances (tile driver:
// include/neurosweep/cpu_tiles.hpp).
//
// Instances are processed in tiles of W lanes whose state and derived constants are stored
// structure-of-arrays (element k of lane l at [k * W + l]). Each time step runs the model's step
// for all lanes in one `#pragma omp simd` loop, so the compiler vectorises the very same
// NS_HD model code that the CUDA kernel runs per thread. Every lane computes exactly the scalar
// operations of the single-instance reference (run_instance in engine.hpp) in the same order, and
// the build disables floating-point contraction (fused multiply-adds only where the source writes
// ns::fmadd), so results are bit-for-bit identical to the
// reference and independent of the thread count (each tile is independent; no reductions).
#include <omp.h>

#include <fstream>
#include <type_traits>
#include <sstream>
#include <thread>

#include "neurosweep/backend.hpp"
#include "neurosweep/cpu_tiles.hpp"
#include "neurosweep/models.hpp"
#include "backends/cpu_tiles_wide.hpp"
#include "population/run_rates.hpp"
#include "models/plugin.hpp"

namespace ns {
namespace {
using cpu_tiles::run_typed;  // the tile driver (include/neurosweep/cpu_tiles.hpp)

std::string cpu_description() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "CPU";
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ostringstream o;
  o << model << " (" << omp_get_num_procs() << " cores)";
  return o.str();
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string device() const override { return cpu_description(); }
  void run(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) override {
    const bool ok = dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* m, auto* t) {
      using M = std::remove_pointer_t<decltype(m)>;
      using T = std::remove_pointer_t<decltype(t)>;
      if constexpr (is_rate_model<M>::value)  // population models: host/population/run_rates.hpp
        run_rate_chunk<M, T>(s, in, out, s.threads > 0 ? s.threads : omp_get_num_procs());
      else if constexpr (cpu_wide_vectors<M>::value)  // their tiles: cpu_tiles_wide.cpp
        run_wide_vector_tiles(s, in, out);
      else
        run_typed<M, T>(s, in, out);
    });
    if (ok) return;
    if (run_plugin_cpu(s, in, out)) return;  // the same tiles, instantiated inside the plugin
    throw BackendError("cpu backend: unknown model '" + s.model + "'");
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

// Single-instance reference path (the code the CUDA kernel runs per thread), for tests and
// `neurosweep simulate`.
void run_reference(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  const bool ok = dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* m, auto* t) {
    using M = std::remove_pointer_t<decltype(m)>;
    using T = std::remove_pointer_t<decltype(t)>;
    if constexpr (is_rate_model<M>::value) {
      run_rate_chunk<M, T>(s, in, out, 1);
    } else {
      out.resize(in.n, M::kNumObs, s.sim.max_spikes, M::kNumState, s.want_final_state);
      const OutputView ov = out.view();
      HostTable<T> table;
      if (s.gating == Gating::Table)
        model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
      for (size_t i = 0; i < in.n; ++i) {
        if (s.gating == Gating::Table)
          run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, table.view(), ov);
        else
          run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, Direct{}, ov);
      }
    }
  });
  if (ok) return;
  if (run_plugin_reference(s, in, out)) return;
  throw BackendError("reference: unknown model '" + s.model + "'");
}

}  // namespace ns
