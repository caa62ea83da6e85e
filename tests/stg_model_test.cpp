// The STG model neuron: gating functions against the published formulas, the elementary
// functions, the lookup tables, and the behaviour of the 16 model neurons of Prinz et al. 2004.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include "neurosweep/stg.hpp"
#include "test_util.hpp"

using ns::StgModel;

namespace {

// P03 Table 1 written out again with std::exp, independently of stg.hpp's helpers.
double boltz(double v, double a, double b) { return 1.0 / (1.0 + std::exp((v + a) / b)); }
struct Gate {
  const char* name;
  std::function<double(double)> inf, tau;
};
const std::vector<Gate>& table1() {
  static const std::vector<Gate> g = {
      {"m_Na", [](double v) { return boltz(v, 25.5, -5.29); }, [](double v) { return 2.64 - 2.52 / (1 + std::exp((v + 120) / -25)); }},
      {"h_Na", [](double v) { return boltz(v, 48.9, 5.18); },
       [](double v) { return (1.34 / (1 + std::exp((v + 62.9) / -10))) * (1.5 + 1 / (1 + std::exp((v + 34.9) / 3.6))); }},
      {"m_CaT", [](double v) { return boltz(v, 27.1, -7.2); }, [](double v) { return 43.4 - 42.6 / (1 + std::exp((v + 68.1) / -20.5)); }},
      {"h_CaT", [](double v) { return boltz(v, 32.1, 5.5); }, [](double v) { return 210 - 179.6 / (1 + std::exp((v + 55) / -16.9)); }},
      {"m_CaS", [](double v) { return boltz(v, 33, -8.1); }, [](double v) { return 2.8 + 14 / (std::exp((v + 27) / 10) + std::exp((v + 70) / -13)); }},
      {"h_CaS", [](double v) { return boltz(v, 60, 6.2); }, [](double v) { return 120 + 300 / (std::exp((v + 55) / 9) + std::exp((v + 65) / -16)); }},
      {"m_A", [](double v) { return boltz(v, 27.2, -8.7); }, [](double v) { return 23.2 - 20.8 / (1 + std::exp((v + 32.9) / -15.2)); }},
      {"h_A", [](double v) { return boltz(v, 56.9, 4.9); }, [](double v) { return 77.2 - 58.4 / (1 + std::exp((v + 38.9) / -26.5)); }},
      {"m_KCa(V part)", [](double v) { return boltz(v, 28.3, -12.6); }, [](double v) { return 180.6 - 150.2 / (1 + std::exp((v + 46) / -22.7)); }},
      {"m_Kd", [](double v) { return boltz(v, 12.3, -11.8); }, [](double v) { return 14.4 - 12.8 / (1 + std::exp((v + 28.3) / -19.2)); }},
      {"m_H", [](double v) { return boltz(v, 75, 5.5); }, [](double v) { return 2 / (std::exp((v + 169.7) / -11.6) + std::exp((v - 26.7) / 14.3)); }},
  };
  return g;
}

}  // namespace

TEST(FastMath, ExpAndLogWithinFewUlp) {
  // Cephes' published accuracy is ~1-2 ulp; allow 4 ulp of the result (float) and 8 ulp (double).
  double worst_f = 0, worst_d = 0, worst_lf = 0, worst_ld = 0;
  for (double x = -80; x <= 80; x += 0.0137) {
    const double ef = std::exp(double(float(x)));
    worst_f = std::max(worst_f, std::fabs(ns::fexp(float(x)) - ef) / ef);
    worst_d = std::max(worst_d, std::fabs(ns::fexp(x) - std::exp(x)) / std::exp(x));
  }
  for (double x = 1e-6; x <= 1e4; x *= 1.0173) {
    const double lf = std::log(double(float(x)));
    worst_lf = std::max(worst_lf, std::fabs(ns::flog(float(x)) - lf) / std::max(1.0, std::fabs(lf)));
    worst_ld = std::max(worst_ld, std::fabs(ns::flog(x) - std::log(x)) / std::max(1.0, std::fabs(std::log(x))));
  }
  EXPECT_LT(worst_f, 4 * std::numeric_limits<float>::epsilon());
  EXPECT_LT(worst_d, 8 * std::numeric_limits<double>::epsilon());
  EXPECT_LT(worst_lf, 4 * std::numeric_limits<float>::epsilon());
  EXPECT_LT(worst_ld, 8 * std::numeric_limits<double>::epsilon());
  EXPECT_TRUE(std::isnan(ns::fexp(std::nanf(""))));
  EXPECT_TRUE(std::isnan(ns::flog(std::nan(""))));
  EXPECT_EQ(ns::expm1_ratio(0.0), 1.0);
  EXPECT_NEAR(ns::expm1_ratio(2.0), (1 - std::exp(-2.0)) / 2.0, 1e-15);
  EXPECT_NEAR(ns::expm1_ratio(1e-3f), (1 - std::exp(-1e-3)) / 1e-3, 1e-7);
}

TEST(StgGating, MatchesPublishedFormulasAtManyVoltages) {
  for (double v : {-100.0, -80.0, -65.0, -50.0, -35.0, -20.0, -5.0, 0.0, 10.0, 30.0, 50.0}) {
    double inf[11], tau[11];
    StgModel::gating(v, inf, tau);
    float inff[11], tauf[11];
    StgModel::gating(float(v), inff, tauf);
    for (int g = 0; g < 11; ++g) {
      const double ei = table1()[g].inf(v), et = table1()[g].tau(v);
      // double: same formula, different association: relative 1e-13
      EXPECT_NEAR(inf[g], ei, 1e-13 * std::max(1e-3, ei)) << table1()[g].name << " inf at " << v;
      EXPECT_NEAR(tau[g], et, 1e-13 * et) << table1()[g].name << " tau at " << v;
      // float: a few float ulps of the result (sigmoid of a rounded argument); tau = A - B*sigma
      // cancels (e.g. 43.4 - 42.6*0.98 at +50 mV), so its error scales with the terms (<= 210 ms).
      EXPECT_NEAR(inff[g], ei, 2e-6 * std::max(1e-2, ei) + 1e-9) << table1()[g].name << " float inf at " << v;
      EXPECT_NEAR(tauf[g], et, 2e-6 * std::max(et, 210.0)) << table1()[g].name << " float tau at " << v;
    }
  }
  // Spot values computed by hand: m_Na,inf(-25.5) = 1/2; h_H,inf(-75) = 1/2; tau_CaT,h(-55) = 210 - 89.8.
  double inf[11], tau[11];
  StgModel::gating(-25.5, inf, tau);
  EXPECT_DOUBLE_EQ(inf[0], 0.5);
  StgModel::gating(-75.0, inf, tau);
  EXPECT_DOUBLE_EQ(inf[10], 0.5);
  StgModel::gating(-55.0, inf, tau);
  EXPECT_NEAR(tau[3], 120.2, 1e-12);
  EXPECT_DOUBLE_EQ(StgModel::kca_factor(3.0), 0.5);
}

TEST(StgGating, NernstCalciumReversalAtRest) {
  // E_Ca = RT/2F ln(3000/0.05) at 283 K = 134.16 mV (reference section 1.4, derived check).
  std::vector<double> p = nstest::preset_params("ABPD1");
  double d[StgModel::kNumDerived], s[StgModel::kNumState];
  StgModel::derive<double>(p.data(), d, 0.05);
  StgModel::init<double>(d, s);
  double gsum, ge, gca, eca;
  StgModel::conductances<double>(s, d, gsum, ge, gca, eca);
  EXPECT_NEAR(eca, 134.16, 0.01);
  EXPECT_NEAR(d[StgModel::d_nernst], 12.1936, 1e-4);
  EXPECT_NEAR(d[StgModel::d_ca_k], 9.395, 1e-3);  // f A 1e3 (reference section 1.4)
  EXPECT_EQ(gsum, 0.0);  // cold start, no leak: zero total conductance (pitfall 6)
}

TEST(StgTable, InterpolationErrorWithinLinearBound) {
  // Linear interpolation error <= h^2/8 max|f''| on each interval (plus rounding). f'' is
  // estimated by central differences on the exact functions; the test takes the bound per gate
  // over the whole table range.
  const double dt = 0.05, h = 0.2;
  ns::HostTable<double> t;
  StgModel::build_table<double>(t, dt, -120, 80, h);
  const auto tv = t.view();
  for (int g = 0; g < 11; ++g) {
    for (int which = 0; which < 2; ++which) {
      auto f = [&](double v) {
        double inf[11], tau[11];
        StgModel::gating(v, inf, tau);
        return which == 0 ? inf[g] : std::exp(-dt / tau[g]);
      };
      double fpp = 0, err = 0;
      for (double v = -120; v <= 80; v += 0.01) {
        const double e = 1e-3;
        fpp = std::max(fpp, std::fabs(f(v + e) - 2 * f(v) + f(v - e)) / (e * e));
      }
      for (double v = -119.99; v < 79.99; v += 0.0131) {
        err = std::max(err, std::fabs(tv.row(v, 0).at(2 * g + which) - f(v)));
      }
      const double bound = h * h / 8 * fpp * 1.02 + 1e-12;
      EXPECT_LE(err, bound) << "gate " << g << (which ? " decay" : " inf");
      EXPECT_LT(err, 3e-5) << "gate " << g;  // absolute: the figure the docs quote
    }
  }
}

namespace {

struct P04Run {
  std::vector<std::string> names;
  ns::ChunkOutput out;
};

P04Run run_p04(ns::Precision p, ns::Gating g, double transient = 10000, double analysis = 10000) {
  P04Run r;
  r.names = nstest::p04_names();
  std::vector<std::vector<double>> rows;
  for (const auto& n : r.names) rows.push_back(nstest::preset_params(n));
  const auto cols = nstest::columns(rows);
  auto s = nstest::settings(p, g, transient, analysis);
  ns::ChunkInput in;
  in.n = rows.size();
  in.params = cols.data();
  ns::make_cpu_backend()->run(s, in, r.out);
  return r;
}

}  // namespace

// Periods from an independent double-precision implementation of the same scheme at dt = 0.05 ms
// (reference section 7: 1464.8, 1454.4, 1547.0, 1622.2, 1606.1 ms). Same equations, same update
// order: 0.2% covers the remaining differences (R and F constants, window phase).
TEST(StgP04Neurons, DoubleDirectMatchesPublishedBehaviour) {
  const auto r = run_p04(ns::Precision::Double, ns::Gating::Direct);
  const std::map<std::string, double> ref = {
      {"ABPD1", 1464.8}, {"ABPD2", 1454.4}, {"ABPD3", 1547.0}, {"ABPD4", 1622.2}, {"ABPD5", 1606.1}};
  for (size_t i = 0; i < r.names.size(); ++i) {
    const auto& n = r.names[i];
    ASSERT_EQ(r.out.status[i], ns::kOk) << n;
    const auto st = nstest::stats(nstest::spikes_of(r.out, i));
    if (n.rfind("ABPD", 0) == 0) {
      EXPECT_GE(st.period_ms, 1300) << n;
      EXPECT_LE(st.period_ms, 1900) << n;
      EXPECT_NEAR(st.period_ms, ref.at(n), 0.002 * ref.at(n)) << n;
      EXPECT_GE(st.spikes_per_burst, 3) << n;
    } else if (n == "PY2" || n == "PY3") {
      EXPECT_EQ(st.n, 0u) << n;
      EXPECT_NEAR(r.out.v_mean[i], n == "PY2" ? -52.5 : -53.3, 0.3) << n;
      EXPECT_NEAR(r.out.v_max[i] - r.out.v_min[i], 0.0, 0.01) << n << " at rest";
    } else if (n == "LP1" || n == "LP2" || n == "LP3" || n == "PY1" || n == "PY4" || n == "PY5" || n == "PY6") {
      // tonic: regular single spikes (ISIs within a factor 2, including PY 4's period-2 train),
      // ISI in the 80-210 ms range of the reference
      EXPECT_GE(st.n, 40u) << n;
      EXPECT_LT(st.isi_max, 2.0 * st.isi_min) << n;
      EXPECT_GT(st.isi_mean, 75) << n;
      EXPECT_LT(st.isi_mean, 215) << n;
    }
  }
}

TEST(StgP04Neurons, NoNaNFromColdStartInAnyVariant) {
  for (auto p : {ns::Precision::Float, ns::Precision::Double})
    for (auto g : {ns::Gating::Direct, ns::Gating::Table}) {
      const auto r = run_p04(p, g, 0, 20000);
      for (size_t i = 0; i < r.names.size(); ++i) {
        EXPECT_EQ(r.out.status[i], ns::kOk) << r.names[i];
        for (int k = 0; k < StgModel::kNumState; ++k)
          EXPECT_TRUE(std::isfinite(r.out.final_state[k * r.out.n + i])) << r.names[i] << " state " << k;
        EXPECT_GT(r.out.v_min[i], -90) << r.names[i];
        EXPECT_LT(r.out.v_max[i], 55) << r.names[i];
      }
    }
}

// How far float and double (and table and direct) trajectories and spike times differ on the 16
// P04 neurons. Burst periods of the pacemakers agree within 1%; spike counts of the regular cells
// within 2%. LP4/LP5 are rounding-sensitive (reference section 7) and only reported.
TEST(StgP04Neurons, FloatVsDoubleAndTableVsDirect) {
  const auto d = run_p04(ns::Precision::Double, ns::Gating::Direct);
  for (auto variant : {std::make_pair(ns::Precision::Float, ns::Gating::Direct),
                       std::make_pair(ns::Precision::Float, ns::Gating::Table),
                       std::make_pair(ns::Precision::Double, ns::Gating::Table)}) {
    const auto f = run_p04(variant.first, variant.second);
    const std::string tag = ns::to_string(variant.first) + "/" + ns::to_string(variant.second);
    for (size_t i = 0; i < d.names.size(); ++i) {
      const auto& n = d.names[i];
      const auto sd = nstest::stats(nstest::spikes_of(d.out, i));
      const auto sf = nstest::stats(nstest::spikes_of(f.out, i));
      std::printf("[%s] %-6s spikes %4zu vs %4zu  period %8.2f vs %8.2f ms  v_mean %7.3f vs %7.3f\n",
                  tag.c_str(), n.c_str(), sd.n, sf.n, sd.period_ms, sf.period_ms, d.out.v_mean[i], f.out.v_mean[i]);
      if (n == "LP4" || n == "LP5") continue;
      if (n.rfind("ABPD", 0) == 0) {
        EXPECT_NEAR(sf.period_ms, sd.period_ms, 0.01 * sd.period_ms) << tag << " " << n;
      } else {
        EXPECT_NEAR(double(sf.n), double(sd.n), 0.02 * sd.n + 1) << tag << " " << n;
        EXPECT_NEAR(f.out.v_mean[i], d.out.v_mean[i], 0.2) << tag << " " << n;
      }
    }
  }
}

// Reference section 7: with f ten times too small, AB/PD 1 fires tonically instead of bursting:
// the calcium unit conversion is load-bearing.
TEST(StgP04Neurons, CalciumFactorPitfallChangesBehaviour) {
  auto p = nstest::preset_params("ABPD1");
  const ns::ModelDesc* m = ns::find_model("stg");
  std::vector<std::vector<double>> rows = {p, p};
  rows[1][m->param_index("f_Ca")] = 1.496;
  const auto cols = nstest::columns(rows);
  auto s = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 10000, 10000);
  ns::ChunkInput in;
  in.n = 2;
  in.params = cols.data();
  ns::ChunkOutput out;
  ns::make_cpu_backend()->run(s, in, out);
  const auto good = nstest::stats(nstest::spikes_of(out, 0));
  const auto bad = nstest::stats(nstest::spikes_of(out, 1));
  EXPECT_GE(good.n_bursts, 5u);
  EXPECT_LT(good.isi_min * 5, good.isi_max);  // bursting: long inter-burst gaps
  EXPECT_LT(bad.isi_max, 2 * bad.isi_min);    // tonic
}

// ---- "integration": "prinz" (issue 14) --------------------------------------------------------
// One step of the prinz scheme against the formulas written out by hand, for every state
// variable, at several voltages: V by exponential Euler with the total conductance; each gate by
// forward Euler x + dt/tau (x_inf - x), set to x_inf when dt >= tau; [Ca] by forward Euler towards
// Ca_inf = Ca_0 - f A 1e3 (I_CaT + I_CaS) (reference sections 1.4, 2.2). The gating functions
// are table1() above (std::exp), E_Ca uses the prinz_lab constants written out here.
namespace {

struct HandStep {
  double s[StgModel::kNumState];
};

// A state with every gate strictly inside (0, 1) so that each update is visible.
void mid_state(double v, double* s) {
  s[StgModel::V] = v;
  s[StgModel::Ca] = 0.8;
  const double g[11] = {0.2, 0.7, 0.3, 0.6, 0.25, 0.55, 0.35, 0.45, 0.15, 0.4, 0.05};
  for (int k = 0; k < 11; ++k) s[StgModel::mNa + k] = g[k];
}

HandStep prinz_by_hand(const std::vector<double>& p, const double* s0, double dt, int constants) {
  HandStep r;
  const ns::ModelDesc* m = ns::find_model("stg");
  auto P = [&](const char* n) { return p[m->param_index(n)]; };
  const double v = s0[StgModel::V], ca = s0[StgModel::Ca];
  const double R = constants == ns::kPrinzLab ? 8.31451 : 8.314462618;
  const double F = constants == ns::kPrinzLab ? 96485.3415 : 96485.33212;
  const double eca = R * P("temperature") / (2 * F) * 1e3 * std::log(P("Ca_out") / ca);
  const double* x = s0 + StgModel::mNa;
  const double g_na = P("gNa") * std::pow(x[0], 3) * x[1];
  const double g_cat = P("gCaT") * std::pow(x[2], 3) * x[3];
  const double g_cas = P("gCaS") * std::pow(x[4], 3) * x[5];
  const double g_a = P("gA") * std::pow(x[6], 3) * x[7];
  const double g_kca = P("gKCa") * std::pow(x[8], 4);
  const double g_kd = P("gKd") * std::pow(x[9], 4);
  const double g_h = P("gH") * x[10];
  const double g_l = P("gleak");
  const double gsum = g_na + g_cat + g_cas + g_a + g_kca + g_kd + g_h + g_l;
  const double ge = g_na * P("E_Na") + (g_cat + g_cas) * eca + (g_a + g_kca + g_kd) * P("E_K") +
                    g_h * P("E_H") + g_l * P("E_leak") + P("I_ext") * 1e-3 / P("area");
  const double c = P("C_m") * 1e-3 / P("area");  // uF/cm^2
  const double v_inf = ge / gsum;
  r.s[StgModel::V] = v_inf + (v - v_inf) * std::exp(-dt * gsum / c);
  const double ca_inf = P("Ca_0") - P("f_Ca") * P("area") * 1e3 * (g_cat + g_cas) * (v - eca);
  r.s[StgModel::Ca] = ca + dt / P("tau_Ca") * (ca_inf - ca);
  for (int k = 0; k < 11; ++k) {
    double inf = table1()[k].inf(v);
    if (k == 8) inf *= ca / (ca + 3.0);
    const double tau = table1()[k].tau(v);
    r.s[StgModel::mNa + k] = dt >= tau ? inf : x[k] + dt / tau * (inf - x[k]);
  }
  return r;
}

}  // namespace

TEST(StgPrinzScheme, OneStepEqualsHandFormulasForEveryStateVariable) {
  auto p = nstest::preset_params("LP1");  // every conductance but KCa... and a leak
  const ns::ModelDesc* m = ns::find_model("stg");
  p[m->param_index("gKCa")] = 10;  // make every current (and gate) count
  p[m->param_index("I_ext")] = 0.3;
  int truncated = 0;
  for (double dt : {0.05, 0.5}) {
    for (double v : {-80.0, -60.0, -45.0, -30.0, -10.0, 5.0, 25.0}) {
      for (int constants : {ns::kCodata2018, ns::kPrinzLab}) {
        double s[StgModel::kNumState], s0[StgModel::kNumState], d[StgModel::kNumDerived];
        mid_state(v, s0);
        std::copy(s0, s0 + StgModel::kNumState, s);
        StgModel::derive<double>(p.data(), d, dt, ns::kPrinzEuler, constants);
        StgModel::step<double>(s, d, ns::Direct{});
        const HandStep h = prinz_by_hand(p, s0, dt, constants);
        for (int k = 0; k < StgModel::kNumState; ++k) {
          // same formulas, other association and Cephes vs libm exp/log: 1e-12 relative
          EXPECT_NEAR(s[k], h.s[k], 1e-12 * std::max(1.0, std::fabs(h.s[k])))
              << StgModel::kState[k].name << " at V = " << v << " mV, dt = " << dt << ", constants " << constants;
        }
        for (int g = 0; g < 11; ++g) truncated += dt >= table1()[g].tau(v) ? 1 : 0;
        // table gating: the table holds q = max(1 - dt/tau, 0); interpolation error (<= 3e-5 in
        // x_inf and q, StgTable) bounds the gate error by about 2 x 3e-5.
        double st[StgModel::kNumState];
        std::copy(s0, s0 + StgModel::kNumState, st);
        ns::HostTable<double> tab;
        StgModel::build_table<double>(tab, dt, -120, 80, 0.2, ns::kPrinzEuler);
        StgModel::step<double>(st, d, tab.view());
        for (int k = StgModel::mNa; k < StgModel::kNumState; ++k)
          EXPECT_NEAR(st[k], h.s[k], 1e-4) << "table " << StgModel::kState[k].name << " at V = " << v;
      }
    }
  }
  EXPECT_GT(truncated, 4);  // premise: the dt >= tau branch was exercised (m_Na at dt = 0.5 ms)
}

TEST(StgPrinzScheme, ConstantsSetsGiveTheirNernstFactors) {
  auto p = nstest::preset_params("ABPD1");
  double d[StgModel::kNumDerived];
  StgModel::derive<double>(p.data(), d, 0.05, ns::kExpEuler, ns::kCodata2018);
  EXPECT_NEAR(d[StgModel::d_nernst], 8.314462618 * 283 / (2 * 96485.33212) * 1e3, 1e-12);  // 12.19353
  EXPECT_NEAR(d[StgModel::d_nernst], 12.19353, 5e-6);
  StgModel::derive<double>(p.data(), d, 0.05, ns::kExpEuler, ns::kPrinzLab);
  EXPECT_NEAR(d[StgModel::d_nernst], 8.31451 * 283 / (2 * 96485.3415) * 1e3, 1e-12);  // 12.19359
  EXPECT_NEAR(d[StgModel::d_nernst], 12.19359, 5e-6);
  // the exp_euler [Ca] factor is exp(-dt/tau_Ca), the prinz one 1 - dt/tau_Ca
  EXPECT_DOUBLE_EQ(d[StgModel::d_ca_decay], std::exp(-0.05 / 200.0));
  StgModel::derive<double>(p.data(), d, 0.05, ns::kPrinzEuler, ns::kPrinzLab);
  EXPECT_DOUBLE_EQ(d[StgModel::d_ca_decay], 1.0 - 0.05 / 200.0);
}

// The two schemes approximate the same ODE at first order: their difference must shrink in
// proportion to dt. Metric per neuron: the largest shift of the first 3 spike times from the cold
// start (every spiking Table 2 neuron fires them within 500 ms), and for the silent PY 2/PY 3
// |V| at 500 ms. Halving dt (0.05 -> 0.025 -> 0.0125 -> 0.00625 ms) must shrink it by at least
// 1.8 each time (first order: 2; measured 1.95-2.07); at 0.00625 ms every shift is below 0.1 ms
// (measured <= 0.047 ms; V: below 1e-4 mV, measured 2.4e-5). Over
// longer horizons the LP neurons' slow approach to threshold amplifies the O(dt) difference into
// spike-time shifts of tens of ms (printed by the 2 s comparison below; LP 4/LP 5 are chaotic,
// reference section 7).
TEST(StgPrinzScheme, PrinzAndExpEulerConvergeAsDtShrinks) {
  const auto names = nstest::p04_names();
  std::vector<std::vector<double>> rows;
  for (const auto& n : names) rows.push_back(nstest::preset_params(n));
  const auto cols = nstest::columns(rows);
  auto run = [&](int integration, double dt, double ms) {
    auto s = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 0, ms, dt);
    s.sim.integration = integration;
    ns::ChunkInput in;
    in.n = rows.size();
    in.params = cols.data();
    ns::ChunkOutput out;
    ns::make_cpu_backend()->run(s, in, out);
    return out;
  };
  const size_t n = names.size();
  std::vector<std::vector<double>> diff(n);
  std::vector<bool> silent(n);
  const std::vector<double> dts = {0.05, 0.025, 0.0125, 0.00625};
  for (double dt : dts) {
    const auto a = run(ns::kExpEuler, dt, 500), b = run(ns::kPrinzEuler, dt, 500);
    for (size_t i = 0; i < n; ++i) {
      const auto ta = nstest::spikes_of(a, i), tb = nstest::spikes_of(b, i);
      silent[i] = ta.empty() && tb.empty();
      double d = 0;
      if (silent[i]) {
        d = std::fabs(a.final_state[i] - b.final_state[i]);  // V at 500 ms
      } else {
        ASSERT_GE(ta.size(), 3u) << names[i];
        ASSERT_GE(tb.size(), 3u) << names[i];
        for (size_t j = 0; j < 3; ++j) d = std::max(d, std::fabs(double(ta[j]) - double(tb[j])));
      }
      diff[i].push_back(d);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    std::printf("[ info ] %-6s %s, dt 0.05/0.025/0.0125/0.00625: %.3g %.3g %.3g %.3g\n", names[i].c_str(),
                silent[i] ? "|dV| at 500 ms (mV)" : "first-3-spike shift (ms)", diff[i][0], diff[i][1], diff[i][2],
                diff[i][3]);
    for (size_t j = 0; j + 1 < dts.size(); ++j)
      EXPECT_GT(diff[i][j], 1.8 * diff[i][j + 1]) << names[i] << " dt " << dts[j];
    EXPECT_LT(diff[i].back(), silent[i] ? 1e-4 : 0.1) << names[i];
  }
  // 2 s: spike counts and the largest shift of the first 12 spike times, for the record
  const auto a = run(ns::kExpEuler, 0.0125, 2000), b = run(ns::kPrinzEuler, 0.0125, 2000);
  for (size_t i = 0; i < n; ++i) {
    const auto ta = nstest::spikes_of(a, i), tb = nstest::spikes_of(b, i);
    double d = 0;
    for (size_t j = 0; j < std::min<size_t>({ta.size(), tb.size(), 12}); ++j)
      d = std::max(d, std::fabs(double(ta[j]) - double(tb[j])));
    std::printf("[ info ] %-6s 2 s at dt 0.0125: spikes %zu vs %zu, largest spike-time shift %.3g ms\n",
                names[i].c_str(), ta.size(), tb.size(), d);
  }
}
