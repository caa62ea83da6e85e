#!/usr/bin/env python3
"""NEST 3.10 reference of Brunel's (2000) model A, reduced, in the four states of his Fig. 8, for
tests/network_nest_test.cpp. Writes tests/data/brunel_nest.json.

Run with the NEST peer environment (bash bench/peers/setup.sh creates bench/.peers-venv):

    bench/.peers-venv/bin/python tests/data/make_brunel_nest.py

The network is NEST's own example examples/brunel_delta_nest.py (Brunel 2000, J Comput Neurosci
8:183, model A: iaf_psc_delta, tau_m = 20 ms, theta = 20 mV, V_r = 10 mV, t_ref = 2 ms, D = 1.5 ms,
epsilon = 0.1, fixed in-degrees with NEST's defaults: autapses and multapses allowed), reduced to
N_E = 2000, N_I = 500 with J scaled so that J C_E stays Brunel's 0.1 mV x 1000 (Brunel 2000, sec. 4:
the mean-field state depends on J C_E and g): J = 0.5 mV, C_E = 200, C_I = 50. The external drive is
one Poisson generator per population with rate eta nu_thr C_E, nu_thr = theta / (J C_E tau_m),
weight J, delay D (as in the NEST example). Four states (g, eta): SR (3, 2), SI fast (6, 4),
AI (5, 2), SI slow (4.5, 0.9); two NEST seeds each (rng_seed 1 and 2: the connectivity and the
drive both change).

Recorded per run (transient 200 ms discarded, analysis window 500 ms, every neuron recorded):
  rate_hz[pop]  mean firing rate over the population,
  cv_isi[pop]   mean over neurons with >= 3 spikes of std(ISI)/mean(ISI) (numpy std, ddof 0),
  rate_E_1ms    the E population rate in 1 ms bins (Hz), for oscillation measures.
The same statistics are what neurosweep stores (host/network/run_network.hpp). The output is
deterministic for a given NEST version (recorded in the file).
"""
import json
import os
import time

import numpy as np
import nest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "brunel_nest.json")

NE, NI = 2000, 500
CE, CI = 200, 50
J, D, TAU, THETA = 0.5, 1.5, 20.0, 20.0
DT, T_TRANS, T_AN = 0.1, 200.0, 500.0
STATES = {"SR": (3.0, 2.0), "SI_fast": (6.0, 4.0), "AI": (5.0, 2.0), "SI_slow": (4.5, 0.9)}
SEEDS = [1, 2]


def run(g, eta, seed):
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": DT, "rng_seed": seed, "local_num_threads": 1})
    p = {"C_m": 1.0, "tau_m": TAU, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0, "V_m": 0.0, "V_th": THETA}
    e = nest.Create("iaf_psc_delta", NE, params=p)
    i = nest.Create("iaf_psc_delta", NI, params=p)
    nu_thr = THETA / (J * CE * TAU)
    noise = nest.Create("poisson_generator", params={"rate": 1000.0 * eta * nu_thr * CE})
    sr = nest.Create("spike_recorder", params={"start": T_TRANS})
    nest.Connect(noise, e + i, syn_spec={"weight": J, "delay": D})
    nest.Connect(e, e + i, {"rule": "fixed_indegree", "indegree": CE}, {"weight": J, "delay": D})
    nest.Connect(i, e + i, {"rule": "fixed_indegree", "indegree": CI}, {"weight": -g * J, "delay": D})
    nest.Connect(e + i, sr)
    t0 = time.time()
    nest.Simulate(T_TRANS + T_AN)
    wall = time.time() - t0
    ev = sr.get("events")
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"]) - T_TRANS
    out = {"rate_hz": {}, "cv_isi": {}, "wall_s": wall}
    for name, pop in (("E", e), ("I", i)):
        ids = np.asarray(pop.tolist())
        mask = np.isin(senders, ids)
        out["rate_hz"][name] = float(mask.sum() / len(ids) / (T_AN * 1e-3))
        cvs = []
        order = np.lexsort((times[mask], senders[mask]))
        s, t = senders[mask][order], times[mask][order]
        bounds = np.flatnonzero(np.diff(s)) + 1
        for tt in np.split(t, bounds):
            if len(tt) >= 3:
                isi = np.diff(tt)
                cvs.append(isi.std() / isi.mean())
        out["cv_isi"][name] = float(np.mean(cvs)) if cvs else None
        if name == "E":
            h, _ = np.histogram(t, bins=int(T_AN), range=(0.0, T_AN))
            out["rate_E_1ms"] = (h / len(ids) / 1e-3).round(3).tolist()
    return out


def main():
    res = {"nest_version": nest.__version__, "NE": NE, "NI": NI, "CE": CE, "CI": CI, "J": J, "D": D,
           "dt": DT, "transient_ms": T_TRANS, "analysis_ms": T_AN, "states": {}}
    for name, (g, eta) in STATES.items():
        res["states"][name] = {"g": g, "eta": eta, "runs": []}
        for seed in SEEDS:
            r = run(g, eta, seed)
            r["seed"] = seed
            res["states"][name]["runs"].append(r)
            print(name, seed, r["rate_hz"], r["cv_isi"], "%.1f s" % r["wall_s"], flush=True)
    with open(OUT, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
