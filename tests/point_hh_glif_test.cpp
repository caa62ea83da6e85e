// hh_psc_alpha and glif_psc (include/neurosweep/point/{hh_psc_alpha,glif_psc}.hpp) against NEST's
// testsuite values, closed forms and an independent integration.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "errors.hpp"
#include "spec/nest_params.hpp"
#include "neurosweep/models.hpp"

#include "neurosweep/engine.hpp"
#include "neurosweep/point/glif_psc.hpp"
#include "neurosweep/point/hh_psc_alpha.hpp"

using namespace ns;

namespace {

template <class M>
std::vector<double> defaults() {
  std::vector<double> p(M::kNumParams);
  for (int k = 0; k < M::kNumParams; ++k) p[k] = M::kParams[k].default_value;
  return p;
}

// Steps a model directly; global step index k (input timing), V after every step, NEST stamps.
template <class M, class T = double>
struct Runner {
  std::vector<double> p;
  T d[M::kNumDerived];
  T s[M::kNumState];
  double h;
  int64_t k = 0;
  std::vector<double> v, spikes;
  Runner(std::vector<double> params, double dt) : p(std::move(params)), h(dt) {
    M::template derive<T>(Strided<const double>{p.data(), 1}, d, T(dt));
    M::template init<T>(d, s);
  }
  void step() {
    M::template step<T>(s, d, Direct{}, StepContext{1, 0, k});
    v.push_back(double(s[0]));
    for (int j = 0; j < M::template spike_count<T>(s, 0); ++j) spikes.push_back(double(k + 1) * h);
    ++k;
  }
  void run(int64_t n) {
    for (int64_t j = 0; j < n; ++j) step();
  }
};

// ---- independent Hodgkin-Huxley integration (classic RK4, fine fixed step, std::exp) -----------
// Same equations (Hodgkin & Huxley 1952 in NEST's -65 mV convention, NEST defaults), written
// separately from the model header.
struct HhRef {
  double gna = 12000, gk = 3600, gl = 30, c = 100, ena = 50, ek = -77, el = -54.402, ie = 0;
  void f(const double* y, double* dy) const {
    const double V = y[0], m = y[1], h = y[2], n = y[3];
    const double an = 0.01 * (V + 55) / (1 - std::exp(-(V + 55) / 10)), bn = 0.125 * std::exp(-(V + 65) / 80);
    const double am = 0.1 * (V + 40) / (1 - std::exp(-(V + 40) / 10)), bm = 4 * std::exp(-(V + 65) / 18);
    const double ah = 0.07 * std::exp(-(V + 65) / 20), bh = 1 / (1 + std::exp(-(V + 35) / 10));
    dy[0] = (-(gna * m * m * m * h * (V - ena) + gk * n * n * n * n * (V - ek) + gl * (V - el)) + ie) / c;
    dy[1] = am * (1 - m) - bm * m;
    dy[2] = ah * (1 - h) - bh * h;
    dy[3] = an * (1 - n) - bn * n;
  }
  // V sampled every `grid` ms for `T` ms, from NEST's initial state.
  std::vector<double> run(double T, double grid, double dt) const {
    double y[4] = {-65, 0, 0, 0};
    {
      const double V = -65;
      const double an = 0.01 * (V + 55) / (1 - std::exp(-(V + 55) / 10)), bn = 0.125 * std::exp(-(V + 65) / 80);
      const double am = 0.1 * (V + 40) / (1 - std::exp(-(V + 40) / 10)), bm = 4 * std::exp(-(V + 65) / 18);
      const double ah = 0.07 * std::exp(-(V + 65) / 20), bh = 1 / (1 + std::exp(-(V + 35) / 10));
      y[1] = am / (am + bm);
      y[2] = ah / (ah + bh);
      y[3] = an / (an + bn);
    }
    const int per = static_cast<int>(std::lround(grid / dt));
    const int n = static_cast<int>(std::lround(T / grid));
    std::vector<double> out;
    for (int g = 0; g < n; ++g) {
      for (int j = 0; j < per; ++j) {
        double k1[4], k2[4], k3[4], k4[4], t[4];
        f(y, k1);
        for (int i = 0; i < 4; ++i) t[i] = y[i] + 0.5 * dt * k1[i];
        f(t, k2);
        for (int i = 0; i < 4; ++i) t[i] = y[i] + 0.5 * dt * k2[i];
        f(t, k3);
        for (int i = 0; i < 4; ++i) t[i] = y[i] + dt * k3[i];
        f(t, k4);
        for (int i = 0; i < 4; ++i) y[i] += dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
      }
      out.push_back(y[0]);
    }
    return out;
  }
};

// NEST's detector on a sampled trace: V >= 0 and V fell in the step, then t_ref steps blind.
std::vector<double> hh_detect(const std::vector<double>& v, double h, double v0, int nref) {
  std::vector<double> sp;
  double old = v0;
  int r = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    if (r > 0) {
      --r;
    } else if (v[k] >= 0 && old > v[k]) {
      sp.push_back((k + 1) * h);
      r = nref;
    }
    old = v[k];
  }
  return sp;
}

}  // namespace

// HH under I_e = 1000 pA (10 uA/cm^2 for NEST's 1e-4 cm^2 membrane), h = 0.1 ms, 300 ms: the
// spike stamps equal those of an independent RK4 integration at 1 us (converged: halving its step
// changes V by < 1e-6 mV) sampled on the same grid with the same detector, within one grid step
// (the detector compares neighbouring samples near the peak, where the RKF45 error, bounded by
// NEST's absolute tolerance 1e-3 per sub-step, can flip the comparison). Subthreshold V (< -60 mV,
// slow phase) agrees within 0.05 mV (50x the per-step tolerance: errors accumulate over a cycle
// and the stiff upstroke shifts phase). Rate 68 Hz at 10 uA/cm^2: the classic HH value (also in
// the reference, section 8a).
TEST(HhPscAlpha, MatchesIndependentIntegration) {
  const double h = 0.1, T = 300;
  for (double ie : {1000.0, 700.0}) {
    auto p = defaults<HhPscAlphaModel>();
    p[HhPscAlphaModel::I_e] = ie;
    Runner<HhPscAlphaModel> r(p, h);
    r.run(std::llround(T / h));
    HhRef ref;
    ref.ie = ie;
    const auto vref = ref.run(T, h, 0.001);
    const auto sref = hh_detect(vref, h, -65, 20);
    ASSERT_GT(sref.size(), 10u) << ie;
    ASSERT_EQ(r.spikes.size(), sref.size()) << ie;
    double maxdt = 0, maxdv = 0;
    for (size_t j = 0; j < sref.size(); ++j) maxdt = std::max(maxdt, std::fabs(r.spikes[j] - sref[j]));
    for (size_t k = 0; k < vref.size(); ++k)
      if (vref[k] < -60 && r.v[k] < -60) maxdv = std::max(maxdv, std::fabs(r.v[k] - vref[k]));
    std::printf("hh_psc_alpha I_e %.0f: %zu spikes, max stamp diff %.3g ms, max subthreshold dV %.3g mV\n",
                ie, sref.size(), maxdt, maxdv);
    EXPECT_LE(maxdt, h + 1e-9) << ie;
    EXPECT_LT(maxdv, 0.05) << ie;
    if (ie == 1000.0) {
      const double rate = 1000.0 * (r.spikes.size() - 1) / (r.spikes.back() - r.spikes.front());
      EXPECT_NEAR(rate, 68.0, 3.0);
    }
  }
}

// Passive membrane with an alpha PSC: g_Na = g_K = 0 leaves C dV/dt = -g_L (V - E_L) + I_e + I_ex.
// From V0 = -65 mV: V = E_L + (I_e/g_L)(1 - e^{-t/tau}) + (V0 - E_L) e^{-t/tau} + PSC term, with
// the alpha PSC I(t) = w (e/tau_s) t e^{-t/tau_s} (spike entered at the end of step 0, t from
// t_1) convolved with the membrane: (e w/tau_s)/C * [e^{-t/tau} - e^{-t/tau_s}(1 + a t)]/a^2,
// a = 1/tau_s - 1/tau. Tolerance 1e-6 mV: NEST's control bounds the 4th/5th-order difference by
// 1e-3 per sub-step, but the propagated 5th-order solution of this smooth linear system is far
// more accurate (measured 2e-9 mV); a wrong propagator, jump or update order gives errors of
// 0.1-10 mV.
TEST(HhPscAlpha, PassiveMembraneAndAlphaPscClosedForm) {
  auto p = defaults<HhPscAlphaModel>();
  p[HhPscAlphaModel::g_Na] = 0;
  p[HhPscAlphaModel::g_K] = 0;
  p[HhPscAlphaModel::I_e] = 100;
  const double h = 0.1, C = 100, gl = 30, el = -54.402, tau = C / gl, ts = 2.0, w = 50;
  p[HhPscAlphaModel::tau_syn_ex] = ts;
  Runner<HhPscAlphaModel> r(p, h);
  r.step();
  r.s[HhPscAlphaModel::dIex] += w * std::exp(1.0) / ts;  // a spike entering at the end of step 0
  const double v1 = r.v[0];
  r.run(300);
  const double a = 1 / ts - 1 / tau;
  double maxerr = 0;
  for (int k = 1; k <= 300; ++k) {
    const double t = k * h;  // time since t_1
    const double v1_ana = el + (100 / gl) * (1 - std::exp(-h / tau)) + (-65 - el) * std::exp(-h / tau);
    const double base = el + (100 / gl) + (v1_ana - el - 100 / gl) * std::exp(-t / tau);
    const double psc = (std::exp(1.0) * w / ts) / C *
                       (std::exp(-t / tau) - std::exp(-t / ts) * (1 + a * t)) / (a * a);
    maxerr = std::max(maxerr, std::fabs(r.v[k] - (base + psc)));
    if (k == 1) EXPECT_NEAR(v1, v1_ana, 1e-6);
  }
  std::printf("hh_psc_alpha passive + alpha PSC: max |V - closed form| = %.3g mV\n", maxerr);
  EXPECT_LT(maxerr, 1e-6);
}

// ---- glif_psc ------------------------------------------------------------------------------------
// NEST testsuite testsuite/pytests/test_glif_psc.py (nest-simulator commit 54b86f4b8b81): h = 0.01
// ms, defaults, spike generators (+20 pA at 10, 100, 400, 700 ms; -20 pA at 15, 99, 300, 800 ms;
// receptor 1, delay 1 ms), Poisson 1 kHz x 35 pA from 200 to 500 ms, and a step current of 300 pA
// switched on at 600 ms (delay 1 ms: it acts from the step starting at 601.00 ms). The Poisson part
// cannot be reproduced (NEST's RNG), but from 510 ms on the neuron is deterministic given the
// listed earlier spike times: the threshold spike component and the after-spike currents at
// t0 = 510 ms are sums over those spikes, th_spike_add e^{-b_s (t0 - t_i - t_ref)} and
// asc_amps_j e^{-k_j (t0 - t_i - t_ref)} (frozen during t_ref, decaying after; r_j = 1), and U,
// the PSCs and Theta_v relax within ~90 ms (tau_m = 6.2 ms, 1/b_v = 11 ms) to their driven values.
// We start there with U = Theta_v = PSCs = 0, apply the spike-generator inputs at 700/800 ms and
// the step current, and compare every listed spike after 600 ms. NEST prints them with 2 decimals
// (= h): we require the same grid step, i.e. |diff| < h/2.
TEST(GlifPsc, NestTestsuiteSpikesAfter600ms) {
  struct Case {
    int level;
    std::vector<double> before, after;
  };
  const std::vector<Case> cases = {
      {1, {394.67, 424.25, 483.25},
       {612.99, 628.73, 644.47, 660.21, 675.95, 691.69, 706.3, 722., 737.74, 753.48, 769.22, 784.96,
        800.7, 816.72, 832.46, 848.2, 863.94, 879.68, 895.42}},
      {2, {394.67, 400.67, 424.51, 484.48},
       {613.4, 621.31, 629.67, 638.47, 647.7, 657.36, 667.42, 677.87, 688.67, 699.8, 709.84, 721.58,
        733.57, 745.76, 758.11, 770.6, 783.21, 795.92, 811.36, 824.05, 836.81, 849.64, 862.54,
        875.49, 888.48}},
      {3, {394.67, 484.81}, {614.85, 648.28, 685.18, 725.06, 769.76, 821.69, 876.09}},
      {4, {394.67, 485.07}, {615.16, 649.52, 689.1, 734.18, 786.34, 845.85}},
      {5, {395.44}, {615.27, 653.77, 701.42, 768.22, 859.82}},
  };
  using M = GlifPscModel;
  const double h = 0.01, t0 = 510.0;
  for (const auto& c : cases) {
    SCOPED_TRACE("GLIF" + std::to_string(c.level));
    auto p = defaults<M>();
    const bool ts = c.level == 2 || c.level >= 4, asc = c.level >= 3, tv = c.level == 5;
    p[M::spike_dependent_threshold] = ts;
    p[M::after_spike_currents] = asc;
    p[M::adapting_threshold] = tv;
    p[M::kInputs + point::kStepAmplitude] = 300.0;
    p[M::kInputs + point::kStepStart] = 601.0;
    p[M::kInputs + point::kStepStop] = 901.0;
    Runner<M> r(p, h);
    r.k = std::llround(t0 / h);
    double ths = 0, a0 = 0, a1 = 0;
    for (double ti : c.before) {
      const double age = t0 - ti - 3.75;
      if (ts) ths += 0.37 * std::exp(-0.009 * age);
      if (asc) {
        a0 += -9.18 * std::exp(-0.003 * age);
        a1 += -198.94 * std::exp(-0.1 * age);
      }
    }
    r.s[M::ThS] = ths;
    r.s[M::Asc0] = a0;
    r.s[M::Asc1] = a1;
    const double jump = std::exp(1.0) / 2.0;  // PSCInitialValues = e / tau_syn, tau_syn = 2 ms
    while (r.k < std::llround(1000.0 / h)) {
      r.step();
      const double t_end = r.k * h;
      if (std::fabs(t_end - 701.0) < h / 4) r.s[M::Y1ex] += jump * 20.0;
      if (std::fabs(t_end - 801.0) < h / 4) r.s[M::Y1ex] += jump * -20.0;
    }
    std::vector<double> got;
    for (double x : r.spikes)
      if (x > 600.0) got.push_back(x);
    ASSERT_EQ(got.size(), c.after.size());
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], c.after[j], h / 2) << "spike " << j;
  }
}

// GLIF1 under constant current I from rest, closed form (exact propagator): U_j = (I/g)(1 - e^{-j h
// g/C}); first spike at the first j with U_j > Theta_inf (strict), then ISI = (j* + n_ref) h.
// Exact in double (crossings kept >= 1e-3 steps away from a grid point). Invalid mechanism
// combinations (NEST: BadProperty) give V = NaN.
TEST(GlifPsc, Glif1ClosedFormAndInvalidLevels) {
  using M = GlifPscModel;
  const double h = 0.1, g = 9.43, C = 58.72, th = -51.68 + 78.85;
  int checked = 0;
  for (double I = 260; I <= 1000; I += 53) {
    const double jc = -(C / g) * std::log(1 - th * g / I) / h;
    if (std::fabs(jc - std::round(jc)) < 1e-3) continue;
    auto p = defaults<M>();
    p[M::I_e] = I;
    Runner<M> r(p, h);
    r.run(5000);
    const double js = std::ceil(jc);
    ASSERT_GE(r.spikes.size(), 3u) << I;
    EXPECT_NEAR(r.spikes[0], js * h, 1e-9) << I;
    for (size_t j = 1; j < r.spikes.size(); ++j)
      EXPECT_NEAR(r.spikes[j] - r.spikes[j - 1], (js + std::round(3.75 / h)) * h, 1e-9) << I;
    ++checked;
  }
  EXPECT_GE(checked, 10);
  for (int bad : {0b001, 0b011, 0b101}) {  // (ts, asc, tv) = (0,0,1), (0,1,1), (1,0,1)
    auto p = defaults<M>();
    p[M::adapting_threshold] = bad & 1;
    p[M::after_spike_currents] = (bad >> 1) & 1;
    p[M::spike_dependent_threshold] = (bad >> 2) & 1;
    Runner<M> r(p, h);
    EXPECT_TRUE(std::isnan(r.s[M::V])) << bad;
  }
}

// dynamics_params files with NEST's array parameters (Allen/BMTK glif_psc files): arrays map to
// name_0, name_1; a one-entry tau_syn sets every receptor port; more ports than the maximum (4)
// and after-spike arrays of another size are errors naming the file, key and value.
TEST(GlifPsc, DynamicsParamsArrays) {
  const ModelDesc* m = find_model("glif_psc");
  ASSERT_NE(m, nullptr);
  const std::string path = ::testing::TempDir() + "glif_dyn_params.json";
  {
    std::ofstream f(path);
    f << R"({"asc_amps": [-1.5, -20.25], "tau_syn": [3.5], "after_spike_currents": true, "g": 5})";
  }
  const auto p = load_dynamics_params(*m, path);
  EXPECT_EQ(p[m->param_index("asc_amps_0")], -1.5);
  EXPECT_EQ(p[m->param_index("asc_amps_1")], -20.25);
  EXPECT_EQ(p[m->param_index("tau_syn_0")], 3.5);
  EXPECT_EQ(p[m->param_index("tau_syn_1")], 3.5);
  EXPECT_EQ(p[m->param_index("after_spike_currents")], 1.0);
  EXPECT_EQ(p[m->param_index("g")], 5.0);
  {
    std::ofstream f(path);
    f << R"({"tau_syn": [5.5, 8.5, 2.8, 5.8, 7.5]})";
  }
  try {
    load_dynamics_params(*m, path);
    FAIL() << "5 receptor ports accepted (maximum 4)";
  } catch (const SpecError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("tau_syn"), std::string::npos) << msg;
    EXPECT_NE(msg.find("5.5"), std::string::npos) << msg;
  }
  {
    std::ofstream f(path);
    f << R"({"asc_decay": [0.1, "x"]})";
  }
  EXPECT_THROW(load_dynamics_params(*m, path), SpecError);
}
