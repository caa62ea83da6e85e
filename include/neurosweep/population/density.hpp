#pragma once
// Population-density networks (DiPDE): each internal population is the probability density of the
// membrane potential of leaky integrate-and-fire neurons with voltage-jump synapses, on bins
// between v_min and the threshold v_max; external populations are given rates.
//   [I13] Iyer R, Menon V, Buice M, Koch C, Mihalas S (2013) The influence of synaptic weight
//         distribution on neuronal population dynamics. PLoS Comput Biol 9:e1003248.
//   [C16] Cain N, Iyer R, Koch C, Mihalas S (2016) The computational properties of a simplified
//         cortical column model. PLoS Comput Biol 12:e1005045.
// The discretisation is DiPDE's (AllenInstitute/dipde, dipde/internals/utilities.py; summarised in
// shared/reference/networks-and-populations.md section 3), read and re-written here:
//  - grid (utilities.get_v_edges): edges v_min + i * delta, delta = (v_min + dv) - v_min (numpy
//    arange), i < ceil((v_max - v_min) / dv), edges closer to 0 than DiPDE's 2.22e-16 V (here
//    2.22e-13 mV) set to 0, then v_max appended (the last bin may be narrower);
//  - reset bins (get_zero_bin_list): an edge exactly 0 at index k > 0: bins k-1 and k (1/2 each);
//    at index 0: bin 0; else the bin that contains 0
//    and the threshold flux is re-injected there. The density starts as DiPDE's default p0, a delta
//    at 0 (get_pv_from_p0: the bin whose upper edge is the first edge >= 0; bin 0 when v_min = 0).
//    Potentials are relative to rest, reset = 0; DiPDE has no refractory period;
//  - leak (leak_matrix, first-order upwind): bin k above the reset bins moves mass to k-1 at rate
//    v_{k+1} / (tau (v_{k+1} - v_k)); bin k below them to k+1 at rate v_k / (tau (v_k - v_{k+1}));
//  - synaptic jumps of weight w at input rate lambda (flux_matrix, redistribute_probability_mass,
//    fraction_overlap): source bin L shifted to [v_L + w, v_{L+1} + w] is spread over the bins it
//    overlaps by overlap / width; outflow -lambda. w > 0: the part beyond v_max, f_L = 1 - sum_j
//    R_Lj, is the threshold flux (firing rate r = sum_c lambda_c f_c . p) and re-enters at the reset
//    bins; w <= 0: the part below v_min is added to bin 0. The operator is applied bin by bin (it
//    is banded: a jump moves mass by w / dv bins), never stored as a dense matrix;
//  - input rate of a connection: lambda = nsyns x the source's rate delay + 1 steps ago (DiPDE's
//    delay queue, network.py / connection.py: the queue is rolled after the populations update,
//    so the lag is round(delay / dt) + 1 steps); internal sources start at rate 0;
//  - time step (InternalPopulation.update_propability_mass, 'approx' with approx_order None):
//    p <- sum_k (J dt)^k p / k!, adding terms until the max-norm of the last term is <= tol; then
//    negative entries clipped to 0 and p renormalised when the sum is off by more than 1e-15; the
//    rate uses the new p and this step's lambda. Not in DiPDE: when that series loses more than
//    kRoundTol to rounding (large dt |J|, e.g. dt 2 ms on the PopNet tutorial grid), the step is
//    redone in equal sub-steps (kSubstepTheta below); an accepted full step is DiPDE's bit for bit.
// Units: ms, mV, Hz (rates) in the engine; DiPDE's s and V are converted by the PopNet reader
// (python/neurosweep/popnet.py), the one place that converts.
//
// Sizes: up to kMaxInternal internal populations of up to kMaxBins bins, kMaxExternal external
// populations with piecewise-constant rates of up to kPieces pieces, kMaxConnections
// connections, delays up to kMaxDelay steps. The host builds the parameter names from the spec's
// "populations" object (host/population/population_spec.cpp); unused slots are hidden. The
// arithmetic is in double whatever the run's precision (rate_engine.hpp: kDoubleOnly).
#include "neurosweep/engine.hpp"
#include "neurosweep/gating_table.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {

struct DensityNetworkModel : point::NoTable {
  static constexpr const char* kName = "dipde_network";
  static constexpr const char* kDescription =
      "DiPDE population-density network (Iyer et al. 2013, Cain et al. 2016): LIF densities with "
      "voltage jumps, external rates; populations from the spec's \"populations\" object";
  static constexpr ModelKind kKind = ModelKind::kPopulation;
  static constexpr bool kUsesContext = true;
  static constexpr bool kHostDescribed = true;  // names built on the host (population_spec.cpp)
  static constexpr bool kDoubleOnly = true;     // always integrated in double
  // GPU: one network per thread block (population/density_block.hpp, kernels/density_kernels.cuh).

  static constexpr int kMaxInternal = 4, kMaxExternal = 4, kMaxConnections = 16, kMaxBins = 1024;
  static constexpr int kPieces = 4, kMaxDelay = 255, kHist = kMaxDelay + 1;
  static constexpr int kMaxTerms = 400;  // Taylor terms per (sub-)step before giving up (status nonfinite)
  // Rounding guard of the Taylor step (not in DiPDE; docs/POPULATIONS.md "Time step"). The series
  // of exp(J dt) p loses about eps * sum_n ||(J dt)^n p / n!||_inf to rounding (eps = 2.2e-16):
  // harmless while the terms stay small (PopNet tutorial grid, dv 0.1 mV, v_min -50 mV: the sum is
  // <= 0.25 up to dt 1 ms, 13.5 at 1.5 ms), catastrophic once they grow (dt 2 ms: 1.1e17, and clip +
  // renormalise hid it: the rates went to 0). So each step first runs DiPDE's series over the whole
  // dt (bit for bit DiPDE's step when accepted) while summing the max-norms of its terms; once
  // eps x that sum exceeds kRoundTol the step is redone in m = ceil(dt a / kSubstepTheta) equal
  // sub-steps h = dt / m (at least 2), each a series to tol followed by DiPDE's clip + renormalise.
  // a = the largest outflow rate of a bin (leak outflow, largest at the extreme bins, plus the sum
  // of the population's input rates lambda) bounds the operator: ||J||_1 <= 2a (each column of J
  // holds -a_k or more on the diagonal and at most a_k off it). With h a <= kSubstepTheta = 4,
  // ||J h||_1 <= 8: the term norms are bounded by 8^n / n! (non-increasing from n = 8 on, at most
  // 8^8 / 8! = 416) and their sum by e^8 = 2981, so the sub-step's rounding is below about
  // 2981 x 2.2e-16 = 6.6e-13 < kRoundTol whatever the density, without a check. (Theta 1 or 2
  // would cost more sub-steps for no accuracy that matters at tol 1e-12.)
  static constexpr double kRoundTol = 1e-12;   // accepted rounding of one full step (max-norm)
  static constexpr double kEps = 2.220446049250313e-16;
  static constexpr double kSubstepTheta = 4.0;
  // Most sub-steps per step (bounded work: (kMaxSubsteps + 1) x kMaxTerms applications of J).
  // Beyond it the instance's state and rates become NaN, so its status is nonfinite
  // (rate_engine.hpp), never a silent value.
  static constexpr int kMaxSubsteps = 1024;

  // ---- parameters ----
  enum IntParam { tau_m, v_min, v_max, dv, kIntParams };
  static constexpr int kExtParams = 2 * kPieces - 1;  // rate0, t1, rate1, ..., t3, rate3
  enum ConnParam { c_source, c_target, c_weight, c_nsyns, c_delay, kConnParams };
  static constexpr int kPInt = 0;
  static constexpr int kPExt = kPInt + kMaxInternal * kIntParams;
  static constexpr int kPConn = kPExt + kMaxExternal * kExtParams;
  static constexpr int kPGlobal = kPConn + kMaxConnections * kConnParams;
  enum GlobalParam { n_internal, n_external, n_connections, tol, kGlobalParams };
  static constexpr int kNumParams = kPGlobal + kGlobalParams;

  // ---- state: densities, current rates, rate history (ring by step index) ----
  static constexpr int kSP = 0;
  static constexpr int kSRate = kMaxInternal * kMaxBins;
  static constexpr int kSHist = kSRate + kMaxInternal;
  static constexpr int kNumState = kSHist + kMaxInternal * kHist;
  static constexpr int kNumObs = 1;
  static constexpr int kNumRates = kMaxInternal;  // the first n_internal are written
  static constexpr const char* kRateNames[kNumRates] = {"pop0", "pop1", "pop2", "pop3"};

  // ---- derived ----
  enum IntDerived { d_nb, d_e0, d_delta, d_vmax, d_z0, d_z1, d_inv_tau, d_p0, d_leak, kIntDerived };
  enum ConnDerived { dc_src, dc_tgt, dc_w, dc_nsyn, dc_lag, kConnDerived };
  static constexpr int kDInt = 0;
  static constexpr int kDExt = kDInt + kMaxInternal * kIntDerived;
  static constexpr int kDConn = kDExt + kMaxExternal * kExtParams;
  static constexpr int kDGlobal = kDConn + kMaxConnections * kConnDerived;
  enum GlobalDerived { dg_ni, dg_nx, dg_nc, dg_tol, dg_dt, kGlobalDerived };
  static constexpr int kNumDerived = kDGlobal + kGlobalDerived;

  static constexpr double kZeroEdge = 2.220446049250313e-13;  // DiPDE's eps (2.22e-16 V) in mV

  NS_HD static int clampi(double x, int lo, int hi) {
    int k = x == x ? static_cast<int>(x) : lo;
    return k < lo ? lo : (k > hi ? hi : k);
  }
  // Number of bins of a grid (numpy arange length + the appended v_max).
  NS_HD static int bins_of(double vmin, double vmax, double dvv) {
    const double n = __builtin_ceil((vmax - vmin) / dvv);
    return n > 0 ? static_cast<int>(n) : 0;
  }
  // Edge i of internal population p (derived block d).
  template <class D>
  NS_HD static double edge(D d, int p, int i) {
    const int b = kDInt + p * kIntDerived;
    const int nb = static_cast<int>(d[b + d_nb]);
    if (i >= nb) return double(d[b + d_vmax]);
    const double e = double(d[b + d_e0]) + double(i) * double(d[b + d_delta]);
    return (e < kZeroEdge && e > -kZeroEdge) ? 0.0 : e;
  }

  template <class T, class P, class D>
  NS_HD static void derive(const P& p, D d, T dt) {
    const int ni = clampi(double(p[kPGlobal + n_internal]), 0, kMaxInternal);
    const int nx = clampi(double(p[kPGlobal + n_external]), 0, kMaxExternal);
    const int nc = clampi(double(p[kPGlobal + n_connections]), 0, kMaxConnections);
    d[kDGlobal + dg_ni] = T(ni);
    d[kDGlobal + dg_nx] = T(nx);
    d[kDGlobal + dg_nc] = T(nc);
    d[kDGlobal + dg_tol] = T(p[kPGlobal + tol]);
    d[kDGlobal + dg_dt] = dt;
    for (int q = 0; q < kMaxInternal; ++q) {
      const int pb = kPInt + q * kIntParams, b = kDInt + q * kIntDerived;
      const double vmin = double(p[pb + v_min]), vmax = double(p[pb + v_max]), dvv = double(p[pb + dv]);
      int nb = q < ni ? bins_of(vmin, vmax, dvv) : 1;
      nb = nb < 1 ? 1 : (nb > kMaxBins ? kMaxBins : nb);
      d[b + d_nb] = T(nb);
      d[b + d_e0] = T(vmin);
      d[b + d_delta] = T((vmin + dvv) - vmin);  // numpy arange's step
      d[b + d_vmax] = T(vmax);
      d[b + d_inv_tau] = T(1.0 / double(p[pb + tau_m]));
      // reset bins (get_zero_bin_list)
      int zedge = -1, nle = 0, first_ge = -1;
      for (int i = 0; i <= nb; ++i) {
        const double e = edge(d, q, i);
        if (e == 0.0) zedge = zedge < 0 ? i : zedge;
        if (e <= 0.0) ++nle;
        if (e >= 0.0 && first_ge < 0) first_ge = i;
      }
      // p0 = delta at 0 (get_pv_from_p0 with a discrete cdf: the bin whose upper edge is the first
      // edge >= 0; bin 0 when v_min >= 0)
      const int b0 = first_ge <= 0 ? 0 : first_ge - 1;
      d[b + d_p0] = T(b0 >= nb ? nb - 1 : b0);
      int z0, z1;
      if (zedge == 0) z0 = z1 = 0;
      else if (zedge > 0) z0 = zedge - 1, z1 = zedge;
      else z0 = z1 = nle - 1;  // bisect_right(edges, 0) - 1 (the spec keeps v_min <= 0 < v_max)
      z0 = z0 < 0 ? 0 : (z0 >= nb ? nb - 1 : z0);
      z1 = z1 < 0 ? 0 : (z1 >= nb ? nb - 1 : z1);
      d[b + d_z0] = T(z0);
      d[b + d_z1] = T(z1);
      // largest leak outflow rate of a bin (1/ms), as apply_J computes them (sub-step guard)
      const double it = double(d[b + d_inv_tau]);
      double lk = 0.0;
      for (int i = z1 + 1; i < nb; ++i) {
        const double r = leak_down(d, q, i, it);
        lk = r > lk ? r : lk;
      }
      for (int i = 0; i < z0; ++i) {
        const double r = leak_up(d, q, i, it);
        lk = r > lk ? r : lk;
      }
      d[b + d_leak] = T(lk);
    }
    for (int k = 0; k < kMaxExternal * kExtParams; ++k) d[kDExt + k] = T(p[kPExt + k]);
    for (int c = 0; c < kMaxConnections; ++c) {
      const int pb = kPConn + c * kConnParams, b = kDConn + c * kConnDerived;
      d[b + dc_src] = T(clampi(double(p[pb + c_source]), 0, kMaxInternal + kMaxExternal - 1));
      d[b + dc_tgt] = T(clampi(double(p[pb + c_target]), 0, kMaxInternal - 1));
      d[b + dc_w] = T(p[pb + c_weight]);
      d[b + dc_nsyn] = T(p[pb + c_nsyns]);
      // DiPDE: delay_ind = round(delay / dt), read one step later (lag delay_ind + 1)
      const double steps = __builtin_round(double(p[pb + c_delay]) / double(dt));
      d[b + dc_lag] = T(clampi(steps, 0, kMaxDelay) + 1);
    }
  }

  template <class T, class D, class S>
  NS_HD static void init(D d, S s) {
    for (int k = 0; k < kNumState; ++k) s[k] = T(0);
    for (int q = 0; q < kMaxInternal; ++q)
      s[kSP + q * kMaxBins + static_cast<int>(d[kDInt + q * kIntDerived + d_p0])] = T(1);
  }

  // Rate (Hz) of external population x at time t_ms: piecewise constant, piece k from t_k on.
  template <class D>
  NS_HD static double external_rate(D d, int x, double t_ms) {
    const int b = kDExt + x * kExtParams;
    double r = double(d[b]);
    for (int k = 1; k < kPieces; ++k)
      if (t_ms >= double(d[b + 2 * k - 1])) r = double(d[b + 2 * k]);
    return r;
  }

  // DiPDE utilities.fraction_overlap: share of (a1, a2) inside (b1, b2).
  NS_HD static double fraction_overlap(double a1, double a2, double b1, double b2) {
    if (a1 >= b1) {
      if (a2 <= b2) return 1.0;
      if (a1 >= b2) return 0.0;
      return (b2 - a1) / (a2 - a1);
    }
    if (a2 <= b1) return 0.0;
    if (a2 >= b2) return (b2 - b1) / (a2 - a1);
    return (a2 - b1) / (a2 - a1);
  }

  // Leak rates of bin k (utilities.leak_matrix, first-order upwind): above the reset bins (k > z1)
  // mass moves down at v_{k+1} / (tau (v_{k+1} - v_k)), below them (k < z0) up at
  // v_k / (tau (v_k - v_{k+1})). Shared by apply_J and the block form (density_block.hpp).
  template <class D>
  NS_HD static double leak_down(D d, int q, int k, double inv_tau) {
    const double lo = edge(d, q, k), hi = edge(d, q, k + 1);
    return hi * inv_tau / (hi - lo);
  }
  template <class D>
  NS_HD static double leak_up(D d, int q, int k, double inv_tau) {
    const double lo = edge(d, q, k), hi = edge(d, q, k + 1);
    return lo * inv_tau / (lo - hi);
  }

  // Every bin's leak rate (leak_down above the reset bins, leak_up below, 0 in them) of population
  // q, for apply_J's callers that apply J many times per step (the values apply_J computes itself
  // when given none).
  template <class D>
  NS_HD static void leak_rates(D d, int q, double* leak) {
    const int b = kDInt + q * kIntDerived;
    const int nb = static_cast<int>(d[b + d_nb]);
    const int z0 = static_cast<int>(d[b + d_z0]), z1 = static_cast<int>(d[b + d_z1]);
    const double inv_tau = double(d[b + d_inv_tau]);
    for (int k = 0; k < nb; ++k) leak[k] = k > z1 ? leak_down(d, q, k, inv_tau) : (k < z0 ? leak_up(d, q, k, inv_tau) : 0.0);
  }

  // Regular-width fast path of a jump of w mV (apply_J): source bins L in [Llo, Lhi] (width delta,
  // shifted interval inside bins 0 .. nb-2) shift by sh + f1 bins, so mass goes to L + sh (share
  // f0 = 1 - f1) and L + sh + 1 (share f1), the fractions fraction_overlap gives up to rounding; the
  // other bins take the general path (spread). Llo > Lhi: no fast range.
  struct Jump {
    int sh, Llo, Lhi;
    double f0, f1;
  };
  NS_HD static Jump jump_of(double w, double delta, int nb) {
    const double xw = w / delta;
    Jump j{0, 1, 0, 1.0, 0.0};  // empty fast range unless the shift is sane
    if (xw > -1e6 && xw < 1e6) {
      const double sf = __builtin_floor(xw);
      j.sh = static_cast<int>(sf);
      j.f1 = xw - sf;
      j.f0 = 1.0 - j.f1;
      j.Llo = -j.sh > 0 ? -j.sh : 0;
      j.Lhi = nb - 3 - j.sh;
      j.Lhi = j.Lhi > nb - 2 ? nb - 2 : j.Lhi;
    }
    return j;
  }

  // General path of source bin L (redistribute_probability_mass with fraction_overlap): the
  // shifted interval [v_L + w, v_{L+1} + w] visits bins j in increasing order, visit(j, fr) for
  // each; returns kept = the sum of the fractions (in that order).
  template <class D, class F>
  NS_HD static double spread(D d, int q, int L, double w, double e0, double delta, int nb, F&& visit) {
    const double a1 = edge(d, q, L) + w, a2 = edge(d, q, L + 1) + w;
    int j = static_cast<int>(__builtin_floor((a1 - e0) / delta));
    j = j < 0 ? 0 : (j > nb - 1 ? nb - 1 : j);
    while (j > 0 && edge(d, q, j) > a1) --j;
    while (j < nb - 1 && edge(d, q, j + 1) <= a1) ++j;
    double kept = 0.0;
    for (; j < nb; ++j) {
      const double b1 = edge(d, q, j);
      if (!(b1 < a2)) break;
      const double fr = fraction_overlap(a1, a2, b1, edge(d, q, j + 1));
      visit(j, fr);
      kept += fr;
    }
    return kept;
  }

  // The fast run of apply_J's source loop (sources L in [a, b), in increasing order: y[L] -= m_L,
  // y[L + sh] += m_L f0, y[L + sh + 1] += m_L f1, m_L = l x_L) as a gather over the target bins,
  // so that the compiler vectorises it: target j takes the contributions of sources j (out),
  // j - sh (f0) and j - sh - 1 (f1) in the order the loop adds them (by source, then position),
  // which depends only on sh: sh >= 1: f1, f0, out; sh = 0: f1, out, f0; sh = -1: out, f1, f0;
  // sh <= -2: out, f1, f0. A source outside [a, b) contributes 0: y never holds -0 (it starts at
  // +0 and only ever gains sums and differences), so adding or subtracting +-0 leaves it as it is.
  // Bit for bit the loop's result.
  NS_HD static void fast_run(const Jump& jp, double l, const double* x, double* y, int a, int b) {
    const int sh = jp.sh;
    const double f0 = jp.f0, f1 = jp.f1;
    const auto at = [&](int L) { return L >= a && L < b ? l * x[L] : 0.0; };
    const auto one = [&](int j) {
      const double out = at(j), c0 = at(j - sh) * f0, c1 = at(j - sh - 1) * f1;
      if (sh >= 1) y[j] = ((y[j] + c1) + c0) - out;
      else if (sh == 0) y[j] = ((y[j] + c1) - out) + c0;
      else y[j] = ((y[j] - out) + c1) + c0;
    };
    const int jlo = a + sh < a ? a + sh : a, jhi = b + sh + 1 > b ? b + sh + 1 : b;
    int ilo = a + sh + 1 > a ? a + sh + 1 : a, ihi = b + sh < b ? b + sh : b;  // all three sources inside
    if (ihi < ilo) ihi = ilo;
    for (int j = jlo; j < ilo; ++j) one(j);
    if (sh >= 1) {
      for (int j = ilo; j < ihi; ++j) y[j] = ((y[j] + (l * x[j - sh - 1]) * f1) + (l * x[j - sh]) * f0) - l * x[j];
    } else if (sh == 0) {
      for (int j = ilo; j < ihi; ++j) y[j] = ((y[j] + (l * x[j - 1]) * f1) - l * x[j]) + (l * x[j]) * f0;
    } else {
      for (int j = ilo; j < ihi; ++j) y[j] = ((y[j] - l * x[j]) + (l * x[j - sh - 1]) * f1) + (l * x[j - sh]) * f0;
    }
    for (int j = ihi > jlo ? ihi : jlo; j < jhi; ++j)
      if (j >= ilo || ihi == ilo) one(j);
  }

  // y = J x for internal population q: leak plus the jumps of its incoming connections (lam: per
  // connection input rate in 1/ms, 0 for connections to other targets). thr (optional): the
  // threshold flux sum_c lam_c f_c . x (1/ms).
  template <class D>
  NS_HD static void apply_J(D d, int q, const double* lam, const double* x, double* y, double* thr,
                            const double* leak = nullptr) {
    const int b = kDInt + q * kIntDerived;
    const int nb = static_cast<int>(d[b + d_nb]);
    const int z0 = static_cast<int>(d[b + d_z0]), z1 = static_cast<int>(d[b + d_z1]);
    const double inv_tau = double(d[b + d_inv_tau]), e0 = double(d[b + d_e0]), delta = double(d[b + d_delta]);
    for (int k = 0; k < nb; ++k) y[k] = 0.0;
    // leak (utilities.leak_matrix)
    if (leak) {
      // the same sums as the loops below, bin by bin (a gather the compiler vectorises): above the
      // reset bins y[j] = (0 - m_j) + m_{j+1} (the loop subtracts m_j at k = j, then adds m_{j+1} at
      // k = j + 1), below them y[j] = (0 + m_{j-1}) - m_j; the ends as the loops leave them
      if (z1 + 1 < nb) {
        for (int j = z1 + 1; j < nb - 1; ++j) y[j] = (0.0 - leak[j] * x[j]) + leak[j + 1] * x[j + 1];
        y[nb - 1] = 0.0 - leak[nb - 1] * x[nb - 1];
        y[z1] += leak[z1 + 1] * x[z1 + 1];
      }
      if (z0 > 0) {
        y[0] -= leak[0] * x[0];
        for (int j = 1; j < z0; ++j) y[j] = (0.0 + leak[j - 1] * x[j - 1]) - leak[j] * x[j];
        y[z0] += leak[z0 - 1] * x[z0 - 1];
      }
    } else {
      for (int k = z1 + 1; k < nb; ++k) {
        const double m = leak_down(d, q, k, inv_tau) * x[k];
        y[k] -= m;
        y[k - 1] += m;
      }
      for (int k = 0; k < z0; ++k) {
        const double m = leak_up(d, q, k, inv_tau) * x[k];
        y[k] -= m;
        y[k + 1] += m;
      }
    }
    double flux = 0.0;
    const int nc = static_cast<int>(d[kDGlobal + dg_nc]);
    for (int c = 0; c < nc; ++c) {
      const double l = lam[c];
      if (l == 0.0) continue;
      const double w = double(d[kDConn + c * kConnDerived + dc_w]);
      const Jump jp = jump_of(w, delta, nb);
      double lost = 0.0;  // sum_L (1 - sum_j R_Lj) x_L
      // source bins in increasing order, as three runs: general, fast [Llo, Lhi], general (the same
      // additions in the same order as one loop; a fast source with x_L = 0 adds +-0 to bins that
      // never hold -0, so it needs no test)
      const auto general = [&](int L) {
        const double xl = x[L];
        y[L] -= l * xl;
        if (xl == 0.0) return;
        const double kept = spread(d, q, L, w, e0, delta, nb, [&](int j, double fr) { y[j] += l * fr * xl; });
        lost += (1.0 - kept) * xl;
      };
      const int flo = jp.Llo < 0 ? 0 : jp.Llo, fhi = jp.Lhi < nb - 1 ? jp.Lhi : nb - 1;
      const int first_fast = flo <= fhi ? flo : nb, end_fast = flo <= fhi ? fhi + 1 : nb;
      for (int L = 0; L < first_fast; ++L) general(L);
      if (first_fast < end_fast) fast_run(jp, l, x, y, first_fast, end_fast);
      for (int L = end_fast; L < nb; ++L) general(L);
      if (w > 0) {
        flux += l * lost;  // crosses v_max: re-injected at the reset bins
        if (z0 == z1) {
          y[z0] += l * lost;
        } else {
          y[z0] += 0.5 * l * lost;
          y[z1] += 0.5 * l * lost;
        }
      } else {
        y[0] += l * lost;  // below v_min: kept in bin 0
      }
    }
    if (thr) *thr = flux;
  }

  // x <- exp(J h) x by DiPDE's Taylor series to tol (max-norm of the last term), then DiPDE's clip
  // and renormalise. watch: give up (return kSeriesRounding, x spoiled) once eps x the sum of the
  // terms' max-norms exceeds kRoundTol. Returns kSeriesOk, or kSeriesFailed (NaN or no
  // convergence within kMaxTerms).
  // max_i |v_i| as the sequential "a > err ? a : err" from 0 gives it (NaN entries skipped, never
  // -0), in kLanes independent running maxima combined at the end: the maximum of a set does not
  // depend on the order, so the value is the sequential one bit for bit, and the lanes vectorise.
  NS_HD static double max_abs(const double* v, int nb) {
    constexpr int kLanes = 8;
    double e[kLanes];
    for (int k = 0; k < kLanes; ++k) e[k] = 0.0;
    int i = 0;
    for (; i + kLanes <= nb; i += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const double a = v[i + k] < 0 ? -v[i + k] : v[i + k];
        e[k] = a > e[k] ? a : e[k];
      }
    double err = 0.0;
    for (; i < nb; ++i) {
      const double a = v[i] < 0 ? -v[i] : v[i];
      err = a > err ? a : err;
    }
    for (int k = 0; k < kLanes; ++k) err = e[k] > err ? e[k] : err;
    return err;
  }
  enum SeriesResult { kSeriesOk, kSeriesRounding, kSeriesFailed };
  template <class D>
  NS_HD static int series(D d, int q, const double* lam, int nb, double h, double tolv, bool watch, double* x,
                          double* term, double* y, const double* leak = nullptr) {
    for (int i = 0; i < nb; ++i) term[i] = x[i];
    int res = kSeriesFailed;
    double grown = 0.0;
    for (int n = 1; n <= kMaxTerms; ++n) {
      apply_J(d, q, lam, term, y, nullptr, leak);
      double err = 0.0;
      const double f = h / double(n);
      for (int i = 0; i < nb; ++i) {
        term[i] = y[i] * f;
        x[i] += term[i];
      }
      err = max_abs(term, nb);
      if (!(err == err)) break;
      grown += err;
      if (watch && grown * kEps > kRoundTol) return kSeriesRounding;
      if (err <= tolv) {
        res = kSeriesOk;
        break;
      }
    }
    // clip and renormalise (DiPDE: negative entries or |sum - 1| > 1e-15)
    double sum = 0.0;
    bool neg = false;
    for (int i = 0; i < nb; ++i) {
      neg = neg || x[i] < 0.0;
      sum += x[i];
    }
    if (neg || sum - 1.0 > 1e-15 || 1.0 - sum > 1e-15) {
      sum = 0.0;
      for (int i = 0; i < nb; ++i) {
        x[i] = x[i] < 0.0 ? 0.0 : x[i];
        sum += x[i];
      }
      for (int i = 0; i < nb; ++i) x[i] /= sum;
    }
    return res;
  }

  // Input rate (1/ms) of connection c into internal population q in step k (t_k to t_{k+1}); 0 when
  // c targets another population: nsyns x the source's rate lag steps ago (internal: r_j after
  // step j, r_j = 0 for j <= 0; external: its piecewise rate at t_j). Used by step and by the block
  // form (density_block.hpp).
  template <class S, class D>
  NS_HD static double input_rate(S s, D d, int c, int q, int64_t k) {
    const int b = kDConn + c * kConnDerived;
    if (static_cast<int>(d[b + dc_tgt]) != q) return 0.0;
    const double dt = double(d[kDGlobal + dg_dt]);
    const int src = static_cast<int>(d[b + dc_src]);
    const int64_t j = k + 1 - static_cast<int64_t>(d[b + dc_lag]);
    double r;
    if (src >= kMaxInternal) r = external_rate(d, src - kMaxInternal, double(j) * dt);
    else r = j <= 0 ? 0.0 : double(s[kSHist + src * kHist + static_cast<int>(j % kHist)]);
    return double(d[b + dc_nsyn]) * r * 1e-3;  // Hz -> 1/ms
  }

  // Sub-steps of a step whose full series the rounding guard rejected: m = ceil(dt a /
  // kSubstepTheta), at least 2, a = the population's largest leak outflow rate + sum |lam| (see
  // kSubstepTheta); 0 when m would exceed kMaxSubsteps or is NaN (the step then gives NaN).
  template <class D>
  NS_HD static int substeps(D d, int q, const double* lam, int nc, double dt) {
    double a = double(d[kDInt + q * kIntDerived + d_leak]);
    for (int c = 0; c < nc; ++c) a += lam[c] < 0.0 ? -lam[c] : lam[c];
    const double ratio = dt * a / kSubstepTheta;
    if (!(ratio == ratio && ratio <= double(kMaxSubsteps))) return 0;
    const int m = static_cast<int>(__builtin_ceil(ratio));
    return m < 2 ? 2 : m;
  }

  template <class T, class S, class D, class Tab>
  NS_HD static void step(S s, D d, const Tab&, const StepContext& ctx) {
    const int ni = static_cast<int>(d[kDGlobal + dg_ni]);
    const int nc = static_cast<int>(d[kDGlobal + dg_nc]);
    const double dt = double(d[kDGlobal + dg_dt]), tolv = double(d[kDGlobal + dg_tol]);
    const int64_t k = ctx.step;  // this step goes from t_k to t_{k+1}
    double rate_new[kMaxInternal];
    double x[kMaxBins], term[kMaxBins], y[kMaxBins], leak[kMaxBins];
    for (int q = 0; q < ni; ++q) {
      const int nb = static_cast<int>(d[kDInt + q * kIntDerived + d_nb]);
      // input rates: the source's rate lag steps ago (internal: r_j after step j, r_j = 0 for j <= 0)
      double lam[kMaxConnections];
      for (int c = 0; c < nc; ++c) lam[c] = input_rate(s, d, c, q, k);
      // DiPDE's step over the whole dt, watched for rounding (kRoundTol); if that fails, m
      // sub-steps (kSubstepTheta); m above kMaxSubsteps or a NaN rate: state NaN (status nonfinite)
      for (int i = 0; i < nb; ++i) x[i] = double(s[kSP + q * kMaxBins + i]);
      leak_rates(d, q, leak);
      bool ok = series(d, q, lam, nb, dt, tolv, true, x, term, y, leak) == kSeriesOk;
      if (!ok) {
        const int m = substeps(d, q, lam, nc, dt);
        if (m > 0) {
          const double h = dt / double(m);
          for (int i = 0; i < nb; ++i) x[i] = double(s[kSP + q * kMaxBins + i]);
          ok = true;
          for (int j = 0; j < m && ok; ++j) ok = series(d, q, lam, nb, h, tolv, false, x, term, y, leak) == kSeriesOk;
        }
      }
      for (int i = 0; i < nb; ++i) s[kSP + q * kMaxBins + i] = T(ok ? x[i] : __builtin_nan(""));
      double thr = 0.0;
      apply_J(d, q, lam, x, y, &thr, leak);
      rate_new[q] = ok ? thr * 1e3 : __builtin_nan("");  // 1/ms -> Hz
    }
    for (int q = 0; q < ni; ++q) {
      s[kSRate + q] = T(rate_new[q]);
      s[kSHist + q * kHist + static_cast<int>((k + 1) % kHist)] = T(rate_new[q]);
    }
  }

  template <class T, class S>
  NS_HD static T observe(S s, int) { return s[kSRate]; }
  template <class T, class S, class D>
  NS_HD static T rate(S s, D, int k) { return s[kSRate + k]; }
};

}  // namespace ns
