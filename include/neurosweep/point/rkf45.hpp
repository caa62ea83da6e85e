#pragma once
// Adaptive embedded Runge-Kutta-Fehlberg 4(5) integration over one grid step, as NEST does it with
// GSL (gsl_odeiv_step_rkf45 + gsl_odeiv_control_* + gsl_odeiv_evolve_apply called in a
// `while (t < h)` loop). Shared by the GSL-based NEST models (aeif_core.hpp, hh_psc_alpha.hpp).
//
// Scheme: Fehlberg (1969, NASA TR R-315) 4(5) pair; the 5th-order solution is propagated and the
// error estimate is the difference of the two solutions, as in GSL's rkf45.c.
// Step control (GSL's standard control, gsl_odeiv_control_standard_new / std_control_hadjust):
// per component D_i = eps_abs + eps_rel (a_y |y_i| + a_dydt h |y'_i|) with y, y' at the end of
// the trial step; r = max |err_i| / D_i; r > 1.1: step shrunk by 0.9 r^(-1/5) (at least x0.2) and
// retried; r < 0.5: next step grown by 0.9 r^(-1/6) (at most x5). The two controls NEST uses:
//   * kYp: gsl_odeiv_control_yp_new(tol, tol) (aeif_cond_*): D_i = tol (1 + h |y'_i|)
//   * kY:  gsl_odeiv_control_y_new(tol, 0)    (hh_psc_alpha, tol = 1e-3): D_i = tol
// The internal step h persists between grid steps (a state variable); the last sub-step is cut
// to end on the grid (gsl_odeiv_evolve_apply with t1 = grid step).
//
// The system type Sys provides (T = float or double):
//   template <class T> NS_HD void rhs(const T* y, T* f) const;   // dy/dt
//   template <class T> NS_HD bool after(T* y);                    // after each accepted sub-step
//                                                                 // (spike/reset checks); false =
//                                                                 // numerical instability
// Header-only, NS_HD, no CUDA headers.
#include "neurosweep/hd.hpp"

namespace ns {
namespace point {

enum class Rkf45Control { kYp, kY };

// One RKF45 trial step of size h from y with k1 = f(y) given: 5th-order solution y5, error err.
template <int N, class T, class Sys>
NS_HD void rkf45_trial(const Sys& sys, const T* y, const T* k1, T h, T* y5, T* err) {
  T k2[N], k3[N], k4[N], k5[N], k6[N], yt[N];
  NS_UNROLL for (int i = 0; i < N; ++i) yt[i] = y[i] + h * (T(1.0 / 4.0) * k1[i]);
  sys.template rhs<T>(yt, k2);
  NS_UNROLL for (int i = 0; i < N; ++i)
    yt[i] = y[i] + h * (T(3.0 / 32.0) * k1[i] + T(9.0 / 32.0) * k2[i]);
  sys.template rhs<T>(yt, k3);
  NS_UNROLL for (int i = 0; i < N; ++i)
    yt[i] = y[i] + h * (T(1932.0 / 2197.0) * k1[i] - T(7200.0 / 2197.0) * k2[i] +
                        T(7296.0 / 2197.0) * k3[i]);
  sys.template rhs<T>(yt, k4);
  NS_UNROLL for (int i = 0; i < N; ++i)
    yt[i] = y[i] + h * (T(439.0 / 216.0) * k1[i] - T(8.0) * k2[i] + T(3680.0 / 513.0) * k3[i] -
                        T(845.0 / 4104.0) * k4[i]);
  sys.template rhs<T>(yt, k5);
  NS_UNROLL for (int i = 0; i < N; ++i)
    yt[i] = y[i] + h * (-T(8.0 / 27.0) * k1[i] + T(2.0) * k2[i] - T(3544.0 / 2565.0) * k3[i] +
                        T(1859.0 / 4104.0) * k4[i] - T(11.0 / 40.0) * k5[i]);
  sys.template rhs<T>(yt, k6);
  NS_UNROLL for (int i = 0; i < N; ++i) {
    y5[i] = y[i] + h * (T(16.0 / 135.0) * k1[i] + T(6656.0 / 12825.0) * k3[i] +
                        T(28561.0 / 56430.0) * k4[i] - T(9.0 / 50.0) * k5[i] +
                        T(2.0 / 55.0) * k6[i]);
    err[i] = h * (T(1.0 / 360.0) * k1[i] - T(128.0 / 4275.0) * k3[i] -
                  T(2197.0 / 75240.0) * k4[i] + T(1.0 / 50.0) * k5[i] + T(2.0 / 55.0) * k6[i]);
  }
}

// Classic RK4 step of size h (fixed-step alternative).
template <int N, class T, class Sys>
NS_HD void rk4_step(const Sys& sys, T* y, T h) {
  T k1[N], k2[N], k3[N], k4[N], yt[N];
  sys.template rhs<T>(y, k1);
  NS_UNROLL for (int i = 0; i < N; ++i) yt[i] = y[i] + T(0.5) * h * k1[i];
  sys.template rhs<T>(yt, k2);
  NS_UNROLL for (int i = 0; i < N; ++i) yt[i] = y[i] + T(0.5) * h * k2[i];
  sys.template rhs<T>(yt, k3);
  NS_UNROLL for (int i = 0; i < N; ++i) yt[i] = y[i] + h * k3[i];
  sys.template rhs<T>(yt, k4);
  NS_UNROLL for (int i = 0; i < N; ++i)
    y[i] = y[i] + h / T(6) * (k1[i] + T(2) * k2[i] + T(2) * k3[i] + k4[i]);
}

constexpr int kRkf45MaxAttempts = 100000;  // trial steps per grid step; beyond: instability

// Integrate y over one grid step hg with the persistent internal step h (in/out). Returns false
// on numerical failure (non-finite error estimate, too many attempts, or sys.after() == false).
// The step-control arithmetic is done in double for both precisions.
template <int N, Rkf45Control C, class T, class Sys>
NS_HD bool rkf45_evolve(Sys& sys, T* y, T& h, T hg, T tol) {
  T t = T(0);
  int attempts = 0;
  bool ok = true;
  while (t < hg && ok) {
    T k1[N], y5[N], err[N], f5[N];
    sys.template rhs<T>(y, k1);  // dydt_in, once per gsl_odeiv_evolve_apply
    T t_new = t;
    for (;;) {
      const T rem = hg - t;
      const bool final_step = h > rem;
      const T h0 = final_step ? rem : h;
      rkf45_trial<N, T>(sys, y, k1, h0, y5, err);
      if (C == Rkf45Control::kYp) sys.template rhs<T>(y5, f5);  // dydt_out for the control
      double rmax = 2.2250738585072014e-308;  // GSL: DBL_MIN
      NS_UNROLL for (int i = 0; i < N; ++i) {
        double den;
        if (C == Rkf45Control::kYp) {
          const double yp = double(h0) * double(f5[i]);
          den = double(tol) * (1.0 + (yp < 0 ? -yp : yp));
        } else {
          den = double(tol);
        }
        const double e = double(err[i]) < 0 ? -double(err[i]) : double(err[i]);
        const double q = e / den;
        rmax = q > rmax ? q : rmax;
      }
      if (!(rmax == rmax)) {
        ok = false;
        break;
      }
      ++attempts;
      if (rmax > 1.1) {
        double f = 0.9 * fexp(-flog(rmax) / 5.0);
        f = f < 0.2 ? 0.2 : f;
        const T hn = T(f * double(h0));
        if (hn < h0 && attempts < kRkf45MaxAttempts) {  // reject, retry smaller
          h = hn;
          continue;
        }
        h = h0;
      } else if (rmax < 0.5) {
        double f = 0.9 * fexp(-flog(rmax) / 6.0);
        f = f > 5.0 ? 5.0 : f;
        f = f < 1.0 ? 1.0 : f;
        h = T(f * double(h0));
      } else {
        h = h0;
      }
      t_new = final_step ? hg : t + h0;
      break;
    }
    if (!ok || attempts >= kRkf45MaxAttempts) {
      ok = false;
      break;
    }
    NS_UNROLL for (int i = 0; i < N; ++i) y[i] = y5[i];
    t = t_new;
    ok = sys.template after<T>(y);
  }
  return ok;
}

// One grid step of a GSL-integrated NEST model whose ODE state is s[0 .. N-1] and whose
// persistent internal step is s[h_int] (NEST's B_.IntegrationStep_): y <- s, integrate over hg
// (a state with h_int <= 0 restarts at hg), NaN in y[0] on failure (NEST throws
// GSLSolverFailure / NumericalInstability), s[h_int] <- the new internal step. The caller adds the
// step's input and applies its spike rule to y, then stores y back (NEST's update() order).
template <int N, Rkf45Control C, class T, class S, class Sys>
NS_HD void gsl_grid_step(S s, int h_int, T* y, Sys& sys, T hg, T tol) {
  for (int i = 0; i < N; ++i) y[i] = s[i];
  T h = s[h_int] > T(0) ? s[h_int] : hg;
  const bool ok = rkf45_evolve<N, C, T>(sys, y, h, hg, tol);
  if (!ok) y[0] = T(0) / T(0);
  s[h_int] = h;
}

}  // namespace point
}  // namespace ns
