#pragma once
// Cell-per-lane form of the STG circuits (stg_circuit.hpp; issue 19): one cell per thread, the
// cells of one network on kGroup adjacent lanes (kGroup = the cell count rounded up to a power of
// two: pyloric 3 cells -> 4 lanes, 8 networks per warp; 16-cell circuits -> 16 lanes, 2 networks
// per warp). A power of two lets the CUDA kernels use width-kGroup warp shuffles (a group never
// straddles a warp and lane l of a group is shuffle source l). Packing 10 pyloric networks into 30
// lanes would use 94% of the lanes instead of 75%, but needs explicit source-lane arithmetic and
// leaves groups of unequal position; the idle lane of a pyloric group also owns synapses (below).
//
// Lane l holds cell l's state and derived constants (l < NC) and owns synapses j = l + kGroup r
// (r < kOwned): their s and constants. One step is two phases, exactly the whole-network step of
// StgCircuit::step (every update uses the previous step's state):
//   publish: each lane makes gs_j = g_j s_j and gs_j E_j of its synapses and its old V visible;
//   step:    lane l sums the gs_j, gs_j E_j of the synapses with post(j) == l in the order of j
//            (the order of StgCircuit::synapse_input, so the float sums round identically), relaxes
//            its synapses towards s_inf(V_pre old) (V_pre read from lane pre(j)), then steps its
//            cell with StgModel::step_with.
// The exchange between the phases is a template argument X with
//   T v(int lane)           old V published by `lane` of the group
//   T gs(int r, int lane)   gs of owned synapse r of `lane`;  T gse(int r, int lane): gs E
// which the CUDA kernels implement with __shfl_sync (kernels/circuit_kernels.cuh) and
// run_instance_lanes below with array reads (the CPU emulation that tests/circuit_lanes_test.cpp
// compares bit for bit with run_instance). Every call of X is made by every lane of the warp in
// the same order (loop bounds uniform across the warp), as __shfl_sync requires.
#include <cstdint>

#include "neurosweep/engine.hpp"
#include "neurosweep/stg_circuit.hpp"

namespace ns {

template <class Model>
struct CircuitLanes;  // only the STG circuits have a cell-per-lane form

template <class Topo>
struct CircuitLanes<StgCircuit<Topo>> {
  using M = StgCircuit<Topo>;
  using Cell = StgModel;
  static constexpr int NC = M::NC, NSY = M::NSY, CS = M::CS, CD = M::CD, CP = M::CP;
  static constexpr int kGroup = NC <= 2 ? 2 : (NC <= 4 ? 4 : (NC <= 8 ? 8 : (NC <= 16 ? 16 : 32)));
  static_assert(NC <= 32, "a network must fit one warp");
  static constexpr int kOwned = (NSY + kGroup - 1) / kGroup;

  template <class T>
  struct Lane {
    int l = 0;              // lane in the group = cell index
    int n_cells = NC, n_syn = NSY;
    T s[CS];                // cell state (l < NC)
    T d[CD];                // cell derived constants
    T ss[kOwned], sg[kOwned], se[kOwned], sk[kOwned];  // s, g density, E_syn, dt k_minus
    int spre[kOwned];
    uint64_t in_mask = 0;   // synapses j < n_syn with post(j) == l (runtime topologies)
    T vth, inv_delta, forward;
    T gs[kOwned], gse[kOwned];  // published by publish()
    T v_pub;
  };

  // Constants of synapse j exactly as StgCircuit::derive computes them (P04 via reference
  // section 4.2 and section 6, pitfall 1: g in nS -> mS/cm^2 of the postsynaptic membrane):
  // g density, E_syn, dt * k_minus, presynaptic and postsynaptic cell.
  template <class T, class P>
  NS_HD static void synapse_derive(const P& p, int j, T dt, T& g, T& e, T& k, int& pr, int& po) {
    int ty;
    if constexpr (M::kStatic) {
      pr = Topo::pre(j);
      po = Topo::post(j);
      ty = Topo::type(j);
    } else {
      pr = M::clamp_index(double(p[M::kPPre + j]), NC);
      po = M::clamp_index(double(p[M::kPPost + j]), NC);
      ty = double(p[M::kPType + j]) == 1.0 ? kCholinergic : kGlutamatergic;
    }
    const double area_post = double(p[po * CP + Cell::area]);
    g = T(double(p[M::kPG + j]) * 1e-6 / area_post);
    const bool chol = ty == kCholinergic;
    e = T(double(p[M::kPConst + (chol ? M::E_chol : M::E_glut)]));
    k = T(double(dt) * double(p[M::kPConst + (chol ? M::k_chol : M::k_glut)]));
  }

  // Constants of lane l of the network whose parameters p (indexable, StgCircuit layout) holds,
  // the same values StgCircuit::derive computes for cell l and synapses l + kGroup r.
  template <class T, class P>
  NS_HD static void setup(Lane<T>& a, int l, const P& p, const SimConfig& c) {
    a.l = l;
    const T dt = T(c.dt);
    if (l < NC) {
      Cell::template derive<T>(block(p, l * CP), a.d, dt, c.integration, c.constants);
    } else {
      NS_UNROLL for (int k = 0; k < CD; ++k) a.d[k] = T(0);
    }
    if constexpr (!M::kStatic) {
      a.n_cells = int(T(M::clamp_index(double(p[M::kPNCells]), NC + 1)));
      a.n_syn = int(T(M::clamp_index(double(p[M::kPNSyn]), NSY + 1)));
      a.in_mask = 0;
      for (int j = 0; j < a.n_syn; ++j)
        if (M::clamp_index(double(p[M::kPPost + j]), NC) == l) a.in_mask |= uint64_t(1) << j;
    }
    NS_UNROLL for (int r = 0; r < kOwned; ++r) {
      const int j = l + kGroup * r;
      if (j < NSY) {
        int pr, po;
        synapse_derive<T>(p, j, dt, a.sg[r], a.se[r], a.sk[r], pr, po);
        a.spre[r] = pr;
      } else {
        a.sg[r] = a.se[r] = a.sk[r] = T(0);
        a.spre[r] = 0;
      }
    }
    a.vth = T(double(p[M::kPConst + M::V_th]));
    a.inv_delta = T(1.0 / double(p[M::kPConst + M::Delta]));
    // The scheme flag of StgCircuit::synapse_update: the sign of cell 0's d_dt (StgModel::derive).
    const T d_dt = c.integration == kPrinzEuler ? -dt : dt;
    a.forward = d_dt < T(0) ? T(1) : T(0);
  }

  // Start state: given (column-major init with stride `stride`, instance i) or cold (StgCircuit::init).
  template <class T>
  NS_HD static void start(Lane<T>& a, const double* init, size_t stride, size_t i) {
    const int l = a.l;
    if (init) {
      NS_UNROLL for (int k = 0; k < CS; ++k)
        a.s[k] = l < NC ? T(init[static_cast<size_t>(l * CS + k) * stride + i]) : T(0);
      NS_UNROLL for (int r = 0; r < kOwned; ++r) {
        const int j = l + kGroup * r;
        a.ss[r] = j < NSY ? T(init[static_cast<size_t>(M::kSS + j) * stride + i]) : T(0);
      }
    } else {
      if (l < NC) {
        Cell::template init<T>(a.d, a.s);
      } else {
        NS_UNROLL for (int k = 0; k < CS; ++k) a.s[k] = T(0);
      }
      NS_UNROLL for (int r = 0; r < kOwned; ++r) a.ss[r] = T(0);
    }
  }

  // Phase 1: the values other lanes read in this step (from the previous step's state).
  template <class T>
  NS_HD static void publish(Lane<T>& a) {
    a.v_pub = a.s[Cell::V];
    NS_UNROLL for (int r = 0; r < kOwned; ++r) {
      const T g = a.sg[r] * a.ss[r];  // StgCircuit::synapse_input
      a.gs[r] = g;
      a.gse[r] = g * a.se[r];
    }
  }

  // Phase 2. n_loop: synapses visited in the sum, the same for every lane of a warp and at least
  // this network's n_syn (StgCircuit::kStatic: NSY).
  template <class T, class X, class Tab>
  NS_HD static void step(Lane<T>& a, const X& x, const Tab& tab, int n_loop) {
    const int l = a.l;
    T gx = T(0), gex = T(0);
    // 1. synaptic conductance and g*E of this cell, in the order of j
    NS_UNROLL for (int r = 0; r < kOwned; ++r) {
      if constexpr (M::kStatic) {
        NS_UNROLL for (int o = 0; o < kGroup; ++o) {
          const int j = r * kGroup + o;
          if (j < NSY) {
            const T g = x.gs(r, o), ge = x.gse(r, o);
            if (Topo::post(j) == l) {
              gx = gx + g;
              gex = gex + ge;
            }
          }
        }
      } else {
        for (int o = 0; o < kGroup; ++o) {
          const int j = r * kGroup + o;
          if (j >= n_loop) break;
          const T g = x.gs(r, o), ge = x.gse(r, o);
          if ((a.in_mask >> j) & 1u) {
            gx = gx + g;
            gex = gex + ge;
          }
        }
      }
    }
    // 2. this lane's synapses from the old presynaptic potentials (StgCircuit::synapse_update)
    NS_UNROLL for (int r = 0; r < kOwned; ++r) {
      const T v = x.v(a.spre[r]);
      const int j = l + kGroup * r;
      if (j < a.n_syn) {
        T sinf, dec;
        M::template synapse_targets<T>(v, a.vth, a.inv_delta, a.sk[r], a.forward, sinf, dec);
        const T s0 = a.ss[r];
        a.ss[r] = sinf + (s0 - sinf) * dec;
      }
    }
    // 3. the cell with its old state and the synaptic terms of 1
    if (l < a.n_cells) Cell::template step_with<T>(a.s, a.d, tab, gx, gex, l);
  }

  // Observed cells: every cell of the layout (run_instance observes all NC cells, also those of a
  // runtime topology that are not integrated).
  NS_HD static bool observed(int l) { return l < NC; }

  // Summary of lane l (Detector::finish of run_instance for potential l and the lane's part of the
  // state). Returns 3 if a state variable of the lane is not finite, else the status of its V.
  template <class T, class Det>
  NS_HD static int finish(const Lane<T>& a, const Det& det, const OutputView& out, const SimConfig& c,
                          size_t i) {
    const int l = a.l;
    int st = kOk;
    if (l < NC) {
      const size_t slot = i * out.n_obs + l;
      out.v_min[slot] = float(det.lo[0]);
      out.v_max[slot] = float(det.hi[0]);
      out.v_mean[slot] = c.n_analysis > 0 ? float(det.sum[0] / double(c.n_analysis)) : float(det.v1[0]);
      st = classify_status(det.v1[0], c);
      NS_UNROLL for (int k = 0; k < CS; ++k) {
        const T x = a.s[k];
        if (!(x == x) || x - x != T(0)) st = 3;
        if (out.final_state) out.final_state[static_cast<size_t>(l * CS + k) * out.n + i] = double(x);
      }
    }
    NS_UNROLL for (int r = 0; r < kOwned; ++r) {
      const int j = l + kGroup * r;
      if (j < NSY) {
        const T x = a.ss[r];
        if (!(x == x) || x - x != T(0)) st = 3;
        if (out.final_state) out.final_state[static_cast<size_t>(M::kSS + j) * out.n + i] = double(x);
      }
    }
    return st;
  }
  // The network's status from the lanes' finish values (max over the group): a non-finite state
  // variable anywhere gives kNonFinite, else the worst status of the observed potentials.
  NS_HD static uint8_t status_of(int worst) { return worst == 3 ? uint8_t(kNonFinite) : uint8_t(worst); }

  template <class T>
  using LaneDetector = Detector<StgModel, T, 1>;
};

// Array exchange of the CPU emulation: the published values of the lanes of one group.
template <class T, class Lanes>
struct ArrayExchange {
  const Lanes* lanes;
  NS_HD T v(int l) const { return lanes[l].v_pub; }
  NS_HD T gs(int r, int l) const { return lanes[l].gs[r]; }
  NS_HD T gse(int r, int l) const { return lanes[l].gse[r]; }
};

// run_instance of a circuit, cell per lane, with the exchange emulated by array reads: the same
// per-lane code as the CUDA kernels (kernels/circuit_kernels.cuh), lanes taken one after the other
// within each phase. Bit for bit equal to run_instance<StgCircuit<Topo>, T> (tests/circuit_lanes_test.cpp).
template <class Model, class T, class Tab>
void run_instance_lanes(const SimConfig& c, const double* params, const double* init, size_t stride,
                        size_t i, uint64_t /*first_index*/, const Tab& tab, const OutputView& out) {
  using L = CircuitLanes<Model>;
  constexpr int G = L::kGroup;
  typename L::template Lane<T> a[G];
  typename L::template LaneDetector<T> det[G];
  const Strided<const double> p{params + i, stride};
  for (int l = 0; l < G; ++l) {
    L::template setup<T>(a[l], l, p, c);
    L::template start<T>(a[l], init, stride, i);
  }
  const ArrayExchange<T, typename L::template Lane<T>> x{a};
  auto one_step = [&] {
    for (int l = 0; l < G; ++l) L::template publish<T>(a[l]);
    for (int l = 0; l < G; ++l) L::template step<T>(a[l], x, tab, a[l].n_syn);
  };
  for (int64_t k = 0; k < c.n_transient; ++k) one_step();
  for (int l = 0; l < G; ++l)
    if (L::observed(l)) {
      det[l].start(0, a[l].s[StgModel::V]);
      out.n_spikes[i * out.n_obs + l] = 0;
    }
  const T thr = T(c.spike_threshold);
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    one_step();
    for (int l = 0; l < G; ++l)
      if (L::observed(l) && det[l].sample(0, a[l].s, 0, thr)) det[l].record(out, c, i, l, 0, k);
  }
  int worst = kOk;
  for (int l = 0; l < G; ++l) {
    const int st = L::template finish<T>(a[l], det[l], out, c, i);
    worst = st > worst ? st : worst;
  }
  out.status[i] = L::status_of(worst);
}

}  // namespace ns
