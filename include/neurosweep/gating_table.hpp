#pragma once
// Lookup tables of gating functions over the membrane potential, shared by all instances.
//
// For each gate g the table holds x_inf(V) and exp(-dt/tau(V)) at V = v_min + k*dv, k = 0..n-1,
// interleaved per voltage point (row k holds 2*n_gates values), so that one interpolation touches
// two adjacent rows. Values are linearly interpolated; V outside [v_min, v_max] is clamped.
// Built once per (model, dt, precision) on the host; the CUDA backend stages the rows into
// shared memory. The interpolation error is bounded in tests/stg_model_test.cpp.
#include "neurosweep/hd.hpp"

#include <vector>

namespace ns {

template <class T>
struct TableView {
  const T* data = nullptr;  // n rows of `width` values
  T v_min = T(0);
  T inv_dv = T(0);
  int n = 0;
  int width = 0;

  // Interpolation weights for potential v: row index i and fraction f in [0, 1].
  NS_HD void locate(T v, int& i, T& f) const {
    T u = (v - v_min) * inv_dv;
    const T umax = T(n - 1) - T(1e-3);
    u = u < T(0) ? T(0) : u;
    u = u > umax ? umax : u;
    u = u != u ? T(0) : u;  // NaN: any row; the NaN propagates through the state anyway
    i = static_cast<int>(u);
    f = u - T(i);
  }
  // The interpolation weights of one potential: `row(v, key).at(col)` is the table value of column
  // col at v. `key` numbers the lookups of one step (the cell of a circuit); this view ignores it,
  // the CPU backend's tile view (host/backends/cpu_backend.cpp) uses it to find rows it fetched beforehand.
  struct Row {
    const T* a;  // row i (row i + 1 follows at a + width)
    T f;
    int width;
    NS_HD T at(int col) const {
      const T x = a[col];
      const T y = a[width + col];
      return fmadd(f, y - x, x);  // x + f (y - x)
    }
  };
  NS_HD Row row(T v, int /*key*/) const {
    int i;
    T f;
    locate(v, i, f);
    return Row{data + i * width, f, width};
  }
};

// Models whose table lookups are known before the step declare
//   static constexpr int kTableKeys = K;  and  T table_key(state, k)  (k < K),
// the potential of lookup k, and pass k as the key of `row`. The CPU backend then fetches the K
// rows of a whole tile with vector loads before the step instead of gathering them lane by lane.
// A model whose instances use fewer lookups than K (a runtime number of cells) also declares
//   int table_key_count(derived)   (lookups 0 .. count-1 are used; count <= K).
template <class M, class = void>
struct table_keys {
  static constexpr int value = 0;
};
template <class M>
struct table_keys<M, decltype(void(M::kTableKeys))> {
  static constexpr int value = M::kTableKeys;
};

// Owner of the table memory on the host. `data` has kPad zero values after the last row, so
// fixed-width vector loads of the last row stay inside the allocation.
template <class T>
struct HostTable {
  static constexpr int kPad = 16;
  std::vector<T> data;
  double v_min = -120.0, v_max = 80.0, dv = 0.2;
  int n = 0, width = 0;
  TableView<T> view() const {
    TableView<T> t;
    t.data = data.data();
    t.v_min = T(v_min);
    t.inv_dv = T(1.0 / dv);
    t.n = n;
    t.width = width;
    return t;
  }
};

// Marker type: evaluate the gating functions directly (no table).
struct Direct {};

}  // namespace ns
