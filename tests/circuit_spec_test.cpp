// The sweep spec's "circuit" object (host/spec/spec.cpp, docs/SWEEP_SPEC.md "Circuit objects"): the
// P04 network written as a circuit reproduces the `pyloric` model bit for bit (an independent
// path through the parser, the parameter layout and the engine), every malformed input gives its
// message, and a build stores the spikes of every cell (docs/FORMAT.md) in agreement with the
// per-cell spike counts of /instances, also through shards + merge and resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "spec/circuit.hpp"
#include "classify/classify_network.hpp"
#include "store/database.hpp"
#include "store/db_internal.hpp"
#include "errors.hpp"
#include "run/run.hpp"
#include "run/simulate.hpp"
#include "spec/spec.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The P04 Fig. 2e network (reference section 4.5): AB/PD 2, LP 4, PY 1; ABLP 30, PDLP 30,
// ABPY 10, PDPY 3, LPPM 30, LPPY 1, PYLP 30 nS. AB and PD are one cell (ABPD) with two synapse
// sets: AB's glutamatergic, PD's cholinergic (reference section 4.1), in P04's file order.
const char* kP04Circuit = R"({
  "cells": [{"name": "ABPD", "neuron": "ABPD2"}, {"name": "LP", "neuron": "LP4"}, {"name": "PY", "neuron": "PY1"}],
  "synapses": [
    {"name": "ABLP", "pre": "ABPD", "post": "LP", "type": "glutamatergic", "strength": "30 nS"},
    {"name": "PDLP", "pre": "ABPD", "post": "LP", "type": "cholinergic", "strength": "0.03 uS"},
    {"name": "ABPY", "pre": "ABPD", "post": "PY", "type": "glutamatergic", "strength": "10 nS"},
    {"name": "PDPY", "pre": "ABPD", "post": "PY", "type": "cholinergic", "strength": {"value": 3, "unit": "nS"}},
    {"name": "LPPM", "pre": "LP", "post": "ABPD", "type": "glutamatergic", "strength": "30 nS"},
    {"name": "LPPY", "pre": "LP", "post": "PY", "type": "glutamatergic", "strength": "1 nS"},
    {"name": "PYLP", "pre": "PY", "post": "LP", "type": "glutamatergic", "strength": "30 nS"}],
  "roles": {"pacemaker": "ABPD", "LP": "LP", "PY": "PY"}
})";

std::string spec_text(const std::string& model, const std::string& circuit, const std::string& extra = "",
                      const std::string& durations = R"("transient": "1 s", "analysis": "4 s")") {
  std::string s = R"({"model": ")" + model + R"(", "dt": "0.05 ms", )" + durations;
  if (!circuit.empty()) s += R"(, "circuit": )" + circuit;
  if (!extra.empty()) s += ", " + extra;
  return s + "}";
}

std::string error_of(const std::string& text) {
  try {
    ns::parse_spec_text(text, "c.json");
  } catch (const ns::SpecError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<float> cell_spikes(const ns::ChunkOutput& o, size_t i, int cell) {
  const size_t slot = i * static_cast<size_t>(o.n_obs) + static_cast<size_t>(cell);
  const uint32_t kept = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
  return std::vector<float>(o.spike_times.begin() + slot * o.max_spikes,
                            o.spike_times.begin() + slot * o.max_spikes + kept);
}

// Runs every instance of a spec through the CPU backend with thermalised starts (as `run`).
ns::ChunkOutput run_spec(const ns::RunSpec& r, ns::Precision pr, ns::Gating g = ns::Gating::Direct) {
  ns::RunSettings s;
  s.model = r.model->name;
  s.precision = pr;
  s.gating = g;
  s.sim.dt = r.dt_ms;
  s.sim.n_transient = r.n_transient;
  s.sim.n_analysis = r.n_analysis;
  s.sim.spike_threshold = 0.0f;
  s.sim.max_spikes = 2000;
  const size_t n = r.sweep.size();
  std::vector<double> p(r.model->params.size() * n), init(r.model->state.size() * n);
  r.sweep.fill(0, n, p.data());
  ns::ThermalCache cache(s, r.initial().thermal_ms);
  cache.fill(s.model, p.data(), n, init.data());
  ns::ChunkInput in;
  in.n = n;
  in.params = p.data();
  in.init_state = init.data();
  ns::ChunkOutput out;
  ns::make_cpu_backend()->run(s, in, out);
  return out;
}

// ---- mapping onto stg_circuit --------------------------------------------------------------------
TEST(CircuitObject, MapsNamesOntoStgCircuitParameters) {
  const auto r = ns::parse_spec_text(spec_text("stg_circuit", kP04Circuit), "c.json");
  ASSERT_TRUE(r.circuit);
  EXPECT_EQ(r.model->name, "stg_circuit");
  const auto& m = *r.model;
  using M = ns::StgCircuitModel;
  const auto p = r.sweep.params_of(0);
  EXPECT_EQ(p[M::kPNCells], 3.0);
  EXPECT_EQ(p[M::kPNSyn], 7.0);
  // Every parameter of the pyloric model has the same name and value here (AB/PD 2 = gNa 100,
  // gKCa 5; LP 4 gleak 0.03; PY 1 gKd 125; the strengths of P04 Fig. 2e in nS; 0.03 uS = 30 nS).
  const auto* pyl = ns::find_model("pyloric");
  const auto q = pyl->defaults();
  for (size_t k = 0; k < pyl->params.size(); ++k) {
    const int i = m.param_index(pyl->params[k].name);
    ASSERT_GE(i, 0) << pyl->params[k].name;
    EXPECT_EQ(p[static_cast<size_t>(i)], q[k]) << pyl->params[k].name;
  }
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("ABPD.gNa"))], 100.0);
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("g_PDLP"))], 30.0);
  // wiring: the P04 topology (reference section 4.1)
  for (int j = 0; j < 7; ++j) {
    EXPECT_EQ(p[static_cast<size_t>(M::kPPre + j)], ns::PyloricTopology::pre(j)) << j;
    EXPECT_EQ(p[static_cast<size_t>(M::kPPost + j)], ns::PyloricTopology::post(j)) << j;
    EXPECT_EQ(p[static_cast<size_t>(M::kPType + j)], ns::PyloricTopology::type(j)) << j;
  }
  EXPECT_EQ(std::string(m.state[13].name), "LP.V");
  EXPECT_EQ(std::string(m.state[M::kSS + 6].name), "s_PYLP");
  EXPECT_EQ(m.param_index("cell3.gNa"), -1);
  const json d = r.circuit->to_json();
  EXPECT_EQ(d["synapses"][1]["pre"], "ABPD");
  EXPECT_EQ(d["synapses"][1]["type"], "cholinergic");
  EXPECT_EQ(d["synapses"][1]["strength_nS"], 30.0);
  EXPECT_EQ(d["cells"][2]["params"]["gKd"], 125.0);
  EXPECT_EQ(d["roles"]["PY"], "PY");
}

// The circuit object and the pyloric model give the same spike times of every cell, bit for bit,
// over a categorical LP axis (LP1, LP4) and a g_ABLP grid, in both precisions and both gating
// modes: the parameters travel through a different model description, layout and engine code
// path (runtime topology loops). Thermalised starts as in `run` (each cell alone for 1 s).
TEST(CircuitObject, P04NetworkEqualsPyloricModelBitForBit) {
  const std::string axes =
      R"("initial": {"thermalize": "1 s"}, "axes": [{"kind": "categorical", "name": "LP", "presets": ["LP1", "LP4"]},
                                                 {"kind": "grid", "param": "g_ABLP", "values": [10, 30]}])";
  const auto a = ns::parse_spec_text(spec_text("stg_circuit", kP04Circuit, axes), "c.json");
  const auto b = ns::parse_spec_text(spec_text("pyloric", "", axes), "p.json");
  ASSERT_EQ(a.sweep.size(), 4u);
  ASSERT_EQ(b.sweep.size(), 4u);
  EXPECT_EQ(a.sweep.axes()[0].labels, b.sweep.axes()[0].labels);
  const std::pair<ns::Precision, ns::Gating> modes[] = {{ns::Precision::Float, ns::Gating::Direct},
                                                       {ns::Precision::Float, ns::Gating::Table},
                                                       {ns::Precision::Double, ns::Gating::Direct},
                                                       {ns::Precision::Double, ns::Gating::Table}};
  for (const auto& [pr, g] : modes) {
    const auto oa = run_spec(a, pr, g), ob = run_spec(b, pr, g);
    for (size_t i = 0; i < 4; ++i)
      for (int c = 0; c < 3; ++c) {
        const auto sa = cell_spikes(oa, i, c), sb = cell_spikes(ob, i, c);
        EXPECT_GT(sb.size(), 5u) << "instance " << i << " cell " << c;
        EXPECT_EQ(sa, sb) << "instance " << i << " cell " << c << " " << ns::to_string(pr) << "/" << ns::to_string(g);
      }
    // cells beyond the circuit are not integrated: no spikes
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(oa.n_spikes[i * 16 + 3], 0u);
  }
}

// ---- malformed input ------------------------------------------------------------------------------
TEST(CircuitObject, MalformedInputsGiveClearMessages) {
  auto circ = [](const std::string& cells, const std::string& syn, const std::string& more = "") {
    return R"({"cells": )" + cells + R"(, "synapses": )" + syn + more + "}";
  };
  const std::string two = R"([{"name": "A", "neuron": "ABPD1"}, {"name": "B", "neuron": "LP2"}])";
  auto syn = [](const std::string& fields) { return "[{" + fields + "}]"; };
  struct Case {
    std::string text, expect1, expect2;
  };
  std::vector<std::string> many_cells, many_syn;
  for (int k = 0; k < 17; ++k) many_cells.push_back(R"({"name": "C)" + std::to_string(k) + R"(", "neuron": "PY1"})");
  for (int k = 0; k < 65; ++k)
    many_syn.push_back(R"({"name": "S)" + std::to_string(k) + R"(", "pre": "A", "post": "B", "type": "cholinergic", "strength": "1 nS"})");
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t k = 0; k < v.size(); ++k) s += (k ? "," : "") + v[k];
    return s + "]";
  };
  const std::vector<Case> cases = {
      {spec_text("stg_circuit", circ(R"([{"name": "A", "neuron": "LP9"}])", "[]")), "circuit.cells[0].neuron",
       "\"LP9\"; expected a model neuron of Prinz et al. 2004 Table 2"},
      {spec_text("stg_circuit", circ(R"([{"name": "A", "neuron": "LP9"}])", "[]")), "ABPD1, ABPD2", "PY6"},
      {spec_text("stg_circuit", circ(R"([{"name": "A", "neuron": "LP1"}, {"name": "A", "neuron": "LP2"}])", "[]")),
       "circuit.cells[1].name", "distinct cell names (\"A\" is already cells[0])"},
      {spec_text("stg_circuit", circ(two, R"([{"name": "X", "pre": "A", "post": "B", "type": "cholinergic", "strength": "1 nS"},
                                               {"name": "X", "pre": "B", "post": "A", "type": "cholinergic", "strength": "1 nS"}])")),
       "circuit.synapses[1].name", "\"X\", already used by synapses[0]"},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "Q", "post": "B", "type": "cholinergic", "strength": "1 nS")"))),
       "circuit.synapses[0].pre", "got \"Q\"; expected a cell of circuit.cells"},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "b", "type": "cholinergic", "strength": "1 nS")"))),
       "circuit.synapses[0].post", "(did you mean \"B\"?)"},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "B", "type": "gaba", "strength": "1 nS")"))),
       "circuit.synapses[0].type", "got \"gaba\"; expected one of \"glutamatergic\", \"cholinergic\""},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "B", "type": "cholinergic", "strength": "-3 nS")"))),
       "circuit.synapses[0].strength", "got \"-3 nS\"; expected a strength >= 0"},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "B", "type": "cholinergic", "strength": 30)"))),
       "circuit.synapses[0].strength", "a bare number is ambiguous: write \"30 nS\""},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "B", "type": "cholinergic", "strength": "30 mS/cm^2")"))),
       "circuit.synapses[0].strength", "the unit must be \"nS\" or \"uS\""},
      {spec_text("stg_circuit", circ(two, syn(R"("name": "X", "pre": "A", "post": "B", "type": "cholinergic", "strength": "30")"))),
       "circuit.synapses[0].strength", "got \"30\""},
      {spec_text("stg_circuit", circ(list(many_cells), "[]")), "circuit.cells", "got 17 cells; expected at most 16"},
      {spec_text("stg_circuit", circ(two, list(many_syn))), "circuit.synapses", "got 65 synapses; expected at most 64"},
      {spec_text("pyloric", circ(two, "[]")), "c.json: circuit", "\"model\": \"pyloric\""},
      {spec_text("stg", circ(two, "[]")), "c.json: circuit", "set \"model\": \"stg_circuit\""},
      {spec_text("stg_circuit", circ(R"([{"name": "A.B", "neuron": "LP1"}])", "[]")), "circuit.cells[0].name",
       "letters, digits and '_'"},
      {spec_text("stg_circuit", circ(R"([{"name": "A"}])", "[]")), "circuit.cells[0]", "neither \"neuron\""},
      {spec_text("stg_circuit", circ(R"([{"name": "A", "params": {"gNA": 1}}])", "[]")), "circuit.cells[0].params.gNA",
       "did you mean \"gNa\"?"},
      {spec_text("stg_circuit", circ(two, "[]", R"(, "roles": {"pacemaker": "A", "LP": "B"})")), "circuit.roles",
       "expected both \"LP\" and \"PY\""},
      {spec_text("stg_circuit", circ(two, "[]", R"(, "roles": {"pacemaker": "Z"})")), "circuit.roles.pacemaker",
       "got \"Z\"; expected a cell of circuit.cells"},
      {spec_text("stg_circuit", circ(two, "[]", R"(, "wiring": 1)")), "circuit.wiring", "unknown key \"wiring\""},
      {spec_text("stg_circuit", circ(two, "[]"), R"("fixed": {"pre_syn0": 1})"), "fixed.pre_syn0",
       "the \"circuit\" object sets the cells, the wiring"},
      {spec_text("stg_circuit", circ(two, "[]"), R"("fixed": {"cell0.gNa": 1})"), "fixed.cell0.gNa",
       "named <cell>.<STG parameter> and g_<synapse>"},
      {spec_text("stg_circuit", circ(two, "[]"), R"("axes": [{"kind": "categorical", "name": "B", "presets": ["LP7"]}])"),
       "axes[0].presets[0]", "got \"LP7\""},
  };
  for (const auto& k : cases) {
    const std::string e = error_of(k.text);
    EXPECT_NE(e.find(k.expect1), std::string::npos) << "expected \"" << k.expect1 << "\" in: " << e;
    EXPECT_NE(e.find(k.expect2), std::string::npos) << "expected \"" << k.expect2 << "\" in: " << e;
    EXPECT_EQ(e.rfind("c.json: ", 0), 0u) << "the message names the file: " << e;
  }
  // roles and classifier.network cell indices together: refused when the stage is made (run),
  // CircuitBuild.CircuitWithoutRolesGetsRhythmLabelAndRolesConflictIsRefused
}

// Names work in fixed, axes and categorical cell axes; "all" puts every P04 neuron in the cell.
TEST(CircuitObject, NamesInFixedAxesAndCellPresets) {
  const auto r = ns::parse_spec_text(
      spec_text("stg_circuit", kP04Circuit,
                R"("fixed": {"LP.I_ext": 0.1, "E_chol": -75},
                   "axes": [{"kind": "categorical", "name": "PY", "presets": "all"},
                            {"kind": "linked", "params": {"g_ABLP": [1, 2], "LP.gH": [0.01, 0.02]}}])"),
      "c.json");
  EXPECT_EQ(r.sweep.size(), 32u);
  const auto& m = *r.model;
  const auto p = r.sweep.params_of(2 * 13 + 1);  // PY digit 13 = PY4 (P04 order ABPD1..5, LP1..5, PY1..6)
  EXPECT_EQ(r.sweep.axes()[0].labels[13], "PY4");
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("PY.gNa"))], 400.0);  // PY4 (P04 Table 2)
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("PY.gKd"))], 75.0);
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("LP.gH"))], 0.02);
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("g_ABLP"))], 2.0);
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("LP.I_ext"))], 0.1);
  EXPECT_EQ(p[static_cast<size_t>(m.param_index("LP.gA"))], 20.0);  // LP4 of the circuit
  EXPECT_EQ(p[ns::StgCircuitModel::kPConst + ns::StgCircuitModel::E_chol], -75.0);
  // a cell with explicit parameters on top of its neuron
  const auto e = ns::parse_spec_text(
      spec_text("stg_circuit", R"({"cells": [{"name": "X", "neuron": "LP1", "params": {"gNa": 123, "area": 0.001}}]})"), "c.json");
  const auto q = e.sweep.params_of(0);
  EXPECT_EQ(q[static_cast<size_t>(e.model->param_index("X.gNa"))], 123.0);
  EXPECT_EQ(q[static_cast<size_t>(e.model->param_index("X.gKd"))], 75.0);  // LP1
  EXPECT_EQ(q[static_cast<size_t>(e.model->param_index("X.area"))], 0.001);
  EXPECT_EQ(q[ns::StgCircuitModel::kPNSyn], 0.0);
}

// ---- builds: spikes of every cell -------------------------------------------------------------------
class CircuitBuild : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ns_circ_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path write_spec(const std::string& text) {
    const fs::path p = dir / "circ.json";
    std::ofstream(p) << text;
    return p;
  }
  int build(const fs::path& spec, const fs::path& out, uint64_t chunk, int shard_k = 0, int shard_n = 1, bool resume = false,
            uint64_t stop_after_chunks = 0) {
    ns::RunOptions o;
    o.stop_after_chunks = stop_after_chunks;
    o.spec_path = spec.string();
    o.out = out.string();
    o.backend = "cpu";
    o.threads = 1;
    o.chunk = chunk;
    o.quiet = true;
    o.shard_k = shard_k;
    o.shard_n = shard_n;
    o.resume = resume;
    return ns::run_build(o);
  }
};

template <class T>
std::vector<T> read_all(hid_t loc, const std::string& name, const std::string& path) {
  ns::db::Hid ds = ns::db::open_dataset(loc, name, path);
  std::vector<T> v(ns::db::dataset_length(ds, path));
  ns::db::read_rows(ds, 0, v.size(), v.data(), path, name);
  return v;
}

struct Stored {
  std::vector<std::string> cells;
  std::vector<uint64_t> offsets;
  std::vector<float> times;
  std::map<std::string, std::vector<float>> n_spikes;  // "<cell>.n_spikes" columns
  json circuit;
  std::vector<std::string> columns;
};

Stored read_db(const std::string& path) {
  Stored s;
  ns::db::Hid f = ns::db::open_ro(path);
  ns::db::Hid g = ns::db::open_group(f, "spikes", path);
  s.cells = json::parse(ns::db::attr_string(g, "cells", path)).get<std::vector<std::string>>();
  EXPECT_EQ(ns::db::attr_int(g, "n_cells", path), static_cast<int64_t>(s.cells.size()));
  s.offsets = read_all<uint64_t>(g, "offsets", path);
  s.times = read_all<float>(g, "times", path);
  ns::db::Hid inst = ns::db::open_group(f, "instances", path);
  s.columns = json::parse(ns::db::attr_string(inst, "columns", path)).get<std::vector<std::string>>();
  for (const auto& c : s.cells) s.n_spikes[c] = read_all<float>(inst, c + ".n_spikes", path);
  s.circuit = json::parse(ns::db::attr_string(f, "circuit", path));
  return s;
}

// A 4-cell variant of the pyloric circuit (a second, identical PY cell PY2 coupled like PY), 6
// instances: /spikes holds one train per instance and cell (offsets indexed instance * 4 + cell),
// each train is as long as the cell's n_spikes column (all spikes kept: output.spikes 2000 is
// above any count in 3 s), trains are ascending, shards + merge and resume give the same spikes,
// and /final_state and /traces hold the circuit's cells only.
TEST_F(CircuitBuild, SpikesOfEveryCellMatchPerCellCountsAndShardsResume) {
  const std::string circuit = R"({
    "cells": [{"name": "ABPD", "neuron": "ABPD2"}, {"name": "LP", "neuron": "LP4"}, {"name": "PY", "neuron": "PY1"},
              {"name": "PY2", "neuron": "PY1"}],
    "synapses": [
      {"name": "ABLP", "pre": "ABPD", "post": "LP", "type": "glutamatergic", "strength": "30 nS"},
      {"name": "PDLP", "pre": "ABPD", "post": "LP", "type": "cholinergic", "strength": "30 nS"},
      {"name": "ABPY", "pre": "ABPD", "post": "PY", "type": "glutamatergic", "strength": "10 nS"},
      {"pre": "ABPD", "post": "PY2", "type": "glutamatergic", "strength": "10 nS"},
      {"name": "LPPM", "pre": "LP", "post": "ABPD", "type": "glutamatergic", "strength": "30 nS"},
      {"name": "PYLP", "pre": "PY", "post": "LP", "type": "glutamatergic", "strength": "30 nS"}],
    "roles": {"pacemaker": "ABPD", "LP": "LP", "PY": "PY"}})";
  const auto spec = write_spec(spec_text(
      "stg_circuit", circuit,
      R"("initial": {"thermalize": "500 ms"}, "output": {"spikes": 2000, "final_state": true, "traces": {"instances": [1], "every": "1 ms"}},
         "classifier": {"slowest_period_ms": 1000},
         "axes": [{"kind": "grid", "param": "g_ABPD_PY2", "values": [0, 10, 30]}, {"kind": "categorical", "name": "LP", "presets": ["LP2", "LP4"]}])",
      R"("transient": "500 ms", "analysis": "3 s")"));
  const fs::path one = dir / "one.h5";
  ASSERT_EQ(build(spec, one, 4), 0);
  const Stored s = read_db(one.string());
  ASSERT_EQ(s.cells, (std::vector<std::string>{"ABPD", "LP", "PY", "PY2"}));
  ASSERT_EQ(s.offsets.size(), 6u * 4u + 1u);
  EXPECT_EQ(s.offsets.back(), s.times.size());
  size_t spiking = 0;
  for (size_t i = 0; i < 6; ++i)
    for (size_t c = 0; c < 4; ++c) {
      const uint64_t a = s.offsets[i * 4 + c], b = s.offsets[i * 4 + c + 1];
      EXPECT_EQ(double(b - a), double(s.n_spikes.at(s.cells[c])[i])) << "instance " << i << " cell " << s.cells[c];
      for (uint64_t k = a + 1; k < b; ++k) EXPECT_LT(s.times[k - 1], s.times[k]);
      spiking += b > a;
    }
  EXPECT_GE(spiking, 18u);  // most cells fire (all are spiking P04 neurons)
  // the wiring is recoverable by name from the stored circuit (default synapse name <pre>_<post>)
  EXPECT_EQ(s.circuit["synapses"][3]["name"], "ABPD_PY2");
  EXPECT_EQ(s.circuit["synapses"][3]["post"], "PY2");
  for (const char* col : {"label_PY2", "PY2.n_spikes", "LP.burst_period_ms", "g_ABPD_PY2", "period_ms", "phase_py"})
    EXPECT_NE(std::find(s.columns.begin(), s.columns.end(), col), s.columns.end()) << col;
  {
    ns::db::Hid f = ns::db::open_ro(one.string());
    EXPECT_TRUE(ns::db::link_exists(f, "final_state/PY2.V"));
    EXPECT_FALSE(ns::db::link_exists(f, "final_state/#cell4.V"));
    EXPECT_TRUE(ns::db::link_exists(f, "traces/1/LP.V"));
    EXPECT_TRUE(ns::db::link_exists(f, "traces/1/s_PYLP"));
  }
  // shards of 4-instance chunks, merged: same spikes
  for (int k = 0; k < 2; ++k) ASSERT_EQ(build(spec, dir / "sh.h5", 2, k, 2), 0);
  ns::merge_shards({(dir / "sh.shard-0-of-2.h5").string(), (dir / "sh.shard-1-of-2.h5").string()},
                   (dir / "merged.h5").string(), false);
  const Stored m = read_db((dir / "merged.h5").string());
  EXPECT_EQ(m.offsets, s.offsets);
  EXPECT_EQ(m.times, s.times);
  // an interrupted build (one chunk file removed after the parts were written) resumed
  {
    ASSERT_EQ(build(spec, dir / "res.h5", 2, 0, 1, false, 2), 0);  // stops after 2 chunks, unfinished
    ASSERT_FALSE(fs::exists(dir / "res.h5"));
    fs::remove(dir / "res.h5.parts" / "chunk-000001.h5");
    ASSERT_EQ(build(spec, dir / "res.h5", 2, 0, 1, true), 0);
    const Stored r = read_db((dir / "res.h5").string());
    EXPECT_EQ(r.offsets, s.offsets);
    EXPECT_EQ(r.times, s.times);
  }
}

// Without roles the network label says only whether the pacemaker (cell 0) is rhythmic; a
// half-centre pair of mutually inhibiting P04 bursters is.
TEST_F(CircuitBuild, CircuitWithoutRolesGetsRhythmLabelAndRolesConflictIsRefused) {
  const std::string hco = R"({
    "cells": [{"name": "L", "neuron": "ABPD1"}, {"name": "R", "neuron": "ABPD1", "params": {"gCaS": 4}}],
    "synapses": [{"pre": "L", "post": "R", "type": "glutamatergic", "strength": "10 nS"},
                 {"pre": "R", "post": "L", "type": "glutamatergic", "strength": "10 nS"}]})";
  const auto spec = write_spec(spec_text("stg_circuit", hco, R"("initial": {"thermalize": "500 ms"}, "output": {"spikes": 500})",
                                         R"("transient": "2 s", "analysis": "6 s")"));
  ASSERT_EQ(build(spec, dir / "hco.h5", 0), 0);
  {
    const std::string path = (dir / "hco.h5").string();
    ns::db::Hid f = ns::db::open_ro(path);
    ns::db::Hid inst = ns::db::open_group(f, "instances", path);
    const auto label = read_all<int8_t>(inst, "label", path);
    const auto nl = read_all<float>(inst, "L.n_spikes", path), nr = read_all<float>(inst, "R.n_spikes", path);
    const auto phase = read_all<float>(inst, "phase_lp", path), period = read_all<float>(inst, "period_ms", path);
    ASSERT_EQ(label.size(), 1u);
    EXPECT_TRUE(label[0] == ns::kNotRhythmic || label[0] == ns::kRhythmic) << int(label[0]);
    EXPECT_TRUE(std::isnan(phase[0]));  // no LP/PY roles: the pyloric measures stay NaN
    EXPECT_GT(nl[0], 0.0f);
    std::printf("[ info ] half-centre pair: label %s, period %.1f ms, spikes L %g R %g\n",
                ns::network_label_name(label[0]), period[0], nl[0], nr[0]);
  }
  // classifier.network cell indices with a circuit: refused, naming circuit.roles
  const auto bad = write_spec(spec_text("stg_circuit", hco, R"("classifier": {"network": {"ref_cell": 1}})"));
  try {
    build(bad, dir / "bad.h5", 0);
    FAIL();
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("classifier.network.ref_cell = 1: a circuit object names the roles"),
              std::string::npos) << e.what();
  }
}

// simulate --spec: one instance of a circuit spec, traces of every cell and synapse by name only.
TEST(CircuitObject, SimulateSpecInstanceRecordsEveryCell) {
  const fs::path p = fs::temp_directory_path() / ("ns_circ_sim_" + std::to_string(::getpid()) + ".json");
  std::ofstream(p) << spec_text("stg_circuit", kP04Circuit, R"("initial": {"thermalize": "200 ms"})",
                                R"("transient": "0 ms", "analysis": "500 ms")");
  const auto si = ns::spec_instance(p.string(), 0, {"LP.I_ext=0.05"}, 1000);
  fs::remove(p);
  EXPECT_EQ(si.cells, (std::vector<std::string>{"ABPD", "LP", "PY"}));
  EXPECT_EQ(si.params[static_cast<size_t>(si.desc->param_index("LP.I_ext"))], 0.05);
  EXPECT_EQ(si.init.size(), static_cast<size_t>(ns::StgCircuitModel::kNumState));
  const auto tr = ns::simulate_trace(si.settings, si.params, &si.init, 20, si.desc);
  ASSERT_EQ(tr.names.size(), 1u + 3u * 13u + 7u);
  EXPECT_EQ(tr.names[1], "ABPD.V");
  EXPECT_EQ(tr.names.back(), "s_PYLP");
  EXPECT_EQ(tr.columns[0].size(), 501u);  // 0..500 ms every 1 ms
  // t = 0 is the thermalised start of LP (not the cold -50 mV)
  EXPECT_EQ(tr.columns[14][0], si.init[13]);
  EXPECT_THROW(ns::spec_instance(p.string(), 0, {}, 10), ns::SpecError);  // file removed
}

}  // namespace
