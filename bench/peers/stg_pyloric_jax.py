#!/usr/bin/env python3
"""Peer: pyloric-network-simulator (A. René; PyPI pyloric-network-simulator, import
pyloric_network_simulator.prinz2004), the JAX implementation of the Prinz 2003/2004 STG model.

What the package offers (read from prinz2004.py, version 0.1.3):
  * one public simulator, Prinz2004(pop_sizes, gs, g_ion, ge), for a *network*; its integrate()
    calls scipy.integrate.solve_ivp(method="RK45", first_step=0.005) on dX, the right-hand side,
    compiled with jax.jit (the package's speed advice: "JAX's JIT capability is used to compile
    the model ... speeds comparable with a plain C/C++ implementation"). Neurons of one population
    share one conductance row of g_ion; synaptic input is computed densely for every pair of
    populations (gs[i, j] * s[pre] * (V[post, newaxis] - E)), so its cost grows as n^2 even when
    gs = 0. There is no single-neuron API, no fixed-step integrator and no vmap over instances.
  * state in transformed variables (V, log[Ca], logit s, logit m, logit h); cold start
    logit m = -10, logit h = +10 (m ~ 4.5e-5, not 0).
  * constants differ from stg.hpp: RT/2F fixed at 12.2 mV (ours 12.1936 at 283 K) and the calcium
    equation uses f * current density without the area factor A 1e3 = 0.628 (reference pitfall 5:
    the calcium influx is 1/0.628 = 1.59x ours).

Modes (--mode):
  package  the documented API: one Prinz2004 model, gs = 0, ge = 0 (no coupling), one population
           per distinct conductance set. dX hard-codes 4 populations (its synaptic reversal tuple),
           so at most 4 distinct neurons: ABPD1, LP1, PY1, PY4 of P04, n/4 copies each (instance
           i = those four in turn; --table grid is not possible), cold start
           (the package's on-demand 5 s thermalisation is skipped: it is a separate 5-10 min
           one-off), integrate() over segments of --segment-ms with V sampled at dt for spike
           counts. Package constants unchanged.
  vmap     the package's jitted right-hand side dX for a one-neuron model (its single-neuron use,
           gs = ge = 0), vectorised over instances with jax.vmap, advanced by a fixed-step
           integrator inside one jax.lax.scan, the whole loop jit-compiled. Explicit fixed
           steps on the package's logit-transformed state diverge (NaN) at dt >= 0.01 ms (Euler
           and RK4 tried), so the default is forward Euler at dt/10 = 0.005 ms with spikes detected
           on the dt samples; throughput is counted in dt = 0.05 ms steps, i.e. the same
           simulated time as the other peers: the fastest way to run many independent neurons with this package's
           equations. By default f and RT/2F are passed as stg.hpp's values (14.96 * 0.628 and
           12.1936 mV) so spike counts are comparable with neurosweep; --package-constants keeps
           the package's. Compile time (jit) is timed separately from integration.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def _import(threads):
    common.limit_threads(threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    # The package writes its thermalisation cache next to the config; keep it out of site-packages.
    import jax
    jax.config.update("jax_enable_x64", os.environ.get("PEER_JAX_X64", "1") == "1")
    import numpy as np
    from pyloric_network_simulator import prinz2004 as pz
    return jax, np, pz


PACKAGE_NEURONS = [0, 5, 10, 13]  # ABPD1, LP1, PY1, PY4


def run_package(a):
    jax, np, pz = _import(a.threads)
    if a.table != "p04":
        common.unsupported("package mode: one population per distinct conductance set; use --table p04")
    # dX hard-codes the synaptic reversal tuple for 4 populations (PD, AB, LP, PY): a model has at
    # most 4 populations, hence at most 4 distinct conductance sets. Use one AB/PD, LP and two PY
    # neurons of P04 Table 2; instance i is PACKAGE_NEURONS[i % 4].
    if a.n % 4:
        common.unsupported("package mode: --n must be a multiple of 4 (4 populations at most)")
    if a.n > a.max_package_n:
        common.unsupported(f"package mode: dense synaptic block costs n^2 = {a.n**2:.1e} per "
                           f"right-hand side; capped at n <= {a.max_package_n} (--max-package-n)")
    gall, labels_all = common.stg_table(16, "p04")
    g = gall[PACKAGE_NEURONS]
    k = a.n // 4
    pops = {f"N{i}": k for i in range(4)}  # names outside AB/PD/LP/PY: no AB/PD splitting
    model = pz.Prinz2004(pop_sizes=pops, gs=np.zeros((4, 4)), g_ion=g, ge=0.0)
    X0 = pz.State.cold_initialized(a.n)
    dt = a.dt_ms
    seg_steps = max(1, int(round(a.segment_ms / dt)))
    total = int(round(a.duration_ms / dt))
    # Compile once (first call of dX) outside the timed loop.
    t0 = time.perf_counter()
    model.integrate(0.0, X0, np.array([0.0, dt]))
    t_compile = time.perf_counter() - t0
    # instance order of the model: population i holds instances i*k..(i+1)*k-1 -> neuron i
    v1 = np.full(a.n, -50.0)
    v2 = v1.copy()
    counts = np.zeros(a.n, dtype=np.int64)
    X = np.asarray(X0.to_vector())
    done = 0
    nfev = 0
    t1 = time.perf_counter()
    while done < total:
        m = min(seg_steps, total - done)
        t_eval = (done + np.arange(1, m + 1)) * dt
        res = model.integrate(done * dt, pz.State.from_array(X), np.concatenate(([done * dt], t_eval)))
        nfev += int(res.nfev)
        V = np.asarray(res.y[: a.n, 1:])  # row block 0 of the flat state is V
        for j in range(V.shape[1]):
            v = V[:, j]
            counts += (v1 > 0) & (v1 > v2) & (v1 >= v)
            v2, v1 = v1, v
        X = np.asarray(res.y[:, -1])
        done += m
        if time.perf_counter() - t1 > a.time_limit_s:
            common.unsupported(f"package mode: exceeded --time-limit-s {a.time_limit_s} after "
                               f"{done * dt:.0f} ms simulated", partial_ms=done * dt,
                               partial_wall_s=time.perf_counter() - t1)
    wall = time.perf_counter() - t1
    # report counts in the common instance order (instance i = P04 neuron i % 16)
    order = np.array([(i % 4) * k + i // 4 for i in range(a.n)])
    labels = [labels_all[PACKAGE_NEURONS[i % 4]] for i in range(a.n)]
    return wall, t_compile, counts[order], {"sample_labels": labels[: a.sample], "rhs_evaluations": nfev, "integrator": "solve_ivp RK45 (adaptive)",
                                            "constants": "package (RT/2F 12.2 mV, f without area)"}


def run_vmap(a):
    jax, np, pz = _import(a.threads)
    jnp = jax.numpy
    g, labels = common.stg_table(a.n, a.table, a.seed)
    one = pz.Prinz2004(pop_sizes={"N0": 1}, gs=np.zeros((1, 1)), g_ion=g[:1], ge=0.0)
    pop_slices = tuple(slc.__reduce__() for slc in one.pop_slices.values())
    syn_slices = (one.syn_slices["chol"].__reduce__(), one.syn_slices["glut"].__reduce__())
    elec_slice = one.elec_slice.__reduce__()
    X0 = np.asarray(pz.State.cold_initialized(1).to_vector())
    E0 = np.asarray(one.E(np.array([0.05])))  # (7, 1); E_Ca entries are recomputed inside dX
    kw = {}
    if not a.package_constants:
        kw = {"f": 14.96 * 0.628, "γ": 8.314462618 * 283.0 / (2.0 * 96485.33212) * 1e3}
    gs0 = jnp.zeros((1, 1))

    def rhs(X, gi):
        return pz.dX(0.0, X, gi[None, :7], gi[7:8], gs0, 0.0, pop_slices, syn_slices, elec_slice,
                     E0, 1, None, **kw)

    frhs = jax.vmap(rhs)
    dt = a.dt_ms / a.substeps  # integrator step; spikes are detected on the samples every dt_ms

    if a.integrator == "rk4":
        def step(X, G):
            k1 = frhs(X, G)
            k2 = frhs(X + 0.5 * dt * k1, G)
            k3 = frhs(X + 0.5 * dt * k2, G)
            k4 = frhs(X + dt * k3, G)
            return X + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    else:
        def step(X, G):
            return X + dt * frhs(X, G)

    def body(carry, _):
        X, v1, v2, cnt, G = carry
        X = jax.lax.fori_loop(0, a.substeps, lambda _, X: step(X, G), X, unroll=True)
        v = X[:, 0]
        cnt = cnt + ((v1 > 0) & (v1 > v2) & (v1 >= v)).astype(cnt.dtype)
        return (X, v, v1, cnt, G), None

    @jax.jit
    def run(X, G, v1, v2, cnt):
        carry, _ = jax.lax.scan(body, (X, v1, v2, cnt, G), None, length=chunk)
        return carry

    total = int(round(a.duration_ms / a.dt_ms))
    chunk = min(total, max(1, int(round(a.segment_ms / a.dt_ms))))
    fdt = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    X = jnp.asarray(np.tile(X0, (a.n, 1)), dtype=fdt)
    G = jnp.asarray(g, dtype=fdt)
    v1 = jnp.full((a.n,), -50.0, dtype=fdt)
    v2 = v1
    cnt = jnp.zeros((a.n,), dtype=jnp.int32)
    t0 = time.perf_counter()
    compiled = run.lower(X, G, v1, v2, cnt).compile()
    t_compile = time.perf_counter() - t0
    done = 0
    t1 = time.perf_counter()
    while done + chunk <= total:
        X, v1, v2, cnt, G = compiled(X, G, v1, v2, cnt)
        done += chunk
        if time.perf_counter() - t1 > a.time_limit_s and done < total:
            jax.block_until_ready(X)
            common.unsupported(f"vmap mode: exceeded --time-limit-s {a.time_limit_s} after "
                               f"{done * a.dt_ms:.0f} ms simulated", partial_ms=done * a.dt_ms,
                               partial_wall_s=time.perf_counter() - t1)
    jax.block_until_ready(cnt)
    wall = time.perf_counter() - t1
    if done < total:
        common.unsupported(f"vmap mode: duration must be a multiple of --segment-ms ({a.segment_ms})")
    rhs_per_step = 4 if a.integrator == "rk4" else 1
    return wall, t_compile, np.asarray(cnt), {
        "sample_labels": labels[: a.sample],
        "rhs_evaluations": total * a.substeps * rhs_per_step,
        "integrator": f"{a.integrator} fixed step {dt:g} ms = dt/{a.substeps} "
                      "(jax.lax.scan, jax.vmap over instances)",
        "integrator_dt": dt,
        "constants": "package" if a.package_constants else "stg.hpp (f*A*1e3, RT/2F at 283 K)",
        "x64": bool(jax.config.jax_enable_x64)}


def main():
    p = common.peer_args("Prinz STG ensemble with pyloric-network-simulator (JAX)", 0.05)
    p.add_argument("--mode", default="vmap", choices=["vmap", "package"])
    p.add_argument("--table", default="p04", choices=["p04", "grid"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--integrator", default="euler", choices=["rk4", "euler"])
    p.add_argument("--substeps", type=int, default=10,
                   help="vmap mode: integrator steps per --dt-ms sample. Explicit fixed steps on the "
                        "package's logit-transformed state diverge above about 0.005 ms (Euler 0.01 "
                        "and RK4 0.01 ms gave NaN on the P04 neurons), so the default is Euler at "
                        "0.05/10 = 0.005 ms; throughput is counted in steps of --dt-ms")
    p.add_argument("--package-constants", action="store_true")
    p.add_argument("--segment-ms", type=float, default=100.0,
                   help="simulated time per compiled chunk (vmap) or per solve_ivp call (package)")
    p.add_argument("--max-package-n", type=int, default=4096)
    p.add_argument("--time-limit-s", type=float, default=600.0)
    p.add_argument("--float32", action="store_true", help="vmap mode in float32 (default float64)")
    a = p.parse_args()
    common.check_args(a)
    if a.float32:
        os.environ["PEER_JAX_X64"] = "0"
    wall, t_compile, counts, extra = (run_package if a.mode == "package" else run_vmap)(a)
    extra.update({"mode": a.mode, "table": a.table})
    common.result(a, f"pyloric-network-simulator-{a.mode}", "stg", wall, counts, compile_s=t_compile,
                  vers=common.versions("pyloric-network-simulator", "jax", "jaxlib", "scipy"),
                  extra=extra)


if __name__ == "__main__":
    main()
