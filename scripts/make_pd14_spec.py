#!/usr/bin/env python3
"""Writes the sweep spec of the Potjans & Diesmann (2014) cortical microcircuit (PD14), down-scaled
as NEST's Potjans_2014 example does it (docs/NETWORKS.md, "PD14").

    python3 scripts/make_pd14_spec.py                    # sweeps/pd14_scale01.json (N and K x 0.1)
    python3 scripts/make_pd14_spec.py --scale 1 -o x.json

Sources: Potjans & Diesmann (2014), Cereb Cortex 24:785-806 (its Table 5 holds the connection
probabilities, population sizes and external in-degrees); NEST's pynest/examples/Potjans_2014
(removed from nest-simulator at 09c1a3ccf, read at e0a07455): network_params.py (values),
network.py (__derive_parameters, __create_neuronal_populations, __connect_neuronal_populations,
__create_poisson_bg_input) and helpers.py (num_synapses_from_conn_probs,
postsynaptic_potential_to_current, adjust_weights_and_input_to_synapse_scaling); summary in
shared/reference/networks-and-populations.md section 2. The formulas below are written from those
descriptions; nothing is imported from NEST.
"""
import argparse
import json
import math
import os

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
# PD14 Table 5 / network_params.py "full_num_neurons"
N_FULL = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
# network_params.py "full_mean_rates" (Hz): rates of one full-scale run, used only for the DC that
# compensates the down-scaled in-degrees (helpers.adjust_weights_and_input_to_synapse_scaling)
FULL_MEAN_RATES = [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829]
# PD14 Table 5 / network_params.py "conn_probs"[target][source]
CONN_PROBS = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
]
# PD14 Table 5 / network_params.py "K_ext": external (Poisson) in-degrees
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
BG_RATE = 8.0  # Hz per external input (network_params.py "bg_rate")
PSP_E = 0.15  # mV, mean excitatory PSP amplitude (network_params.py "PSP_exc_mean")
G = -4.0  # relative inhibitory strength (network_params.py "g")
W_REL_SD = 0.1  # relative sd of the weights ("weight_rel_std")
D_E, D_I, D_REL_SD = 1.5, 0.75, 0.5  # ms; mean delays of E / I sources, relative sd ("delay_*")
# network_params.py "neuron_params" (C_m and tau_m: NEST's iaf_psc_exp defaults, as the example)
NEURON = {"E_L": -65.0, "V_th": -50.0, "V_reset": -65.0, "t_ref": 2.0, "tau_syn_ex": 0.5, "tau_syn_in": 0.5,
          "C_m": 250.0, "tau_m": 10.0}
# network_params.py "V0_type": "optimized" (per-population normal initial V_m)
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_SD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]
DT = 0.1  # ms, sim_params.py "sim_resolution"


def psc_over_psp(C_m, tau_m, tau_syn):
    """Peak PSC per PSP amplitude of iaf_psc_exp (helpers.postsynaptic_potential_to_current):
    1 / [tau_m tau_s / (C_m (tau_s - tau_m)) ((tau_m/tau_s)^(tau_m/(tau_s-tau_m)) - (tau_m/tau_s)^(tau_s/(tau_s-tau_m)))]."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def derive(scale):
    """NEST's __derive_parameters with N_scaling = K_scaling = scale and Poisson background."""
    n = len(POPS)
    # helpers.num_synapses_from_conn_probs: K_total = ln(1 - C) / ln(1 - 1/(N_pre N_post))
    # (PD14 eq. 1: synapses drawn with replacement until the pair probability is C)
    full_syn = [[math.log(1.0 - CONN_PROBS[i][j]) / math.log((N_FULL[i] * N_FULL[j] - 1.0) / (N_FULL[i] * N_FULL[j]))
                 for j in range(n)] for i in range(n)]
    # numpy's round (half to even) as np.round in network.py; Python's round is also half-to-even
    num_neurons = [int(round(N_FULL[i] * scale)) for i in range(n)]
    num_syn = [[int(round(full_syn[i][j] * scale * scale)) for j in range(n)] for i in range(n)]
    k_ext = [int(round(K_EXT[i] * scale)) for i in range(n)]
    r = psc_over_psp(NEURON["C_m"], NEURON["tau_m"], NEURON["tau_syn_ex"])
    psc = [[PSP_E * r * ((2.0 if (i, j) == (0, 2) else 1.0) if j % 2 == 0 else G) for j in range(n)] for i in range(n)]
    psc_ext = PSP_E * r
    dc = [0.0] * n  # Poisson background: no DC before the K compensation
    if scale != 1:
        # helpers.adjust_weights_and_input_to_synapse_scaling: PSCs / sqrt(K_scaling) keep the input
        # variance; a DC keeps the mean of the missing recurrent and external input:
        # I_DC += 1e-3 tau_s (1 - sqrt(K)) (sum_x PSC_yx K_yx nu_x + PSC_ext K_ext nu_bg)
        tau_s = NEURON["tau_syn_ex"]
        for i in range(n):
            rec = sum(psc[i][j] * full_syn[i][j] / N_FULL[i] * FULL_MEAN_RATES[j] for j in range(n))
            ext = psc_ext * K_EXT[i] * BG_RATE
            dc[i] = 0.001 * tau_s * (1.0 - math.sqrt(scale)) * (rec + ext)
        psc = [[w / math.sqrt(scale) for w in row] for row in psc]
        psc_ext = psc_ext / math.sqrt(scale)
    return num_neurons, num_syn, k_ext, psc, psc_ext, dc, r


def spec(scale):
    num_neurons, num_syn, k_ext, psc, psc_ext, dc, r = derive(scale)
    w_e = psc[1][0]  # every excitatory PSC but L4E -> L23E
    params = {"w_E": w_e, "g": G, "w_rel_sd": W_REL_SD, "d_E": D_E, "d_I": D_I, "d_rel_sd": D_REL_SD,
              "d_min": 0.5 * DT, "bg_rate": BG_RATE, "w_ext": psc_ext}
    pops = []
    for i, name in enumerate(POPS):
        p = dict(NEURON)
        p["I_e"] = dc[i]
        pops.append({"name": name, "model": "iaf_psc_exp", "size": num_neurons[i], "sample": 50, "params": p,
                     "initial": {"V_m": {"distribution": "normal", "mean": V0_MEAN[i], "std": V0_SD[i]}}})
    projs = []
    for i, tgt in enumerate(POPS):
        for j, src in enumerate(POPS):
            if num_syn[i][j] <= 0:
                continue  # probability 0 (NEST connects N = 0 synapses: nothing)
            exc = j % 2 == 0
            mean = ("2*w_E" if (i, j) == (0, 2) else "w_E") if exc else "g*w_E"
            wstd = ("2*w_rel_sd*w_E" if (i, j) == (0, 2) else "w_rel_sd*w_E") if exc else "-g*w_rel_sd*w_E"
            w = {"distribution": "normal", "mean": mean, "std": wstd}
            if exc:
                w["min"] = 0  # nest.math.redraw(min=0, max=inf): excitatory weights stay >= 0
            else:
                w["max"] = 0  # nest.math.redraw(min=-inf, max=0): inhibitory weights stay <= 0
            d = "d_E" if exc else "d_I"
            projs.append({"source": src, "target": tgt, "rule": "fixed_total_number", "N": num_syn[i][j],
                          "weight": w,
                          "delay": {"distribution": "normal", "mean": d, "std": "d_rel_sd*" + d, "min": "d_min"}})
    drives = [{"target": name, "type": "poisson", "rate": "bg_rate*%d" % k_ext[i], "weight": "w_ext"}
              for i, name in enumerate(POPS)]
    return {
        "name": "pd14_scale%s" % ("%g" % scale).replace(".", ""),
        "description": ("Potjans & Diesmann (2014) cortical microcircuit, N and K scaled by %g as NEST's "
                        "Potjans_2014 example (Poisson background, V0 'optimized', DC compensation of the "
                        "scaled in-degrees); written by scripts/make_pd14_spec.py; docs/NETWORKS.md 'PD14'. "
                        "PSC/PSP = %.6f pA/mV." % (scale, r)),
        "model": "network", "dt": "%g ms" % DT, "transient": "500 ms", "analysis": "1000 ms", "seed": 55,
        "precision": "double",
        "network": {"parameters": params, "populations": pops, "projections": projs, "drives": drives},
        "output": {"spikes": 100, "rate_bin": "1 ms"},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("-o", "--out", default=None)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    out = a.out or os.path.join(here, "..", "sweeps", "pd14_scale%s.json" % ("%g" % a.scale).replace(".", ""))
    s = spec(a.scale)
    with open(out, "w") as f:
        json.dump(s, f, indent=1)
        f.write("\n")
    nn = sum(p["size"] for p in s["network"]["populations"])
    ns = sum(p["N"] for p in s["network"]["projections"])
    print("%s: %d neurons, %d synapses, %d projections" % (out, nn, ns, len(s["network"]["projections"])))


if __name__ == "__main__":
    main()
