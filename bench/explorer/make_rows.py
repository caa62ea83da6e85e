#!/usr/bin/env python3
"""A database of N sampled rows in the exact layout `neurosweep run` writes (docs/FORMAT.md:
/instances columns chunked ~1 MiB, shuffle + gzip 4 + Fletcher32, enum label/status), written by
neurosweep.store.write_table in a minute instead of simulated: for the explorer's density
benchmark at 20 million rows, whose cost depends on the number of rows and the layout, not on
how the values were computed. NOT simulation results: parameters are uniform draws over
random_20m.json's ranges and the label is a fixed rule of them (so the density has structure);
the file says so in its description.

    python bench/explorer/make_rows.py out/rows_20m.h5 [--n 20000000]
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

from neurosweep.store import write_table  # noqa: E402

LABELS = ["silent", "tonic", "adapting", "bursting", "irregular"]
RANGES = {"a": (0.01, 0.1), "b": (0.1, 0.3), "d": (0.0, 8.0), "I_e": (0.0, 15.0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=20_000_000)
    ap.add_argument("--seed", type=int, default=2004)
    a = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    n = a.n
    data = {"index": np.arange(n, dtype=np.uint64)}
    for k, (lo, hi) in RANGES.items():
        data[k] = lo + (hi - lo) * rng.random(n)
    # a label rule with curved boundaries over every pair of parameters
    lab = np.zeros(n, dtype=np.int8)
    drive = data["I_e"] * (0.5 + data["b"]) - 2.0 * data["d"] * data["a"] * 10
    lab[drive > 1.0] = 1
    lab[(drive > 3.0) & (data["d"] > 4.0)] = 2
    lab[(drive > 1.0) & (data["a"] < 0.03) & (data["d"] > 6.0)] = 3
    lab[rng.random(n) < 0.01] = 4
    data["status"] = np.zeros(n, dtype=np.uint8)
    data["label"] = lab
    rate = np.where(lab > 0, 4.0 * drive, np.nan).astype(np.float32)
    data["rate_hz"] = rate
    data["isi_cv"] = np.where(lab > 0, rng.random(n) * 0.3, np.nan).astype(np.float32)
    cols = [{"name": "index", "dtype": "u8", "units": "", "description": "instance index in the sweep", "enum_names": []}]
    cols += [{"name": k, "dtype": "f8", "units": "pA" if k == "I_e" else "", "description": "", "enum_names": []}
             for k in RANGES]
    cols += [{"name": "status", "dtype": "u1", "units": "", "description": "", "enum_names": ["ok", "nonfinite", "diverged"]},
             {"name": "label", "dtype": "i1", "units": "", "description": "", "enum_names": LABELS},
             {"name": "rate_hz", "dtype": "f4", "units": "Hz", "description": "", "enum_names": []},
             {"name": "isi_cv", "dtype": "f4", "units": "", "description": "", "enum_names": []}]
    spec = {"name": "rows", "model": "izhikevich", "dt": "0.1 ms", "transient": "10 ms", "analysis": "100 ms",
            "seed": a.seed, "description": f"{n} SYNTHETIC rows (bench/explorer/make_rows.py): not simulation results",
            "axes": [{"kind": "random", "count": n, "params": {k: {"low": lo, "high": hi} for k, (lo, hi) in RANGES.items()}}]}
    write_table(a.out, cols, data, spec=json.dumps(spec, sort_keys=True), spec_hash=hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16],
                attrs={"model": "izhikevich", "seed": a.seed, "dt_ms": 0.1, "transient_ms": 10.0, "analysis_ms": 100.0,
                       "description": spec["description"]})
    print(f"wrote {a.out}: {n:,} rows, {os.path.getsize(a.out) / 2**20:.0f} MiB, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
