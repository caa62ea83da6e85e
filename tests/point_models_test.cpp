// Tests of the NEST point-neuron models (include/neurosweep/point/): iaf_psc_exp, iaf_psc_delta,
// iaf_psc_alpha, izhikevich; the shared inputs and the dynamics_params loader.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "errors.hpp"
#include "spec/nest_params.hpp"
#include "neurosweep/engine.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/point/poisson_lanes.hpp"

using namespace ns;

namespace {

template <class M>
std::vector<double> defaults() {
  std::vector<double> p(M::kNumParams);
  for (int k = 0; k < M::kNumParams; ++k) p[k] = M::kParams[k].default_value;
  return p;
}

// Steps a model from its NEST initial state; records V after every step and spike stamps
// t_{k+1} (NEST's convention) of the steps that spiked.
template <class M, class T = double>
struct Runner {
  std::vector<double> p;
  T d[M::kNumDerived];
  T s[M::kNumState];
  double h;
  uint64_t seed = 1, instance = 0;
  int64_t k = 0;
  std::vector<double> v, spikes;
  Runner(std::vector<double> params, double dt) : p(std::move(params)), h(dt) {
    M::template derive<T>(Strided<const double>{p.data(), 1}, d, T(dt));
    M::template init<T>(d, s);
  }
  void run(int64_t n) {
    for (int64_t j = 0; j < n; ++j, ++k) {
      M::template step<T>(s, d, Direct{}, StepContext{seed, instance, k});
      v.push_back(double(M::template observe<T>(s, 0)));
      if (M::spiked(s)) spikes.push_back(double(k + 1) * h);
    }
  }
  double v_at(double t) const { return v.at(static_cast<size_t>(std::llround(t / h)) - 1); }
};

// NEST prints V with 6 significant digits (%g); "exact to the printed precision" means our value
// prints identically.
std::string g6(double x) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", x);
  return b;
}

}  // namespace

// ---- iaf_psc_alpha: NEST's own testsuite values --------------------------------------------------
// testsuite/pytests/neurons/test_iaf_psc_alpha.py, nest/nest-simulator commit 8bd1ee83ae59
// (test_iaf_psc_alpha_i0, _basic, _i0_refractory). h = 0.1 ms, NEST defaults.
TEST(IafPscAlpha, NestTestsuiteInternalCurrent) {
  auto p = defaults<IafPscAlphaModel>();
  p[IafPscAlphaModel::I_e] = 1000.0;
  Runner<IafPscAlphaModel> r(p, 0.1);
  r.run(80);
  const double ref[][2] = {{0.1, -69.602},  {0.2, -69.2079}, {0.3, -68.8178}, {0.4, -68.4316},
                           {0.5, -68.0492}, {4.3, -56.0204}, {4.4, -55.7615}, {4.5, -55.5051},
                           {4.6, -55.2513}, {4.7, -55.0001}, {4.8, -70},      {4.9, -70},
                           {5.0, -70}};
  for (const auto& x : ref) EXPECT_EQ(g6(r.v_at(x[0])), g6(x[1])) << "t = " << x[0];
  ASSERT_GE(r.spikes.size(), 1u);
  EXPECT_NEAR(r.spikes[0], 4.8, 1e-9);
}

// test_iaf_psc_alpha_basic: dc_generator 1000 pA with delay h reaches V one step later than I_e;
// NEST's current events act one more step later, so it equals our step current from 0.2 ms.
// Checks the refractory clamp: spike stamped 5.0, V = -70 through 7.0, evolution from 7.1.
TEST(IafPscAlpha, NestTestsuiteDcGeneratorAndRefractoriness) {
  auto p = defaults<IafPscAlphaModel>();
  p[IafPscAlphaModel::kInputs + point::kStepAmplitude] = 1000.0;
  p[IafPscAlphaModel::kInputs + point::kStepStart] = 0.2;
  p[IafPscAlphaModel::kInputs + point::kStepStop] = 1e9;
  Runner<IafPscAlphaModel> r(p, 0.1);
  r.run(79);
  const double ref[][2] = {
      {0.1, -70},      {0.2, -70},      {0.3, -69.602},  {0.4, -69.2079}, {0.5, -68.8178},
      {0.6, -68.4316}, {0.7, -68.0492}, {0.8, -67.6706}, {0.9, -67.2958}, {1.0, -66.9247},
      {4.5, -56.0204}, {4.6, -55.7615}, {4.7, -55.5051}, {4.8, -55.2513}, {4.9, -55.0001},
      {7.1, -69.602},  {7.2, -69.2079}, {7.3, -68.8178}, {7.4, -68.4316}, {7.5, -68.0492},
      {7.6, -67.6706}, {7.7, -67.2958}, {7.8, -66.9247}, {7.9, -66.5572}};
  for (const auto& x : ref) EXPECT_EQ(g6(r.v_at(x[0])), g6(x[1])) << "t = " << x[0];
  for (int j = 50; j <= 70; ++j) EXPECT_EQ(r.v_at(j * 0.1), -70.0) << "t = " << j * 0.1;
  ASSERT_EQ(r.spikes.size(), 1u);
  EXPECT_NEAR(r.spikes[0], 5.0, 1e-9);
}

// test_iaf_psc_alpha_i0_refractory: I_e = 1450 pA, spike at exactly 3.0 ms for every resolution
// and the same V at shared grid points.
TEST(IafPscAlpha, NestTestsuiteResolutionConsistency) {
  const double ref[][2] = {
      {0.1, -69.4229}, {0.2, -68.8515}, {0.3, -68.2858}, {0.4, -67.7258}, {0.5, -67.1713},
      {0.6, -66.6223}, {0.7, -66.0788}, {0.8, -65.5407}, {0.9, -65.008},  {1.0, -64.4806},
      {1.1, -63.9584}, {1.2, -63.4414}, {1.3, -62.9295}, {1.4, -62.4228}, {1.5, -61.9211},
      {1.6, -61.4243}, {1.7, -60.9326}, {1.8, -60.4457}, {1.9, -59.9636}, {2.0, -59.4864},
      {2.1, -59.0139}, {2.2, -58.5461}, {2.3, -58.0829}, {2.4, -57.6244}, {2.5, -57.1704},
      {2.6, -56.721},  {2.7, -56.276},  {2.8, -55.8355}, {2.9, -55.3993}, {3.0, -70},
      {4.0, -70},      {5.0, -70},      {5.1, -69.4229}, {5.5, -67.1713}, {6.0, -64.4806},
      {6.5, -61.9211}, {6.9, -59.9636}};
  for (double h : {0.1, 0.2, 0.5, 1.0}) {
    auto p = defaults<IafPscAlphaModel>();
    p[IafPscAlphaModel::I_e] = 1450.0;
    Runner<IafPscAlphaModel> r(p, h);
    r.run(std::llround(8.0 / h));
    for (const auto& x : ref) {
      const double q = x[0] / h;
      if (std::fabs(q - std::round(q)) > 1e-9) continue;  // not a grid point at this h
      EXPECT_EQ(g6(r.v_at(x[0])), g6(x[1])) << "h = " << h << ", t = " << x[0];
    }
    ASSERT_GE(r.spikes.size(), 1u) << "h = " << h;
    EXPECT_NEAR(r.spikes[0], 3.0, 1e-9) << "h = " << h;
  }
}

// ---- iaf_psc_exp: firing rate of the discretised LIF under constant current ----------------------
// With V_reset = E_L and exact integration, V(t_k) = E_L + R I (1 - e^{-k h/tau_m}) after each
// restart, so the first crossing is step k* = ceil(-tau_m ln(1 - (V_th-E_L) C_m/(tau_m I)) / h)
// and the ISI is (k* + n_ref) h. Tolerance: exact step count, except where the continuous
// crossing lies within 1e-6 steps of a grid point (rounding may go either way): +-1 step.
TEST(IafPscExp, ConstantCurrentRateMatchesClosedForm) {
  const double h = 0.1, tau = 10, C = 250, theta = 15, t_ref = 2;
  for (double I = 380; I <= 3000; I += 137) {
    auto p = defaults<IafPscExpModel>();
    p[IafPscExpModel::I_e] = I;
    Runner<IafPscExpModel> r(p, h);
    r.run(20000);  // 2 s
    const double kc = -tau * std::log(1.0 - theta * C / (tau * I)) / h;
    const double k_star = std::ceil(kc);
    const bool edge = std::fabs(kc - std::round(kc)) < 1e-6;
    const double isi_steps = k_star + std::round(t_ref / h);
    ASSERT_GE(r.spikes.size(), 3u) << "I = " << I;
    EXPECT_NEAR(r.spikes[0] / h, k_star, edge ? 1.0 + 1e-9 : 1e-9) << "I = " << I;
    for (size_t j = 1; j < r.spikes.size(); ++j)
      EXPECT_NEAR((r.spikes[j] - r.spikes[j - 1]) / h, isi_steps, edge ? 1.0 + 1e-9 : 1e-9)
          << "I = " << I << " ISI " << j;
    const double rate = 1000.0 * (r.spikes.size() - 1) / (r.spikes.back() - r.spikes[0]);
    EXPECT_NEAR(rate, 1000.0 / (isi_steps * h), 1000.0 / (isi_steps * h) * 0.02) << "I = " << I;
  }
  // Below rheobase (R I <= theta: 375 pA) it never fires.
  auto p = defaults<IafPscExpModel>();
  p[IafPscExpModel::I_e] = 374.0;
  Runner<IafPscExpModel> r(p, h);
  r.run(20000);
  EXPECT_TRUE(r.spikes.empty());
}

// PSP of one exponential PSC (I_syn_ex(0) = w) against the analytic solution
//   V - E_L = w tau_s tau_m / (C (tau_m - tau_s)) (e^{-t/tau_m} - e^{-t/tau_s}),
// and its tau_s -> tau_m limit (w t / C) e^{-t/tau_m}: NEST's singular fallback (tau_s == tau_m)
// and the near-singular case (|tau_m - tau_s| = 1e-9 ms) both stay within 1e-9 relative.
TEST(IafPscExp, PspMatchesAnalyticIncludingSingularCase) {
  const double w = 100, C = 250, tm = 10, h = 0.1;
  for (double ts : {2.0, 10.0, 10.0 + 1e-9, 10.0 - 1e-12}) {
    auto p = defaults<IafPscExpModel>();
    p[IafPscExpModel::tau_syn_ex] = ts;
    Runner<IafPscExpModel> r(p, h);
    r.s[IafPscExpModel::Iex] = w;
    r.run(300);
    double maxrel = 0;
    for (int k = 1; k <= 300; ++k) {
      const double t = k * h;
      const double ana = std::fabs(tm - ts) < 1e-6
                             ? w * t / C * std::exp(-t / tm)
                             : w * ts * tm / (C * (tm - ts)) * (std::exp(-t / tm) - std::exp(-t / ts));
      maxrel = std::max(maxrel, std::fabs((r.v_at(t) + 70.0) - ana) / std::fabs(ana));
    }
    EXPECT_LT(maxrel, 1e-9) << "tau_syn = " << ts;
  }
}

// ---- iaf_psc_delta ----------------------------------------------------------------------------
// Poisson input (rate nu, jump J) below threshold: mean V - E_L = J nu tau_m (Campbell's theorem,
// stationary shot noise) and variance J^2 nu tau_m / 2. Tolerance: 5 standard errors of the time
// average (correlation time tau_m: ~T/(2 tau_m) independent samples).
TEST(IafPscDelta, PoissonInputMeanFollowsCampbell) {
  auto p = defaults<IafPscDeltaModel>();
  const double nu = 8000.0, J = 0.1, tm = 10.0;  // mean 8 mV, sd ~0.63 mV: far from threshold
  p[IafPscDeltaModel::kInputs + point::kRateEx] = nu;
  p[IafPscDeltaModel::kInputs + point::kWeightEx] = J;
  Runner<IafPscDeltaModel> r(p, 0.1);
  r.seed = 12345;
  r.run(1000);  // warm-up 100 ms
  const size_t n0 = r.v.size();
  r.run(400000);  // 40 s
  double m = 0;
  for (size_t j = n0; j < r.v.size(); ++j) m += r.v[j] + 70.0;
  m /= double(r.v.size() - n0);
  const double mean = J * nu * 1e-3 * tm;
  const double sd = std::sqrt(J * J * nu * 1e-3 * tm / 2.0);
  const double se = sd / std::sqrt(40000.0 / (2.0 * tm));
  EXPECT_NEAR(m, mean, 5 * se);
  EXPECT_TRUE(r.spikes.empty());
}

// ---- izhikevich: canonical classes of Izhikevich (2003) Fig. 2, I = 10, h = 0.1 ms -------------
namespace {
std::vector<double> izh_isis(double a, double b, double c, double d, double T = 1000.0) {
  auto p = defaults<IzhikevichModel>();
  p[IzhikevichModel::a] = a;
  p[IzhikevichModel::b] = b;
  p[IzhikevichModel::c] = c;
  p[IzhikevichModel::d] = d;
  p[IzhikevichModel::I_e] = 10.0;
  Runner<IzhikevichModel> r(p, 0.1);
  r.run(std::llround(T / 0.1));
  std::vector<double> isi;
  for (size_t j = 1; j < r.spikes.size(); ++j) isi.push_back(r.spikes[j] - r.spikes[j - 1]);
  return isi;
}
double mean_of(const std::vector<double>& x, size_t from, size_t to) {
  double s = 0;
  for (size_t j = from; j < to; ++j) s += x[j];
  return s / double(to - from);
}
}  // namespace

// Criteria from the descriptions in Izhikevich (2003) p. 1571: RS fires tonically with spike-
// frequency adaptation; IB fires an initial burst then tonic spikes; CH fires repetitive bursts
// of closely spaced spikes; FS fires at high frequency with little adaptation; LTS fires at high
// frequency with noticeable adaptation.
TEST(Izhikevich, CanonicalClassesBySpikeStatistics) {
  const auto rs = izh_isis(0.02, 0.2, -65, 8), ib = izh_isis(0.02, 0.2, -55, 4),
             ch = izh_isis(0.02, 0.2, -50, 2), fs = izh_isis(0.1, 0.2, -65, 2),
             lts = izh_isis(0.02, 0.25, -65, 2);
  // RS: adapting tonic: first ISI well below the steady ISI, steady ISIs regular (CV < 5%).
  ASSERT_GE(rs.size(), 5u);
  EXPECT_LT(rs.front(), 0.8 * rs.back());
  const double rs_ss = mean_of(rs, rs.size() / 2, rs.size());
  for (size_t j = rs.size() / 2; j < rs.size(); ++j) EXPECT_NEAR(rs[j], rs_ss, 0.05 * rs_ss);
  // IB: initial burst (>= 2 ISIs below 10 ms) then tonic spiking with ISIs > 20 ms.
  ASSERT_GE(ib.size(), 5u);
  EXPECT_LT(ib[0], 10.0);
  EXPECT_LT(ib[1], 10.0);
  for (size_t j = 3; j < ib.size(); ++j) EXPECT_GT(ib[j], 20.0) << j;
  // CH: bimodal ISIs, many short (< 10 ms, within bursts) and repeated long (> 30 ms) ones;
  // more short than long ISIs (several spikes per burst), and bursts recur (>= 5 long ISIs).
  int ch_short = 0, ch_long = 0;
  for (double x : ch) (x < 10.0 ? ch_short : ch_long) += (x < 10.0 || x > 30.0) ? 1 : 0;
  EXPECT_GE(ch_long, 5);
  EXPECT_GE(ch_short, 2 * ch_long);
  // FS: high steady rate (> 100 Hz) and steady ISI within a factor 2 of the first.
  ASSERT_GE(fs.size(), 10u);
  const double fs_ss = mean_of(fs, fs.size() / 2, fs.size());
  EXPECT_LT(fs_ss, 10.0);
  EXPECT_LT(fs_ss, 2.0 * fs.front());
  // LTS: higher steady rate than RS, and clear adaptation (steady ISI > 2x the first).
  ASSERT_GE(lts.size(), 10u);
  const double lts_ss = mean_of(lts, lts.size() / 2, lts.size());
  EXPECT_LT(lts_ss, rs_ss);
  EXPECT_GT(lts_ss, 2.0 * lts.front());
}

// The two NEST integration schemes are the forward-Euler formulas; check one step by hand.
TEST(Izhikevich, OneStepOfEachSchemeByHand) {
  for (int consistent : {1, 0}) {
    auto p = defaults<IzhikevichModel>();
    p[IzhikevichModel::I_e] = 5.0;
    p[IzhikevichModel::consistent_integration] = consistent;
    Runner<IzhikevichModel> r(p, 0.5);
    r.run(1);
    const double v0 = -65, u0 = -13, h = 0.5, I = 5;
    double v, u;
    if (consistent) {
      v = v0 + h * (0.04 * v0 * v0 + 5 * v0 + 140 - u0 + I);
      u = u0 + h * 0.02 * (0.2 * v0 - u0);
    } else {
      v = v0 + h / 2 * (0.04 * v0 * v0 + 5 * v0 + 140 - u0 + I);
      v = v + h / 2 * (0.04 * v * v + 5 * v + 140 - u0 + I);
      u = u0 + h * 0.02 * (0.2 * v - u0);
    }
    EXPECT_DOUBLE_EQ(r.s[IzhikevichModel::V], v) << consistent;
    EXPECT_DOUBLE_EQ(r.s[IzhikevichModel::U], u) << consistent;
  }
}

// ---- inputs ------------------------------------------------------------------------------------
// Poisson counts (point::poisson_count: fixed-cost first part + chunked remainder). For means
// around and above the fixed part's bound kPoissonFastMean = 1 (0.05 .. 41 spikes per step):
// mean and variance equal lambda within 6 standard errors (400k draws), and a chi-square test of
// the counts against the Poisson pmf (bins with expected count >= 20, tails lumped) passes at
// significance 1e-4 per mean. Critical value: the Wilson-Hilferty approximation of the chi-square
// quantile, df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3 with z = 3.719 (the 1 - 1e-4 normal quantile),
// within about 1% for df >= 3. The seed is fixed, so the test is deterministic. It can fail: the
// same test of draws with a mean 2% too high is rejected for every lambda >= 1 (expected excess
// chi-square n sum (p' - p)^2 / p = 160 at lambda 1, 6600 at 41, against critical values 25-90).
namespace {
struct Chi2 {
  double chi2, crit, mean, var;
};
Chi2 poisson_chi2(double lam_draw, double lam_model, int n) {
  const point::PoissonSplit sp = point::poisson_split(lam_draw);
  std::vector<double> hist(400, 0.0);
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = point::poisson_count(point::CounterRng(7, 3, i, point::kStreamEx), sp);
    EXPECT_EQ(x, std::floor(x));
    hist[static_cast<size_t>(std::min(x, 399.0))] += 1;
    s += x;
    s2 += x * x;
  }
  std::vector<long double> pmf(400);
  pmf[0] = std::exp(-static_cast<long double>(lam_model));
  for (size_t k = 1; k < pmf.size(); ++k) pmf[k] = pmf[k - 1] * lam_model / static_cast<long double>(k);
  double chi2 = 0, cum_e = 0, cum_o = 0;
  int bins = 0;
  for (size_t k = 0; k < pmf.size(); ++k) {
    cum_e += double(pmf[k]) * n;
    cum_o += hist[k];
    long double rest = 0;
    for (size_t j = k + 1; j < pmf.size(); ++j) rest += pmf[j];
    if (double(rest) * n < 20) {  // lump the tail into this last bin
      for (size_t j = k + 1; j < hist.size(); ++j) cum_o += hist[j];
      cum_e += double(rest) * n;
      chi2 += (cum_o - cum_e) * (cum_o - cum_e) / cum_e;
      ++bins;
      break;
    }
    if (cum_e >= 20) {
      chi2 += (cum_o - cum_e) * (cum_o - cum_e) / cum_e;
      ++bins;
      cum_e = cum_o = 0;
    }
  }
  const double df = bins - 1, z = 3.719;
  const double crit = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
  const double m = s / n;
  return {chi2, crit, m, s2 / n - m * m};
}
}  // namespace

TEST(PointInputs, PoissonSamplerDistribution) {
  const int n = 400000;
  for (double lam : {0.05, 0.4, 1.0, 1.7, 3.0, 12.0, 41.0}) {
    SCOPED_TRACE(lam);
    EXPECT_EQ(point::poisson_split(lam).n_rest > 0, lam > point::kPoissonFastMean);
    const Chi2 r = poisson_chi2(lam, lam, n);
    EXPECT_NEAR(r.mean, lam, 6 * std::sqrt(lam / n));
    EXPECT_NEAR(r.var, lam, 6 * lam * std::sqrt(2.0 / n) + 6 * std::sqrt(lam / n));
    EXPECT_LT(r.chi2, r.crit);
    if (lam >= 1.0) {
      const Chi2 wrong = poisson_chi2(lam * 1.02, lam, n);
      EXPECT_GT(wrong.chi2, wrong.crit) << "the test must reject a mean 2% off";
    }
  }
}

// The fixed-cost part is an exact inversion: for 200k uniforms per mean it returns the same count
// as a sequential search of the CDF in long double (capped like it at kPoissonFastK), i.e. it
// differs only where u lies within rounding (~1e-16) of a CDF value: no difference expected.
TEST(PointInputs, FastPartIsTheInversion) {
  for (double lam : {1e-3, 0.05, 0.3, 0.77, 1.0}) {
    SCOPED_TRACE(lam);
    const double p0 = std::exp(-lam);
    int differ = 0;
    for (int i = 0; i < 200000; ++i) {
      const double u = point::CounterRng(11, i, 5, 1).uniform();
      long double p = std::exp(-static_cast<long double>(lam)), f = p;
      int k = 0;
      while (u > f && k < point::kPoissonFastK) {
        ++k;
        p *= lam / static_cast<long double>(k);
        f += p;
      }
      differ += point::poisson_fast(u, lam, p0) != double(k);
    }
    EXPECT_EQ(differ, 0);
  }
}

// The draws a SIMD tile makes equal the scalar ones bit for bit: poisson_count for 64 lanes of
// mixed means (0 .. 40 per step: every input mode) inside an `omp simd` loop (as in the CPU tiles)
// equals the same calls one by one (the code path of run_instance and of the CUDA kernel, which
// compiles the same NS_HD function; its mul_rn/add_rn keep nvcc from fusing).
TEST(PointInputs, SimdDrawsEqualScalarDraws) {
  constexpr int W = 64;
  double lam[W], fast[W], p0f[W], rest[W], p0r[W], nr[W];
  for (int l = 0; l < W; ++l) {
    lam[l] = l % 4 == 0 ? 0.0 : 0.01 * l * l;
    const point::PoissonSplit sp = point::poisson_split(lam[l]);
    fast[l] = sp.fast, p0f[l] = sp.p0_fast, rest[l] = sp.rest, p0r[l] = sp.p0_rest, nr[l] = sp.n_rest;
  }
  double total = 0;
  for (int64_t step = 0; step < 200; ++step) {
    double simd[W], scalar[W];
#pragma omp simd
    for (int l = 0; l < W; ++l)
      simd[l] = point::poisson_count(point::CounterRng(5, l, step, 1),
                                     point::PoissonSplit{fast[l], p0f[l], rest[l], p0r[l], nr[l]});
    for (int l = 0; l < W; ++l) {
      scalar[l] = point::poisson_count(point::CounterRng(5, l, step, 1), point::poisson_split(lam[l]));
      total += scalar[l];
    }
    ASSERT_EQ(0, std::memcmp(simd, scalar, sizeof simd)) << step;
  }
  double expect = 0;
  for (int l = 0; l < W; ++l) expect += 200 * lam[l];
  EXPECT_NEAR(total, expect, 6 * std::sqrt(expect));
}

// The CPU tile's pre-drawn counts (point/poisson_lanes.hpp: instance part of the key once per tile,
// CDF values once per tile, comparisons stopped when no lane counts further) equal poisson_count
// bit for bit, per train, for tiles of 16 and 8 lanes with mixed means per train (0, small, near
// kPoissonFastMean, above it: remaining parts) over 3000 steps and two seeds. Any difference in
// key, CDF value or stopping rule shows here as a count that differs.
template <int W>
void check_poisson_lanes(uint64_t seed, uint64_t first, double scale) {
  double dvals[W][point::kInputDerived];
  double lam_ex[W], lam_in[W];
  for (int l = 0; l < W; ++l) {
    lam_ex[l] = l % 5 == 0 ? 0.0 : scale * 0.013 * l * l;
    lam_in[l] = l % 3 == 0 ? 0.0 : scale * 0.2 * (W - l);
    double p[point::kNumInputParams] = {};
    p[point::kRateEx] = lam_ex[l] / (0.1 * 1e-3);  // rate (Hz) x dt (ms) x 1e-3 = mean per step
    p[point::kRateIn] = lam_in[l] / (0.1 * 1e-3);
    point::derive_inputs<double>(p, 0, dvals[l], 0, 0.1);
  }
  point::PoissonLanes<W> pl;
  pl.setup(seed, [&](int l) { return first + l; }, [&](int l, int k) { return dvals[l][k]; }, 0);
  double total = 0;
  for (int64_t step = 0; step < 3000; ++step) {
    pl.draw(step);
    for (int l = 0; l < W; ++l) {
      const double* d = dvals[l];
      const point::PoissonSplit se{d[point::kLamEx], d[point::kP0Ex], d[point::kRestEx], d[point::kP0RestEx], d[point::kChunksEx]};
      const point::PoissonSplit si{d[point::kLamIn], d[point::kP0In], d[point::kRestIn], d[point::kP0RestIn], d[point::kChunksIn]};
      const double ne = point::poisson_count(point::CounterRng(seed, first + l, step, point::kStreamEx), se);
      const double ni = point::poisson_count(point::CounterRng(seed, first + l, step, point::kStreamIn), si);
      ASSERT_EQ(pl.n[0][l], ne) << "W " << W << " lane " << l << " step " << step;
      ASSERT_EQ(pl.n[1][l], ni) << "W " << W << " lane " << l << " step " << step;
      total += ne + ni;
    }
  }
  double expect = 0;
  for (int l = 0; l < W; ++l) expect += 3000 * ((lam_ex[l] > 0 ? lam_ex[l] : 0) + lam_in[l]);
  EXPECT_NEAR(total, expect, 6 * std::sqrt(expect));  // the draws are Poisson (6 sigma)
}
TEST(PointInputs, TilePredrawnCountsEqualPoissonCount) {
  check_poisson_lanes<16>(5, 0, 1.0);     // means up to 3.3 and 3.2 per step: remaining parts
  check_poisson_lanes<16>(9, 1000, 0.1);  // all means <= 1: the fixed-cost part only
  check_poisson_lanes<8>(5, 77, 1.0);
}

// Counter-based: the same (seed, instance, step, stream) gives the same draw; any change of one
// of them gives a different one; uniform() lies in [0, 1).
TEST(PointInputs, CounterRngIsKeyed) {
  point::CounterRng a(1, 2, 3, 1), b(1, 2, 3, 1);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  const uint64_t x = point::CounterRng(1, 2, 3, 1).next_u64();
  EXPECT_NE(x, point::CounterRng(2, 2, 3, 1).next_u64());
  EXPECT_NE(x, point::CounterRng(1, 3, 3, 1).next_u64());
  EXPECT_NE(x, point::CounterRng(1, 2, 4, 1).next_u64());
  EXPECT_NE(x, point::CounterRng(1, 2, 3, 2).next_u64());
  for (int i = 0; i < 1000; ++i) {
    const double u = point::CounterRng(9, i, 0, 1).uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

// Step current timing and ramp: iaf_psc_delta with tau_m -> V follows the exact solution of the
// piecewise-constant current (on for step_start <= t_k < step_stop), ramp I(t_k) = slope t_k.
TEST(PointInputs, StepAndRampCurrents) {
  auto p = defaults<IafPscDeltaModel>();
  const int B = IafPscDeltaModel::kInputs;
  p[B + point::kStepAmplitude] = 100.0;
  p[B + point::kStepStart] = 1.0;
  p[B + point::kStepStop] = 3.0;
  p[B + point::kRampSlope] = 10.0;  // pA/ms
  p[IafPscDeltaModel::V_th] = 1e9;
  Runner<IafPscDeltaModel> r(p, 0.1);
  r.run(50);
  const double P33 = std::exp(-0.01), P30 = 10.0 / 250.0 * (1 - P33);
  double v = 0;
  for (int k = 0; k < 50; ++k) {
    const double I = ((k >= 10 && k < 30) ? 100.0 : 0.0) + 10.0 * 0.1 * k;
    v = P30 * I + P33 * v;
    EXPECT_NEAR(r.v[k] + 70.0, v, 1e-12) << k;
  }
}

// ---- dynamics_params loader ---------------------------------------------------------------------
TEST(NestParams, LoadsValuesAndRejectsUnknownNames) {
  const ModelDesc* m = find_model("iaf_psc_alpha");
  ASSERT_NE(m, nullptr);
  const std::string path = ::testing::TempDir() + "point_dyn_params.json";
  {
    std::ofstream f(path);
    f << R"({"C_m": 200.0, "tau_m": 20, "V_th": -50.0})";
  }
  const auto p = load_dynamics_params(*m, path);
  EXPECT_EQ(p[m->param_index("C_m")], 200.0);
  EXPECT_EQ(p[m->param_index("tau_m")], 20.0);
  EXPECT_EQ(p[m->param_index("V_th")], -50.0);
  EXPECT_EQ(p[m->param_index("E_L")], -70.0);  // default kept
  {
    std::ofstream f(path);
    f << R"({"C_m": 200.0, "g_L": 3.0})";
  }
  try {
    load_dynamics_params(*m, path);
    FAIL() << "unknown name accepted";
  } catch (const SpecError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("g_L"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("tau_syn_ex"), std::string::npos) << msg;  // lists valid names
  }
  {
    std::ofstream f(path);
    f << R"({"C_m": "big"})";
  }
  EXPECT_THROW(load_dynamics_params(*m, path), SpecError);
  EXPECT_THROW(load_dynamics_params(*m, path + ".missing"), SpecError);
}

// The registry knows the models with NEST's parameter names.
TEST(PointModels, Registered) {
  for (const char* n : {"iaf_psc_exp", "iaf_psc_delta", "iaf_psc_alpha", "izhikevich",
                        "aeif_cond_exp", "aeif_cond_alpha"}) {
    const ModelDesc* m = find_model(n);
    ASSERT_NE(m, nullptr) << n;
    EXPECT_EQ(m->state.at(0).name, std::string("V_m")) << n;
  }
  EXPECT_GE(find_model("aeif_cond_alpha")->param_index("Delta_T"), 0);
}
