#!/usr/bin/env python3
"""Refinement benchmark (issue 18): on the demo map (sweeps/demo.json, 64 x 64 STG neurons over
gCaS x gKd), `neurosweep refine --depth 3` against a grid 8 times finer (505 x 505 = 255,025
neurons), which is too costly to build here in full; it is checked on whole lines instead.

    python3 bench/refine_bench.py [--bin build/neurosweep] [--work /tmp/refine_bench]
                                  [--lines 8] [--depth 3] [--threads 2] [--figure docs/img/refine_demo.png]

Steps: (1) build the demo grid (kept when present); (2) refine it; (3) instances: refined points
against the 8x finer grid (the issue's bar: at most 25%); (4) truth on lines: the grid rows and
columns with the most bursting/tonic changes are rebuilt 8x finer along their length (505
neurons each, `neurosweep run`); every bursting/tonic change between neighbours of that fine line
(a boundary crossing located to 1/8 of the grid spacing) is looked up in the refined database:
"located" when both neighbours are refined points (or grid points) with the same labels. The
refined points are the fine grid's points (same values, same engine), so their labels agree bit
for bit; what refinement can miss is a change inside a grid cell whose corners agree. (5) the
figure: the grid map and the refined map with its points. Prints the figures; nothing is a test.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))


def run(cmd):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return time.time() - t0


def labels_of(path, group="instances"):
    with h5py.File(path, "r") as f:
        g = f[group]
        names = json.loads(g["label"].attrs["enum_names"])
        return {k: g[k][:] for k in g}, names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "neurosweep"))
    ap.add_argument("--work", default="/tmp/refine_bench")
    ap.add_argument("--lines", type=int, default=8, help="rows + columns rebuilt 8x finer")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--threads", default="0")
    ap.add_argument("--figure", default=os.path.join(ROOT, "docs", "img", "refine_demo.png"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    spec = json.load(open(os.path.join(ROOT, "sweeps", "demo.json")))
    grid_db, ref_db = os.path.join(a.work, "demo.h5"), os.path.join(a.work, "refined.h5")
    common = ["-q", "--threads", a.threads]
    t_grid = t_ref = float("nan")
    if not os.path.exists(grid_db):
        t_grid = run([a.bin, "run", os.path.join(ROOT, "sweeps", "demo.json"), "-o", grid_db, *common])
    if not os.path.exists(ref_db):
        t_ref = run([a.bin, "refine", grid_db, "-o", ref_db, "--depth", str(a.depth), *common])
    S = 2 ** a.depth
    g, names = labels_of(grid_db)
    r, _ = labels_of(ref_db, "refined/instances")
    info = json.loads(h5py.File(ref_db, "r").attrs["refine"])
    n0 = int(spec["axes"][0]["linspace"]["count"])
    n1 = int(spec["axes"][1]["linspace"]["count"])
    fine_n = ((n0 - 1) * S + 1) * ((n1 - 1) * S + 1)
    n_ref = len(r["label"])
    print(f"grid {n0} x {n1} = {n0 * n1} neurons ({t_grid:.0f} s); refine --depth {a.depth}: "
          f"{n_ref} new points ({t_ref:.0f} s), levels {[L['points'] for L in info['levels']]}")
    print(f"grid {S}x finer: {fine_n} neurons; refined points / finer grid = {n_ref / fine_n:.2%}, "
          f"grid + refined = {(n_ref + n0 * n1) / fine_n:.2%} (bar: <= 25%)")

    # every point known at the finest lattice: label by (i0, i1) fine indices
    B, T = names.index("bursting"), names.index("tonic")
    known = {}
    lab0 = g["label"].reshape(n0, n1)
    for i in range(n0):
        for j in range(n1):
            known[(i * S, j * S)] = int(lab0[i, j])
    for p0, p1, lb in zip(r["pos_gCaS"], r["pos_gKd"], r["label"]):
        known[(int(round(p0 * S)), int(round(p1 * S)))] = int(lb)
    # lines with the most bursting/tonic changes between grid neighbours
    bt = lambda x, y: {int(x), int(y)} == {B, T}  # noqa: E731
    rows = sorted(range(n0), key=lambda i: -sum(bt(lab0[i, j], lab0[i, j + 1]) for j in range(n1 - 1)))
    cols = sorted(range(n1), key=lambda j: -sum(bt(lab0[i, j], lab0[i + 1, j]) for i in range(n0 - 1)))
    lines = [("gCaS", i) for i in rows[:(a.lines + 1) // 2]] + [("gKd", j) for j in cols[:a.lines // 2]]
    tot = located = 0
    for fixed_axis, k in lines:
        s = json.loads(json.dumps(spec))
        s["name"] = f"line_{fixed_axis}_{k}"
        s["output"] = {}
        a_fix = 0 if fixed_axis == "gCaS" else 1
        ax = s["axes"][a_fix]
        # the grid's own value (its formula's rounding), so the line lies exactly on grid row k
        value = float(g[fixed_axis][(k * n1) if a_fix == 0 else k])
        s["axes"][a_fix] = {"kind": "grid", "param": ax["param"], "values": [value]}
        other = s["axes"][1 - a_fix]["linspace"]
        other["count"] = (other["count"] - 1) * S + 1
        path = os.path.join(a.work, s["name"] + ".json")
        json.dump(s, open(path, "w"))
        out = os.path.join(a.work, s["name"] + ".h5")
        if not os.path.exists(out):
            run([a.bin, "run", path, "-o", out, *common])
        fl, _ = labels_of(out)
        fl = fl["label"]
        # the fixed value must equal the grid's exactly (same formula), else the line is elsewhere
        with h5py.File(out, "r") as f:
            assert f["instances"][fixed_axis][0] == g[fixed_axis][(k * n1) if a_fix == 0 else k]
        line_tot = line_loc = 0
        for m in range(len(fl) - 1):
            if not bt(fl[m], fl[m + 1]):
                continue
            line_tot += 1
            p, q = ((k * S, m), (k * S, m + 1)) if a_fix == 0 else ((m, k * S), (m + 1, k * S))
            if known.get(p) == int(fl[m]) and known.get(q) == int(fl[m + 1]):
                line_loc += 1
            # a refined point's label that differs from the fine line's would be a bug
            for pt, want in ((p, fl[m]), (q, fl[m + 1])):
                if pt in known and known[pt] != int(want):
                    print(f"  MISMATCH at {pt}: refined {known[pt]}, fine line {int(want)}")
        print(f"line {fixed_axis} = grid index {k}: {line_tot} bursting/tonic changes at 1/{S} spacing, "
              f"{line_loc} located by the refinement")
        tot += line_tot
        located += line_loc
    print(f"bursting/tonic changes on {len(lines)} lines: {located} of {tot} located within 1/{S} of the "
          f"grid spacing ({located / max(tot, 1):.1%})")

    if a.figure:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import neurosweep as ns
        db = ns.open(ref_db)
        fig, axs = plt.subplots(1, 2, figsize=(15, 5.6))
        ns.plot_map(db, "gCaS", "gKd", ax=axs[0], refined="off", title=f"demo grid ({n0} x {n1})")
        ns.plot_map(db, "gCaS", "gKd", ax=axs[1], refined="points",
                    title=f"refined where labels change, depth {a.depth}: +{n_ref} points "
                          f"({n_ref / fine_n:.1%} of a {S}x finer grid)")
        fig.tight_layout()
        os.makedirs(os.path.dirname(a.figure), exist_ok=True)
        fig.savefig(a.figure, dpi=110)
        print(f"figure: {a.figure}")


if __name__ == "__main__":
    main()
