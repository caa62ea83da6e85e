#!/usr/bin/env python3
"""Brunel (2000) phase diagram from a neurosweep database of sweeps/brunel_phase.json.

    build/neurosweep run sweeps/brunel_phase.json -o /tmp/brunel_phase.h5
    .venv/bin/python scripts/brunel_phase.py /tmp/brunel_phase.h5 -o docs/img/brunel_phase.png

Panels over (g, nu_ext/nu_thr): the E population's mean rate (log colour), its mean CV of the ISIs,
the synchrony of the E rate (variance of the 1 ms population rate over its Poisson expectation
rate/(N bin): 1 for independent Poisson neurons, >> 1 for synchronous activity) and, when the
database has network labels, the label. Brunel's (2000, Fig. 8) four example states are marked,
with the lines g = 4 (balance of excitation and inhibition for N_E = 4 N_I) and nu_ext = nu_thr
that bound the regions of his Fig. 2.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosweep as ns  # noqa: E402

STATES = {"SR": (3.0, 2.0), "SI fast": (6.0, 4.0), "AI": (5.0, 2.0), "SI slow": (4.5, 0.9)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("-o", "--out", default="brunel_phase.png")
    a = ap.parse_args()
    db = ns.open(a.db)
    g, eta = db.column("g"), db.column("eta")
    gs, es = np.unique(g), np.unique(eta)
    grid = lambda v: v.reshape(len(gs), len(es)).T  # noqa: E731 (axis 0 = g, slowest)
    rate, cv = db.column("E.rate_hz"), db.column("E.cv_isi")
    r = db.rates(population="E")
    ne = float(db.spec["network"]["parameters"]["NE"])  # the spec is stored verbatim
    bin_s = float(r.attrs["bin_ms"]) * 1e-3
    x = np.asarray(r.values, dtype=np.float64).reshape(len(g), -1)  # (instance, time) of E
    mean = x.mean(axis=1)
    sync = np.where(mean > 0, x.var(axis=1) / np.maximum(mean / (ne * bin_s), 1e-12), np.nan)
    panels = [("E rate (Hz)", np.log10(np.maximum(rate, 1e-2)), "viridis", "log10"),
              ("E mean CV of ISIs", cv, "magma", ""),
              ("E rate variance / Poisson", np.log10(np.maximum(sync, 1e-2)), "cividis", "log10")]
    labels = None
    try:
        names = db.enum_names("label")
        if len(names) > 1:
            labels = (db.column("label"), names)
    except KeyError:
        pass
    n = len(panels) + (labels is not None)
    fig, axs = plt.subplots(1, n, figsize=(4.6 * n, 4.0), constrained_layout=True)
    dg, de = gs[1] - gs[0], es[1] - es[0]
    ext = [gs[0] - dg / 2, gs[-1] + dg / 2, es[0] - de / 2, es[-1] + de / 2]
    for ax, (title, v, cmap, scale) in zip(axs, panels):
        im = ax.imshow(grid(v), origin="lower", aspect="auto", extent=ext, cmap=cmap)
        cb = fig.colorbar(im, ax=ax)
        if scale:
            cb.set_label(scale)
        ax.set_title(title)
    if labels is not None:
        codes, names = labels
        cmap = plt.get_cmap("tab10", len(names))
        im = axs[-1].imshow(grid(codes.astype(float)), origin="lower", aspect="auto", extent=ext, cmap=cmap,
                            vmin=-0.5, vmax=len(names) - 0.5)
        cb = fig.colorbar(im, ax=axs[-1], ticks=range(len(names)))
        cb.ax.set_yticklabels(names)
        axs[-1].set_title("network label")
    for ax in axs:
        ax.axvline(4.0, color="w", lw=0.8, ls="--")
        ax.axhline(1.0, color="w", lw=0.8, ls=":")
        for k, (gg, ee) in STATES.items():
            ax.plot(gg, ee, "o", mfc="none", mec="r", ms=7)
            ax.annotate(k, (gg, ee), color="r", fontsize=8, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("g (relative inhibition)")
        ax.set_ylabel("nu_ext / nu_thr")
    fig.suptitle(f"Brunel (2000) model A, reduced (N_E = {int(ne)}): {len(g)} networks")
    fig.savefig(a.out, dpi=110)
    print(a.out)


if __name__ == "__main__":
    main()
