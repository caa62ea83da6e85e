// The start state as a categorical axis (issue 14; docs/SWEEP_SPEC.md "Start axis";
// host/spec/starts.cpp, host/run/starts.cpp): parsing and errors, and the value test: every
// start on the axis gives exactly (bit for bit, every stored column) the database built with that
// start as the single "initial" setting; whatever the threads, chunks, shards or a resume.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "spec/spec.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A 5 x 7 grid of STG neurons (tests/test_util.hpp), final states stored.
json grid() { return json::parse(nstest::kGridSpec); }

// A start state far from the cold one (V = -70 mV, some activation), every stg state variable.
const json kExplicit = json::parse(R"({"V": -70, "Ca": 0.2, "m_Na": 0.01, "h_Na": 0.9, "m_CaT": 0.02,
  "h_CaT": 0.8, "m_CaS": 0.05, "h_CaS": 0.7, "m_A": 0.1, "h_A": 0.5, "m_KCa": 0.05, "m_Kd": 0.03, "m_H": 0.2})");

class StartAxis : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ns_start_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  struct Result {
    int code;
    std::string out, err;
  };
  Result cli(const std::string& args) {
    const std::string o = (dir / "stdout.txt").string(), e = (dir / "stderr.txt").string();
    const int rc = std::system((std::string(NS_CLI_PATH) + " " + args + " >" + o + " 2>" + e).c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(o), slurp(e)};
  }
  fs::path write(const std::string& name, const json& j) {
    const fs::path p = dir / name;
    std::ofstream(p) << j.dump(1);
    return p;
  }
  // Builds spec `j` into dir/name.h5 (extra: more run options); returns the path.
  fs::path build(const std::string& name, const json& j, const std::string& extra = "") {
    const auto spec = write(name + ".json", j);
    const fs::path db = dir / (name + ".h5");
    const auto r = cli("run " + spec.string() + " -o " + db.string() + " -q --force " + extra);
    EXPECT_EQ(r.code, 0) << r.err;
    return db;
  }
  // Every column but `index` and the start column, as CSV (floats printed to round trip:
  // equal text = equal bits), rows of `where` (empty: all).
  std::string rows(const fs::path& db, const std::string& where = "") {
    const auto all = cli("query " + db.string() + " --format csv --limit 1");
    EXPECT_EQ(all.code, 0) << all.err;
    std::string header = all.out.substr(0, all.out.find('\n')), cols;
    std::stringstream hs(header);
    for (std::string c; std::getline(hs, c, ',');)
      if (c != "index" && c != "start") cols += (cols.empty() ? "" : ",") + c;
    const auto r = cli("query " + db.string() + " --format csv --columns " + cols +
                       (where.empty() ? "" : " --where \"" + where + "\""));
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
};

ns::RunSpec parse(const json& j) { return ns::parse_spec(j, "s.json"); }

std::string error_of(const json& j) {
  try {
    parse(j);
  } catch (const ns::SpecError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- parsing -------------------------------------------------------------------------------
TEST(StartAxisSpec, ParsesEntriesLabelsAndDigits) {
  json j = grid();
  j["axes"].insert(j["axes"].begin() + 1,
                   json::parse(R"({"kind": "categorical", "starts": ["cold", {"thermalize": "2 s"},
                     {"thermalize": "500 ms", "label": "short"}, {"label": "hyper", "V": -70, "Ca": 0.2, "m_Na": 0.01,
                     "h_Na": 0.9, "m_CaT": 0.02, "h_CaT": 0.8, "m_CaS": 0.05, "h_CaS": 0.7, "m_A": 0.1, "h_A": 0.5,
                     "m_KCa": 0.05, "m_Kd": 0.03, "m_H": 0.2}]})"));
  const auto r = parse(j);
  ASSERT_EQ(r.start_axis, 1);
  EXPECT_EQ(r.sweep.size(), 5u * 4u * 7u);
  const auto& ax = r.sweep.axes()[1];
  EXPECT_EQ(ax.name, "start");
  EXPECT_TRUE(ax.start);
  EXPECT_TRUE(ax.params.empty());
  EXPECT_EQ(ax.labels, (std::vector<std::string>{"cold", "thermalize_2s", "short", "hyper"}));
  ASSERT_EQ(r.starts.size(), 4u);
  EXPECT_EQ(r.starts[0].kind, ns::InitialKind::kCold);
  EXPECT_EQ(r.starts[1].kind, ns::InitialKind::kThermalized);
  EXPECT_EQ(r.starts[1].thermal_ms, 2000.0);
  EXPECT_EQ(r.starts[2].thermal_ms, 500.0);
  EXPECT_EQ(r.starts[3].kind, ns::InitialKind::kExplicit);
  EXPECT_EQ(r.starts[3].state[0], -70.0);  // V
  // instance i = (gCaS digit * 4 + start digit) * 7 + gKd digit
  for (uint64_t i = 0; i < r.sweep.size(); ++i) EXPECT_EQ(r.start_of(i), (i / 7) % 4) << i;
  // the start axis sets no parameter: gCaS and gKd as without it
  EXPECT_EQ(r.sweep.params_of(3 * 28 + 2 * 7 + 5), parse(grid()).sweep.params_of(3 * 7 + 5));
  // part of the spec hash
  json j2 = j;
  j2["axes"][1]["starts"][1]["thermalize"] = "3 s";
  EXPECT_NE(parse(j2).hash, r.hash);
  // without a start axis: one start, "initial" (default cold)
  const auto c = parse(grid());
  EXPECT_EQ(c.start_axis, -1);
  ASSERT_EQ(c.starts.size(), 1u);
  EXPECT_EQ(c.initial().kind, ns::InitialKind::kCold);
}

TEST(StartAxisSpec, DropAxisIsTheIndexWithoutTheAxis) {
  for (int pos = 0; pos < 3; ++pos) {
    json j = grid();
    j["axes"].insert(j["axes"].begin() + pos, json::parse(R"({"kind": "categorical", "starts": ["cold", {"thermalize": "1 s"}, {"thermalize": "2 s"}]})"));
    const auto r = parse(j);
    const auto base = parse(grid());
    for (uint64_t i = 0; i < r.sweep.size(); ++i) {
      auto d = r.sweep.decode(i);
      d.erase(d.begin() + pos);
      ASSERT_EQ(r.sweep.drop_axis(i, static_cast<size_t>(pos)), base.sweep.encode(d)) << "pos " << pos << " i " << i;
    }
  }
}

TEST(StartAxisSpec, BadStartsNameKeyAndValue) {
  auto with_axis = [](const json& starts, const json& extra = json::object()) {
    json j = grid();
    json a = {{"kind", "categorical"}, {"starts", starts}};
    a.update(extra);
    j["axes"].push_back(a);
    return j;
  };
  struct Case {
    json spec;
    std::vector<std::string> want;
  };
  json both = with_axis({"cold"});
  both["initial"] = {{"thermalize", "1 s"}};
  json two = with_axis({"cold"});
  two["axes"].push_back({{"kind", "categorical"}, {"name", "start2"}, {"starts", {"cold", {{"thermalize", "1 s"}}}}});
  json point = json::parse(R"({"model": "iaf_psc_alpha", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s",
    "axes": [{"kind": "categorical", "starts": ["cold", {"thermalize": "1 s"}]}]})");
  json sample = json::parse(R"({"model": "stg", "dt": "0.05 ms", "transient": "0 ms", "analysis": "1 s", "combine": "sample",
    "axes": [{"kind": "random", "count": 4, "params": {"gNa": {"low": 0, "high": 500}}},
             {"kind": "categorical", "starts": ["cold", {"thermalize": "1 s"}]}]})");
  const std::vector<Case> cases = {
      {with_axis({"warm"}), {"axes[2].starts[0]", "\"warm\"", "\"cold\", {\"thermalize\": duration}"}},
      {with_axis({{{"thermalise", "5 s"}}}), {"axes[2].starts[0].thermalise", "unknown key", "thermalize"}},
      {with_axis({{{"thermalize", "-1 s"}}}), {"axes[2].starts[0].thermalize", "-1 s", ">= 0"}},
      {with_axis({{{"thermalize", 5}}}), {"axes[2].starts[0].thermalize", "duration with a unit"}},
      {with_axis({{{"thermalize", "0.01 ms"}}}), {"axes[2].starts[0].thermalize", "whole number of steps"}},
      {with_axis({{{"from_database", "nope/missing.h5"}}}), {"axes[2].starts[0].from_database", "nope/missing.h5", "existing database file"}},
      {with_axis({{{"V", -60}}}), {"axes[2].starts[0]", "missing state variables", "Ca"}},
      {with_axis({"cold", "cold"}), {"axes[2].starts[1]", "distinct start labels", "\"label\""}},
      {with_axis(json::array()), {"axes[2].starts", "non-empty"}},
      {with_axis({"cold"}, {{"presets", {"ABPD1"}}}), {"axes[2]", "both \"presets\" and \"starts\""}},
      {with_axis({{{"thermalize", "1 s"}, {"label", ""}}}), {"axes[2].starts[0].label", "non-empty"}},
      {both, {"initial", "no \"initial\" with a start axis", "axes[2]"}},
      {two, {"axes[3]", "second start axis", "axes[2]"}},
      {point, {"axes[0].starts[1].thermalize", "iaf_psc_alpha", "no thermalised start"}},
      {sample, {"axes[1].kind", "\"random\" or \"sobol\""}},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.spec);
    for (const auto& w : c.want) EXPECT_NE(e.find(w), std::string::npos) << "want '" << w << "' in: " << e;
  }
}

// ---- builds ----------------------------------------------------------------------------------
// The value test: one build with a start axis (cold, thermalised 2 s, explicit, from a database)
// equals, start by start, the four builds with that start as "initial": every column, bit for bit.
TEST_F(StartAxis, EachStartEqualsItsSingleSettingBuild) {
  const auto warm = build("warm", [] {  // final states after 6 s from cold: the "database" start
    json j = grid();
    j["transient"] = "2 s";
    return j;
  }());
  json ax = grid();
  ax["axes"].insert(ax["axes"].begin() + 1,
                    json{{"kind", "categorical"},
                         {"starts", {"cold", {{"thermalize", "2 s"}}, kExplicit, {{"from_database", warm.string()}}}}});
  const auto axis_db = build("axis", ax);
  const std::vector<std::pair<std::string, json>> single = {{"cold", "cold"},
                                                            {"thermalize_2s", {{"thermalize", "2 s"}}},
                                                            {"explicit", kExplicit},
                                                            {"database_warm", {{"from_database", warm.string()}}}};
  std::vector<std::string> seen;
  for (const auto& [label, init] : single) {
    json j = grid();
    j["initial"] = init;
    const auto one = build("one_" + label, j);
    const std::string want = rows(one), got = rows(axis_db, "start == '" + label + "'");
    EXPECT_GT(std::count(want.begin(), want.end(), '\n'), 35) << want;  // header + 35 rows
    EXPECT_EQ(got, want) << label;
    seen.push_back(want);
  }
  // the starts matter here (else the test could not tell them apart)
  for (size_t a = 0; a < seen.size(); ++a)
    for (size_t b = a + 1; b < seen.size(); ++b) EXPECT_NE(seen[a], seen[b]) << a << " vs " << b;
  // stored: the /axes entry, the enum column, the attributes
  const auto info = cli("info " + axis_db.string());
  EXPECT_NE(info.out.find("initial: axis:start"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("starts: [{\"kind\":\"cold\",\"label\":\"cold\"},{\"kind\":\"thermalized\",\"label\":\"thermalize_2s\",\"thermalize_ms\":2000.0}"), std::string::npos) << info.out;
}

// Independent of the start code: a thermalised single neuron is, by definition, the neuron
// integrated T longer from cold, so {"thermalize": "2 s"} + 1 s transient = cold + 3 s transient.
TEST_F(StartAxis, ThermalisedNeuronEqualsALongerTransient) {
  json t = grid();
  t["initial"] = {{"thermalize", "2 s"}};
  json l = grid();
  l["transient"] = "3 s";
  EXPECT_EQ(rows(build("t", t)), rows(build("l", l)));
}

// Circuits: cold and two thermalisation times on one axis equal their single-setting builds
// (P04 thermalised starts: each distinct cell alone for T, one ThermalCache per T).
TEST_F(StartAxis, CircuitStartsEqualTheirSingleSettingBuilds) {
  const json base = json::parse(R"({"model": "pyloric", "dt": "0.05 ms", "transient": "500 ms", "analysis": "2 s",
    "axes": [{"kind": "categorical", "name": "LP", "presets": ["LP1", "LP4"]},
             {"kind": "grid", "param": "g_PYLP", "values": [3, 100]}],
    "classifier": {"slowest_period_ms": 1000}, "output": {"spikes": 50}})");
  json ax = base;
  ax["axes"].push_back(json::parse(R"({"kind": "categorical", "starts": ["cold", {"thermalize": "300 ms"}, {"thermalize": "1 s"}]})"));
  const auto axis_db = build("axis", ax);
  std::vector<std::string> seen;
  for (const auto& [label, init] : std::vector<std::pair<std::string, json>>{
           {"cold", "cold"}, {"thermalize_300ms", {{"thermalize", "300 ms"}}}, {"thermalize_1s", {{"thermalize", "1 s"}}}}) {
    json j = base;
    j["initial"] = init;
    const std::string want = rows(build("one_" + label, j));
    EXPECT_EQ(rows(axis_db, "start == '" + label + "'"), want) << label;
    seen.push_back(want);
  }
  EXPECT_NE(seen[0], seen[1]);
  EXPECT_NE(seen[1], seen[2]);
}

// Thread count, chunk size (chunks that split the start axis), shards and a resume give the same
// database, the start column included.
TEST_F(StartAxis, SameWhateverThreadsChunksShardsAndResume) {
  const auto warm = build("warm", grid());
  json ax = grid();
  ax["axes"].push_back(json{{"kind", "categorical"},  // fastest axis: every chunk mixes the starts
                            {"starts", {{{"thermalize", "1 s"}}, "cold", {{"from_database", warm.string()}}}}});
  const auto a = build("a", ax, "--threads 1 --chunk 64");
  const auto b = build("b", ax, "--threads 2 --chunk 7");
  const auto spec = dir / "a.json";
  for (int k = 0; k < 3; ++k)
    ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "c.h5").string() + " -q --chunk 5 --shard " + std::to_string(k) + "/3").code, 0);
  ASSERT_EQ(cli("merge " + (dir / "c.shard-0-of-3.h5").string() + " " + (dir / "c.shard-1-of-3.h5").string() + " " +
                (dir / "c.shard-2-of-3.h5").string() + " -o " + (dir / "c.h5").string()).code, 0);
  const auto d = dir / "d.h5";
  ASSERT_EQ(cli("run " + spec.string() + " -o " + d.string() + " -q --chunk 11 --stop-after-chunks 4").code, 0);
  EXPECT_FALSE(fs::exists(d));
  const auto r = cli("run " + spec.string() + " -o " + d.string() + " -q --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  auto all = [&](const fs::path& db) {
    const auto q = cli("query " + db.string() + " --format csv");
    EXPECT_EQ(q.code, 0) << q.err;
    return q.out;
  };
  const std::string ref = all(a);
  EXPECT_NE(ref.find(",thermalize_1s,"), std::string::npos);
  EXPECT_EQ(all(b), ref);
  EXPECT_EQ(all(dir / "c.h5"), ref);
  EXPECT_EQ(all(d), ref);
}

// A start from a database: the row of the same index in the sweep without the start axis, whose
// stored parameters must be the instance's; every other database is refused, naming it.
TEST_F(StartAxis, DatabaseStartChecksSizeAndParameters) {
  json other = grid();  // same size, other gKd values
  other["axes"][1]["values"] = {20, 50, 75, 100, 125, 150, 175};
  const auto wrong_params = build("wrong_params", other);
  json small = grid();
  small["axes"][0]["linspace"]["count"] = 4;
  const auto wrong_size = build("wrong_size", small);
  json nofs = grid();
  nofs["output"] = json::object();
  const auto no_state = build("no_state", nofs);
  for (const auto& [db, want] : std::vector<std::pair<fs::path, std::vector<std::string>>>{
           {wrong_params, {"axes[2].starts[1] (\"database_wrong_params\")", "instance 1 has gKd = 25", "row 0", "20"}},
           {wrong_size, {"it has 28 instances", "without its start axis has 35"}},
           {no_state, {"no dataset /final_state/V", "output.final_state"}}}) {
    json ax = grid();
    ax["axes"].push_back(json{{"kind", "categorical"}, {"starts", {"cold", {{"from_database", db.string()}}}}});
    const auto spec = write("ax.json", ax);
    const auto r = cli("run " + spec.string() + " -o " + (dir / "x.h5").string() + " -q");
    EXPECT_NE(r.code, 0);
    for (const auto& w : want) EXPECT_NE(r.err.find(w), std::string::npos) << "want '" << w << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(dir / "x.h5"));
  }
}

// The probe from another database (issue 14): the second run starts from that database's final
// states (the start-axis matching rule); its label is the label of the build that starts there.
TEST_F(StartAxis, ProbeFromADatabaseIsThatStart) {
  const auto warm = build("warm", [] {
    json j = grid();
    j["transient"] = "2 s";
    return j;
  }());
  json p = grid();
  p["probe"] = {{"from_database", "warm.h5"}};  // relative to the spec file's directory
  const auto probed = build("probed", p);
  json o = grid();
  o["initial"] = {{"from_database", warm.string()}};
  const auto other = build("other", o);
  const auto a = cli("query " + probed.string() + " --columns label_probe --format csv");
  const auto b = cli("query " + other.string() + " --columns label --format csv");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out.substr(a.out.find('\n')), b.out.substr(b.out.find('\n')));
  const auto c = cli("query " + probed.string() + " --columns label --format csv");
  EXPECT_NE(c.out.substr(c.out.find('\n')), b.out.substr(b.out.find('\n')));  // the probe differs from the build
  // a database of other parameters is refused, naming the probe
  json q = grid();
  q["axes"][1]["values"] = {20, 50, 75, 100, 125, 150, 175};
  const auto wrong = build("wrong", q);
  p["probe"] = {{"from_database", wrong.string()}};
  const auto r = cli("run " + write("bad.json", p).string() + " -o " + (dir / "bad.h5").string() + " -q");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("probe.from_database"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gKd = 25"), std::string::npos) << r.err;
  p["probe"] = {{"from_database", "missing.h5"}};
  const auto m = cli("run " + write("bad.json", p).string() + " -o " + (dir / "bad.h5").string() + " -q");
  EXPECT_NE(m.code, 0);
  EXPECT_NE(m.err.find("probe.from_database: got \"missing.h5\""), std::string::npos) << m.err;
}

// Random and Sobol draws ignore a start axis (it sets no parameter): the sweep with it draws, at
// every other digit, what the sweep without it draws, so database starts can match by index.
TEST(StartAxisSpec, RandomAndSobolDrawsIgnoreTheStartAxis) {
  const json base = json::parse(R"({"model": "stg", "dt": "0.05 ms", "transient": "0 ms", "analysis": "1 s", "seed": 5,
    "axes": [{"kind": "random", "count": 4, "params": {"gNa": {"low": 0, "high": 500}}},
             {"kind": "sobol", "count": 8, "params": {"gKd": {"low": 0, "high": 125}, "gCaS": {"low": 0, "high": 10}}}]})");
  const auto without = parse(base);
  for (int pos = 0; pos < 3; ++pos) {
    json j = base;
    j["axes"].insert(j["axes"].begin() + pos, json::parse(R"({"kind": "categorical", "starts": ["cold", {"thermalize": "1 s"}]})"));
    const auto with = parse(j);
    for (uint64_t i = 0; i < with.sweep.size(); ++i)
      ASSERT_EQ(with.sweep.params_of(i), without.sweep.params_of(with.sweep.drop_axis(i, static_cast<size_t>(pos))))
          << "start axis at " << pos << ", instance " << i;
  }
}
