#pragma once
// The CPU backend's SIMD tile driver (moved here from host/backends/cpu_backend.cpp so that a
// model compiled outside neurosweep, e.g. a NESTML plugin (host/models/plugin.hpp), instantiates
// the very same tiles for its model type): run_typed<Model, T> integrates a chunk.
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
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "neurosweep/backend.hpp"
#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"
#include "neurosweep/model_concept.hpp"
#include "neurosweep/point/inputs.hpp"
#include "neurosweep/point/poisson_lanes.hpp"

// Wide-vector variant (issue 19): host/backends/cpu_tiles_wide.cpp includes this header with
// NS_CPU_TILES_NAMESPACE = cpu_tiles_wide and -mprefer-vector-width=512, so that its instantiations
// are distinct symbols from the default (256-bit) ones and the linker cannot mix them.
#ifndef NS_CPU_TILES_NAMESPACE
#define NS_CPU_TILES_NAMESPACE cpu_tiles
#endif

namespace ns {

// Models that declare kCpuWideVectors = true run their tiles with 512-bit vectors where the CPU
// has them (host/backends/cpu_tiles_wide.cpp); the others keep GCC's default preference for
// 256-bit vectors, which is faster for them (measured, see that file).
template <class M, class = void>
struct cpu_wide_vectors : std::false_type {};
template <class M>
struct cpu_wide_vectors<M, std::void_t<decltype(M::kCpuWideVectors)>>
    : std::bool_constant<M::kCpuWideVectors> {};

namespace NS_CPU_TILES_NAMESPACE {

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

// Lanes per tile of a model (issue 19). Each step of a tile has fixed costs beside the lanes'
// arithmetic: the dispatch of the step variant, the spike detector's any-reduction and its branch,
// the loop set-up. Cheap point models spend a large share of their step there, so their tiles are
// 4 x wider: 64 float / 32 double lanes (measured on the 2-core Xeon, one thread, 4096 neurons,
// CPU time: izhikevich float DC 1.1e9 -> 1.55e9 neuron-steps/s, iaf_psc_delta 1.06e9 -> 1.52e9,
// iaf_psc_exp double 5.0e8 -> 7.2e8, Poisson input +10-20 %; RKF45 models and the STG neuron
// unchanged within noise; spike counts identical). A model whose tile (state, derived constants and,
// with table gating, the fetched rows: kMaxCols columns per lookup) would not fit in 16 KiB keeps
// 16 / 8 lanes, so the tile stays in L1 (the STG neuron, circuits). Results do not depend on the
// width: lanes are independent (idle lanes repeat the last instance and are not stored).
// Models that fetch table rows per tile (table_keys > 0: the STG neuron, circuits) take 2 x 16 / 8
// lanes where 64 / 32 do not fit: more independent lanes per row fetch and per step (STG table
// gating, one thread, 4096 neurons, A/B in one binary: float 16 -> 32 lanes 1.52e8 -> 1.60e8
// neuron-steps/s, double 8 -> 16 lanes 6.9e7 -> 8.1e7; 64 float / 32 double lanes were slower
// again, 1.46-1.59e8 / 7.5e7).
template <class Model, class T>
constexpr int model_tile_width() {
  constexpr int wide = sizeof(T) == 4 ? 64 : 32;
  constexpr size_t values = size_t(Model::kNumState) + size_t(Model::kNumDerived) +
                            size_t(table_keys<Model>::value) * 32;  // TileRows::kMaxCols
  constexpr size_t kL1 = 16384;
  if constexpr (values * wide * sizeof(T) <= kL1) return wide;
  if constexpr (table_keys<Model>::value > 0 && values * 2 * tile_width<T>() * sizeof(T) <= kL1)
    return 2 * tile_width<T>();
  return tile_width<T>();
}

// ---- table values fetched per tile ------------------------------------------------------------
// Looking a gating table up lane by lane inside the SIMD step costs two gathers per table column
// (44 per STG step), which dominate the step on x86. For models that declare their lookups
// (table_keys in gating_table.hpp), each step of a tile first locates every lane's row (the same
// TableView::locate), loads rows i and i+1 of each lane with contiguous vector loads, interpolates
// them there (the expression of TableView::Row::at, x + f (y - x), on the same values, so results
// stay bit-for-bit equal to the lane-by-lane lookup: tests/backend_test.cpp), and transposes the
// interpolated values in registers into a column-major scratch block that the step reads as
// ordinary vectors.

template <class T>
constexpr int col_block() {
  return sizeof(T) == 4 ? 8 : 4;  // columns per transposed block (one AVX2 register of lanes)
}
template <class T>
constexpr int padded_cols(int width) {
  return (width + col_block<T>() - 1) / col_block<T>() * col_block<T>();
}

#if defined(__AVX2__)
// f * d + x with the rounding of ns::fmadd (fused where the build has FMA3).
inline __m256 fma8(__m256 f, __m256 d, __m256 x) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(f, d, x);
#else
  return _mm256_add_ps(_mm256_mul_ps(f, d), x);
#endif
}
inline __m256d fma4(__m256d f, __m256d d, __m256d x) {
#if defined(__FMA__)
  return _mm256_fmadd_pd(f, d, x);
#else
  return _mm256_add_pd(_mm256_mul_pd(f, d), x);
#endif
}
#endif

// Portable form of interpolate_rows (builds without AVX2).
template <int W, class T>
inline void interpolate_rows_scalar(const T* const* rows, const T* f, int width, int ncp, T* out) {
  for (int c = 0; c < ncp; ++c)
    for (int l = 0; l < W; ++l) {
      const T x = rows[l][c], y = rows[l][width + c];
      out[static_cast<size_t>(c) * W + l] = fmadd(f[l], y - x, x);
    }
}

// out[c * W + l] = x + f[l] (y - x) with x = rows[l][c], y = rows[l][width + c], for c < ncp (a
// multiple of col_block) and lanes l < W.
template <int W>
inline void interpolate_rows(const float* const* rows, const float* f, int width, int ncp, float* out) {
#if defined(__AVX2__)
  static_assert(W % 8 == 0, "float tiles are multiples of 8 lanes");
  for (int g = 0; g < W; g += 8) {
    for (int b = 0; b < ncp; b += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) {
        const float* p = rows[g + j] + b;
        const __m256 x = _mm256_loadu_ps(p), y = _mm256_loadu_ps(p + width);
        r[j] = fma8(_mm256_set1_ps(f[g + j]), _mm256_sub_ps(y, x), x);
      }
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* o = out + static_cast<size_t>(b) * W + g;
      _mm256_store_ps(o + 0 * W, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_store_ps(o + 1 * W, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_store_ps(o + 2 * W, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_store_ps(o + 3 * W, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_store_ps(o + 4 * W, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_store_ps(o + 5 * W, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_store_ps(o + 6 * W, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_store_ps(o + 7 * W, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  }
#else
  interpolate_rows_scalar<W>(rows, f, width, ncp, out);
#endif
}
template <int W>
inline void interpolate_rows(const double* const* rows, const double* f, int width, int ncp, double* out) {
#if defined(__AVX2__)
  static_assert(W % 4 == 0, "double tiles are multiples of 4 lanes");
  for (int g = 0; g < W; g += 4) {
    for (int b = 0; b < ncp; b += 4) {
      __m256d r[4];
      for (int j = 0; j < 4; ++j) {
        const double* p = rows[g + j] + b;
        const __m256d x = _mm256_loadu_pd(p), y = _mm256_loadu_pd(p + width);
        r[j] = fma4(_mm256_set1_pd(f[g + j]), _mm256_sub_pd(y, x), x);
      }
      const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
      const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
      double* o = out + static_cast<size_t>(b) * W + g;
      _mm256_store_pd(o + 0 * W, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_store_pd(o + 1 * W, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_store_pd(o + 2 * W, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_store_pd(o + 3 * W, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
  }
#else
  interpolate_rows_scalar<W>(rows, f, width, ncp, out);
#endif
}

// Interpolated table values of one tile for the K lookups of the next step: column c of lookup k,
// lane l at v[(k * ncp + c) * W + l].
template <class M, class = void>
struct has_key_count : std::false_type {};
template <class M>
struct has_key_count<M, decltype(void(M::table_key_count(static_cast<const float*>(nullptr))))>
    : std::true_type {};

// Lookups used by the lanes of a tile (the largest count of any lane).
template <class Model, class T, int W>
int tile_key_count(const T* dv) {
  constexpr int K = table_keys<Model>::value;
  if constexpr (has_key_count<Model>::value) {
    int kc = 0;
    for (int l = 0; l < W; ++l) kc = std::max(kc, Model::table_key_count(Lane<T, W>{const_cast<T*>(dv), l}));
    return std::min(std::max(kc, 0), K);
  } else {
    (void)dv;
    return K;
  }
}

template <class T, int W, int K>
struct TileRows {
  static constexpr int kMaxCols = 32;
  int ncp = 0;
  int kc = K;  // lookups fetched (tile_key_count)
  alignas(64) T v[K * kMaxCols * W];

  template <class Model>
  void fetch(const TableView<T>& tab, const T* st) {
    alignas(64) int idx[K * W];
    alignas(64) T f[K * W];
    for (int k = 0; k < kc; ++k) {
#pragma omp simd
      for (int l = 0; l < W; ++l) {
        int i;
        T fr;
        tab.locate(Model::template table_key<T>(Lane<T, W>{const_cast<T*>(st), l}, k), i, fr);
        idx[k * W + l] = i;
        f[k * W + l] = fr;
      }
    }
    for (int k = 0; k < kc; ++k) {
      const T* rows[W];
      for (int l = 0; l < W; ++l) rows[l] = tab.data + static_cast<size_t>(idx[k * W + l]) * tab.width;
      interpolate_rows<W>(rows, f + k * W, tab.width, ncp, v + static_cast<size_t>(k) * ncp * W);
    }
  }
};

// What the model step sees in lane l: TableView's interface over the fetched values. The step loop
// passes it by value (tile_step): model_step takes its table by reference, and a per-lane
// temporary bound to a reference inside an `omp simd` loop becomes a "simd array" that GCC
// cannot vectorise when it holds a pointer (the whole STG step stayed scalar: GCC 12, "no vectype
// for stmt ... .r = ..."; 4.2e7 -> see bench/README.md).
template <class T, int W>
struct TileTab {
  const T* v;  // TileRows::v
  int ncp;     // TileRows::ncp
  int l;
  struct Row {
    const T* a;  // column 0 of this lookup, lane l (stride W per column)
    T at(int col) const { return a[col * W]; }
  };
  Row row(T /*v: fetched before the step*/, int key) const {
    return Row{v + static_cast<size_t>(key) * ncp * W + l};
  }
};

template <class Model, class T, class S, class D, class Tab>
__attribute__((always_inline)) inline void tile_step(S s, D d, Tab tab, const StepContext& ctx) {
  model_step<Model, T>(s, d, tab, ctx);
}

template <class Model, class T, class Tab>
void run_tile(const SimConfig& c, const ChunkInput& in, size_t i0, size_t nl, const Tab& tab,
              const OutputView& out) {
  constexpr int W = model_tile_width<Model, T>();
  constexpr int NS = Model::kNumState, ND = Model::kNumDerived, NO = Model::kNumObs;
  alignas(64) T st[NS * W];
  alignas(64) T dv[ND * W];
  const size_t n = in.n;
  for (int l = 0; l < W; ++l) {
    const size_t i = i0 + std::min<size_t>(l, nl - 1);  // idle lanes repeat the last instance
    model_derive<Model, T>(Strided<const double>{in.params + i, n}, Lane<T, W>{dv, l}, c);
    if (in.init_state) {
      for (int k = 0; k < NS; ++k) st[k * W + l] = T(in.init_state[static_cast<size_t>(k) * n + i]);
    } else {
      Model::template init<T>(Lane<T, W>{dv, l}, Lane<T, W>{st, l});
    }
  }
  const uint64_t first = in.first_index + i0;
  // One step of every lane (step index k, for models with random input).
  constexpr int K = table_keys<Model>::value;
  constexpr bool kFetch = K > 0 && std::is_same_v<Tab, TableView<T>>;
  using Rows = TileRows<T, W, (K > 0 ? K : 1)>;
  Rows* rows = nullptr;
  alignas(64) unsigned char rows_mem[kFetch ? sizeof(Rows) : 1];
  if constexpr (kFetch) {
    rows = new (rows_mem) Rows;  // trivially destructible: no delete
    rows->ncp = padded_cols<T>(tab.width);
    rows->kc = tile_key_count<Model, T, W>(dv);
    if (rows->ncp > Rows::kMaxCols || rows->ncp - tab.width > HostTable<T>::kPad)
      throw BackendError("cpu backend: gating table too wide for a tile");
  }
  // Random draws the tile needs (point/inputs.hpp, model_input_mode): the step is instantiated per
  // mode with a constant StepContext::input_mode, so a tile without random input (or with only
  // low Poisson rates) runs a vectorised step without the other draws. Lanes draw what the
  // reference draws.
  // When the tile's only random draws are its Poisson counts (every lane's model mode is its input
  // block's), they are drawn for all lanes before each step (point/poisson_lanes.hpp, the same
  // numbers) and the step runs with kInputGiven.
  int input_mode = kInputAll;
  using PL = point::PoissonLanes<W>;
  alignas(64) unsigned char pl_mem[point::has_input_block<Model>::value ? sizeof(PL) : 1];
  PL* pl = nullptr;
  if constexpr (point::has_input_block<Model>::value) {
    input_mode = kInputNone;
    bool only_poisson = true;
    for (int l = 0; l < W; ++l) {
      const int m = point::model_input_mode<Model>(Lane<T, W>{dv, l});
      input_mode = std::max(input_mode, m);
      if (m != kInputNone && m != point::input_mode(Lane<T, W>{dv, l}, Model::kIn)) only_poisson = false;
      if (m == kInputAll && point::has_own_input_mode<Model, Lane<T, W>>::value) only_poisson = false;
    }
    if (input_mode != kInputNone && only_poisson) {
      pl = new (pl_mem) PL;  // trivially destructible: no delete
      pl->setup(
          c.seed, [&](int l) { return first + std::min<uint64_t>(l, nl - 1); },
          [&](int l, int k) { return double(dv[k * W + l]); }, Model::kIn);
      input_mode = kInputGiven;
    }
  }
  // Tile-uniform facts (StepContext::uniform): no lane with a step/ramp current; the model's own
  // branches that every lane takes.
  int uni = 0;
  if constexpr (point::has_input_block<Model>::value) {
    uni = kUniformNoStim | kUniformModelA | kUniformModelB;
    for (int l = 0; l < W; ++l) {
      int f = point::stim_off(Lane<T, W>{dv, l}, Model::kIn) ? kUniformNoStim : 0;
      if constexpr (point::has_uniform_flags<Model, Lane<T, W>>::value)
        f |= Model::uniform_flags(Lane<T, W>{dv, l}) & (kUniformModelA | kUniformModelB);
      uni &= f;
    }
  }
  auto lanes = [&](int64_t k, auto mode, auto ucst) {
    constexpr int md = decltype(mode)::value;
    constexpr int uf = decltype(ucst)::value;
    // The counts of kInputGiven (0 in the other modes: a constant array, so that those steps do
    // not read them).
    static constexpr double kNoCounts[2][W] = {};
    const double(*cnt)[W] = kNoCounts;
    if constexpr (md == kInputGiven) {
      pl->draw(k);
      cnt = pl->n;
    }
    if constexpr (kFetch) {
      rows->template fetch<Model>(tab, st);
      // Local copies: read through the closure (`rows` is captured by reference) the pointer is
      // a load that the vectoriser cannot give a vector type either.
      const T* const rv = rows->v;
      const int ncp = rows->ncp;
#pragma omp simd
      for (int l = 0; l < W; ++l)
        tile_step<Model, T>(Lane<T, W>{st, l}, Lane<T, W>{dv, l}, TileTab<T, W>{rv, ncp, l},
                             StepContext{c.seed, first + std::min<uint64_t>(l, nl - 1), k, md, 0.0, 0.0,
                                         md == kInputGiven ? cnt[0][l] : 0.0, md == kInputGiven ? cnt[1][l] : 0.0, uf});
    } else {
#pragma omp simd
      for (int l = 0; l < W; ++l)
        model_step<Model, T>(Lane<T, W>{st, l}, Lane<T, W>{dv, l}, tab,
                             StepContext{c.seed, first + std::min<uint64_t>(l, nl - 1), k, md, 0.0, 0.0,
                                         md == kInputGiven ? cnt[0][l] : 0.0, md == kInputGiven ? cnt[1][l] : 0.0, uf});
    }
  };
  // The step's compile-time variants: input mode x uniform facts (those the model can have; the
  // uniform variants only for the vectorised modes None and Given).
  auto with_uniform = [&](int64_t k, auto mode) {
    using std::integral_constant;
    constexpr bool kModelFlags = point::has_uniform_flags<Model, Lane<T, W>>::value;
    if constexpr (kModelFlags) {
      switch (uni) {
        case kUniformModelA: return lanes(k, mode, integral_constant<int, kUniformModelA>{});
        case kUniformModelB: return lanes(k, mode, integral_constant<int, kUniformModelB>{});
        case kUniformNoStim | kUniformModelA:
          return lanes(k, mode, integral_constant<int, kUniformNoStim | kUniformModelA>{});
        case kUniformNoStim | kUniformModelB:
          return lanes(k, mode, integral_constant<int, kUniformNoStim | kUniformModelB>{});
        default: break;
      }
    }
    if (uni & kUniformNoStim) return lanes(k, mode, integral_constant<int, kUniformNoStim>{});
    lanes(k, mode, integral_constant<int, 0>{});
  };
  auto step = [&](int64_t k) {
    using std::integral_constant;
    if constexpr (point::has_input_block<Model>::value) {
      if (input_mode == kInputNone) return with_uniform(k, integral_constant<int, kInputNone>{});
      if (input_mode == kInputGiven) return with_uniform(k, integral_constant<int, kInputGiven>{});
      if (input_mode == kInputFast)
        return lanes(k, integral_constant<int, kInputFast>{}, integral_constant<int, 0>{});
    }
    lanes(k, integral_constant<int, kInputAll>{}, integral_constant<int, 0>{});
  };
  for (int64_t k = 0; k < c.n_transient; ++k) step(k);
  alignas(64) Detector<Model, T, NO * W> det;  // slot o * W + l
  for (int l = 0; l < W; ++l)
    for (int o = 0; o < NO; ++o) det.start(o * W + l, Model::template observe<T>(Lane<T, W>{st, l}, o));
  for (size_t l = 0; l < nl; ++l)
    for (int o = 0; o < NO; ++o) out.n_spikes[(i0 + l) * NO + o] = 0;
  const T thr = T(c.spike_threshold);
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    step(c.n_transient + k - 1);
    int any = 0;
    for (int o = 0; o < NO; ++o) {
#pragma omp simd reduction(| : any)
      for (int l = 0; l < W; ++l) any |= det.sample(o * W + l, Lane<T, W>{st, l}, o, thr);
    }
    if (any) {
      for (int o = 0; o < NO; ++o)
        for (size_t l = 0; l < nl; ++l)
          if (det.marked[o * W + l]) det.record(out, c, i0 + l, o, o * W + static_cast<int>(l), k);
    }
  }
  for (size_t l = 0; l < nl; ++l) det.finish(out, c, i0 + l, static_cast<int>(l), W, Lane<T, W>{st, static_cast<int>(l)});
}

template <class Model, class T, class Tab>
void run_all(const RunSettings& s, const ChunkInput& in, const Tab& tab, const OutputView& out) {
  constexpr size_t W = model_tile_width<Model, T>();
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
    model_build_table<Model, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
    run_all<Model, T>(s, in, table.view(), ov);
  } else {
    run_all<Model, T>(s, in, Direct{}, ov);
  }
}

}  // namespace NS_CPU_TILES_NAMESPACE
}  // namespace ns
