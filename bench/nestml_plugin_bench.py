#!/usr/bin/env python3
"""NESTML plugins against the built-in models, same machine, same run (docs/NESTML.md, issue 15).

1. Compile time: `neurosweep model build` of NESTML's library iaf_psc_exp_neuron (analytic) and
   izhikevich_neuron (forward-Euler) into a fresh cache (generation + compilation), then the
   cached second start (a new process; nothing compiled).
2. Throughput: `neurosweep run --backend cpu` of N neurons x T ms at dt 0.1 ms (DC drive over a
   grid of I_e), built-in and plugin alternated R times; neuron-steps/s from the best wall time of
   each (whole process: spec, integration, classification, database). Target: the plugin within
   1.3x of the built-in (the same SIMD tile driver, include/neurosweep/cpu_tiles.hpp).

    python3 bench/nestml_plugin_bench.py [--build build] [--n 20000] [--ms 1000] [--repeats 3] [--threads 0] [--json]

--json: one JSON object per line instead of the text ("bench": "nestml_build" per model with the
first-build and cached-start times, "bench": "nestml" per model pair with both throughputs and the
ratio); bench/run_bench.py runs it so (its "nestml" part). Timings on a shared machine: report the
ratios and the load (printed, and in every record).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def library(name):
    py = os.environ.get("NEUROSWEEP_PYTHON") or os.path.join(ROOT, ".venv", "bin", "python")
    prefix = subprocess.run([py, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True).stdout.strip()
    p = os.path.join(prefix, "models", "neurons", name + ".nestml")
    if not os.path.isfile(p):
        sys.exit(f"{p}: not found (is nestml installed in {py}?)")
    return p


def spec(model, n, ms, lo, hi, fixed, extra=None):
    s = {"name": "bench", "model": model, "dt": "0.1 ms", "transient": "0 ms", "analysis": f"{ms} ms",
         "precision": "float", "seed": 1, "fixed": fixed,
         "axes": [{"kind": "grid", "param": "I_e", "linspace": {"start": lo, "stop": hi, "count": n}}],
         "classifier": {"slowest_period_ms": 100}, "output": {"spikes": 64}}
    s.update(extra or {})
    return s


def timed(cmd, env):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}")
    return dt, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--ms", type=float, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON record per line")
    a = ap.parse_args()

    def say(text, rec):
        if a.json:
            rec.update(load_average=os.getloadavg(), cores=os.cpu_count(), n=a.n, ms=a.ms, repeats=a.repeats,
                       threads=a.threads)
            print(json.dumps(rec), flush=True)
        else:
            print(text, flush=True)

    exe = os.path.join(a.build, "neurosweep")
    tmp = tempfile.mkdtemp(prefix="ns-nestml-bench-")
    env = dict(os.environ, NEUROSWEEP_CACHE=os.path.join(tmp, "cache"))
    if not a.json:
        print(f"load average {os.getloadavg()}, {os.cpu_count()} cores; {a.n} neurons x {a.ms} ms at 0.1 ms")
    iaf, izh = library("iaf_psc_exp_neuron"), library("izhikevich_neuron")
    rows = []
    for path, solver in ((iaf, "rk45"), (izh, "forward-Euler")):
        first, r1 = timed([exe, "model", "build", "--json", "--numeric-solver", solver, path], env)
        second, r2 = timed([exe, "model", "build", "--json", "--numeric-solver", solver, path], env)
        j1, j2 = json.loads(r1.stdout), json.loads(r2.stdout)
        say(f"{j1['name']}: first build {first:.1f} s (generate {j1['generate_s']:.1f} s, compile "
            f"{j1['compile_s']:.1f} s), cached second start {second * 1000:.0f} ms (compiled: {j2['compiled']})",
            {"bench": "nestml_build", "model": j1["name"], "numeric_solver": solver, "first_build_s": first,
             "generate_s": j1["generate_s"], "compile_s": j1["compile_s"], "cached_start_s": second,
             "second_compiled": j2["compiled"]})
    cases = [
        ("iaf_psc_exp", spec("iaf_psc_exp", a.n, a.ms, 300, 800, {}),
         spec(iaf, a.n, a.ms, 300, 800, {})),
        ("izhikevich", spec("izhikevich", a.n, a.ms, 5, 15, {"U_m": -13.0}),
         spec(izh, a.n, a.ms, 5, 15, {}, {"nestml": {"numeric_solver": "forward-Euler"}})),
    ]
    steps = a.n * a.ms / 0.1
    for name, sb, sp in cases:
        best = {"builtin": 1e99, "plugin": 1e99}
        for rep in range(a.repeats):
            for kind, s in (("builtin", sb), ("plugin", sp)):
                f = os.path.join(tmp, f"{name}_{kind}.json")
                with open(f, "w") as fh:
                    json.dump(s, fh)
                out = os.path.join(tmp, f"{name}_{kind}.h5")
                dt, _ = timed([exe, "run", f, "--backend", "cpu", "--threads", str(a.threads), "-o", out, "--force", "--quiet"], env)
                best[kind] = min(best[kind], dt)
        ratio = best["plugin"] / best["builtin"]
        rows.append((name, steps / best["builtin"], steps / best["plugin"], ratio))
        say(f"{name}: built-in {steps / best['builtin']:.3g} neuron-steps/s, NESTML plugin "
            f"{steps / best['plugin']:.3g} neuron-steps/s, time ratio plugin/built-in {ratio:.2f}",
            {"bench": "nestml", "model": name, "builtin_neuron_steps_per_s": steps / best["builtin"],
             "plugin_neuron_steps_per_s": steps / best["plugin"], "time_ratio_plugin_builtin": ratio,
             "builtin_best_s": best["builtin"], "plugin_best_s": best["plugin"]})
    shutil.rmtree(tmp, ignore_errors=True)
    if not a.json:
        print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
