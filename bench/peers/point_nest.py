#!/usr/bin/env python3
"""Peer: iaf_psc_exp or izhikevich ensembles in NEST (nest-simulator wheel), no connections.

N neurons of one model with NEST defaults and a constant I_e per instance (common.lif_current /
common.izh_current), resolution --dt-ms (0.1 ms), --threads local threads
(kernel local_num_threads, NEST's shared-memory parallelism). Spike counts from a spike_recorder
(memory backend). wall_s is nest.Simulate() alone; "compile_s" is the set-up (kernel reset,
Create, SetStatus, Connect to the recorder) and a 1-step Prepare/Run warm-up is not used: NEST has
no JIT. NEST docs (Guides: "Parallel computing"; "Benchmarking") advise local_num_threads for
shared memory and to keep recording off where not needed; only spikes are recorded here.
izhikevich uses NEST's default consistent_integration = True (forward Euler).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    p = common.peer_args("iaf_psc_exp / izhikevich ensemble in NEST", 0.1)
    p.add_argument("--model", default="iaf_psc_exp", choices=["iaf_psc_exp", "izhikevich"])
    a = p.parse_args()
    common.check_args(a)
    common.limit_threads(a.threads)
    t0 = time.perf_counter()
    try:
        import nest
    except Exception as e:  # noqa: BLE001 - any import failure means the peer is absent
        common.unsupported(f"NEST not importable: {type(e).__name__}: {e}")
    import numpy as np
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": a.dt_ms, "local_num_threads": a.threads,
                          "print_time": False})
    cur = common.lif_current(a.n) if a.model == "iaf_psc_exp" else common.izh_current(a.n)
    pop = nest.Create(a.model, a.n)
    pop.set({"I_e": cur.tolist()} if a.n > 1 else {"I_e": float(cur[0])})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Simulate(a.duration_ms)
    wall = time.perf_counter() - t1
    senders = np.asarray(rec.get("events")["senders"])
    first = int(pop.global_id if a.n == 1 else pop[0].global_id)
    counts = np.bincount(senders - first, minlength=a.n)[: a.n]
    common.result(a, "nest", a.model, wall, counts, compile_s=t_setup,
                  vers=common.versions("nest-simulator"),
                  extra={"nest_version": nest.__version__ if hasattr(nest, "__version__") else None})


if __name__ == "__main__":
    main()
