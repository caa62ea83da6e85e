// The model registry and the facts each model header declares (issue 12): kinds, the registry and
// classifier choice generated from NS_FOR_EACH_MODEL, NEST's start states, NEST's parameter rules
// (every one rejected with the parameter named), validation of fixed / parameter_file / -p / axes,
// stg_circuit topology, the dt rule, NEST's grid arithmetic for t_ref, negative Poisson weights.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "classify/classify_point.hpp"
#include "errors.hpp"
#include "models/describe.hpp"
#include "neurosweep/models.hpp"
#include "run/simulate.hpp"
#include "spec/circuit.hpp"
#include "spec/nest_params.hpp"
#include "spec/spec.hpp"
#include "spec/validate.hpp"

namespace {

using ns::ModelDesc;
using ns::ModelKind;

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no SpecError thrown; expected one containing \"" << needles.at(0) << "\"";
  } catch (const ns::SpecError& e) {
    const std::string m = e.what();
    for (const auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "missing \"" << n << "\" in: " << m;
  }
}

std::string spec_with(const std::string& model, const std::string& extra, const std::string& dt = "0.1 ms") {
  return R"({"model": ")" + model + R"(", "dt": ")" + dt + R"(", "transient": "0 ms", "analysis": "200 ms")" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// ---- kinds and the registry from the one list ------------------------------------------------

TEST(Registry, EveryListedModelIsRegisteredInListOrderWithItsHeadersKind) {
  std::vector<std::string> names;
  std::vector<ModelKind> kinds;
#define NS_COLLECT(M)        \
  names.push_back(M::kName); \
  kinds.push_back(M::kKind);
  NS_FOR_EACH_MODEL(NS_COLLECT)
#undef NS_COLLECT
  EXPECT_EQ(ns::model_names(), names);
  for (size_t i = 0; i < names.size(); ++i) {
    const ModelDesc* m = ns::find_model(names[i]);
    ASSERT_NE(m, nullptr) << names[i];
    EXPECT_EQ(m->kind, kinds[i]) << names[i];
    // The classifier choice follows the kind: point neurons get the point classifier.
    EXPECT_EQ(ns::is_point_model(names[i]), kinds[i] == ModelKind::kPointNeuron) << names[i];
    EXPECT_EQ(ns::is_circuit_model(names[i]), kinds[i] == ModelKind::kCircuit) << names[i];
  }
  EXPECT_EQ(ns::find_model("stg")->kind, ModelKind::kConductanceNeuron);
  EXPECT_EQ(ns::find_model("glif_psc")->kind, ModelKind::kPointNeuron);
  EXPECT_EQ(ns::find_model("pyloric")->kind, ModelKind::kCircuit);
  EXPECT_EQ(ns::find_model("stg")->presets.size(), 16u);  // from StgModel::kPresets (P04 Table 2)
}

TEST(Registry, EveryDefaultLiesInItsRange) {
  for (const auto& n : ns::model_names()) {
    const ModelDesc& m = *ns::find_model(n);
    EXPECT_EQ(ns::params_violation(m, m.defaults().data()), "") << n;
  }
}

// ---- NEST start states ----------------------------------------------------------------------

// Cold start with default parameters, in double.
template <class M>
std::vector<double> cold_start(const std::vector<double>& p, double dt = 0.1) {
  std::vector<double> d(M::kNumDerived), s(M::kNumState);
  M::template derive<double>(ns::Strided<const double>{p.data(), 1}, d.data(), dt);
  M::template init<double>(d.data(), s.data());
  return s;
}

TEST(StartState, EveryNeuronsInitMatchesItsStateTable) {
  int checked = 0;
  auto one = [&](auto* tag) {
    using M = std::remove_pointer_t<decltype(tag)>;
    if constexpr (M::kKind != ModelKind::kCircuit && !ns::concept_detail::has_host_described<M>::value) {
      const ModelDesc& m = *ns::find_model(M::kName);
      const auto s = cold_start<M>(m.defaults());
      for (int k = 0; k < M::kNumState; ++k) {
        if (!std::isfinite(M::kState[k].initial)) continue;
        EXPECT_NEAR(s[k], M::kState[k].initial, 1e-12 * (1 + std::fabs(M::kState[k].initial)))
            << M::kName << " " << M::kState[k].name;
        ++checked;
      }
    }
  };
#define NS_ONE(M) one(static_cast<M*>(nullptr));
  NS_FOR_EACH_MODEL(NS_ONE)
#undef NS_ONE
  EXPECT_GT(checked, 40);
}

// NEST's State_ constructors (nest-simulator 84b06d8d, models/<name>.cpp, State_::State_):
// iaf_psc_*: V relative to E_L = 0, E_L default -70; aeif_cond_*: y_[0] = p.E_L (default -70.6),
// w = 0; izhikevich: v = -65, u = 0.2 * -65; hh_psc_alpha: V = -65 (not E_L), gates
// alpha / (alpha + beta) at -65 mV; glif_psc: U = 0 relative to E_L (default -78.85).
TEST(StartState, DefaultStartStatesAreNESTs) {
  struct Case {
    const char* model;
    const char* state;
    double nest;
  } cases[] = {
      {"iaf_psc_alpha", "V_m", -70.0}, {"iaf_psc_exp", "V_m", -70.0}, {"iaf_psc_delta", "V_m", -70.0},
      {"aeif_cond_exp", "V_m", -70.6}, {"aeif_cond_exp", "w", 0.0},   {"aeif_cond_alpha", "V_m", -70.6},
      {"aeif_cond_alpha", "w", 0.0},   {"izhikevich", "V_m", -65.0},  {"izhikevich", "U_m", -13.0},
      {"hh_psc_alpha", "V_m", -65.0},  {"glif_psc", "V_m", -78.85},
      // 0.1*-25/(1-e^2.5) / (that + 4);  0.07 / (0.07 + 1/(1+e^3));  0.1/(1-e^-1) / (that + 0.125)
      {"hh_psc_alpha", "Act_m", 0.05293248525724958}, {"hh_psc_alpha", "Inact_h", 0.5961207535084603},
      {"hh_psc_alpha", "Act_n", 0.3176769140606974},
  };
  for (const auto& c : cases) {
    const ModelDesc& m = *ns::find_model(c.model);
    int k = -1;
    for (size_t q = 0; q < m.state.size(); ++q)
      if (std::string(m.state[q].name) == c.state) k = static_cast<int>(q);
    ASSERT_GE(k, 0) << c.model << " " << c.state;
    EXPECT_NEAR(m.state[static_cast<size_t>(k)].initial, c.nest, 1e-15) << c.model << " " << c.state;
  }
  // And the engine's cold start (not only the table) for one model of each family.
  const double alpha_m = 0.1 * -25 / (1 - std::exp(2.5));  // NEST: 0.1 (V + 40) / (1 - e^{-(V + 40)/10}), V = -65
  EXPECT_NEAR(cold_start<ns::HhPscAlphaModel>(ns::find_model("hh_psc_alpha")->defaults())[1],
              alpha_m / (alpha_m + 4.0), 1e-14);
  EXPECT_EQ(cold_start<ns::AeifCondExpModel>(ns::find_model("aeif_cond_exp")->defaults())[0], -70.6);
  EXPECT_EQ(cold_start<ns::GlifPscModel>(ns::find_model("glif_psc")->defaults())[0], -78.85);
}

// NEST keeps V_m at the model's default when E_L is set (State_::set subtracts delta_EL); V_m given
// explicitly is the start value.
TEST(StartState, VmStaysAtNESTsDefaultWhenELChangesAndFollowsAnExplicitVm) {
  const ModelDesc& m = *ns::find_model("iaf_psc_alpha");
  auto p = m.defaults();
  p[ns::IafPscAlphaModel::E_L] = -65.0;
  EXPECT_EQ(cold_start<ns::IafPscAlphaModel>(p)[ns::IafPscAlphaModel::V], -70.0);
  p[ns::IafPscAlphaModel::V_m] = -60.0;
  EXPECT_EQ(cold_start<ns::IafPscAlphaModel>(p)[ns::IafPscAlphaModel::V], -60.0);
  const ModelDesc& g = *ns::find_model("glif_psc");
  auto q = g.defaults();
  q[ns::GlifPscModel::E_L] = -70.0;
  EXPECT_EQ(cold_start<ns::GlifPscModel>(q)[ns::GlifPscModel::V], -78.85);
  const ModelDesc& a = *ns::find_model("aeif_cond_alpha");
  auto r = a.defaults();
  r[ns::AeifCondAlphaModel::E_L] = -65.0;
  r[ns::AeifCondAlphaModel::w] = 12.5;
  const auto s = cold_start<ns::AeifCondAlphaModel>(r);
  EXPECT_EQ(s[ns::AeifCondAlphaModel::V], -70.6);
  EXPECT_EQ(s[ns::AeifCondAlphaModel::W], 12.5);
}

// Start states are parameters: settable in fixed, axes and -p (before: "not a parameter").
TEST(StartState, VmIsSettableInFixedAxesAndParam) {
  const auto r = ns::parse_spec_text(
      spec_with("iaf_psc_alpha", R"("fixed": {"V_m": -66}, "axes": [{"kind": "grid", "param": "E_L", "values": [-72, -68]}])"),
      "s.json");
  EXPECT_EQ(r.sweep.params_of(1)[ns::IafPscAlphaModel::V_m], -66.0);
  const auto r2 = ns::parse_spec_text(
      spec_with("aeif_cond_exp", R"("axes": [{"kind": "list", "param": "V_m", "values": [-80, -60]}])"), "s.json");
  EXPECT_EQ(r2.sweep.params_of(1)[ns::AeifCondExpModel::V_m], -60.0);
  const auto p = ns::resolve_params(*ns::find_model("izhikevich"), "", "", {"V_m=-70", "U_m=-14"});
  EXPECT_EQ(p[ns::IzhikevichModel::V_m], -70.0);
  EXPECT_EQ(p[ns::IzhikevichModel::U_m], -14.0);
}

// ---- NEST's rules ----------------------------------------------------------------------------

// A value just outside each declared range must be rejected with the parameter and rule named.
TEST(NestRules, EveryRangedParameterOfEveryModelIsRejectedOutsideItsRange) {
  int n = 0;
  for (const auto& name : ns::model_names()) {
    const ModelDesc& m = *ns::find_model(name);
    for (size_t k = 0; k < m.params.size(); ++k) {
      const ns::Range& r = m.params[k].range;
      if (!r.bounded() || ns::is_hidden_name(m.params[k].name)) continue;  // hidden: not settable
      std::vector<double> bad;
      if (std::isfinite(r.lo)) bad.push_back(r.lo_open ? r.lo : r.lo - 1.0);
      if (std::isfinite(r.hi)) bad.push_back(r.hi_open ? r.hi : r.hi + 1.0);
      if (r.integer) bad.push_back((std::isfinite(r.lo) ? r.lo : 0.0) + 0.5);
      for (double x : bad) {
        auto p = m.defaults();
        p[k] = x;
        const std::string v = ns::params_violation(m, p.data());
        EXPECT_NE(v.find(std::string("parameter ") + m.params[k].name), std::string::npos) << name << ": " << v;
        EXPECT_NE(v.find(ns::range_text(m.params[k])), std::string::npos) << name << ": " << v;
        ++n;
      }
    }
  }
  EXPECT_GT(n, 100);
}

TEST(NestRules, TheRulesOfNESTsParametersSetAreDeclared) {
  // NEST models/*.cpp Parameters_::set (nest-simulator 84b06d8d): the quoted BadProperty checks.
  struct Case {
    const char* model;
    const char* param;
    const char* rule;
  } cases[] = {
      {"iaf_psc_alpha", "C_m", "C_m > 0"},         {"iaf_psc_alpha", "tau_m", "tau_m > 0"},
      {"iaf_psc_alpha", "tau_syn_ex", "tau_syn_ex > 0"}, {"iaf_psc_alpha", "t_ref", "t_ref >= 0"},
      {"iaf_psc_exp", "C_m", "C_m > 0"},           {"iaf_psc_exp", "tau_syn_in", "tau_syn_in > 0"},
      {"iaf_psc_exp", "rho", "rho >= 0"},          {"iaf_psc_exp", "delta", "delta >= 0"},
      {"iaf_psc_delta", "tau_m", "tau_m > 0"},     {"iaf_psc_delta", "t_ref", "t_ref >= 0"},
      {"aeif_cond_exp", "Delta_T", "Delta_T >= 0"}, {"aeif_cond_exp", "tau_w", "tau_w > 0"},
      {"aeif_cond_alpha", "gsl_error_tol", "gsl_error_tol > 0"}, {"aeif_cond_alpha", "t_ref", "t_ref >= 0"},
      {"hh_psc_alpha", "g_Na", "g_Na >= 0"},       {"hh_psc_alpha", "g_L", "g_L >= 0"},
      {"hh_psc_alpha", "C_m", "C_m > 0"},          {"glif_psc", "t_ref", "t_ref > 0"},
      {"glif_psc", "g", "g > 0"},                  {"glif_psc", "tau_syn_1", "tau_syn_1 > 0"},
      {"stg", "temperature", "temperature > 0"},   {"stg", "gNa", "gNa >= 0"},
      {"stg", "area", "area > 0"},                 {"stg_circuit", "n_cells", "1 <= n_cells <= 16"},
  };
  for (const auto& c : cases) {
    const ModelDesc& m = *ns::find_model(c.model);
    const int k = m.param_index(c.param);
    ASSERT_GE(k, 0) << c.model << " " << c.param;
    EXPECT_NE(ns::range_text(m.params[static_cast<size_t>(k)]).find(c.rule), std::string::npos)
        << c.model << " " << c.param << ": " << ns::range_text(m.params[static_cast<size_t>(k)]);
  }
}

TEST(NestRules, CrossParameterRulesAreRejectedWithTheirParametersAndValues) {
  struct Case {
    const char* model;
    std::vector<std::pair<const char*, double>> set;
    std::vector<std::string> needles;
  } cases[] = {
      {"iaf_psc_alpha", {{"V_reset", -55}}, {"V_reset < V_th", "V_reset = -55 mV", "V_th = -55 mV"}},
      {"iaf_psc_exp", {{"V_reset", -50}}, {"V_reset < V_th", "V_reset = -50 mV"}},
      {"iaf_psc_delta", {{"V_th", -80}}, {"V_reset < V_th", "V_th = -80 mV"}},
      {"aeif_cond_exp", {{"V_peak", -60}}, {"V_peak >= V_th", "V_peak = -60 mV", "V_th = -50.4 mV"}},
      {"aeif_cond_alpha", {{"V_reset", 0.0}}, {"V_reset < V_peak", "V_reset = 0 mV"}},
      {"aeif_cond_exp", {{"Delta_T", 0.01}, {"V_peak", 100}}, {"Delta_T", "663.73", "V_peak = 100 mV"}},
      {"glif_psc", {{"adapting_threshold", 1}}, {"adapting_threshold = 1 needs", "spike_dependent_threshold = 0"}},
      {"glif_psc", {{"V_reset", -40}}, {"V_reset < V_th", "V_reset = -40 mV", "V_th = -51.68 mV"}},
      {"glif_psc", {{"after_spike_currents", 1}, {"asc_r_0", 1.5}}, {"asc_r_0 <= 1", "asc_r_0 = 1.5"}},
      {"glif_psc", {{"after_spike_currents", 1}, {"asc_decay_1", 0}}, {"asc_decay_1 > 0", "asc_decay_1 = 0 1/ms"}},
      {"glif_psc", {{"spike_dependent_threshold", 1}, {"th_spike_decay", 0}}, {"th_spike_decay > 0"}},
      {"glif_psc", {{"spike_dependent_threshold", 1}, {"voltage_reset_fraction", 2}}, {"voltage_reset_fraction <= 1"}},
      {"glif_psc",
       {{"spike_dependent_threshold", 1}, {"after_spike_currents", 1}, {"adapting_threshold", 1}, {"th_voltage_decay", 0}},
       {"th_voltage_decay > 0"}},
  };
  for (const auto& c : cases) {
    const ModelDesc& m = *ns::find_model(c.model);
    auto p = m.defaults();
    EXPECT_EQ(ns::params_violation(m, p.data()), "") << c.model;
    for (const auto& [n, v] : c.set) p[static_cast<size_t>(m.param_index(n))] = v;
    const std::string msg = ns::params_violation(m, p.data());
    EXPECT_NE(msg.find(std::string("model \"") + c.model + "\" requires"), std::string::npos) << msg;
    for (const auto& nd : c.needles) EXPECT_NE(msg.find(nd), std::string::npos) << c.model << ": " << msg;
  }
  // The GLIF levels NEST accepts (1..5) pass.
  const ModelDesc& g = *ns::find_model("glif_psc");
  for (auto f : {std::vector<double>{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 1, 1}}) {
    auto p = g.defaults();
    p[ns::GlifPscModel::spike_dependent_threshold] = f[0];
    p[ns::GlifPscModel::after_spike_currents] = f[1];
    p[ns::GlifPscModel::adapting_threshold] = f[2];
    EXPECT_EQ(ns::params_violation(g, p.data()), "");
  }
}

// ---- validation before any work: fixed, parameter_file, -p, axes ------------------------------

TEST(Validation, FixedValuesAreCheckedWithFileKeyValueAndRule) {
  expect_error([] { ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("fixed": {"C_m": -250})"), "f.json"); },
               {"f.json", "fixed.C_m", "-250", "C_m > 0", "NEST models/iaf_psc_alpha.cpp"});
  expect_error([] { ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("fixed": {"V_reset": -50})"), "f.json"); },
               {"f.json", "V_reset < V_th", "V_reset = -50 mV (fixed.V_reset)", "V_th = -55 mV (default)"});
  expect_error([] { ns::parse_spec_text(spec_with("stg", R"("fixed": {"temperature": -300})"), "t.json"); },
               {"t.json", "fixed.temperature", "-300", "temperature > 0"});
}

TEST(Validation, ParameterFileValuesAreCheckedWithFileKeyValueAndRule) {
  const auto dir = std::filesystem::temp_directory_path() / "ns_models_test";
  std::filesystem::create_directories(dir);
  const auto f = (dir / "bad_cm.json").string();
  std::ofstream(f) << R"({"C_m": 250.0, "tau_m": -10.0})";
  expect_error([&] { ns::load_dynamics_params(*ns::find_model("iaf_psc_alpha"), f); },
               {f, "'tau_m'", "-10", "tau_m > 0"});
  const auto g = (dir / "bad_reset.json").string();
  std::ofstream(g) << R"({"V_reset": -40.0})";
  const auto spec = (dir / "s.json").string();
  std::ofstream(spec) << spec_with("iaf_psc_alpha", R"("parameter_file": "bad_reset.json")");
  expect_error([&] { ns::load_spec(spec); }, {spec, "V_reset < V_th", "V_reset = -40 mV (parameter_file bad_reset.json)"});
  // V_m in a NEST/BMTK file is the start value (was "unknown parameter").
  const auto h = (dir / "vm.json").string();
  std::ofstream(h) << R"({"V_m": -65.5, "E_L": -71.0})";
  const auto p = ns::load_dynamics_params(*ns::find_model("iaf_psc_alpha"), h);
  EXPECT_EQ(p[ns::IafPscAlphaModel::V_m], -65.5);
}

TEST(Validation, SimulateParamIsChecked) {
  expect_error([] { ns::resolve_params(*ns::find_model("glif_psc"), "", "", {"t_ref=0"}); },
               {"--param t_ref", "t_ref > 0", "NEST models/glif_psc.cpp"});
  expect_error([] { ns::resolve_params(*ns::find_model("aeif_cond_exp"), "", "", {"V_peak=-55"}); },
               {"--param", "V_peak >= V_th", "V_peak = -55 mV"});
}

TEST(Validation, EveryAxisValueIsChecked) {
  expect_error([] {
    ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("axes": [{"kind": "grid", "param": "t_ref", "values": [2, 1, -1]}])"), "a.json");
  }, {"a.json", "axes[0]", "value 2", "t_ref = -1 ms", "t_ref >= 0"});
  expect_error([] {
    ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("axes": [{"kind": "linked", "params": {"C_m": [100, 0], "tau_m": [5, 10]}}])"), "a.json");
  }, {"axes[0].params.C_m[1]", "C_m = 0 pF", "C_m > 0"});
  expect_error([] {
    ns::parse_spec_text(spec_with("hh_psc_alpha", R"("axes": [{"kind": "random", "count": 10, "params": {"g_K": {"low": -5, "high": 100}}}])"), "a.json");
  }, {"axes[0].params.g_K", "[-5, 100]", "g_K >= 0"});
  expect_error([] {
    ns::parse_spec_text(spec_with("stg", R"("axes": [{"kind": "sobol", "count": 8, "params": {"area": {"low": 0, "high": 1e-3}}}])"), "a.json");
  }, {"axes[0].params.area", "area > 0"});
  expect_error([] {
    ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("axes": [{"kind": "categorical", "presets": [{"name": "ok", "params": {"tau_m": 5}}, {"name": "neg", "params": {"tau_m": -5}}]}])"), "a.json");
  }, {"axes[0].presets[1] (\"neg\")", "tau_m = -5 ms", "tau_m > 0"});
  // A cross rule broken only by some instances of a product: the first such instance is named.
  expect_error([] {
    ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("axes": [{"kind": "grid", "param": "V_reset", "values": [-70, -60]}, {"kind": "grid", "param": "V_th", "values": [-55, -65]}])"), "a.json");
  }, {"instance 3 of the sweep", "V_reset < V_th", "V_reset = -60 mV (axes[0])", "V_th = -65 mV (axes[1])"});
  // Above 2^24 instances the rules are checked on the axis values and range ends (a huge random axis
  // is not enumerated): V_reset drawn up to -50 mV against V_th = -55 mV.
  expect_error([] {
    ns::parse_spec_text(spec_with("iaf_psc_alpha", R"("axes": [{"kind": "random", "count": 1000000000000, "params": {"V_reset": {"low": -80, "high": -50}}}])"), "a.json");
  }, {"a.json", "range ends", "V_reset < V_th", "V_reset = -50 mV (axes[0])"});
  EXPECT_NO_THROW(ns::parse_spec_text(
      spec_with("iaf_psc_alpha", R"("axes": [{"kind": "random", "count": 1000000000000, "params": {"V_reset": {"low": -80, "high": -56}}}])"), "a.json"));
  // Admissible sweeps pass.
  EXPECT_NO_THROW(ns::parse_spec_text(
      spec_with("iaf_psc_alpha", R"("axes": [{"kind": "grid", "param": "V_reset", "values": [-70, -60]}, {"kind": "grid", "param": "V_th", "values": [-55, -50]}])"), "a.json"));
}

// Issue 13 finding 3: circuit topology out of range or non-integer is refused, never clamped.
TEST(Validation, StgCircuitTopologyIsRefusedNotClamped) {
  expect_error([] { ns::parse_spec_text(spec_with("stg_circuit", R"("fixed": {"n_cells": 2.5})", "0.05 ms"), "c.json"); },
               {"fixed.n_cells", "a whole number", "1 <= n_cells <= 16"});
  expect_error([] { ns::parse_spec_text(spec_with("stg_circuit", R"("fixed": {"n_cells": 17})", "0.05 ms"), "c.json"); },
               {"fixed.n_cells", "17", "n_cells <= 16"});
  expect_error([] { ns::parse_spec_text(spec_with("stg_circuit", R"("fixed": {"pre_syn0": -1})", "0.05 ms"), "c.json"); },
               {"fixed.pre_syn0", "0 <= pre_syn0 <= 15"});
  expect_error([] { ns::parse_spec_text(spec_with("stg_circuit", R"("fixed": {"type_syn3": 2})", "0.05 ms"), "c.json"); },
               {"fixed.type_syn3", "0 <= type_syn3 <= 1"});
  expect_error([] {
    ns::parse_spec_text(spec_with("stg_circuit", R"("fixed": {"n_cells": 2, "n_synapses": 1, "post_syn0": 3})", "0.05 ms"), "c.json");
  }, {"post_syn0 < n_cells", "post_syn0 = 3", "n_cells = 2"});
  EXPECT_NO_THROW(ns::parse_spec_text(
      spec_with("stg_circuit", R"("fixed": {"n_cells": 2, "n_synapses": 1, "pre_syn0": 1, "post_syn0": 0})", "0.05 ms"), "c.json"));
}

TEST(Validation, DtMustResolveSpikesAndLeaveEnoughStepsPerAnalysisWindow) {
  expect_error([] { ns::parse_spec_text(spec_with("stg", "", "300 ms"), "d.json"); }, {"d.json", "dt", "dt <= 1 ms"});
  expect_error([] { ns::parse_spec_text(spec_with("stg", "", "0.5 ms"), "d.json"); },
               {"d.json", "dt", "at least 1000 steps", "400 steps"});
  EXPECT_NO_THROW(ns::parse_spec_text(spec_with("stg", "", "0.2 ms"), "d.json"));  // 1000 steps in 200 ms
}

// ---- grid arithmetic: NEST's Time(ms(t)).get_steps() in double, whatever the precision -------------

// NEST nestkernel/nest_time.h: tics = (long)(t * 1000 + 0.5); steps = (tics + tps - 1) / tps with
// tps = dt * 1000 tics per step (integer arithmetic here, independent of ns::point::grid_steps).
long nest_steps(double t_ms, double dt_ms) {
  const long tics = static_cast<long>(t_ms * 1000.0 + 0.5), tps = std::lround(dt_ms * 1000.0);
  return (tics + tps - 1) / tps;
}

template <class T>
double refractory_steps_of(double t_ref, double dt) {
  using M = ns::IafPscAlphaModel;
  auto p = ns::find_model("iaf_psc_alpha")->defaults();
  p[M::t_ref] = t_ref;
  std::vector<T> d(M::kNumDerived);
  M::template derive<T>(ns::Strided<const double>{p.data(), 1}, d.data(), dt);
  return double(d[M::dNref]);
}

TEST(GridArithmetic, RefractoryStepsAreNESTsInFloatAndDouble) {
  EXPECT_EQ(nest_steps(3.75, 0.1), 38);  // the issue's example
  for (double dt : {0.1, 0.05, 0.025}) {
    for (double t : {3.75, 3.71, 3.7, 0.25, 2.45, 1.15, 0.05, 2.0, 0.0}) {
      EXPECT_EQ(refractory_steps_of<double>(t, dt), double(nest_steps(t, dt))) << t << " at " << dt;
      EXPECT_EQ(refractory_steps_of<float>(t, dt), double(nest_steps(t, dt))) << t << " at " << dt << " (float)";
    }
  }
}

// ---- negative Poisson weights, as in NEST ------------------------------------------------------

// Mean V change of iaf_psc_delta per step with a Poisson train (NEST: V += weight per spike).
template <class M>
double mean_drive(const std::vector<double>& p, int steps, int vm_index) {
  std::vector<double> d(M::kNumDerived), s(M::kNumState);
  M::template derive<double>(ns::Strided<const double>{p.data(), 1}, d.data(), 0.1);
  M::template init<double>(d.data(), s.data());
  const double v0 = s[static_cast<size_t>(vm_index)];
  for (int k = 0; k < steps; ++k) M::template step<double>(s.data(), d.data(), ns::Direct{}, ns::StepContext{7, 0, k});
  return s[static_cast<size_t>(vm_index)] - v0;
}

TEST(NegativeWeights, PscModelsTurnNegativeWeightsIntoNegativeJumps) {
  using D = ns::IafPscDeltaModel;
  const ModelDesc& m = *ns::find_model("iaf_psc_delta");
  auto base = m.defaults();
  base[D::V_th] = 1e9;  // never fires
  base[D::V_min] = -1e9;
  base[D::tau_m] = 1e9;  // no leak over the window: V - V0 is the summed jumps
  base[D::C_m] = 1e9;
  auto ex = base, in_pos = base, in_neg = base, ex_neg = base;
  ex[D::kInputs + ns::point::kRateEx] = 10000, ex[D::kInputs + ns::point::kWeightEx] = 0.5;
  ex_neg[D::kInputs + ns::point::kRateEx] = 10000, ex_neg[D::kInputs + ns::point::kWeightEx] = -0.5;
  in_pos[D::kInputs + ns::point::kRateIn] = 10000, in_pos[D::kInputs + ns::point::kWeightIn] = 0.5;
  in_neg[D::kInputs + ns::point::kRateIn] = 10000, in_neg[D::kInputs + ns::point::kWeightIn] = -0.5;
  const int n = 10000;  // 1 s: 10,000 expected spikes of 0.5 mV
  const double up = mean_drive<D>(ex, n, D::V);
  EXPECT_NEAR(up, 5000.0, 5 * std::sqrt(10000.0) * 0.5);  // Poisson: 5 sigma
  // Closed form: V - V0 = 0.5 mV x the number of spikes of the train (tau_m = 1e9 ms: the leak over
  // 1 s is below 1e-2 mV), the count drawn here from the same counter-based stream.
  uint64_t count = 0;
  const double lam = 10000.0 * 0.1 * 1e-3;  // rate x dt: mean spikes per step (one chunk)
  for (int k = 0; k < n; ++k) {
    ns::point::CounterRng rng(ns::StepContext{7, 0, k}, ns::point::kStreamEx);
    count += ns::point::poisson(rng, lam, ns::fexp(-lam), 1);
  }
  EXPECT_NEAR(up, 0.5 * double(count), 1e-2);
  // A negative excitatory weight is a negative jump of the same size (same spike counts).
  EXPECT_NEAR(mean_drive<D>(ex_neg, n, D::V), -up, 1e-9);
  // weight_in acts as inhibition whatever its sign (NEST users write it negative).
  EXPECT_EQ(mean_drive<D>(in_pos, n, D::V), mean_drive<D>(in_neg, n, D::V));
  EXPECT_LT(mean_drive<D>(in_neg, n, D::V), -4000.0);
}

TEST(NegativeWeights, ConductanceModelsRouteNegativeWeightsToTheInhibitoryConductance) {
  using A = ns::AeifCondExpModel;
  const ModelDesc& m = *ns::find_model("aeif_cond_exp");
  auto p = m.defaults();
  p[A::kInputs + ns::point::kRateEx] = 2000, p[A::kInputs + ns::point::kWeightEx] = -3.0;  // nS
  std::vector<double> d(A::kNumDerived), s(A::kNumState);
  A::derive<double>(ns::Strided<const double>{p.data(), 1}, d.data(), 0.1);
  A::init<double>(d.data(), s.data());
  double gin_max = 0, gex_max = 0;
  for (int k = 0; k < 2000; ++k) {
    A::step<double>(s.data(), d.data(), ns::Direct{}, ns::StepContext{3, 0, k});
    gin_max = std::max(gin_max, s[A::Gin]);
    gex_max = std::max(gex_max, s[A::Gex]);
  }
  EXPECT_EQ(gex_max, 0.0);  // nothing reached the excitatory conductance
  EXPECT_GE(gin_max, 3.0);  // at least one whole jump of |w| = 3 nS
  EXPECT_LT(s[A::V], -70.6);  // inhibition (E_in = -85 mV) hyperpolarises
}

// ---- simulate --precision double prints spike times unrounded ---------------------------------

std::string run_cli(const std::string& args) {
  std::string out;
  FILE* f = popen((std::string(NS_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

TEST(SimulateCli, DoublePrecisionSpikeTimesAreNotRoundedToFloat) {
  const std::string out = run_cli("simulate --model iaf_psc_alpha --precision double --dt 0.1 --duration 200 -p I_e=500");
  const auto j = nlohmann::json::parse(out.substr(out.find('{')));
  ASSERT_GE(j["spike_times"].size(), 5u) << out;
  for (const auto& t : j["spike_times"]) {
    const double x = t.get<double>();
    // Reset models stamp t_{k+1} = k h (double); a float copy (e.g. 13.899999618530273) is 4e-7 ms off.
    EXPECT_LT(std::fabs(x * 10.0 - std::round(x * 10.0)), 1e-9) << x;
  }
  // And the models command.
  const std::string m = run_cli("models --json");
  EXPECT_EQ(nlohmann::json::parse(m).size(), ns::model_names().size()) << m;
  EXPECT_NE(run_cli("models nope").find("unknown model"), std::string::npos);
}

// ---- neurosweep models ---------------------------------------------------------------------

TEST(ModelsCommand, JsonCarriesKindsRangesStartStatesAndPresets) {
  const auto all = ns::models_json();
  ASSERT_EQ(all.size(), ns::model_names().size());
  EXPECT_EQ(all[0]["name"], "stg");
  EXPECT_EQ(all[0]["kind"], "conductance_neuron");
  const auto j = ns::model_json(*ns::find_model("aeif_cond_exp"));
  bool seen = false;
  for (const auto& p : j["parameters"])
    if (p["name"] == "tau_w") {
      seen = true;
      EXPECT_EQ(p["lower"], 0.0);
      EXPECT_EQ(p["lower_inclusive"], false);
      EXPECT_TRUE(p["upper"].is_null());
      EXPECT_EQ(p["rule"], "tau_w > 0");
    }
  EXPECT_TRUE(seen);
  EXPECT_EQ(j["state"][0]["name"], "V_m");
  EXPECT_EQ(j["state"][0]["initial"], -70.6);
  EXPECT_EQ(j["state"][0]["start_param"], "V_m");
  const std::string t = ns::model_text(*ns::find_model("iaf_psc_alpha"));
  EXPECT_NE(t.find("[C_m > 0]"), std::string::npos) << t;
  EXPECT_NE(ns::models_text().find("point_neuron"), std::string::npos);
}

}  // namespace
