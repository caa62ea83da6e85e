#!/usr/bin/env python3
"""NEST 3.10 reference, run through BMTK PointNet (bmtk.simulator.pointnet 1.2.0), of the small
PointNet network of pointnet/build_ei.py, for python/tests/test_pointnet.py. Writes
tests/data/pointnet_ei_nest.json.

Run with the NEST peer environment plus bmtk (bash bench/peers/setup.sh --nest-only, then
bench/.peers-venv/bin/python -m pip install bmtk==1.2.0):

    bench/.peers-venv/bin/python tests/data/make_pointnet_nest.py

It builds the network into a temporary folder, runs it exactly as a PointNet user does
(pointnet.Config.from_json, build_env, PointNetwork.from_config, PointSimulator.from_config, run;
NEST with 1 thread), and records from BMTK's output/spikes.h5:
  digest           build_ei.digest of the files it ran (the test rebuilds and compares),
  rate_hz[pop]     mean rate of each node type (E, I) over the whole run (tstop),
  cv_isi[pop]      mean over neurons with >= 3 spikes of std(ISI)/mean(ISI) (ddof 0),
  spikes[pop]      every spike: [[node index within the node type, time ms], ...] sorted,
  input_rate_hz    the mean rate of the virtual population's trains.
iaf_psc_alpha is deterministic and so are the input trains, so the result does not depend on seeds.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "pointnet"))
import build_ei  # noqa: E402

OUT = os.path.join(HERE, "pointnet_ei_nest.json")

RUN = """
import sys
from bmtk.simulator import pointnet
cfg = pointnet.Config.from_json(sys.argv[1])
cfg.build_env()
net = pointnet.PointNetwork.from_config(cfg)
sim = pointnet.PointSimulator.from_config(cfg, net)
sim.run()
"""


def stats(spikes, n, t_s):
    rate = len(spikes) / n / t_s
    cvs = []
    for k in range(n):
        t = np.sort([s[1] for s in spikes if s[0] == k])
        if len(t) >= 3:
            isi = np.diff(t)
            cvs.append(np.std(isi) / np.mean(isi))
    return rate, (float(np.mean(cvs)) if cvs else None), len(cvs)


def main():
    import h5py
    import nest
    import bmtk
    with tempfile.TemporaryDirectory() as d:
        cfg = build_ei.build(d)
        dig = build_ei.digest(d)
        subprocess.run([sys.executable, "-c", RUN, cfg], check=True, cwd=d)
        with h5py.File(os.path.join(d, "output", "spikes.h5"), "r") as f:
            g = f["spikes"]["cortex"]
            ids, ts = g["node_ids"][()], g["timestamps"][()]
        with h5py.File(os.path.join(d, "network", "cortex_nodes.h5"), "r") as f:
            types = f["nodes"]["cortex"]["node_type_id"][()]
        with h5py.File(os.path.join(d, "inputs", "poisson.h5"), "r") as f:
            n_in = len(f["spikes"]["inputs"]["timestamps"])
    t_s = build_ei.TSTOP / 1000.0
    out = {"nest_version": nest.__version__, "bmtk_version": bmtk.__version__, "digest": dig,
           "tstop_ms": build_ei.TSTOP, "dt_ms": build_ei.DT, "input_rate_hz": n_in / 100 / t_s,
           "rate_hz": {}, "cv_isi": {}, "n_cv": {}, "spikes": {}}
    for name, tid in (("E", 100), ("I", 101)):
        members = np.flatnonzero(types == tid)
        local = {int(g): k for k, g in enumerate(members)}
        sp = sorted([local[int(i)], float(t)] for i, t in zip(ids, ts) if int(i) in local)
        r, cv, ncv = stats(sp, len(members), t_s)
        out["rate_hz"][name], out["cv_isi"][name], out["n_cv"][name] = r, cv, ncv
        out["spikes"][name] = [[k, round(t, 6)] for k, t in sorted(sp, key=lambda x: (x[1], x[0]))]
        print(f"{name}: {len(members)} cells, {r:.3f} Hz, CV {cv}, {len(sp)} spikes")
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
