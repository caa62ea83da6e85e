#!/usr/bin/env python3
"""Peer: iaf_psc_exp or izhikevich ensembles in Brian 2 C++ standalone, written to reproduce the
NEST models step for step (shared/reference/point-neuron-models.md sections 1, 2 and 5).

iaf_psc_exp (NEST defaults, no synaptic input so I_syn = 0):
  dV/dt = -(V - E_L)/tau_m + I_e/C_m, solved with Brian's 'exact' (linear) state updater, i.e. the
  propagators P22 = e^(-h/tau_m), P20 = tau_m/C_m (1 - P22) of NEST's exact integration.
  Threshold V >= V_th, reset V = V_reset. NEST clamps V for n_ref = t_ref/h steps after the step
  that spiked (its spike is stamped at the end of that step); Brian stamps the spike with the
  start of the step and holds V while t - lastspike < refractory, so refractory = t_ref + h gives
  NEST's clamped steps. With t_ref alone Brian fired more (instance 3: 68 vs 67 spikes in 1 s);
  with t_ref + h all 1000 test instances matched NEST exactly (98205 spikes, I_e 400-1000 pA).
izhikevich (NEST consistent_integration = True): forward Euler of
  dV/dt = 0.04 V^2 + 5 V + 140 - U + I_e, dU/dt = a (b V - U) with old values ('euler' updater),
  then V >= 30: V = c, U += d. Initial V = -65, U = -13.

--input poisson adds NEST-style Poisson trains (point_bench's workload, bench/point_bench.cpp kDrive):
iaf_psc_exp gets exponential PSCs (tau_syn 2 ms, 'exact' updater for the linear 3-variable system)
driven by an excitatory and an inhibitory train of 2000 Hz, +-20 pA per spike; izhikevich gets
voltage jumps of +-1 mV from two 500 Hz trains (NEST izhikevich adds the weight to V). Each train is
Brian's PoissonInput with N = 100 sources at rate/100 (a binomial count per step, mean rate x dt;
N = 1 would cap it at one spike per step).

Units are stripped (mV, ms, pA/pF as plain numbers). wall_s = the generated binary's run time
(device._last_run_time); compile_s = code generation + g++.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

LIF = """
dv/dt = (-(v - e_l)/tau_m + i_e/c_m) / ms : 1 (unless refractory)
i_e : 1 (constant)
"""
LIF_SYN = """
dv/dt = (-(v - e_l)/tau_m + (i_e + iex + iin)/c_m) / ms : 1 (unless refractory)
diex/dt = -iex / tau_s / ms : 1
diin/dt = -iin / tau_s / ms : 1
i_e : 1 (constant)
"""
IZH = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + i_e) / ms : 1
du/dt = a*(b*v - u) / ms : 1
i_e : 1 (constant)
"""


def main():
    p = common.peer_args("iaf_psc_exp / izhikevich ensemble in Brian 2 C++ standalone", 0.1)
    p.add_argument("--model", default="iaf_psc_exp", choices=["iaf_psc_exp", "izhikevich"])
    p.add_argument("--workdir", default=None)
    p.add_argument("--input", default="dc", choices=["dc", "poisson"],
                   help="dc: I_e only; poisson: I_e plus excitatory and inhibitory Poisson trains")
    a = p.parse_args()
    common.check_args(a)
    t0 = time.perf_counter()
    import numpy as np
    import brian2 as b2
    from brian2 import ms

    workdir = a.workdir or tempfile.mkdtemp(prefix=f"{a.model}_brian2_")
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = a.threads if a.threads > 1 else 0
    b2.defaultclock.dt = a.dt_ms * ms
    if a.model == "iaf_psc_exp":
        G = b2.NeuronGroup(a.n, LIF_SYN if a.input == "poisson" else LIF, method="exact",
                           threshold="v >= -55", reset="v = -70",
                           refractory=(2.0 + a.dt_ms) * ms,  # see docstring
                           namespace={"e_l": -70.0, "tau_m": 10.0, "c_m": 250.0, "tau_s": 2.0})
        G.v = -70.0
        G.i_e = common.lif_current(a.n)
    else:
        G = b2.NeuronGroup(a.n, IZH, method="euler", threshold="v >= 30",
                           reset="v = -65\nu = u + 8",
                           namespace={"a": 0.02, "b": 0.2})
        G.v = -65.0
        G.u = -13.0
        G.i_e = common.izh_current(a.n)
    if a.input == "poisson":
        from brian2 import Hz
        target, rate, w = ("iex", 2000.0, 20.0) if a.model == "iaf_psc_exp" else ("v", 500.0, 1.0)
        # bound to names: Brian's magic run() collects only objects visible in this frame
        pin_ex = b2.PoissonInput(G, target, N=100, rate=rate / 100 * Hz, weight=f"{w}")  # noqa: F841
        pin_in = b2.PoissonInput(G, "iin" if a.model == "iaf_psc_exp" else "v", N=100,  # noqa: F841
                                 rate=rate / 100 * Hz, weight=f"{-w}")
    mon = b2.SpikeMonitor(G, record=False)
    b2.run(a.duration_ms * ms)
    b2.device.build(directory=workdir, compile=True, run=False, clean=True)
    t_compile = time.perf_counter() - t0
    t1 = time.perf_counter()
    b2.device.run(directory=workdir, with_output=False)
    t_binary = time.perf_counter() - t1
    counts = np.asarray(mon.count[:])
    common.result(a, "brian2-cpp_standalone", a.model + ("+poisson" if a.input == "poisson" else ""), float(b2.device._last_run_time), counts,
                  compile_s=t_compile, vers=common.versions("brian2"),
                  extra={"binary_wall_s": t_binary, "workdir": workdir})


if __name__ == "__main__":
    main()
