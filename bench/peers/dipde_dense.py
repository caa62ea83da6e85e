#!/usr/bin/env python3
"""A faithful dense NumPy implementation of DiPDE's update (AllenInstitute/dipde @ ffd8068f,
dipde/internals/utilities.py, internalpopulation.py, connection.py, network.py; summarised in
shared/reference/networks-and-populations.md section 3), in DiPDE's units (s, V, Hz).

DiPDE itself is not on PyPI and needs numpy < 1.24; this file re-implements its numerics with
dense matrices as DiPDE builds them (leak matrix, flux matrices by overlap fractions, threshold
flux vectors, delay queues with a lag of round(delay/dt) + 1 steps) and its update methods
'approx' (Taylor series to tol, max-norm of the last term) and 'gmres' (backward Euler, solved
directly here: (I - dt J) p_new = p). Not DiPDE's, for the engine's sub-step guard: 'expm'
(p_new = expm(J dt) p with scipy, independent of the Taylor series) and 'gmres/M' (backward Euler
in M sub-steps of the held input, to estimate backward Euler's own error). It is the peer of
neurosweep's banded C++ engine (include/neurosweep/population/density.hpp):

  python dipde_dense.py --check          DiPDE's own test values (reference 5.3), the PopNet
                                         tutorial steady state (reference 5.4), the tutorial at
                                         dt 2 ms: gmres, gmres/2, gmres/4, expm
  python dipde_dense.py --reference OUT  tests/data/dipde_reference.json: the tutorial network's
                                         rate time courses ('approx', tol 1e-12, dt 1 ms;
                                         'expm', dt 2 ms)
  python dipde_dense.py --bench          seconds per network step of the tutorial network (dense)

Run it with bench/.peers-venv/bin/python (numpy, scipy), never the product's venv.
"""
import argparse
import bisect
import json
import sys
import time

import numpy as np
import scipy.linalg

EPS = np.finfo(float).eps


def get_v_edges(v_min, v_max, dv):
    e = np.concatenate((np.arange(v_min, v_max, dv), [v_max]))
    e[np.abs(e) < EPS] = 0
    return e


def zero_bins(v):
    z = np.where(v == 0)[0]
    if len(z) == 1:
        return [0] if z[0] == 0 else [z[0] - 1, z[0]]
    return [bisect.bisect_right(v, 0) - 1]


def fraction_overlap(a1, a2, b1, b2):
    if a1 >= b1:
        if a2 <= b2:
            return 1
        if a1 >= b2:
            return 0
        return (b2 - a1) / (a2 - a1)
    if a2 <= b1:
        return 0
    if a2 >= b2:
        return (b2 - b1) / (a2 - a1)
    return (a2 - b1) / (a2 - a1)


def redistribute(A, B):
    m = np.zeros((len(A) - 1, len(B) - 1))
    newL = 0
    for L in range(len(A) - 1):
        while newL < len(B) and B[newL] < A[L]:
            newL += 1
        if newL > 0:
            newL -= 1
        newR = newL
        while newR < len(B) and B[newR] < A[L + 1]:
            newR += 1
        if newR >= len(B):
            newR = len(B) - 1
        for j in range(newL, newR):
            m[L][j] = fraction_overlap(A[L], A[L + 1], B[j], B[j + 1])
    return m


def leak_matrix(v, tau):
    z = zero_bins(v)
    n = len(v) - 1
    A = np.zeros((n, n))
    for s in range(max(z) + 1, n):
        rate = v[s + 1] / (tau * (v[s + 1] - v[s]))
        A[s, s] -= rate
        A[s - 1, s] += rate
    for s in range(0, min(z)):
        rate = v[s] / (tau * (v[s] - v[s + 1]))
        A[s, s] -= rate
        A[s + 1, s] += rate
    return A


def flux_matrix(v, w):
    """(threshold flux vector f, flux matrix F) per unit input rate (DiPDE flux_matrix, lam = 1)."""
    z = zero_bins(v)
    n = len(v) - 1
    A = -np.eye(n) + redistribute(v + w, v).T
    if w > 0:
        f = -A.sum(axis=0)
        for zi in z:
            A[zi, :] += f / len(z)
    else:
        A[0, :] += -A.sum(axis=0)
        f = np.zeros(n)
    return f, A


class Net:
    """internal: [(name, tau_s, v_min, v_max, dv)], external: {name: rate_fn(t_s)},
    connections: [(source, target, w_V, nsyn, delay_s)]."""

    def __init__(self, internal, external, connections, dt, method="approx", tol=1e-12):
        self.dt, self.method, self.tol = dt, method, tol
        self.names = [p[0] for p in internal]
        self.edges = [get_v_edges(*p[2:5]) for p in internal]
        self.L = [leak_matrix(e, p[1]) for e, p in zip(self.edges, internal)]
        self.p = []
        for e in self.edges:  # p0 = delta at 0 (get_pv_from_p0 with a discrete cdf)
            pv = np.diff((e >= 0).astype(float))
            pv[0] += float(e[0] >= 0)
            pv[-1] += 1 - float(e[-1] >= 0)
            self.p.append(pv)
        self.external = external
        self.rate = {n: 0.0 for n in self.names}
        self.conns = []
        for (s, t, w, nsyn, d) in connections:
            ti = self.names.index(t)
            f, F = flux_matrix(self.edges[ti], w)
            lag = int(np.round(d / dt))
            q = [external[s](-(lag - i) * dt) if s in external else 0.0 for i in range(lag + 1)]
            self.conns.append(dict(s=s, t=ti, nsyn=nsyn, f=f, F=F, q=q))
        self.ti = 0

    def step(self):
        self.ti += 1
        t = self.ti * self.dt
        new = {}
        for k, name in enumerate(self.names):
            J = self.L[k].copy()
            fl = np.zeros(len(self.p[k]))
            for c in self.conns:
                if c["t"] != k:
                    continue
                lam = c["nsyn"] * c["q"][0]
                J += lam * c["F"]
                fl += lam * c["f"]
            p = self.p[k]
            if self.method == "approx":
                Jd = J * self.dt
                term, pn, err, n = p.copy(), p.copy(), np.inf, 0
                while err > self.tol:
                    n += 1
                    term = Jd @ term / n
                    pn = pn + term
                    err = np.abs(term).max()
            elif self.method == "expm":  # exact exp(J dt) p (scipy's Pade scaling and squaring)
                pn = scipy.linalg.expm(self.dt * J) @ p
            elif self.method.startswith("gmres/"):  # backward Euler in m sub-steps (error estimate)
                m = int(self.method[6:])
                pn = p
                for _ in range(m):
                    pn = np.linalg.solve(np.eye(len(p)) - self.dt / m * J, pn)
            else:  # gmres: backward Euler (solved directly)
                pn = np.linalg.solve(np.eye(len(p)) - self.dt * J, p)
            if (pn < 0).any() or abs(pn.sum() - 1) > 1e-15:
                pn[pn < 0] = 0
                pn = pn / pn.sum()
            self.p[k] = pn
            new[name] = float(fl @ pn)
        self.rate.update(new)
        for c in self.conns:  # push the source's current rate, roll
            r = self.external[c["s"]](t) if c["s"] in self.external else self.rate[c["s"]]
            c["q"] = c["q"][1:] + [r]
        return new


def singlepop(v_min, dv, tol, hz=100.0, w=0.005, dt=0.001):
    return Net([("p", 0.02, v_min, 0.02, dv)], {"ext": lambda t: hz}, [("ext", "p", w, 1, 0.0)], dt, "approx", tol)


def tutorial(dt=0.001, method="approx", rate=15.0):
    return Net([("E", 0.0429, -0.05, 0.02, 1e-4), ("I", 0.0299, -0.05, 0.02, 1e-4)], {"tON": lambda t: rate},
               [("E", "I", 0.005, 20, 0.002), ("I", "E", -0.002, 10, 0.002), ("tON", "E", 0.0025, 10, 0.002)],
               dt, method, 1e-12)


def check():
    n = singlepop(-0.01, 0.001, 1e-12)
    for _ in range(50):
        r = n.step()["p"]
    print("test_basic r(0.05) =", repr(r), "(DiPDE 5.110935325325733)")
    assert abs(r - 5.110935325325733) < 1e-9 * 5.11
    n = singlepop(0.0, 0.001, 1e-5)
    want = [0.315585208781, 1.236075196516, 2.366689504131, 3.290166855815]
    got = []
    for k in range(20):
        r = n.step()["p"]
        if (k + 1) % 5 == 0:
            got.append(r)
    print("test_propogation_methods tol 1e-5:", got)
    assert np.allclose(got, want, rtol=1e-9)
    n = tutorial(0.002, "gmres")
    rec = [n.step() for _ in range(300)]
    print("tutorial gmres dt 2 ms: E(0.05) = %.4f (3.7777), I(0.1) = %.4f (4.2234), steady E %.6f I %.6f"
          % (rec[24]["E"], rec[49]["I"], rec[-1]["E"], rec[-1]["I"]))
    assert abs(rec[-1]["E"] - 3.535453) < 2e-6 * 3.54 and abs(rec[-1]["I"] - 4.154555) < 2e-6 * 4.15
    for m in (2, 4):  # backward Euler's own error at dt 2 ms (same held input, finer propagation)
        n = tutorial(0.002, "gmres/%d" % m)
        r = [n.step() for _ in range(50)]
        print("tutorial backward Euler dt 2 ms in %d sub-steps: E(0.05) = %.4f, I(0.1) = %.4f" % (m, r[24]["E"], r[49]["I"]))
    n = tutorial(0.002, "expm")
    r = [n.step() for _ in range(50)]
    print("tutorial expm dt 2 ms: E(0.05) = %.4f, I(0.1) = %.4f" % (r[24]["E"], r[49]["I"]))


def reference(out):
    n = tutorial(0.001, "approx")
    rec = [n.step() for _ in range(300)]
    n = tutorial(0.002, "expm")
    rec2 = [n.step() for _ in range(300)]
    ref = {
        "about": "bench/peers/dipde_dense.py --reference: DiPDE's numerics with dense NumPy matrices "
                 "(DiPDE is not on PyPI); the PopNet tutorial network, 'approx' to tol 1e-12, dt 1 ms, "
                 "rates in Hz after each step (t = 1..300 ms); tutorial_expm_dt2ms: the same network at "
                 "dt 2 ms with p <- scipy.linalg.expm(J dt) p (not DiPDE's step: the exact step the "
                 "engine's sub-steps approximate), t = 2..600 ms",
        "tutorial_approx_dt1ms": {"E": [r["E"] for r in rec], "I": [r["I"] for r in rec]},
        "tutorial_expm_dt2ms": {"E": [r["E"] for r in rec2], "I": [r["I"] for r in rec2]},
        "numpy": np.__version__,
    }
    with open(out, "w") as f:
        json.dump(ref, f)
    print("wrote", out)


def bench():
    n = tutorial(0.001, "approx")
    for _ in range(5):
        n.step()
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 5.0:
        n.step()
        k += 1
    dtm = (time.perf_counter() - t0) / k
    print(json.dumps({"peer": "dipde_dense (NumPy)", "network": "PopNet tutorial, 2 x 700 bins, dt 1 ms, approx tol 1e-12",
                      "seconds_per_network_step": dtm, "network_steps_per_s": 1 / dtm}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--reference")
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()
    if a.check:
        check()
    if a.reference:
        reference(a.reference)
    if a.bench:
        bench()
    if not (a.check or a.reference or a.bench):
        ap.print_help()
        sys.exit(2)
