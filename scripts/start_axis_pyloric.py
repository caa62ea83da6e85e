#!/usr/bin/env python3
"""Issue 14, start dependence: the pyloric_demo networks from three starts on one start axis
(sweeps/pyloric_starts.json: cold; each cell thermalised alone 5 s, P04's start; 20 s). Prints
how many networks change label with the start, and whether the difference survives a 30 s
transient (then it is multistability, not a slow transient); draws docs/img/start_axis_pyloric.png
(label of each network from cold vs thermalised 5 s, and the voltage traces of one network that
is rhythmic from one start and silent from the other). The tables go into docs/CLASSIFIER.md
by hand.

usage: scripts/start_axis_pyloric.py NEUROSWEEP WORKDIR [PNG]
A measurement, not a test: two builds of 4,374 networks, about 1 + 2.5 minutes on 2 cores.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import neurosweep as ns  # noqa: E402

EXE, WORK = sys.argv[1], sys.argv[2]
PNG = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "docs", "img", "start_axis_pyloric.png")
os.makedirs(WORK, exist_ok=True)


def build(spec, name):
    """Builds spec into WORK/name.h5 (reused when the same spec was built there)."""
    path, out = os.path.join(WORK, name + ".json"), os.path.join(WORK, name + ".h5")
    text = json.dumps(spec)
    if not (os.path.exists(out) and os.path.exists(path) and open(path).read() == text):
        with open(path, "w") as f:
            f.write(text)
        t0 = time.time()
        subprocess.run([EXE, "run", path, "-o", out, "--force", "-q"], check=True)
        print(f"built {name}: {time.time() - t0:.0f} s")
    return ns.open(out)


def by_network(db, col):
    """One row per network, one column per start (the start axis is the last, fastest axis)."""
    df = db.to_pandas()
    n_starts = len(db.axis("start").labels)
    df["network"] = df.index.to_numpy() // n_starts
    return df.pivot(index="network", columns="start", values=col)


spec = json.load(open(os.path.join(ROOT, "sweeps", "pyloric_starts.json")))
db = build(spec, "pyloric_starts")
long_spec = dict(spec, transient="30 s", name="pyloric_starts_t30", output={"spikes": 0})
db30 = build(long_spec, "pyloric_starts_t30")
starts = list(db.axis("start").labels)
timings = json.loads(db.attrs["timings"])
print(f"{db.n_instances} instances ({db.n_instances // len(starts)} networks x {len(starts)} starts), "
      f"built in {timings['wall_s']:.0f} s on {timings['threads']} threads")

lab, lab30 = by_network(db, "label"), by_network(db30, "label")
ab, ab30 = by_network(db, "label_ABPD"), by_network(db30, "label_ABPD")
print("\nlabels per start (networks):")
print(pd.crosstab(db.to_pandas().start, db.to_pandas().label).to_string())
multi, multi30 = lab.nunique(axis=1) > 1, lab30.nunique(axis=1) > 1
sb = (ab == "silent").any(axis=1) & (ab == "bursting").any(axis=1)
sb30 = (ab30 == "silent").any(axis=1) & (ab30 == "bursting").any(axis=1)
print(f"\nnetworks whose label depends on the start: {multi.sum()} (transient 5 s), {multi30.sum()} "
      f"(transient 30 s), {(multi & multi30).sum()} in both")
print(f"AB/PD silent from one start and bursting from another: {sb.sum()} (5 s), {sb30.sum()} (30 s), "
      f"{(sb & sb30).sum()} in both")
print("\ncold (rows) vs thermalize_5s (columns), transient 5 s:")
print(pd.crosstab(lab["cold"], lab["thermalize_5s"]).to_string())

# the example: the first network rhythmic from cold, AB/PD silent from thermalised 5 s, in both builds
ex = lab.index[(sb & sb30) & (ab["cold"] == "bursting") & (ab["thermalize_5s"] == "silent")][0]
n_starts = len(starts)
i_cold, i_warm = ex * n_starts + starts.index("cold"), ex * n_starts + starts.index("thermalize_5s")
pos = db.grid_position(np.array([i_cold]))
desc = ", ".join(f"{a.name} {a.coordinate()[p[0]]}" for a, p in zip(db.axes, pos) if a.name != "start")
print(f"\nexample: network {ex} ({desc}): instances {i_cold} (cold: {lab.loc[ex, 'cold']}) and {i_warm} "
      f"(thermalize_5s: {lab.loc[ex, 'thermalize_5s']})")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

names = db.label_names
fig = plt.figure(figsize=(12, 5.2))
gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.6])
ax = fig.add_subplot(gs[:, 0])
m = pd.crosstab(lab["cold"], lab["thermalize_5s"]).reindex(index=names, columns=names, fill_value=0)
ax.imshow(np.log10(1 + m.to_numpy()), cmap="Blues")
for r in range(len(names)):
    for c in range(len(names)):
        ax.text(c, r, str(m.iat[r, c]), ha="center", va="center", fontsize=9,
                color="white" if m.iat[r, c] > 100 else "black")
ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
ax.set_yticks(range(len(names)), names)
ax.set_xlabel("label from cells thermalised 5 s (P04)")
ax.set_ylabel("label from the cold start")
ax.set_title(f"{len(lab)} pyloric networks: {multi.sum()} change label\nwith the start "
             f"({(multi & multi30).sum()} still after a 30 s transient)", fontsize=10)
for k, (i, what) in enumerate(((i_cold, "cold"), (i_warm, "thermalize_5s"))):
    tr = ns.resimulate(db, int(i), binary=EXE, every_ms=0.5)
    a = fig.add_subplot(gs[k, 1])
    keep = tr.t < 3000
    for cell, col in (("ABPD", "C0"), ("LP", "C3"), ("PY", "C2")):
        a.plot(tr.t[keep] / 1000, tr.values[cell + ".V"][keep], lw=0.5, color=col, label=cell)
    a.set_ylabel("V (mV)")
    a.set_title(f"network {ex} from {what}: {lab.loc[ex, what]} (AB/PD {ab.loc[ex, what]})"
                + (f"\n{desc}" if k == 0 else ""), fontsize=9)
    if k == 0:
        a.legend(loc="upper right", fontsize=8, ncol=3)
    a.set_xlabel("time in the analysis window (s)")
fig.tight_layout()
fig.savefig(PNG, dpi=110, bbox_inches="tight")
print("wrote", PNG)
