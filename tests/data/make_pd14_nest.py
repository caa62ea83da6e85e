#!/usr/bin/env python3
"""NEST 3.10 reference of the Potjans & Diesmann (2014) microcircuit at scale 0.1 (N and K), for
tests/network_pd14_test.cpp. Writes tests/data/pd14_nest.json.

    /path/to/peers-venv/bin/python tests/data/make_pd14_nest.py [--seeds 1 2 3] [--threads 1]

The network is read from sweeps/pd14_scale01.json (written by scripts/make_pd14_spec.py from the
parameters and formulas of NEST's Potjans_2014 example), so NEST and neurosweep simulate the same
numbers: per population an iaf_psc_exp population with I_e (the DC that compensates the scaled
in-degrees) and V_m drawn from nest.random.normal(mean, std) ("optimized" V0); per projection
fixed_total_number with N synapses (autapses and multapses allowed), weight
nest.math.redraw(nest.random.normal(mean, std), min, max) and delay likewise (example's
network.py, __connect_neuronal_populations); per population one poisson_generator at
bg_rate * K_ext connected all_to_all with weight w_ext and delay 1.5 ms (the example's
delay_poisson). Reference expressions of the spec ("2*w_E") are evaluated over its parameters.

Recorded per seed (nest.rng_seed: connectivity, weights, delays, V0 and drives all change), with
the spec's transient discarded and its analysis window analysed, every neuron recorded:
  rate_hz[pop]  mean firing rate over the population (spikes / N / T),
  cv_isi[pop]   mean over neurons with >= 3 spikes of std(ISI)/mean(ISI) (numpy std, ddof 0),
  wall_s, cpu_s of nest.Simulate; build_s (create + connect), for the benchmark.
"""
import argparse
import json
import os
import re
import time

import numpy as np
import nest

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "sweeps", "pd14_scale01.json")
OUT = os.path.join(HERE, "pd14_nest.json")


def ms(s):
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(ms|s)\s*", s)
    return float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)


def value(v, params):
    if isinstance(v, (int, float)):
        return float(v)
    # + - * / and parentheses over the spec's parameter names only
    if not re.fullmatch(r"[A-Za-z0-9_.+\-*/() ]+", v):
        raise ValueError("bad reference " + v)
    return float(eval(v, {"__builtins__": {}}, dict(params)))


def nest_dist(d, params):
    if d["distribution"] != "normal":
        raise ValueError("only normal distributions are used by PD14")
    x = nest.random.normal(mean=value(d["mean"], params), std=value(d["std"], params))
    lo = value(d["min"], params) if "min" in d else -np.inf
    hi = value(d["max"], params) if "max" in d else np.inf
    return nest.math.redraw(x, min=lo, max=hi)


def run(spec, seed, threads):
    net = spec["network"]
    params = net["parameters"]
    dt, t_tr, t_an = ms(spec["dt"]), ms(spec["transient"]), ms(spec["analysis"])
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": dt, "rng_seed": seed, "local_num_threads": threads})
    t0 = time.time()
    pops = {}
    for p in net["populations"]:
        pop = nest.Create(p["model"], int(value(p["size"], params)))
        pop.set({k: value(v, params) for k, v in p["params"].items()})
        for var, d in p.get("initial", {}).items():
            pop.set({var: nest.random.normal(mean=value(d["mean"], params), std=value(d["std"], params))})
        pops[p["name"]] = pop
    for pr in net["projections"]:
        assert pr["rule"] == "fixed_total_number"
        nest.Connect(pops[pr["source"]], pops[pr["target"]],
                     {"rule": "fixed_total_number", "N": int(value(pr["N"], params))},
                     {"synapse_model": "static_synapse", "weight": nest_dist(pr["weight"], params),
                      "delay": nest_dist(pr["delay"], params)})
    for dr in net["drives"]:
        pg = nest.Create("poisson_generator", params={"rate": value(dr["rate"], params)})
        nest.Connect(pg, pops[dr["target"]], "all_to_all",
                     {"weight": value(dr["weight"], params), "delay": 1.5})
    recs = {}
    for name, pop in pops.items():
        sr = nest.Create("spike_recorder", params={"start": t_tr, "stop": t_tr + t_an})
        nest.Connect(pop, sr)
        recs[name] = sr
    build_s = time.time() - t0
    t0, c0 = time.time(), time.process_time()
    nest.Simulate(t_tr + t_an)
    wall, cpu = time.time() - t0, time.process_time() - c0
    out = {"seed": seed, "rate_hz": {}, "cv_isi": {}, "wall_s": wall, "cpu_s": cpu, "build_s": build_s,
           "threads": threads}
    for name, pop in pops.items():
        ev = recs[name].get("events")
        senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"])
        n = len(pop)
        out["rate_hz"][name] = len(times) / n / (t_an * 1e-3)
        cvs = []
        order = np.lexsort((times, senders))
        senders, times = senders[order], times[order]
        for s in np.unique(senders):
            t = times[senders == s]
            if len(t) >= 3:
                isi = np.diff(t)
                cvs.append(np.std(isi) / np.mean(isi))
        out["cv_isi"][name] = float(np.mean(cvs)) if cvs else None
        out.setdefault("n_cv", {})[name] = len(cvs)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out", default=OUT)
    a = ap.parse_args()
    with open(SPEC) as f:
        spec = json.load(f)
    runs = []
    for seed in a.seeds:
        r = run(spec, seed, a.threads)
        print("seed %d: sim %.1f s wall, %.1f s cpu; rates %s" % (
            seed, r["wall_s"], r["cpu_s"], ", ".join("%s %.3f" % kv for kv in r["rate_hz"].items())), flush=True)
        runs.append(r)
    res = {"nest_version": nest.__version__, "spec": "sweeps/pd14_scale01.json", "dt_ms": ms(spec["dt"]),
           "transient_ms": ms(spec["transient"]), "analysis_ms": ms(spec["analysis"]), "runs": runs}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
