#pragma once
// Block-parallel form of the DiPDE population-density network (density.hpp, issue 17 "Execution":
// one network per block, bins across threads). The same NS_HD code runs as a CUDA thread block
// (kernels/density_kernels.cuh) and, lanes taken one after the other, on the host
// (run_density_block with SerialBlock below), which tests/density_block_test.cpp compares BIT FOR
// BIT with run_rate_instance<DensityNetworkModel> for several block sizes.
//
// Work split. Thread t of B owns bins t, t + B, t + 2B, ... of the population being stepped. The
// populations of a network are stepped one after the other, as DensityNetworkModel::step does.
// apply_J is a GATHER: thread t computes y[j] = (J v)[j] for its bins j, adding every contribution
// in the order in which DensityNetworkModel::apply_J adds it to y[j] (its loops run over the
// SOURCE bin), so y[j] is bit for bit apply_J's and no atomics are needed:
//   - leak: -m_j (k = j of the first leak loop), +m_{j+1}, then +m_{j-1}, -m_j (second loop);
//   - per connection, in connection order, contributions in increasing source bin L: the outflow
//     -lam v_j at L = j, the fast path (DensityNetworkModel::Jump) from L = j - sh - 1 (share f1)
//     and L = j - sh (share f0), and the general path (DensityNetworkModel::spread) of the source
//     bins outside the fast range ([0, lowEnd) and [highBegin, nb)); the few target bins that a
//     general source reaches (ranges found once per run, Geo below) walk those sources in order;
//   - the mass beyond v_max (w > 0, re-injected at the reset bins) or below v_min (w <= 0, into
//     bin 0), sum_L (1 - kept_L) v_L over the general sources in order, by the threads that own
//     those bins.
// Reductions: the Taylor stopping test uses the max-norm of the term: each thread's maximum, then
// the maximum over threads (Exec::max_of): a maximum is exact, so its value does not depend on
// the order or on B. The probability sum of the clip + renormalise step and the threshold flux
// are sums: thread 0 adds them up in bin order, DiPDE's order (bit for bit the CPU path; a tree
// sum would be faster on the GPU but would differ from the CPU path in the last bits). Every
// decision (stop the series, rounding guard, sub-steps, renormalise) is taken by all threads on
// the same values read from shared memory after a barrier, so the control flow is uniform.
//
// Exec (the barrier hook):
//   int threads() const                       B
//   void each(F f)                            f(t) for the calling thread (GPU) / every t (host)
//   void sync()                               __syncthreads() (GPU) / nothing (host)
//   double max_of(const double* red, double* wred)  max over red[0 .. B) (each thread wrote its
//                                             own red[t]; values >= 0, no NaN); contains a barrier
// Memory (DensityBlockShared): the derived constants, the work vector x and two term vectors (the
// Taylor term is double-buffered: one barrier per term), the per-thread reduction slots and the
// per-connection geometry: 3 * kMaxBins doubles = 24 KB + about 4 KB, in shared memory on the GPU.
// The network state (densities, rates, rate history: DensityNetworkModel::kNumState doubles,
// 41 KB) stays in global memory, contiguous per network (a bin is read once and written once per
// step, against about 2 x (Taylor terms) reads of x and the terms per step from shared memory).
#include <cstddef>
#include <cstdint>

#include "neurosweep/engine.hpp"
#include "neurosweep/population/density.hpp"
#include "neurosweep/population/rate_engine.hpp"

namespace ns {

struct DensityBlockGeo {  // one connection: fast range and the targets of its general sources
  int sh, lowEnd, highBegin;    // general sources: [0, lowEnd) and [highBegin, nb)
  int rl0, rl1, rh0, rh1;       // targets reached by the low / high general sources (empty: lo > hi)
  double f0, f1;
};

template <int MaxB>
struct DensityBlockShared {
  using M = DensityNetworkModel;
  static constexpr int kMaxThreads = MaxB;
  double d[M::kNumDerived];
  double x[M::kMaxBins], t0[M::kMaxBins], t1[M::kMaxBins];
  double red[MaxB];
  double wred[32];
  double lam[M::kMaxConnections];
  double rate_new[M::kMaxInternal];
  double sum;
  int neg;
  DensityBlockGeo geo[M::kMaxConnections];
};

struct DensityBlock {
  using M = DensityNetworkModel;

  // Geometry of connection c (its target population's grid), from the derived constants.
  template <class D>
  NS_HD static DensityBlockGeo geometry(D d, int c) {
    const int q = static_cast<int>(d[M::kDConn + c * M::kConnDerived + M::dc_tgt]);
    const int b = M::kDInt + q * M::kIntDerived;
    const int nb = static_cast<int>(d[b + M::d_nb]);
    const double e0 = double(d[b + M::d_e0]), delta = double(d[b + M::d_delta]);
    const double w = double(d[M::kDConn + c * M::kConnDerived + M::dc_w]);
    const M::Jump jp = M::jump_of(w, delta, nb);
    DensityBlockGeo g;
    g.sh = jp.sh;
    g.f0 = jp.f0;
    g.f1 = jp.f1;
    // apply_J: fast if Llo <= L <= Lhi, else general; as a partition of [0, nb) in order
    g.lowEnd = jp.Llo < 0 ? 0 : (jp.Llo > nb ? nb : jp.Llo);
    g.highBegin = jp.Lhi + 1 > g.lowEnd ? jp.Lhi + 1 : g.lowEnd;
    g.highBegin = g.highBegin > nb ? nb : g.highBegin;
    int lo = nb, hi = -1;
    auto reach = [&](int j, double) {
      lo = j < lo ? j : lo;
      hi = j > hi ? j : hi;
    };
    for (int L = 0; L < g.lowEnd; ++L) M::spread(d, q, L, w, e0, delta, nb, reach);
    g.rl0 = lo;
    g.rl1 = hi;
    lo = nb;
    hi = -1;
    for (int L = g.highBegin; L < nb; ++L) M::spread(d, q, L, w, e0, delta, nb, reach);
    g.rh0 = lo;
    g.rh1 = hi;
    return g;
  }

  // sum over the general sources L (increasing) with v_L != 0 of (1 - kept_L) v_L: apply_J's lost.
  template <class D>
  NS_HD static double lost_of(D d, int q, const DensityBlockGeo& g, double w, double e0, double delta, int nb,
                              const double* v) {
    double lost = 0.0;
    auto none = [](int, double) {};
    for (int L = 0; L < g.lowEnd; ++L) {
      const double xl = v[L];
      if (xl == 0.0) continue;
      const double kept = M::spread(d, q, L, w, e0, delta, nb, none);
      lost += (1.0 - kept) * xl;
    }
    for (int L = g.highBegin; L < nb; ++L) {
      const double xl = v[L];
      if (xl == 0.0) continue;
      const double kept = M::spread(d, q, L, w, e0, delta, nb, none);
      lost += (1.0 - kept) * xl;
    }
    return lost;
  }

  // (J v)[j] for population q, bit for bit DensityNetworkModel::apply_J's y[j] (order above).
  template <class D>
  NS_HD static double gather(D d, const double* lam, const DensityBlockGeo* geo, int q, const double* v, int j) {
    const int b = M::kDInt + q * M::kIntDerived;
    const int nb = static_cast<int>(d[b + M::d_nb]);
    const int z0 = static_cast<int>(d[b + M::d_z0]), z1 = static_cast<int>(d[b + M::d_z1]);
    const double inv_tau = double(d[b + M::d_inv_tau]), e0 = double(d[b + M::d_e0]),
                 delta = double(d[b + M::d_delta]);
    double acc = 0.0;
    if (j >= z1 + 1) acc -= M::leak_down(d, q, j, inv_tau) * v[j];
    if (j + 1 >= z1 + 1 && j + 1 < nb) acc += M::leak_down(d, q, j + 1, inv_tau) * v[j + 1];
    if (j - 1 >= 0 && j - 1 < z0) acc += M::leak_up(d, q, j - 1, inv_tau) * v[j - 1];
    if (j < z0) acc -= M::leak_up(d, q, j, inv_tau) * v[j];
    const int nc = static_cast<int>(d[M::kDGlobal + M::dg_nc]);
    for (int c = 0; c < nc; ++c) {
      const double l = lam[c];
      if (l == 0.0) continue;
      const DensityBlockGeo& g = geo[c];
      const double w = double(d[M::kDConn + c * M::kConnDerived + M::dc_w]);
      auto general = [&](int L) {  // source L of the general path, seen from target j
        const double xl = v[L];
        if (L == j) acc -= l * xl;
        if (xl == 0.0) return;
        M::spread(d, q, L, w, e0, delta, nb, [&](int jj, double fr) {
          if (jj == j) acc += l * fr * xl;
        });
      };
      // sources [0, lowEnd)
      if (j >= g.rl0 && j <= g.rl1) {
        for (int L = 0; L < g.lowEnd; ++L) general(L);
      } else if (j < g.lowEnd) {
        acc -= l * v[j];
      }
      // fast sources [lowEnd, highBegin): L = j - sh - 1 (share f1), j - sh (share f0), and j
      {
        const int lo = g.lowEnd, hi = g.highBegin;
        const int a = j - g.sh - 1, bb = j - g.sh;
        const bool self = j >= lo && j < hi;
        auto push = [&](int L, double f) {
          if (L >= lo && L < hi) {
            const double xl = v[L];
            if (xl != 0.0) {
              const double m = l * xl;
              acc += m * f;
            }
          }
        };
        if (self && j <= a) acc -= l * v[j];
        push(a, g.f1);
        if (self && j == bb) acc -= l * v[j];
        push(bb, g.f0);
        if (self && j > bb) acc -= l * v[j];
      }
      // sources [highBegin, nb)
      if (j >= g.rh0 && j <= g.rh1) {
        for (int L = g.highBegin; L < nb; ++L) general(L);
      } else if (j >= g.highBegin) {
        acc -= l * v[j];
      }
      // mass beyond v_max (re-injected at the reset bins) or below v_min (bin 0)
      if (w > 0 ? (j == z0 || j == z1) : j == 0) {
        const double lost = lost_of(d, q, g, w, e0, delta, nb, v);
        if (w > 0) {
          if (z0 == z1) acc += l * lost;
          else acc += 0.5 * l * lost;
        } else {
          acc += l * lost;
        }
      }
    }
    return acc;
  }

  // DensityNetworkModel::series on the block: x (shared) <- exp(J h) x, the same result codes.
  template <class Ex, class Sh>
  NS_HD static int series(Ex& ex, Sh& sh, int q, int nb, double h, double tolv, bool watch) {
    const int B = ex.threads();
    double* x = sh.x;
    ex.each([&](int t) {
      for (int i = t; i < nb; i += B) sh.t0[i] = x[i];
    });
    ex.sync();
    double* cur = sh.t0;
    double* nxt = sh.t1;
    int res = M::kSeriesFailed;
    double grown = 0.0;
    for (int n = 1; n <= M::kMaxTerms; ++n) {
      const double f = h / double(n);
      ex.each([&](int t) {
        double err = 0.0;
        for (int j = t; j < nb; j += B) {
          const double tn = gather(sh.d, sh.lam, sh.geo, q, cur, j) * f;
          nxt[j] = tn;
          x[j] += tn;
          const double a = tn < 0 ? -tn : tn;
          err = a > err ? a : err;
        }
        sh.red[t] = err;
      });
      const double err = ex.max_of(sh.red, sh.wred);  // barrier: nxt complete, cur free
      double* tmp = cur;
      cur = nxt;
      nxt = tmp;
      if (!(err == err)) break;
      grown += err;
      if (watch && grown * M::kEps > M::kRoundTol) return M::kSeriesRounding;
      if (err <= tolv) {
        res = M::kSeriesOk;
        break;
      }
    }
    // clip and renormalise (DiPDE: negative entries or |sum - 1| > 1e-15); sums in bin order
    ex.each([&](int t) {
      if (t != 0) return;
      double sum = 0.0;
      bool neg = false;
      for (int i = 0; i < nb; ++i) {
        neg = neg || x[i] < 0.0;
        sum += x[i];
      }
      sh.sum = sum;
      sh.neg = neg ? 1 : 0;
    });
    ex.sync();
    const double sum = sh.sum;
    if (sh.neg || sum - 1.0 > 1e-15 || 1.0 - sum > 1e-15) {
      ex.sync();  // every thread has read sh.sum before thread 0 rewrites it
      ex.each([&](int t) {
        if (t != 0) return;
        double s = 0.0;
        for (int i = 0; i < nb; ++i) {
          x[i] = x[i] < 0.0 ? 0.0 : x[i];
          s += x[i];
        }
        sh.sum = s;
      });
      ex.sync();
      ex.each([&](int t) {
        const double s = sh.sum;
        for (int i = t; i < nb; i += B) x[i] /= s;
      });
      ex.sync();
    }
    return res;
  }

  // DensityNetworkModel::step on the block; s: this network's state (kNumState doubles, global).
  template <class Ex, class Sh>
  NS_HD static void step(Ex& ex, Sh& sh, double* s, int64_t k) {
    const int B = ex.threads();
    const double* d = sh.d;
    const int ni = static_cast<int>(d[M::kDGlobal + M::dg_ni]);
    const int nc = static_cast<int>(d[M::kDGlobal + M::dg_nc]);
    const double dt = double(d[M::kDGlobal + M::dg_dt]), tolv = double(d[M::kDGlobal + M::dg_tol]);
    for (int q = 0; q < ni; ++q) {
      const int nb = static_cast<int>(d[M::kDInt + q * M::kIntDerived + M::d_nb]);
      double* p = s + M::kSP + q * M::kMaxBins;
      ex.each([&](int t) {
        for (int c = t; c < nc; c += B) sh.lam[c] = M::input_rate(s, d, c, q, k);  // 1/ms
        for (int i = t; i < nb; i += B) sh.x[i] = p[i];
      });
      ex.sync();
      bool ok = series(ex, sh, q, nb, dt, tolv, true) == M::kSeriesOk;
      if (!ok) {  // sub-steps (density.hpp kSubstepTheta, kMaxSubsteps)
        const int m = M::substeps(d, q, sh.lam, nc, dt);
        if (m > 0) {
          const double h = dt / double(m);
          ex.each([&](int t) {
            for (int i = t; i < nb; i += B) sh.x[i] = p[i];
          });
          ex.sync();
          ok = true;
          for (int j = 0; j < m && ok; ++j) ok = series(ex, sh, q, nb, h, tolv, false) == M::kSeriesOk;
        }
      }
      ex.each([&](int t) {
        for (int i = t; i < nb; i += B) p[i] = ok ? sh.x[i] : __builtin_nan("");
        if (t == 0) {  // threshold flux sum_c lam_c lost_c (apply_J's thr), in connection order
          const int b = M::kDInt + q * M::kIntDerived;
          const double e0 = double(d[b + M::d_e0]), delta = double(d[b + M::d_delta]);
          double flux = 0.0;
          for (int c = 0; c < nc; ++c) {
            const double l = sh.lam[c];
            if (l == 0.0) continue;
            const double w = double(d[M::kDConn + c * M::kConnDerived + M::dc_w]);
            if (w > 0) flux += l * lost_of(d, q, sh.geo[c], w, e0, delta, nb, sh.x);
          }
          sh.rate_new[q] = ok ? flux * 1e3 : __builtin_nan("");  // 1/ms -> Hz
        }
      });
      ex.sync();
    }
    ex.each([&](int t) {
      if (t != 0) return;
      for (int q = 0; q < ni; ++q) {
        s[M::kSRate + q] = sh.rate_new[q];
        s[M::kSHist + q * M::kHist + static_cast<int>((k + 1) % M::kHist)] = sh.rate_new[q];
      }
    });
    ex.sync();
  }

  // run_rate_instance<DensityNetworkModel, double> on the block: network i of the chunk, state s
  // (kNumState doubles, any memory), the same outputs (rates of n_written series, summary values
  // of series 0, n_spikes 0, status, final state).
  template <class Ex, class Sh>
  NS_HD static void run(Ex& ex, Sh& sh, double* s, const SimConfig& c, const double* params, const double* init,
                        size_t stride, size_t i, const OutputView& out, float* rates, int64_t bin_steps,
                        uint64_t n_bins, int n_written) {
    constexpr int NR = M::kNumRates;
    const int B = ex.threads();
    ex.each([&](int t) {
      if (t == 0) model_derive<M, double>(Strided<const double>{params + i, stride}, sh.d, c);
    });
    ex.sync();
    const int nc = static_cast<int>(sh.d[M::kDGlobal + M::dg_nc]);
    ex.each([&](int t) {
      for (int cc = t; cc < nc; cc += B) sh.geo[cc] = geometry(sh.d, cc);
      if (init) {
        for (int k = t; k < M::kNumState; k += B) s[k] = init[static_cast<size_t>(k) * stride + i];
      } else if (t == 0) {
        M::template init<double>(sh.d, s);
      }
    });
    ex.sync();
    for (int64_t k = 0; k < c.n_transient; ++k) step(ex, sh, s, k);
    // the binning of run_rate_instance (RateBins), by thread 0
    RateBins<NR> bins(s[M::kSRate]);
    for (int64_t k = 1; k <= c.n_analysis; ++k) {
      step(ex, sh, s, c.n_transient + k - 1);
      ex.each([&](int t) {
        if (t == 0) bins.add([&](int r) { return s[M::kSRate + r]; }, rates, bin_steps, n_bins, n_written);
      });
    }
    ex.each([&](int t) {
      double nonfinite = 0.0;
      for (int k = t; k < M::kNumState; k += B) {
        const double x = s[k];
        if (!(x == x) || x - x != 0.0) nonfinite = 1.0;
        if (out.final_state) out.final_state[static_cast<size_t>(k) * out.n + i] = x;
      }
      sh.red[t] = nonfinite;
    });
    const double any = ex.max_of(sh.red, sh.wred);
    ex.each([&](int t) {
      if (t == 0) bins.finish(out, i, c.n_analysis, any > 0.0);
    });
  }
};

// The host emulation of a block of B threads: each phase runs the threads one after the other.
struct SerialBlock {
  int B;
  int threads() const { return B; }
  template <class F>
  void each(F&& f) {
    for (int t = 0; t < B; ++t) f(t);
  }
  void sync() {}
  double max_of(const double* red, double*) const {
    double m = 0.0;
    for (int t = 0; t < B; ++t) m = red[t] > m ? red[t] : m;
    return m;
  }
};

}  // namespace ns
