#!/usr/bin/env python3
"""The map of sweeps/nestml_adaptive.json (docs/NESTML.md): firing rate and spike-frequency
adaptation of the NESTML-only model sweeps/models/lif_adaptive_threshold_neuron.nestml over the
threshold jump alpha and its time constant tau_th, built by `neurosweep run` through a plugin.

    python3 scripts/nestml_adaptive_map.py [--bin build/neurosweep] [--out docs/img/nestml_adaptive.png]

Checks printed beside the figure: at alpha = 0 the rate is the LIF closed form
1 / (t_ref + tau_m ln((V_inf - V_reset) / (V_inf - V_th))) with V_inf = E_L + I_e tau_m / C_m
(63.1 Hz for the spec's values; the grid stamps spikes on 0.1 ms steps, so 63 spikes in 1 s).
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "neurosweep"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "nestml_adaptive.png"))
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import neurosweep as ns
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "adaptive.h5")
        subprocess.run([a.bin, "run", os.path.join(ROOT, "sweeps", "nestml_adaptive.json"), "-o", db_path,
                        "--backend", "cpu", "--quiet"], check=True)
        db = ns.Database(db_path)
        ds = db.to_xarray()
        rate = ds["rate_hz"].transpose("tau_th", "alpha")
        adapt = ds["adaptation_ratio"].transpose("tau_th", "alpha") if "adaptation_ratio" in ds else None
        fig, axs = plt.subplots(1, 2 if adapt is not None else 1, figsize=(10, 4), squeeze=False)
        m = axs[0][0].pcolormesh(rate["alpha"], rate["tau_th"], rate.values, shading="nearest")
        fig.colorbar(m, ax=axs[0][0], label="rate (Hz)")
        axs[0][0].set(xlabel="alpha (mV)", ylabel="tau_th (ms)", title="lif_adaptive_threshold_neuron: rate")
        if adapt is not None:
            m2 = axs[0][1].pcolormesh(adapt["alpha"], adapt["tau_th"], adapt.values, shading="nearest")
            fig.colorbar(m2, ax=axs[0][1], label="adaptation ratio")
            axs[0][1].set(xlabel="alpha (mV)", ylabel="tau_th (ms)", title="adaptation (last / first ISI)")
        fig.tight_layout()
        fig.savefig(a.out, dpi=110)
        v_inf = -70 + 500 * 10 / 250
        f = 1000 / (2 + 10 * math.log((v_inf + 70) / (v_inf + 55)))
        r0 = float(rate.sel(alpha=0).mean())
        print(f"wrote {a.out}; rate at alpha = 0: {r0:.2f} Hz (LIF closed form {f:.2f} Hz); "
              f"range {float(rate.min()):.1f} .. {float(rate.max()):.1f} Hz")


if __name__ == "__main__":
    main()
