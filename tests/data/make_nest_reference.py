#!/usr/bin/env python3
"""Record NEST's reference outputs for tests/point_nest_test.cpp into tests/data/nest_reference.json.

Run with the NEST peer environment (bench/peers/setup.sh --nest-only creates bench/.peers-venv with
the nest-simulator wheel from PyPI):

    bench/.peers-venv/bin/python tests/data/make_nest_reference.py

The output is deterministic (no random input; NEST's version is recorded in the file), so a rerun
with the same NEST reproduces it byte for byte. Nothing here is needed to build or test neurosweep.

Contents (all at resolution h, spike times as integer step stamps k with t = k h):
  * "start_states": NEST's default state variables of every point model (GetStatus), and V_m after
    E_L is changed (NEST keeps the absolute V_m of the default state).
  * "grid": refractory step counts NEST derives from t_ref (measured from the ISI under strong
    drive minus the ISI with t_ref = 0), for t_ref values on and off the grid.
  * "cases": spike trains of single neurons: the new models iaf_cond_exp and hh_cond_exp_traub
    on several parameter sets, start-state cases (E_L changed, V_m given), BMTK dynamics_params
    files (tests/data/bmtk/, loaded unchanged) and the two current generators. Drives:
      - "I_e": the parameter (acts from the first step),
      - "step": step_current_generator, amplitude_times [t0, t1], amplitudes [A, 0], delay h,
      - "dc": dc_generator of amplitude A from t = 0, delay h.
    The C++ test maps step to neurosweep's step_start = t0 + h, step_stop = t1 + h and dc to
    step_start = 2h (docs/POINT_MODELS.md); the spike stamps must then be equal.
"""
import json
import os
import sys

import nest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nest_reference.json")

nest.set_verbosity("M_ERROR")

STATE_KEYS = ["V_m", "w", "U_m", "Act_m", "Inact_h", "Act_n", "g_ex", "g_in", "threshold_spike",
              "threshold_voltage"]
MODELS = ["iaf_psc_exp", "iaf_psc_delta", "iaf_psc_alpha", "izhikevich", "aeif_cond_exp",
          "aeif_cond_alpha", "hh_psc_alpha", "glif_psc", "iaf_cond_exp", "hh_cond_exp_traub"]


def start_states():
    out = {}
    for m in MODELS:
        nest.ResetKernel()
        n = nest.Create(m)
        st = n.get()
        entry = {k: float(st[k]) for k in STATE_KEYS if k in st}
        if "E_L" in st:
            e_l = float(st["E_L"]) + 10.0
            n.set({"E_L": e_l})
            entry["after_E_L"] = {"E_L": e_l, "V_m": float(n.get("V_m"))}
        out[m] = entry
    return out


def isi(t_ref, h):
    nest.ResetKernel()
    nest.resolution = h
    n = nest.Create("iaf_psc_alpha", params={"I_e": 3000.0, "t_ref": t_ref})
    sr = nest.Create("spike_recorder")
    nest.Connect(n, sr)
    nest.Simulate(100.0)
    t = sr.get("events")["times"]
    return float(t[2] - t[1])


def grid():
    rows = []
    for h in (0.1, 0.05, 0.25):
        base = isi(0.0, h)
        for t_ref in (0.05, 0.15, 0.25, 0.35, 1.45, 2.05, 3.75, 3.85, 0.1234, 0.0499, 0.1004,
                      0.1006, 1.1, 0.0004, 0.0006, 0.3, 0.7, 2.675, 7.65, 2.4000000000000004):
            n_ref = (isi(t_ref, h) - base) / h
            rows.append({"h": h, "t_ref": t_ref, "n_ref": int(round(n_ref))})
    return rows


def bmtk(name):
    with open(os.path.join(HERE, "bmtk", name)) as f:
        return json.load(f)


def run_case(c):
    nest.ResetKernel()
    nest.resolution = c["h"]
    params = dict(c.get("params", {}))
    if "file" in c:
        params = {**bmtk(c["file"]), **params}
    n = nest.Create(c["model"], params=params)
    drive = c.get("drive", {})
    if drive.get("kind") == "step":
        g = nest.Create("step_current_generator",
                        params={"amplitude_times": [drive["t0"], drive["t1"]],
                                "amplitude_values": [drive["amp"], 0.0]})
        nest.Connect(g, n, syn_spec={"delay": c["h"]})
    elif drive.get("kind") == "dc":
        g = nest.Create("dc_generator", params={"amplitude": drive["amp"]})
        nest.Connect(g, n, syn_spec={"delay": c["h"]})
    sr = nest.Create("spike_recorder")
    nest.Connect(n, sr)
    nest.Simulate(c["t_sim"])
    t = sr.get("events")["times"]
    return [int(round(x / c["h"])) for x in t]


def cases():
    h = 0.1
    cs = []
    # iaf_cond_exp: rheobase g_L (V_th - E_L) = 250 pA at the defaults.
    cs += [
        {"name": "iaf_cond_exp defaults I_e 300", "model": "iaf_cond_exp", "params": {"I_e": 300.0}},
        {"name": "iaf_cond_exp near rheobase", "model": "iaf_cond_exp", "params": {"I_e": 255.0}},
        {"name": "iaf_cond_exp E_L -65 t_ref 3.75", "model": "iaf_cond_exp",
         "params": {"I_e": 600.0, "t_ref": 3.75, "E_L": -65.0}},
        {"name": "iaf_cond_exp step", "model": "iaf_cond_exp",
         "drive": {"kind": "step", "t0": 100.0, "t1": 350.0, "amp": 450.0}},
        {"name": "iaf_cond_exp g_L C_m V_reset", "model": "iaf_cond_exp",
         "params": {"g_L": 25.0, "C_m": 300.0, "V_reset": -65.0, "V_th": -52.0, "I_e": 700.0,
                    "tau_syn_ex": 1.0}},
        {"name": "iaf_cond_exp dc V_m given", "model": "iaf_cond_exp",
         "params": {"t_ref": 0.5, "E_L": -75.0, "V_m": -60.0},
         "drive": {"kind": "dc", "amp": 400.0}},
    ]
    # hh_cond_exp_traub
    cs += [
        {"name": "hh_cond_exp_traub I_e 50", "model": "hh_cond_exp_traub", "params": {"I_e": 50.0}},
        {"name": "hh_cond_exp_traub I_e 300", "model": "hh_cond_exp_traub", "params": {"I_e": 300.0}},
        {"name": "hh_cond_exp_traub I_e 1000 t_ref 3.75", "model": "hh_cond_exp_traub",
         "params": {"I_e": 1000.0, "t_ref": 3.75}},
        {"name": "hh_cond_exp_traub step", "model": "hh_cond_exp_traub",
         "drive": {"kind": "step", "t0": 50.0, "t1": 300.0, "amp": 400.0}},
        {"name": "hh_cond_exp_traub conductances", "model": "hh_cond_exp_traub",
         "params": {"g_Na": 19000.0, "g_K": 5000.0, "g_L": 9.0, "C_m": 110.0, "E_Na": 40.0,
                    "E_K": -80.0, "E_L": -70.0, "V_T": -60.0, "I_e": 150.0}},
        {"name": "hh_cond_exp_traub dc E_L V_m", "model": "hh_cond_exp_traub",
         "params": {"E_L": -65.0, "V_m": -70.0}, "drive": {"kind": "dc", "amp": 250.0}},
    ]
    # Start states: E_L changed, V_m left at NEST's default (or given).
    cs += [
        {"name": "iaf_psc_alpha E_L -60", "model": "iaf_psc_alpha",
         "params": {"E_L": -60.0, "V_th": -50.0, "V_reset": -60.0, "I_e": 400.0}},
        {"name": "iaf_psc_exp E_L -75 V_m -56", "model": "iaf_psc_exp",
         "params": {"E_L": -75.0, "V_m": -56.0, "I_e": 520.0}},
        {"name": "aeif_cond_exp E_L -65", "model": "aeif_cond_exp",
         "params": {"E_L": -65.0, "I_e": 600.0, "t_ref": 2.0}},
        {"name": "aeif_cond_alpha w 100", "model": "aeif_cond_alpha",
         "params": {"w": 100.0, "I_e": 700.0, "t_ref": 2.0}},
        {"name": "izhikevich V_m U_m", "model": "izhikevich",
         "params": {"V_m": -70.0, "U_m": -10.0, "I_e": 10.0}},
        {"name": "hh_psc_alpha E_L -56", "model": "hh_psc_alpha",
         "params": {"E_L": -56.0, "I_e": 800.0}},
        {"name": "glif_psc default t_ref 3.75", "model": "glif_psc",
         "drive": {"kind": "dc", "amp": 300.0}, "t_sim": 1000.0},
    ]
    # BMTK dynamics_params files, unchanged (AllenInstitute/bmtk, tests/data/bmtk/SOURCE.md).
    cs += [
        {"name": "bmtk 472363762 step 250", "model": "iaf_psc_alpha", "file": "472363762_point.json",
         "drive": {"kind": "step", "t0": 20.0, "t1": 400.0, "amp": 250.0}},
        {"name": "bmtk 472363762 dc 400", "model": "iaf_psc_alpha", "file": "472363762_point.json",
         "drive": {"kind": "dc", "amp": 400.0}},
        {"name": "bmtk 473862421 step 300", "model": "iaf_psc_alpha", "file": "473862421_point.json",
         "drive": {"kind": "step", "t0": 10.0, "t1": 450.0, "amp": 300.0}},
        {"name": "bmtk 318808427 glif step 200", "model": "glif_psc",
         "file": "318808427_glif_lif_asc_psc.json",
         "drive": {"kind": "step", "t0": 20.0, "t1": 450.0, "amp": 200.0}},
        {"name": "bmtk 593618144 glif dc 250", "model": "glif_psc",
         "file": "593618144_glif_lif_asc_psc.json", "drive": {"kind": "dc", "amp": 250.0}},
    ]
    for c in cs:
        c.setdefault("h", h)
        c.setdefault("t_sim", 500.0)
        c.setdefault("params", {})
        c.setdefault("drive", {})
        c["spikes"] = run_case(c)
    return cs


def main():
    ref = {
        "generator": "tests/data/make_nest_reference.py",
        "nest_version": nest.__version__ if hasattr(nest, "__version__") else "unknown",
        "python": sys.version.split()[0],
        "start_states": start_states(),
        "grid": grid(),
        "cases": cases(),
    }
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT}: {len(ref['cases'])} cases, {len(ref['grid'])} grid rows")


if __name__ == "__main__":
    main()
