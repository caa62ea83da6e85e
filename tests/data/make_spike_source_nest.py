#!/usr/bin/env python3
"""NEST 3.10 reference for neurosweep's spike-source populations (docs/NETWORKS.md, "Spike
sources"): when does a spike time t of a SONATA input act? BMTK PointNet replays virtual nodes'
spike trains with nest.Create('spike_generator', params={'precise_times': True})
(bmtk/simulator/pointnet/pointnetwork.py, add_spike_trains). Writes tests/data/spike_source_nest.json
for python/tests/test_pointnet.py.

    bench/.peers-venv/bin/python tests/data/make_spike_source_nest.py

Six generators, one_to_one to six iaf_psc_delta neurons (NEST defaults: E_L = V_reset = -70 mV,
V_th = -55 mV, t_ref = 2 ms) with weight 20 mV (every input spike fires its target at once) and
delay 1 ms, dt = 0.1 ms, 30 ms. The times include on-grid values, values just above and below grid
points, and decimal values that are not exact binary fractions (0.3 / 0.1 = 2.9999999999999996).
The target's spike time is the input's grid stamp + 1 ms.
"""
import json
import os

import nest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "spike_source_nest.json")
TIMES = [
    [0.3, 5.0, 10.05, 20.0000001],
    [0.1, 4.99999, 12.7, 25.25],
    [0.0001, 3.3, 9.4500001, 17.1],
    [0.7, 6.0001, 11.1, 22.675],
    [1.0, 1.15 + 6, 14.449999, 28.9],
    [2.675, 8.8, 15.55, 19.95],
]


def main():
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1})
    gens = nest.Create("spike_generator", len(TIMES), params={"precise_times": True})
    for g, t in zip(gens, TIMES):
        g.set({"spike_times": t})
    nrn = nest.Create("iaf_psc_delta", len(TIMES))
    nest.Connect(gens, nrn, "one_to_one", {"weight": 20.0, "delay": 1.0})
    sr = nest.Create("spike_recorder")
    nest.Connect(nrn, sr)
    nest.Simulate(30.0)
    ev = sr.get("events")
    first = nrn.tolist()[0]
    out = {"nest_version": nest.__version__, "dt_ms": 0.1, "delay_ms": 1.0, "weight_mV": 20.0, "t_stop_ms": 30.0,
           "input_times_ms": TIMES,
           "spikes": sorted([int(s) - first, round(float(t), 9)] for s, t in zip(ev["senders"], ev["times"]))}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(out["spikes"])


if __name__ == "__main__":
    main()
