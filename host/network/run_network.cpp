// CPU execution of spiking-network instances (run_network.hpp, docs/NETWORKS.md).
#include "network/run_network.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "neurosweep/cpu_tiles.hpp"
#if defined(NEUROSWEEP_HAVE_CUDA)
#include "neurosweep/cuda_backend.hpp"
#endif
#include "neurosweep/hash.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/network/net_block.hpp"
#include "neurosweep/point/poisson_lanes.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {
namespace {

// ---- connectivity -----------------------------------------------------------------------------
constexpr uint64_t kStreamConn = 0x636f6e6eULL;  // "conn"
constexpr uint64_t kStreamWeight = 0x77676874ULL;  // "wght"
constexpr uint64_t kStreamDelay = 0x646c6179ULL;   // "dlay"
constexpr uint64_t kStreamInit = 0x696e6974ULL;    // "init"

// Uniform integer in [0, n) (Lemire's multiply-shift; bias below 2^-64 * n).
inline uint64_t below(point::CounterRng& r, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r.next_u64()) * n) >> 64);
}

// Counting sort of (source, target) pairs into rows by source; the order within a row is the
// order of `pairs` (stable).
Csr rows_by_source(uint64_t n_src, const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
  Csr c;
  c.off.assign(n_src + 1, 0);
  for (const auto& p : pairs) ++c.off[p.first + 1];
  for (uint64_t s = 0; s < n_src; ++s) c.off[s + 1] += c.off[s];
  c.tgt.resize(pairs.size());
  std::vector<uint64_t> pos(c.off.begin(), c.off.end() - 1);
  for (const auto& p : pairs) c.tgt[pos[p.first]++] = p.second;
  return c;
}

// K distinct or repeated draws from [0, pool) skipping `self` (autapses off); used by
// fixed_indegree (partners = sources) and fixed_outdegree (partners = targets).
void draw_partners(point::CounterRng& r, uint64_t pool, uint64_t k, int64_t self, bool multapses,
                   std::vector<uint32_t>& out, std::vector<uint8_t>& mark) {
  out.clear();
  while (out.size() < k) {
    const uint64_t x = below(r, pool);
    if (static_cast<int64_t>(x) == self) continue;  // NEST: autapses off -> redraw
    if (!multapses) {
      if (mark[x]) continue;  // NEST: multapses off -> redraw
      mark[x] = 1;
    }
    out.push_back(static_cast<uint32_t>(x));
  }
  if (!multapses)
    for (uint32_t x : out) mark[x] = 0;
}

}  // namespace

Csr draw_projection(ConnRule rule, bool autapses, bool multapses, bool same, uint64_t ns, uint64_t nt, double value,
                    uint64_t key) {
  auto self_of = [&](uint64_t i) { return same && !autapses ? static_cast<int64_t>(i) : int64_t(-1); };
  switch (rule) {
    case ConnRule::kAllToAll: {  // NEST all_to_all: every pair (autapses as set)
      Csr c;
      c.off.assign(ns + 1, 0);
      for (uint64_t s = 0; s < ns; ++s) {
        for (uint64_t t = 0; t < nt; ++t)
          if (static_cast<int64_t>(t) != self_of(s)) c.tgt.push_back(static_cast<uint32_t>(t));
        c.off[s + 1] = c.tgt.size();
      }
      return c;
    }
    case ConnRule::kOneToOne: {  // NEST one_to_one: source i -> target i (sizes equal)
      Csr c;
      c.off.assign(ns + 1, 0);
      for (uint64_t s = 0; s < ns; ++s) {
        if (!(same && !autapses)) c.tgt.push_back(static_cast<uint32_t>(s));
        c.off[s + 1] = c.tgt.size();
      }
      return c;
    }
    case ConnRule::kFixedIndegree: {  // NEST fixed_indegree: each target draws K sources
      const uint64_t k = static_cast<uint64_t>(value);
      std::vector<std::pair<uint32_t, uint32_t>> pairs;
      pairs.reserve(nt * k);
      std::vector<uint32_t> got;
      std::vector<uint8_t> mark(multapses ? 0 : ns, 0);
      for (uint64_t t = 0; t < nt; ++t) {
        point::CounterRng r(key, t, 0, kStreamConn);
        draw_partners(r, ns, k, self_of(t), multapses, got, mark);
        for (uint32_t s : got) pairs.emplace_back(s, static_cast<uint32_t>(t));
      }
      return rows_by_source(ns, pairs);
    }
    case ConnRule::kFixedOutdegree: {  // NEST fixed_outdegree: each source draws K targets
      const uint64_t k = static_cast<uint64_t>(value);
      Csr c;
      c.off.assign(ns + 1, 0);
      c.tgt.reserve(ns * k);
      std::vector<uint32_t> got;
      std::vector<uint8_t> mark(multapses ? 0 : nt, 0);
      for (uint64_t s = 0; s < ns; ++s) {
        point::CounterRng r(key, s, 1, kStreamConn);
        draw_partners(r, nt, k, self_of(s), multapses, got, mark);
        c.tgt.insert(c.tgt.end(), got.begin(), got.end());
        c.off[s + 1] = c.tgt.size();
      }
      return c;
    }
    case ConnRule::kFixedTotalNumber: {  // NEST fixed_total_number: N pairs, each uniform
      const uint64_t n = static_cast<uint64_t>(value);
      constexpr uint64_t kBlock = 4096;
      std::vector<std::pair<uint32_t, uint32_t>> pairs;
      pairs.reserve(n);
      for (uint64_t b = 0; b * kBlock < n; ++b) {
        point::CounterRng r(key, b, 2, kStreamConn);
        for (uint64_t j = b * kBlock; j < std::min(n, (b + 1) * kBlock);) {
          const uint64_t s = below(r, ns), t = below(r, nt);
          if (same && !autapses && s == t) continue;
          pairs.emplace_back(static_cast<uint32_t>(s), static_cast<uint32_t>(t));
          ++j;
        }
      }
      return rows_by_source(ns, pairs);
    }
    case ConnRule::kPairwiseBernoulli: {  // NEST pairwise_bernoulli: each pair with probability p
      const double p = value;
      Csr c;
      c.off.assign(ns + 1, 0);
      const double lq = p < 1.0 ? std::log1p(-p) : 0.0;
      for (uint64_t s = 0; s < ns; ++s) {
        if (p > 0.0) {
          point::CounterRng r(key, s, 3, kStreamConn);
          // Geometric skips between successes (Devroye 1986, sec. X.2): gap = floor(log U / log(1-p)).
          int64_t t = -1;
          for (;;) {
            if (p >= 1.0) {
              ++t;
            } else {
              const double u = 1.0 - r.uniform();  // (0, 1]
              const double gap = std::floor(std::log(u) / lq);
              if (gap >= static_cast<double>(nt)) break;
              t += 1 + static_cast<int64_t>(gap);
            }
            if (t >= static_cast<int64_t>(nt)) break;
            if (t == self_of(s)) continue;
            c.tgt.push_back(static_cast<uint32_t>(t));
          }
        }
        c.off[s + 1] = c.tgt.size();
      }
      return c;
    }
    case ConnRule::kExplicit:
      break;  // explicit_csr
  }
  throw std::logic_error("draw_projection: not a drawn rule");
}

Csr explicit_csr(const ExplicitEdges& E, uint64_t ns) {
  Csr c;
  c.off.assign(ns + 1, 0);
  for (uint32_t s : E.src) ++c.off[s + 1];  // E.src < ns: check_realised
  for (uint64_t s = 0; s < ns; ++s) c.off[s + 1] += c.off[s];
  c.tgt = E.tgt;  // already ordered by source (read_explicit_edges)
  return c;
}

SynArrays make_syn_arrays(const NetworkDesc& net, const NetProjection& pr, const Csr& csr, const double* q,
                          double dt_ms, uint64_t key) {
  SynArrays a;
  const size_t n = csr.tgt.size();
  if (pr.weight_dist.active()) {
    a.w.resize(n);
    for (size_t e = 0; e < n; ++e) a.w[e] = static_cast<float>(pr.weight_dist.draw(q, key, e, kStreamWeight));
  } else if (pr.edges && !pr.edges->weight.empty()) {
    const double scale = q[pr.weight_scale_param];
    a.w.resize(n);
    for (size_t e = 0; e < n; ++e) a.w[e] = static_cast<float>(pr.edges->weight[e] * scale);
  }
  auto steps = [&](double ms, size_t e) {
    const int64_t d = net.delay_steps(ms, dt_ms);
    if (d < 1 || d > 65535)
      throw std::runtime_error(pr.name + ": delay " + std::to_string(ms) + " ms of synapse " + std::to_string(e) +
                               " is " + std::to_string(d) + " steps; expected 1 .. 65535 steps");
    return static_cast<uint16_t>(d);
  };
  if (pr.delay_dist.active()) {
    a.d.resize(n);
    for (size_t e = 0; e < n; ++e) a.d[e] = steps(pr.delay_dist.draw(q, key, e, kStreamDelay), e);
  } else if (pr.edges && !pr.edges->delay_ms.empty()) {
    a.d.resize(n);
    for (size_t e = 0; e < n; ++e) a.d[e] = steps(pr.edges->delay_ms[e], e);
  }
  for (uint16_t d : a.d) a.dmax = std::max<int64_t>(a.dmax, d);
  for (float w : a.w) a.wmax = std::max(a.wmax, std::fabs(double(w)));
  return a;
}

std::shared_ptr<const Csr> ConnCache::get(int proj, const NetProjection& pr, uint64_t ns, uint64_t nt, double value,
                                          uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto k = std::make_tuple(proj, ns, nt, value);
  auto it = map_.find(k);
  if (it != map_.end()) return it->second;
  // Drawn under the lock: each distinct connectivity once; threads that need it wait for it.
  auto c = std::make_shared<const Csr>(
      pr.edges ? explicit_csr(*pr.edges, ns)
               : draw_projection(pr.rule, pr.autapses, pr.multapses, pr.src == pr.tgt, ns, nt, value, key));
  bytes_ += c->bytes();
  map_.emplace(k, c);
  return c;
}
std::shared_ptr<const SynArrays> ConnCache::get_syn(int proj, const std::vector<double>& values,
                                                   const std::function<SynArrays()>& make) {
  std::lock_guard<std::mutex> lock(mu_);
  auto k = std::make_pair(proj, values);
  auto it = syn_.find(k);
  if (it != syn_.end()) return it->second;
  auto a = std::make_shared<const SynArrays>(make());
  bytes_ += a->bytes();
  syn_.emplace(k, a);
  return a;
}
size_t ConnCache::distinct() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}
size_t ConnCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

namespace {

// ---- populations --------------------------------------------------------------------------------
// The CPU backend's tile layout (neurosweep/cpu_tiles.hpp): element k of lane l of a tile at
// [k * W + l], 16 float / 8 double lanes (the network keeps the base width for every population:
// one width pads the populations of an instance to whole tiles).
using cpu_tiles::Lane;
using cpu_tiles::tile_width;

template <class T>
struct PopBase {
  virtual ~PopBase() = default;
  // One step (index k) of every neuron with this step's network input; appends the local indices
  // of the neurons that fired to `spk`.
  virtual void step(int64_t k, const T* syn_ex, const T* syn_in, std::vector<uint32_t>& spk) = 0;
  virtual bool finite() const = 0;
  // Sets state variable k of neuron i (per-neuron initial values).
  virtual void set_state(int k, uint64_t i, double v) = 0;
};

// The neurons of one population in tiles of W lanes; every lane runs the model's step (the same
// NS_HD code as the single-neuron backends) inside one `omp simd` loop.
template <class Model, class T>
struct Pop final : PopBase<T> {
  static constexpr int W = tile_width<T>();
  static constexpr int NS = Model::kNumState, ND = Model::kNumDerived;
  uint64_t n = 0, ntiles = 0;
  uint64_t seed = 0, key0 = 0;  // per-neuron random key: key0 + neuron (StepContext::instance)
  std::vector<T> st;            // tile t at st[t * NS * W]
  T d[ND];
  // the derived constants replicated per lane ([k * W + l], the CPU backend's tile layout), so the
  // lane loop reads them as the backend's tiles do
  alignas(64) T dlanes[ND * W];

  Pop(const double* params, const SimConfig& c, uint64_t n_, uint64_t key0_) : n(n_), seed(c.seed), key0(key0_) {
    model_derive<Model, T>(Strided<const double>{params, 1}, d, c);  // one parameter set per population
    if constexpr (point::has_input_block<Model>::value) mode = point::model_input_mode<Model>(static_cast<const T*>(d));
    model_mode = mode;
    for (int q = 0; q < ND; ++q)
      for (int l = 0; l < W; ++l) dlanes[q * W + l] = d[q];
    ntiles = (n + W - 1) / W;
    // Poisson drive only (the model's mode is its input block's): the counts of each tile are
    // drawn before its step (point/poisson_lanes.hpp, the same numbers as the step's own draws),
    // with the CDF values computed once for the population and each neuron's instance key once.
    if constexpr (point::has_input_block<Model>::value) {
      if (mode != kInputNone && mode == point::input_mode(static_cast<const T*>(d), Model::kIn) &&
          !(mode == kInputAll && point::has_own_input_mode<Model, const T*>::value)) {
        pl = std::make_unique<point::PoissonLanes<W>>();
        pl->setup(seed, [&](int l) { return key0 + static_cast<uint64_t>(l); },
                  [&](int, int q) { return double(d[q]); }, Model::kIn);
        ikeys.resize(ntiles * W);
        for (uint64_t i = 0; i < ntiles * W; ++i) ikeys[i] = point::instance_key(seed, key0 + i);
        mode = kInputGiven;
      }
    }
    st.assign(ntiles * NS * W, T(0));
    for (uint64_t t = 0; t < ntiles; ++t)
      for (int l = 0; l < W; ++l) Model::template init<T>(d, Lane<T, W>{st.data() + t * NS * W, l});
  }
  // The random draws this population's step needs (point/inputs.hpp, model_input_mode; one
  // parameter set per population, so one mode): as the CPU backend's tiles, a step instantiated
  // with a constant mode leaves out the sequential part of the Poisson counts when the drive's
  // mean per step is below kPoissonFastMean (it would add zero), so the lanes vectorise; every
  // lane draws what the reference draws.
  int mode = kInputAll;
  int model_mode = kInputAll;  // the model's own mode (mode may become kInputGiven below)
  std::unique_ptr<point::PoissonLanes<W>> pl;  // kInputGiven: the tile's counts
  std::vector<uint64_t> ikeys;                 // kInputGiven: point::instance_key of each neuron
  void step(int64_t k, const T* syn_ex, const T* syn_in, std::vector<uint32_t>& spk) override {
    if constexpr (point::has_input_block<Model>::value) {
      if (mode == kInputNone) return step_mode(k, syn_ex, syn_in, spk, std::integral_constant<int, kInputNone>{});
      if (mode == kInputFast) return step_mode(k, syn_ex, syn_in, spk, std::integral_constant<int, kInputFast>{});
      if (mode == kInputGiven) return step_mode(k, syn_ex, syn_in, spk, std::integral_constant<int, kInputGiven>{});
    }
    step_mode(k, syn_ex, syn_in, spk, std::integral_constant<int, kInputAll>{});
  }
  template <class Mode>
  void step_mode(int64_t k, const T* syn_ex, const T* syn_in, std::vector<uint32_t>& spk, Mode) {
    T* dv = dlanes;
    const uint64_t sd = seed, k0 = key0;
    for (uint64_t t = 0; t < ntiles; ++t) {
      T* s = st.data() + t * NS * W;
      const uint64_t n0 = t * W;
      static constexpr double kNoCounts[2][W] = {};
      const double(*cnt)[W] = kNoCounts;
      if constexpr (Mode::value == kInputGiven) {
        pl->draw_keys(k, ikeys.data() + n0);
        cnt = pl->n;
      }
#pragma omp simd
      for (int l = 0; l < W; ++l) {
        StepContext ctx{sd, k0 + n0 + static_cast<uint64_t>(l), k, Mode::value, double(syn_ex[n0 + l]),
                        double(syn_in[n0 + l]), Mode::value == kInputGiven ? cnt[0][l] : 0.0,
                        Mode::value == kInputGiven ? cnt[1][l] : 0.0};
        model_step<Model, T>(Lane<T, W>{s, l}, Lane<T, W>{dv, l}, Direct{}, ctx);
      }
      int any = 0;
#pragma omp simd reduction(| : any)
      for (int l = 0; l < W; ++l) any |= Model::template spike_count<T>(Lane<T, W>{s, l}, 0);
      if (any) {
        const int nl = static_cast<int>(std::min<uint64_t>(W, n - n0));
        for (int l = 0; l < nl; ++l)
          if (Model::template spike_count<T>(Lane<T, W>{s, l}, 0)) spk.push_back(static_cast<uint32_t>(n0 + l));
      }
    }
  }
  void set_state(int k, uint64_t i, double v) override { st[(i / W) * NS * W + k * W + i % W] = T(v); }
  T state_at(int k, uint64_t i) const { return st[(i / W) * NS * W + k * W + i % W]; }
  bool finite() const override {
    for (uint64_t t = 0; t < ntiles; ++t)
      for (int l = 0; l < W && t * W + l < n; ++l)
        for (int k = 0; k < NS; ++k) {
          const T x = st[t * NS * W + k * W + l];
          if (!(x == x) || x - x != T(0)) return false;
        }
    return true;
  }
};

// A spike source (spike_source.hpp): emits its file's spikes in their steps; no state.
template <class T>
struct SourcePop final : PopBase<T> {
  const SpikeSource* src;
  uint64_t n;
  size_t cur = 0;
  SourcePop(const SpikeSource* s, uint64_t n_) : src(s), n(n_) {}
  void step(int64_t k, const T*, const T*, std::vector<uint32_t>& spk) override {
    const size_t e = src->step.size();
    while (cur < e && src->step[cur] < k) ++cur;
    for (; cur < e && src->step[cur] == k; ++cur)
      if (src->index[cur] < n) spk.push_back(src->index[cur]);
  }
  bool finite() const override { return true; }
  void set_state(int, uint64_t, double) override {}  // no state ("initial" is refused for sources)
};

template <class T>
std::unique_ptr<PopBase<T>> make_pop(const std::string& model, const double* params, const SimConfig& c, uint64_t n,
                                     uint64_t key0) {
  std::unique_ptr<PopBase<T>> p;
  dispatch_model(model, [&](auto* m) {
    using M = std::remove_pointer_t<decltype(m)>;
    if constexpr (M::kKind == ModelKind::kPointNeuron && reset_spikes<M>::value)
      p = std::make_unique<Pop<M, T>>(params, c, n, key0);
  });
  if (!p) throw BackendError("network: model '" + model + "' cannot be a network population (not a point neuron)");
  return p;
}

// ---- one instance ----------------------------------------------------------------------------
struct InstanceStats {
  uint64_t updates = 0, events = 0;
  size_t state_bytes = 0;  // neuron states, ring buffers, ISI accumulators of one instance
};

// A projection as both paths use it: connectivity (shared or this instance's), delay in steps,
// weight.
struct Proj {
  std::shared_ptr<const Csr> csr;
  int64_t d;
  double w_abs;
  bool inh;
  int src, tgt;                          // populations
  uint64_t tgt_off;                      // first neuron of the target (the CPU path's padded numbering)
  std::shared_ptr<const SynArrays> syn;  // per-synapse weights / delays (null: none)
};

// Everything about one instance before its time loop: populations (states initialised), their
// sizes and offsets, projections, ring length, fixed-point scale.
template <class T>
struct InstancePlan {
  size_t np = 0;
  std::vector<uint64_t> size, off, sample_off;  // off: padded to whole tiles (CPU numbering)
  std::vector<std::unique_ptr<PopBase<T>>> pops;
  std::vector<Proj> projs;                  // in projection order
  std::vector<std::vector<const Proj*>> from;  // by source population, in projection order
  int64_t dmax = 1;
  NetFixed fx;
  size_t own_bytes = 0;  // this instance's own connectivity (per-instance mode)
  uint64_t inst_key = 0;
};

template <class T>
InstancePlan<T> make_plan(const NetworkDesc& net, const RunSettings& rs, ConnCache& cache, const double* q,
                          uint64_t instance) {
  constexpr int W = tile_width<T>();
  const SimConfig& c = rs.sim;
  InstancePlan<T> P;
  const size_t np = P.np = net.pops.size();
  P.size.assign(np, 0);
  P.off.assign(np + 1, 0);
  P.sample_off.assign(np + 1, 0);
  P.pops.resize(np);
  P.inst_key = mix64(instance * 0x9e3779b97f4a7c15ULL + 0x6e6574ULL);  // "net"
  for (size_t p = 0; p < np; ++p) {
    const NetPopulation& NP = net.pops[p];
    P.size[p] = static_cast<uint64_t>(q[NP.size_param]);
    P.off[p + 1] = P.off[p] + (P.size[p] + W - 1) / W * W;
    P.sample_off[p + 1] = P.sample_off[p] + static_cast<uint64_t>(NP.sample);
  }
  for (size_t p = 0; p < np; ++p) {
    if (net.pops[p].source) {  // a spike source (spike_source.hpp): no model, no state
      P.pops[p] = std::make_unique<SourcePop<T>>(net.pops[p].source.get(), P.size[p]);
      continue;
    }
    P.pops[p] = make_pop<T>(net.pops[p].model, q + net.pops[p].param0, c, P.size[p], P.inst_key + P.off[p]);
    // Per-neuron initial values: keyed by (seed, instance or shared, population, variable, neuron).
    for (const auto& [sk, dist] : net.pops[p].initial) {
      uint64_t key = mix64(mix64(c.seed ^ kStreamInit) ^ (net.shared_connectivity ? 0 : mix64(instance + 1)));
      key = mix64(key ^ (static_cast<uint64_t>(p) << 32) ^ static_cast<uint64_t>(sk));
      for (uint64_t nrn = 0; nrn < P.size[p]; ++nrn) P.pops[p]->set_state(sk, nrn, dist.draw(q, key, nrn, kStreamInit));
    }
  }
  double wmax = 0;
  P.projs.reserve(net.projs.size());
  for (size_t j = 0; j < net.projs.size(); ++j) {
    const NetProjection& pr = net.projs[j];
    const double value = pr.rule_param >= 0 ? q[pr.rule_param] : 0.0;
    const uint64_t ns = P.size[static_cast<size_t>(pr.src)], nt = P.size[static_cast<size_t>(pr.tgt)];
    uint64_t key = mix64(mix64(c.seed ^ 0x6e6574776f726bULL) ^ static_cast<uint64_t>(j + 1));  // "network"
    std::shared_ptr<const Csr> csr;
    const bool shared = net.shared_connectivity || pr.edges;  // an edge file is shared read-only always
    if (shared) {
      csr = cache.get(static_cast<int>(j), pr, ns, nt, value, key);
    } else {
      key = mix64(key ^ mix64(instance + 1));
      csr = std::make_shared<const Csr>(draw_projection(pr.rule, pr.autapses, pr.multapses, pr.src == pr.tgt, ns, nt,
                                                        value, key));
      P.own_bytes += csr->bytes();
    }
    std::shared_ptr<const SynArrays> syn;
    if (pr.per_synapse()) {
      auto make = [&] { return make_syn_arrays(net, pr, *csr, q, c.dt, key); };
      if (shared) {
        // everything the arrays depend on: sizes, rule value, distribution parameters, scale
        std::vector<double> vals = {double(ns), double(nt), value};
        for (const NetDist* dd : {&pr.weight_dist, &pr.delay_dist})
          for (int k : {dd->mean, dd->std, dd->min, dd->max}) vals.push_back(k >= 0 ? q[k] : NAN);
        vals.push_back(pr.weight_scale_param >= 0 ? q[pr.weight_scale_param] : 1.0);
        syn = cache.get_syn(static_cast<int>(j), vals, make);
      } else {
        syn = std::make_shared<const SynArrays>(make());
        P.own_bytes += syn->bytes();
      }
      P.dmax = std::max(P.dmax, syn->dmax);
      wmax = std::max(wmax, syn->wmax);
    }
    double w = pr.weight_param >= 0 ? q[pr.weight_param] : 0.0;
    if (pr.weight_scale_param >= 0) w *= q[pr.weight_scale_param];
    const int64_t d = pr.delay_param >= 0 ? net.delay_steps(q[pr.delay_param], c.dt) : 1;
    P.dmax = std::max(P.dmax, d);
    if (!syn || syn->w.empty()) wmax = std::max(wmax, std::fabs(w));
    // NEST routes a spike by the sign of its weight (handle(SpikeEvent): w >= 0 excitatory).
    P.projs.push_back(Proj{csr, d, std::fabs(w), w < 0, pr.src, pr.tgt, P.off[static_cast<size_t>(pr.tgt)], syn});
  }
  P.from.assign(np, {});
  for (const auto& pj : P.projs) P.from[static_cast<size_t>(pj.src)].push_back(&pj);
  P.fx = NetFixed::for_max_weight(wmax);
  return P;
}

// Per-neuron analysis sums of one instance (both paths), indexed by neuron in `off` numbering.
struct NeuronSums {
  std::vector<double> s1, s2;
  std::vector<uint32_t> nspk;
};

// Rates, features and status of instance i from the counts and per-neuron sums (both paths: the
// same code, neuron order).
void finish_instance(const NetworkDesc& net, const RunSettings& rs, const double* q, const std::vector<uint64_t>& size,
                     const std::vector<uint64_t>& off, const std::vector<uint64_t>& bin_count,
                     const std::vector<uint64_t>& total, const NeuronSums& ns_, bool ok, size_t i, ChunkOutput& out) {
  const SimConfig& c = rs.sim;
  const size_t np = size.size();
  const uint64_t nbins = rs.rate_bins();
  out.status[i] = ok ? kOk : kNonFinite;
  const double t_an_s = double(c.n_analysis) * c.dt * 1e-3;
  const double bin_s = double(rs.rate_bin_steps) * c.dt * 1e-3;
  const int nf = out.n_series_features;
  for (size_t p = 0; p < np; ++p) {
    const double n = double(size[p]);
    for (uint64_t b = 0; b < nbins; ++b)
      out.rates[(i * np + p) * nbins + b] = n > 0 ? static_cast<float>(double(bin_count[p * nbins + b]) / n / bin_s) : 0.0f;
    double cv_sum = 0;
    uint64_t cv_n = 0;
    for (uint64_t s = 0; s < size[p]; ++s) {
      const uint64_t g = off[p] + s;
      if (ns_.nspk[g] < 3) continue;
      const double m = ns_.s1[g] / double(ns_.nspk[g] - 1);
      const double var = std::max(0.0, ns_.s2[g] / double(ns_.nspk[g] - 1) - m * m);
      cv_sum += std::sqrt(var) / m;
      ++cv_n;
    }
    double* f = out.series_features.data() + (i * np + p) * static_cast<size_t>(nf);
    f[0] = n > 0 && t_an_s > 0 ? double(total[p]) / n / t_an_s : 0.0;
    f[1] = cv_n ? cv_sum / double(cv_n) : std::numeric_limits<double>::quiet_NaN();
    f[spiking_feature_size_index()] = n;
    const int kt = net.pops[p].desc->param_index("t_ref");
    f[spiking_feature_tref_index()] = kt >= 0 ? q[net.pops[p].param0 + kt] : 0.0;
  }
}

// The chunk output of n network instances: sampled neurons as observation slots, rates, features.
void size_output(const NetworkDesc& net, const RunSettings& rs, size_t n, ChunkOutput& out) {
  const size_t np = net.pops.size();
  out.resize(n, net.total_sample(), rs.sim.max_spikes, 0, false);
  if (rs.rate_bins() > 0 || !rs.rate_series.empty()) out.resize_rates(static_cast<int>(np), rs.rate_bins());
  out.n_series = static_cast<int>(np);
  out.n_series_features = spiking_feature_tref_index() + 1;
  out.series_features.assign(n * np * static_cast<size_t>(out.n_series_features), 0.0);
}

void clear_observations(ChunkOutput& out, size_t i) {
  const int n_obs = out.n_obs;
  for (int o = 0; o < n_obs; ++o) {
    out.n_spikes[i * n_obs + o] = 0;
    out.v_min[i * n_obs + o] = out.v_max[i * n_obs + o] = out.v_mean[i * n_obs + o] =
        std::numeric_limits<float>::quiet_NaN();
  }
}

template <class T>
void run_instance_net(const NetworkDesc& net, const RunSettings& rs, ConnCache& cache, const double* q,
                      uint64_t instance, size_t i, ChunkOutput& out, InstanceStats& stats, size_t& conn_bytes,
                      NetworkRunner::AllSpikes* rec = nullptr) {
  constexpr int W = tile_width<T>();
  const SimConfig& c = rs.sim;
  InstancePlan<T> P = make_plan<T>(net, rs, cache, q, instance);
  const size_t np = P.np;
  const auto& size = P.size;
  const auto& off = P.off;
  conn_bytes = P.own_bytes;
  const uint64_t ntot = off[np];
  // Ring buffers (NEST's semantics): a spike emitted in step k (time stamp t_{k+1}) with a delay
  // of d steps is read by its target in step k + d, i.e. it acts at t_{k+1} + d*dt (NEST:
  // Event::get_rel_delivery_steps). Slot k mod L of every neuron holds step k's input, as exact
  // 64-bit fixed-point sums (NetFixed, net_block.hpp: the order of the additions does not
  // matter, so the GPU's block form gives the same numbers), converted to T once per step.
  const int64_t L = P.dmax + 1;
  std::vector<int64_t> ring_ex(static_cast<size_t>(L) * ntot, 0), ring_in(static_cast<size_t>(L) * ntot, 0);
  std::vector<T> in_ex(ntot), in_in(ntot);
  const double scale = P.fx.scale, inv_scale = P.fx.inv_scale;
  std::vector<int64_t> wfix(P.projs.size());  // each projection's |weight| in the ring's units
  for (size_t j = 0; j < P.projs.size(); ++j) wfix[j] = NetFixed::to_fixed(P.projs[j].w_abs, scale);
  // analysis: rate bins, per-neuron ISI statistics, sampled spikes
  const uint64_t nbins = rs.rate_bins();
  std::vector<uint64_t> bin_count(np * std::max<uint64_t>(nbins, 1), 0), total(np, 0);
  std::vector<double> last(ntot, -1.0);
  NeuronSums sums{std::vector<double>(ntot, 0.0), std::vector<double>(ntot, 0.0), std::vector<uint32_t>(ntot, 0)};
  stats.state_bytes = 2 * ring_ex.size() * sizeof(int64_t) + 2 * ntot * sizeof(T) +
                      ntot * (3 * sizeof(double) + sizeof(uint32_t));
  for (size_t p = 0; p < np; ++p)
    stats.state_bytes += static_cast<size_t>((size[p] + W - 1) / W * W) * sizeof(T) * net.pops[p].desc->state.size();
  const int n_obs = out.n_obs;
  clear_observations(out, i);
  std::vector<std::vector<uint32_t>> spk(np);
  if (rec) {
    rec->size = size;
    rec->node.assign(np, {});
    rec->t_ms.assign(np, {});
  }
  const int64_t n_steps = c.n_transient + c.n_analysis;
  for (int64_t k = 0; k < n_steps; ++k) {
    const size_t slot = static_cast<size_t>(k % L) * ntot;
    for (uint64_t g = 0; g < ntot; ++g) {
      in_ex[g] = NetFixed::to_input<T>(ring_ex[slot + g], inv_scale);
      in_in[g] = NetFixed::to_input<T>(ring_in[slot + g], inv_scale);
    }
    std::fill(ring_ex.begin() + slot, ring_ex.begin() + slot + ntot, 0);
    std::fill(ring_in.begin() + slot, ring_in.begin() + slot + ntot, 0);
    for (size_t p = 0; p < np; ++p) {
      spk[p].clear();
      P.pops[p]->step(k, in_ex.data() + off[p], in_in.data() + off[p], spk[p]);
    }
    const int64_t ka = k - c.n_transient;  // analysis step (spike time stamp (ka + 1) dt)
    for (size_t p = 0; p < np; ++p) {
      if (spk[p].empty()) continue;
      if (ka >= 0) {
        const double t_ms = double(ka + 1) * c.dt;
        total[p] += spk[p].size();
        if (nbins) {
          const uint64_t b = static_cast<uint64_t>(ka) / static_cast<uint64_t>(rs.rate_bin_steps);
          if (b < nbins) bin_count[p * nbins + b] += spk[p].size();
        }
        for (uint32_t s : spk[p]) {
          const uint64_t g = off[p] + s;
          if (last[g] >= 0) {
            const double isi = t_ms - last[g];
            sums.s1[g] += isi;
            sums.s2[g] += isi * isi;
          }
          last[g] = t_ms;
          ++sums.nspk[g];
          if (rec) {
            rec->node[p].push_back(s);
            rec->t_ms[p].push_back(t_ms);
          }
          if (s < static_cast<uint32_t>(net.pops[p].sample)) {
            const size_t slot_o = i * n_obs + P.sample_off[p] + s;
            const uint32_t cnt = out.n_spikes[slot_o];
            if (static_cast<int>(cnt) < out.max_spikes)
              out.spike_times[slot_o * out.max_spikes + cnt] = static_cast<float>(t_ms);
            out.n_spikes[slot_o] = cnt + 1;
          }
        }
      }
      for (const Proj* pj : P.from[p]) {
        const uint32_t* tg = pj->csr->tgt.data();
        const uint64_t* of = pj->csr->off.data();
        if (pj->syn) {  // per-synapse weights and/or delays; routed by each weight's sign (NEST)
          const float* pw = pj->syn->w.empty() ? nullptr : pj->syn->w.data();
          const uint16_t* pd = pj->syn->d.empty() ? nullptr : pj->syn->d.data();
          const int64_t wf0 = wfix[static_cast<size_t>(pj - P.projs.data())];
          for (uint32_t s : spk[p]) {
            for (uint64_t e = of[s]; e < of[s + 1]; ++e) {
              int64_t wf = wf0;
              bool inh = pj->inh;
              if (pw) {
                const double w = double(pw[e]);
                inh = w < 0;
                wf = NetFixed::to_fixed(inh ? -w : w, scale);
              }
              const int64_t dd = pd ? int64_t(pd[e]) : pj->d;
              const size_t at = static_cast<size_t>((k + dd) % L) * ntot + pj->tgt_off + tg[e];
              (inh ? ring_in : ring_ex)[at] += wf;
            }
            stats.events += of[s + 1] - of[s];
          }
          continue;
        }
        const int64_t wf = wfix[static_cast<size_t>(pj - P.projs.data())];
        int64_t* row = (pj->inh ? ring_in.data() : ring_ex.data()) + static_cast<size_t>((k + pj->d) % L) * ntot + pj->tgt_off;
        for (uint32_t s : spk[p]) {
          for (uint64_t e = of[s]; e < of[s + 1]; ++e) row[tg[e]] += wf;
          stats.events += of[s + 1] - of[s];
        }
      }
    }
  }
  uint64_t nsum = 0;
  for (size_t p = 0; p < np; ++p) nsum += size[p];
  stats.updates += nsum * static_cast<uint64_t>(n_steps);
  bool ok = true;
  for (size_t p = 0; p < np; ++p) ok = ok && P.pops[p]->finite();
  finish_instance(net, rs, q, size, off, bin_count, total, sums, ok, i, out);
  if (rec) rec->status = out.status[i];
}

// ---- the block form (net_block.hpp) ---------------------------------------------------------
// The instance as the block sees it: one model type, neurons numbered without padding. `P` keeps
// the connectivity alive while the block runs.
template <class Model, class T>
NetBlockInstance<T> block_instance(const NetworkDesc& net, const InstancePlan<T>& P, size_t n_obs,
                                   std::vector<uint64_t>& boff) {
  const size_t np = P.np;
  NetBlockInstance<T> x;
  boff.assign(np + 1, 0);
  for (size_t p = 0; p < np; ++p) boff[p + 1] = boff[p] + P.size[p];
  const uint64_t ntot = x.ntot = boff[np];
  constexpr int NS = Model::kNumState, ND = Model::kNumDerived;
  x.state.assign(static_cast<size_t>(NS) * ntot, T(0));
  x.derived.assign(np * ND, T(0));
  x.pops.resize(np);
  for (size_t p = 0; p < np; ++p) {
    auto* pop = dynamic_cast<const Pop<Model, T>*>(P.pops[p].get());
    if (!pop) throw BackendError("network block form: population '" + net.pops[p].name + "' is not a " + net.pops[0].model);
    std::copy(pop->d, pop->d + ND, x.derived.begin() + static_cast<std::ptrdiff_t>(p * ND));
    for (uint64_t s = 0; s < P.size[p]; ++s)
      for (int k = 0; k < NS; ++k) x.state[static_cast<size_t>(k) * ntot + boff[p] + s] = pop->state_at(k, s);
    NetBlockPop<T>& bp = x.pops[p];
    bp.off = boff[p];
    bp.n = P.size[p];
    bp.key0 = pop->key0;
    bp.mode = pop->model_mode;
    bp.sample = net.pops[p].sample;
    bp.sample_off = P.sample_off[p];
    bp.d = x.derived.data() + p * ND;
  }
  for (const auto& pj : P.projs) {
    NetBlockProj b;
    b.src = pj.src;
    b.tgt_off = boff[static_cast<size_t>(pj.tgt)];
    b.off = pj.csr->off.data();
    b.tgt = pj.csr->tgt.data();
    b.w = pj.syn && !pj.syn->w.empty() ? pj.syn->w.data() : nullptr;
    b.d = pj.syn && !pj.syn->d.empty() ? pj.syn->d.data() : nullptr;
    b.w_fixed = NetFixed::to_fixed(pj.w_abs, P.fx.scale);
    b.inh = pj.inh;
    b.delay = pj.d;
    x.proj.push_back(b);
  }
  x.L = P.dmax + 1;
  x.fx = P.fx;
  x.n_obs = n_obs;
  return x;
}

NetBlockRun block_run_settings(const RunSettings& rs, int max_spikes) {
  NetBlockRun r;
  r.seed = rs.sim.seed;
  r.n_transient = rs.sim.n_transient;
  r.n_analysis = rs.sim.n_analysis;
  r.dt = rs.sim.dt;
  r.rate_bin_steps = rs.rate_bin_steps;
  r.nbins = rs.rate_bins();
  r.max_spikes = max_spikes;
  return r;
}

// Instance i's outputs from its block results, as the CPU path writes them.
template <class T>
void finish_block(const NetworkDesc& net, const RunSettings& rs, const double* q, const std::vector<uint64_t>& size,
                  const std::vector<uint64_t>& boff, NetBlockInstance<T>& x, size_t i, ChunkOutput& out) {
  const size_t n_obs = x.n_obs;
  clear_observations(out, i);
  for (size_t o = 0; o < n_obs; ++o) {
    out.n_spikes[i * n_obs + o] = x.n_spikes[o];
    const uint32_t kept = std::min<uint32_t>(x.n_spikes[o], static_cast<uint32_t>(out.max_spikes));
    for (uint32_t s = 0; s < kept; ++s)
      out.spike_times[(i * n_obs + o) * out.max_spikes + s] = x.spike_times[o * out.max_spikes + s];
  }
  NeuronSums sums{std::move(x.s1), std::move(x.s2), std::move(x.nspk)};
  finish_instance(net, rs, q, size, boff, x.bin_count, x.total, sums, x.nonfinite == 0, i, out);
}

template <class Model, class T>
void run_instance_block(const NetworkDesc& net, const RunSettings& rs, ConnCache& cache, const double* q,
                        uint64_t instance, size_t i, ChunkOutput& out, int B) {
  const InstancePlan<T> P = make_plan<T>(net, rs, cache, q, instance);
  std::vector<uint64_t> boff;
  NetBlockInstance<T> x = block_instance<Model, T>(net, P, static_cast<size_t>(out.n_obs), boff);
  run_net_block_serial<Model, T>(x, block_run_settings(rs, out.max_spikes), B);
  finish_block(net, rs, q, P.size, boff, x, i, out);
}

#if defined(NEUROSWEEP_HAVE_CUDA)
// A chunk on the GPU (kernels/network_kernels.cu): plans and block instances built here (the
// plans keep the connectivity alive), the blocks run on the device, outputs as the CPU path's.
template <class Model, class T>
bool run_chunk_cuda(const NetworkDesc& net, const RunSettings& rs, ConnCache& cache, const ChunkInput& in,
                    ChunkOutput& out, std::string* why) {
  const size_t nparam = net.model.params.size();
  std::vector<std::vector<double>> q(in.n, std::vector<double>(nparam));
  std::vector<InstancePlan<T>> plans;
  std::vector<NetBlockInstance<T>> xs;
  std::vector<std::vector<uint64_t>> boff(in.n);
  plans.reserve(in.n);
  xs.reserve(in.n);
  std::vector<double> p(nparam);
  for (size_t i = 0; i < in.n; ++i) {
    for (size_t k = 0; k < nparam; ++k) p[k] = in.params[k * in.n + i];
    net.realise(p.data(), q[i].data());
    plans.push_back(make_plan<T>(net, rs, cache, q[i].data(), in.first_index + i));
    xs.push_back(block_instance<Model, T>(net, plans.back(), static_cast<size_t>(out.n_obs), boff[i]));
  }
  std::vector<NetBlockInstance<T>*> ptrs;
  for (auto& x : xs) ptrs.push_back(&x);
  if (!cuda_run_net_blocks(net.pops[0].model, ptrs, block_run_settings(rs, out.max_spikes), why)) return false;
  for (size_t i = 0; i < in.n; ++i) finish_block(net, rs, q[i].data(), plans[i].size, boff[i], xs[i], i, out);
  return true;
}
#endif

}  // namespace

NetworkRunner::NetworkRunner(std::shared_ptr<const NetworkDesc> net, const RunSettings& rs)
    : net_(std::move(net)), rs_(rs) {}

void NetworkRunner::run(const ChunkInput& in, ChunkOutput& out) {
  const NetworkDesc& net = *net_;
  const size_t np = net.pops.size();
  size_output(net, rs_, in.n, out);
  if (in.n == 0) return;
  const size_t nparam = net.model.params.size();
  const int threads = rs_.threads > 0 ? rs_.threads : omp_get_num_procs();
  std::atomic<uint64_t> updates{0}, events{0};
  std::atomic<size_t> inst_bytes{0}, state_bytes{0};
  std::string error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t i = 0; i < in.n; ++i) {
    try {
      std::vector<double> p(nparam), q(nparam);
      for (size_t k = 0; k < nparam; ++k) p[k] = in.params[k * in.n + i];
      net.realise(p.data(), q.data());
      InstanceStats st;
      size_t cb = 0;
      if (rs_.precision == Precision::Double)
        run_instance_net<double>(net, rs_, cache_, q.data(), in.first_index + i, i, out, st, cb);
      else
        run_instance_net<float>(net, rs_, cache_, q.data(), in.first_index + i, i, out, st, cb);
      updates += st.updates;
      events += st.events;
      inst_bytes = cb;
      state_bytes = st.state_bytes;
    } catch (const std::exception& e) {
#pragma omp critical(ns_network_error)
      if (error.empty()) error = "network instance " + std::to_string(in.first_index + i) + ": " + e.what();
    }
  }
  if (!error.empty()) throw BackendError(error);
  neuron_updates_ = updates;
  syn_events_ = events;
  last_instance_bytes_ = inst_bytes;
  last_state_bytes_ = state_bytes;
}

std::string NetworkRunner::block_unsupported() const {
  const NetworkDesc& net = *net_;
  for (const auto& p : net.pops) {
    if (p.source) return "population '" + p.name + "' is a spike source";
    if (p.model != net.pops[0].model)
      return "populations '" + net.pops[0].name + "' (" + net.pops[0].model + ") and '" + p.name + "' (" + p.model +
             ") have different models";
  }
  if (net.pops.empty()) return "no populations";
  bool kernel = false;
  dispatch_model(net.pops[0].model, [&](auto* m) { kernel = net_block_model<std::remove_pointer_t<decltype(m)>>::value; });
  if (!kernel)
    return "model '" + net.pops[0].model + "' has no network block kernel (iaf_psc_delta, iaf_psc_exp, iaf_psc_alpha, izhikevich have)";
  return "";
}

void NetworkRunner::run_blocks_host(const ChunkInput& in, ChunkOutput& out, int block_threads) {
  const std::string why = block_unsupported();
  if (!why.empty()) throw BackendError("network block form: " + why);
  const NetworkDesc& net = *net_;
  const size_t np = net.pops.size();
  size_output(net, rs_, in.n, out);
  const size_t nparam = net.model.params.size();
  std::vector<double> p(nparam), q(nparam);
  for (size_t i = 0; i < in.n; ++i) {
    for (size_t k = 0; k < nparam; ++k) p[k] = in.params[k * in.n + i];
    net.realise(p.data(), q.data());
    const bool ok = dispatch_model(net.pops[0].model, [&](auto* m) {
      using M = std::remove_pointer_t<decltype(m)>;
      if constexpr (net_block_model<M>::value) {
        if (rs_.precision == Precision::Double)
          run_instance_block<M, double>(net, rs_, cache_, q.data(), in.first_index + i, i, out, block_threads);
        else
          run_instance_block<M, float>(net, rs_, cache_, q.data(), in.first_index + i, i, out, block_threads);
      }
    });
    if (!ok) throw BackendError("network block form: unknown model '" + net.pops[0].model + "'");
  }
}

bool NetworkRunner::run_blocks_cuda(const ChunkInput& in, ChunkOutput& out, std::string* why) {
  const std::string unsupported = block_unsupported();
  if (!unsupported.empty()) {
    if (why) *why = unsupported;
    return false;
  }
#if defined(NEUROSWEEP_HAVE_CUDA)
  const NetworkDesc& net = *net_;
  size_output(net, rs_, in.n, out);
  if (in.n == 0) return true;
  bool ok = false;
  dispatch_model(net.pops[0].model, [&](auto* m) {
    using M = std::remove_pointer_t<decltype(m)>;
    if constexpr (net_block_model<M>::value) {
      ok = rs_.precision == Precision::Double ? run_chunk_cuda<M, double>(net, rs_, cache_, in, out, why)
                                              : run_chunk_cuda<M, float>(net, rs_, cache_, in, out, why);
    }
  });
  return ok;
#else
  (void)in;
  (void)out;
  if (why) *why = "built without the CUDA backend";
  return false;
#endif
}

NetworkRunner::AllSpikes NetworkRunner::record_all(const double* params, uint64_t instance) {
  // The same instance as in run(): same realised parameters, same keys (instance index), same
  // connectivity (the cache or the instance's own draw), so the spikes are the build's.
  const NetworkDesc& net = *net_;
  const size_t np = net.pops.size();
  ChunkOutput out;
  size_output(net, rs_, 1, out);
  const size_t nparam = net.model.params.size();
  std::vector<double> q(nparam);
  net.realise(params, q.data());
  AllSpikes rec;
  InstanceStats st;
  size_t cb = 0;
  if (rs_.precision == Precision::Double)
    run_instance_net<double>(net, rs_, cache_, q.data(), instance, 0, out, st, cb, &rec);
  else
    run_instance_net<float>(net, rs_, cache_, q.data(), instance, 0, out, st, cb, &rec);
  return rec;
}

}  // namespace ns
