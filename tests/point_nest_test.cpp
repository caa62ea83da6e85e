// The NEST point models against NEST 3.10's own output (tests/data/nest_reference.json, recorded
// by tests/data/make_nest_reference.py from the nest-simulator wheel; no NEST needed here):
//  * iaf_cond_exp and hh_cond_exp_traub on 6 parameter sets each (I_e, step_current_generator,
//    dc_generator, changed conductances, E_L and V_m, t_ref off the grid),
//  * NEST's start states (V_m kept when E_L changes; w, U_m, gates) and spike trains with E_L
//    changed or V_m given,
//  * BMTK dynamics_params files loaded unchanged (two iaf_psc_alpha files with E_L != -70, two
//    GLIF files with 4 receptor ports and a V_m entry),
//  * NEST's grid rule for t_ref (rounded to tics, then up to whole steps) in float and double,
//  * the generator offsets of docs/POINT_MODELS.md (step_current_generator with delay h:
//    step_start = t0 + h, step_stop = t1 + h; dc_generator from 0 with delay h: step_start = 2h),
//  * NEST's sign rule for Poisson weights (closed forms: linearity and channel routing).
// Tolerances. Double precision: the same algorithm as NEST (exact propagators, or GSL's RKF45
// with NEST's error control), so the spike stamps must be identical (0 steps); that is within any
// bound NEST's own solver tolerance (absolute 1e-3 per RKF45 step) could justify. Float: the
// state carries ~7 digits, so a crossing within ~1e-5 mV of threshold may move by one step: the
// counts must be equal and every stamp within 1 step (0.1 ms), which also excludes any drift.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "spec/nest_params.hpp"
#include "neurosweep/engine.hpp"
#include "neurosweep/models.hpp"

using namespace ns;

namespace {

const nlohmann::json& reference() {
  static const nlohmann::json j = [] {
    const std::string path = std::string(NS_SOURCE_DIR) + "/tests/data/nest_reference.json";
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(f);
  }();
  return j;
}

std::string bmtk_path(const std::string& file) {
  return std::string(NS_SOURCE_DIR) + "/tests/data/bmtk/" + file;
}

// The parameter vector of a reference case: defaults (or the BMTK file, loaded unchanged), the
// case's NEST parameters, and the drive mapped onto the step-current input.
std::vector<double> case_params(const ModelDesc& m, const nlohmann::json& c) {
  std::vector<double> p =
      c.contains("file") ? load_dynamics_params(m, bmtk_path(c["file"])) : m.defaults();
  auto set = [&](const std::string& name, double v) {
    const int k = m.param_index(name);
    if (k < 0) throw std::runtime_error(m.name + ": no parameter " + name);
    p[static_cast<size_t>(k)] = v;
  };
  for (auto it = c["params"].begin(); it != c["params"].end(); ++it)
    set(it.key(), it.value().get<double>());
  const double h = c["h"];
  const auto& dr = c["drive"];
  if (dr.contains("kind")) {
    set("step_amplitude", dr["amp"].get<double>());
    if (dr["kind"] == "step") {  // step_current_generator [t0, t1), delay h
      set("step_start", dr["t0"].get<double>() + h);
      set("step_stop", dr["t1"].get<double>() + h);
    } else {  // dc_generator from 0, delay h
      set("step_start", 2 * h);
      set("step_stop", 1e9);
    }
  }
  return p;
}

// Spike stamps (steps k + 1 of the steps that spiked) of one instance run directly.
template <class M, class T>
std::vector<long> stamps(const std::vector<double>& p, double h, double t_sim) {
  T d[M::kNumDerived], s[M::kNumState];
  M::template derive<T>(Strided<const double>{p.data(), 1}, d, T(h));
  M::template init<T>(d, s);
  const long n = std::lround(t_sim / h);
  std::vector<long> out;
  for (long k = 0; k < n; ++k) {
    M::template step<T>(s, d, Direct{}, StepContext{1, 0, k});
    for (int j = 0; j < M::template spike_count<T>(s, 0); ++j) out.push_back(k + 1);
  }
  return out;
}

template <class T>
std::vector<long> run_case(const nlohmann::json& c) {
  const std::string model = c["model"];
  const ModelDesc* m = find_model(model);
  if (!m) throw std::runtime_error("unknown model " + model);
  const std::vector<double> p = case_params(*m, c);
  std::vector<long> out;
  dispatch_model(model, [&](auto* tag) {
    using M = std::remove_pointer_t<decltype(tag)>;
    if constexpr (reset_spikes<M>::value) out = stamps<M, T>(p, c["h"], c["t_sim"]);
  });
  return out;
}

// Compare with NEST: double exact, float same count and within one step.
void check_case(const nlohmann::json& c) {
  const std::vector<long> want = c["spikes"].get<std::vector<long>>();
  ASSERT_FALSE(want.empty()) << c["name"] << ": a reference case without spikes tests nothing";
  const auto got_d = run_case<double>(c);
  EXPECT_EQ(got_d, want) << c["name"] << " (double)";
  const auto got_f = run_case<float>(c);
  ASSERT_EQ(got_f.size(), want.size()) << c["name"] << " (float)";
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(std::labs(got_f[i] - want[i]), 1) << c["name"] << " (float) spike " << i;
}

int check_cases(const std::string& prefix) {
  int n = 0;
  for (const auto& c : reference()["cases"]) {
    if (c["name"].get<std::string>().rfind(prefix, 0) != 0) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    check_case(c);
    ++n;
  }
  return n;
}

}  // namespace

TEST(NestReference, IafCondExpMatchesNest) { EXPECT_GE(check_cases("iaf_cond_exp "), 5); }

TEST(NestReference, HhCondExpTraubMatchesNest) { EXPECT_GE(check_cases("hh_cond_exp_traub "), 5); }

// E_L changed with V_m left at NEST's default (iaf_psc_alpha -70, aeif_cond_exp -70.6,
// hh_psc_alpha -65), or V_m/w/U_m given: NEST's spike trains.
TEST(NestReference, StartStateCasesMatchNest) {
  int n = 0;
  for (const char* p : {"iaf_psc_alpha E_L", "iaf_psc_exp E_L", "aeif_cond_exp E_L",
                        "aeif_cond_alpha w", "izhikevich V_m", "hh_psc_alpha E_L",
                        "glif_psc default"})
    n += check_cases(p);
  EXPECT_EQ(n, 7);
}

// BMTK's dynamics_params files as they are (E_L != -70 with V_m absent; GLIF with 4 receptor
// ports and a V_m entry), driven by NEST's current generators.
TEST(NestReference, BmtkFilesUnchangedMatchNest) { EXPECT_EQ(check_cases("bmtk "), 5); }

// Every model's default start state equals NEST's GetStatus, and stays when E_L changes.
TEST(NestReference, DefaultStartStatesEqualNest) {
  const auto& ss = reference()["start_states"];
  ASSERT_GE(ss.size(), 10u);
  for (auto it = ss.begin(); it != ss.end(); ++it) {
    const ModelDesc* m = find_model(it.key());
    ASSERT_NE(m, nullptr) << it.key();
    for (auto kv = it.value().begin(); kv != it.value().end(); ++kv) {
      if (kv.key() == "after_E_L") continue;
      // the conductances and GLIF threshold components start at 0 and are not parameters
      const int k = m->param_index(kv.key());
      if (k < 0) {
        EXPECT_EQ(kv.value().get<double>(), 0.0) << it.key() << "." << kv.key();
        continue;
      }
      EXPECT_EQ(m->params[static_cast<size_t>(k)].default_value, kv.value().get<double>())
          << it.key() << "." << kv.key();
    }
    // The initialised state with default parameters: every state variable NEST reports.
    {
      const std::vector<double> p0 = m->defaults();
      std::vector<double> s0;
      dispatch_model(it.key(), [&](auto* tag) {
        using M = std::remove_pointer_t<decltype(tag)>;
        double d[M::kNumDerived], s[M::kNumState];
        M::template derive<double>(Strided<const double>{p0.data(), 1}, d, 0.1);
        M::template init<double>(d, s);
        s0.assign(s, s + M::kNumState);
      });
      for (auto kv = it.value().begin(); kv != it.value().end(); ++kv) {
        if (kv.key() == "after_E_L") continue;
        int k = -1;
        for (size_t j = 0; j < m->state.size(); ++j)
          if (m->state[j].name == kv.key()) k = static_cast<int>(j);
        ASSERT_GE(k, 0) << it.key() << " has no state " << kv.key();
        EXPECT_EQ(s0[static_cast<size_t>(k)], kv.value().get<double>()) << it.key() << "." << kv.key();
      }
    }
    // The initialised state: V_m (state 0) is NEST's after E_L moved by +10 mV.
    if (!it.value().contains("after_E_L")) continue;
    std::vector<double> p = m->defaults();
    p[static_cast<size_t>(m->param_index("E_L"))] = it.value()["after_E_L"]["E_L"].get<double>();
    double v0 = 0;
    dispatch_model(it.key(), [&](auto* tag) {
      using M = std::remove_pointer_t<decltype(tag)>;
      double d[M::kNumDerived], s[M::kNumState];
      M::template derive<double>(Strided<const double>{p.data(), 1}, d, 0.1);
      M::template init<double>(d, s);
      v0 = s[0];
    });
    EXPECT_EQ(v0, it.value()["after_E_L"]["V_m"].get<double>()) << it.key();
  }
}

// t_ref -> refractory steps as NEST (measured), whatever the precision: point::grid_steps with
// the double dt and with the float-rounded dt (what derive<float> sees), and the derived
// constant of iaf_psc_alpha and glif_psc in float and double.
TEST(NestReference, RefractoryStepsAsNestInFloatAndDouble) {
  int n = 0;
  for (const auto& g : reference()["grid"]) {
    const double h = g["h"], t_ref = g["t_ref"];
    const double want = g["n_ref"].get<double>();
    EXPECT_EQ(point::grid_steps(t_ref, h), want) << "t_ref " << t_ref << " h " << h;
    EXPECT_EQ(point::grid_steps(t_ref, double(float(h))), want) << "t_ref " << t_ref << " h " << h;
    using A = IafPscAlphaModel;
    std::vector<double> p = find_model("iaf_psc_alpha")->defaults();
    p[A::t_ref] = t_ref;
    float df[A::kNumDerived];
    double dd[A::kNumDerived];
    A::derive<float>(Strided<const double>{p.data(), 1}, df, float(h));
    A::derive<double>(Strided<const double>{p.data(), 1}, dd, h);
    EXPECT_EQ(df[A::dNref], float(want)) << "float t_ref " << t_ref << " h " << h;
    EXPECT_EQ(dd[A::dNref], want) << "double t_ref " << t_ref << " h " << h;
    using G = GlifPscModel;
    std::vector<double> q = find_model("glif_psc")->defaults();
    q[G::t_ref] = t_ref;
    float gf[G::kNumDerived];
    G::derive<float>(Strided<const double>{q.data(), 1}, gf, float(h));
    EXPECT_EQ(gf[G::dNref], float(want)) << "glif float t_ref " << t_ref << " h " << h;
    ++n;
  }
  EXPECT_GE(n, 60);
}

// glif_psc arrays: BMTK's 4-port tau_syn read into tau_syn_0..3 (more than 4 ports is an error:
// GlifPsc.DynamicsParamsArrays); the receptor ports of the trains select the time constants.
TEST(NestReference, GlifReceptorPorts) {
  const ModelDesc* m = find_model("glif_psc");
  ASSERT_NE(m, nullptr);
  const auto p = load_dynamics_params(*m, bmtk_path("318808427_glif_lif_asc_psc.json"));
  EXPECT_EQ(p[static_cast<size_t>(m->param_index("tau_syn_0"))], 5.5);
  EXPECT_EQ(p[static_cast<size_t>(m->param_index("tau_syn_1"))], 8.5);
  EXPECT_EQ(p[static_cast<size_t>(m->param_index("tau_syn_2"))], 2.8);
  EXPECT_EQ(p[static_cast<size_t>(m->param_index("tau_syn_3"))], 5.8);
  EXPECT_EQ(p[static_cast<size_t>(m->param_index("V_m"))], -76.1691640218099);
  // Port 3 for the excitatory train uses tau_syn_2: the PSC of one spike peaks at t = tau_syn_2.
  using G = GlifPscModel;
  std::vector<double> q = m->defaults();
  q[G::tau_syn_2] = 3.0;
  q[G::receptor_ex] = 3;
  double d[G::kNumDerived], s[G::kNumState];
  G::derive<double>(Strided<const double>{q.data(), 1}, d, 0.1);
  G::init<double>(d, s);
  s[G::Y1ex] = std::exp(1.0) / 3.0;  // one spike of weight 1 (NEST: e / tau)
  double best = 0, t_best = 0;
  for (int k = 0; k < 100; ++k) {
    G::step<double>(s, d, Direct{}, StepContext{0, 0, k});
    if (s[G::Y2ex] > best) best = s[G::Y2ex], t_best = (k + 1) * 0.1;
  }
  EXPECT_NEAR(t_best, 3.0, 1e-9);
  EXPECT_NEAR(best, 1.0, 1e-12);
  q[G::receptor_ex] = 5;  // no such port: invalid like a bad flag combination
  G::derive<double>(Strided<const double>{q.data(), 1}, d, 0.1);
  G::init<double>(d, s);
  EXPECT_TRUE(std::isnan(s[G::V]));
}

// NEST's sign rule for the Poisson trains (handle(SpikeEvent&): the sign of the weight picks the
// channel). Closed forms, same seed so the same spike counts:
//  * psc (iaf_psc_alpha, tau_syn_ex == tau_syn_in, subthreshold, linear): weight_ex = -J gives
//    exactly the mirror image V - E_L of weight_ex = +J (to rounding); weight_in = -J and +J are
//    the same inhibition, bit for bit;
//  * cond (iaf_cond_exp, aeif_cond_exp, hh_cond_exp_traub, tau_syn_ex == tau_syn_in):
//    weight_ex = -w leaves g_ex at 0 and puts exactly the +w run's g_ex into g_in;
//  * voltage jumps (iaf_psc_delta): V - E_L of -J mirrors +J.
TEST(NestReference, NegativeWeightsAreInhibitory) {
  auto run = [](const std::string& model, std::vector<double> p, int n, int col) {
    std::vector<double> out;
    dispatch_model(model, [&](auto* tag) {
      using M = std::remove_pointer_t<decltype(tag)>;
      if constexpr (reset_spikes<M>::value) {
        double d[M::kNumDerived], s[M::kNumState];
        M::template derive<double>(Strided<const double>{p.data(), 1}, d, 0.1);
        M::template init<double>(d, s);
        for (int k = 0; k < n; ++k) {
          M::template step<double>(s, d, Direct{}, StepContext{7, 3, k});
          out.push_back(s[col]);
        }
      }
    });
    return out;
  };
  auto params = [](const std::string& model, std::initializer_list<std::pair<const char*, double>> kv) {
    const ModelDesc* m = find_model(model);
    std::vector<double> p = m->defaults();
    for (const auto& [k, v] : kv) p[static_cast<size_t>(m->param_index(k))] = v;
    return p;
  };
  {  // psc: mirror image around E_L = V_m = -70
    const auto up = run("iaf_psc_alpha", params("iaf_psc_alpha", {{"rate_ex", 800}, {"weight_ex", 20}}), 5000, 0);
    const auto dn = run("iaf_psc_alpha", params("iaf_psc_alpha", {{"rate_ex", 800}, {"weight_ex", -20}}), 5000, 0);
    double maxv = 0, maxerr = 0;
    for (size_t k = 0; k < up.size(); ++k) {
      maxv = std::max(maxv, up[k] + 70.0);
      maxerr = std::max(maxerr, std::fabs((up[k] + 70.0) + (dn[k] + 70.0)));
    }
    EXPECT_GT(maxv, 1.0);        // the input did something (and stayed subthreshold: no reset)
    EXPECT_LT(maxv, 15.0);
    EXPECT_LT(maxerr, 1e-10);    // mirror image
    const auto in_pos = run("iaf_psc_alpha", params("iaf_psc_alpha", {{"rate_in", 800}, {"weight_in", 20}}), 3000, 0);
    const auto in_neg = run("iaf_psc_alpha", params("iaf_psc_alpha", {{"rate_in", 800}, {"weight_in", -20}}), 3000, 0);
    EXPECT_EQ(in_pos, in_neg);
    EXPECT_LT(*std::min_element(in_neg.begin(), in_neg.end()), -71.0);  // hyperpolarised
  }
  {  // delta: V jumps
    const auto up = run("iaf_psc_delta", params("iaf_psc_delta", {{"rate_ex", 500}, {"weight_ex", 0.5}}), 3000, 0);
    const auto dn = run("iaf_psc_delta", params("iaf_psc_delta", {{"rate_ex", 500}, {"weight_ex", -0.5}}), 3000, 0);
    double maxerr = 0;
    for (size_t k = 0; k < up.size(); ++k) maxerr = std::max(maxerr, std::fabs((up[k] + 70.0) + (dn[k] + 70.0)));
    EXPECT_LT(maxerr, 1e-10);
    EXPECT_GT(*std::max_element(up.begin(), up.end()), -68.0);
  }
  for (const char* model : {"iaf_cond_exp", "aeif_cond_exp", "hh_cond_exp_traub"}) {
    SCOPED_TRACE(model);
    const ModelDesc* m = find_model(model);
    int gex = -1, gin = -1;
    for (size_t k = 0; k < m->state.size(); ++k) {
      if (m->state[k].name == "g_ex") gex = static_cast<int>(k);
      if (m->state[k].name == "g_in") gin = static_cast<int>(k);
    }
    ASSERT_GE(gex, 0);
    ASSERT_GE(gin, 0);
    const auto base = params(model, {{"tau_syn_ex", 2.0}, {"tau_syn_in", 2.0}, {"rate_ex", 300}, {"weight_ex", 2.0}});
    auto neg = base;
    neg[static_cast<size_t>(m->param_index("weight_ex"))] = -2.0;
    const auto gex_pos = run(model, base, 2000, gex);
    const auto gin_neg = run(model, neg, 2000, gin);
    const auto gex_neg = run(model, neg, 2000, gex);
    // Not bit-equal for the RKF45 models: the adaptive step also follows V, which differs
    // between excitation and inhibition; the difference is bounded by the solver's accuracy.
    double maxdiff = 0;
    for (size_t k = 0; k < gex_pos.size(); ++k) maxdiff = std::max(maxdiff, std::fabs(gex_pos[k] - gin_neg[k]));
    EXPECT_LT(maxdiff, 1e-3) << "max |g_ex(+w) - g_in(-w)| (nS)";
    EXPECT_GT(*std::max_element(gin_neg.begin(), gin_neg.end()), 1.0);
    EXPECT_EQ(*std::max_element(gex_neg.begin(), gex_neg.end()), 0.0);
  }
}
