#!/usr/bin/env python3
"""Simulate the states of Brunel's (2000, J Comput Neurosci 8:183) model A in NEST 3.10 and store
their activity for tests/network_activity_test.cpp (the network activity classifier,
host/classify/network_activity.hpp; docs/CLASSIFIER.md, section "Network activity").

Run with the NEST peer environment (bash bench/peers/setup.sh creates bench/.peers-venv with the
nest-simulator wheel from PyPI):

    bench/.peers-venv/bin/python tests/data/make_brunel_states_nest.py [--features-only]

(--features-only: recompute the features from the stored files, without NEST.)

Deterministic for a given NEST version (fixed rng seeds, one thread): a rerun reproduces both files.

Model A, reduced (Brunel 2000 section 2; parameters in shared/reference/networks-and-populations.md
section 1.1): N_E = 5000 excitatory and N_I = N_E / 4 inhibitory iaf_psc_delta neurons (tau 20 ms,
theta 20 mV, V_r 10 mV, t_ref 2 ms, E_L 0, C_m 1 so that weights are PSP jumps in mV), each with
C_E = 0.1 N_E excitatory and C_I = C_E / 4 inhibitory inputs (NEST fixed_indegree), weights J and
-g J, delay D = 1.5 ms, and independent Poisson input of rate C_E nu_ext with weight J.
The network is reduced keeping C_E J at the full model's 1000 x 0.1 mV = 100 mV, so nu_thr =
theta / (J C_E tau) = 10 Hz and the mean input of every state is unchanged (J = 0.2 mV; the input
fluctuations grow by sqrt(2)). Size: N_E = 2000 (J = 0.5 mV) does not keep the states: there AI
(g 5, eta 2) and SI fast (6, 4) have the same excess variance (kappa 0.23 and 0.15) and similar
weak spectral peaks (ratio 5 and 8 at 137 and 165 Hz), and SI slow (4.5, 0.9) shows no slow
oscillation (18 Hz rate, peak at 168 Hz). At N_E = 5000 SI fast has a sharp 175 Hz peak (ratio
40) and SI slow a 29 Hz oscillation, as in NEST at full size (reference section 1.3: 187 and
24 Hz). Full size (N_E = 10000) took over 15 minutes per state on the shared 2-core machine.

States (Brunel Fig. 8, via the reference section 1.3): SR (g 3, eta 2), SI fast (6, 4), AI (5, 2),
SI slow (4.5, 0.9); plus quiescent (5, 0.5: mean input 10 mV, 7 sigma below threshold) and
runaway (3, 30: the external drive alone holds every neuron near its maximum rate 1/t_ref), each with
2 seeds (runaway: 1 seed, 300 ms, to keep the files small).

Outputs:
  brunel_states_nest.bin: little-endian uint16 words. Per population: the spike count of the whole
    population in each 1 ms bin of the analysis window, then the spike times of the sampled neurons
    (the first N_SAMPLE of the population) as integer steps of h = 0.1 ms from the window start.
  brunel_states_nest.json: the runs, offsets into the .bin, the classifier settings the features
    were computed with, and the features computed here with numpy/scipy, independently of the C++
    code (same definitions, docs/CLASSIFIER.md): rate, mean CV of ISIs, Golomb's chi and its
    finite-size-corrected pairwise correlation, the excess variance kappa of the population rate,
    the Welch peak of the population rate; and Brunel's mean-field rate of each state.
"""
import json
import os
import sys
import time

import numpy as np
import scipy.signal

import nest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.environ.get("BRUNEL_OUT_DIR", HERE)
OUT_JSON = os.path.join(OUT_DIR, "brunel_states_nest.json")
OUT_BIN = os.path.join(OUT_DIR, "brunel_states_nest.bin")

N_E = int(os.environ.get("BRUNEL_NE", 5000))
N_I = N_E // 4
C_E = N_E // 10
C_I = C_E // 4
J = 0.1 * 1000 / C_E          # C_E J = 100 mV as in the full model (J = 0.1 mV, C_E = 1000)
D = 1.5
TAU, THETA, V_R, T_REF = 20.0, 20.0, 10.0, 2.0
H = 0.1
NU_THR = THETA / (J * C_E * TAU) * 1000.0  # Hz (10 Hz)
BIN_MS = 1.0
N_SAMPLE = 50
WARMUP_MS = 300.0

# Classifier settings the features below use: the C++ defaults (NetActivitySettings); the test
# checks they are equal.
SETTINGS = {
    "cv_min_spikes": 5,
    "sync_bin_ms": 2.0,
    "welch_segment_ms": 256.0,
    "osc_min_hz": 10.0,
    "osc_max_hz": 450.0,
    "osc_floor_octaves": 1.0,
    "osc_halfwidth_hz": 10.0,
    "osc_peak_ratio": 4.0,
}

STATES = [  # name, expected label, g, eta, seeds, analysis window (ms)
    ("SR", "SR", 3.0, 2.0, [1, 2], 1000.0),
    ("SI_fast", "SI_fast", 6.0, 4.0, [1, 2], 1000.0),
    ("AI", "AI", 5.0, 2.0, [1, 2], 1000.0),
    ("SI_slow", "SI_slow", 4.5, 0.9, [1, 2], 1000.0),
    ("quiescent", "quiescent", 5.0, 0.5, [1, 2], 1000.0),
    ("runaway", "runaway", 3.0, 30.0, [1], 300.0),
]


def simulate(g, eta, seed, t_ms):
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": H, "rng_seed": seed, "local_num_threads": 1,
                          "print_time": False})
    p = {"C_m": 1.0, "tau_m": TAU, "t_ref": T_REF, "E_L": 0.0, "V_reset": V_R, "V_th": THETA}
    ex = nest.Create("iaf_psc_delta", N_E, params=p)
    inh = nest.Create("iaf_psc_delta", N_I, params=p)
    # random start in [0, theta) so the run does not begin with a synchronous volley
    (ex + inh).V_m = nest.random.uniform(0.0, THETA)
    noise = nest.Create("poisson_generator", params={"rate": eta * NU_THR * C_E})
    rec = nest.Create("spike_recorder")
    nest.Connect(noise, ex + inh, syn_spec={"weight": J, "delay": D})
    nest.Connect(ex, ex + inh, {"rule": "fixed_indegree", "indegree": C_E},
                 {"weight": J, "delay": D})
    nest.Connect(inh, ex + inh, {"rule": "fixed_indegree", "indegree": C_I},
                 {"weight": -g * J, "delay": D})
    nest.Connect(ex + inh, rec)
    nest.Simulate(WARMUP_MS + t_ms)
    ev = rec.get("events")
    return np.asarray(ev["senders"]), np.asarray(ev["times"]), ex, inh


# ---- features, computed independently of the C++ code (definitions: docs/CLASSIFIER.md) ----

def cv_mean(trains, min_spikes):
    cvs = []
    for t in trains:
        if len(t) >= min_spikes:
            isi = np.diff(t)
            cvs.append(np.std(isi) / np.mean(isi))
    return (float(np.mean(cvs)) if cvs else float("nan")), len(cvs)


def golomb_chi(trains, t0, t1, bin_ms):
    # Golomb (2007, Scholarpedia 2:1347) chi^2 = Var_t[mean_i s_i] / mean_i Var_t[s_i], with s_i
    # the spike count of sampled neuron i in bins of bin_ms.
    nb = int(np.floor((t1 - t0) / bin_ms + 1e-9))
    s = np.zeros((len(trains), nb))
    for i, t in enumerate(trains):
        b = np.floor((np.asarray(t) - t0) / bin_ms + 1e-9).astype(int)
        b = b[(b >= 0) & (b < nb)]
        np.add.at(s[i], b, 1)
    den = s.var(axis=1).mean()
    if den <= 0:
        return float("nan"), float("nan")
    chi2 = s.mean(axis=0).var() / den
    n = len(trains)
    return float(np.sqrt(chi2)), float((n * chi2 - 1) / (n - 1))


def rate_kappa(counts, n_neurons, trains, t0, t1, bin_ms):
    # Synchrony of the whole population: kappa = c / mu^2, c the mean pairwise covariance of the
    # neurons' spike counts per bin, mu their mean count per bin (the squared CV of the population
    # rate in excess of the finite-size noise of independent neurons). With x = population count
    # / N per bin: Var_t[x] = vbar / N + (1 - 1/N) c, vbar the mean single-neuron count variance
    # (from the sampled neurons; mu when none is sampled, i.e. Poisson). se: standard error of
    # kappa for independent neurons, sqrt(2 / n_bins) (vbar / N) / mu^2.
    x = np.asarray(counts, dtype=float) / n_neurons
    mu = x.mean()
    if mu <= 0 or n_neurons < 2:
        return float("nan"), float("nan")
    nb = len(x)
    if trains:
        s = np.zeros((len(trains), nb))
        for i, t in enumerate(trains):
            b = np.floor((np.asarray(t) - t0) / bin_ms + 1e-9).astype(int)
            b = b[(b >= 0) & (b < nb)]
            np.add.at(s[i], b, 1)
        vbar = s.var(axis=1).mean()
    else:
        vbar = mu
    c = (x.var() - vbar / n_neurons) / (1 - 1 / n_neurons)
    return float(c / mu ** 2), float(np.sqrt(2 / nb) * vbar / n_neurons / mu ** 2)


def oscillation(rate, bin_ms, st):
    fs = 1000.0 / bin_ms
    nseg = min(len(rate), int(round(st["welch_segment_ms"] / bin_ms)))
    f, p = scipy.signal.welch(rate, fs=fs, window="hann", nperseg=nseg, noverlap=nseg // 2,
                              detrend="linear", scaling="density")
    total = p[1:].sum()
    oct2 = 2.0 ** st["osc_floor_octaves"]
    sig, best_ratio = [], 0.0
    for k in range(1, len(f) - 1):
        if not (st["osc_min_hz"] <= f[k] <= st["osc_max_hz"]):
            continue
        if not (p[k] > p[k - 1] and p[k] >= p[k + 1]):
            continue
        nb = (f >= f[k] / oct2) & (f <= f[k] * oct2) & (f > 0)
        floor = np.median(p[nb])
        ratio = p[k] / floor if floor > 0 else float("inf")
        best_ratio = max(best_ratio, ratio)
        if ratio >= st["osc_peak_ratio"]:
            sig.append(k)
    # dominant: the lowest significant peak with at least half the strongest one's power
    if sig:
        pmax = max(p[k] for k in sig)
        k = next(k for k in sig if p[k] >= 0.5 * pmax)
        # parabolic interpolation of log power over the three bins around the peak
        a, b, c = np.log(p[k - 1]), np.log(p[k]), np.log(p[k + 1])
        den = a - 2 * b + c
        delta = 0.5 * (a - c) / den if den < 0 else 0.0
        band = (f >= f[k] - st["osc_halfwidth_hz"]) & (f <= f[k] + st["osc_halfwidth_hz"])
        rel = p[band].sum() / total if total > 0 else 0.0
        return float(f[k] + delta * (f[1] - f[0])), float(rel), float(best_ratio)
    return float("nan"), 0.0, float(best_ratio)


def simulate_all():
    """Run NEST for every state and seed; write the .bin and the JSON without features.
    Held-out checks (not the test data): BRUNEL_SEEDS=3,4 BRUNEL_OUT_DIR=/tmp/x runs other seeds."""
    words = []  # uint16 chunks
    offset = 0
    runs = []
    seeds_env = os.environ.get("BRUNEL_SEEDS")
    for name, label, g, eta, seeds, t_ms in STATES:
        if seeds_env:
            seeds = [int(x) for x in seeds_env.split(",")]
        for seed in seeds:
            t_wall = time.time()
            senders, times, ex, inh = simulate(g, eta, seed, t_ms)
            steps = np.rint(times / H).astype(np.int64)
            k0, k1 = int(round(WARMUP_MS / H)), int(round((WARMUP_MS + t_ms) / H))
            keep = (steps >= k0) & (steps < k1)
            senders, steps = senders[keep], steps[keep] - k0
            nbins = int(round(t_ms / BIN_MS))
            pops = []
            for pname, pop in (("E", ex), ("I", inh)):
                ids = np.asarray(pop.tolist())
                inpop = (senders >= ids[0]) & (senders <= ids[-1])
                counts = np.bincount((steps[inpop] * H // BIN_MS).astype(int), minlength=nbins)
                assert counts.max() < 65536 and len(counts) == nbins
                entry = {"name": pname, "n_neurons": int(len(ids)), "counts_offset": offset,
                         "n_bins": nbins}
                words.append(counts.astype("<u2"))
                offset += nbins
                trains = [np.sort(steps[senders == i]) for i in ids[:N_SAMPLE]]
                entry["sample_offset"] = offset
                entry["sample_n_spikes"] = [int(len(t)) for t in trains]
                for t in trains:
                    words.append(t.astype("<u2"))
                    offset += len(t)
                pops.append(entry)
            runs.append({"state": name, "expected_label": label, "g": g, "eta": eta,
                         "seed": seed, "t_start_ms": 0.0, "t_stop_ms": t_ms, "pops": pops})
            print(f"{name:10s} seed {seed}: simulated in {time.time() - t_wall:.0f} s", flush=True)
    data = np.concatenate(words).astype("<u2")
    data.tofile(OUT_BIN)
    meta = {
        "generator": "tests/data/make_brunel_states_nest.py",
        "nest_version": nest.__version__,
        "model": {"N_E": N_E, "N_I": N_I, "C_E": C_E, "C_I": C_I, "J_mV": J, "D_ms": D,
                  "tau_ms": TAU, "theta_mV": THETA, "V_r_mV": V_R, "t_ref_ms": T_REF,
                  "nu_thr_hz": NU_THR, "h_ms": H, "warmup_ms": WARMUP_MS},
        "bin_ms": BIN_MS, "n_sample": N_SAMPLE,
        "binary": os.path.basename(OUT_BIN), "binary_words": int(len(data)),
        "runs": runs,
    }
    with open(OUT_JSON, "w") as fh:
        json.dump(meta, fh, indent=1)


def mean_field_rate(g, eta):
    """Stationary rate of Brunel's (2000) model A in the diffusion approximation (his eq. 21, via
    shared/reference/networks-and-populations.md section 1.2) for this reduced network (the
    fluctuations sigma^2 = J^2 C_E tau (...) grow as 1/C_E at fixed C_E J)."""
    from scipy.integrate import quad
    from scipy.optimize import brentq
    from scipy.special import erfcx
    tau, tref, gam = TAU * 1e-3, T_REF * 1e-3, C_I / C_E
    nu_ext = eta * NU_THR

    def phi(nu):
        mu = C_E * J * tau * (nu_ext + nu * (1 - g * gam))
        sig = np.sqrt(J * J * C_E * tau * (nu_ext + nu * (1 + g * g * gam)))
        lo, hi = (V_R - mu) / sig, (THETA - mu) / sig
        integral = quad(lambda u: erfcx(-u), lo, hi, limit=200)[0]
        return 1.0 / (tref + tau * np.sqrt(np.pi) * integral)

    grid = np.linspace(0.0, 1 / tref - 1e-3, 400)
    vals = [nu - phi(nu) for nu in grid]
    for a, b, fa, fb in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
        if fa * fb <= 0:
            return float(brentq(lambda nu: nu - phi(nu), a, b))
    return float("nan")


def add_features():
    """Features of every stored run, from the stored data (what the C++ test reads)."""
    with open(OUT_JSON) as fh:
        meta = json.load(fh)
    data = np.fromfile(OUT_BIN, dtype="<u2")
    h, bin_ms = meta["model"]["h_ms"], meta["bin_ms"]
    meta["settings"] = SETTINGS
    for run in meta["runs"]:
        t0, t1 = run["t_start_ms"], run["t_stop_ms"]
        run["mean_field_rate_hz"] = mean_field_rate(run["g"], run["eta"])
        for pop in run["pops"]:
            o, nb = pop["counts_offset"], pop["n_bins"]
            counts = data[o:o + nb].astype(np.int64)
            rate = counts / pop["n_neurons"] / (bin_ms * 1e-3)
            o = pop["sample_offset"]
            trains = []
            for n in pop["sample_n_spikes"]:
                trains.append(data[o:o + n].astype(np.int64) * h)
                o += n
            cv, n_cv = cv_mean(trains, SETTINGS["cv_min_spikes"])
            chi, corr = golomb_chi(trains, t0, t1, SETTINGS["sync_bin_ms"])
            kap, kap_se = rate_kappa(counts, pop["n_neurons"], trains, t0, t1, bin_ms)
            f, rel, ratio = oscillation(rate, bin_ms, SETTINGS)
            pop["features"] = {
                "rate_hz": float(rate.mean()), "cv_isi": cv, "n_cv": n_cv,
                "synchrony_chi": chi, "sync_corr": corr, "sync_kappa": kap,
                "sync_kappa_se": kap_se, "osc_freq_hz": f, "osc_power": rel,
                "osc_peak_ratio": ratio,
            }
        fe = run["pops"][0]["features"]
        print(f"{run['state']:10s} seed {run['seed']}: E rate {fe['rate_hz']:.2f} Hz "
              f"(mean field {run['mean_field_rate_hz']:.2f}), "
              f"CV {fe['cv_isi']:.3f}, chi {fe['synchrony_chi']:.3f}, corr {fe['sync_corr']:.4f}, "
              f"kappa {fe['sync_kappa']:.3f} +- {fe['sync_kappa_se']:.4f}, "
              f"peak {fe['osc_freq_hz']:.1f} Hz (power {fe['osc_power']:.3f}, ratio "
              f"{fe['osc_peak_ratio']:.1f})")
    def nan_to_null(x):  # JSON has no NaN
        if isinstance(x, float) and x != x:
            return None
        if isinstance(x, dict):
            return {k: nan_to_null(v) for k, v in x.items()}
        if isinstance(x, list):
            return [nan_to_null(v) for v in x]
        return x

    with open(OUT_JSON, "w") as fh:
        json.dump(nan_to_null(meta), fh, indent=1, allow_nan=False)
        fh.write("\n")
    print(f"wrote {OUT_BIN} ({os.path.getsize(OUT_BIN)} bytes) and {OUT_JSON}")


def main():
    if "--features-only" not in sys.argv:
        simulate_all()
    add_features()


if __name__ == "__main__":
    sys.exit(main())
