#!/usr/bin/env python3
"""Engine.evaluate as the simulator of an sbi training run on the STG neuron (issue 18 recipe).

Prior: uniform over the 8 maximal conductances within the ranges of the 2003 grid
(sweeps/prinz2003.json). Summary features: the classifier's rate, burst period, duty cycle,
spikes per burst and V range (docs/CLASSIFIER.md), NaN (undefined: not bursting) replaced by a
sentinel so the density estimator sees every simulation. Neural posterior estimation (NPE) with
sbi's defaults, then the posterior for an AB/PD-like observation (period 1000 ms, duty cycle 0.3,
12 spikes per burst) is sampled and its samples re-simulated: the fraction that meets the target
ranges of docs/SEARCH.md is printed.

    pip install sbi          # not a test dependency (it brings PyTorch)
    PYTHONPATH=python NEUROSWEEP_BIN=build/neurosweep .venv/bin/python python/examples/sbi_stg.py --n 20000

Every simulation of a batch runs in one evaluate() call (all cores or the GPU); instance indices
are the simulation numbers, so the training set is the same whatever the batch size.
"""
import argparse

import numpy as np

import neurosweep as ns

LOW = np.array([0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
HIGH = np.array([500, 12.5, 10, 50, 25, 125, 0.05, 0.05])
NAMES = ["gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH", "gleak"]
FEATURES = ["rate_hz", "burst_period_ms", "duty_cycle", "spikes_per_burst", "v_min", "v_max"]
SENTINEL = -1.0  # for undefined features (not bursting, not spiking)


def summaries(df):
    x = df[FEATURES].to_numpy(dtype=np.float32)
    return np.where(np.isnan(x), SENTINEL, x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000, help="training simulations")
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--backend", default="auto")
    a = ap.parse_args()
    import torch
    from sbi.inference import NPE
    from sbi.utils import BoxUniform

    eng = ns.Engine(model="stg", dt=0.05, transient="10 s", analysis="10 s", backend=a.backend)
    prior = BoxUniform(low=torch.tensor(LOW), high=torch.tensor(HIGH))
    theta = prior.sample((a.n,)).numpy().astype(np.float64)
    xs = []
    for i in range(0, a.n, a.batch):
        df = eng.evaluate(theta[i:i + a.batch], names=NAMES, index_offset=i)
        xs.append(summaries(df))
        print(f"simulated {min(i + a.batch, a.n)}/{a.n}; labels: {df.label.value_counts().to_dict()}")
    x = np.concatenate(xs)
    inf = NPE(prior=prior)
    inf.append_simulations(torch.tensor(theta, dtype=torch.float32), torch.tensor(x)).train()
    posterior = inf.build_posterior()
    x_o = torch.tensor([[12.0, 1000.0, 0.30, 12.0, -70.0, 30.0]], dtype=torch.float32)
    samples = posterior.sample((1000,), x=x_o).numpy().astype(np.float64)
    samples = np.clip(samples, LOW, HIGH)
    df = eng.evaluate(samples, names=NAMES, index_offset=a.n)
    ok = ((df.label == "bursting") & df.burst_period_ms.between(980, 1020) & df.duty_cycle.between(0.27, 0.33)
          & df.spikes_per_burst.between(8, 20))
    print(f"posterior samples re-simulated: {len(df)}; bursting {np.mean(df.label == 'bursting'):.1%}; "
          f"meeting the target ranges {ok.mean():.1%}; median period {df.burst_period_ms.median():.0f} ms")


if __name__ == "__main__":
    main()
