#!/usr/bin/env python3
"""NEST 3.10 spike times of a tiny deterministic network, for tests/network_nest_test.cpp
(NetworkNest.TinyNetworkSpikeTimesEqualNest). Writes tests/data/network_tiny_nest.json.

    bench/.peers-venv/bin/python tests/data/make_network_tiny_nest.py

Three iaf_psc_delta neurons with NEST's default parameters and constant currents I_e (no random
input): A (I_e = 500 pA) fires regularly, B (I_e = 330 pA, just below threshold alone) fires when
A's excitation adds up, C (I_e = 0) fires on coincident input from A and B; C inhibits A. Delays
1.0, 2.35 (rounded by NEST to 24 steps), 0.5 and 3.0 ms cover on-grid and rounded delays. Spike
times are recorded as integer step stamps (t = stamp * h, h = 0.1 ms) over 300 ms.
"""
import json
import os

import nest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "network_tiny_nest.json")

H, T = 0.1, 300.0
I_E = {"A": 500.0, "B": 330.0, "C": 0.0}
# (source, target, weight mV, delay ms)
EDGES = [("A", "B", 2.0, 1.0), ("A", "C", 9.0, 2.35), ("B", "C", 9.0, 0.5), ("C", "A", -6.0, 3.0)]


def main():
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": H})
    n = {k: nest.Create("iaf_psc_delta", params={"I_e": v}) for k, v in I_E.items()}
    for s, t, w, d in EDGES:
        nest.Connect(n[s], n[t], syn_spec={"weight": w, "delay": d})
    rec = {k: nest.Create("spike_recorder") for k in n}
    for k in n:
        nest.Connect(n[k], rec[k])
    nest.Simulate(T)
    out = {"nest_version": nest.__version__, "h": H, "T": T, "I_e": I_E,
           "edges": [{"source": s, "target": t, "weight": w, "delay": d} for s, t, w, d in EDGES],
           "stamps": {k: [int(round(x / H)) for x in rec[k].get("events")["times"]] for k in n}}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print({k: len(v) for k, v in out["stamps"].items()})


if __name__ == "__main__":
    main()
