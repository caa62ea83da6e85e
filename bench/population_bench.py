#!/usr/bin/env python3
"""Population-density networks: network steps per second of `neurosweep run` on the CPU (1 and
2 threads) for the PopNet tutorial network (sweeps/popnet_tutorial_sweep.json: 2 populations of
700 bins, dt 1 ms, Taylor to 1e-12), against the dense NumPy implementation of DiPDE's update
(bench/peers/dipde_dense.py --bench, one network at a time, as DiPDE runs).

  python bench/population_bench.py --bin build/neurosweep [--peer-python bench/.peers-venv/bin/python]

Prints one JSON object. Timings on a shared machine: compare ratios, and give the load.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "neurosweep"))
    ap.add_argument("--peer-python", default=os.path.join(ROOT, "bench", ".peers-venv", "bin", "python"))
    ap.add_argument("--spec", default=os.path.join(ROOT, "sweeps", "popnet_tutorial_sweep.json"))
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    n_inst = 1
    for ax in spec.get("axes", []):
        n_inst *= ax["linspace"]["count"] if "linspace" in ax else len(ax["values"])
    steps = (float(spec["transient"].split()[0]) + float(spec["analysis"].split()[0])) / float(spec["dt"].split()[0])
    out = {"spec": os.path.relpath(a.spec, ROOT), "instances": n_inst, "steps_per_instance": steps,
           "load": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        for th in (1, 2):
            t0 = time.perf_counter()
            subprocess.run([a.bin, "run", a.spec, "-o", os.path.join(d, f"t{th}.h5"), "-q", "--force",
                            "--backend", "cpu", "--threads", str(th)], check=True)
            s = time.perf_counter() - t0
            out[f"threads_{th}"] = {"seconds": s, "network_steps_per_s": n_inst * steps / s}
    if os.path.exists(a.peer_python):
        # one BLAS thread: the per-core comparison (NumPy's OpenBLAS would take both cores)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        p = subprocess.run([a.peer_python, os.path.join(HERE, "peers", "dipde_dense.py"), "--bench"],
                           capture_output=True, text=True, check=True, env=env)
        peer = json.loads(p.stdout.strip().splitlines()[-1])
        out["dense_numpy"] = dict(peer, blas_threads=1)
        out["speedup_per_core_vs_dense"] = out["threads_1"]["network_steps_per_s"] / peer["network_steps_per_s"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
