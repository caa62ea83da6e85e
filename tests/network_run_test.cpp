// Spiking networks as sweep instances (issue 16; docs/NETWORKS.md; host/network/): the spec's
// "network" object and its errors, NEST's connection rules, the ring-buffer delay rule, the
// sharing of connectivity, and reproducibility of a network sweep across threads, chunk sizes,
// shards and a resume.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brunel_spec.hpp"

#include "errors.hpp"
#include "network/network.hpp"
#include "network/run_network.hpp"
#include "run/evaluate.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"
#include "store/database.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace ns;

namespace {

// A reduced Brunel (2000) model A network: N_E = 4 N_I, C_E = 0.1 N_E, C_I = C_E / 4, J and -g J,
// delay D, external Poisson drive at eta * nu_thr with nu_thr = theta / (J C_E tau_m).
json brunel(int ne = 400, double g = 5.0, double eta = 2.0) {
  json j = {{"model", "network"}, {"dt", "0.1 ms"}, {"transient", "50 ms"}, {"analysis", "200 ms"}, {"seed", 11},
            {"output", {{"spikes", 50}}}};
  j["network"] = nstest::brunel_network(ne, 0.5, g, eta, 5, 3);
  return j;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void expect_spec_error(const json& j, const std::string& needle) {
  try {
    parse_spec(j, "net.json");
    ADD_FAILURE() << "accepted; expected an error containing: " << needle;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what() << "\n  expected: " << needle;
  }
}

// Every dataset of the groups instances, rates and spikes as raw bytes (file types), by path.
std::map<std::string, std::vector<uint8_t>> dump(const std::string& file) {
  std::map<std::string, std::vector<uint8_t>> out;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  for (const char* g : {"instances", "rates", "spikes"}) {
    hid_t gr = H5Gopen2(f, g, H5P_DEFAULT);
    if (gr < 0) continue;
    H5G_info_t info;
    H5Gget_info(gr, &info);
    for (hsize_t k = 0; k < info.nlinks; ++k) {
      char name[256];
      H5Lget_name_by_idx(gr, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
      hid_t d = H5Oopen(gr, name, H5P_DEFAULT);
      if (H5Iget_type(d) != H5I_DATASET) {
        H5Oclose(d);
        continue;
      }
      hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
      const size_t bytes = static_cast<size_t>(H5Sget_simple_extent_npoints(sp)) * H5Tget_size(t);
      std::vector<uint8_t> b(bytes);
      if (bytes) H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
      out[std::string(g) + "/" + name] = std::move(b);
      H5Sclose(sp);
      H5Tclose(t);
      H5Oclose(d);
    }
    H5Gclose(gr);
  }
  H5Fclose(f);
  return out;
}

class Network : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ns_net_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const json& j) {
    const fs::path p = dir / name;
    std::ofstream(p) << j.dump(2);
    return p.string();
  }
  void build(const std::string& spec, const std::string& out, int threads, uint64_t chunk, int shard_k = 0,
             int shard_n = 1, uint64_t stop_after = 0, bool resume = false) {
    RunOptions o;
    o.spec_path = spec;
    o.out = out;
    o.backend = "cpu";
    o.threads = threads;
    o.chunk = chunk;
    o.quiet = true;
    o.force = !resume;
    o.resume = resume;
    o.shard_k = shard_k;
    o.shard_n = shard_n;
    o.stop_after_chunks = stop_after;
    ASSERT_EQ(run_build(o), 0);
  }
};

// ---- the spec ------------------------------------------------------------------------------------

TEST(NetworkSpec, ViewNamesEveryParameterAndReferencesFollowTheirTargets) {
  json j = brunel();
  j["axes"] = json::array({json{{"kind", "grid"}, {"param", "g"}, {"values", {3.0, 6.0}}}});
  const RunSpec r = parse_spec(j, "net.json");
  ASSERT_TRUE(r.network);
  const ModelDesc& m = *r.model;
  EXPECT_EQ(m.kind, ModelKind::kNetwork);
  for (const char* n : {"g", "J", "E.size", "I.size", "E.tau_m", "I.V_th", "E->E.weight", "I->E.weight", "E->I.delay",
                        "E->E.indegree", "drive.E.rate", "drive.I.weight"})
    EXPECT_GE(m.param_index(n), 0) << n;
  EXPECT_LT(m.param_index("E.rate_ex"), 0) << "the model's input block is set by drives only";
  EXPECT_EQ(r.rate_series, (std::vector<std::string>{"E", "I"}));
  // Instance 1 (g = 6): the reference -g*J follows g; J-referencing weights do not move.
  std::vector<double> p = r.sweep.params_of(1), q(p.size());
  r.network->realise(p.data(), q.data());
  EXPECT_DOUBLE_EQ(q[m.param_index("I->E.weight")], -6.0 * 0.5);
  EXPECT_DOUBLE_EQ(q[m.param_index("E->E.weight")], 0.5);
  EXPECT_DOUBLE_EQ(q[m.param_index("I.size")], 100.0);
  EXPECT_DOUBLE_EQ(q[m.param_index("E->E.indegree")], 40.0);
  // nu_thr = theta / (J C_E tau) = 20 / (0.5 * 40 * 20 ms) = 0.05 /ms; rate = eta nu_thr C_E = 4000 Hz
  EXPECT_NEAR(q[m.param_index("drive.E.rate")], 2.0 * 0.05 * 1000 * 40, 1e-9);
  EXPECT_NEAR(q[r.network->pops[0].rate_ex_param], 4000.0, 1e-9) << "the drive sets the model's Poisson input";
  // A swept reference target wins over its expression.
  json k = brunel();
  k["axes"] = json::array({json{{"kind", "grid"}, {"param", "I->E.weight"}, {"values", {-1.0, -2.0}}}});
  const RunSpec r2 = parse_spec(k, "net.json");
  p = r2.sweep.params_of(1);
  r2.network->realise(p.data(), q.data());
  EXPECT_DOUBLE_EQ(q[m.param_index("I->E.weight")], -2.0);
}

TEST(NetworkSpec, ErrorsNameTheKeyAndTheValue) {
  auto with = [](auto f) {
    json j = brunel();
    f(j);
    return j;
  };
  expect_spec_error(with([](json& j) { j["network"]["populations"][0]["model"] = "iaf_psc_dlta"; }),
                    "network.populations[0].model: got \"iaf_psc_dlta\"");
  expect_spec_error(with([](json& j) { j["network"]["populations"][0]["model"] = "stg"; }), "a point-neuron model");
  expect_spec_error(with([](json& j) { j["network"]["populations"][0]["size"] = 0; }), "E.size");
  expect_spec_error(with([](json& j) { j["network"]["projections"][0]["source"] = "X"; }),
                    "network.projections[0].source: got \"X\"; expected a population");
  expect_spec_error(with([](json& j) { j["network"]["projections"][0]["rule"] = "fixed_in_degree"; }),
                    "network.projections[0].rule: got \"fixed_in_degree\"");
  expect_spec_error(with([](json& j) { j["network"]["projections"][0]["delay"] = 0.05; }), "E->E.delay");
  expect_spec_error(with([](json& j) { j["network"]["projections"][2]["weight"] = "-g*K"; }),
                    "network.projections[2].weight: bad reference: in \"-g*K\" at character 4: \"K\" is not a network parameter");
  expect_spec_error(with([](json& j) { j["network"]["projections"][2]["weight"] = true; }),
                    "network.projections[2].weight: got true");
  expect_spec_error(with([](json& j) { j["network"]["projections"][0]["indegre"] = 3; }), "unknown key \"indegre\"");
  expect_spec_error(with([](json& j) { j["network"]["projections"][0]["p"] = 0.1; }), "unknown key \"p\"");
  expect_spec_error(with([](json& j) {
                      j["network"]["projections"][0]["multapses"] = false;
                      j["network"]["projections"][0]["indegree"] = 500;
                    }),
                    "E->E.indegree = 500 exceeds the 400 distinct partners");
  expect_spec_error(with([](json& j) { j["network"]["populations"][0]["params"]["V_reset"] = 30; }),
                    "V_reset < V_th");
  expect_spec_error(with([](json& j) { j["network"]["populations"][0]["params"]["rate_ex"] = 3; }),
                    "inputs come from \"drives\"");
  expect_spec_error(with([](json& j) { j["network"]["drives"][0]["rate"] = -1; }), "drive.E.rate");
  expect_spec_error(with([](json& j) { j["network"]["populations"][1]["name"] = "E"; }), "a population name not used before");
  expect_spec_error(with([](json& j) { j["model"] = "iaf_psc_delta"; }), "a network object needs \"model\": \"network\"");
  expect_spec_error(with([](json& j) {
                      j["axes"] = json::array({json{{"kind", "grid"}, {"param", "D"}, {"values", {1.5, 0.01}}}});
                    }),
                    "delay");  // a reference that becomes < dt on an axis: refused before any work
  expect_spec_error(with([](json& j) { j["output"]["final_state"] = true; }), "no \"final_state\" or \"traces\"");
}

TEST(NetworkSpec, EngineRefusesNetworksClearly) {
  const RunSpec r = parse_spec(brunel(), "net.json");
  try {
    Evaluator ev(r, EvalOptions{});
    ADD_FAILURE() << "the engine accepted a network";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("not available to the engine"), std::string::npos) << e.what();
  }
}

// ---- connection rules ------------------------------------------------------------------------------

TEST(NetworkRules, NestRulesAndDefaults) {
  // fixed_indegree: every target exactly K sources; autapses off: no self connection; multapses
  // off: distinct sources.
  {
    const Csr c = draw_projection(ConnRule::kFixedIndegree, false, false, true, 50, 50, 20, 123);
    std::vector<std::set<uint32_t>> in(50);
    std::vector<int> indeg(50, 0);
    for (uint32_t s = 0; s < 50; ++s)
      for (uint64_t e = c.off[s]; e < c.off[s + 1]; ++e) {
        EXPECT_NE(c.tgt[e], s) << "autapse";
        EXPECT_TRUE(in[c.tgt[e]].insert(s).second) << "multapse";
        ++indeg[c.tgt[e]];
      }
    for (int d : indeg) EXPECT_EQ(d, 20);
  }
  // fixed_outdegree with multapses (NEST default): every source exactly K targets.
  {
    const Csr c = draw_projection(ConnRule::kFixedOutdegree, true, true, false, 30, 7, 12, 5);
    for (uint32_t s = 0; s < 30; ++s) EXPECT_EQ(c.off[s + 1] - c.off[s], 12u);
  }
  // fixed_total_number: N connections.
  EXPECT_EQ(draw_projection(ConnRule::kFixedTotalNumber, true, true, false, 100, 80, 9999, 1).tgt.size(), 9999u);
  // pairwise_bernoulli: the count is Binomial(n_s n_t, p); 200 x 300 pairs at p = 0.1: mean 6000,
  // sd 73.5: within 5 sd (a test that fails by chance once in 1.7 million seeds).
  {
    const Csr c = draw_projection(ConnRule::kPairwiseBernoulli, true, true, false, 200, 300, 0.1, 77);
    EXPECT_NEAR(double(c.tgt.size()), 6000.0, 5 * std::sqrt(60000 * 0.1 * 0.9));
    for (uint32_t s = 0; s < 200; ++s)
      for (uint64_t e = c.off[s] + 1; e < c.off[s + 1]; ++e) EXPECT_LT(c.tgt[e - 1], c.tgt[e]) << "distinct, ordered";
    const Csr all = draw_projection(ConnRule::kPairwiseBernoulli, false, true, true, 40, 40, 1.0, 77);
    EXPECT_EQ(all.tgt.size(), 40u * 39u) << "p = 1 without autapses: every pair but the diagonal";
  }
  // all_to_all and one_to_one
  EXPECT_EQ(draw_projection(ConnRule::kAllToAll, true, true, true, 6, 6, 0, 0).tgt.size(), 36u);
  EXPECT_EQ(draw_projection(ConnRule::kAllToAll, false, true, true, 6, 6, 0, 0).tgt.size(), 30u);
  EXPECT_EQ(draw_projection(ConnRule::kOneToOne, true, true, false, 6, 6, 0, 0).tgt,
            (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  // fixed_indegree sources are uniform: chi-square of the source histogram over 400 x 100 draws
  // (99 degrees of freedom: the 1e-6 quantile is about 180).
  {
    const Csr c = draw_projection(ConnRule::kFixedIndegree, true, true, false, 100, 400, 100, 9);
    double chi2 = 0;
    for (uint32_t s = 0; s < 100; ++s) {
      const double o = double(c.off[s + 1] - c.off[s]);
      chi2 += (o - 400.0) * (o - 400.0) / 400.0;
    }
    EXPECT_LT(chi2, 180.0);
  }
}

// ---- delivery: NEST's delay rule, exactly ----------------------------------------------------------

// Neuron A (DC-driven) fires; B receives A's spike with weight 30 mV (> theta) after the delay d
// and fires in the step the spike arrives: its spike stamp is A's stamp + d (NEST iaf_psc_delta:
// an input spike can trigger a spike in the step it arrives, stamped t_{k+1}).
TEST(NetworkDelivery, SpikeArrivesAfterTheDelayOnTheGrid) {
  for (double delay : {0.1, 1.0, 1.55, 2.3}) {
    json j = json::parse(R"({
      "model": "network", "dt": "0.1 ms", "transient": "0 ms", "analysis": "100 ms", "precision": "double",
      "network": {
        "populations": [
          {"name": "A", "model": "iaf_psc_delta", "size": 1, "sample": 1, "params": {"I_e": 500}},
          {"name": "B", "model": "iaf_psc_delta", "size": 1, "sample": 1}
        ],
        "projections": [{"source": "A", "target": "B", "rule": "all_to_all", "weight": 30, "delay": 1}]
      },
      "output": {"spikes": 100}
    })");
    j["network"]["projections"][0]["delay"] = delay;
    const RunSpec r = parse_spec(j, "tiny.json");
    RunSettings rs = run_settings(r, 100, 1);
    NetworkRunner run(r.network, rs);
    std::vector<double> p = r.sweep.params_of(0);
    ChunkInput in;
    in.n = 1;
    in.params = p.data();
    ChunkOutput out;
    run.run(in, out);
    ASSERT_EQ(out.n_obs, 2);
    const uint32_t na = out.n_spikes[0], nb = out.n_spikes[1];
    ASSERT_GT(na, 2u);
    const int64_t dsteps = static_cast<int64_t>(std::floor(delay * 10.0 + 0.5));  // NEST: ld_round(d / h)
    // B's spikes: A's spikes shifted by the delay (those that arrive in the window).
    std::vector<int64_t> want;
    for (uint32_t k = 0; k < na; ++k) {
      const int64_t s = std::llround(out.spike_times[k] / 0.1) + dsteps;
      if (s <= 1000) want.push_back(s);
    }
    std::vector<int64_t> got;
    for (uint32_t k = 0; k < nb; ++k) got.push_back(std::llround(out.spike_times[out.max_spikes + k] / 0.1));
    EXPECT_EQ(got, want) << "delay " << delay;
  }
}

// ---- sharing and reproducibility ---------------------------------------------------------------------

TEST_F(Network, ConnectivitySharedWhenOnlyWeightsOrDrivesDiffer) {
  json j = brunel(200);
  j["axes"] = json::array({json{{"kind", "grid"}, {"param", "g"}, {"values", {3.0, 4.0, 5.0, 6.0}}},
                           json{{"kind", "grid"}, {"param", "eta"}, {"values", {1.0, 2.0}}}});
  const RunSpec r = parse_spec(j, "net.json");
  RunSettings rs = run_settings(r, 10, 2);
  NetworkRunner run(r.network, rs);
  std::vector<double> p(r.model->params.size() * 8);
  r.sweep.fill(0, 8, p.data());
  ChunkInput in;
  in.n = 8;
  in.params = p.data();
  ChunkOutput out;
  run.run(in, out);
  EXPECT_EQ(run.distinct_connectivities(), 4u) << "4 projections, shared by all 8 instances";
  // E->E: 200 targets x 20 sources (4 bytes each) + 201 offsets (8 bytes), and so on.
  const size_t want = (200 * 20 + 50 * 20 + 200 * 5 + 50 * 5) * 4 + (201 + 201 + 51 + 51) * 8;
  EXPECT_EQ(run.connectivity_bytes(), want);
  // Sizes on an axis: one connectivity per distinct size.
  json k = brunel(200);
  k["axes"] = json::array({json{{"kind", "grid"}, {"param", "NE"}, {"values", {200, 240}}},
                           json{{"kind", "grid"}, {"param", "g"}, {"values", {4.0, 5.0}}}});
  const RunSpec r2 = parse_spec(k, "net.json");
  NetworkRunner run2(r2.network, run_settings(r2, 10, 2));
  p.resize(r2.model->params.size() * 4);
  r2.sweep.fill(0, 4, p.data());
  in.n = 4;
  in.params = p.data();
  run2.run(in, out);
  EXPECT_EQ(run2.distinct_connectivities(), 8u);
  // Rates and features agree: the mean of the rate series is the mean rate feature.
  for (size_t i = 0; i < 4; ++i)
    for (int pop = 0; pop < 2; ++pop) {
      double s = 0;
      for (uint64_t b = 0; b < out.n_bins; ++b) s += out.rates[(i * 2 + pop) * out.n_bins + b];
      EXPECT_NEAR(s / double(out.n_bins), out.series_features[(i * 2 + pop) * out.n_series_features + 0], 1e-3);
    }
}

TEST_F(Network, SameDatabaseForAnyThreadsChunksShardsAndResume) {
  json j = brunel(200);
  j["axes"] = json::array({json{{"kind", "grid"}, {"param", "g"}, {"values", {3.0, 5.0, 7.0}}},
                           json{{"kind", "grid"}, {"param", "eta"}, {"values", {1.0, 2.0, 3.0}}}});
  const std::string spec = write("net.json", j);
  build(spec, (dir / "a.h5").string(), 1, 9);
  build(spec, (dir / "b.h5").string(), 2, 2);
  std::vector<std::string> shards;
  for (int s = 0; s < 2; ++s) {
    build(spec, (dir / "s.h5").string(), 2, 4, s, 2);
    shards.push_back(shard_path((dir / "s.h5").string(), s, 2));
  }
  merge_shards(shards, (dir / "m.h5").string(), false);
  build(spec, (dir / "r.h5").string(), 2, 3, 0, 1, 1);
  build(spec, (dir / "r.h5").string(), 1, 3, 0, 1, 0, true);
  const auto a = dump((dir / "a.h5").string());
  ASSERT_TRUE(a.count("rates/values"));
  ASSERT_TRUE(a.count("spikes/times"));
  ASSERT_TRUE(a.count("instances/E.rate_hz"));
  ASSERT_TRUE(a.count("instances/I.cv_isi"));
  for (const char* other : {"b.h5", "m.h5", "r.h5"}) {
    const auto b = dump((dir / other).string());
    ASSERT_EQ(a.size(), b.size()) << other;
    for (const auto& [k, v] : a) EXPECT_TRUE(b.count(k) && b.at(k) == v) << other << ": " << k;
  }
  // Per-instance connectivity: equally reproducible, and a different network than the shared one.
  json k = j;
  k["network"]["connectivity"] = "per_instance";
  const std::string spec2 = write("net2.json", k);
  build(spec2, (dir / "p1.h5").string(), 1, 9);
  build(spec2, (dir / "p2.h5").string(), 2, 2);
  const auto p1 = dump((dir / "p1.h5").string()), p2 = dump((dir / "p2.h5").string());
  for (const auto& [key, v] : p1) EXPECT_TRUE(p2.count(key) && p2.at(key) == v) << "per_instance: " << key;
  EXPECT_NE(p1.at("rates/values"), a.at("rates/values"));
  // The sweep does something: the rate falls with g (stronger inhibition) at eta = 2.
  std::vector<float> rate(9);
  std::memcpy(rate.data(), a.at("instances/E.rate_hz").data(), 9 * sizeof(float));
  EXPECT_GT(rate[1], rate[4]);
  EXPECT_GT(rate[4], rate[7]);
}

}  // namespace
