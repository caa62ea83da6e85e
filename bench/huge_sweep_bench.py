#!/usr/bin/env python3
"""Huge sweeps reach their first chunk at once (issue 13, finding 4): a benchmark, not a test.

For a random sweep of 2^48 instances (the documented limit) and a 2e14-instance grid, runs
`neurosweep run --stop-after-chunks 1` (the process exits right after committing its first chunk)
and `neurosweep info` on the unfinished build, one fresh process each, and prints wall time, peak
RSS and the manifest size. Expected: well under a second each, memory independent of the count.

    python3 bench/huge_sweep_bench.py [--build build] [--chunk 1024]
"""
import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

MODEL = {"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s", "seed": 1,
         "classifier": {"slowest_period_ms": 250}}
SWEEPS = {
    "random 2^48": [{"kind": "random", "count": 2 ** 48, "params": {"I_e": {"low": 0, "high": 1000}}}],
    "grid 2e14": [
        {"kind": "grid", "param": "I_e", "linspace": {"start": 0, "stop": 1000, "count": 100000}},
        {"kind": "grid", "param": "tau_m", "linspace": {"start": 1, "stop": 100, "count": 100000}},
        {"kind": "grid", "param": "C_m", "linspace": {"start": 100, "stop": 300, "count": 20000}}],
}


def timed(cmd):
    """Wall seconds and peak RSS (MB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    # ru_maxrss of children is the maximum over all children so far: report it only when it grew
    return wall, (rss if rss > before else before) / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory holding neurosweep")
    ap.add_argument("--chunk", type=int, default=1024)
    a = ap.parse_args()
    exe = os.path.abspath(os.path.join(a.build, "neurosweep"))
    print(f"| sweep | instances | first chunk committed (s) | peak RSS (MB) | info (s) | manifest (KB) |")
    print(f"|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, axes in SWEEPS.items():
            spec = os.path.join(d, name.replace(" ", "_").replace("^", "") + ".json")
            with open(spec, "w") as fh:
                json.dump(dict(MODEL, axes=axes), fh)
            out = spec[:-5] + ".h5"
            wall, rss = timed([exe, "run", spec, "-o", out, "--backend", "cpu", "--threads", "1", "-q",
                               "--chunk", str(a.chunk), "--stop-after-chunks", "1"])
            info_wall, _ = timed([exe, "info", out])
            n = 1
            for ax in axes:
                n *= ax.get("count") or ax["linspace"]["count"]
            kb = os.path.getsize(out + ".parts/manifest.json") / 1024.0
            print(f"| {name} | {n:.3g} | {wall:.2f} | {rss:.0f} | {info_wall:.2f} | {kb:.0f} |")


if __name__ == "__main__":
    main()
