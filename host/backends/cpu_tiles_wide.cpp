// The SIMD tiles of the cheap point models, compiled with -mprefer-vector-width=512 (CMakeLists.txt;
// where the CPU has AVX-512 this doubles the lanes per instruction; elsewhere the flag changes
// nothing). GCC prefers 256-bit vectors by default because 512-bit instructions can lower the
// clock; for models whose step is a few dozen operations per lane the wider vectors win anyway.
// Measured on the 2-core Xeon (AVX-512), one thread, 4096 neurons, 64-lane tiles, neuron-steps per
// CPU second, 512 against 256 bits: iaf_psc_exp float DC 1.45e9 / 1.30e9, with Poisson input
// 2.47e8 / 1.82e8; izhikevich float DC 1.99e9 / 1.65e9, Poisson 3.0e8 / 2.14e8; iaf_psc_alpha
// 1.17e9 / 0.92e9; iaf_psc_exp double Poisson 2.13e8 / 1.60e8. Not for: glif_psc (neutral),
// the RKF45 models (iaf_cond_exp, aeif, hh: 7-10 % slower) and the STG neuron (table gating 0.88x),
// which stay in cpu_backend.cpp at the default width.
//
// The header is included with its own namespace (NS_CPU_TILES_NAMESPACE) so that these
// instantiations are separate symbols from the default ones; cpu_backend.cpp does not instantiate
// the tiles of these models at all. Per-lane arithmetic does not depend on the vector width
// (no contraction, lanes independent), so the results are the reference's bit for bit
// (tests/cpu_backend_test.cpp and the point-model tests compare them).
#define NS_CPU_TILES_NAMESPACE cpu_tiles_wide
#include "neurosweep/cpu_tiles.hpp"

#include <type_traits>

#include "backends/cpu_tiles_wide.hpp"
#include "neurosweep/models.hpp"

namespace ns {

bool run_wide_vector_tiles(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  bool done = false;
  dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* m, auto* t) {
    using M = std::remove_pointer_t<decltype(m)>;
    using T = std::remove_pointer_t<decltype(t)>;
    if constexpr (cpu_wide_vectors<M>::value) {
      cpu_tiles_wide::run_typed<M, T>(s, in, out);
      done = true;
    }
  });
  return done;
}

}  // namespace ns
