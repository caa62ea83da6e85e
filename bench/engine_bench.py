#!/usr/bin/env python3
"""neurosweep.Engine against `neurosweep run` (issue 18): prints figures, is not a test.

1. Rate: the same N STG neurons (default 10,000: a random sample over the 8 conductances in the
   ranges of the 2003 grid, 10 s transient + 10 s analysis, float, table gating) built by
   `neurosweep run` (its integrate_s and wall_s from the database's timings) and evaluated by
   Engine.evaluate (wall time of the call); the ratio of instance rates. Alternated, best of
   --repeat.
2. One-instance overhead: evaluate() of one neuron for analysis windows T = 1, 2, 4, 8 s (no
   transient); a least-squares line t = a + b T; a (the time at T = 0) is the cost of a call
   beyond its integration.

    PYTHONPATH=python NEUROSWEEP_BIN=build/neurosweep .venv/bin/python bench/engine_bench.py [--n 10000]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import neurosweep as ns  # noqa: E402

P03 = {"gNa": (0, 500), "gCaT": (0, 12.5), "gCaS": (0, 10), "gA": (0, 50), "gKCa": (0, 25),
       "gKd": (0, 125), "gH": (0, 0.05), "gleak": (0, 0.05)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--one-only", action="store_true", help="only the one-instance overhead")
    ap.add_argument("--bin", default=os.environ.get("NEUROSWEEP_BIN", os.path.join(os.path.dirname(HERE), "build", "neurosweep")))
    a = ap.parse_args()
    settings = {"model": "stg", "dt": "0.05 ms", "transient": "10 s", "analysis": "10 s", "seed": 1,
                "precision": "float"}
    spec = dict(settings, name="engine_bench",
                axes=[{"kind": "random", "count": a.n,
                       "params": {k: {"low": lo, "high": hi} for k, (lo, hi) in P03.items()}}])
    tmp = tempfile.mkdtemp(prefix="ns_engine_bench_")
    sp, db = os.path.join(tmp, "spec.json"), os.path.join(tmp, "run.h5")
    with open(sp, "w") as f:
        json.dump(spec, f)
    eng = ns.Engine(spec=settings, backend=a.backend, threads=a.threads)
    print(f"engine: {eng.backend} ({eng.device}); {a.n} STG neurons, 10 s + 10 s at dt 0.05 ms, float")
    runs, evals = [], []
    for r in range(0 if a.one_only else a.repeat):
        args = [a.bin, "run", sp, "-o", db, "-q", "--force", "--backend", a.backend]
        if a.threads:
            args += ["--threads", str(a.threads)]
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, check=True)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t_proc = time.perf_counter() - t0
        cpu_run = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        with h5py.File(db, "r") as f:
            tim = json.loads(f.attrs["timings"])
            params = {k: f["instances"][k][:] for k in P03}
            ref_label = f["instances"]["label"][:]
        runs.append((tim["integrate_s"], tim["wall_s"], t_proc, cpu_run))
        t0, p0 = time.perf_counter(), time.process_time()
        df = eng.evaluate(params)
        evals.append((time.perf_counter() - t0, time.process_time() - p0))
        same = bool(np.array_equal(df.label.cat.codes.to_numpy().astype(np.int8), ref_label))
        print(f"  repeat {r}: run integrate {runs[-1][0]:.2f} s, run wall {runs[-1][1]:.2f} s (process {t_proc:.2f} s); "
              f"evaluate {evals[-1][0]:.2f} s; CPU time: run process {cpu_run:.2f} s, evaluate {evals[-1][1]:.2f} s; "
              f"labels identical: {same}")
    if a.one_only:
        return one_instance(a)
    integ, wall = min(x[0] for x in runs), min(x[1] for x in runs)
    ev = min(x[0] for x in evals)
    cpu_r, cpu_e = min(x[3] for x in runs), min(x[1] for x in evals)
    print(f"rate: run integrate {a.n / integ:,.0f} inst/s, run wall {a.n / wall:,.0f} inst/s, "
          f"evaluate {a.n / ev:,.0f} inst/s (integration + classification)")
    print(f"evaluate / run integration rate: {integ / ev:.1%}; evaluate / run wall rate: {wall / ev:.1%}")
    print(f"per CPU second (less sensitive to other load): run process {a.n / cpu_r:,.0f} inst/CPU-s, evaluate "
          f"{a.n / cpu_e:,.0f} inst/CPU-s: evaluate / run {cpu_r / cpu_e:.1%}")
    one_instance(a)


def one_instance(a):
    """Cost of a one-row call beyond its integration: the call's wall time minus the engine's own
    integration time (df.attrs["timings"], measured inside the same call), median of 200 calls."""
    p = {k: [0.5 * (lo + hi)] for k, (lo, hi) in P03.items()}
    for dur in (1000, 10000):
        e = ns.Engine(model="stg", dt=0.05, transient=0, analysis=dur, backend=a.backend, threads=a.threads,
                      classifier={"slowest_period_ms": dur / 4})
        e.evaluate(p)
        over, integ, call = [], [], []
        for _ in range(200 if dur == 1000 else 30):
            t = e.evaluate(p).attrs["timings"]
            over.append(t["call_s"] - t["integrate_s"])
            integ.append(t["integrate_s"])
            call.append(t["call_s"])
        print(f"one instance, T = {dur / 1000:g} s: call {np.median(call) * 1e3:.2f} ms, integration "
              f"{np.median(integ) * 1e3:.2f} ms, beyond integration {np.median(over) * 1e3:.2f} ms "
              f"(check, classify, Python; 90th percentile {np.percentile(over, 90) * 1e3:.2f} ms)")

if __name__ == "__main__":
    main()
