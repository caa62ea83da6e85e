#pragma once
// Circuits of STG model neurons coupled by graded chemical synapses: the pyloric network of
//   [P04] Prinz AA, Bucher D, Marder E (2004) Nat Neurosci 7:1345-1352
// and user-defined circuits of up to 16 cells and 64 synapses. One circuit instance is integrated
// by one SIMD lane (CPU), exactly like a single neuron; on CUDA by a group of adjacent warp lanes,
// one cell per lane (circuit_lanes.hpp, kernels/circuit_kernels.cuh), with the same results.
//
// Cells: the P03/P04 neuron of stg.hpp, unchanged (StgModel::step_with takes the synaptic terms).
// Synapses (P04 p. 1351, via shared/reference/prinz-stg-model.md section 4.2):
//   I_syn = g s (V_post - E_syn)                               (subtracted in C dV/dt, like I_ion)
//   ds/dt = (s_inf(V_pre) - s) / tau_s
//   s_inf(V_pre) = 1 / (1 + exp((V_th - V_pre) / Delta))       V_th = -35 mV, Delta = 5 mV
//   tau_s = (1 - s_inf(V_pre)) / k_minus
//   glutamatergic: E = -70 mV, k_minus = 1/40 ms^-1; cholinergic: E = -80 mV, k_minus = 1/100 ms^-1
// Units (reference section 6, pitfall 1): g is given in nS and converted to a density of the
// postsynaptic membrane, g [mS/cm^2] = g [nS] * 1e-6 / area [cm^2] (1 nS = 1.5924e-3 mS/cm^2 at
// 0.628e-3 cm^2), so that it adds to the ionic conductance densities in step_with.
//
// Integration: every update uses the previous step's state. Synaptic conductance and g*E of each
// postsynaptic cell come from the old s; s relaxes exponentially towards s_inf(V_pre old):
//   s' = s_inf + (s - s_inf) exp(-dt / tau_s),  dt / tau_s = dt k_minus (1 + u),
//   u = exp((V_pre - V_th) / Delta),  s_inf = u / (1 + u)   (so 1 - s_inf = 1 / (1 + u))
// This is the exact solution for V_pre frozen over the step. It is unconditionally stable: s' is a
// convex combination of s and s_inf (both in [0, 1]) for any tau_s, including tau_s << dt during
// spikes (tau_s < 0.05 ms above about -1.6 mV for glutamate), where it gives s' -> s_inf, the
// "s = s_inf when dt >= tau_s" rule of Prinz-style code without a branch. The argument of the
// exponential is capped at 80 (s_inf = 1 - 2e-35) so that u stays finite in float.
// With "integration": "prinz" s is updated like the cells' gates, by forward Euler truncated to
// s = s_inf when dt >= tau_s (factor max(1 - dt/tau_s, 0) instead of exp(-dt/tau_s); MKL
// simulator.pyx: "if dt > stau: s = sinf", reference section 4.2): StgModel::relax, with the
// scheme flag of cell 0's derived block (the sign of its d_dt; every cell has the same).
//
// Layouts (C cells, N synapses):
//   params : cell c block [c*20, c*20+20) = StgModel params; then g (nS) of each synapse; for
//            runtime topologies pre, post, type of each synapse and n_cells, n_synapses; then
//            the synapse constants E_glut, E_chol, k_glut, k_chol, V_th, Delta.
//   state  : cell c block [c*13, c*13+13) = StgModel state; then s of each synapse.
//   derived: cell c block [c*20, c*20+20) = StgModel derived; then per synapse g density, E_syn,
//            dt*k_minus (and pre, post for runtime topologies); then V_th, 1/Delta (and the counts).
// Parameter and state names are built on the host (host/models/registry.cpp): "<cell>.<stg param>",
// "g_<synapse>", "<cell>.<state>", "s_<synapse>".
#include "neurosweep/stg.hpp"

namespace ns {

// View of a block of an indexable object (raw array, SIMD lane, strided column) at an offset.
template <class A>
struct Block {
  A a;
  int off;
  NS_HD decltype(auto) operator[](int k) const { return a[off + k]; }
};
template <class A>
NS_HD Block<A> block(A a, int off) { return Block<A>{a, off}; }

enum SynapseType : int { kGlutamatergic = 0, kCholinergic = 1 };

// The P04 pyloric network (reference section 4.1): AB/PD, LP, PY and 7 inhibitory synapses in
// Prinz's file order ABLP, PDLP, ABPY, PDPY, LPPM, LPPY, PYLP. Topology fixed at compile time.
struct PyloricTopology {
  static constexpr int kCells = 3, kSynapses = 7;
  static constexpr bool kStatic = true;
  static constexpr const char* kName = "pyloric";
  static constexpr const char* kDescription =
      "Prinz et al. (2004) pyloric network: AB/PD, LP, PY STG neurons and 7 graded synapses "
      "(ABLP, PDLP, ABPY, PDPY, LPPM, LPPY, PYLP)";
  //                                          ABLP PDLP ABPY PDPY LPPM LPPY PYLP
  NS_HD static constexpr int pre(int j) { return j < 4 ? 0 : (j < 6 ? 1 : 2); }
  NS_HD static constexpr int post(int j) {
    return j < 2 ? 1 : (j < 4 ? 2 : (j == 4 ? 0 : (j == 5 ? 2 : 1)));
  }
  NS_HD static constexpr int type(int j) { return (j == 1 || j == 3) ? kCholinergic : kGlutamatergic; }
};

// A general circuit: up to 16 cells and 64 synapses, topology in the parameters (syn<j>.pre,
// syn<j>.post, syn<j>.type) and only the first n_cells cells / n_synapses synapses integrated.
struct GeneralTopology {
  static constexpr int kCells = 16, kSynapses = 64;
  static constexpr bool kStatic = false;
  static constexpr const char* kName = "stg_circuit";
  static constexpr const char* kDescription =
      "Circuit of up to 16 STG neurons (Prinz 2003/2004) and 64 graded synapses (Prinz 2004); "
      "topology and sizes in the parameters";
};

template <class Topo>
struct StgCircuit {
  using Cell = StgModel;
  static constexpr const char* kName = Topo::kName;
  static constexpr const char* kDescription = Topo::kDescription;
  static constexpr ModelKind kKind = ModelKind::kCircuit;
  static constexpr int NC = Topo::kCells, NSY = Topo::kSynapses;
  static constexpr bool kStatic = Topo::kStatic;
  static constexpr int CP = Cell::kNumParams, CS = Cell::kNumState, CD = Cell::kNumDerived;

  // ---- parameter layout ----
  static constexpr int kPG = NC * CP;                          // g of synapse j: kPG + j (nS)
  static constexpr int kPPre = kPG + NSY;                      // runtime topology only
  static constexpr int kPPost = kPPre + (kStatic ? 0 : NSY);
  static constexpr int kPType = kPPost + (kStatic ? 0 : NSY);
  static constexpr int kPNCells = kPType + (kStatic ? 0 : NSY);
  static constexpr int kPNSyn = kPNCells + (kStatic ? 0 : 1);
  static constexpr int kPConst = kPNSyn + (kStatic ? 0 : 1);
  enum SynConst { E_glut, E_chol, k_glut, k_chol, V_th, Delta, kNumSynConst };
  static constexpr int kNumParams = kPConst + kNumSynConst;

  // ---- state layout ----
  static constexpr int kSS = NC * CS;  // s of synapse j: kSS + j
  static constexpr int kNumState = kSS + NSY;
  static constexpr int kNumObs = NC;   // V of every cell

  // ---- derived layout ----
  static constexpr int kDG = NC * CD;      // g density, mS/cm^2
  static constexpr int kDE = kDG + NSY;    // E_syn, mV
  static constexpr int kDK = kDE + NSY;    // dt * k_minus
  static constexpr int kDPre = kDK + NSY;  // runtime topology only
  static constexpr int kDPost = kDPre + (kStatic ? 0 : NSY);
  static constexpr int kDVth = kDPost + (kStatic ? 0 : NSY);
  static constexpr int kDInvDelta = kDVth + 1;
  static constexpr int kDNCells = kDInvDelta + 1;  // runtime topology only
  static constexpr int kDNSyn = kDNCells + (kStatic ? 0 : 1);
  static constexpr int kNumDerived = kDNSyn + (kStatic ? 0 : 1);
  static constexpr int kTableWidth = Cell::kTableWidth;

  // Defaults of the synapse constants (P04 via reference section 4.2).
  static constexpr double kSynDefaults[kNumSynConst] = {-70.0, -80.0, 1.0 / 40.0, 1.0 / 100.0, -35.0, 5.0};

  // Topology accessors: compile-time constants for static topologies, derived values otherwise.
  template <class D>
  NS_HD static int pre(int j, D d) {
    if constexpr (kStatic) { (void)d; return Topo::pre(j); }
    else return static_cast<int>(d[kDPre + j]);
  }
  template <class D>
  NS_HD static int post(int j, D d) {
    if constexpr (kStatic) { (void)d; return Topo::post(j); }
    else return static_cast<int>(d[kDPost + j]);
  }
  template <class D>
  NS_HD static int n_cells(D d) {
    if constexpr (kStatic) { (void)d; return NC; }
    else return static_cast<int>(d[kDNCells]);
  }
  template <class D>
  NS_HD static int n_synapses(D d) {
    if constexpr (kStatic) { (void)d; return NSY; }
    else return static_cast<int>(d[kDNSyn]);
  }

  // Clamp a runtime index into [0, hi) (invalid topologies must not address outside the state;
  // the spec parser rejects them with a clear message before any run).
  NS_HD static int clamp_index(double x, int hi) {
    int k = x == x ? static_cast<int>(x) : 0;
    k = k < 0 ? 0 : k;
    return k >= hi ? hi - 1 : k;
  }

  static constexpr bool kNumerics = true;  // derive/build_table take the scheme (engine.hpp)

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt, int integration = kExpEuler,
                           int constants = kCodata2018) {
    NS_UNROLL for (int c = 0; c < NC; ++c)
      Cell::template derive<T>(block(p, c * CP), block(d, c * CD), dt, integration, constants);
    if constexpr (!kStatic) {
      d[kDNCells] = T(clamp_index(double(p[kPNCells]), NC + 1));
      d[kDNSyn] = T(clamp_index(double(p[kPNSyn]), NSY + 1));
    }
    for (int j = 0; j < NSY; ++j) {
      int po, ty;
      if constexpr (kStatic) {
        po = Topo::post(j);
        ty = Topo::type(j);
      } else {
        const int pr = clamp_index(double(p[kPPre + j]), NC);
        po = clamp_index(double(p[kPPost + j]), NC);
        ty = double(p[kPType + j]) == 1.0 ? kCholinergic : kGlutamatergic;
        d[kDPre + j] = T(pr);
        d[kDPost + j] = T(po);
      }
      // nS -> mS/cm^2 of the postsynaptic membrane (reference section 6, pitfall 1).
      const double area_post = double(p[po * CP + Cell::area]);
      d[kDG + j] = T(double(p[kPG + j]) * 1e-6 / area_post);
      const bool chol = ty == kCholinergic;
      d[kDE + j] = T(double(p[kPConst + (chol ? E_chol : E_glut)]));
      d[kDK + j] = T(double(dt) * double(p[kPConst + (chol ? k_chol : k_glut)]));
    }
    d[kDVth] = T(double(p[kPConst + V_th]));
    d[kDInvDelta] = T(1.0 / double(p[kPConst + Delta]));
  }

  // Every cell from the P03 cold start, every s = 0 (P04: s starts at 0; reference 4.2).
  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    NS_UNROLL for (int c = 0; c < NC; ++c) Cell::template init<T>(block(d, c * CD), block(s, c * CS));
    NS_UNROLL for (int j = 0; j < NSY; ++j) s[kSS + j] = T(0);
  }

  // s_inf and the relaxation factor q(dt/tau_s) of the scheme for presynaptic potential v (see
  // header; forward = 1: prinz).
  template <class T>
  NS_HD static void synapse_targets(T v, T vth, T inv_delta, T dtk, T forward, T& sinf, T& dec) {
    T a = (v - vth) * inv_delta;
    a = a > T(80) ? T(80) : a;  // NaN passes through
    const T u = fexp(a);
    sinf = u / (T(1) + u);
    const T r = dtk * (T(1) + u);
    dec = Cell::relax(forward != T(0) ? -r : r);
  }

  template <class T, class S, class D>
  NS_HD static void synapse_input(int j, S s, D d, T* gx, T* gex) {
    const int po = post(j, d);
    const T gs = d[kDG + j] * s[kSS + j];
    gx[po] = gx[po] + gs;
    gex[po] = gex[po] + gs * d[kDE + j];
  }
  template <class T, class S, class D>
  NS_HD static void synapse_update(int j, S s, D d) {
    const T v = s[pre(j, d) * CS + Cell::V];
    T sinf, dec;
    const T forward = d[Cell::d_dt] < T(0) ? T(1) : T(0);
    synapse_targets<T>(v, d[kDVth], d[kDInvDelta], d[kDK + j], forward, sinf, dec);
    const T s0 = s[kSS + j];
    s[kSS + j] = sinf + (s0 - sinf) * dec;
  }

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab& tab) {
    T gx[NC], gex[NC];
    NS_UNROLL for (int c = 0; c < NC; ++c) {
      gx[c] = T(0);
      gex[c] = T(0);
    }
    if constexpr (kStatic) {
      // 1. synaptic conductance and g*E per postsynaptic cell, from the old s
      NS_UNROLL for (int j = 0; j < NSY; ++j) synapse_input<T>(j, s, d, gx, gex);
      // 2. gates s from the old presynaptic potentials
      NS_UNROLL for (int j = 0; j < NSY; ++j) synapse_update<T>(j, s, d);
      // 3. cells, each with its own old state and the synaptic terms of step 1
      NS_UNROLL for (int c = 0; c < NC; ++c)
        Cell::template step_with<T>(block(s, c * CS), block(d, c * CD), tab, gx[c], gex[c], c);
    } else {
      const int nc = n_cells(d), nsy = n_synapses(d);
      for (int j = 0; j < nsy; ++j) synapse_input<T>(j, s, d, gx, gex);
      for (int j = 0; j < nsy; ++j) synapse_update<T>(j, s, d);
      for (int c = 0; c < nc; ++c)
        Cell::template step_with<T>(block(s, c * CS), block(d, c * CD), tab, gx[c], gex[c], c);
    }
  }

  template <class T, class S>
  NS_HD static T observe(S s, int k) { return s[k * CS + Cell::V]; }

  // One table lookup per integrated cell, at its old V (see table_keys in gating_table.hpp).
  static constexpr int kTableKeys = NC;
  template <class T, class S>
  NS_HD static T table_key(S s, int k) { return s[k * CS + Cell::V]; }
  template <class D>
  NS_HD static int table_key_count(D d) { return n_cells(d); }

  template <class T>
  static void build_table(HostTable<T>& t, double dt, double v_min = -120.0, double v_max = 80.0,
                          double dv = 0.2, int integration = kExpEuler) {
    Cell::build_table<T>(t, dt, v_min, v_max, dv, integration);
  }
};

using PyloricModel = StgCircuit<PyloricTopology>;
using StgCircuitModel = StgCircuit<GeneralTopology>;

}  // namespace ns
