#!/usr/bin/env python3
"""Reference (not a released peer): the stg.hpp exponential-Euler step written in vectorised NumPy.

It exists to cross-check the peers' equations without neurosweep being built: it follows
include/neurosweep/stg.hpp line by line (Prinz et al. 2003 eqs. 1-3, Table 1; every update from
the previous step's state; V via V + dt (sum gE - g V)/C * phi(dt g/C) with phi(x) = -expm1(-x)/x,
finite at g = 0; Nernst E_Ca at 283 K with [Ca] clamped at 1e-9 uM; spikes = local maxima of V
above 0 mV as engine.hpp is_peak). Double precision, one NumPy array operation per term over all
instances. Also runs under the system Python (numpy only).
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

NERNST = 8.314462618 * 283.0 / (2.0 * 96485.33212) * 1e3
LN_CA_OUT = np.log(3000.0)
CAK = 14.96 * 0.628e-3 * 1e3


def sigm(v, a, b):
    return 1.0 / (1.0 + np.exp((v + a) / b))


def gating(v):
    """(x_inf, tau) for the 11 gates, P03 Table 1 (stg.hpp gating())."""
    inf = [
        sigm(v, 25.5, -5.29), sigm(v, 48.9, 5.18),
        sigm(v, 27.1, -7.2), sigm(v, 32.1, 5.5),
        sigm(v, 33, -8.1), sigm(v, 60, 6.2),
        sigm(v, 27.2, -8.7), sigm(v, 56.9, 4.9),
        sigm(v, 28.3, -12.6), sigm(v, 12.3, -11.8), sigm(v, 75, 5.5),
    ]
    tau = [
        2.64 - 2.52 * sigm(v, 120, -25),
        (1.34 * sigm(v, 62.9, -10)) * (1.5 + sigm(v, 34.9, 3.6)),
        43.4 - 42.6 * sigm(v, 68.1, -20.5),
        210 - 179.6 * sigm(v, 55, -16.9),
        2.8 + 14 / (np.exp((v + 27) / 10) + np.exp((v + 70) / -13)),
        120 + 300 / (np.exp((v + 55) / 9) + np.exp((v + 65) / -16)),
        23.2 - 20.8 * sigm(v, 32.9, -15.2),
        77.2 - 58.4 * sigm(v, 38.9, -26.5),
        180.6 - 150.2 * sigm(v, 46, -22.7),
        14.4 - 12.8 * sigm(v, 28.3, -19.2),
        2 / (np.exp((v + 169.7) / -11.6) + np.exp((v - 26.7) / 14.3)),
    ]
    return np.array(inf), np.array(tau)


def simulate(g, duration_ms, dt, trace_index=None):
    """Spike counts (local maxima > 0 mV) per instance; optionally the V trace of one instance."""
    n = g.shape[0]
    gna, gcat, gcas, ga, gkca, gkd, gh, gl = (g[:, k] for k in range(8))
    v = np.full(n, -50.0)
    ca = np.full(n, 0.05)
    x = np.zeros((11, n))
    x[[1, 3, 5, 7]] = 1.0  # h gates
    dt_c = dt / 1.0  # C/area = 1 uF/cm^2
    ca_dec = np.exp(-dt / 200.0)
    v1 = v.copy()
    v2 = v.copy()
    counts = np.zeros(n, dtype=np.int64)
    steps = int(round(duration_ms / dt))
    trace = []
    for _ in range(steps):
        eca = NERNST * (LN_CA_OUT - np.log(np.maximum(ca, 1e-9)))
        m = x
        g_na = gna * m[0] ** 3 * m[1]
        gca = gcat * m[2] ** 3 * m[3] + gcas * m[4] ** 3 * m[5]
        g_k = ga * m[6] ** 3 * m[7] + gkca * m[8] ** 4 + gkd * m[9] ** 4
        g_h = gh * m[10]
        gsum = g_na + gca + g_k + g_h + gl
        ge = g_na * 50.0 + gca * eca + g_k * -80.0 + g_h * -20.0 + gl * -50.0
        xx = dt_c * gsum
        with np.errstate(invalid="ignore", divide="ignore"):
            phi = np.where(xx > 1e-12, -np.expm1(-xx) / np.where(xx > 1e-12, xx, 1.0), 1.0 - 0.5 * xx)
        v_new = v + dt_c * (ge - gsum * v) * phi
        ca_inf = 0.05 - CAK * gca * (v - eca)
        ca_new = ca_inf + (ca - ca_inf) * ca_dec
        inf, tau = gating(v)
        inf[8] = inf[8] * ca / (ca + 3.0)
        x = inf + (x - inf) * np.exp(-dt / tau)
        v, ca = v_new, ca_new
        counts += (v1 > 0) & (v1 > v2) & (v1 >= v)
        v2, v1 = v1, v
        if trace_index is not None:
            trace.append(v[trace_index])
    return counts, np.array(trace)


def main():
    p = common.peer_args("stg.hpp exponential Euler in NumPy (reference)", 0.05)
    p.add_argument("--table", default="p04", choices=["p04", "grid"])
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    common.check_args(a)
    if a.n > 20000:
        common.unsupported("numpy reference: kept to n <= 20000 (memory/time); it is a checker, not a peer")
    g, _ = common.stg_table(a.n, a.table, a.seed)
    t0 = time.perf_counter()
    counts, _ = simulate(g, a.duration_ms, a.dt_ms)
    wall = time.perf_counter() - t0
    common.result(a, "numpy-reference", "stg", wall, counts, compile_s=0.0,
                  vers=common.versions(), extra={"table": a.table, "precision": "double"})


if __name__ == "__main__":
    main()
