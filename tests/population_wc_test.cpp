// Wilson-Cowan units (include/neurosweep/population/wilson_cowan.hpp) through the population path
// (rate_engine.hpp, run_rates.hpp) and the rate classifier (host/classify/classify_rate.*):
//  - the labels of a P x c1 sweep against linear stability analysis done here, independently: the
//    fixed points from the nullclines (bisection), the Jacobian by central differences, its trace
//    and determinant; the Hopf point of each c1 row (tr = 0) against the classified boundary;
//  - the steady rates of stable units against the fixed point;
//  - the same database for any thread count and chunk size; /rates written with both series;
//  - bad classifier settings and too coarse rate bins name the key and the value.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "classify/classify_rate.hpp"
#include "cli_fixture.hpp"
#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;

namespace {

// ---- the model written again from the paper (WC72 eqs. 11-13), in double ----------------------
struct WC {
  double te = 10, ti = 10, c1 = 16, c2 = 12, c3 = 15, c4 = 3, P = 1.25, Q = 0, ae = 1.3, the = 4, ai = 2,
         thi = 3.7, ke = 1, ki = 1, re = 1, ri = 1;
  static double S(double x, double a, double th) { return 1 / (1 + std::exp(-a * (x - th))) - 1 / (1 + std::exp(a * th)); }
  double fE(double e, double i) const { return (-e + (ke - re * e) * S(c1 * e - c2 * i + P, ae, the)) / te; }
  double fI(double e, double i) const { return (-i + (ki - ri * i) * S(c3 * e - c4 * i + Q, ai, thi)) / ti; }
  // I on the I-nullcline for a given E: fI(E, .) decreases strictly in I, positive at -1, negative at 1.
  double inull(double e) const {
    double lo = -1, hi = 1;
    for (int k = 0; k < 64; ++k) {  // width 2 / 2^64: below double resolution
      const double m = 0.5 * (lo + hi);
      (fI(e, m) > 0 ? lo : hi) = m;
    }
    return 0.5 * (lo + hi);
  }
  struct FP {
    double e, i, tr, det;
  };
  // Every fixed point with E in [-0.2, 1]: sign changes of fE along the I-nullcline, refined.
  std::vector<FP> fixed_points() const {
    std::vector<FP> out;
    const int n = 2400;  // E steps of 5e-4
    auto g = [&](double e) { return fE(e, inull(e)); };
    double e0 = -0.2, g0 = g(e0);
    for (int k = 1; k <= n; ++k) {
      const double e1 = -0.2 + 1.2 * k / n, g1 = g(e1);
      if ((g0 < 0) != (g1 < 0)) {
        double lo = e0, hi = e1, glo = g0;
        for (int q = 0; q < 60; ++q) {
          const double m = 0.5 * (lo + hi), gm = g(m);
          if ((gm < 0) == (glo < 0)) lo = m, glo = gm;
          else hi = m;
        }
        const double e = 0.5 * (lo + hi), i = inull(e), h = 1e-7;
        const double a = (fE(e + h, i) - fE(e - h, i)) / (2 * h), b = (fE(e, i + h) - fE(e, i - h)) / (2 * h);
        const double c = (fI(e + h, i) - fI(e - h, i)) / (2 * h), d = (fI(e, i + h) - fI(e, i - h)) / (2 * h);
        out.push_back({e, i, a + d, a * d - b * c});
      }
      e0 = e1, g0 = g1;
    }
    return out;
  }
};

constexpr int kNP = 41, kNC = 5;  // P = 0.0, 0.075, ..., 3.0; c1 = 14, 15, ..., 18
double p_of(int j) { return 3.0 * j / (kNP - 1); }
double c1_of(int r) { return 14.0 + r; }

json sweep_spec() {
  return json{{"model", "wilson_cowan"},
              {"dt", "0.1 ms"},
              {"transient", "1000 ms"},
              {"analysis", "1000 ms"},
              {"precision", "double"},
              {"axes",
               {{{"kind", "grid"}, {"param", "c1"}, {"linspace", {{"start", 14}, {"stop", 18}, {"count", kNC}}}},
                {{"kind", "grid"}, {"param", "P"}, {"linspace", {{"start", 0}, {"stop", 3}, {"count", kNP}}}}}}};
}

// Runs the spec through the CPU backend and the rate classifier, in memory.
struct WcRun {
  ns::RunSpec spec;
  ns::ChunkOutput out;
  std::vector<int8_t> labels;
  std::vector<ns::RateFeatures> feats;  // instance-major, 2 per instance
};
WcRun run_in_memory(const json& j, int threads) {
  WcRun r;
  r.spec = ns::parse_spec(j, "wc.json");
  const uint64_t n = r.spec.sweep.size();
  std::vector<double> params(n * r.spec.sweep.n_params());
  r.spec.sweep.fill(0, n, params.data());
  ns::ChunkInput in;
  in.n = n;
  in.params = params.data();
  ns::make_cpu_backend()->run(ns::run_settings(r.spec, 0, threads), in, r.out);
  const auto s = ns::RateClassifierSettings::from_json(r.spec.classifier, "wc.json");
  r.labels.resize(n);
  r.feats.resize(2 * n);
  for (uint64_t i = 0; i < n; ++i)
    r.labels[i] = ns::classify_rates(r.out.rates.data() + i * 2 * r.out.n_bins, 2, r.out.n_bins, r.spec.rate_bin_ms,
                                     r.out.status[i], s, &r.feats[2 * i]);
  return r;
}

}  // namespace

TEST(WilsonCowanSpec, RatesAreTheModelsSeries) {
  const ns::RunSpec s = ns::parse_spec(sweep_spec(), "wc.json");
  EXPECT_EQ(s.rate_series, (std::vector<std::string>{"E", "I"}));
  EXPECT_EQ(s.rate_bin_ms, 1.0);
  EXPECT_EQ(s.rate_bin_steps, 10);
}

// Reference (computed by this test's fixed points): with the default limit-cycle set, c1 = 16,
// P = 1.25 has a single unstable focus (reference section 4: (0.2018, 0.1069) with k = sup S; here
// k = 1). Every instance whose fixed point is unique must be labelled as its stability says:
// unstable (tr > 0, det > 0) -> oscillatory; stable -> steady (or quiescent below 0.1 Hz). The
// only disagreements allowed are next to the Hopf boundary (a grid neighbour of the other
// stability), where the limit cycle is small or the focus decays slowly; and per c1 row the Hopf
// point (bisection of tr = 0 in P) lies within one grid step of the classified boundary.
TEST(WilsonCowan, LabelsAgreeWithLinearStability) {
  const WcRun r = run_in_memory(sweep_spec(), 0);
  ASSERT_EQ(r.out.n_series, 2);
  // expected class: 1 unstable unique, 0 stable unique, -1 several fixed points (start-dependent)
  std::vector<int> want(kNC * kNP);
  std::vector<WC::FP> fp(kNC * kNP);
  for (int row = 0; row < kNC; ++row)
    for (int j = 0; j < kNP; ++j) {
      WC w;
      w.c1 = c1_of(row);
      w.P = p_of(j);
      const auto f = w.fixed_points();
      ASSERT_GE(f.size(), 1u) << "c1 " << w.c1 << " P " << w.P;
      const int k = row * kNP + j;
      if (f.size() > 1) {
        want[k] = -1;
        continue;
      }
      fp[k] = f[0];
      want[k] = (f[0].det > 0 && f[0].tr > 0) ? 1 : 0;
    }
  int checked = 0, agree = 0, n_osc = 0, n_stable = 0;
  for (int row = 0; row < kNC; ++row)
    for (int j = 0; j < kNP; ++j) {
      const int k = row * kNP + j;
      if (want[k] < 0) continue;
      ++checked;
      const int8_t lab = r.labels[k];
      const bool ok = want[k] == 1 ? lab == ns::kOscillatory : (lab == ns::kSteady || lab == ns::kQuiescent);
      n_osc += want[k] == 1;
      n_stable += want[k] == 0;
      if (ok) {
        ++agree;
        continue;
      }
      bool boundary = false;
      for (int dj : {-1, 1})
        if (j + dj >= 0 && j + dj < kNP && want[k + dj] >= 0 && want[k + dj] != want[k]) boundary = true;
      for (int dr : {-1, 1})
        if (row + dr >= 0 && row + dr < kNC && want[k + dr * kNP] >= 0 && want[k + dr * kNP] != want[k]) boundary = true;
      EXPECT_TRUE(boundary) << "c1 " << c1_of(row) << " P " << p_of(j) << ": label " << ns::rate_label_names()[lab]
                            << " but the fixed point (" << fp[k].e << ", " << fp[k].i << ") has tr " << fp[k].tr
                            << " det " << fp[k].det;
    }
  EXPECT_GT(n_osc, 20) << "the sweep must cross the oscillatory region";
  EXPECT_GT(n_stable, 20) << "and the stable one";
  EXPECT_GE(agree, checked - 2 * kNC) << agree << " of " << checked << " agree";
  std::printf("[wc] %d units with a unique fixed point, %d labels agree with linear stability (%d unstable, %d stable)\n",
              checked, agree, n_osc, n_stable);

  // Hopf point per row (upper end of the unstable P range, from the test's own stability) vs. the
  // classified boundary (upper end of the oscillatory labels).
  int rows = 0;
  for (int row = 0; row < kNC; ++row) {
    int last_unstable = -1, last_osc = -1;
    for (int j = 0; j < kNP; ++j) {
      if (want[row * kNP + j] == 1) last_unstable = j;
      if (r.labels[row * kNP + j] == ns::kOscillatory) last_osc = j;
    }
    if (last_unstable < 0 || last_unstable == kNP - 1 || want[row * kNP + last_unstable + 1] != 0) continue;
    ASSERT_GE(last_osc, 0) << "c1 " << c1_of(row) << ": unstable units but no oscillatory label";
    ++rows;
    WC w;
    w.c1 = c1_of(row);
    double lo = p_of(last_unstable), hi = p_of(last_unstable + 1);  // tr > 0 at lo, < 0 at hi
    for (int q = 0; q < 40; ++q) {
      const double m = 0.5 * (lo + hi);
      w.P = m;
      const auto f = w.fixed_points();
      ASSERT_EQ(f.size(), 1u);
      (f[0].tr > 0 ? lo : hi) = m;
    }
    const double hopf = 0.5 * (lo + hi), step = p_of(1);
    const double classified = 0.5 * (p_of(last_osc) + p_of(last_osc + 1));
    EXPECT_LE(std::fabs(hopf - classified), step) << "c1 " << w.c1 << ": Hopf at P = " << hopf
                                                  << ", classified boundary at " << classified;
    std::printf("[wc] c1 = %g: Hopf P = %.4f (tr = 0), classified boundary P = %.4f +- %.4f\n", w.c1, hopf, classified,
                step / 2);
  }
  EXPECT_GE(rows, 3) << "rows with a Hopf point inside the P range";
}

// Stable units settle at their fixed point: E.steady_hz = nu_max E*, I.steady_hz = nu_max I*
// (nu_max = 100 Hz). Tolerance 1e-3 Hz: the slowest stable focus of the grid away from the
// boundary decays to well below that in the 1 s transient, and RK4 at dt = 0.1 ms has a global
// error of order (dt/tau)^4 ~ 1e-8.
TEST(WilsonCowan, SteadyRatesAreTheFixedPoint) {
  const WcRun r = run_in_memory(sweep_spec(), 2);
  int checked = 0;
  for (int row = 0; row < kNC; ++row)
    for (int j = 0; j < kNP; ++j) {
      WC w;
      w.c1 = c1_of(row);
      w.P = p_of(j);
      const auto f = w.fixed_points();
      if (f.size() != 1 || f[0].tr > -0.02) continue;  // unique and clearly stable (decay time < 100 ms)
      const int k = row * kNP + j;
      EXPECT_NEAR(r.feats[2 * k].steady_hz, 100 * f[0].e, 1e-3) << "c1 " << w.c1 << " P " << w.P;
      EXPECT_NEAR(r.feats[2 * k + 1].steady_hz, 100 * f[0].i, 1e-3) << "c1 " << w.c1 << " P " << w.P;
      ++checked;
    }
  EXPECT_GT(checked, 50);
}

// The default unit (c1 = 16, P = 1.25) oscillates with a period of about 5 tau (reference section
// 4: 5.00 tau with k = sup S and with k = 1): 20 Hz at tau = 10 ms. Tolerance 2 %: the frequency
// is measured from mean crossings of 1 ms bins over 1 s.
TEST(WilsonCowan, DefaultUnitOscillatesAtFiveTau) {
  json j = sweep_spec();
  j["axes"] = json::array({json{{"kind", "list"}, {"param", "P"}, {"values", {1.25}}}});
  const WcRun r = run_in_memory(j, 1);
  ASSERT_EQ(r.labels[0], ns::kOscillatory);
  EXPECT_NEAR(r.feats[0].freq_hz, 20.0, 0.4);
  EXPECT_NEAR(r.feats[1].freq_hz, 20.0, 0.4);
}

class WilsonCowanCli : public nstest::CliTest {
 protected:
  WilsonCowanCli() : CliTest("ns_wc_") {}
};

std::vector<float> read_rates(const std::string& file, hsize_t dims[2]) {
  std::vector<float> v;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  if (f < 0) return v;
  hid_t d = H5Dopen2(f, "/rates/values", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  H5Sget_simple_extent_dims(sp, dims, nullptr);
  v.resize(dims[0] * dims[1]);
  H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  return v;
}

// Same database (every column, /rates bit for bit) for 1 thread and chunks of 64, and 2 threads and
// chunks of 7; and both equal the in-memory run.
TEST_F(WilsonCowanCli, SameDatabaseWhateverThreadsAndChunks) {
  json j = sweep_spec();
  j["precision"] = "float";
  j["analysis"] = "300 ms";
  j["transient"] = "100 ms";
  j["output"] = {{"rate_bin", "2 ms"}};
  const auto spec = write("wc.json", j.dump());
  for (const char* o : {"a --threads 1 --chunk 64", "b --threads 2 --chunk 7"}) {
    const std::string name = std::string(o).substr(0, 1);
    const auto r = cli("run " + spec.string() + " -o " + (dir / (name + ".h5")).string() + " -q" + std::string(o).substr(1));
    ASSERT_EQ(r.code, 0) << r.err;
  }
  hsize_t da[2] = {0, 0}, db[2] = {0, 0};
  const auto ra = read_rates((dir / "a.h5").string(), da), rb = read_rates((dir / "b.h5").string(), db);
  ASSERT_EQ(da[0], uint64_t(kNC * kNP));
  ASSERT_EQ(da[1], 2u * 150u) << "E and I, 150 bins of 2 ms";
  EXPECT_EQ(ra, rb);
  const WcRun mem = run_in_memory(j, 2);
  EXPECT_EQ(ra, mem.out.rates);
  const auto qa = cli("query " + (dir / "a.h5").string() + " --format csv");
  const auto qb = cli("query " + (dir / "b.h5").string() + " --format csv");
  ASSERT_EQ(qa.code, 0) << qa.err;
  EXPECT_EQ(qa.out, qb.out);
  EXPECT_NE(qa.out.find("E.steady_hz"), std::string::npos);
  EXPECT_NE(qa.out.find("oscillatory"), std::string::npos);
}

TEST(WilsonCowanSpec, BadSettingsNameKeyAndValue) {
  auto error_of = [](const json& j) -> std::string {
    try {
      const ns::RunSpec s = ns::parse_spec(j, "wc.json");
      ns::make_classifier_stage(s);
    } catch (const ns::SpecError& e) {
      return e.what();
    }
    return "(no error)";
  };
  json a = sweep_spec();
  a["classifier"] = {{"quiescent_hz", -1}};
  EXPECT_NE(error_of(a).find("classifier.quiescent_hz = -1"), std::string::npos) << error_of(a);
  json b = sweep_spec();
  b["output"] = {{"rate_bin", "200 ms"}};
  EXPECT_NE(error_of(b).find("rate_bin = 200"), std::string::npos) << error_of(b);
  json c = sweep_spec();
  c["fixed"] = {{"tau_e", 0}};
  EXPECT_NE(error_of(c).find("tau_e"), std::string::npos) << error_of(c);
  json d = sweep_spec();
  d["classifier"] = {{"min_spikes", 3}};
  EXPECT_NE(error_of(d).find("unknown key"), std::string::npos) << error_of(d);
}
