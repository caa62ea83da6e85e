#!/usr/bin/env python3
"""Engine.evaluate as the simulator of an sbi training run on the STG neuron (issue 18 recipe).

Prior: uniform over the 8 maximal conductances within the ranges of the 2003 grid
(sweeps/prinz2003.json). Summary features: the classifier's rate, burst period, duty cycle,
spikes per burst and V range (docs/CLASSIFIER.md), NaN (undefined: not bursting) replaced by a
sentinel so the density estimator sees every simulation. Neural posterior estimation (NPE) with
sbi's defaults, then the posterior for an AB/PD-like observation (period 1000 ms, duty cycle 0.3,
12 spikes per burst) is sampled and its samples re-simulated: the fraction that meets the target
ranges of docs/SEARCH.md is printed. Before that, a held-out check: a known parameter set not in
the training set, its own summaries as the observation (posterior quantiles of the true values,
interval widths, posterior predictive label and period).

Install and one run's figures (Debian's CPU torch, sbi 0.22): docs/SEARCH.md.

    pip install sbi          # not a test dependency (it brings PyTorch)
    PYTHONPATH=python NEUROSWEEP_BIN=build/neurosweep .venv/bin/python python/examples/sbi_stg.py --n 20000

Every simulation of a batch runs in one evaluate() call (all cores or the GPU); instance indices
are the simulation numbers, so the training set is the same whatever the batch size.
"""
import argparse
import time

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
    ap.add_argument("--transient", default="10 s")
    ap.add_argument("--analysis", default="10 s")
    ap.add_argument("--slowest-period-ms", type=float, default=None,
                    help="classifier.slowest_period_ms (a short --analysis needs a lower one)")
    ap.add_argument("--samples", type=int, default=1000, help="posterior samples re-simulated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-epochs", type=int, default=2**31 - 1, help="cap on NPE training epochs")
    ap.add_argument("--train-batch", type=int, default=50, help="NPE training batch size")
    a = ap.parse_args()
    import torch
    try:
        from sbi.inference import NPE
    except ImportError:  # sbi < 0.23 (e.g. 0.22 with Debian 12's torch 1.13): the same class
        from sbi.inference import SNPE as NPE
    from sbi.utils import BoxUniform

    torch.manual_seed(a.seed)
    extra = {} if a.slowest_period_ms is None else {"classifier": {"slowest_period_ms": a.slowest_period_ms}}
    eng = ns.Engine(model="stg", dt=0.05, transient=a.transient, analysis=a.analysis, backend=a.backend, **extra)
    prior = BoxUniform(low=torch.tensor(LOW, dtype=torch.float32), high=torch.tensor(HIGH, dtype=torch.float32))
    theta = prior.sample((a.n,)).numpy().astype(np.float64)
    xs = []
    t0 = time.perf_counter()
    for i in range(0, a.n, a.batch):
        df = eng.evaluate(theta[i:i + a.batch], names=NAMES, index_offset=i)
        xs.append(summaries(df))
        print(f"simulated {min(i + a.batch, a.n)}/{a.n}; labels: {df.label.value_counts().to_dict()}", flush=True)
    t_sim = time.perf_counter() - t0
    x = np.concatenate(xs)
    t0 = time.perf_counter()
    inf = NPE(prior=prior)
    inf.append_simulations(torch.tensor(theta, dtype=torch.float32), torch.tensor(x)).train(
        max_num_epochs=a.max_epochs, training_batch_size=a.train_batch)
    posterior = inf.build_posterior()
    t_train = time.perf_counter() - t0
    print(f"simulations: {a.n} in {t_sim:.1f} s ({a.n / t_sim:.1f}/s); NPE training {t_train:.1f} s "
          f"({(getattr(inf, 'summary', None) or getattr(inf, '_summary', {})).get('epochs_trained', ['?'])[-1]} epochs)",
          flush=True)

    # Held-out check: a known parameter set the network never saw (the first bursting one of 200
    # fresh prior draws, simulated with instance indices after the training set), its own
    # summaries as the observation. Reported: where theta* falls in each marginal of the posterior
    # (quantile; calibrated posteriors put it anywhere in (0, 1), not in the tails), how much the
    # posterior narrows each prior range (90 % interval / prior width), and the posterior
    # predictive: re-simulated samples with theta*'s label and burst period within 10 %.
    held = prior.sample((200,)).numpy().astype(np.float64)
    hdf = eng.evaluate(held, names=NAMES, index_offset=a.n)
    k = int(np.argmax((hdf.label == "bursting").to_numpy())) if (hdf.label == "bursting").any() else 0
    th_star, x_star = held[k], summaries(hdf.iloc[[k]])
    print(f"held-out theta*: {dict(zip(NAMES, np.round(th_star, 4)))}; label {hdf.label.iloc[k]}, "
          f"x* = {dict(zip(FEATURES, np.round(x_star[0], 3)))}")
    t0 = time.perf_counter()
    samples = posterior.sample((a.samples,), x=torch.tensor(x_star)).numpy().astype(np.float64)
    t_samp = time.perf_counter() - t0
    q = (samples < th_star).mean(axis=0)
    width = (np.quantile(samples, 0.95, axis=0) - np.quantile(samples, 0.05, axis=0)) / (HIGH - LOW)
    for n_, q_, w_ in zip(NAMES, q, width):
        print(f"  {n_:6s} posterior quantile of theta*: {q_:.2f}; 90% interval / prior width: {w_:.2f}")
    sdf = eng.evaluate(np.clip(samples, LOW, HIGH), names=NAMES, index_offset=a.n + 200)
    same = sdf.label == hdf.label.iloc[k]
    print(f"posterior sampling {t_samp:.1f} s; re-simulated {len(sdf)} samples: label {hdf.label.iloc[k]} "
          f"{same.mean():.1%} (prior: {np.mean(hdf.label == hdf.label.iloc[k]):.1%})", end="")
    if hdf.label.iloc[k] == "bursting":
        p_star = hdf.burst_period_ms.iloc[k]
        close = same & ((sdf.burst_period_ms - p_star).abs() <= 0.1 * p_star)
        print(f"; bursting with period within 10 % of {p_star:.0f} ms: {close.mean():.1%}")
    else:
        print()

    # The AB/PD-like target of the search example (docs/SEARCH.md)
    x_o = torch.tensor([[12.0, 1000.0, 0.30, 12.0, -70.0, 30.0]], dtype=torch.float32)
    samples = posterior.sample((a.samples,), x=x_o).numpy().astype(np.float64)
    samples = np.clip(samples, LOW, HIGH)
    df = eng.evaluate(samples, names=NAMES, index_offset=a.n + 200 + a.samples)
    ok = ((df.label == "bursting") & df.burst_period_ms.between(980, 1020) & df.duty_cycle.between(0.27, 0.33)
          & df.spikes_per_burst.between(8, 20))
    print(f"AB/PD target: posterior samples re-simulated: {len(df)}; bursting {np.mean(df.label == 'bursting'):.1%}; "
          f"meeting the target ranges {ok.mean():.1%}; median period {df.burst_period_ms.median():.0f} ms")


if __name__ == "__main__":
    main()
