// AdEx (aeif_cond_exp / aeif_cond_alpha) against NEST's high-accuracy LSODAR reference trace.
//
// Reference: nest/nest-simulator testsuite/pytests/test_aeif_data_lsodar.dat (commit
// 25ced5ab69d9; columns t, V_m, w; generated as described in
// doc/htmldoc/model_details/aeif_models_implementation.ipynb), used by
// testsuite/pytests/test_aeif_lsodar.py (commit 041ab0092437) with h = 0.01 ms, 100 ms,
// parameters below, no synaptic input. NEST accepts a mean relative difference of 5e-4 for V_m
// and 1e-4 for w (samples with V above (V_th + V_peak)/2 excluded). We use a subset of the
// reference samples (below -45 mV, spread over the run, listed verbatim with all digits) and
// compare our trace linearly interpolated at those times (our grid is 0.01 ms; the interpolation
// error there is < 1e-5 mV). Spike times: the reference resets at the listed instants; our spike
// is stamped at the end of the step that contains the crossing, so stamp - t* >= 0; we allow
// stamp - t* < 2h for RKF45 (one step of grid quantisation plus at most one step of drift
// accumulated over 7 spikes: measured 14 us at the 7th spike, 91 ms).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "neurosweep/engine.hpp"
#include "neurosweep/point/aeif_cond_alpha.hpp"
#include "neurosweep/point/aeif_cond_exp.hpp"

using namespace ns;

namespace {

const double kRef[][3] = {
    {0.5125357676750207, -68.95136495682652, 4.994170549566637},
    {1.610826698407208, -66.80130256734417, 4.999327844793589},
    {4.906860068597613, -61.07688360012096, 5.146383997049215},
    {8.202893438788017, -56.29978388556251, 5.463432461996290},
    {10.75195226764687, -53.13580983574885, 5.806019402152305},
    {12.69590837548277, -50.95118043114845, 6.116722744105369},
    {14.19584561393751, -49.32838424225208, 6.383386435054917},
    {15.32759547458127, -48.07215583618034, 6.599893944853022},
    {16.17184206446515, -47.05269033168217, 6.770432579511073},
    {18.93397503421965, -57.69463952687593, 7.380371870310586},
    {20.02715898150011, -56.22040914593430, 7.495930345369072},
    {22.07944530791396, -53.67001426523940, 7.753220908673835},
    {24.95675244531412, -50.45791244480228, 8.193660450847879},
    {26.36867417367284, -48.94315201150946, 8.441114470851549},
    {28.19985716148343, -46.79997649194307, 8.793113993729868},
    {42.94374190507738, -57.38602863298988, 11.27329879984526},
    {44.63603405864126, -55.19725476389397, 11.44151739940368},
    {46.53551373690093, -52.95444522344675, 11.67117395418574},
    {48.51890363859157, -50.79467556647486, 11.95284123203647},
    {50.03690473817175, -49.19672896116282, 12.19542276245556},
    {51.46003870197332, -47.63164772441792, 12.44400886167164},
    {52.78468621247371, -45.87753756315749, 12.69586333479297},
    {91.54986388201917, -57.39406536658779, 18.28393592362987},
    {93.28140888360599, -55.21396742626372, 18.41548980750497},
    {95.24339881041453, -52.96438384191701, 18.60697096501807},
    {97.28421676110410, -50.81181261213935, 18.84947584658926},
    {99.24792413777456, -48.80732116716920, 19.12166593336944},
};
// Reset instants in the reference (V_m jumps to V_reset): spikes 1, 3 and 7.
const double kRefSpikes[][2] = {{0, 18.71533824476356}, {2, 42.49524029982080}, {6, 91.09566560000411}};

struct Result {
  double mean_rel_v = 0, mean_rel_w = 0, max_rel_v = 0, max_rel_w = 0, seconds = 0;
  std::vector<double> spikes;
};

template <class M, class T>
Result run_lsodar_case(double rk4_substeps) {
  const double h = 0.01;
  std::vector<double> p(M::kNumParams);
  for (int k = 0; k < M::kNumParams; ++k) p[k] = M::kParams[k].default_value;
  p[M::V_reset] = -58;
  p[M::V_peak] = 0;
  p[M::V_th] = -50;
  p[M::I_e] = 420;
  p[M::g_L] = 11;
  p[M::tau_w] = 300;
  p[M::E_L] = -70;
  p[M::Delta_T] = 2;
  p[M::a] = 3;
  p[M::b] = 0;
  p[M::C_m] = 200;
  p[M::rk4_substeps] = rk4_substeps;
  T d[M::kNumDerived], s[M::kNumState];
  M::template derive<T>(Strided<const double>{p.data(), 1}, d, T(h));
  M::template init<T>(d, s);
  s[M::V] = T(-70);
  s[M::W] = T(5);
  const int n = 10000;
  std::vector<double> v(n + 1), w(n + 1);
  v[0] = -70;
  w[0] = 5;
  Result r;
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < n; ++k) {
    M::template step<T>(s, d, Direct{}, StepContext{0, 0, k});
    v[k + 1] = double(s[M::V]);
    w[k + 1] = double(s[M::W]);
    if (M::spiked(s)) r.spikes.push_back((k + 1) * h);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& x : kRef) {
    const double q = x[0] / h;
    const int i = static_cast<int>(q);
    const double f = q - i;
    const double vi = v[i] + f * (v[i + 1] - v[i]);
    const double wi = w[i] + f * (w[i + 1] - w[i]);
    const double rv = std::fabs(vi - x[1]) / std::fabs(x[1]);
    const double rw = std::fabs(wi - x[2]) / std::fabs(x[2]);
    r.mean_rel_v += rv;
    r.mean_rel_w += rw;
    r.max_rel_v = std::max(r.max_rel_v, rv);
    r.max_rel_w = std::max(r.max_rel_w, rw);
  }
  const double nref = sizeof(kRef) / sizeof(kRef[0]);
  r.mean_rel_v /= nref;
  r.mean_rel_w /= nref;
  return r;
}

template <class M, class T>
void check(const char* label, double rk4_substeps, double tol_v, double tol_w, double tol_spike) {
  const Result r = run_lsodar_case<M, T>(rk4_substeps);
  std::printf("%-34s mean rel V %.2e (max %.2e)  w %.2e (max %.2e)  spikes %zu  %.1f ms/100ms\n",
              label, r.mean_rel_v, r.max_rel_v, r.mean_rel_w, r.max_rel_w, r.spikes.size(),
              r.seconds * 1e3);
  EXPECT_LT(r.mean_rel_v, tol_v) << label;
  EXPECT_LT(r.mean_rel_w, tol_w) << label;
  for (const auto& sp : kRefSpikes) {
    ASSERT_GT(r.spikes.size(), size_t(sp[0])) << label;
    const double dt = r.spikes[size_t(sp[0])] - sp[1];
    EXPECT_GE(dt, -1e-9) << label << " spike " << sp[0];
    EXPECT_LT(dt, tol_spike + 1e-9) << label << " spike " << sp[0];
  }
}

}  // namespace

// NEST's tolerances (test_aeif_lsodar.py: V_m 5e-4, w 1e-4), NEST's integrator (RKF45, 1e-6).
TEST(Aeif, CondAlphaAdaptiveMatchesLsodar) {
  check<AeifCondAlphaModel, double>("aeif_cond_alpha RKF45 double", 0, 5e-4, 1e-4, 0.02);
}
TEST(Aeif, CondExpAdaptiveMatchesLsodar) {
  check<AeifCondExpModel, double>("aeif_cond_exp RKF45 double", 0, 5e-4, 1e-4, 0.02);
}
// Fixed-step RK4 (1 and 4 sub-steps per 0.01 ms grid step) meets NEST's V tolerance but not its
// w tolerance: the reset happens at the end of the sub-step in which V passed V_peak, so every
// spike is late by up to one sub-step and the trajectory lags (w error ~ lag * dw/dt / w). Bound
// stated here: w mean relative error < 5e-4, spikes late by < 6 sub-steps (measured 3.4e-4/5.4
// for x1, 1.1e-4/2.4 for x4).
TEST(Aeif, CondExpRk4CloseToLsodar) {
  check<AeifCondExpModel, double>("aeif_cond_exp RK4x1 double", 1, 5e-4, 5e-4, 0.06);
  check<AeifCondExpModel, double>("aeif_cond_exp RK4x4 double", 4, 5e-4, 5e-4, 0.06);
}
// Single precision: the same tolerances hold (float rounding ~1e-7 relative per step).
TEST(Aeif, CondExpFloatMatchesLsodar) {
  check<AeifCondExpModel, float>("aeif_cond_exp RKF45 float", 0, 5e-4, 1e-4, 0.02);
  check<AeifCondExpModel, float>("aeif_cond_exp RK4x1 float", 1, 5e-4, 5e-4, 0.06);
}

// With Delta_T = a = b = 0 the model is a conductance-based LIF; without input V relaxes
// exactly as E_L + (I_e/g_L)(1 - e^{-t g_L/C}) until V_th (test_aeif_lsodar.py's iaf check,
// here against the closed form). Tolerance 1e-6 mV (RKF45 tolerance 1e-6).
TEST(Aeif, DeltaT0ReducesToLif) {
  using M = AeifCondExpModel;
  std::vector<double> p(M::kNumParams);
  for (int k = 0; k < M::kNumParams; ++k) p[k] = M::kParams[k].default_value;
  p[M::Delta_T] = 0;
  p[M::a] = 0;
  p[M::b] = 0;
  p[M::I_e] = 200;
  p[M::g_L] = 16.7;
  p[M::C_m] = 250;
  p[M::E_L] = -70;
  p[M::V_th] = -55;
  p[M::V_reset] = -60;
  p[M::t_ref] = 2;
  p[M::V_m] = -70;  // start at E_L, as the closed form assumes (NEST's default start is -70.6 mV)
  double d[M::kNumDerived], s[M::kNumState];
  M::derive<double>(Strided<const double>{p.data(), 1}, d, 0.1);
  M::init<double>(d, s);
  double maxerr = 0;
  for (int k = 0; k < 150; ++k) {
    M::step<double>(s, d, Direct{}, StepContext{0, 0, k});
    const double t = (k + 1) * 0.1;
    const double ana = -70 + 200 / 16.7 * (1 - std::exp(-t * 16.7 / 250));
    ASSERT_LT(ana, -55.0);
    maxerr = std::max(maxerr, std::fabs(s[M::V] - ana));
  }
  EXPECT_LT(maxerr, 1e-6);
}
