// CPU backend: OpenMP across cores, SIMD across instances.
//
// Instances are processed in tiles of W lanes whose state and derived constants are stored
// structure-of-arrays (element k of lane l at [k * W + l]). Each time step runs the model's step
// for all lanes in one `#pragma omp simd` loop, so the compiler vectorises the very same
// NS_HD model code that the CUDA kernel runs per thread. Every lane computes exactly the scalar
// operations of the single-instance reference (run_instance in engine.hpp) in the same order, and
// the build disables floating-point contraction, so results are bit-for-bit identical to the
// reference and independent of the thread count (each tile is independent; no reductions).
#include <omp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace ns {
namespace {

template <class T, int W>
struct Lane {
  T* p;
  int l;
  T& operator[](int k) const { return p[k * W + l]; }
};

template <class T>
constexpr int tile_width() {
  return sizeof(T) == 4 ? 16 : 8;
}

template <class Model, class T, class Tab>
void run_tile(const SimConfig& c, const ChunkInput& in, size_t i0, size_t nl, const Tab& tab,
              const OutputView& out) {
  constexpr int W = tile_width<T>();
  constexpr int NS = Model::kNumState, ND = Model::kNumDerived, NO = Model::kNumObs;
  alignas(64) T st[NS * W];
  alignas(64) T dv[ND * W];
  const size_t n = in.n;
  for (int l = 0; l < W; ++l) {
    const size_t i = i0 + std::min<size_t>(l, nl - 1);  // idle lanes repeat the last instance
    Model::template derive<T>(Strided<const double>{in.params + i, n}, Lane<T, W>{dv, l}, T(c.dt));
    if (in.init_state) {
      for (int k = 0; k < NS; ++k) st[k * W + l] = T(in.init_state[static_cast<size_t>(k) * n + i]);
    } else {
      Model::template init<T>(Lane<T, W>{dv, l}, Lane<T, W>{st, l});
    }
  }
  const uint64_t first = in.first_index + i0;
  for (int64_t k = 0; k < c.n_transient; ++k) {
#pragma omp simd
    for (int l = 0; l < W; ++l)
      model_step<Model, T>(Lane<T, W>{st, l}, Lane<T, W>{dv, l}, tab,
                           StepContext{c.seed, first + std::min<uint64_t>(l, nl - 1), k});
  }
  alignas(64) T v1[NO * W], v2[NO * W], vmn[NO * W], vmx[NO * W], p1[NO * W], p2[NO * W];
  alignas(64) double vs[NO * W];
  alignas(64) int pk[NO * W];
  for (int l = 0; l < W; ++l)
    for (int o = 0; o < NO; ++o) {
      const T v = Model::template observe<T>(Lane<T, W>{st, l}, o);
      v1[o * W + l] = v2[o * W + l] = vmn[o * W + l] = vmx[o * W + l] = v;
      vs[o * W + l] = 0.0;
    }
  for (size_t l = 0; l < nl; ++l)
    for (int o = 0; o < NO; ++o) out.n_spikes[(i0 + l) * NO + o] = 0;
  const T thr = T(c.spike_threshold);
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    const int64_t step = c.n_transient + k - 1;
#pragma omp simd
    for (int l = 0; l < W; ++l)
      model_step<Model, T>(Lane<T, W>{st, l}, Lane<T, W>{dv, l}, tab,
                           StepContext{c.seed, first + std::min<uint64_t>(l, nl - 1), step});
    int any = 0;
    for (int o = 0; o < NO; ++o) {
#pragma omp simd reduction(| : any)
      for (int l = 0; l < W; ++l) {
        const int j = o * W + l;
        const T v0 = Model::template observe<T>(Lane<T, W>{st, l}, o);
        int p;
        if constexpr (reset_spikes<Model>::value)
          p = Model::template spike_count<T>(Lane<T, W>{st, l}, o);
        else
          p = is_peak(v0, v1[j], v2[j], thr) ? 1 : 0;
        pk[j] = p;
        any |= p;
        p1[j] = v1[j];
        p2[j] = v2[j];
        vmn[j] = v0 < vmn[j] ? v0 : vmn[j];
        vmx[j] = v0 > vmx[j] ? v0 : vmx[j];
        vs[j] += double(v0);
        v2[j] = v1[j];
        v1[j] = v0;
      }
    }
    if (any) {
      for (int o = 0; o < NO; ++o)
        for (size_t l = 0; l < nl; ++l)
          if (pk[o * W + l]) {
            if constexpr (reset_spikes<Model>::value)
              record_spikes_at(out, c, i0 + l, o, double(k) * c.dt, pk[o * W + l]);
            else
              record_peak(out, c, i0 + l, o, k, v1[o * W + l], p1[o * W + l], p2[o * W + l]);
          }
    }
  }
  for (size_t l = 0; l < nl; ++l) {
    const size_t i = i0 + l;
    uint8_t stt = kOk;
    for (int o = 0; o < NO; ++o) {
      const int j = o * W + static_cast<int>(l);
      const size_t slot = i * NO + o;
      out.v_min[slot] = float(vmn[j]);
      out.v_max[slot] = float(vmx[j]);
      out.v_mean[slot] = c.n_analysis > 0 ? float(vs[j] / double(c.n_analysis)) : float(v1[j]);
      const uint8_t so = classify_status(v1[j], c);
      stt = so > stt ? so : stt;
    }
    for (int k = 0; k < NS; ++k) {
      const T x = st[k * W + l];
      if (!(x == x) || x - x != T(0)) stt = kNonFinite;
      if (out.final_state) out.final_state[static_cast<size_t>(k) * out.n + i] = double(x);
    }
    out.status[i] = stt;
  }
}

template <class Model, class T, class Tab>
void run_all(const RunSettings& s, const ChunkInput& in, const Tab& tab, const OutputView& out) {
  constexpr size_t W = tile_width<T>();
  const size_t ntiles = (in.n + W - 1) / W;
  const int threads = s.threads > 0 ? s.threads : omp_get_num_procs();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t t = 0; t < ntiles; ++t) {
    const size_t i0 = t * W;
    run_tile<Model, T>(s.sim, in, i0, std::min(W, in.n - i0), tab, out);
  }
}

template <class Model, class T>
void run_typed(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  out.resize(in.n, Model::kNumObs, s.sim.max_spikes, Model::kNumState, s.want_final_state);
  if (in.n == 0) return;
  const OutputView ov = out.view();
  if (s.gating == Gating::Table) {
    HostTable<T> table;
    Model::template build_table<T>(table, s.sim.dt, s.table_v_min, s.table_v_max, s.table_dv);
    run_all<Model, T>(s, in, table.view(), ov);
  } else {
    run_all<Model, T>(s, in, Direct{}, ov);
  }
}

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
      run_typed<std::remove_pointer_t<decltype(m)>, std::remove_pointer_t<decltype(t)>>(s, in, out);
    });
    if (!ok) throw BackendError("cpu backend: unknown model '" + s.model + "'");
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
    {
      out.resize(in.n, M::kNumObs, s.sim.max_spikes, M::kNumState, s.want_final_state);
      const OutputView ov = out.view();
      HostTable<T> table;
      if (s.gating == Gating::Table)
        M::template build_table<T>(table, s.sim.dt, s.table_v_min, s.table_v_max, s.table_dv);
      for (size_t i = 0; i < in.n; ++i) {
        if (s.gating == Gating::Table)
          run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, table.view(), ov);
        else
          run_instance<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, Direct{}, ov);
      }
    }
  });
  if (!ok) throw BackendError("reference: unknown model '" + s.model + "'");
}

}  // namespace ns
