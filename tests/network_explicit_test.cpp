// Explicit edge lists, per-synapse weight and delay distributions and per-neuron initial values
// of network projections and populations (issue 16; docs/NETWORKS.md, "Explicit edge lists",
// "Distributions"): an edge file gives the same spikes as the rule it was written from, the drawn
// values have the distribution's moments and respect the redraw bounds, results do not depend on
// threads or chunks, and every bad input is named.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brunel_spec.hpp"

#include "errors.hpp"
#include "network/network.hpp"
#include "network/run_network.hpp"
#include "neurosweep/hash.hpp"
#include "run/evaluate.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace ns;

namespace {

struct Tmp {
  fs::path dir;
  Tmp() {
    dir = fs::temp_directory_path() / ("ns_netx_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Tmp() { fs::remove_all(dir); }
};

template <class T>
void put(hid_t g, const char* name, const std::vector<T>& v, hid_t file_type, hid_t mem_type) {
  hsize_t n = v.size();
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(g, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n) H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d);
  H5Sclose(sp);
}

// Writes an edge group (group "/" or a new group "/name").
void write_edges(const std::string& file, const std::string& group, const std::vector<int64_t>& src,
                 const std::vector<int64_t>& tgt, const std::vector<double>* w = nullptr,
                 const std::vector<double>* d = nullptr, bool append = false) {
  hid_t f = append ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                   : H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = group == "/" ? H5Gopen2(f, "/", H5P_DEFAULT) : H5Gcreate2(f, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  put(g, "source", src, H5T_STD_I64LE, H5T_NATIVE_INT64);
  put(g, "target", tgt, H5T_STD_I64LE, H5T_NATIVE_INT64);
  if (w) put(g, "weight", *w, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
  if (d) put(g, "delay", *d, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
  H5Gclose(g);
  H5Fclose(f);
}

// The reduced Brunel (2000) network of tests/network_run_test.cpp, 200 + 50 neurons.
json brunel() {
  json j = {{"model", "network"}, {"dt", "0.1 ms"}, {"transient", "50 ms"}, {"analysis", "200 ms"}, {"seed", 11},
            {"precision", "double"}, {"output", {{"spikes", 200}}}};
  j["network"] = nstest::brunel_network(200, 0.5, 5, 2, 20, 10);
  return j;
}

// Runs the instances of a parsed spec in one chunk; returns the output.
ChunkOutput run_all(const RunSpec& r, int threads = 1, NetworkRunner** keep = nullptr) {
  const size_t n = r.sweep.size();
  RunSettings rs = run_settings(r, 200, threads);
  static std::unique_ptr<NetworkRunner> runner;
  runner = std::make_unique<NetworkRunner>(r.network, rs);
  std::vector<double> p(r.model->params.size() * n);
  r.sweep.fill(0, n, p.data());
  ChunkInput in;
  in.n = n;
  in.params = p.data();
  ChunkOutput out;
  runner->run(in, out);
  if (keep) *keep = runner.get();
  return out;
}

// Spike times of every sampled neuron, per instance.
std::vector<std::vector<float>> spikes(const ChunkOutput& o) {
  std::vector<std::vector<float>> v;
  for (size_t i = 0; i < o.n; ++i)
    for (int k = 0; k < o.n_obs; ++k) {
      const size_t slot = i * o.n_obs + k;
      const uint32_t c = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
      v.emplace_back(o.spike_times.begin() + slot * o.max_spikes, o.spike_times.begin() + slot * o.max_spikes + c);
    }
  return v;
}

void expect_spec_error(const json& j, const std::string& spec_path, const std::vector<std::string>& needles) {
  try {
    parse_spec(j, spec_path);
    ADD_FAILURE() << "accepted; expected an error containing: " << needles[0];
  } catch (const SpecError& e) {
    for (const auto& nd : needles)
      EXPECT_NE(std::string(e.what()).find(nd), std::string::npos) << e.what() << "\n  expected: " << nd;
  }
}

}  // namespace

// ---- explicit edges ---------------------------------------------------------------------------

// The E->E projection of the Brunel network written to a file in the order the rule drew it: the
// network with the file gives the same spike times, bit for bit, as the network with the rule
// (with the file's weight and delay datasets, and with the projection's single values).
TEST(NetworkExplicit, EdgeFileGivesTheSameSpikesAsTheRule) {
  Tmp t;
  const json j = brunel();
  const RunSpec r = parse_spec(j, (t.dir / "net.json").string());
  const auto want = spikes(run_all(r));
  size_t n_spk = 0;
  for (const auto& s : want) n_spk += s.size();
  ASSERT_GT(n_spk, 500u);
  // E->E exactly as run_network.cpp draws it (projection 0, seed 11).
  const uint64_t key = mix64(mix64(11 ^ 0x6e6574776f726bULL) ^ 1ULL);
  const Csr c = draw_projection(ConnRule::kFixedIndegree, true, true, true, 200, 200, 20, key);
  std::vector<int64_t> src, tgt;
  for (uint64_t s = 0; s < 200; ++s)
    for (uint64_t e = c.off[s]; e < c.off[s + 1]; ++e) src.push_back(int64_t(s)), tgt.push_back(c.tgt[e]);
  // Shuffle the file order across sources (kept within a source): the reader sorts by source.
  std::vector<size_t> order(src.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (src[a] * 7919) % 200 < (src[b] * 7919) % 200; });
  std::vector<int64_t> s2, t2;
  for (size_t k : order) s2.push_back(src[k]), t2.push_back(tgt[k]);
  const std::vector<double> w(s2.size(), 0.5), d(s2.size(), 1.5);
  write_edges((t.dir / "ee.h5").string(), "/", s2, t2);
  write_edges((t.dir / "ee.h5").string(), "/with_values", s2, t2, &w, &d, true);
  for (int variant = 0; variant < 2; ++variant) {
    json k = j;
    json& pr = k["network"]["projections"][0];
    pr = json{{"source", "E"}, {"target", "E"}, {"rule", "explicit"}, {"file", "ee.h5"}};
    if (variant == 0) {
      pr["weight"] = "J";
      pr["delay"] = "D";
    } else {
      pr["group"] = "/with_values";
    }
    const RunSpec rk = parse_spec(k, (t.dir / "net.json").string());
    EXPECT_EQ(spikes(run_all(rk)), want) << "variant " << variant;
  }
  // weight_scale acts on the file's weights and is sweepable by name.
  json k = j;
  k["network"]["projections"][0] = json{{"source", "E"}, {"target", "E"}, {"rule", "explicit"},
                                        {"file", "ee.h5"}, {"group", "/with_values"}, {"weight_scale", 1}};
  k["axes"] = json::array({json{{"kind", "grid"}, {"param", "E->E.weight_scale"}, {"values", {1.0, 0.0}}}});
  const RunSpec rk = parse_spec(k, (t.dir / "net.json").string());
  const ChunkOutput o = run_all(rk);
  const auto got = spikes(o);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin()));
  EXPECT_NE(std::vector<std::vector<float>>(got.begin() + o.n_obs, got.end()), want);
}

// Per-edge weights and delays: each spike of A arrives at B_k after edge k's own delay with its
// own sign (routed excitatory / inhibitory by the sign, as NEST does).
TEST(NetworkExplicit, PerEdgeWeightsAndDelaysActOnTheirTargets) {
  Tmp t;
  const std::vector<int64_t> src = {0, 0, 0}, tgt = {2, 0, 1};
  const std::vector<double> w = {30.0, 30.0, -5.0}, d = {0.1, 2.35, 1.0};
  write_edges((t.dir / "e.h5").string(), "/", src, tgt, &w, &d);
  json j = json::parse(R"({
    "model": "network", "dt": "0.1 ms", "transient": "0 ms", "analysis": "100 ms", "precision": "double",
    "network": {
      "populations": [
        {"name": "A", "model": "iaf_psc_delta", "size": 1, "sample": 1, "params": {"I_e": 500}},
        {"name": "B", "model": "iaf_psc_delta", "size": 3, "sample": 3, "params": {"I_e": 0}}
      ],
      "projections": [{"source": "A", "target": "B", "rule": "explicit", "file": "e.h5"}]
    },
    "output": {"spikes": 100}
  })");
  const RunSpec r = parse_spec(j, (t.dir / "x.json").string());
  const auto s = spikes(run_all(r));
  ASSERT_EQ(s.size(), 4u);
  ASSERT_GT(s[0].size(), 2u);
  auto shifted = [&](int64_t dsteps) {
    std::vector<float> v;
    for (float x : s[0]) {
      const int64_t k = std::llround(x / 0.1) + dsteps;
      if (k <= 1000) v.push_back(float(k));
    }
    return v;
  };
  auto steps = [](const std::vector<float>& v) {
    std::vector<float> o;
    for (float x : v) o.push_back(float(std::llround(x / 0.1)));
    return o;
  };
  EXPECT_EQ(steps(s[1]), shifted(24));  // B0: 2.35 ms -> 24 steps (NEST's rounding)
  EXPECT_EQ(steps(s[3]), shifted(1));   // B2: 0.1 ms
  EXPECT_TRUE(s[2].empty());            // B1: inhibitory only
}

TEST(NetworkExplicit, SpecHashFollowsTheFileContents) {
  Tmp t;
  const std::string f = (t.dir / "e.h5").string();
  json j = brunel();
  j["network"]["projections"][0] = json{{"source", "E"}, {"target", "E"}, {"rule", "explicit"}, {"file", "e.h5"},
                                        {"weight", "J"}, {"delay", "D"}};
  write_edges(f, "/", {0, 1, 2}, {1, 2, 3});
  const uint64_t h1 = parse_spec(j, (t.dir / "n.json").string()).hash;
  write_edges(f, "/", {0, 1, 2}, {1, 2, 3});
  EXPECT_EQ(parse_spec(j, (t.dir / "n.json").string()).hash, h1);
  write_edges(f, "/", {0, 1, 2}, {1, 2, 4});
  EXPECT_NE(parse_spec(j, (t.dir / "n.json").string()).hash, h1);
  const std::vector<double> w = {0.5, 0.5, 0.5};
  write_edges(f, "/", {0, 1, 2}, {1, 2, 3}, &w);
  j["network"]["projections"][0].erase("weight");
  EXPECT_NE(parse_spec(j, (t.dir / "n.json").string()).hash, h1);
}

// One test per kind of bad input: each error names the file, group, dataset and the value/index.
TEST(NetworkExplicit, ErrorsNameFileGroupDatasetAndValue) {
  Tmp t;
  const std::string spec = (t.dir / "n.json").string();
  json j = brunel();
  auto with = [&](const std::string& file, json extra = json::object()) {
    json k = j;
    json pr = {{"source", "E"}, {"target", "I"}, {"rule", "explicit"}, {"file", file}, {"weight", "J"}, {"delay", "D"}};
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (it->is_null()) pr.erase(it.key());
      else pr[it.key()] = *it;
    }
    k["network"]["projections"][1] = pr;
    return k;
  };
  // missing file
  expect_spec_error(with("nope.h5"), spec, {"network.projections[1].file", "nope.h5", "no such file"});
  // not HDF5
  std::ofstream((t.dir / "text.h5").string()) << "hello";
  expect_spec_error(with("text.h5"), spec, {"text.h5", "not an HDF5 file"});
  // missing group
  write_edges((t.dir / "ok.h5").string(), "/", {0, 1}, {0, 1});
  expect_spec_error(with("ok.h5", {{"group", "/edges"}}), spec, {"ok.h5", "group /edges", "no such group"});
  // length mismatch
  write_edges((t.dir / "len.h5").string(), "/", {0, 1, 2}, {0, 1});
  expect_spec_error(with("len.h5"), spec, {"len.h5", "source (3 edges)", "target (2 edges)", "differ in length"});
  // source index out of range (E has 200 neurons), at its index in the file
  write_edges((t.dir / "src.h5").string(), "/", {0, 200, 3}, {0, 1, 2});
  expect_spec_error(with("src.h5"), spec, {"src.h5", "dataset source", "value 200 at index 1", "population E of size 200"});
  // target index out of range (I has 50)
  write_edges((t.dir / "tgt.h5").string(), "/", {0, 1, 2}, {0, 1, 77});
  expect_spec_error(with("tgt.h5"), spec, {"tgt.h5", "dataset target", "value 77 at index 2", "population I of size 50"});
  // negative index
  write_edges((t.dir / "neg.h5").string(), "/", {0, -1}, {0, 1});
  expect_spec_error(with("neg.h5"), spec, {"neg.h5", "dataset source", "value -1 at index 1"});
  // delay below dt
  const std::vector<double> w = {1.0, 1.0}, d = {1.0, 0.04};
  write_edges((t.dir / "del.h5").string(), "/", {0, 1}, {0, 1}, &w, &d);
  expect_spec_error(with("del.h5", {{"weight", nullptr}, {"delay", nullptr}}), spec,
                    {"del.h5", "dataset delay", "value 0.040000000000000001 ms at index 1", "below the time step"});
  // weight given twice (dataset and key)
  write_edges((t.dir / "w.h5").string(), "/", {0, 1}, {0, 1}, &w);
  expect_spec_error(with("w.h5"), spec, {"network.projections[1].weight", "w.h5", "has a dataset weight"});
  // no weight at all
  expect_spec_error(with("ok.h5", {{"weight", nullptr}}), spec, {"network.projections[1].weight", "no dataset weight"});
  // missing dataset
  {
    hid_t f = H5Fcreate((t.dir / "nosrc.h5").string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(f, "target", std::vector<int64_t>{0}, H5T_STD_I64LE, H5T_NATIVE_INT64);
    H5Fclose(f);
  }
  expect_spec_error(with("nosrc.h5"), spec, {"nosrc.h5", "missing dataset source"});
  // float indices
  {
    hid_t f = H5Fcreate((t.dir / "flt.h5").string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(f, "source", std::vector<double>{0}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    put(f, "target", std::vector<int64_t>{0}, H5T_STD_I64LE, H5T_NATIVE_INT64);
    H5Fclose(f);
  }
  expect_spec_error(with("flt.h5"), spec, {"flt.h5", "dataset source", "integer"});
  // rule keys that do not apply to a file
  expect_spec_error(with("ok.h5", {{"autapses", false}}), spec, {"network.projections[1].autapses", "unknown key"});
  // a swept size that leaves an index out of range is refused before any work
  json k = with("ok.h5");
  k["network"]["projections"][1]["target"] = "E";
  k["network"]["projections"][1]["name"] = "X";
  write_edges((t.dir / "ok.h5").string(), "/", {0, 1}, {0, 150});
  k["axes"] = json::array({json{{"kind", "grid"}, {"param", "NE"}, {"values", {200, 120}}}});
  expect_spec_error(k, spec, {"ok.h5", "dataset target", "value 150 at index 1", "population E of size 120"});
}

// ---- distributions ------------------------------------------------------------------------------

namespace {

json dist_net() {
  return json::parse(R"({
    "model": "network", "dt": "0.1 ms", "transient": "20 ms", "analysis": "100 ms", "seed": 3,
    "network": {
      "parameters": {"w": 87.8, "NE": 400},
      "populations": [
        {"name": "E", "model": "iaf_psc_exp", "size": "NE", "sample": 10,
         "params": {"E_L": -65, "V_th": -50, "V_reset": -65, "tau_syn_ex": 0.5, "tau_syn_in": 0.5},
         "initial": {"V_m": {"distribution": "normal", "mean": -58, "std": 5}}},
        {"name": "I", "model": "iaf_psc_exp", "size": "NE/4", "sample": 10,
         "params": {"E_L": -65, "V_th": -50, "V_reset": -65, "tau_syn_ex": 0.5, "tau_syn_in": 0.5}}
      ],
      "projections": [
        {"source": "E", "target": "E", "rule": "fixed_total_number", "N": 20000,
         "weight": {"distribution": "normal", "mean": "w", "std": "0.1*w", "min": 0},
         "delay": {"distribution": "normal", "mean": 1.5, "std": 0.75, "min": 0.05}},
        {"source": "E", "target": "I", "rule": "fixed_indegree", "indegree": 40,
         "weight": {"distribution": "uniform", "min": 40, "max": 120}, "delay": 1.5},
        {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": 20,
         "weight": {"distribution": "normal", "mean": "-4*w", "std": "0.4*w", "max": 0},
         "delay": {"distribution": "uniform", "min": 0.5, "max": 1.0}},
        {"source": "I", "target": "I", "rule": "pairwise_bernoulli", "p": 0.2, "weight": "-4*w", "delay": 0.75}
      ],
      "drives": [
        {"target": "E", "type": "poisson", "rate": 14000, "weight": "w"},
        {"target": "I", "type": "poisson", "rate": 14000, "weight": "w"}
      ]
    },
    "output": {"spikes": 200}
  })");
}

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

struct Moments {
  double mean = 0, sd = 0, lo = 1e300, hi = -1e300;
  size_t n = 0;
};
template <class V>
Moments moments(const V& v) {
  Moments m;
  m.n = v.size();
  double s = 0, s2 = 0;
  for (auto x : v) {
    s += double(x);
    s2 += double(x) * double(x);
    m.lo = std::min(m.lo, double(x));
    m.hi = std::max(m.hi, double(x));
  }
  m.mean = s / double(m.n);
  m.sd = std::sqrt(std::max(0.0, s2 / double(m.n) - m.mean * m.mean));
  return m;
}

}  // namespace

// Drawn weights and delays: moments within 5 standard errors of the (truncated) distribution's,
// bounds respected, delays at least one step; the values depend on (seed, projection, synapse) only.
TEST(NetworkDistributions, DrawnValuesHaveTheMomentsAndRespectTheBounds) {
  json j = dist_net();
  // a strongly truncated normal, to check the redraw: mean 2, std 1, in [0, 3]
  j["network"]["projections"][3]["weight"] = json{{"distribution", "normal"}, {"mean", 2}, {"std", 1}, {"min", 0}, {"max", 3}};
  j["network"]["projections"][3]["delay"] = json{{"distribution", "normal"}, {"mean", 0.3}, {"std", 1}, {"min", 0.05}};
  const RunSpec r = parse_spec(j, "d.json");
  const NetworkDesc& net = *r.network;
  std::vector<double> p = r.sweep.params_of(0), q(p.size());
  net.realise(p.data(), q.data());
  auto arrays = [&](int jx, uint64_t ns, uint64_t nt, double value) {
    const NetProjection& pr = net.projs[static_cast<size_t>(jx)];
    const uint64_t key = mix64(mix64(3 ^ 0x6e6574776f726bULL) ^ static_cast<uint64_t>(jx + 1));
    const Csr c = draw_projection(pr.rule, true, true, pr.src == pr.tgt, ns, nt, value, key);
    return make_syn_arrays(net, pr, c, q.data(), 0.1, key);
  };
  {  // normal(87.8, 8.78), min 0: the bound is 10 sd away, so the plain normal's moments
    const SynArrays a = arrays(0, 400, 400, 20000);
    ASSERT_EQ(a.w.size(), 20000u);
    const Moments m = moments(a.w);
    EXPECT_NEAR(m.mean, 87.8, 5 * 8.78 / std::sqrt(20000.0));
    EXPECT_NEAR(m.sd, 8.78, 5 * 8.78 / std::sqrt(2 * 20000.0));
    EXPECT_GE(m.lo, 0.0);
    // delays: normal(1.5, 0.75) redrawn below 0.05 ms, rounded to steps: at least one step
    const Moments d = moments(a.d);
    EXPECT_GE(d.lo, 1.0);
    // truncated below at a = (0.05 - 1.5) / 0.75 sd: mean 1.5 + 0.75 phi(a) / (1 - Phi(a)) (= 1.548 ms);
    // the rounding to 0.1 ms steps adds 0.1^2/12 to the variance
    const double a0 = (0.05 - 1.5) / 0.75, lam = phi(a0) / (1 - Phi(a0));
    EXPECT_NEAR(d.mean * 0.1, 1.5 + 0.75 * lam, 5 * 0.75 / std::sqrt(20000.0) + 0.005);
    EXPECT_NEAR(d.sd * 0.1, std::sqrt(0.75 * 0.75 * (1 + a0 * lam - lam * lam) + 0.01 / 12), 0.02);
  }
  {  // uniform [40, 120): mean 80, sd 80 / sqrt(12)
    const SynArrays a = arrays(1, 400, 100, 40);
    ASSERT_EQ(a.w.size(), 4000u);
    EXPECT_TRUE(a.d.empty());  // a single delay: no per-synapse array
    const Moments m = moments(a.w);
    EXPECT_NEAR(m.mean, 80.0, 5 * 23.09 / std::sqrt(4000.0));
    EXPECT_NEAR(m.sd, 80.0 / std::sqrt(12.0), 1.0);
    EXPECT_GE(m.lo, 40.0);
    EXPECT_LT(m.hi, 120.0);
  }
  {  // normal(-351.2, 35.12), max 0 (inhibitory stays <= 0); delays uniform [0.5, 1.0) ms
    const SynArrays a = arrays(2, 100, 400, 20);
    const Moments m = moments(a.w);
    EXPECT_LE(m.hi, 0.0);
    EXPECT_NEAR(m.mean, -351.2, 5 * 35.12 / std::sqrt(8000.0));
    const Moments d = moments(a.d);
    EXPECT_GE(d.lo, 5.0);
    EXPECT_LE(d.hi, 10.0);
  }
  {  // truncated normal(2, 1) on [0, 3]: mean 2 + (phi(-2) - phi(1)) / (Phi(1) - Phi(-2))
    const SynArrays a = arrays(3, 100, 100, 0.2);
    const double Z = Phi(1) - Phi(-2);
    const double mu = 2 + (phi(-2) - phi(1)) / Z;
    const double var = 1 + (-2 * phi(-2) - 1 * phi(1)) / Z - std::pow((phi(-2) - phi(1)) / Z, 2);
    const Moments m = moments(a.w);
    ASSERT_GT(m.n, 1500u);
    EXPECT_GE(m.lo, 0.0);
    EXPECT_LE(m.hi, 3.0);
    EXPECT_NEAR(m.mean, mu, 5 * std::sqrt(var / double(m.n)));
    EXPECT_NEAR(m.sd, std::sqrt(var), 0.05);
    const Moments d = moments(a.d);  // normal(0.3, 1) redrawn below 0.05 ms: every delay >= 1 step
    EXPECT_GE(d.lo, 1.0);
    // the same values again (counter-based: no state)
    EXPECT_EQ(arrays(3, 100, 100, 0.2).w, a.w);
  }
}

// Per-neuron initial V_m: drawn per neuron with the given moments, and the start of the run.
TEST(NetworkDistributions, InitialMembranePotentialIsDrawnPerNeuron) {
  json j = dist_net();
  j["network"]["projections"] = json::array();
  j["network"]["drives"] = json::array();
  j["transient"] = "0 ms";
  j["analysis"] = "100 ms";
  // above threshold: every neuron of E fires in the first step; I (cold start at E_L... V_m -70) stays silent
  j["network"]["populations"][0]["initial"]["V_m"] = json{{"distribution", "normal"}, {"mean", -45}, {"std", 1}, {"min", -49}};
  const RunSpec r = parse_spec(j, "d.json");
  const ChunkOutput o = run_all(r);
  const auto s = spikes(o);
  for (int k = 0; k < 10; ++k) {
    ASSERT_EQ(s[k].size(), 1u) << "E:" << k;
    EXPECT_FLOAT_EQ(s[k][0], 0.1f);
  }
  for (int k = 10; k < 20; ++k) EXPECT_TRUE(s[k].empty());
  EXPECT_NEAR(o.series_features[0], 1000.0 / 100.0, 1e-9) << "one spike per E neuron in 100 ms";
  // the values themselves: normal(-58, 5) over 20,000 neurons
  const RunSpec r2 = parse_spec(dist_net(), "d.json");
  std::vector<double> p = r2.sweep.params_of(0), q(p.size());
  r2.network->realise(p.data(), q.data());
  const NetDist& d = r2.network->pops[0].initial[0].second;
  std::vector<double> v;
  for (uint64_t k = 0; k < 20000; ++k) v.push_back(d.draw(q.data(), 12345, k, 7));
  const Moments m = moments(v);
  EXPECT_NEAR(m.mean, -58, 5 * 5 / std::sqrt(20000.0));
  EXPECT_NEAR(m.sd, 5, 5 * 5 / std::sqrt(40000.0));
}

// The same spikes for 1 or 2 threads and any split of the instances into chunks, in shared and
// per-instance connectivity; distribution parameters are sweepable by name.
TEST(NetworkDistributions, SameResultsForAnyThreadsAndChunks) {
  for (const char* mode : {"shared", "per_instance"}) {
    json j = dist_net();
    j["network"]["connectivity"] = mode;
    j["axes"] = json::array({json{{"kind", "grid"}, {"param", "E->E.weight.mean"}, {"values", {60.0, 87.8, 110.0}}},
                             json{{"kind", "grid"}, {"param", "E.initial.V_m.std"}, {"values", {1.0, 5.0}}}});
    const RunSpec r = parse_spec(j, "d.json");
    const size_t n = r.sweep.size();
    ASSERT_EQ(n, 6u);
    std::vector<double> p(r.model->params.size() * n);
    r.sweep.fill(0, n, p.data());
    auto run = [&](int threads, size_t first, size_t count) {
      RunSettings rs = run_settings(r, 200, threads);
      NetworkRunner runner(r.network, rs);
      std::vector<double> pc(r.model->params.size() * count);
      for (size_t k = 0; k < r.model->params.size(); ++k)
        for (size_t i = 0; i < count; ++i) pc[k * count + i] = p[k * n + first + i];
      ChunkInput in;
      in.n = count;
      in.first_index = first;
      in.params = pc.data();
      ChunkOutput out;
      runner.run(in, out);
      return spikes(out);
    };
    const auto a = run(1, 0, 6);
    auto b = run(2, 0, 4);
    const auto b2 = run(2, 4, 2);
    b.insert(b.end(), b2.begin(), b2.end());
    EXPECT_EQ(a, b) << mode;
    size_t total = 0;
    for (const auto& x : a) total += x.size();
    EXPECT_GT(total, 100u) << mode;
    // the axes act: instances differ
    EXPECT_NE(std::vector<std::vector<float>>(a.begin(), a.begin() + 20),
              std::vector<std::vector<float>>(a.begin() + 40, a.begin() + 60)) << mode;
  }
}

TEST(NetworkDistributions, ErrorsNameTheKeyAndTheValue) {
  auto bad = [](const std::function<void(json&)>& edit, const std::vector<std::string>& needles) {
    json j = dist_net();
    edit(j);
    expect_spec_error(j, "d.json", needles);
  };
  bad([](json& j) { j["network"]["projections"][0]["weight"]["distribution"] = "lognormal"; },
      {"network.projections[0].weight.distribution", "lognormal", "\"normal\", \"uniform\""});
  bad([](json& j) { j["network"]["projections"][0]["weight"].erase("std"); },
      {"network.projections[0].weight.std", "missing required key"});
  bad([](json& j) { j["network"]["projections"][1]["weight"]["mean"] = 3; },
      {"network.projections[1].weight.mean", "unknown key"});
  bad([](json& j) { j["network"]["projections"][0]["weight"]["std"] = -1; },
      {"E->E.weight.std", "-1"});
  bad([](json& j) { j["network"]["projections"][1]["weight"] = json{{"distribution", "uniform"}, {"min", 5}, {"max", 2}}; },
      {"E->I.weight.min", "not below", "E->I.weight.max"});
  bad([](json& j) { j["network"]["projections"][0]["delay"]["min"] = 0.04; },
      {"E->E.delay.min", "0.04", "less than one step"});
  bad([](json& j) { j["network"]["projections"][0]["delay"].erase("min"); },
      {"E->E.delay.min", "less than one step"});
  bad([](json& j) { j["network"]["populations"][0]["initial"] = json{{"V", {{"distribution", "normal"}, {"mean", 0}, {"std", 1}}}}; },
      {"network.populations[0].initial.V", "not a state variable", "V_m"});
  bad([](json& j) { j["network"]["populations"][0]["initial"]["V_m"] = -60; },
      {"network.populations[0].initial.V_m", "an object"});
  bad([](json& j) { j["network"]["projections"][0]["weight"]["mean"] = "w*q"; },
      {"network.projections[0].weight.mean", "\"q\" is not a network parameter"});
}
