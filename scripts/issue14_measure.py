#!/usr/bin/env python3
"""Issue 14 measurements: the 16 P04 Table 2 neurons under both integration schemes, both
constants sets, float/table and double/direct; the demo map and a 10,000-neuron random sample of
the P03 grid under both schemes (fraction of labels that change, picture with the changed
instances marked). Figures go into docs/CLASSIFIER.md by hand; the picture into docs/img/.

usage: scripts/issue14_measure.py NEUROSWEEP WORKDIR [table2] [demo] [sample] [png] [probe]
                                  [probe:precision] [probe:integration] [probe:thermalize]
A measurement, not a test: the sample build takes minutes on 2 cores.
"""
import collections
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

EXE, WORK = sys.argv[1], sys.argv[2]
WHAT = set(sys.argv[3:]) or {"table2", "demo", "sample", "png", "probe"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.makedirs(WORK, exist_ok=True)


def build(spec, name):
    """Builds spec into WORK/name.h5; reuses a finished database of the same spec."""
    path = os.path.join(WORK, name + ".json")
    out = os.path.join(WORK, name + ".h5")
    text = json.dumps(spec)
    if os.path.exists(out) and os.path.exists(path) and open(path).read() == text:
        with h5py.File(out, "r") as f:
            return out, json.loads(f.attrs["timings"])["wall_s"]
    with open(path, "w") as f:
        f.write(text)
    t0 = time.time()
    subprocess.run([EXE, "run", path, "-o", out, "--force", "-q", "--threads", "2"], check=True)
    return out, time.time() - t0


def label_names(f):
    v = f.attrs["label_names"]
    v = v.decode() if isinstance(v, bytes) else v
    return json.loads(v) if isinstance(v, str) else [x.decode() if isinstance(x, bytes) else x for x in v]


def labels(db):
    with h5py.File(db, "r") as f:
        names = label_names(f)
        cols = {k: f["instances"][k][:] for k in f["instances"]}
    return names, cols


def name_of(names, l):
    return "unclassified" if l < 0 else names[l]


def table2():
    rows = {}
    for integ in ("exp_euler", "prinz"):
        for const in ("codata2018", "prinz_lab"):
            for prec, gating in (("float", "table"), ("double", "direct")):
                spec = {"model": "stg", "dt": "0.05 ms", "transient": "10 s", "analysis": "10 s",
                        "precision": prec, "gating": gating, "integration": integ, "constants": const,
                        "axes": [{"kind": "categorical", "name": "neuron", "presets": "all"}],
                        "output": {"spikes": 400}}
                db, _ = build(spec, "t2_%s_%s_%s" % (integ, const, prec))
                names, c = labels(db)
                with h5py.File(db, "r") as f:
                    presets = [x.decode() if isinstance(x, bytes) else x
                               for x in json.loads(f.attrs["schema"])["axes"][0]["labels"]]
                rows[(integ, const, prec)] = (presets, names, c)
    variants = list(rows)
    presets = rows[variants[0]][0]
    print("| neuron | " + " | ".join("%s %s %s" % v for v in variants) + " |")
    print("|---|" + "---|" * len(variants))
    for i, p in enumerate(presets):
        cells = []
        for v in variants:
            _, names, c = rows[v]
            lab = name_of(names, int(c["label"][i]))
            k = c["pattern_k"][i]
            per = c["burst_period_ms"][i] if lab in ("bursting", "irregular_bursting") else c["isi_mean_ms"][i]
            kk = "" if np.isnan(k) or k == 1 else " k%d" % k
            cells.append("%s%s %s %d" % (lab.replace("irregular_bursting", "irr_burst"), kk,
                                         "-" if np.isnan(per) else "%.1f" % per, int(c["n_spikes"][i])))
        print("| %s | %s |" % (p, " | ".join(cells)))


def compare(a, b, title):
    names, ca = labels(a)
    _, cb = labels(b)
    la, lb = ca["label"], cb["label"]
    ch = la != lb
    print("%s: %d of %d labels change (%.2f%%)" % (title, ch.sum(), len(la), 100.0 * ch.mean()))
    cnt = collections.Counter((name_of(names, x), name_of(names, y)) for x, y in zip(la[ch], lb[ch]))
    for (x, y), n in sorted(cnt.items(), key=lambda t: -t[1]):
        print("  %s -> %s: %d" % (x, y, n))
    print("  counts exp_euler:", collections.Counter(name_of(names, x) for x in la))
    print("  counts prinz    :", collections.Counter(name_of(names, x) for x in lb))
    return ca, cb, ch, names


def demo():
    base = json.load(open(os.path.join(ROOT, "sweeps", "demo.json")))
    base.pop("output", None)
    base["output"] = {"spikes": 64}
    out = {}
    for integ in ("exp_euler", "prinz"):
        spec = dict(base, integration=integ)
        out[integ], t = build(spec, "demo_" + integ)
        print("demo %s: %.1f s" % (integ, t))
    return compare(out["exp_euler"], out["prinz"], "demo map (4096)")


def sample_params():
    rng = np.random.default_rng(2003)
    levels = {"gNa": [0, 100, 200, 300, 400, 500], "gCaT": [0, 2.5, 5, 7.5, 10, 12.5],
              "gCaS": [0, 2, 4, 6, 8, 10], "gA": [0, 10, 20, 30, 40, 50], "gKCa": [0, 5, 10, 15, 20, 25],
              "gKd": [0, 25, 50, 75, 100, 125], "gH": [0, 0.01, 0.02, 0.03, 0.04, 0.05],
              "gleak": [0, 0.01, 0.02, 0.03, 0.04, 0.05]}
    idx = rng.choice(6 ** 8, size=10000, replace=False)  # P03 model number - 1
    digits = {}
    for k, name in enumerate(levels):  # Na most significant (sweeps/prinz2003.json)
        digits[name] = (idx // 6 ** (7 - k)) % 6
    return {n: [levels[n][d] for d in digits[n]] for n in levels}


def sample_spec(integ, **extra):
    spec = {"model": "stg", "dt": "0.05 ms", "transient": "10 s", "analysis": "10 s", "seed": 2003,
            "precision": "float", "integration": integ,
            "axes": [{"kind": "linked", "name": "p03", "params": sample_params()}], "output": {"spikes": 64}}
    spec.update(extra)
    return spec


def sample():
    out = {}
    for integ in ("exp_euler", "prinz"):
        out[integ], t = build(sample_spec(integ), "sample_" + integ)
        print("sample %s: %.1f s" % (integ, t))
    return compare(out["exp_euler"], out["prinz"], "P03 random sample (10000)")


def probe(only=None):
    for what in ("precision", "integration", {"thermalize": "5 s"}):
        if only and (what if isinstance(what, str) else "thermalize") not in only:
            continue
        tag = what if isinstance(what, str) else "thermalize5s"
        db, t = build(sample_spec("exp_euler", probe=what), "sample_probe_" + tag)
        with h5py.File(db, "r") as f:
            tm = json.loads(f.attrs["timings"])
            rob = f["instances/robust"][:]
            l1, l2 = f["instances/label"][:], f["instances/label_probe"][:]
            names = label_names(f)
        print("probe %s on the 10000 sample: %d flagged (%.2f%%), %d with another label; wall %.1f s, "
              "integrate %.1f s, probe %.1f s" % (tag, (rob == 0).sum(), 100.0 * (rob == 0).mean(), (l1 != l2).sum(),
                                                  t, tm["integrate_s"], tm["probe_s"]))
        cnt = collections.Counter((name_of(names, x), name_of(names, y)) for x, y in zip(l1[l1 != l2], l2[l1 != l2]))
        for (x, y), n in sorted(cnt.items(), key=lambda t: -t[1])[:8]:
            print("  %s -> %s: %d" % (x, y, n))


res = {}
if "table2" in WHAT:
    table2()
if "demo" in WHAT:
    res["demo"] = demo()
if "sample" in WHAT:
    res["sample"] = sample()
if "png" in WHAT and "demo" in res and "sample" in res:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    fig, ax = plt.subplots(1, 2, figsize=(9, 4), dpi=80)
    ca, cb, ch, names = res["demo"]
    cmap = ListedColormap(["#dddddd", "#4477aa", "#228833", "#ccbb44", "#ee6677", "#000000"])
    lab = np.where(ca["label"] < 0, 5, ca["label"]).reshape(64, 64)
    ax[0].imshow(lab.T, origin="lower", cmap=cmap, vmin=-0.5, vmax=5.5,
                 extent=[0, 12.6, 0, 126], aspect="auto", interpolation="nearest")
    g = np.nonzero(ch)[0]
    ax[0].scatter(ca["gCaS"][g], ca["gKd"][g], marker="x", c="k", s=12, lw=0.8)
    ax[0].set_xlabel("gCaS (mS/cm2)")
    ax[0].set_ylabel("gKd (mS/cm2)")
    ax[0].set_title("demo map, exp_euler labels; x: label differs under prinz (%d)" % ch.sum(), fontsize=8)
    ca, cb, ch, names = res["sample"]
    x = ca["gCaS"] + np.random.default_rng(0).uniform(-0.8, 0.8, len(ch))
    y = ca["gKd"] + np.random.default_rng(1).uniform(-10, 10, len(ch))
    col = np.array(cmap.colors)[np.where(ca["label"] < 0, 5, ca["label"])]
    ax[1].scatter(x[~ch], y[~ch], c=list(col[~ch]), s=1.5, lw=0)
    ax[1].scatter(x[ch], y[ch], marker="x", c="k", s=14, lw=0.8)
    ax[1].set_xlabel("gCaS (mS/cm2), jittered")
    ax[1].set_ylabel("gKd (mS/cm2), jittered")
    ax[1].set_title("10,000 P03 neurons; x: label differs (%d)" % ch.sum(), fontsize=8)
    handles = [plt.Line2D([], [], ls="", marker="s", color=cmap.colors[k]) for k in range(6)]
    fig.legend(handles, names + ["unclassified"], loc="lower center", ncol=6, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    os.makedirs(os.path.join(ROOT, "docs", "img"), exist_ok=True)
    png = os.path.join(ROOT, "docs", "img", "issue14_schemes.png")
    fig.savefig(png)
    try:  # a palette PNG is a third of the size (the figure has few colours)
        from PIL import Image
        Image.open(png).convert("RGB").quantize(colors=128).save(png, optimize=True)
    except ImportError:
        pass
    print("wrote docs/img/issue14_schemes.png")
picked = [w.split(":", 1)[1] for w in WHAT if w.startswith("probe:")]
if "probe" in WHAT or picked:
    probe(picked)
