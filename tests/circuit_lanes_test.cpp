// Cell-per-lane circuits (include/neurosweep/circuit_lanes.hpp, issue 19): the per-lane code of the
// CUDA circuit kernels (kernels/circuit_kernels.cuh), with the warp-shuffle exchange emulated by
// array reads (run_instance_lanes), must reproduce the whole-network-per-thread reference path
// (run_reference -> run_instance) BIT FOR BIT: spike counts and times, v_min/v_max/v_mean, status
// and final state of every cell and synapse, for pyloric and general circuits, float and double,
// table and direct gating, both integration schemes, cold and given start states. Tolerance: none
// (exact equality): both paths make the same operations in the same order on the host.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/circuit_lanes.hpp"
#include "neurosweep/models.hpp"
#include "test_util.hpp"

namespace {

using ns::StgModel;

void set(const ns::ModelDesc& m, std::vector<double>& p, const std::string& name, double v) {
  const int k = m.param_index(name);
  ASSERT_GE(k, 0) << name;
  p[static_cast<size_t>(k)] = v;
}

// Neuron presets of the pyloric model (P04 AB/PD, LP, PY) as parameter blocks, by preset name.
std::vector<double> pyloric_params(int variant) {
  const auto& m = *ns::find_model("pyloric");
  std::vector<double> p = m.defaults();
  const char* ab[2] = {"ABPD1", "ABPD2"};
  const char* lp[2] = {"LP2", "LP4"};
  const char* py[2] = {"PY1", "PY3"};
  for (const auto& pr : m.presets)
    if (pr.name == ab[variant % 2] || pr.name == lp[(variant / 2) % 2] || pr.name == py[variant % 2])
      for (int q = 0; q < pr.n_values; ++q) set(m, p, pr.values[q].param, pr.values[q].value);
  const char* syn[7] = {"ABLP", "PDLP", "ABPY", "PDPY", "LPPM", "LPPY", "PYLP"};
  for (int j = 0; j < 7; ++j) set(m, p, std::string("g_") + syn[j], variant == 0 ? 0.0 : 3.0 + 7.0 * ((variant + j) % 5));
  return p;
}

// A general circuit: n cells (pyloric presets in turn), n_syn synapses with a pseudo-random
// topology (fixed formula), mixed transmitter types; cell 0 receives many synapses so that the
// in-order sum of one lane covers several owners.
std::vector<double> general_params(int n, int n_syn, int variant) {
  const auto& g = *ns::find_model("stg_circuit");
  const auto& m = *ns::find_model("pyloric");
  const auto base = pyloric_params(1 + variant);
  std::vector<double> q = g.defaults();
  const char* cn[3] = {"ABPD", "LP", "PY"};
  for (int c = 0; c < 16; ++c)
    for (const auto& pi : StgModel::kParams)
      q[g.param_index("cell" + std::to_string(c) + "." + pi.name)] =
          base[m.param_index(std::string(cn[(c + variant) % 3]) + "." + pi.name)];
  for (int j = 0; j < 64; ++j) {
    const std::string js = "syn" + std::to_string(j);
    const int pre = (j * 7 + 3 + variant) % n, post = j % 3 == 0 ? 0 : (j * 5 + 1) % n;
    q[g.param_index("g_" + js)] = 1.0 + (j * 13 + variant) % 25;
    q[g.param_index("pre_" + js)] = pre;
    q[g.param_index("post_" + js)] = post == pre ? (post + 1) % n : post;
    q[g.param_index("type_" + js)] = (j + variant) % 3 == 0 ? 1 : 0;
  }
  q[g.param_index("n_cells")] = n;
  q[g.param_index("n_synapses")] = n_syn;
  return q;
}

template <class M, class T>
void compare(const std::string& model, const std::vector<std::vector<double>>& rows, ns::Gating gating,
             int integration, bool given_start, double analysis_ms) {
  auto s = nstest::settings(std::is_same_v<T, float> ? ns::Precision::Float : ns::Precision::Double, gating,
                            200.0, analysis_ms, 0.05, 200);
  s.model = model;
  s.sim.integration = integration;
  const auto cols = nstest::columns(rows);
  ns::ChunkInput in;
  in.n = rows.size();
  in.params = cols.data();
  in.first_index = 5;
  std::vector<double> init;
  ns::ChunkOutput ref, lanes;
  if (given_start) {  // the final state of a short run as start state (cells and synapses not at rest)
    auto s0 = s;
    s0.sim.n_transient = 0;
    s0.sim.n_analysis = 2000;
    ns::run_reference(s0, in, ref);
    init = ref.final_state;
    in.init_state = init.data();
  }
  ns::run_reference(s, in, ref);
  lanes.resize(in.n, M::kNumObs, s.sim.max_spikes, M::kNumState, s.want_final_state);
  const ns::OutputView ov = lanes.view();
  ns::HostTable<T> table;
  ns::model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
  for (size_t i = 0; i < in.n; ++i) {
    if (gating == ns::Gating::Table)
      ns::run_instance_lanes<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, table.view(), ov);
    else
      ns::run_instance_lanes<M, T>(s.sim, in.params, in.init_state, in.n, i, in.first_index, ns::Direct{}, ov);
  }
  EXPECT_EQ(ref.n_spikes, lanes.n_spikes);
  EXPECT_EQ(ref.spike_times, lanes.spike_times);
  EXPECT_EQ(ref.v_min, lanes.v_min);
  EXPECT_EQ(ref.v_max, lanes.v_max);
  EXPECT_EQ(ref.v_mean, lanes.v_mean);
  EXPECT_EQ(ref.status, lanes.status);
  ASSERT_EQ(ref.final_state.size(), lanes.final_state.size());
  for (size_t k = 0; k < ref.final_state.size(); ++k) {
    // bit equality, NaN included
    const double a = ref.final_state[k], b = lanes.final_state[k];
    EXPECT_TRUE(a == b || (a != a && b != b)) << "final_state[" << k << "]: " << a << " vs " << b;
  }
  // The comparison can fail: the networks spike (synapses matter) and a coupled cell differs
  // from the same cell isolated (rows of g = 0 vs g > 0 are part of the sets below).
  uint64_t spikes = 0;
  for (auto c : ref.n_spikes) spikes += c;
  EXPECT_GT(spikes, 10u);
}

struct Case {
  ns::Gating gating;
  int integration;
  bool given;
};
const Case kCases[] = {{ns::Gating::Direct, ns::kExpEuler, false}, {ns::Gating::Table, ns::kExpEuler, false},
                       {ns::Gating::Direct, ns::kPrinzEuler, false}, {ns::Gating::Table, ns::kPrinzEuler, true}};

std::vector<std::vector<double>> pyloric_rows() {
  std::vector<std::vector<double>> rows;
  for (int v = 0; v < 4; ++v) rows.push_back(pyloric_params(v));
  return rows;
}
std::vector<std::vector<double>> general_rows() {
  // 16 cells x 64 synapses (every lane owns 4), 5 cells x 11 synapses (idle lanes observed but not
  // integrated), 3 cells x 0 synapses, 9 cells x 40 synapses.
  return {general_params(16, 64, 0), general_params(5, 11, 1), general_params(3, 0, 2), general_params(9, 40, 3)};
}

}  // namespace

TEST(CircuitLanes, GroupShape) {
  EXPECT_EQ(ns::CircuitLanes<ns::PyloricModel>::kGroup, 4);
  EXPECT_EQ(ns::CircuitLanes<ns::PyloricModel>::kOwned, 2);
  EXPECT_EQ(ns::CircuitLanes<ns::StgCircuitModel>::kGroup, 16);
  EXPECT_EQ(ns::CircuitLanes<ns::StgCircuitModel>::kOwned, 4);
}

TEST(CircuitLanes, PyloricFloatEqualsReferenceBitForBit) {
  for (const auto& c : kCases)
    compare<ns::PyloricModel, float>("pyloric", pyloric_rows(), c.gating, c.integration, c.given, 1500.0);
}
TEST(CircuitLanes, PyloricDoubleEqualsReferenceBitForBit) {
  for (const auto& c : kCases)
    compare<ns::PyloricModel, double>("pyloric", pyloric_rows(), c.gating, c.integration, c.given, 1500.0);
}
TEST(CircuitLanes, GeneralFloatEqualsReferenceBitForBit) {
  for (const auto& c : kCases)
    compare<ns::StgCircuitModel, float>("stg_circuit", general_rows(), c.gating, c.integration, c.given, 500.0);
}
TEST(CircuitLanes, GeneralDoubleEqualsReferenceBitForBit) {
  for (const auto& c : kCases)
    compare<ns::StgCircuitModel, double>("stg_circuit", general_rows(), c.gating, c.integration, c.given, 500.0);
}
