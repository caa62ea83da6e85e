"""Shared helpers of the peer benchmark scripts (bench/peers/*.py) and of bench/run_bench.py.

Standard library + numpy only, so that the harness (system Python) and the peers (bench/.peers-venv)
can both import it.

Instance tables. Every peer and neurosweep simulate the same instances, so spike counts can be
compared instance by instance:
  * STG, table "p04": instance i is the P04 Table 2 neuron i % 16 (values as in
    include/neurosweep/stg.hpp, namespace p04; Prinz et al. 2004, Nat Neurosci 7:1345, Table 2).
  * STG, table "grid": instance i is a random draw from the P03 grid (Prinz et al. 2003,
    J Neurophysiol 90:3998: six equally spaced values per conductance, 0 to 5 grid steps),
    numpy default_rng(seed), drawn row by row so the first K rows do not depend on N.
  * iaf_psc_exp: I_e = 400 + 40 (i % 16) pA (rheobase with NEST defaults is
    (V_th - E_L) C_m / tau_m = 15 mV * 250 pF / 10 ms = 375 pA, so every instance fires).
  * izhikevich: I_e = 5 + (i % 16) (added to dV/dt in mV/ms; the regular-spiking defaults fire
    tonically from about I = 4).
"""
import argparse
import json
import os
import platform
import sys

import numpy as np

STG_COND_NAMES = ["gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH", "gleak"]  # mS/cm^2

# P04 Table 2 (mS/cm^2), order Na, CaT, CaS, A, KCa, Kd, H, leak: same numbers as stg.hpp p04::.
P04_NEURONS = [
    ("ABPD1", [400, 2.5, 6, 50, 10, 100, 0.01, 0]),
    ("ABPD2", [100, 2.5, 6, 50, 5, 100, 0.01, 0]),
    ("ABPD3", [200, 2.5, 4, 50, 5, 50, 0.01, 0]),
    ("ABPD4", [200, 5.0, 4, 40, 5, 125, 0.01, 0]),
    ("ABPD5", [300, 2.5, 2, 10, 5, 125, 0.01, 0]),
    ("LP1", [100, 0, 8, 40, 5, 75, 0.05, 0.02]),
    ("LP2", [100, 0, 6, 30, 5, 50, 0.05, 0.02]),
    ("LP3", [100, 0, 10, 50, 5, 100, 0, 0.03]),
    ("LP4", [100, 0, 4, 20, 0, 25, 0.05, 0.03]),
    ("LP5", [100, 0, 6, 30, 0, 50, 0.03, 0.02]),
    ("PY1", [100, 2.5, 2, 50, 0, 125, 0.05, 0.01]),
    ("PY2", [200, 7.5, 0, 50, 0, 75, 0.05, 0]),
    ("PY3", [200, 10, 0, 50, 0, 100, 0.03, 0]),
    ("PY4", [400, 2.5, 2, 50, 0, 75, 0.05, 0]),
    ("PY5", [500, 2.5, 2, 40, 0, 125, 0.01, 0.03]),
    ("PY6", [500, 2.5, 2, 40, 0, 125, 0, 0.02]),
]
# P03 grid steps (stg.hpp kParams descriptions); grid values are 0..5 steps.
P03_GRID_STEP = [100, 2.5, 2, 10, 5, 25, 0.01, 0.01]

# Instances whose traces are known to be rounding-sensitive (reference section 7: LP 4 and LP 5
# diverge between builds after 200-400 ms); the harness reports them separately.
STG_FRAGILE = {"LP4", "LP5"}


def stg_table(n, table="p04", seed=1):
    """(n, 8) float64 array of maximal conductances (mS/cm^2) and a list of instance labels."""
    if table == "p04":
        g = np.array([P04_NEURONS[i % 16][1] for i in range(n)], dtype=np.float64)
        labels = [P04_NEURONS[i % 16][0] for i in range(n)]
    elif table == "grid":
        rng = np.random.default_rng(seed)
        steps = rng.integers(0, 6, size=(n, 8))  # row-major: row i does not depend on n
        g = steps * np.array(P03_GRID_STEP, dtype=np.float64)
        labels = ["grid" + "".join(str(s) for s in row) for row in steps]
    else:
        raise ValueError(f"--table: unknown STG instance table {table!r} (expected p04 or grid)")
    return g, labels


def lif_current(n):
    """I_e (pA) per iaf_psc_exp instance."""
    return 400.0 + 40.0 * (np.arange(n) % 16)


def izh_current(n):
    """I_e (mV/ms, NEST's 'pA with R = 1') per izhikevich instance."""
    return 5.0 + 1.0 * (np.arange(n) % 16)


def peer_args(description, default_dt):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--n", type=int, default=1000, help="number of independent instances")
    p.add_argument("--duration-ms", type=float, default=1000.0, help="simulated time (ms)")
    p.add_argument("--dt-ms", type=float, default=default_dt, help="time step (ms)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads the peer may use")
    p.add_argument("--sample", type=int, default=16,
                   help="print spike counts of the first K instances")
    p.add_argument("--sample-file", default=None,
                   help="also write all spike counts (one per line) to this file")
    return p


def check_args(a):
    if a.n < 1:
        unsupported(f"--n must be >= 1 (got {a.n})")
    if not (a.duration_ms > 0 and a.dt_ms > 0):
        unsupported(f"--duration-ms and --dt-ms must be > 0 (got {a.duration_ms}, {a.dt_ms})")
    if a.threads < 1:
        unsupported(f"--threads must be >= 1 (got {a.threads})")


def versions(*dists):
    import importlib.metadata as md
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for d in dists:
        try:
            out[d] = md.version(d)
        except md.PackageNotFoundError:
            out[d] = None
    return out


def emit(record):
    """Print the one JSON result line (stdout) and exit 0."""
    sys.stdout.write(json.dumps(record, sort_keys=False) + "\n")
    sys.stdout.flush()


def unsupported(reason, **extra):
    rec = {"unsupported": reason}
    rec.update(extra)
    emit(rec)
    sys.exit(0)


def result(a, peer, model, wall_s, counts, compile_s=None, extra=None, vers=None, steps=None):
    steps = steps if steps is not None else int(round(a.duration_ms / a.dt_ms))
    counts = np.asarray(counts).astype(int)
    if a.sample_file:
        np.savetxt(a.sample_file, counts, fmt="%d")
    rec = {
        "peer": peer,
        "model": model,
        "n": a.n,
        "dt": a.dt_ms,
        "duration": a.duration_ms,
        "steps": steps,
        "threads": a.threads,
        "wall_s": wall_s,
        "compile_s": compile_s,
        "neuron_steps_per_s": (a.n * steps / wall_s) if wall_s > 0 else None,
        "spike_counts": counts[: a.sample].tolist(),
        "total_spikes": int(counts.sum()),
        "versions": vers or {},
    }
    if extra:
        rec.update(extra)
    emit(rec)


def limit_threads(threads):
    """Pin BLAS/XLA/OpenMP thread pools before the peer library is imported."""
    t = str(threads)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = t
    flags = os.environ.get("XLA_FLAGS", "")
    if "--xla_cpu_multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=%s" % ("true" if threads > 1 else "false")
    os.environ["XLA_FLAGS"] = flags.strip()
    try:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:threads]))
    except (AttributeError, OSError):
        pass
