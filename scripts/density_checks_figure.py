#!/usr/bin/env python3
"""docs/img/density_checks.png: the population-density checks of tests/population_density_test.cpp
(issue 17), drawn from the numbers the tests print:
  (a) step response of one Poisson-driven population against 10,000 iaf_psc_delta neurons
      (DensityMonteCarlo.StepResponseOfPoissonDrivenLifWithinSamplingBand, every 5th 1 ms bin);
  (b) the small-jump limit: relative difference of the density's steady rate to the Siegert formula
      against w / sigma (DensityTheory.SmallJumpLimitApproachesSiegert).

  python scripts/density_checks_figure.py [build/test_population_density] [docs/img/density_checks.png]
"""
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else "build/test_population_density"
    png = sys.argv[2] if len(sys.argv) > 2 else "docs/img/density_checks.png"
    out = subprocess.run([exe, "--gtest_filter=DensityMonteCarlo.StepResponse*:DensityTheory.*"],
                         capture_output=True, text=True, check=True).stdout
    t, d, mc = [], [], []
    for m in re.finditer(r"^\s+(\d+) ms\s+density\s+([\d.]+)\s+MC\s+([\d.]+)", out, re.M):
        t.append(int(m.group(1))), d.append(float(m.group(2))), mc.append(float(m.group(3)))
    ws, rel = [], []
    for m in re.finditer(r"w/sigma ([\d.]+),.*?, ([+-][\d.]+) %", out):
        ws.append(float(m.group(1))), rel.append(abs(float(m.group(2))))
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    ax[0].plot(t, mc, "o", ms=4, label="10,000 iaf_psc_delta (neurosweep)")
    ax[0].plot(t, d, "-", label="density (dipde_network)")
    ax[0].set_xlabel("time after the input step (ms)")
    ax[0].set_ylabel("population rate (Hz, 1 ms bins)")
    ax[0].set_title("step 0 -> 1200 Hz of 1 mV jumps")
    ax[0].legend(fontsize=8)
    ax[1].loglog(ws, rel, "o-")
    ax[1].set_xlabel("w / sigma (mu, sigma fixed)")
    ax[1].set_ylabel("|density - Siegert| / Siegert (%)")
    ax[1].set_title("small-jump limit")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(png, len(t), "bins,", len(ws), "jump sizes")


if __name__ == "__main__":
    sys.exit(main())
