#pragma once
// CPU execution of spiking-network instances (docs/NETWORKS.md): one network per thread (OpenMP
// over the instances of a chunk), the neurons of a population integrated in SIMD tiles by the
// model's own step (the code the single-neuron backends run), spikes delivered through per-neuron
// ring buffers with NEST's delay semantics, connectivity from a counter-based generator shared
// read-only between instances whose connectivity parameters are equal.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "neurosweep/backend.hpp"
#include "network/network.hpp"

namespace ns {

// Outgoing connections of one projection, by source neuron (compressed sparse rows): the targets
// of source s (population-local indices) are tgt[off[s] .. off[s+1]).
struct Csr {
  std::vector<uint64_t> off;
  std::vector<uint32_t> tgt;
  size_t bytes() const { return off.size() * sizeof(uint64_t) + tgt.size() * sizeof(uint32_t); }
};

// Draws one projection (NEST's rules and defaults: conngen docs of NEST 3.10, "Connection
// rules"). key: the projection's stream (seed, projection and, for per-instance connectivity,
// the instance); each target (fixed_indegree), source (fixed_outdegree, pairwise_bernoulli) or
// block of 4096 connections (fixed_total_number) draws from its own counter-based stream, so the
// result depends on nothing but (key, rule, sizes, rule value).
Csr draw_projection(ConnRule rule, bool autapses, bool multapses, bool same_population, uint64_t n_src,
                    uint64_t n_tgt, double value, uint64_t key);

// Per-synapse weights and delays (in the Csr's order) of a projection that draws them from
// distributions or reads them from an edge file; empty vectors: the projection's single value.
struct SynArrays {
  std::vector<float> w;     // signed weight (the target model's unit)
  std::vector<uint16_t> d;  // delay in steps (NEST's rounding), >= 1
  int64_t dmax = 0;         // largest delay in d (0 when d is empty)
  double wmax = 0;          // largest |w| (0 when w is empty): the fixed-point scale (net_block.hpp)
  size_t bytes() const { return w.size() * sizeof(float) + d.size() * sizeof(uint16_t); }
};
// Draws / converts the per-synapse arrays of projection pr (csr: its connectivity, q: the
// realised parameters, key: the projection's stream, as for the connectivity). Value e comes from
// its own counter-based stream (key, e), so it depends on nothing but (seed, projection, synapse).
SynArrays make_syn_arrays(const NetworkDesc& net, const NetProjection& pr, const Csr& csr, const double* q,
                          double dt_ms, uint64_t key);
// The Csr of an explicit projection for a source population of n_src neurons.
Csr explicit_csr(const ExplicitEdges& e, uint64_t n_src);

// Connectivity shared between instances: one Csr per distinct (projection, sizes, rule value).
class ConnCache {
 public:
  std::shared_ptr<const Csr> get(int proj, const NetProjection& pr, uint64_t n_src, uint64_t n_tgt, double value,
                                 uint64_t key);
  // Per-synapse arrays of projection `proj` keyed by everything they depend on (`values`).
  std::shared_ptr<const SynArrays> get_syn(int proj, const std::vector<double>& values,
                                           const std::function<SynArrays()>& make);
  size_t distinct() const;
  size_t bytes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<int, uint64_t, uint64_t, double>, std::shared_ptr<const Csr>> map_;
  std::map<std::pair<int, std::vector<double>>, std::shared_ptr<const SynArrays>> syn_;
  size_t bytes_ = 0;
};

// Per-population features of a network instance (ChunkOutput::series_features, in this order).
inline const std::vector<std::pair<std::string, std::string>>& spiking_feature_columns() {
  static const std::vector<std::pair<std::string, std::string>> c = {
      {"rate_hz", "Hz"},  // mean firing rate of the population's neurons over the analysis window
      {"cv_isi", "1"},    // mean over neurons with >= 3 spikes of std(ISI)/mean(ISI) (ddof 0)
  };
  return c;
}
// After the columns above, each population's realised size (neurons) and refractory period t_ref
// (ms; 0 for models without one), for the classifier.
inline int spiking_feature_size_index() { return static_cast<int>(spiking_feature_columns().size()); }
inline int spiking_feature_tref_index() { return spiking_feature_size_index() + 1; }

class NetworkRunner {
 public:
  NetworkRunner(std::shared_ptr<const NetworkDesc> net, const RunSettings& rs);
  // The chunk's instances: in.params column-major over the view's parameters. Fills out (spikes
  // of the sampled neurons as obs slots, rates, series_features, status).
  void run(const ChunkInput& in, ChunkOutput& out);
  // Every spike of every neuron of one instance (params: the view's parameters of that instance,
  // unrealised) in the analysis window, for output.sonata_spikes: per population, the neurons
  // (0-based within the population) and times (ms from the start of the analysis window, the
  // stamps the sampled spikes get), in the order emitted (by time, then neuron).
  struct AllSpikes {
    std::vector<uint64_t> size;                 // per population
    std::vector<std::vector<uint64_t>> node;    // per population
    std::vector<std::vector<double>> t_ms;      // per population
    int status = 0;                             // kOk or kNonFinite
  };
  AllSpikes record_all(const double* params, uint64_t instance);
  // The GPU form (neurosweep/network/net_block.hpp: one network per thread block). "" when this
  // network can run in it (every population of one point-neuron model; no spike sources), else
  // why not.
  std::string block_unsupported() const;
  // Runs the chunk in the block form on the host, blocks of `block_threads` threads emulated one
  // thread after the other: the same results as run(), bit for bit (tests/net_block_test.cpp).
  void run_blocks_host(const ChunkInput& in, ChunkOutput& out, int block_threads);
  // The same on the GPU (kernels/network_kernels.cu): false, with the reason in *why, when the
  // network has no block form or there is no device (the caller then runs it on the CPU).
  bool run_blocks_cuda(const ChunkInput& in, ChunkOutput& out, std::string* why);
  // Memory of the distinct connectivities drawn so far (shared mode) and how many.
  size_t connectivity_bytes() const { return cache_.bytes(); }
  size_t distinct_connectivities() const { return cache_.distinct(); }
  // Per-instance mode: bytes of the last instance's connectivity (not shared).
  size_t last_instance_bytes() const { return last_instance_bytes_; }
  // Bytes of one running instance besides connectivity: neuron states, ring buffers, ISI sums.
  size_t last_state_bytes() const { return last_state_bytes_; }
  // Counters of the last run() (for benchmarks): neuron updates and synaptic events delivered.
  uint64_t neuron_updates() const { return neuron_updates_; }
  uint64_t synaptic_events() const { return syn_events_; }

 private:
  std::shared_ptr<const NetworkDesc> net_;
  RunSettings rs_;
  ConnCache cache_;
  size_t last_instance_bytes_ = 0, last_state_bytes_ = 0;
  uint64_t neuron_updates_ = 0, syn_events_ = 0;
};

}  // namespace ns
