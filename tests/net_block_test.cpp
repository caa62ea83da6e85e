// The block form of a network instance (include/neurosweep/network/net_block.hpp: one network per
// CUDA thread block), run on the host with the block's threads one after the other, against the
// CPU path (host/network/run_network.cpp): BIT FOR BIT, for several block sizes (one thread, a
// number that divides no population, a warp, a full block), for a Brunel network with Poisson
// drives and for one with per-synapse weights of both signs and delays from distributions,
// per-neuron initial values, per-instance connectivity and a DC drive. Both paths add the
// network input as 64-bit fixed-point sums (NetFixed), so the order in which the GPU's threads
// deliver spikes cannot change a bit; what this test guards is everything else (the step, the
// ring slots, the keys of the random drive, the sampled spikes, rates and features).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brunel_spec.hpp"
#include "test_util.hpp"

#include "network/run_network.hpp"
#include "neurosweep/network/net_block.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
using namespace ns;

namespace {

// Reduced Brunel (2000) model A (as tests/network_run_test.cpp), swept over g and eta.
json brunel() {
  json j = {{"model", "network"}, {"dt", "0.1 ms"}, {"transient", "20 ms"}, {"analysis", "150 ms"}, {"seed", 7},
            {"output", {{"spikes", 40}, {"rate_bin", "5 ms"}}}};
  j["network"] = nstest::brunel_network(200, 0.5, 5, 2, 7, 3);
  j["axes"] = json::array({json{{"kind", "grid"}, {"param", "g"}, {"values", {3, 6}}},
                           json{{"kind", "grid"}, {"param", "eta"}, {"values", {1, 2}}}});
  return j;
}

// Current-based exponential synapses with per-synapse distributions (weights of both signs,
// delays over several steps), per-neuron initial V_m, per-instance connectivity, Poisson and DC.
json mixed() {
  return json::parse(R"({
    "model": "network", "dt": "0.1 ms", "transient": "10 ms", "analysis": "120 ms", "seed": 3,
    "network": {
      "connectivity": "per_instance",
      "parameters": {"w": 60},
      "populations": [
        {"name": "A", "model": "iaf_psc_exp", "size": 90, "sample": 4,
         "initial": {"V_m": {"distribution": "uniform", "min": -70, "max": -55}}},
        {"name": "B", "model": "iaf_psc_exp", "size": 37, "sample": 2}
      ],
      "projections": [
        {"source": "A", "target": "B", "rule": "pairwise_bernoulli", "p": 0.2,
         "weight": {"distribution": "normal", "mean": "w", "std": "w", "min": "-2*w"},
         "delay": {"distribution": "uniform", "min": 0.5, "max": 3.0}},
        {"source": "B", "target": "A", "rule": "fixed_total_number", "N": 600, "weight": "-1.5*w", "delay": 1.0},
        {"source": "A", "target": "A", "rule": "fixed_outdegree", "outdegree": 9, "weight": "w", "delay": 0.7}
      ],
      "drives": [
        {"target": "A", "type": "poisson", "rate": 9000, "weight": 40},
        {"target": "B", "type": "dc", "amplitude": 390}
      ]
    },
    "axes": [{"kind": "grid", "param": "w", "values": [30, 80]}],
    "output": {"spikes": 40}
  })");
}

using nstest::expect_bits_equal;

void compare(const json& spec, Precision prec) {
  json j = spec;
  j["precision"] = prec == Precision::Double ? "double" : "float";
  const RunSpec r = parse_spec(j, "net.json");
  const RunSettings rs = run_settings(r, 40, 1);
  const size_t n = r.sweep.size();
  std::vector<double> p(r.model->params.size() * n);
  r.sweep.fill(0, n, p.data());
  ChunkInput in;
  in.n = n;
  in.params = p.data();
  in.first_index = 5;
  NetworkRunner cpu(r.network, rs);
  ASSERT_EQ(cpu.block_unsupported(), "");
  ChunkOutput ref;
  cpu.run(in, ref);
  uint64_t spikes = 0;
  for (uint32_t c : ref.n_spikes) spikes += c;
  EXPECT_GT(spikes, 20u * n) << "the comparison covers spiking networks, not silence";
  for (int B : {1, 3, 32, 256}) {
    SCOPED_TRACE("block of " + std::to_string(B) + " threads, " + to_string(prec));
    NetworkRunner blk(r.network, rs);
    ChunkOutput out;
    blk.run_blocks_host(in, out, B);
    expect_bits_equal(out.n_spikes, ref.n_spikes, "n_spikes");
    expect_bits_equal(out.spike_times, ref.spike_times, "spike_times");
    expect_bits_equal(out.rates, ref.rates, "rates");
    expect_bits_equal(out.series_features, ref.series_features, "series_features");
    expect_bits_equal(out.status, ref.status, "status");
  }
}

}  // namespace

TEST(NetBlock, BrunelEqualsCpuPathBitForBit) {
  compare(brunel(), Precision::Float);
  compare(brunel(), Precision::Double);
}

TEST(NetBlock, DistributionsInitialValuesAndDcEqualCpuPathBitForBit) {
  compare(mixed(), Precision::Float);
  compare(mixed(), Precision::Double);
}

TEST(NetBlock, UnsupportedNetworksSayWhy) {
  json j = mixed();
  j["network"]["populations"][1]["model"] = "iaf_psc_alpha";
  const RunSpec r = parse_spec(j, "net.json");
  NetworkRunner run(r.network, run_settings(r, 40, 1));
  EXPECT_EQ(run.block_unsupported(), "populations 'A' (iaf_psc_exp) and 'B' (iaf_psc_alpha) have different models");
  ChunkInput in;
  ChunkOutput out;
  try {
    run.run_blocks_host(in, out, 32);
    ADD_FAILURE() << "accepted a network of two models";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("different models"), std::string::npos) << e.what();
  }
}

// The fixed-point scale: the largest weight keeps 40 bits; sums are exact.
TEST(NetBlock, FixedPointScaleKeepsFortyBitsOfTheLargestWeight) {
  for (double w : {0.1, 87.8, 1e-6, 3e4}) {
    const NetFixed f = NetFixed::for_max_weight(w);
    const int64_t x = NetFixed::to_fixed(w, f.scale);
    EXPECT_GE(x, int64_t(1) << 39) << w;
    EXPECT_LT(x, int64_t(1) << 40) << w;
    EXPECT_NEAR(NetFixed::to_input<double>(x, f.inv_scale), w, w * 1e-12) << w;
    EXPECT_EQ(f.scale * f.inv_scale, 1.0);
  }
  const NetFixed none = NetFixed::for_max_weight(0.0);
  EXPECT_EQ(none.scale, 1.0);
}
