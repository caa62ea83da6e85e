// Circuit models (stg_circuit.hpp), thermalised starts (host/spec/circuit.hpp) and the network
// classifier (host/classify/classify_network.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "spec/circuit.hpp"
#include "spec/spec.hpp"
#include "classify/classify_network.hpp"
#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "test_util.hpp"

namespace {

using ns::PyloricModel;
using ns::StgCircuitModel;
using ns::StgModel;

const ns::ModelDesc& pyl() { return *ns::find_model("pyloric"); }

void set(const ns::ModelDesc& m, std::vector<double>& p, const std::string& name, double v) {
  const int k = m.param_index(name);
  ASSERT_GE(k, 0) << name;
  p[static_cast<size_t>(k)] = v;
}

// Pyloric parameters: P04 neurons and the 7 synapse strengths (nS, file order).
std::vector<double> pyloric(const std::string& ab, const std::string& lp, const std::string& py,
                            const std::vector<double>& g) {
  const auto& m = pyl();
  std::vector<double> p = m.defaults();
  for (const auto& pr : m.presets)
    if (pr.name == ab || pr.name == lp || pr.name == py)
      for (int q = 0; q < pr.n_values; ++q) set(m, p, pr.values[q].param, pr.values[q].value);
  const char* syn[7] = {"ABLP", "PDLP", "ABPY", "PDPY", "LPPM", "LPPY", "PYLP"};
  for (int j = 0; j < 7; ++j) set(m, p, std::string("g_") + syn[j], g[static_cast<size_t>(j)]);
  return p;
}

ns::RunSettings circuit_settings(const std::string& model, ns::Precision pr, double dt, double transient_ms,
                                 double analysis_ms) {
  auto s = nstest::settings(pr, ns::Gating::Direct, transient_ms, analysis_ms, dt, 4000);
  s.model = model;
  return s;
}

std::vector<float> cell_spikes(const ns::ChunkOutput& o, size_t i, int cell) {
  const size_t slot = i * static_cast<size_t>(o.n_obs) + static_cast<size_t>(cell);
  const uint32_t kept = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
  return std::vector<float>(o.spike_times.begin() + slot * o.max_spikes,
                            o.spike_times.begin() + slot * o.max_spikes + kept);
}

ns::NetworkClassification classify_instance(const ns::ChunkOutput& o, size_t i, double analysis_ms) {
  std::vector<const float*> sp;
  std::vector<uint32_t> kept, total;
  for (int c = 0; c < o.n_obs; ++c) {
    const size_t slot = i * static_cast<size_t>(o.n_obs) + static_cast<size_t>(c);
    sp.push_back(o.spike_times.data() + slot * o.max_spikes);
    total.push_back(o.n_spikes[slot]);
    kept.push_back(std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes)));
  }
  return ns::classify_network(o.n_obs, sp.data(), kept.data(), total.data(), analysis_ms, o.status[i],
                              ns::ClassifierSettings{}, ns::NetworkClassifierSettings{});
}

// ---- registry ------------------------------------------------------------------------------
TEST(CircuitModel, NamesAndLayout) {
  const auto& m = pyl();
  EXPECT_EQ(m.params.size(), static_cast<size_t>(PyloricModel::kNumParams));
  EXPECT_EQ(m.state.size(), static_cast<size_t>(PyloricModel::kNumState));
  EXPECT_EQ(m.n_obs, 3);
  EXPECT_EQ(m.param_index("ABPD.gNa"), 0);
  EXPECT_EQ(m.param_index("LP.gNa"), StgModel::kNumParams);
  EXPECT_EQ(m.param_index("g_ABLP"), PyloricModel::kPG);
  EXPECT_EQ(m.param_index("g_PYLP"), PyloricModel::kPG + 6);
  EXPECT_EQ(std::string(m.state[13].name), "LP.V");
  EXPECT_EQ(std::string(m.state[39].name), "s_ABLP");
  // defaults: the P04 Fig. 2e network (ABPD2, LP4, PY1; 30, 30, 10, 3, 30, 1, 30 nS)
  EXPECT_EQ(m.defaults(), pyloric("ABPD2", "LP4", "PY1", {30, 30, 10, 3, 30, 1, 30}));
  // topology of P04 (reference section 4.1): pre, post, transmitter of each synapse
  const int pre[7] = {0, 0, 0, 0, 1, 1, 2}, post[7] = {1, 1, 2, 2, 0, 2, 1}, chol[7] = {0, 1, 0, 1, 0, 0, 0};
  for (int j = 0; j < 7; ++j) {
    EXPECT_EQ(ns::PyloricTopology::pre(j), pre[j]) << j;
    EXPECT_EQ(ns::PyloricTopology::post(j), post[j]) << j;
    EXPECT_EQ(ns::PyloricTopology::type(j), chol[j] ? ns::kCholinergic : ns::kGlutamatergic) << j;
  }
  const auto* g = ns::find_model("stg_circuit");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->n_obs, 16);
  EXPECT_GE(g->param_index("g_syn63"), 0);
  EXPECT_GE(g->param_index("cell15.gleak"), 0);
  EXPECT_EQ(g->presets.size(), 16u * 16u);
}

// ---- synapse kinetics ----------------------------------------------------------------------
// s stays in [0, 1] for any V_pre at dt = 0.05 ms (tau_s down to ~1e-4 ms at +60 mV), and the
// exponential update is the exact solution for a frozen V_pre.
TEST(Synapse, ExponentialUpdateBoundedAndExactForFrozenVpre) {
  for (double dtk_rate : {1.0 / 40.0, 1.0 / 100.0})
    for (double v = -120; v <= 60.0001; v += 0.5)
      for (double s0 : {0.0, 0.3, 1.0}) {
        float sinf_f, dec_f;
        PyloricModel::synapse_targets<float>(float(v), -35.f, 0.2f, float(0.05 * dtk_rate), 0.f, sinf_f, dec_f);
        const float s1 = sinf_f + (float(s0) - sinf_f) * dec_f;
        EXPECT_GE(s1, 0.0f);
        EXPECT_LE(s1, 1.0f);
        double sinf, dec;
        PyloricModel::synapse_targets<double>(v, -35.0, 0.2, 0.05 * dtk_rate, 0.0, sinf, dec);
        // independent: s_inf and tau_s straight from P04's formulas
        const double si = 1.0 / (1.0 + std::exp((-35.0 - v) / 5.0));
        const double tau = (1.0 - si) / dtk_rate;
        const double exact = si + (s0 - si) * std::exp(-0.05 / tau);
        EXPECT_NEAR(sinf + (s0 - sinf) * dec, exact, 1e-12) << v;
      }
}

// "integration": "prinz": s by forward Euler, s + (dt/tau_s)(s_inf - s), set to s_inf when
// dt >= tau_s (MKL: "if dt > stau: s = sinf"), against P04's formulas written out here; the
// truncation must occur (tau_s < 0.05 ms above about -1.6 mV for glutamate) and keep s in [0, 1].
TEST(Synapse, PrinzUpdateIsTruncatedForwardEuler) {
  int truncated = 0;
  for (double k : {1.0 / 40.0, 1.0 / 100.0})
    for (double v = -120; v <= 60.0001; v += 0.5)
      for (double s0 : {0.0, 0.3, 1.0}) {
        double sinf, dec;
        PyloricModel::synapse_targets<double>(v, -35.0, 0.2, 0.05 * k, 1.0, sinf, dec);
        const double si = 1.0 / (1.0 + std::exp((-35.0 - v) / 5.0));
        const double tau = (1.0 - si) / k;
        const double want = 0.05 >= tau ? si : s0 + 0.05 / tau * (si - s0);
        truncated += 0.05 >= tau ? 1 : 0;
        const double got = sinf + (s0 - sinf) * dec;
        EXPECT_NEAR(got, want, 1e-12) << v;
        EXPECT_GE(got, 0.0);
        EXPECT_LE(got, 1.0);
        float sf, df;
        PyloricModel::synapse_targets<float>(float(v), -35.f, 0.2f, float(0.05 * k), 1.f, sf, df);
        EXPECT_NEAR(sf + (float(s0) - sf) * df, want, 2e-6) << v;
      }
  EXPECT_GT(truncated, 100);
}

// Against a fine-step RK4 solution of ds/dt = (s_inf - s)/tau_s for a spike-shaped V_pre(t)
// (a 2 ms wide spike to +30 mV on a -55 mV baseline), 60 ms: the dt = 0.05 ms exponential update
// matches the time integral of s (which sets the synaptic charge) to 0.5% (measured: 1e-5) and s
// after the spike (t >= 12 ms, the decay that carries the inhibition) to 0.002 (measured 6e-4).
// During the upstroke s lags by up to one step (V_pre is frozen over the step while s jumps to
// s_inf within it): max |s - s_ref| there is about 0.14, inherent to any explicit one-step scheme
// at this dt (Prinz's s = s_inf rule included), printed for the record.
TEST(Synapse, ExponentialUpdateMatchesFineStepReference) {
  auto vpre = [](double t) { return -55.0 + 85.0 * std::exp(-std::pow((t - 10.0) / 1.0, 2)); };
  for (double k : {1.0 / 40.0, 1.0 / 100.0}) {
    auto rhs = [&](double t, double s) {
      const double si = 1.0 / (1.0 + std::exp((-35.0 - vpre(t)) / 5.0));
      return (si - s) * k / (1.0 - si);
    };
    // reference: RK4 at 1e-5 ms (dt / tau_s <= 0.02 at +30 mV for k = 1/40)
    const double h = 1e-5;
    double s = 0, t = 0, int_ref = 0;
    std::vector<double> ref;
    ref.push_back(0);
    for (int step = 1; step <= 60 * 100000; ++step) {
      const double k1 = rhs(t, s), k2 = rhs(t + h / 2, s + h / 2 * k1), k3 = rhs(t + h / 2, s + h / 2 * k2),
                   k4 = rhs(t + h, s + h * k3);
      s += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
      t = step * h;
      int_ref += s * h;
      if (step % 5000 == 0) ref.push_back(s);
    }
    double se = 0, int_e = 0, maxerr = 0, maxlag = 0;
    for (int step = 1; step <= 1200; ++step) {
      double sinf, dec;
      PyloricModel::synapse_targets<double>(vpre((step - 1) * 0.05), -35.0, 0.2, 0.05 * k, 0.0, sinf, dec);
      se = sinf + (se - sinf) * dec;
      int_e += se * 0.05;
      maxerr = std::max(maxerr, std::fabs(se - ref[static_cast<size_t>(step)]));
      if (step * 0.05 >= 12.0) maxlag = std::max(maxlag, std::fabs(se - ref[static_cast<size_t>(step)]));
    }
    std::printf("[ info ] k = %g: max |s - s_ref| %.4f, max after the spike (t >= 12 ms) %.5f, integral ratio %.5f\n",
                k, maxerr, maxlag, int_e / int_ref);
    EXPECT_LT(maxlag, 0.002) << "k = " << k;
    EXPECT_NEAR(int_e / int_ref, 1.0, 0.005) << "k = " << k;
  }
}

// ---- units and sign (reference section 6, pitfalls 1 and 2) -----------------------------------
// Passive cells (leak only). AB/PD is held at a fixed depolarised potential by a DC current; the
// postsynaptic LP receives only ABLP (glutamatergic) or PDLP (cholinergic) of 3 nS. At steady
// state s = s_inf(V_pre) and
//   V_LP = (g_L E_L + g s E_syn) / (g_L + g s),  g = 3 nS / A = 3 * 1.5924e-3 mS/cm^2.
// A synapse entered in mS/cm^2 (628x too strong) gives about -69.9 mV instead of -56.5 mV, and a
// reversal of +70 mV depolarises: both fail the 1e-6 mV tolerance by orders of magnitude.
TEST(Synapse, ThreeNanosiemensInhibitionMatchesHandCalculation) {
  for (int which : {0, 1}) {  // 0: ABLP (glutamate, -70 mV), 1: PDLP (acetylcholine, -80 mV)
    const auto& m = pyl();
    std::vector<double> p = m.defaults();
    for (const char* cell : {"ABPD", "LP", "PY"})
      for (const char* g : {"gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH"}) set(m, p, std::string(cell) + "." + g, 0.0);
    const double gl = 0.01, el = -50.0, area = 0.628e-3, iext = 0.3;  // nA
    for (const char* cell : {"ABPD", "LP", "PY"}) set(m, p, std::string(cell) + ".gleak", gl);
    set(m, p, "ABPD.I_ext", iext);
    for (const char* s : {"g_ABLP", "g_PDLP", "g_ABPY", "g_PDPY", "g_LPPM", "g_LPPY", "g_PYLP"}) set(m, p, s, 0.0);
    set(m, p, which == 0 ? "g_ABLP" : "g_PDLP", 3.0);
    auto s = circuit_settings("pyloric", ns::Precision::Double, 0.05, 3000, 100);
    ns::ChunkInput in;
    in.n = 1;
    in.params = p.data();
    ns::ChunkOutput out;
    ns::run_reference(s, in, out);
    // hand calculation
    const double v_pre = el + iext * 1e-3 / (area * gl);  // mV: I [nA] 1e-3 / A = uA/cm^2
    const double s_inf = 1.0 / (1.0 + std::exp((-35.0 - v_pre) / 5.0));
    const double gsyn = 3.0 * 1e-6 / area;  // mS/cm^2
    const double esyn = which == 0 ? -70.0 : -80.0;
    const double v_lp = (gl * el + gsyn * s_inf * esyn) / (gl + gsyn * s_inf);
    EXPECT_NEAR(gsyn, 3 * 1.5924e-3, 1e-6);
    EXPECT_NEAR(out.final_state[0], v_pre, 1e-6);                             // ABPD.V
    EXPECT_NEAR(out.final_state[PyloricModel::kSS + which], s_inf, 1e-9);    // s
    EXPECT_NEAR(out.final_state[13], v_lp, 1e-6) << "which " << which;       // LP.V
    EXPECT_LT(out.final_state[13], el - 5.0);  // hyperpolarised by several mV (6.5 / 7.9 mV)
    EXPECT_NEAR(out.final_state[26], el, 1e-9);  // PY receives nothing
  }
}

// ---- all synapses 0: every cell as alone ---------------------------------------------------
TEST(Circuit, ZeroSynapsesGiveIsolatedSpikeTimesExactly) {
  for (auto pr : {ns::Precision::Float, ns::Precision::Double}) {
    const std::vector<std::string> cells = {"ABPD2", "LP1", "PY1"};
    auto p = pyloric(cells[0], cells[1], cells[2], {0, 0, 0, 0, 0, 0, 0});
    const double thermal = 1000, transient = 500, analysis = 3000;
    // circuit from thermalised starts through the SIMD CPU backend
    auto s = circuit_settings("pyloric", pr, 0.05, transient, analysis);
    ns::ThermalCache cache(s, thermal);
    std::vector<double> init(PyloricModel::kNumState);
    cache.fill("pyloric", p.data(), 1, init.data());
    EXPECT_EQ(cache.distinct_cells(), 3u);
    ns::ChunkInput in;
    in.n = 1;
    in.params = p.data();
    in.init_state = init.data();
    ns::ChunkOutput out;
    ns::make_cpu_backend()->run(s, in, out);
    // each cell alone, from the cold start, for thermal + transient + analysis
    auto si = nstest::settings(pr, ns::Gating::Direct, thermal + transient, analysis, 0.05, 4000);
    std::vector<std::vector<double>> rows;
    for (const auto& c : cells) rows.push_back(nstest::preset_params(c));
    auto cols = nstest::columns(rows);
    ns::ChunkInput ii;
    ii.n = 3;
    ii.params = cols.data();
    ns::ChunkOutput oi;
    ns::make_cpu_backend()->run(si, ii, oi);
    for (int c = 0; c < 3; ++c) {
      const auto a = cell_spikes(out, 0, c), b = nstest::spikes_of(oi, static_cast<size_t>(c));
      EXPECT_GT(b.size(), 5u) << cells[static_cast<size_t>(c)];
      EXPECT_EQ(a, b) << cells[static_cast<size_t>(c)];
    }
  }
}

// The general model with the P04 topology reproduces the pyloric model bit for bit; cells beyond
// n_cells are not integrated.
TEST(Circuit, GeneralModelWithPyloricTopologyEqualsPyloricModel) {
  const auto p = pyloric("ABPD1", "LP2", "PY1", {30, 30, 10, 3, 30, 1, 30});
  const auto* g = ns::find_model("stg_circuit");
  std::vector<double> q = g->defaults();
  const auto& m = pyl();
  const char* cn[3] = {"ABPD", "LP", "PY"};
  for (int c = 0; c < 3; ++c)
    for (const auto& pi : StgModel::kParams)
      q[g->param_index("cell" + std::to_string(c) + "." + pi.name)] = p[m.param_index(std::string(cn[c]) + "." + pi.name)];
  const char* syn[7] = {"ABLP", "PDLP", "ABPY", "PDPY", "LPPM", "LPPY", "PYLP"};
  for (int j = 0; j < 7; ++j) {
    const std::string js = "syn" + std::to_string(j);
    q[g->param_index("g_" + js)] = p[m.param_index(std::string("g_") + syn[j])];
    q[g->param_index("pre_" + js)] = ns::PyloricTopology::pre(j);
    q[g->param_index("post_" + js)] = ns::PyloricTopology::post(j);
    q[g->param_index("type_" + js)] = ns::PyloricTopology::type(j);
  }
  q[g->param_index("n_cells")] = 3;
  q[g->param_index("n_synapses")] = 7;
  for (auto pr : {ns::Precision::Float, ns::Precision::Double}) {
    auto s = circuit_settings("pyloric", pr, 0.05, 0, 4000);
    ns::ChunkInput in;
    in.n = 1;
    in.params = p.data();
    ns::ChunkOutput a, b;
    ns::make_cpu_backend()->run(s, in, a);
    s.model = "stg_circuit";
    in.params = q.data();
    ns::make_cpu_backend()->run(s, in, b);
    for (int c = 0; c < 3; ++c) {
      EXPECT_GT(cell_spikes(a, 0, c).size(), 3u);
      EXPECT_EQ(cell_spikes(a, 0, c), cell_spikes(b, 0, c)) << c;
    }
    EXPECT_EQ(b.n_spikes[3], 0u);
    EXPECT_EQ(b.final_state[static_cast<size_t>(3 * 13)], -50.0);  // cell3.V: cold start, not integrated
  }
}

// The CUDA kernel of stg_circuit keeps the derived constants in a global column-major scratch
// array (kernels/cuda_kernels.cuh, kDerivedInGlobal) and runs run_instance_derived on that view;
// the same code run here on the host over such an array (3 networks, float and double, table
// gating) equals the reference path (local derived array) bit for bit.
TEST(Circuit, DerivedConstantsInColumnMajorScratchEqualLocal) {
  const auto p = pyloric("ABPD1", "LP2", "PY1", {30, 30, 10, 3, 30, 1, 30});
  const auto* g = ns::find_model("stg_circuit");
  const auto& m = pyl();
  std::vector<std::vector<double>> rows;
  for (int r = 0; r < 3; ++r) {
    std::vector<double> q = g->defaults();
    const char* cn[3] = {"ABPD", "LP", "PY"};
    for (int c = 0; c < 3; ++c)
      for (const auto& pi : StgModel::kParams)
        q[g->param_index("cell" + std::to_string(c) + "." + pi.name)] = p[m.param_index(std::string(cn[c]) + "." + pi.name)];
    for (int j = 0; j < 7; ++j) {
      const std::string js = "syn" + std::to_string(j);
      q[g->param_index("g_" + js)] = 10.0 + 5.0 * r + j;
      q[g->param_index("pre_" + js)] = ns::PyloricTopology::pre(j);
      q[g->param_index("post_" + js)] = ns::PyloricTopology::post(j);
      q[g->param_index("type_" + js)] = ns::PyloricTopology::type(j);
    }
    q[g->param_index("n_cells")] = 3;
    q[g->param_index("n_synapses")] = 7;
    rows.push_back(q);
  }
  const auto cols = nstest::columns(rows);
  using M = ns::StgCircuitModel;
  auto run = [&](auto tag, ns::Precision pr) {
    using T = decltype(tag);
    auto s = circuit_settings("stg_circuit", pr, 0.05, 0, 2000);
    s.gating = ns::Gating::Table;
    ns::ChunkInput in;
    in.n = rows.size();
    in.params = cols.data();
    in.first_index = 3;
    ns::ChunkOutput ref, scr;
    ns::run_reference(s, in, ref);
    scr.resize(in.n, M::kNumObs, s.sim.max_spikes, M::kNumState, s.want_final_state);
    const ns::OutputView ov = scr.view();
    ns::HostTable<T> table;
    ns::model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
    std::vector<T> scratch(in.n * M::kNumDerived);
    for (size_t i = 0; i < in.n; ++i) {
      const ns::Strided<T> d{scratch.data() + i, in.n};
      ns::model_derive<M, T>(ns::Strided<const double>{in.params + i, in.n}, d, s.sim);
      ns::run_instance_derived<M, T>(s.sim, d, nullptr, in.n, i, in.first_index, table.view(), ov);
    }
    EXPECT_EQ(ref.n_spikes, scr.n_spikes);
    EXPECT_EQ(ref.spike_times, scr.spike_times);
    EXPECT_EQ(ref.final_state, scr.final_state);
    EXPECT_EQ(ref.v_mean, scr.v_mean);
    EXPECT_GT(ref.n_spikes[0], 0u);
  };
  run(float{}, ns::Precision::Float);
  run(double{}, ns::Precision::Double);
}

// ---- the P04 Fig. 2e network -----------------------------------------------------------------
// AB/PD 2, LP 4, PY 1; (ABLP, PDLP, ABPY, PDPY, LPPM, LPPY, PYLP) = (30, 30, 10, 3, 30, 1, 30) nS:
// pyloric-like, period 1.2-2.2 s (reference section 7: about 1.7-1.9 s at dt = 0.025 ms), and the
// burst order AB/PD -> LP -> PY checked here independently of the classifier (300 ms gap rule).
TEST(Circuit, P04Figure2eNetworkIsPyloricLike) {
  for (double dt : {0.05, 0.025}) {
    const auto p = pyloric("ABPD2", "LP4", "PY1", {30, 30, 10, 3, 30, 1, 30});
    const double analysis = 10000;
    auto s = circuit_settings("pyloric", ns::Precision::Float, dt, 10000, analysis);
    ns::ThermalCache cache(s, 5000);
    std::vector<double> init(PyloricModel::kNumState);
    cache.fill("pyloric", p.data(), 1, init.data());
    ns::ChunkInput in;
    in.n = 1;
    in.params = p.data();
    in.init_state = init.data();
    ns::ChunkOutput out;
    ns::make_cpu_backend()->run(s, in, out);
    const auto r = classify_instance(out, 0, analysis);
    EXPECT_EQ(r.label, ns::kPyloricLike) << "dt " << dt << " label " << ns::network_label_name(r.label);
    EXPECT_GT(r.f.period_ms, 1200.0f);
    EXPECT_LT(r.f.period_ms, 2200.0f);
    // independent order check on burst onsets
    std::vector<std::vector<double>> on(3);
    for (int c = 0; c < 3; ++c) {
      const auto t = cell_spikes(out, 0, c);
      ASSERT_GT(t.size(), 10u);
      for (size_t j = 1; j < t.size(); ++j)
        if (t[j] - t[j - 1] > 300.0f) on[static_cast<size_t>(c)].push_back(t[j]);
    }
    ASSERT_GE(on[0].size(), 4u);
    int checked = 0;
    for (size_t k = 0; k + 1 < on[0].size(); ++k) {
      const double a0 = on[0][k], a1 = on[0][k + 1];
      double lp = -1, py = -1;
      for (double x : on[1]) if (x > a0 && x < a1 && lp < 0) lp = x;
      for (double x : on[2]) if (x > a0 && x < a1 && py < 0) py = x;
      EXPECT_GT(lp, a0);
      EXPECT_GT(py, lp) << "cycle " << k;
      ++checked;
    }
    EXPECT_GE(checked, 3);
    std::printf("[ info ] Fig. 2e network dt %.3f ms: period %.1f ms, LP phase %.3f, PY phase %.3f, "
                "%d of 15 measures within 2 SD\n", dt, r.f.period_ms, r.f.phase_lp, r.f.phase_py,
                int(r.f.n_within_2sd));
  }
}

// ---- thermal cache ---------------------------------------------------------------------------
TEST(ThermalCache, EachDistinctCellOnceAndEqualToIsolatedRun) {
  std::vector<std::vector<double>> rows;
  for (int a = 1; a <= 5; ++a)
    for (int l = 1; l <= 5; ++l) rows.push_back(pyloric("ABPD" + std::to_string(a), "LP" + std::to_string(l), "PY2", {3, 3, 3, 3, 3, 3, 3}));
  const auto cols = nstest::columns(rows);
  auto s = circuit_settings("pyloric", ns::Precision::Double, 0.05, 0, 100);
  ns::ThermalCache cache(s, 500);
  std::vector<double> init(rows.size() * PyloricModel::kNumState);
  cache.fill("pyloric", cols.data(), rows.size(), init.data());
  EXPECT_EQ(cache.distinct_cells(), 11u);  // 5 AB/PD + 5 LP + 1 PY
  cache.fill("pyloric", cols.data(), rows.size(), init.data());
  EXPECT_EQ(cache.distinct_cells(), 11u);
  // instance 7 = ABPD2, LP3: its LP state equals LP3 run alone for 500 ms
  auto si = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 500, 0);
  auto lp3 = nstest::preset_params("LP3");
  ns::ChunkInput in;
  in.n = 1;
  in.params = lp3.data();
  ns::ChunkOutput o;
  ns::run_reference(si, in, o);
  for (int k = 0; k < 13; ++k) EXPECT_EQ(init[static_cast<size_t>(13 + k) * rows.size() + 7], o.final_state[k]) << k;
  for (int j = 0; j < 7; ++j) EXPECT_EQ(init[static_cast<size_t>(PyloricModel::kSS + j) * rows.size() + 7], 0.0);
}

// ---- network classifier on constructed trains ----------------------------------------------------
struct Train {
  std::vector<float> t;
  void burst(double on, double off, int n) {
    for (int k = 0; k < n; ++k) t.push_back(float(on + (off - on) * k / (n - 1)));
  }
};

// Cycles of period T: AB/PD [0, dA], LP [l0, l1], PY [p0, p1] (relative to the AB/PD onset).
ns::NetworkClassification run_constructed(double T, double dA, double l0, double l1, double p0, double p1,
                                          bool lp_missing_every_other = false, int ncyc = 8) {
  Train a, l, p;
  for (int k = 0; k < ncyc; ++k) {
    const double t0 = 600 + k * T;
    a.burst(t0, t0 + dA, 10);
    if (!(lp_missing_every_other && k % 2)) l.burst(t0 + l0, t0 + l1, 8);
    p.burst(t0 + p0, t0 + p1, 8);
  }
  const float* sp[3] = {a.t.data(), l.t.data(), p.t.data()};
  const uint32_t n[3] = {uint32_t(a.t.size()), uint32_t(l.t.size()), uint32_t(p.t.size())};
  return ns::classify_network(3, sp, n, n, 600 + ncyc * T + 200, 0, ns::ClassifierSettings{},
                              ns::NetworkClassifierSettings{});
}

TEST(NetworkClassifier, ConstructedPyloricRhythmMeasures) {
  // The experimental means of reference table 4.7: T 1509, AB/PD 582, LP onset 803 (dur 399),
  // PY onset 1141 (dur 530).
  const auto r = run_constructed(1509, 582, 803, 803 + 399, 1141, 1141 + 530);
  EXPECT_EQ(r.label, ns::kPyloricLike);
  EXPECT_NEAR(r.f.period_ms, 1509, 0.01);
  EXPECT_NEAR(r.f.burst_abpd_ms, 582, 0.01);
  EXPECT_NEAR(r.f.burst_lp_ms, 399, 0.01);
  EXPECT_NEAR(r.f.gap_abpd_lp_ms, 803 - 582, 0.01);
  EXPECT_NEAR(r.f.gap_lp_py_ms, 1141 - 1202, 0.01);
  EXPECT_NEAR(r.f.phase_lp, 803.0 / 1509, 1e-5);
  EXPECT_NEAR(r.f.duty_py, 530.0 / 1509, 1e-5);
  EXPECT_EQ(r.f.n_within_2sd, 15.0f);  // the means themselves (derived ratios within 2 SD too)
  EXPECT_EQ(r.f.n_cycles, 7.0f);  // 8 AB/PD onsets, all complete (600 ms lead-in > IBI threshold)
}

TEST(NetworkClassifier, WrongOrderMissingBurstAndIrregularPeriod) {
  // PY before LP: triphasic, not pyloric-like
  EXPECT_EQ(run_constructed(1500, 500, 1000, 1300, 700, 900).label, ns::kTriphasic);
  // LP fires every other cycle only: rhythmic
  EXPECT_EQ(run_constructed(1500, 500, 700, 1000, 900, 1300, true).label, ns::kRhythmic);
  // AB/PD with alternating periods 1000/1500 ms: not rhythmic
  Train a;
  double t0 = 300;
  for (int k = 0; k < 8; ++k, t0 += (k % 2 ? 1000 : 1500)) a.burst(t0, t0 + 300, 8);
  const float* sp[3] = {a.t.data(), a.t.data(), a.t.data()};
  const uint32_t n[3] = {uint32_t(a.t.size()), uint32_t(a.t.size()), uint32_t(a.t.size())};
  EXPECT_EQ(ns::classify_network(3, sp, n, n, t0 + 500, 0, {}, {}).label, ns::kNotRhythmic);
  // status not ok: unclassified, NaN features
  const auto u = ns::classify_network(3, sp, n, n, t0 + 500, ns::kNonFinite, {}, {});
  EXPECT_EQ(u.label, ns::kNetUnclassified);
  EXPECT_TRUE(std::isnan(u.f.period_ms));
}

TEST(NetworkClassifier, SettingsFromJson) {
  ns::ClassifierSettings cs;
  auto s = ns::NetworkClassifierSettings::from_json(
      nlohmann::json::parse(R"({"min_spikes": 4, "network": {"pyloric_fraction": 0.8}})"), "x.json", &cs);
  EXPECT_EQ(cs.min_spikes, 4);
  EXPECT_EQ(s.pyloric_fraction, 0.8);
  EXPECT_EQ(ns::NetworkClassifierSettings::from_json({{"network", s.to_json()}}, "x", nullptr).pyloric_fraction, 0.8);
  try {
    ns::NetworkClassifierSettings::from_json(nlohmann::json::parse(R"({"network": {"pyloric_frac": 1}})"), "x.json", nullptr);
    FAIL();
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("x.json: classifier.network.pyloric_frac"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ns::NetworkClassifierSettings::from_json(nlohmann::json::parse(R"({"network": {"triphasic_fraction": 0}})"), "x", nullptr),
               ns::SpecError);
  EXPECT_EQ(ns::network_feature_columns().size(), static_cast<size_t>(ns::kNumNetworkFeatures));
}

// ---- sweep specs ---------------------------------------------------------------------------
TEST(CircuitSpec, Prinz2004AndDemoSweeps) {
  const auto r = ns::load_spec(std::string(NS_SOURCE_DIR) + "/sweeps/prinz2004.json");
  EXPECT_EQ(r.model->name, "pyloric");
  EXPECT_EQ(r.sweep.size(), 20250000u);  // 5 x 5 x 6 x 6^3 x 5^4 (reference section 4.3)
  EXPECT_EQ(r.initial().kind, ns::InitialKind::kThermalized);
  EXPECT_EQ(r.initial().thermal_ms, 5000.0);
  // last instance: ABPD5, LP5, PY6, every synapse at 100 nS
  const auto p = r.sweep.params_of(20250000u - 1);
  const auto& m = pyl();
  EXPECT_EQ(p[m.param_index("ABPD.gNa")], 300.0);   // ABPD5 (P04 Table 2)
  EXPECT_EQ(p[m.param_index("PY.gleak")], 0.02);    // PY6
  EXPECT_EQ(p[m.param_index("g_PYLP")], 100.0);
  // 1 nS only onto PY
  for (const auto& ax : r.sweep.axes())
    if (ax.kind == ns::AxisKind::kGrid) {
      const bool onto_py = ax.name == "g_ABPY" || ax.name == "g_PDPY" || ax.name == "g_LPPY";
      EXPECT_EQ(std::count(ax.values.begin(), ax.values.end(), 1.0), onto_py ? 1 : 0) << ax.name;
    }
  const auto d = ns::load_spec(std::string(NS_SOURCE_DIR) + "/sweeps/pyloric_demo.json");
  EXPECT_EQ(d.sweep.size(), 1458u);
  // thermalize on a point neuron (no thermalised start): a clear error naming the key
  try {
    ns::parse_spec_text(R"({"model": "iaf_psc_alpha", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s",
                            "initial": {"thermalize": "5 s"}})", "t.json");
    FAIL();
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("initial.thermalize"), std::string::npos) << e.what();
  }
}

}  // namespace
