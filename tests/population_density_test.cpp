// DiPDE population-density networks (include/neurosweep/population/density.hpp, model
// "dipde_network", spec object "populations": host/population/population_spec.cpp):
//  - DiPDE's own test values (dipde/test/test_singlepop.py test_basic and
//    test_propogation_methods, as re-run in shared/reference/networks-and-populations.md 5.3),
//    converted to ms/mV: the engine's step in double, to 1e-9 relative;
//  - probability is conserved and the density stays non-negative;
//  - the PopNet tutorial network (E/I, reference 5.4): steady E 3.535453 Hz and I 4.154555 Hz;
//  - the time step guard (density.hpp kRoundTol, kSubstepTheta): the tutorial at dt 2 ms against
//    dt 1 and 0.1 ms, against the dense peer's exact exponential and DiPDE's gmres numbers; the
//    sub-step cap gives status nonfinite;
//  - the run path: /rates holds the populations' rates, the same database for any thread count and
//    chunk size, labels steady;
//  - the spec's errors name the key and the value.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "classify/classify_rate.hpp"
#include "cli_fixture.hpp"
#include "errors.hpp"
#include "network/run_network.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/population/rate_engine.hpp"
#include "population/population_spec.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
using M = ns::DensityNetworkModel;

namespace {

// One external population at `hz` driving one internal population with jumps of w mV (DiPDE
// test_singlepop in ms and mV: tau 20 ms, v_max 20 mV, nsyn 1, delay 0).
json singlepop(double v_min, double dv, double tol, double hz = 100.0, double w = 5.0) {
  return json{{"model", "dipde_network"},
              {"dt", "1 ms"},
              {"transient", "0 ms"},
              {"analysis", "100 ms"},
              {"populations",
               {{"internal", {{"p", {{"tau_m", 20}, {"v_min", v_min}, {"v_max", 20}, {"dv", dv}}}}},
                {"external", {{"ext", {{"rate", hz}}}}},
                {"connections", {{{"source", "ext"}, {"target", "p"}, {"weight", w}, {"nsyns", 1}, {"delay", 0}}}},
                {"tol", tol}}}};
}

// The PopNet tutorial / pop_2pops network (reference 3.6) in ms and mV: exc tau 42.9 ms, inh
// 29.9 ms, v in [-50, 20] mV, dv 0.1 mV; E->I 5 mV x 20, I->E -2 mV x 10, tON->E 2.5 mV x 10 at
// 15 Hz, all delays 2 ms.
json tutorial(const std::string& dt = "1 ms") {
  return json{{"model", "dipde_network"},
              {"dt", dt},
              {"transient", "0 ms"},
              {"analysis", "600 ms"},
              {"populations",
               {{"internal",
                 {{"E", {{"tau_m", 42.9}, {"v_min", -50}, {"v_max", 20}, {"dv", 0.1}}},
                  {"I", {{"tau_m", 29.9}, {"v_min", -50}, {"v_max", 20}, {"dv", 0.1}}}}},
                {"external", {{"tON", {{"rate", 15.0}}}}},
                {"connections",
                 {{{"source", "E"}, {"target", "I"}, {"weight", 5.0}, {"nsyns", 20}, {"delay", 2}},
                  {{"source", "I"}, {"target", "E"}, {"weight", -2.0}, {"nsyns", 10}, {"delay", 2}},
                  {{"source", "tON"}, {"target", "E"}, {"weight", 2.5}, {"nsyns", 10}, {"delay", 2}}}}}}};
}

// The engine's steps in double: rates of every internal population after each step.
struct Stepper {
  std::vector<double> d, s;
  double dt;
  explicit Stepper(const ns::RunSpec& spec) : d(M::kNumDerived), s(M::kNumState), dt(spec.dt_ms) {
    M::derive<double>(ns::Strided<const double>{spec.base_params.data(), 1}, d.data(), dt);
    M::init<double>(d.data(), s.data());
  }
  void step(int64_t k) { M::step<double>(s.data(), d.data(), ns::Direct{}, ns::StepContext{0, 0, k}); }
  double rate(int q) const { return s[M::kSRate + q]; }
  double mass(int q) const {
    double m = 0;
    for (int i = 0; i < M::kMaxBins; ++i) m += s[M::kSP + q * M::kMaxBins + i];
    return m;
  }
  double min_p(int q) const {
    double m = 1;
    for (int i = 0; i < M::kMaxBins; ++i) m = std::min(m, s[M::kSP + q * M::kMaxBins + i]);
    return m;
  }
};

}  // namespace

// dipde test_singlepop.test_basic: 100 Hz, w 5 mV, tau 20 ms, v_min -10 mV, v_max 20 mV, dv 1 mV,
// dt 1 ms, 'approx' to tol 1e-12: r(0.05 s) = 5.110935325325733 Hz. Tolerance 1e-9 relative: the
// series is stopped at a last term <= 1e-12 and the rest is rounding (DiPDE works in V and s, we
// in mV and ms, so the edges differ by rounding).
TEST(DensityDipde, SinglePopBasic) {
  const ns::RunSpec spec = ns::parse_spec(singlepop(-10, 1, 1e-12), "t.json");
  Stepper st(spec);
  for (int k = 0; k < 50; ++k) st.step(k);
  EXPECT_NEAR(st.rate(0), 5.110935325325733, 5.110935325325733 * 1e-9);
  EXPECT_NEAR(st.mass(0), 1.0, 1e-12);
  EXPECT_GE(st.min_p(0), 0.0);
}

// dipde test_propogation_methods, 'approx' with tol 1e-5: v_min 0, dv 1 mV, dt 1 ms, rates at 0,
// 5, 10, 15, 20 ms: 0, 0.315585208781, 1.236075196516, 2.366689504131, 3.290166855815 Hz. The
// coarse tolerance makes the Taylor series stop early, so this checks the stopping rule (max-norm
// of the last term). Tolerance 1e-9 relative (the values are given to 12 digits).
TEST(DensityDipde, PropagationToleranceRule) {
  const ns::RunSpec spec = ns::parse_spec(singlepop(0, 1, 1e-5), "t.json");
  Stepper st(spec);
  const double want[5] = {0, 0.315585208781, 1.236075196516, 2.366689504131, 3.290166855815};
  EXPECT_EQ(st.rate(0), 0.0);
  for (int k = 0; k < 20; ++k) {
    st.step(k);
    if ((k + 1) % 5 == 0) EXPECT_NEAR(st.rate(0), want[(k + 1) / 5], 1e-9 * want[(k + 1) / 5] + 1e-12) << "t = " << k + 1 << " ms";
  }
}

// The PopNet tutorial network (reference 5.4, DiPDE gmres, computed there): steady state E =
// 3.535453 Hz, I = 4.154555 Hz for dt = 1 and 2 ms, reached by about 0.2 s. Our step is DiPDE's
// 'approx' (Taylor to 1e-12) instead of gmres (backward Euler): the steady state is the same (the
// null vector of J), the transient differs. Tolerance 2e-6 relative: the reference's 7 digits.
TEST(DensityDipde, PopNetTutorialSteadyState) {
  const ns::RunSpec spec = ns::parse_spec(tutorial(), "t.json");
  Stepper st(spec);
  for (int k = 0; k < 600; ++k) st.step(k);
  EXPECT_NEAR(st.rate(0), 3.535453, 3.535453 * 2e-6);
  EXPECT_NEAR(st.rate(1), 4.154555, 4.154555 * 2e-6);
  EXPECT_NEAR(st.mass(0), 1.0, 1e-12);
  EXPECT_NEAR(st.mass(1), 1.0, 1e-12);
  std::printf("[density] tutorial at 600 ms: E %.6f Hz, I %.6f Hz\n", st.rate(0), st.rate(1));
}

// The tutorial network's whole time course (transient included) against the dense NumPy
// implementation of DiPDE's update (bench/peers/dipde_dense.py --reference, which reproduces
// DiPDE's own test values and the reference's tutorial numbers; DiPDE is not on PyPI):
// tests/data/dipde_reference.json, 'approx' to 1e-12, dt 1 ms, 300 steps. Tolerance 1e-9 relative
// + 1e-12 Hz: the two differ in rounding only (units mV/ms here, V/s there; banded vs dense sums).
TEST(DensityDipde, TutorialTimeCourseEqualsDenseDipde) {
  std::ifstream f(std::string(NS_SOURCE_DIR) + "/tests/data/dipde_reference.json");
  ASSERT_TRUE(f.good()) << "tests/data/dipde_reference.json";
  const json ref = json::parse(f)["tutorial_approx_dt1ms"];
  const ns::RunSpec spec = ns::parse_spec(tutorial(), "t.json");
  Stepper st(spec);
  double worst = 0;
  ASSERT_EQ(ref["E"].size(), 300u);
  for (int k = 0; k < 300; ++k) {
    st.step(k);
    for (int q = 0; q < 2; ++q) {
      const double want = ref[q == 0 ? "E" : "I"][k].get<double>();
      ASSERT_NEAR(st.rate(q), want, 1e-9 * std::fabs(want) + 1e-12) << (q ? "I" : "E") << " at t = " << k + 1 << " ms";
      worst = std::max(worst, std::fabs(st.rate(q) - want) / std::max(std::fabs(want), 1e-300));
    }
  }
  std::printf("[density] tutorial time course vs dense DiPDE: worst relative difference %.2e\n", worst);
}

class DensityCli : public nstest::CliTest {
 protected:
  DensityCli() : CliTest("ns_density_") {}
};

std::vector<float> read_rates(const std::string& file, hsize_t dims[2], std::string* series) {
  std::vector<float> v;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  if (f < 0) return v;
  hid_t d = H5Dopen2(f, "/rates/values", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  H5Sget_simple_extent_dims(sp, dims, nullptr);
  v.resize(dims[0] * dims[1]);
  H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  hid_t a = H5Aopen(d, "series", H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  if (H5Tis_variable_str(t) > 0) {
    char* s = nullptr;
    H5Aread(a, t, &s);
    *series = s ? s : "";
    H5free_memory(s);
  } else {
    std::string buf(H5Tget_size(t), '\0');
    H5Aread(a, t, buf.data());
    *series = buf.c_str();
  }
  H5Tclose(t);
  H5Aclose(a);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  return v;
}

// A sweep of the tutorial over the E->I weight and the external rate through `neurosweep run`:
// /rates has series E and I; 1 thread / chunks of 4 and 2 threads / chunks of 3 give the same
// bytes and rows; the default point's steady rates (last bin) are the tutorial's.
TEST_F(DensityCli, TutorialSweepSameWhateverThreadsAndChunks) {
  json j = tutorial("1 ms");
  j["transient"] = "300 ms";
  j["analysis"] = "100 ms";
  j["output"] = {{"rate_bin", "10 ms"}};
  j["axes"] = {{{"kind", "list"}, {"param", "E_to_I.weight"}, {"values", {4.0, 5.0}}},
               {{"kind", "list"}, {"param", "tON.rate"}, {"values", {10.0, 15.0, 20.0}}}};
  const auto spec = write("tut.json", j.dump());
  for (const char* o : {"a --threads 1 --chunk 4", "b --threads 2 --chunk 3"}) {
    const std::string name(1, o[0]);
    const auto r = cli("run " + spec.string() + " -o " + (dir / (name + ".h5")).string() + " -q --backend cpu" + std::string(o).substr(1));
    ASSERT_EQ(r.code, 0) << r.err;
  }
  hsize_t da[2] = {0, 0}, db[2] = {0, 0};
  std::string sa, sb;
  const auto ra = read_rates((dir / "a.h5").string(), da, &sa), rb = read_rates((dir / "b.h5").string(), db, &sb);
  ASSERT_EQ(da[0], 6u);
  ASSERT_EQ(da[1], 2u * 10u);
  EXPECT_EQ(json::parse(sa), json({"E", "I"}));
  EXPECT_EQ(ra, rb);
  // instance 4 = (weight 5, rate 15): the tutorial itself
  EXPECT_NEAR(ra[4 * 20 + 9], 3.535453, 3.535453 * 1e-5);
  EXPECT_NEAR(ra[4 * 20 + 19], 4.154555, 4.154555 * 1e-5);
  const auto qa = cli("query " + (dir / "a.h5").string() + " --format csv");
  const auto qb = cli("query " + (dir / "b.h5").string() + " --format csv");
  ASSERT_EQ(qa.code, 0) << qa.err;
  EXPECT_EQ(qa.out, qb.out);
  EXPECT_NE(qa.out.find("E_to_I.weight"), std::string::npos) << qa.out;
  EXPECT_NE(qa.out.find("steady"), std::string::npos) << qa.out;
}

TEST(DensitySpec, ErrorsNameKeyAndValue) {
  auto error_of = [](const json& j) -> std::string {
    try {
      ns::parse_spec(j, "t.json");
    } catch (const ns::SpecError& e) {
      return e.what();
    }
    return "(no error)";
  };
  json a = tutorial();
  a["populations"]["connections"][0]["target"] = "tON";
  EXPECT_NE(error_of(a).find("populations.connections[0].target"), std::string::npos) << error_of(a);
  EXPECT_NE(error_of(a).find("internal population"), std::string::npos) << error_of(a);
  json b = tutorial();
  b["populations"]["internal"]["E"]["dv"] = 0.01;  // 7000 bins
  EXPECT_NE(error_of(b).find("populations.internal.E"), std::string::npos) << error_of(b);
  EXPECT_NE(error_of(b).find("7000 bins"), std::string::npos) << error_of(b);
  json c = tutorial();
  c["populations"]["connections"][1]["source"] = "Q";
  EXPECT_NE(error_of(c).find("got \"Q\""), std::string::npos) << error_of(c);
  json d = tutorial();
  d["axes"] = {{{"kind", "list"}, {"param", "E.tau_m"}, {"values", {-1}}}};
  EXPECT_NE(error_of(d).find("E.tau_m"), std::string::npos) << error_of(d);
  json e = tutorial();
  e["axes"] = {{{"kind", "list"}, {"param", "E.dv"}, {"values", {0.05}}}};
  EXPECT_NE(error_of(e).find("E.dv <= 1024"), std::string::npos) << error_of(e);
  json f = tutorial();
  f["model"] = "wilson_cowan";
  EXPECT_NE(error_of(f).find("\"populations\""), std::string::npos) << error_of(f);
  json g = tutorial();
  g["populations"]["internal"]["E"]["v_min"] = 5;
  EXPECT_NE(error_of(g).find("populations.internal.E.v_min"), std::string::npos) << error_of(g);
}

// Against Monte Carlo (issue 17): one population driven by Poisson input against 10,000
// iaf_psc_delta neurons (neurosweep's NEST-exact model) with the same jump (1 mV), input rate
// (1200 Hz), tau_m (20 ms), threshold (20 mV above rest), reset at rest and no refractory period
// (DiPDE has none). Both at dt = 0.1 ms. Steady rate over 1 s after a 200 ms transient. Tolerance
// 2 % (the issue's bound); the Monte-Carlo standard error is about 0.3 % (about 3e5 spikes), the
// rest is the density's first-order error in dv = 0.1 mV (jumps of 10 bins) and the time grid of
// the spiking model.
TEST(DensityMonteCarlo, SteadyRateOfPoissonDrivenLifWithin2Percent) {
  json j = singlepop(0, 0.1, 1e-12, 1200.0, 1.0);
  j["dt"] = "0.1 ms";
  const ns::RunSpec spec = ns::parse_spec(j, "t.json");
  Stepper st(spec);
  const int n_tr = 2000, n_an = 10000;  // 200 ms, 1 s
  for (int k = 0; k < n_tr; ++k) st.step(k);
  double sum = 0;
  for (int k = n_tr; k < n_tr + n_an; ++k) {
    st.step(k);
    sum += st.rate(0);
  }
  const double density_hz = sum / n_an;

  const ns::ModelDesc& m = *ns::find_model("iaf_psc_delta");
  std::vector<double> p = m.defaults();
  auto set = [&](const char* n, double v) { p[static_cast<size_t>(m.param_index(n))] = v; };
  set("E_L", 0), set("V_reset", 0), set("V_m", 0), set("V_th", 20), set("t_ref", 0), set("tau_m", 20);
  set("rate_ex", 1200), set("weight_ex", 1.0);
  const size_t n = 10000;
  std::vector<double> cols(p.size() * n);
  for (size_t k = 0; k < p.size(); ++k)
    for (size_t i = 0; i < n; ++i) cols[k * n + i] = p[k];
  ns::RunSettings rs;
  rs.model = "iaf_psc_delta";
  rs.precision = ns::Precision::Double;
  rs.gating = ns::Gating::Direct;
  rs.sim.dt = 0.1;
  rs.sim.n_transient = n_tr;
  rs.sim.n_analysis = n_an;
  rs.sim.max_spikes = 0;
  rs.sim.seed = 17;
  ns::ChunkInput in;
  in.n = n;
  in.params = cols.data();
  ns::ChunkOutput out;
  ns::make_cpu_backend()->run(rs, in, out);
  double spikes = 0;
  for (size_t i = 0; i < n; ++i) spikes += out.n_spikes[i];
  const double mc_hz = spikes / (double(n) * 1.0);
  std::printf("[density] Poisson-driven LIF: density %.4f Hz, 10,000 iaf_psc_delta %.4f Hz (%+.2f %%)\n", density_hz,
              mc_hz, 100.0 * (density_hz - mc_hz) / mc_hz);
  EXPECT_GT(mc_hz, 5.0) << "a regime with spikes";
  EXPECT_NEAR(density_hz, mc_hz, 0.02 * mc_hz);
}

// Against Monte Carlo, step response (issue 17): the same population and ensemble as above, the
// input stepped from 0 to 1200 Hz at t0 = 0 with every neuron (and the density: DiPDE's p0, a
// delta at reset) at rest. Population rate in 1 ms bins over the first 100 ms: the mean drive
// (tau w nu = 24 mV) carries the neurons to threshold together, so the rate has a first peak near
// 30 ms and damped ringing towards 30.6 Hz. Error band: the ensemble's own sampling error. The
// neurons are independent (independent Poisson inputs), so a bin's spike count is a sum of 10,000
// independent counts of at most a few spikes, variance <= its mean (at most one spike per neuron
// per 1 ms bin here: mean rate x bin << 1 and no burst mechanism): sigma_b = sqrt(r_b / (N bin)),
// with r_b the density's rate (the model under test, not the noisy estimate). Asserted: every bin
// within 4 sigma_b + 2 % of r_b (4 sigma: 100 bins, a false alarm has probability < 1e-2 overall;
// 2 %: the steady bound above, for the density's first-order error in dv and the spiking model's
// time grid), and the mean of z_b^2 = ((density - MC)/sigma_b)^2 below 2 (1 for pure sampling
// error; its standard deviation over 100 bins is about 0.14). The test can fail: the same
// statistic for the density shifted by 3 ms, and for the flat steady rate, is asserted above 4.
TEST(DensityMonteCarlo, StepResponseOfPoissonDrivenLifWithinSamplingBand) {
  json j = singlepop(0, 0.1, 1e-12, 1200.0, 1.0);
  j["dt"] = "0.1 ms";
  const ns::RunSpec spec = ns::parse_spec(j, "t.json");
  Stepper st(spec);
  const int n_steps = 1000, per_bin = 10, n_bins = n_steps / per_bin;  // 100 ms, 1 ms bins
  const double bin_s = 1e-3;
  std::vector<double> dens(n_bins, 0.0);
  for (int k = 0; k < n_steps; ++k) {
    st.step(k);
    dens[k / per_bin] += st.rate(0) / per_bin;
  }

  const ns::ModelDesc& m = *ns::find_model("iaf_psc_delta");
  std::vector<double> p = m.defaults();
  auto set = [&](const char* n, double v) { p[static_cast<size_t>(m.param_index(n))] = v; };
  set("E_L", 0), set("V_reset", 0), set("V_m", 0), set("V_th", 20), set("t_ref", 0), set("tau_m", 20);
  set("rate_ex", 1200), set("weight_ex", 1.0);
  const size_t n = 10000;
  const int max_spikes = 64;  // at most ~10 spikes in 100 ms at these rates
  std::vector<double> cols(p.size() * n);
  for (size_t k = 0; k < p.size(); ++k)
    for (size_t i = 0; i < n; ++i) cols[k * n + i] = p[k];
  ns::RunSettings rs;
  rs.model = "iaf_psc_delta";
  rs.precision = ns::Precision::Double;
  rs.gating = ns::Gating::Direct;
  rs.sim.dt = 0.1;
  rs.sim.n_transient = 0;
  rs.sim.n_analysis = n_steps;
  rs.sim.max_spikes = max_spikes;
  rs.sim.seed = 23;
  ns::ChunkInput in;
  in.n = n;
  in.params = cols.data();
  ns::ChunkOutput out;
  ns::make_cpu_backend()->run(rs, in, out);
  std::vector<double> mc(n_bins, 0.0);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_LE(out.n_spikes[i], static_cast<uint32_t>(max_spikes)) << "every spike kept";
    for (uint32_t s = 0; s < out.n_spikes[i]; ++s) {
      // Spike times lie on the 0.1 ms grid; the step ending at t = (k + 1) dt belongs to bin
      // floor(k / 10), as the density's step k (rounding guards against float times).
      const int k = static_cast<int>(std::lround(out.spike_times[i * out.max_spikes + s] / 0.1)) - 1;
      if (k >= 0 && k < n_steps) mc[k / per_bin] += 1.0 / (double(n) * bin_s);
    }
  }
  auto mean_z2 = [&](const std::vector<double>& model) {
    double z2 = 0;
    for (int b = 0; b < n_bins; ++b) {
      const double sig = std::sqrt(std::max(model[b], 1.0) / (double(n) * bin_s));
      z2 += (model[b] - mc[b]) * (model[b] - mc[b]) / (sig * sig);
    }
    return z2 / n_bins;
  };
  int worst = 0;
  double worst_ratio = 0, peak_d = 0, peak_mc = 0;
  int t_peak_d = 0, t_peak_mc = 0;
  for (int b = 0; b < n_bins; ++b) {
    const double sig = std::sqrt(std::max(dens[b], 1.0) / (double(n) * bin_s));
    const double band = 4 * sig + 0.02 * dens[b];
    const double ratio = std::abs(dens[b] - mc[b]) / band;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = b;
    EXPECT_LE(std::abs(dens[b] - mc[b]), band) << "bin " << b << " ms: density " << dens[b] << " Hz, MC " << mc[b];
    if (dens[b] > peak_d) peak_d = dens[b], t_peak_d = b;
    if (mc[b] > peak_mc) peak_mc = mc[b], t_peak_mc = b;
  }
  std::vector<double> shifted(n_bins, 0.0), flat(n_bins, 0.0);
  for (int b = 0; b < n_bins; ++b) shifted[b] = b >= 3 ? dens[b - 3] : 0.0, flat[b] = dens[n_bins - 1];
  const double z2 = mean_z2(dens), z2_shift = mean_z2(shifted), z2_flat = mean_z2(flat);
  std::printf("[density] step response, 1 ms bins over 100 ms: first peak density %.2f Hz at %d ms, 10,000 "
              "iaf_psc_delta %.2f Hz at %d ms; mean z^2 %.3f (density shifted 3 ms: %.2f, flat steady rate: %.1f); "
              "worst bin %d ms at %.2f of its band\n",
              peak_d, t_peak_d, peak_mc, t_peak_mc, z2, z2_shift, z2_flat, worst, worst_ratio);
  for (int b = 0; b < n_bins; b += 5) std::printf("  %3d ms  density %7.3f  MC %7.3f\n", b, dens[b], mc[b]);
  EXPECT_LT(z2, 2.0);
  EXPECT_GT(z2_shift, 4.0) << "the statistic sees a 3 ms shift";
  EXPECT_GT(z2_flat, 4.0) << "the statistic sees the transient";
}

namespace {

// Siegert formula (Amit & Brunel 1997; Brunel 2000, J Comput Neurosci 8:183, eq. 21) for the
// diffusion approximation of a LIF neuron with delta synapses, no refractory period:
// 1/nu = tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma} exp(u^2) (1 + erf u) du, with
// mu = tau sum_k w_k nu_k and sigma^2 = tau sum_k w_k^2 nu_k (Brunel 2000 eqs. 4-5 with C nu -> the
// total input rate of each jump size). exp(u^2)(1 + erf u) = exp(u^2) erfc(-u); composite Simpson
// with 4000 intervals (the integrand is smooth; the quadrature error is < 1e-9 relative here).
double siegert_hz(double tau_ms, double theta, double v_r, double mu, double sigma) {
  const double a = (v_r - mu) / sigma, b = (theta - mu) / sigma;
  const int n = 4000;
  const double h = (b - a) / n;
  auto f = [](double u) { return std::exp(u * u) * std::erfc(-u); };
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4 : 2);
  const double integral = s * h / 3;
  return 1000.0 / (tau_ms * std::sqrt(M_PI) * integral);
}

// Steady rate of one density population (tau 20 ms, reset 0, threshold 20 mV, v_min -10 mV, bin
// dv) driven by jumps +w at nu_e and -w at nu_i (Hz): the mean of the rate over the last 100 ms
// of 400 ms (from the delta at reset; the slowest mode decays in ~ tau, so after 300 ms the
// remaining transient is ~ e^-15).
double density_steady_ei(double w, double nu_e, double nu_i, double dv) {
  json j{{"model", "dipde_network"},
         {"dt", "0.1 ms"},
         {"transient", "0 ms"},
         {"analysis", "400 ms"},
         {"populations",
          {{"internal", {{"p", {{"tau_m", 20}, {"v_min", -10}, {"v_max", 20}, {"dv", dv}}}}},
           {"external", {{"e", {{"rate", nu_e}}}, {"i", {{"rate", nu_i}}}}},
           {"connections",
            {{{"source", "e"}, {"target", "p"}, {"weight", w}, {"nsyns", 1}, {"delay", 0}},
             {{"source", "i"}, {"target", "p"}, {"weight", -w}, {"nsyns", 1}, {"delay", 0}}}},
           {"tol", 1e-12}}}};
  Stepper st(ns::parse_spec(j, "t.json"));
  double sum = 0;
  for (int k = 0; k < 4000; ++k) {
    st.step(k);
    if (k >= 3000) sum += st.rate(0);
  }
  return sum / 1000;
}

}  // namespace

// Against theory (issue 17): in the small-jump limit the density's steady rate approaches the
// Siegert formula. Input of fixed mean mu = 14 mV and sigma = 6 mV (sigma^2 = tau w^2 (nu_e +
// nu_i), mu = tau w (nu_e - nu_i)) made of jumps of +-w, w = 1.92, 0.96, 0.48, 0.24, 0.12 mV (64,
// 32, 16, 8, 4 bins of dv = 0.03 mV: the jumps land on bin edges). Asserted: from w = 0.96 mV on
// the relative difference to Siegert decreases monotonically, and it is below 1 % at w = 0.12 mV
// (w / sigma = 0.02). The first point (w / sigma = 0.32) is printed but not in the chain: there the
// finite-jump corrections of opposite sign (the overshoot of the threshold by a jump lowers the
// rate, the skewness of the shot noise raises it) partly cancel and it lies closer (-1.9 %) than
// w = 0.96 mV (-4.0 %); from w / sigma = 0.16 down the difference shrinks with w. What remains at
// small w includes the density's first-order error in dv (upwind leak), ~ |drift| dv / sigma^2 ~
// 0.1-1 % at dv = 0.03 mV. Runs in ~10 s (w = 0.12 mV needs 125 kHz of input, many Taylor terms).
TEST(DensityTheory, SmallJumpLimitApproachesSiegert) {
  const double tau = 20, mu = 14, sigma = 6, dv = 0.03;
  const double target = siegert_hz(tau, 20, 0, mu, sigma);
  std::printf("[density] Siegert (mu %.0f mV, sigma %.0f mV, tau %.0f ms): %.4f Hz\n", mu, sigma, tau, target);
  double prev = 1e9;
  for (double w : {1.92, 0.96, 0.48, 0.24, 0.12}) {
    const double sum_khz = sigma * sigma / (tau * w * w), diff_khz = mu / (tau * w);
    const double nu_e = 500.0 * (sum_khz + diff_khz), nu_i = 500.0 * (sum_khz - diff_khz);
    ASSERT_GE(nu_i, 0.0) << "w " << w;
    const double r = density_steady_ei(w, nu_e, nu_i, dv);
    const double rel = (r - target) / target;
    std::printf("[density]   w %.2f mV (w/sigma %.3f, nu_e %.0f Hz, nu_i %.0f Hz): %.4f Hz, %+.2f %%\n", w, w / sigma,
                nu_e, nu_i, r, 100 * rel);
    if (w < 1.0) EXPECT_LT(std::abs(rel), prev) << "w " << w;
    prev = w < 1.0 ? std::abs(rel) : 1e9;
  }
  EXPECT_LT(prev, 0.01);
}

// Against Monte Carlo, the PopNet tutorial's E-I network (issue 17): the density network above
// (tutorial(): E tau 42.9 ms, I 29.9 ms, threshold 20 mV, reset 0) against a spiking network of
// iaf_psc_delta neurons in neurosweep's network kind with the same parameters: N_E = N_I = 5000,
// fixed in-degrees equal to the PopNet edges' nsyns (E->I 20 of 5 mV, I->E 10 of -2 mV; delays
// 2 ms), each E neuron driven by its own Poisson train of 10 x 15 Hz = 150 Hz of 2.5 mV jumps (the
// external tON edges), no refractory period, everything starting at rest (DiPDE's p0).
// Steady rates: the spiking network over 200-1200 ms against the density's steady state (E
// 3.535453 Hz, I 4.154555 Hz, tested above against DiPDE). Error expected: sampling, sqrt(r / (N
// T)) ~ 0.026 Hz (0.8 %) for E; the finite-size shared input (K/N = 0.4 % of the inputs shared by
// two neurons) and the non-Poisson presynaptic trains (the density assumes Poisson input; the
// recurrent trains are fluctuation-driven, CV near 1, but not exactly Poisson) a few percent at
// most; the density's dv error ~0.2 % (the single-population test above). Measured: E -0.8 %,
// I +5.0 % (density above the network: the E trains driving I are less variable than Poisson,
// lowering I's fluctuation-driven rate). Bound: 8 % per population (set after this measurement,
// one seed: it is the measured difference plus margin, not a prediction). Transient: both from rest, population rates in 2 ms bins over the first 150 ms,
// the density at dt 0.1 ms (DiPDE's lag round(2 / 0.1) + 1 = 21 steps, the network's 20): every
// bin within 4 sigma_b + 5 % of the density's rate, sigma_b = sqrt(r_b / (N bin)) as in the
// step-response test, and the mean z^2 below 3.
TEST(DensityMonteCarlo, TutorialEINetworkAgainstSpikingNetwork) {
  const int n_pop = 5000;
  json net = json::parse(R"({
    "model": "network", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1200 ms", "seed": 29,
    "network": {
      "populations": [
        {"name": "E", "model": "iaf_psc_delta", "size": 5000, "sample": 0,
         "params": {"E_L": 0, "V_m": 0, "V_reset": 0, "V_th": 20, "tau_m": 42.9, "t_ref": 0, "C_m": 1}},
        {"name": "I", "model": "iaf_psc_delta", "size": 5000, "sample": 0,
         "params": {"E_L": 0, "V_m": 0, "V_reset": 0, "V_th": 20, "tau_m": 29.9, "t_ref": 0, "C_m": 1}}
      ],
      "projections": [
        {"source": "E", "target": "I", "rule": "fixed_indegree", "indegree": 20, "weight": 5.0, "delay": 2},
        {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": 10, "weight": -2.0, "delay": 2}
      ],
      "drives": [{"target": "E", "type": "poisson", "rate": 150, "weight": 2.5}]
    },
    "output": {"rate_bin": "1 ms"}
  })");
  const ns::RunSpec r = ns::parse_spec(net, "net.json");
  ns::NetworkRunner run(r.network, ns::run_settings(r, 0, 1));
  std::vector<double> p(r.model->params.size());
  r.sweep.fill(0, 1, p.data());
  ns::ChunkInput in;
  in.n = 1;
  in.params = p.data();
  ns::ChunkOutput out;
  run.run(in, out);
  ASSERT_EQ(out.n_series, 2);
  ASSERT_EQ(out.n_bins, 1200u);
  auto net_rate = [&](int pop, uint64_t b) { return double(out.rates[pop * out.n_bins + b]); };

  const double steady[2] = {3.535453, 4.154555};
  for (int pop = 0; pop < 2; ++pop) {
    double s = 0;
    for (uint64_t b = 200; b < 1200; ++b) s += net_rate(pop, b);
    const double mc = s / 1000;
    std::printf("[density] tutorial E-I, steady %s: density %.4f Hz, spiking network (N %d) %.4f Hz (%+.2f %%)\n",
                pop ? "I" : "E", steady[pop], n_pop, mc, 100 * (steady[pop] - mc) / mc);
    EXPECT_NEAR(steady[pop], mc, 0.08 * mc) << (pop ? "I" : "E");
  }

  json d = tutorial("0.1 ms");
  const ns::RunSpec ds = ns::parse_spec(d, "t.json");
  Stepper st(ds);
  const int per_bin = 20, n_bins = 75;  // 2 ms bins, 150 ms
  std::vector<double> dens[2] = {std::vector<double>(n_bins, 0.0), std::vector<double>(n_bins, 0.0)};
  for (int k = 0; k < per_bin * n_bins; ++k) {
    st.step(k);
    for (int q = 0; q < 2; ++q) dens[q][k / per_bin] += st.rate(q) / per_bin;
  }
  for (int pop = 0; pop < 2; ++pop) {
    double z2 = 0, pk_d = 0, pk_n = 0;
    int t_d = 0, t_n = 0;
    for (int b = 0; b < n_bins; ++b) {
      const double mc = 0.5 * (net_rate(pop, 2 * b) + net_rate(pop, 2 * b + 1));
      const double sig = std::sqrt(std::max(dens[pop][b], 1.0) / (n_pop * 2e-3));
      z2 += (dens[pop][b] - mc) * (dens[pop][b] - mc) / (sig * sig);
      EXPECT_LE(std::abs(dens[pop][b] - mc), 4 * sig + 0.05 * dens[pop][b])
          << (pop ? "I" : "E") << " bin " << 2 * b << " ms: density " << dens[pop][b] << ", network " << mc;
      if (dens[pop][b] > pk_d) pk_d = dens[pop][b], t_d = 2 * b;
      if (mc > pk_n) pk_n = mc, t_n = 2 * b;
      if (b % 5 == 0) std::printf("  %s %3d ms  density %7.3f  network %7.3f\n", pop ? "I" : "E", 2 * b, dens[pop][b], mc);
    }
    z2 /= n_bins;
    std::printf("[density] tutorial E-I transient %s (2 ms bins, 150 ms): peak density %.3f Hz at %d ms, network %.3f "
                "Hz at %d ms, mean z^2 %.3f\n", pop ? "I" : "E", pk_d, t_d, pk_n, t_n, z2);
    EXPECT_LT(z2, 3.0) << (pop ? "I" : "E");
  }
}

// Against DiPDE's own behaviour on the tutorial (reference 5.4, DiPDE run on the tutorial's files;
// shared/seeds/002 is the tutorial itself, whose rate plot carries no numbers): steady state E
// 3.535453 Hz, I 4.154555 Hz, "reached by about 0.2 s". At the tutorial's dt (1 ms): from 200 ms to
// the tutorial's tstop (1.5 s) both rates within 1 % of the steady state, and E overshoots its
// steady value first (by more than 2 %: E rises first, I follows through the E->I delay and pulls
// E back). (DiPDE's gmres transient numbers in the reference are for dt = 2 ms, where DiPDE's
// 'approx' Taylor step fails on this grid and the engine sub-steps: the tests below.)
TEST(DensityDipde, TutorialTransientAsDipdeDescribesIt) {
  const ns::RunSpec spec = ns::parse_spec(tutorial("1 ms"), "t.json");
  Stepper st(spec);
  const double steady[2] = {3.535453, 4.154555};
  double e_max = 0, worst_after_200 = 0;
  int t_emax = 0;
  for (int k = 0; k < 1500; ++k) {
    st.step(k);
    const int t_ms = k + 1;
    if (st.rate(0) > e_max) e_max = st.rate(0), t_emax = t_ms;
    if (t_ms >= 200)
      for (int q = 0; q < 2; ++q) worst_after_200 = std::max(worst_after_200, std::abs(st.rate(q) / steady[q] - 1));
  }
  std::printf("[density] tutorial dt 1 ms: E max %.4f Hz at %d ms (%+.1f %% over steady); worst deviation from steady "
              "after 200 ms %.3f %%\n", e_max, t_emax, 100 * (e_max / steady[0] - 1), 100 * worst_after_200);
  EXPECT_LT(worst_after_200, 0.01);
  EXPECT_GT(e_max, steady[0] * 1.02) << "E overshoots before settling";
  EXPECT_LT(t_emax, 200);
}

// The tutorial at dt 2 ms, where DiPDE's single Taylor series over the step loses ~1e17 x eps to
// rounding on this grid (2 dt |J| ~ 67 at v_min -50 mV) and clip + renormalise turned that into
// rates of 0 (before the sub-step guard, density.hpp kRoundTol / kSubstepTheta). Compared with the
// same network at dt 1 and 0.1 ms at common times (every 2 ms):
//  - steady state (300-600 ms) within 1e-6 relative of dt 0.1 ms: with exp(J dt) to tol 1e-12
//    per step, the fixed point (J(lambda*) p* = 0) does not depend on dt (measured 1.9e-9);
//  - the transient (20-300 ms) is not the same at every dt: the delay is discretised to first order
//    (lag round(delay / dt) + 1 steps, input held over a step: a mean delay of 3 ms at dt 2 ms, 2.05
//    ms at dt 0.1 ms). First-order convergence makes max |r(2 ms) - r(0.1 ms)| about
//    (2 - 0.1) / (1 - 0.1) = 2.1 times max |r(1 ms) - r(0.1 ms)|; asserted <= 3 times (measured
//    2.24 for E, 2.41 for I: second-order terms). The broken step gave 0 Hz, far outside;
//  - no zeros: both rates above 0.01 Hz from 40 ms on (E 2.63 Hz, I 0.026 Hz at least).
TEST(DensityDipde, TutorialAtDt2msAgreesWithSmallerSteps) {
  auto run = [](const std::string& dt, double dt_ms) {
    const ns::RunSpec spec = ns::parse_spec(tutorial(dt), "t.json");
    Stepper st(spec);
    const int n = static_cast<int>(std::lround(600 / dt_ms)), every = static_cast<int>(std::lround(2 / dt_ms));
    std::vector<std::array<double, 2>> r;  // at t = 2, 4, ..., 600 ms
    for (int k = 0; k < n; ++k) {
      st.step(k);
      if ((k + 1) % every == 0) r.push_back({st.rate(0), st.rate(1)});
    }
    return r;
  };
  const auto r01 = run("0.1 ms", 0.1), r1 = run("1 ms", 1.0), r2 = run("2 ms", 2.0);
  ASSERT_EQ(r2.size(), 300u);
  ASSERT_EQ(r01.size(), 300u);
  for (int q = 0; q < 2; ++q) {
    double d2 = 0, d1 = 0, steady = 0, lowest = 1e300;
    for (int i = 0; i < 300; ++i) {
      const int t = 2 * (i + 1);
      if (t >= 20 && t <= 300) {
        d2 = std::max(d2, std::fabs(r2[i][q] - r01[i][q]));
        d1 = std::max(d1, std::fabs(r1[i][q] - r01[i][q]));
      }
      if (t >= 300) steady = std::max(steady, std::fabs(r2[i][q] / r01[i][q] - 1));
      if (t >= 40) lowest = std::min(lowest, r2[i][q]);
    }
    std::printf("[density] tutorial %s dt 2 ms: max |r - r(0.1 ms)| %.4f Hz (dt 1 ms: %.4f, ratio %.2f), steady %.2e "
                "relative, lowest rate from 40 ms %.4g Hz\n", q ? "I" : "E", d2, d1, d2 / d1, steady, lowest);
    EXPECT_LT(steady, 1e-6) << (q ? "I" : "E");
    EXPECT_LE(d2, 3 * d1) << (q ? "I" : "E");
    EXPECT_GT(lowest, 0.01) << (q ? "I" : "E");
  }
}

// The tutorial at dt 2 ms against independent references of the same time discretisation (dt
// 2 ms, lag 2 steps, input held over a step), from bench/peers/dipde_dense.py:
//  - tests/data/dipde_reference.json tutorial_expm_dt2ms: p <- scipy.linalg.expm(J dt) p (Pade
//    scaling and squaring, no Taylor series), dense, V and s. The engine's sub-steps (6 for E,
//    9 for I, where the whole step fails its rounding check) each stop at a last term <= 1e-12 and
//    round below 6.6e-13 (density.hpp): ~1e-11 per bin per step; a rate is 1e3 x sum_c lambda_c f_c . p over 700 bins with lambda ~ 0.2 /ms, so ~1e-9 Hz
//    per step, carried on through the network. Tolerance 1e-8 Hz + 1e-8 relative (measured: at
//    most 4.4e-10 Hz for E, 1.4e-9 Hz for I; expm's own error is ~1e-15 relative);
//  - DiPDE's gmres numbers in the reference (5.4: E(50 ms) 3.7777 Hz, I(100 ms) 4.2234 Hz). gmres is
//    backward Euler, first order in the propagation, so it differs from the exact step by its own
//    error. The peer estimates that error (--check): backward Euler in 1, 2, 4 sub-steps of the held
//    input gives E(50) 3.7777, 3.8476, 3.8856 and I(100) 4.2234, 4.1816, 4.1617; Richardson
//    (first order): error of 1 sub-step ~ 2 x (value(2) - value(1)) = E 0.140 Hz, I 0.084 Hz.
//    Tolerance 1.25 x those (E 0.175, I 0.105 Hz: 25 % for the higher-order terms the
//    extrapolation drops; set after measuring the engine's E 3.9259 (-0.148), I 4.1429 (+0.080)).
TEST(DensityDipde, TutorialAtDt2msEqualsExactExponential) {
  std::ifstream f(std::string(NS_SOURCE_DIR) + "/tests/data/dipde_reference.json");
  ASSERT_TRUE(f.good()) << "tests/data/dipde_reference.json";
  const json ref = json::parse(f)["tutorial_expm_dt2ms"];
  ASSERT_EQ(ref["E"].size(), 300u);
  const ns::RunSpec spec = ns::parse_spec(tutorial("2 ms"), "t.json");
  Stepper st(spec);
  double worst = 0, e50 = 0, i100 = 0;
  for (int k = 0; k < 300; ++k) {
    st.step(k);
    if (k + 1 == 25) e50 = st.rate(0);
    if (k + 1 == 50) i100 = st.rate(1);
    for (int q = 0; q < 2; ++q) {
      const double want = ref[q == 0 ? "E" : "I"][k].get<double>();
      ASSERT_NEAR(st.rate(q), want, 1e-8 * std::fabs(want) + 1e-8) << (q ? "I" : "E") << " at t = " << 2 * (k + 1) << " ms";
      worst = std::max(worst, std::fabs(st.rate(q) - want));
    }
  }
  std::printf("[density] tutorial dt 2 ms vs expm: worst difference %.2e Hz; E(50 ms) %.4f Hz (gmres 3.7777), "
              "I(100 ms) %.4f Hz (gmres 4.2234)\n", worst, e50, i100);
  EXPECT_NEAR(e50, 3.7777, 1.25 * 0.140);
  EXPECT_NEAR(i100, 4.2234, 1.25 * 0.084);
}

// The guard's cap: a step that would need more than kMaxSubsteps (1024) sub-steps is not computed
// but reported: the population's state and rate are NaN and run_rate_instance (the loop every
// backend runs) gives status nonfinite. The tutorial at dt 300 ms: I needs ceil(300 x 16.9 / 4) ~
// 1264 sub-steps once E fires (step 2), E then takes I's NaN rate as input (step 3); over 1200 ms
// both rates end NaN. At dt 2 ms (9 sub-steps) the status stays ok with the steady rates.
TEST(DensityDipde, TooManySubstepsGiveStatusNonfinite) {
  auto status_at = [](const std::string& dt, double dt_ms, double* rates) {
    const ns::RunSpec spec = ns::parse_spec(tutorial(dt), "t.json");
    ns::SimConfig c;
    c.dt = dt_ms;
    c.n_transient = 0;
    c.n_analysis = static_cast<int64_t>(std::lround(1200 / dt_ms));
    float vmin = 0, vmax = 0, vmean = 0;
    uint32_t nsp = 0;
    uint8_t st = 255;
    std::vector<double> fin(M::kNumState);
    ns::OutputView out;
    out.n = 1;
    out.n_spikes = &nsp;
    out.v_min = &vmin;
    out.v_max = &vmax;
    out.v_mean = &vmean;
    out.final_state = fin.data();
    out.status = &st;
    ns::run_rate_instance<M, double>(c, spec.base_params.data(), nullptr, 1, 0, 0, out, nullptr, 1, 0, 0);
    rates[0] = fin[M::kSRate];
    rates[1] = fin[M::kSRate + 1];
    return st;
  };
  double r[2] = {0, 0};
  EXPECT_EQ(status_at("300 ms", 300.0, r), ns::kNonFinite);
  EXPECT_TRUE(std::isnan(r[0]) && std::isnan(r[1])) << r[0] << " " << r[1];
  EXPECT_EQ(status_at("2 ms", 2.0, r), ns::kOk);
  EXPECT_NEAR(r[0], 3.535453, 3.535453 * 2e-6);
  EXPECT_NEAR(r[1], 4.154555, 4.154555 * 2e-6);
}
