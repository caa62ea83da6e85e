#!/usr/bin/env python3
"""Search benchmark of issue 18: prints figures, is not a test.

Target: an AB/PD-like burster (label bursting, burst_period_ms 1000 +- 20, duty_cycle
0.30 +- 0.03, spikes_per_burst 8-20) over the 8 STG conductances within the ranges of the 2003
grid (sweeps/prinz2003.json; 10 s transient + 10 s analysis at dt 0.05 ms, float). For each of
--seeds seeds, CMA-ES (`cma`) and random search with the same budget; success rate, evaluations
to success (median, mean over successes) and their ratio. --grid also evaluates the 6^8 = 1,679,616
points of the 2003 grid with the same engine and counts those that meet the target (hours on 2
CPU cores; seconds to minutes on a GPU); --grid-db DB counts them in a finished database of
sweeps/prinz2003.json instead (`neurosweep run sweeps/prinz2003.json -o DB`: the same settings,
engine and classifier).

    PYTHONPATH=python NEUROSWEEP_BIN=build/neurosweep .venv/bin/python bench/search_bench.py [--budget 2000]
"""
import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
from neurosweep import Engine  # noqa: E402
from neurosweep import search as S  # noqa: E402

LEVELS = {"gNa": [0, 100, 200, 300, 400, 500], "gCaT": [0, 2.5, 5, 7.5, 10, 12.5], "gCaS": [0, 2, 4, 6, 8, 10],
          "gA": [0, 10, 20, 30, 40, 50], "gKCa": [0, 5, 10, 15, 20, 25], "gKd": [0, 25, 50, 75, 100, 125],
          "gH": [0, 0.01, 0.02, 0.03, 0.04, 0.05], "gleak": [0, 0.01, 0.02, 0.03, 0.04, 0.05]}
SETTINGS = {"model": "stg", "dt": "0.05 ms", "transient": "10 s", "analysis": "10 s", "precision": "float"}
TARGETS = {"label": "bursting", "burst_period_ms": {"value": 1000, "tol": 20},
           "duty_cycle": {"value": 0.30, "tol": 0.03}, "spikes_per_burst": {"min": 8, "max": 20}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--grid", action="store_true", help="also evaluate the 2003 grid (1,679,616 neurons)")
    ap.add_argument("--grid-db", metavar="DB", help="count the 2003 grid's points that meet the target in a database "
                    "built from sweeps/prinz2003.json (the same settings, engine and classifier as --grid) and stop")
    a = ap.parse_args()
    if a.grid_db:
        return grid_from_database(a.grid_db)
    tmp = tempfile.mkdtemp(prefix="ns_search_bench_")
    res = {}
    t_start = time.time()
    for method in ("cma", "random"):
        res[method] = []
        for seed in range(a.seeds):
            search = {"params": {k: [v[0], v[-1]] for k, v in LEVELS.items()}, "targets": TARGETS,
                      "method": method, "budget": a.budget, "population": a.population, "seed": seed}
            sp = os.path.join(tmp, f"{method}-{seed}.json")
            with open(sp, "w") as f:
                json.dump(dict(SETTINGS, search=search), f)
            t0 = time.time()
            s = S.run_search(sp, sp[:-5] + ".h5", force=True, quiet=True, backend=a.backend, threads=a.threads)
            res[method].append(s)
            print(f"{method:6s} seed {seed}: success {s['success']}, evaluations to success "
                  f"{s['evaluations_to_success']}, best cost {s['best_cost']:.3g}, {time.time() - t0:.0f} s", flush=True)
    print(f"\ntarget: bursting, period 1000 +- 20 ms, duty cycle 0.30 +- 0.03, 8-20 spikes per burst; "
          f"8 conductances in the P03 ranges; budget {a.budget}, population {a.population}; {time.time() - t_start:.0f} s")
    med = {}
    for method, rs in res.items():
        ok = [r["evaluations_to_success"] for r in rs if r["success"]]
        med[method] = statistics.median(ok) if ok else None
        print(f"{method:6s}: success {len(ok)}/{len(rs)}; evaluations to success: median {med[method]}, "
              f"mean {statistics.mean(ok) if ok else None}; best costs {[round(r['best_cost'], 3) for r in rs]}")
    # Expected evaluations of random search: budget / successes-per-evaluation when it succeeds rarely.
    if med["cma"] and med["random"]:
        print(f"ratio random / cma (median evaluations to success): {med['random'] / med['cma']:.1f}")
    elif med["cma"]:
        print(f"random search: no success within {a.budget} evaluations in {a.seeds} seeds "
              f"(ratio > {a.budget / med['cma']:.1f})")
    if a.grid:
        eng = Engine(spec=SETTINGS, backend=a.backend, threads=a.threads)
        spec = S.SearchSpec(dict(SETTINGS, search={"params": {"gNa": [0, 1]}, "targets": TARGETS}), "<grid>")
        names = list(LEVELS)
        combos = itertools.product(*[LEVELS[k] for k in names])
        hits, n, t0, batch = 0, 0, time.time(), 1 << 17
        while True:
            rows = list(itertools.islice(combos, batch))
            if not rows:
                break
            df = eng.evaluate(np.array(rows), names=names, index_offset=n)
            hits += int((spec.cost(df) == 0).sum())
            n += len(rows)
            print(f"grid: {n}/1679616 evaluated, {hits} meet the target ({time.time() - t0:.0f} s)", flush=True)
        print(f"2003 grid: {hits} of {n} points meet the target")


def grid_from_database(path):
    """The --grid answer from a finished database of sweeps/prinz2003.json (neurosweep run)."""
    import neurosweep as ns
    db = ns.open(path)
    spec = S.SearchSpec(dict(SETTINGS, search={"params": {"gNa": [0, 1]}, "targets": TARGETS}), "<grid>")
    cols = ["status", "label"] + [t.feature for t in spec.targets] + list(LEVELS)
    df = db.to_pandas(columns=cols)
    if len(df) != 6 ** 8:
        sys.exit(f"{path}: {len(df)} rows; expected the whole 2003 grid (1,679,616)")
    lab, dist = spec.terms(df)
    cost = lab + dist.sum(axis=1)
    print(f"{path}: {len(df)} neurons; bursting: {int((df['label'].astype(str) == 'bursting').sum())}")
    for k, t in enumerate(spec.targets):
        print(f"  bursting and {t.feature} within its target: {int(((lab == 0) & (dist[:, k] == 0)).sum())}")
    hits = np.flatnonzero(cost == 0)
    print(f"2003 grid: {len(hits)} of {len(df)} points meet the target")
    best = np.argsort(cost, kind="stable")[:5]
    print("closest points (cost, label, features, conductances):")
    for i in best:
        r = df.iloc[i]
        print(f"  {cost[i]:.3f} {r['label']} " + " ".join(f"{t.feature}={r[t.feature]:.4g}" for t in spec.targets)
              + " | " + " ".join(f"{k}={r[k]:g}" for k in LEVELS))


if __name__ == "__main__":
    main()
