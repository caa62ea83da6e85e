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
  NS_HD T at(int i, T f, int col) const {
    const T a = data[i * width + col];
    const T b = data[(i + 1) * width + col];
    return a + f * (b - a);
  }
};

// Owner of the table memory on the host.
template <class T>
struct HostTable {
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
