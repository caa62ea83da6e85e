#pragma once
// Block-parallel form of a spiking-network instance (issue 16, "Execution on the GPU": one network
// per thread block). The same NS_HD code runs as a CUDA thread block (kernels/network_kernels.cu)
// and, threads taken one after the other, on the host (SerialNetBlock below), which
// tests/net_block_test.cpp compares BIT FOR BIT with the CPU path (host/network/run_network.cpp)
// for several block sizes and networks.
//
// One step k of a network (NEST's semantics, as the CPU path: docs/NETWORKS.md):
//   1. Thread t of B owns the neurons [t c, (t+1) c), c = ceil(n / B), of the network's numbering
//      (populations one after the other, no padding). For each it reads this step's input from
//      the ring buffers (slot k mod L), clears the slot, runs the model's step (the same NS_HD code
//      as every backend; random drive keyed by (seed, neuron key, k) as on the CPU) and, when the
//      neuron fired, records what the analysis needs: the per-neuron ISI sums, the sampled spike
//      times, the population's rate-bin and total counts (integer atomics: exact, order-free), and
//      appends the neuron to this step's spike list (an atomic counter: the list's order may vary
//      between runs; nothing below depends on it).
//   2. Barrier. Delivery: for each spike of the list and each projection from its population, the
//      threads split the outgoing synapses (thread t takes edges t, t + B, ...) and add the weight
//      to the target's ring slot (k + delay) mod L. The ring buffers hold 64-bit FIXED-POINT sums
//      (NetFixed below), so the additions are exact and their order does not matter: the GPU's
//      atomics, the host emulation and the CPU path's sequential loop give the same bits.
//   3. Barrier.
// After the last step every thread checks its neurons' states for NaN/Inf. The per-population
// features (mean rate, mean CV of ISIs) and the rate bins are computed on the host from the
// per-neuron sums and the counts, in neuron order, by the CPU path's code (run_network.cpp).
//
// Exec: int threads() const; void each(F f) (f(t) for the calling thread on the GPU, for every
// t on the host); void sync(); uint32_t add_u32(uint32_t* p, uint32_t v) (returns the old value);
// void add_u64(uint64_t* p, uint64_t v); void add_i64(int64_t* p, int64_t v).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "neurosweep/engine.hpp"
#include "neurosweep/hd.hpp"
#include "neurosweep/point/iaf_psc_alpha.hpp"
#include "neurosweep/point/iaf_psc_delta.hpp"
#include "neurosweep/point/iaf_psc_exp.hpp"
#include "neurosweep/point/izhikevich.hpp"

namespace ns {

// The models whose networks have a block kernel (kernels/network_kernels.cu): the
// integrate-and-fire models of Brunel (2000) and PD14 and Izhikevich's, whose step is a few dozen
// operations. Networks of the RKF45 and Hodgkin-Huxley models (their single-neuron kernels already
// need 134-156 registers per thread) run on the CPU.
template <class M>
struct net_block_model {
  static constexpr bool value = false;
};
template <>
struct net_block_model<IafPscDeltaModel> {
  static constexpr bool value = true;
};
template <>
struct net_block_model<IafPscExpModel> {
  static constexpr bool value = true;
};
template <>
struct net_block_model<IafPscAlphaModel> {
  static constexpr bool value = true;
};
template <>
struct net_block_model<IzhikevichModel> {
  static constexpr bool value = true;
};

// Fixed-point network input: a weight w enters the ring buffers as llrint(w * 2^e), with e chosen
// per instance from its largest |weight| so that the largest weight is about 2^40 units: weights
// keep 40 bits (relative to the largest; float weights have 24), and a ring slot can take
// 2^23 (8 million) largest-weight inputs in one step before the 64-bit sum could overflow. A
// slot's sum s is exact, then converted once: T(double(s) * 2^-e) (exact in double below 2^53).
struct NetFixed {
  double scale = 1.0, inv_scale = 1.0;  // 2^e, 2^-e
  static NetFixed for_max_weight(double wmax) {
    NetFixed f;
    if (wmax > 0 && std::isfinite(wmax)) {
      int ex = 0;
      std::frexp(wmax, &ex);  // wmax < 2^ex
      f.scale = std::ldexp(1.0, 40 - ex);
      f.inv_scale = std::ldexp(1.0, ex - 40);
    }
    return f;
  }
  NS_HD static int64_t to_fixed(double w, double scale) { return static_cast<int64_t>(llrint(w * scale)); }
  template <class T>
  NS_HD static T to_input(int64_t s, double inv_scale) { return T(double(s) * inv_scale); }
};

// One population of a block network (all of one model type). Indices are the block's neuron
// numbering (populations in order, no padding).
template <class T>
struct NetBlockPop {
  uint64_t off = 0, n = 0;  // first neuron, neurons
  uint64_t key0 = 0;        // random key of neuron 0 (StepContext::instance = key0 + local index)
  int mode = 0;             // the model's input mode (point/inputs.hpp, model_input_mode)
  int sample = 0;           // neurons whose spike times are kept (the first ones)
  uint64_t sample_off = 0;  // their first output slot
  const T* d = nullptr;     // the population's derived constants (Model::kNumDerived)
};

// One projection: outgoing synapses of each source neuron (population-local rows).
struct NetBlockProj {
  int src = 0;                   // source population
  uint64_t tgt_off = 0;          // first neuron of the target population
  const uint64_t* off = nullptr; // row offsets, n_src + 1
  const uint32_t* tgt = nullptr; // targets (population-local)
  const float* w = nullptr;      // per-synapse signed weights (null: w_fixed / inh)
  const uint16_t* d = nullptr;   // per-synapse delays in steps (null: delay)
  int64_t w_fixed = 0;           // |weight| in fixed point
  int inh = 0;                   // weight < 0: into the inhibitory ring (NEST routes by sign)
  int64_t delay = 1;             // steps
};

// Everything one block reads and writes for its network instance.
template <class T>
struct NetBlockView {
  int np = 0, nproj = 0;
  const NetBlockPop<T>* pops = nullptr;
  const NetBlockProj* proj = nullptr;
  uint64_t ntot = 0;
  int64_t L = 2;  // ring slots: largest delay + 1
  NetFixed fx;
  // state and work arrays
  T* state = nullptr;          // Model::kNumState x ntot: variable k of neuron i at [k * ntot + i]
  int64_t* ring_ex = nullptr;  // L x ntot, zero at the start
  int64_t* ring_in = nullptr;
  uint32_t* spk = nullptr;     // ntot: this step's spikes (neuron indices)
  uint32_t* spk_count = nullptr;  // 1: the list's length
  // analysis, per neuron (zero at the start)
  double* last = nullptr;  // time of the last spike (set to -1 at the start)
  double* s1 = nullptr;
  double* s2 = nullptr;
  uint32_t* nspk = nullptr;
  // outputs (zero at the start)
  uint64_t* bin_count = nullptr;  // np x nbins
  uint64_t* total = nullptr;      // np
  uint32_t* n_spikes = nullptr;   // sampled neurons (NetBlockPop::sample_off + local index)
  float* spike_times = nullptr;   // sampled neurons x max_spikes
  uint32_t* nonfinite = nullptr;  // 1: set when a state variable is NaN or infinite at the end
};

struct NetBlockRun {
  uint64_t seed = 0;
  int64_t n_transient = 0, n_analysis = 0;
  double dt = 0.1;
  int64_t rate_bin_steps = 1;
  uint64_t nbins = 0;
  int max_spikes = 0;
};

template <class Model, class T, class Exec>
NS_HD void net_block_run(const NetBlockView<T>& v, const NetBlockRun& r, Exec& ex) {
  const int B = ex.threads();
  const uint64_t ntot = v.ntot;
  const uint64_t per = (ntot + static_cast<uint64_t>(B) - 1) / static_cast<uint64_t>(B);
  const int64_t n_steps = r.n_transient + r.n_analysis;
  ex.each([&](int t) {  // no spike yet
    const uint64_t i0 = static_cast<uint64_t>(t) * per;
    const uint64_t i1 = i0 + per < ntot ? i0 + per : ntot;
    for (uint64_t i = i0; i < i1; ++i) v.last[i] = -1.0;
  });
  for (int64_t k = 0; k < n_steps; ++k) {
    const size_t slot = static_cast<size_t>(k % v.L) * ntot;
    const int64_t ka = k - r.n_transient;  // analysis step: spike stamp (ka + 1) dt
    ex.each([&](int t) {
      if (t == 0) *v.spk_count = 0;
    });
    ex.sync();
    ex.each([&](int t) {
      const uint64_t i0 = static_cast<uint64_t>(t) * per;
      const uint64_t i1 = i0 + per < ntot ? i0 + per : ntot;
      int p = 0;
      for (uint64_t i = i0; i < i1; ++i) {
        while (i >= v.pops[p].off + v.pops[p].n) ++p;
        const NetBlockPop<T>& P = v.pops[p];
        const T syn_ex = NetFixed::to_input<T>(v.ring_ex[slot + i], v.fx.inv_scale);
        const T syn_in = NetFixed::to_input<T>(v.ring_in[slot + i], v.fx.inv_scale);
        v.ring_ex[slot + i] = 0;
        v.ring_in[slot + i] = 0;
        const uint64_t loc = i - P.off;
        const Strided<T> s{v.state + i, ntot};
        const StepContext ctx{r.seed, P.key0 + loc, k, P.mode, double(syn_ex), double(syn_in), 0.0, 0.0};
        model_step<Model, T>(s, P.d, Direct{}, ctx);
        if (!Model::template spike_count<T>(s, 0)) continue;
        if (ka >= 0) {
          const double t_ms = double(ka + 1) * r.dt;
          ex.add_u64(&v.total[p], 1);
          if (r.nbins) {
            const uint64_t b = static_cast<uint64_t>(ka) / static_cast<uint64_t>(r.rate_bin_steps);
            if (b < r.nbins) ex.add_u64(&v.bin_count[static_cast<uint64_t>(p) * r.nbins + b], 1);
          }
          if (v.last[i] >= 0) {
            const double isi = t_ms - v.last[i];
            v.s1[i] += isi;
            v.s2[i] += isi * isi;
          }
          v.last[i] = t_ms;
          ++v.nspk[i];
          if (loc < static_cast<uint64_t>(P.sample)) {
            const uint64_t o = P.sample_off + loc;
            const uint32_t cnt = v.n_spikes[o];
            if (static_cast<int>(cnt) < r.max_spikes)
              v.spike_times[o * static_cast<uint64_t>(r.max_spikes) + cnt] = static_cast<float>(t_ms);
            v.n_spikes[o] = cnt + 1;
          }
        }
        v.spk[ex.add_u32(v.spk_count, 1)] = static_cast<uint32_t>(i);
      }
    });
    ex.sync();
    const uint32_t nsp = *v.spk_count;
    ex.each([&](int t) {
      for (uint32_t q = 0; q < nsp; ++q) {
        const uint64_t g = v.spk[q];
        int p = 0;
        while (g >= v.pops[p].off + v.pops[p].n) ++p;
        const uint64_t src = g - v.pops[p].off;
        for (int j = 0; j < v.nproj; ++j) {
          const NetBlockProj& pj = v.proj[j];
          if (pj.src != p) continue;
          const uint64_t e1 = pj.off[src + 1];
          for (uint64_t e = pj.off[src] + static_cast<uint64_t>(t); e < e1; e += static_cast<uint64_t>(B)) {
            int64_t wf = pj.w_fixed;
            int inh = pj.inh;
            if (pj.w) {
              const double w = double(pj.w[e]);
              inh = w < 0;
              wf = NetFixed::to_fixed(inh ? -w : w, v.fx.scale);
            }
            const int64_t dd = pj.d ? int64_t(pj.d[e]) : pj.delay;
            int64_t* ring = inh ? v.ring_in : v.ring_ex;
            ex.add_i64(&ring[static_cast<size_t>((k + dd) % v.L) * ntot + pj.tgt_off + pj.tgt[e]], wf);
          }
        }
      }
    });
    ex.sync();
  }
  ex.each([&](int t) {
    const uint64_t i0 = static_cast<uint64_t>(t) * per;
    const uint64_t i1 = i0 + per < ntot ? i0 + per : ntot;
    for (uint64_t i = i0; i < i1; ++i)
      for (int k = 0; k < Model::kNumState; ++k) {
        const T x = v.state[static_cast<size_t>(k) * ntot + i];
        if (!(x == x) || x - x != T(0)) *v.nonfinite = 1;
      }
  });
  ex.sync();
}

// One instance as the host prepares it for the block form (host/network/run_network.cpp) and
// reads its results back: the inputs (pointers into host memory: `derived`, and the shared or
// the instance's own connectivity arrays, which outlive the run) and the outputs.
template <class T>
struct NetBlockInstance {
  std::vector<NetBlockPop<T>> pops;  // d -> derived
  std::vector<T> derived;            // np x Model::kNumDerived
  std::vector<NetBlockProj> proj;
  std::vector<T> state;              // initial state, Model::kNumState x ntot
  uint64_t ntot = 0;
  int64_t L = 2;
  NetFixed fx;
  size_t n_obs = 0;  // sampled neurons
  // outputs
  std::vector<uint32_t> n_spikes, nspk;  // n_obs; ntot
  std::vector<float> spike_times;        // n_obs x max_spikes
  std::vector<double> s1, s2;            // ntot
  std::vector<uint64_t> bin_count, total;  // np x nbins; np
  uint32_t nonfinite = 0;
  // Sizes the outputs (zero) for the run's settings.
  void size_outputs(const NetBlockRun& r) {
    const size_t np = pops.size();
    n_spikes.assign(n_obs, 0);
    nspk.assign(ntot, 0);
    spike_times.assign(n_obs * static_cast<size_t>(r.max_spikes > 0 ? r.max_spikes : 1), 0.0f);
    s1.assign(ntot, 0.0);
    s2.assign(ntot, 0.0);
    bin_count.assign(np * (r.nbins > 0 ? r.nbins : 1), 0);
    total.assign(np, 0);
    nonfinite = 0;
  }
};

// The host form of a block: threads one after the other (tests, and the reference the GPU path
// is checked against).
struct SerialNetBlock {
  int B = 1;
  int threads() const { return B; }
  template <class F>
  void each(F&& f) {
    for (int t = 0; t < B; ++t) f(t);
  }
  void sync() {}
  uint32_t add_u32(uint32_t* p, uint32_t x) {
    const uint32_t o = *p;
    *p = o + x;
    return o;
  }
  void add_u64(uint64_t* p, uint64_t x) { *p += x; }
  void add_i64(int64_t* p, int64_t x) { *p += x; }
};

// Runs one instance in the block form on the host with B emulated threads (outputs in `x`).
template <class Model, class T>
void run_net_block_serial(NetBlockInstance<T>& x, const NetBlockRun& r, int B) {
  x.size_outputs(r);
  const uint64_t n = x.ntot;
  std::vector<int64_t> ring_ex(static_cast<size_t>(x.L) * n, 0), ring_in(static_cast<size_t>(x.L) * n, 0);
  std::vector<uint32_t> spk(n > 0 ? n : 1, 0);
  std::vector<double> last(n, -1.0);
  std::vector<T> state = x.state;
  uint32_t spk_count = 0;
  NetBlockView<T> v;
  v.np = static_cast<int>(x.pops.size());
  v.nproj = static_cast<int>(x.proj.size());
  v.pops = x.pops.data();
  v.proj = x.proj.data();
  v.ntot = n;
  v.L = x.L;
  v.fx = x.fx;
  v.state = state.data();
  v.ring_ex = ring_ex.data();
  v.ring_in = ring_in.data();
  v.spk = spk.data();
  v.spk_count = &spk_count;
  v.last = last.data();
  v.s1 = x.s1.data();
  v.s2 = x.s2.data();
  v.nspk = x.nspk.data();
  v.bin_count = x.bin_count.data();
  v.total = x.total.data();
  v.n_spikes = x.n_spikes.data();
  v.spike_times = x.spike_times.data();
  v.nonfinite = &x.nonfinite;
  SerialNetBlock ex{B};
  net_block_run<Model, T>(v, r, ex);
}

}  // namespace ns
