"""Analyse the demo database the way a neuroscientist would.

Builds nothing: it reads a database made by

    ./build/neurosweep run sweeps/demo.json -o demo.h5

(a 64 x 64 map of gCaS x gKd around the AB/PD 2 neuron of Prinz, Bucher & Marder 2004), then

    python python/examples/analyse_demo.py demo.h5 [OUTDIR]

prints what kinds of activity the map holds and where, and writes five pictures to OUTDIR
(default: the current directory): the activity map, the label fractions, the fraction of
bursters along gCaS, the burst period by label, and the voltage trace of the AB/PD 2 neuron
itself, re-simulated from the database's parameters.
"""
import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import neurosweep as ns  # noqa: E402


def main(path: str, outdir: str = ".") -> None:
    os.makedirs(outdir, exist_ok=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", ns.UnfinishedDatabaseWarning)
        db = ns.open(path)
    for x in w:
        print("note:", x.message)
    print(db.info())

    # 1. One row per model neuron: the two swept conductances, the label and the features.
    df = db.to_pandas()
    print("Activity types:")
    print(df["label"].value_counts(normalize=True, dropna=False).mul(100).round(1).to_string(), "\n")

    # 2. Where in the (gCaS, gKd) plane do the bursters live? Mean conductances per label and
    #    the burst features of the bursters (Prinz et al. 2003 looked at exactly these).
    print("Median conductances per activity type (mS/cm^2):")
    print(df.groupby("label", observed=True)[["gCaS", "gKd"]].median().round(2).to_string(), "\n")
    b = df[df["label"] == "bursting"]
    if len(b):
        print(f"Regular bursters: {len(b)} ({100 * len(b) / len(df):.1f}%); burst period "
              f"{b['burst_period_ms'].median():.0f} ms (IQR {b['burst_period_ms'].quantile(.25):.0f}-"
              f"{b['burst_period_ms'].quantile(.75):.0f}), duty cycle {b['duty_cycle'].median():.2f}, "
              f"{b['spikes_per_burst'].median():.1f} spikes per burst (medians)")
        # how the period depends on gCaS: more slow Ca current, shorter or longer cycles?
        r = np.corrcoef(b["gCaS"], b["burst_period_ms"])[0, 1] if len(b) > 2 else float("nan")
        print(f"Correlation of burst period with gCaS among bursters: r = {r:.2f}\n")

    # 3. The same map as an xarray: one dimension per grid axis.
    if db.is_grid:
        ds = db.to_xarray()
        bursting = (ds["label"] == db.label_names.index("bursting"))
        frac_by_gcas = bursting.mean("gKd")
        best = float(frac_by_gcas.idxmax())
        print(f"gCaS with the most bursters: {best:g} mS/cm^2 ({100 * float(frac_by_gcas.max()):.0f}% "
              f"of its gKd values)")

    # 4. Pictures.
    out = lambda name: os.path.join(outdir, name)  # noqa: E731
    ns.plot_map(db, "gCaS", "gKd", out=out("demo_map.png"))
    ns.plot_fractions(db, out=out("demo_fractions.png"))
    ns.plot_fractions(db, by="gCaS", out=out("demo_fractions_gCaS.png"))
    ns.plot_feature(db, "burst_period_ms", by="label", out=out("demo_burst_period.png"))

    # 5. The AB/PD 2 neuron itself (gCaS 6, gKd 100): its stored spikes, and its voltage trace
    #    re-simulated with the exact parameters of the database (first 4 s of the window).
    i = int(df.index[(np.isclose(df["gCaS"], 6.0)) & (np.isclose(df["gKd"], 100.0))][0])
    t = db.spikes(i)
    print(f"Instance {i} (AB/PD 2): {db.row(i)['label']}, {len(t)} stored spike times, first "
          f"{np.round(t[:5].astype(float), 1).tolist()} ms")
    try:
        ns.plot_trace(db, i, window=(0, 4000), out=out("demo_trace.png"))
    except ns.SimulateError as e:  # no neurosweep executable at hand: skip the trace
        print("trace skipped:", e)
    print("pictures written to", os.path.abspath(outdir))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:3])
