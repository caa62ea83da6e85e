#!/usr/bin/env python3
"""Peer: an ensemble of independent Prinz STG model neurons in Brian 2, C++ standalone mode.

Equations as include/neurosweep/stg.hpp (Prinz et al. 2003, J Neurophysiol 90:3998, eqs. 1-3 and
Table 1; constants of shared/reference/prinz-stg-model.md sections 1 and 6): 8 currents, calcium
with the Nernst E_Ca at 283 K (RT/2F = 12.1936 mV), f A 1e3 = 9.395 uM per (mS/cm^2 mV), cold start
(V = -50 mV, [Ca] = 0.05 uM, m = 0, h = 1), Brian's 'exponential_euler' state updater at dt.

How the scheme matches stg.hpp's exponential Euler:
  * Brian's exponential Euler updates each variable x with dx/dt = A x + B as
    x' = -B/A + (x + B/A) e^(A dt), with A and B evaluated from the old state of every variable.
    For V this is V_inf + (V - V_inf) e^(-dt g/C), for each gate x_inf + (x - x_inf) e^(-dt/tau),
    for [Ca] Ca_inf + (Ca - Ca_inf) e^(-dt/tau_Ca): the same update as stg.hpp.
  * E_Ca is a per-neuron variable refreshed from [Ca] at the end of every step (run_regularly,
    when='end'), so the step uses E_Ca of the old [Ca] (as stg.hpp) and the [Ca] equation stays
    linear in [Ca] (exponential_euler refuses equations that are not).
  * Brian's update divides by A = -g_total/C, which is 0 at the cold start of a neuron without leak
    (reference pitfall 6). A conductance g_eps = 1e-9 mS/cm^2 to E_leak is added to avoid 0/0; its
    current is below 1e-7 uA/cm^2, 1e-8 of the smallest conductance in the P04 table.
  * Spikes are local maxima of V above 0 mV, as neurosweep's detector (engine.hpp is_peak):
    threshold 'v1 > 0 and v1 > v2 and v1 >= v' with v1, v2 the two previous samples.

Speed settings (Brian 2 docs, "Computational methods and efficiency" and "Standalone code
generation"): cpp_standalone is its fastest CPU target; OpenMP threads via
prefs.devices.cpp_standalone.openmp_threads; default compiler flags (-O3 -ffast-math
-march=native). Units are stripped (all quantities as plain numbers in the stg.hpp units, time
in ms) so no unit checks run. Compile time (code generation + g++) and run time are reported
separately; wall_s is the simulation loop alone as measured by the generated binary
(device._last_run_time).
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

EQS = """
dv/dt = (gna*mna**3*hna*(50 - v) + (gcat*mcat**3*hcat + gcas*mcas**3*hcas)*(eca - v)
         + (ga*ma**3*ha + gkca*mkca**4 + gkd*mkd**4)*(-80 - v) + gh*mh*(-20 - v)
         + (gleak + 1e-9)*(-50 - v) + iext) / c_spec / ms : 1
dca/dt = (0.05 - cak*(gcat*mcat**3*hcat + gcas*mcas**3*hcas)*(v - eca) - ca) / (200*ms) : 1
dmna/dt = (1/(1 + exp((v + 25.5)/-5.29)) - mna) / ((2.64 - 2.52/(1 + exp((v + 120)/-25)))*ms) : 1
dhna/dt = (1/(1 + exp((v + 48.9)/5.18)) - hna)
          / ((1.34/(1 + exp((v + 62.9)/-10)))*(1.5 + 1/(1 + exp((v + 34.9)/3.6)))*ms) : 1
dmcat/dt = (1/(1 + exp((v + 27.1)/-7.2)) - mcat) / ((43.4 - 42.6/(1 + exp((v + 68.1)/-20.5)))*ms) : 1
dhcat/dt = (1/(1 + exp((v + 32.1)/5.5)) - hcat) / ((210 - 179.6/(1 + exp((v + 55)/-16.9)))*ms) : 1
dmcas/dt = (1/(1 + exp((v + 33)/-8.1)) - mcas)
           / ((2.8 + 14/(exp((v + 27)/10) + exp((v + 70)/-13)))*ms) : 1
dhcas/dt = (1/(1 + exp((v + 60)/6.2)) - hcas)
           / ((120 + 300/(exp((v + 55)/9) + exp((v + 65)/-16)))*ms) : 1
dma/dt = (1/(1 + exp((v + 27.2)/-8.7)) - ma) / ((23.2 - 20.8/(1 + exp((v + 32.9)/-15.2)))*ms) : 1
dha/dt = (1/(1 + exp((v + 56.9)/4.9)) - ha) / ((77.2 - 58.4/(1 + exp((v + 38.9)/-26.5)))*ms) : 1
dmkca/dt = (ca/(ca + 3)/(1 + exp((v + 28.3)/-12.6)) - mkca)
           / ((180.6 - 150.2/(1 + exp((v + 46)/-22.7)))*ms) : 1
dmkd/dt = (1/(1 + exp((v + 12.3)/-11.8)) - mkd) / ((14.4 - 12.8/(1 + exp((v + 28.3)/-19.2)))*ms) : 1
dmh/dt = (1/(1 + exp((v + 75)/5.5)) - mh)
         / ((2/(exp((v + 169.7)/-11.6) + exp((v - 26.7)/14.3)))*ms) : 1
eca : 1
v1 : 1
v2 : 1
gna : 1 (constant)
gcat : 1 (constant)
gcas : 1 (constant)
ga : 1 (constant)
gkca : 1 (constant)
gkd : 1 (constant)
gh : 1 (constant)
gleak : 1 (constant)
"""
# Constants of stg.hpp derive(): C/area = 0.628 nF / 0.628e-3 cm^2 = 1 uF/cm^2; I_ext = 0;
# cak = f * area * 1e3 = 14.96 * 0.628e-3 * 1e3; nernst = R T / 2F at 283 K (CODATA 2018).
CM = 1.0
CAK = 14.96 * 0.628e-3 * 1e3
NERNST = 8.314462618 * 283.0 / (2.0 * 96485.33212) * 1e3
CA_OUT = 3000.0


def main():
    p = common.peer_args("Prinz STG ensemble in Brian 2 C++ standalone", 0.05)
    p.add_argument("--table", default="p04", choices=["p04", "grid"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--precision", default="double", choices=["double", "float"])
    p.add_argument("--workdir", default=None, help="standalone project directory (default: temp)")
    a = p.parse_args()
    common.check_args(a)
    g, _ = common.stg_table(a.n, a.table, a.seed)

    t0 = time.perf_counter()
    import numpy as np
    import brian2 as b2
    from brian2 import ms

    workdir = a.workdir or tempfile.mkdtemp(prefix="stg_brian2_")
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = a.threads if a.threads > 1 else 0
    if a.precision == "float":
        b2.prefs.core.default_float_dtype = np.float32
    b2.defaultclock.dt = a.dt_ms * ms

    G = b2.NeuronGroup(
        a.n, EQS, method="exponential_euler",
        threshold="v1 > 0 and v1 > v2 and v1 >= v", reset="",
        namespace={"c_spec": CM, "cak": CAK, "iext": 0.0},
    )
    for k, name in enumerate(["gna", "gcat", "gcas", "ga", "gkca", "gkd", "gh", "gleak"]):
        setattr(G, name, g[:, k])
    # Cold start (P03 p. 4001).
    G.v = -50.0
    G.v1 = -50.0
    G.v2 = -50.0
    G.ca = 0.05
    G.eca = NERNST * np.log(CA_OUT / 0.05)
    for x in ("mna", "mcat", "mcas", "ma", "mkca", "mkd", "mh"):
        setattr(G, x, 0.0)
    for x in ("hna", "hcat", "hcas", "ha"):
        setattr(G, x, 1.0)
    G.run_regularly(f"v2 = v1\nv1 = v\neca = {NERNST!r}*log({CA_OUT!r}/clip(ca, 1e-9, inf))",
                    when="end")
    mon = b2.SpikeMonitor(G, record=False)
    b2.run(a.duration_ms * ms)
    b2.device.build(directory=workdir, compile=True, run=False, clean=True)
    t_compile = time.perf_counter() - t0

    t1 = time.perf_counter()
    b2.device.run(directory=workdir, with_output=False)
    t_binary = time.perf_counter() - t1
    wall = float(b2.device._last_run_time)
    counts = np.asarray(mon.count[:])
    common.result(a, "brian2-cpp_standalone", "stg", wall, counts, compile_s=t_compile,
                  vers=common.versions("brian2"),
                  extra={"table": a.table, "precision": a.precision,
                         "binary_wall_s": t_binary, "method": "exponential_euler",
                         "workdir": workdir})


if __name__ == "__main__":
    main()
