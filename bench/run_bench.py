#!/usr/bin/env python3
"""neurosweep benchmark harness: neurosweep's own benchmark executables and the peer simulators
(bench/peers/) on the same models, in one run, on one machine; writes JSON, CSV and Markdown.

    python3 bench/run_bench.py [--quick] [--out bench/results] [--build DIR] [--threads 1,2]

Steps: (a) record the machine, compiler, versions and date; (b) run neurosweep's benchmark
executables (build*/bench/*, build*/stg_bench, ...) with --json, when present; (b2) stg_bench over
1e3..1e6 instances at 1 and 2 threads; whole database builds (`neurosweep run`, classification and
HDF5) over 1e3..1e6 instances with peak RSS and time to first result; the CPU's FP32 peak
(fp32_peak) and FLOPs per STG step (stg_flops), hence the fraction of peak; (c) run each peer
at 1e3 and 1e4 instances (1e5 when the extrapolated time fits --max-run-s), each run under a time
limit; (d) compare spike counts of the same instances: neurosweep (CLI, pluggable command
template) and every peer against a reference, within stated tolerances; (e) write
<out>/latest.json, <out>/latest.csv and <out>/latest.md (neuron-steps/s, per core, ratios
neurosweep/peer). Peers run from bench/.peers-venv (bench/peers/setup.sh); a missing peer is
reported, never fatal. System Python with the standard library and numpy suffices here.
"""
import argparse
import csv
import datetime
import glob
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
sys.path.insert(0, PEERS)
import common  # noqa: E402

# Default command template for one neurosweep instance (STG); fields: {exe}, {params} (a
# "--param k=v" list), {duration}, {dt}, {model}. Override with --ns-simulate. The output may be
# JSON with "spike_times" (list, or list of lists), "spike_count"/"n_spikes", or lines of numbers.
NS_SIMULATE = "{exe} simulate --model {model} {params} --duration {duration} --dt {dt} {extra} --format json"
# The CLI counts local maxima of V above --spike-threshold (0 mV by default). An iaf_psc_exp neuron
# never exceeds V_th = -55 mV (it is reset within the step that crosses), so its spikes are the
# maxima above -65 mV (the sample before each reset; with constant I_e V rises monotonically
# between resets, so there is no other maximum).
NS_SIMULATE_EXTRA = {"iaf_psc_exp": "--spike-threshold -65"}

# Agreement tolerances on spike counts of the same instance (stated in the report):
#  * STG, same scheme (exponential Euler, dt 0.05 ms): |delta| <= 1 per 2 s simulated (at least 1);
#    float vs double and different compilers move a spike across the window edge or add/drop one
#    near a burst edge, not more (reference section 7: 14 of 16 P04 traces agree to 1e-6 mV
#    between double builds over 2 s). LP4 and LP5 are rounding-sensitive (reference section 7):
#    listed, not counted as failures.
#  * STG, different integrator (JAX vmap: forward Euler 0.005 ms): |delta| <= 1 + 10 % (burst
#    periods change by a few percent with dt, reference section 6 item 14).
#  * iaf_psc_exp, izhikevich: exact (same update equations, deterministic).
STG_TOL_PER_2S = 1
STG_OTHER_INTEGRATOR_REL = 0.10


def sh(cmd, timeout=30):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def machine_info(ns_exe):
    lscpu = sh("lscpu")
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "hostname": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "nproc": os.cpu_count()}
    for line in lscpu.splitlines():
        k, _, v = line.partition(":")
        if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket",
                         "Socket(s)", "L3 cache", "Flags"):
            info["cpu_" + k.strip().lower().replace(" ", "_").replace("(s)", "s")] = v.strip()
    if "cpu_flags" in info:  # keep the SIMD level only
        flags = info.pop("cpu_flags").split()
        info["cpu_simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags]
    info["loadavg_start"] = os.getloadavg()
    info["provisional"] = info["loadavg_start"][0] >= 0.6  # busy machine: figures are not quotable
    info["gxx"] = sh("g++ --version").splitlines()[0] if sh("g++ --version") else None
    info["git_rev"] = sh(f"git -C {shlex.quote(ROOT)} rev-parse --short=12 HEAD") or "unknown"
    info["neurosweep_exe"] = ns_exe
    if ns_exe:
        info["neurosweep_version"] = sh(f"{shlex.quote(ns_exe)} --version")
        cache = os.path.join(os.path.dirname(ns_exe), "CMakeCache.txt")
        if os.path.exists(cache):
            for line in open(cache, errors="replace"):
                if line.startswith(("CMAKE_BUILD_TYPE:", "CMAKE_CXX_FLAGS_RELEASE:", "CMAKE_CXX_COMPILER:",
                                    "NEUROSWEEP_NATIVE:", "NEUROSWEEP_CUDA:")):
                    k, _, v = line.strip().partition("=")
                    info["cmake_" + k.split(":")[0].lower()] = v
    info["neurosweep_host_flags"] = "-O3 (Release) -ffp-contract=off -fno-math-errno -march=native (CMakeLists.txt)"
    return info


def find_neurosweep(build):
    cands = [build] if build else sorted(glob.glob(os.path.join(ROOT, "build*")), key=os.path.getmtime,
                                          reverse=True)
    exe, benches = None, []
    for b in cands:
        e = os.path.join(b, "neurosweep")
        if exe is None and os.path.isfile(e) and os.access(e, os.X_OK):
            exe = e
        if not benches:
            for pat in ("bench/*", "*_bench", "stg_bench"):
                benches += [p for p in glob.glob(os.path.join(b, pat))
                            if os.path.isfile(p) and os.access(p, os.X_OK) and not p.endswith((".cmake", ".txt"))]
            benches = sorted(set(benches))
    return exe, benches


def run_json_lines(cmd, timeout, env=None):
    """Run cmd (list); return (records, error). Records = JSON objects printed one per line."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f} s"
    except OSError as e:
        return [], f"could not start: {e}"
    recs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    err = None
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        err = f"exit {p.returncode}: " + " | ".join(tail)
    elif not recs:
        err = "no JSON line on stdout"
    for r in recs:
        r.setdefault("process_wall_s", time.perf_counter() - t0)
    return recs, err


# ---------------------------------------------------------------------------------------------
# Peer plan

def peer_plan(args):
    """List of (name, script, model, base_args, dt, duration, sizes)."""
    stg_d = 1000.0
    pt_d = 1000.0
    sizes = [1000] if args.quick else [1000, 10000, 100000]
    plan = [
        ("brian2-cpp_standalone", "stg_brian2.py", "stg", [], 0.05, stg_d, sizes),
        # about 1e5-3e5 neuron-steps/s: 200 ms is enough for a per-step figure
        ("pyloric-network-simulator-vmap", "stg_pyloric_jax.py", "stg", ["--mode", "vmap"], 0.05, 200.0, sizes),
        # documented solve_ivp API: about 1e5 neuron-steps/s and an n^2 synaptic block, so 200 ms
        ("pyloric-network-simulator-package", "stg_pyloric_jax.py", "stg", ["--mode", "package"], 0.05,
         200.0, [256]),
    ]
    for m in ("iaf_psc_exp", "izhikevich"):
        plan.append(("nest", "point_nest.py", m, ["--model", m], 0.1, pt_d, sizes))
        plan.append(("brian2-cpp_standalone", "point_brian2.py", m, ["--model", m], 0.1, pt_d, sizes))
        # the same with excitatory + inhibitory Poisson trains (point_bench --input poisson's workload)
        plan.append(("brian2-cpp_standalone", "point_brian2.py", m + "+poisson",
                     ["--model", m, "--input", "poisson"], 0.1, pt_d, sizes))
    if args.only:
        keep = set(args.only.split(","))
        plan = [p for p in plan if p[0] in keep or p[2] in keep or p[1] in keep]
    return plan


def run_peers(args, py, log):
    out = []
    for name, script, model, base, dt, dur, sizes in peer_plan(args):
        for threads in args.threads:
            rate = None  # neuron-steps/s of the previous size (integration only)
            overhead = None
            for n in sizes:
                d = dur
                if args.quick:
                    d = min(d, 200.0)
                steps = d / dt
                if rate:
                    pred = n * steps / rate + (overhead or 0)
                    if pred > args.max_run_s:
                        # shorten the simulated time first (not below 50 ms), then give up
                        d_fit = (args.max_run_s - (overhead or 0)) * rate * dt / n
                        if d_fit >= 100.0:  # whole 100 ms: the JAX vmap peer integrates 100-ms segments
                            d = float(int(d_fit // 100 * 100))
                        else:
                            rec = {"peer": name, "model": model, "n": n, "threads": threads,
                                   "skipped": f"extrapolated {pred:.0f} s > --max-run-s {args.max_run_s}"}
                            log(f"  {name} {model} n={n}: skipped ({rec['skipped']})")
                            out.append(rec)
                            continue
                cmd = [py, os.path.join(PEERS, script), *base, "--n", str(n), "--duration-ms", str(d),
                       "--dt-ms", str(dt), "--threads", str(threads), "--sample", str(args.sample)]
                if "stg_pyloric_jax.py" == script:
                    cmd += ["--time-limit-s", str(args.max_run_s)]
                log(f"  {name} {model} n={n} T={d:g} ms threads={threads} ...")
                recs, err = run_json_lines(cmd, timeout=args.max_run_s * 1.5 + 120)
                rec = recs[-1] if recs else {"peer": name, "model": model, "n": n, "error": err}
                rec.setdefault("peer", name)
                rec.setdefault("model", model)
                rec.setdefault("n", n)
                rec["threads"] = threads
                rec["command"] = " ".join(shlex.quote(c) for c in cmd[1:])
                if err and "error" not in rec:
                    rec["error"] = err
                out.append(rec)
                if "neuron_steps_per_s" in rec and rec.get("neuron_steps_per_s"):
                    rate = rec["neuron_steps_per_s"]
                    overhead = (rec.get("compile_s") or 0) + 5
                    log(f"    {rec['neuron_steps_per_s']:.3e} neuron-steps/s, wall {rec['wall_s']:.2f} s, "
                        f"compile/JIT {rec.get('compile_s') or 0:.1f} s")
                else:
                    log(f"    {rec.get('unsupported') or rec.get('error')}")
                    break  # larger sizes will not do better
    return out


# ---------------------------------------------------------------------------------------------
# neurosweep

def run_nestml_bench(args, ns_exe, log):
    """bench/nestml_plugin_bench.py --json: compile time, cached start and CPU throughput of NESTML's
    iaf_psc_exp_neuron and izhikevich_neuron as plugins against the built-ins, same run."""
    if not ns_exe:
        return [], ["nestml: no neurosweep executable"]
    cmd = [sys.executable, os.path.join(HERE, "nestml_plugin_bench.py"), "--json", "--build", os.path.dirname(ns_exe),
           "--n", "5000" if args.quick else "20000", "--ms", "200" if args.quick else "1000",
           "--repeats", "1" if args.quick else "3"]
    log(f"  {' '.join(cmd[1:])} ...")
    recs, err = run_json_lines(cmd, timeout=max(args.ns_timeout, 900))
    for r in recs:
        r["peer"] = "neurosweep"
        r["command"] = " ".join(cmd[1:])
    notes = [f"nestml_plugin_bench.py: {err} (needs nestml in the interpreter of NEUROSWEEP_PYTHON or "
             f"<source>/.venv; skip with --skip nestml)"] if err else []
    return recs, notes


def run_ns_benches(benches, args, log):
    out, notes = [], []
    if not benches:
        notes.append("no neurosweep benchmark executable found (looked for build*/bench/*, build*/*_bench); "
                     "configure with -DNEUROSWEEP_BENCH=ON and build the bench targets")
        return out, notes
    for b in benches:
        runs = [[b, "--json"]]
        if os.path.basename(b) == "point_bench":
            # every point model, both precisions, Poisson input: the HH and AdEx models cost ~3e5
            # neuron-steps/s, so keep n x steps small enough for a few seconds each
            runs = [[b, "--json", "--n", "512" if args.quick else "1024", "--ms", "100" if args.quick else "200",
                     "--threads", "1" if args.quick else ",".join(str(t) for t in sorted({1, 2, *args.threads}))]]
            # the two models compared with Brian 2, constant and Poisson input, one thread (per core)
            runs += [[b, "--json", "--models", "iaf_psc_exp,izhikevich", "--n", "10000",
                      "--ms", "200" if args.quick else "1000", "--threads", "1", "--input", inp]
                     for inp in ("dc", "poisson")]
        if os.path.basename(b) == "stg_bench":
            # stg_bench [--model M] [--n N] [--ms T] [--dt DT] [--threads 1,2] [--json]
            base = ["--ms", "200", "--threads", "1"] if args.quick else \
                   ["--ms", "1000", "--threads", ",".join(str(t) for t in sorted({1, 2, *args.threads}))]
            runs = [[b, "--json", "--model", "stg", "--dt", "0.05", "--n", "1000" if args.quick else "4096", *base]]
            runs += [[b, "--json", "--model", m, "--dt", "0.1", "--n", "10000", *base]
                     for m in ("iaf_psc_exp", "izhikevich")]
        for cmd in runs:
            log(f"  {os.path.relpath(b, ROOT)} {' '.join(cmd[1:])} ...")
            recs, err = run_json_lines(cmd, timeout=args.ns_timeout)
            for r in recs:
                if r.get("bench") == "point" and r.get("input") == "poisson":
                    r["model"] = r["model"] + "+poisson"  # compared with the peers' "+poisson" runs
                r["peer"] = "neurosweep"
                r["executable"] = os.path.relpath(b, ROOT)
                r["command"] = " ".join(cmd[1:])
                out.append(r)
            if err:
                notes.append(f"{os.path.relpath(b, ROOT)} {' '.join(cmd[1:])}: {err}")
            log(f"    {len(recs)} records" + (f"; {err}" if err else ""))
    return out, notes


def parse_spikes(text):
    """Spike count from the CLI output: JSON spike_times / spike_count / n_spikes, or numbers."""
    text = text.strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        lines = [ln for ln in text.splitlines() if ln.strip().startswith("{")]
        obj = json.loads(lines[-1]) if lines else None
    if isinstance(obj, dict):
        for k in ("spike_count", "n_spikes"):
            if k in obj:
                v = obj[k]
                return int(v[0] if isinstance(v, list) else v)
        st = obj.get("spike_times")
        if st is None and isinstance(obj.get("instances"), list) and obj["instances"]:
            st = obj["instances"][0].get("spike_times")
        if st is not None:
            if st and isinstance(st[0], list):
                st = st[0]
            return len(st)
    if isinstance(obj, list):
        return len(obj)
    raise ValueError("no spike_times/spike_count in output")


def ns_counts(exe, template, model, n, duration, dt, log):
    """Spike counts of the first n instances of the common tables from the neurosweep CLI."""
    counts, errors = [], []
    if model == "stg":
        g, _ = common.stg_table(n, "p04")
        plist = [[f"{k}={v:g}" for k, v in zip(common.STG_COND_NAMES, row)] for row in g]
    elif model == "iaf_psc_exp":
        plist = [[f"I_e={c:g}"] for c in common.lif_current(n)]
    else:
        plist = [[f"I_e={c:g}"] for c in common.izh_current(n)]
    for ps in plist:
        params = " ".join(f"--param {shlex.quote(p)}" for p in ps)
        cmd = template.format(exe=shlex.quote(exe), model=model, params=params, duration=f"{duration:g}",
                              dt=f"{dt:g}", extra=NS_SIMULATE_EXTRA.get(model, ""))
        try:
            p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-200:]}")
            counts.append(parse_spikes(p.stdout))
        except Exception as e:  # noqa: BLE001 - tolerant by design: report and go on
            errors.append(f"{cmd}: {e}")
            counts.append(None)
            if len(errors) >= 2 and all(c is None for c in counts):
                break  # the CLI does not support this; do not try every instance
    if errors:
        log(f"    neurosweep CLI: {errors[0][:300]}")
    return counts, errors


# ---------------------------------------------------------------------------------------------
# agreement

def compare(model, ref_name, ref, other_name, other, duration, labels, other_integrator=False,
            other_constants=False):
    rows = []
    n = min(len(ref), len(other))
    fails = 0
    for i in range(n):
        a, b = ref[i], other[i]
        if a is None or b is None:
            continue
        lab = labels[i] if labels else str(i)
        if model == "stg":
            if other_integrator:
                tol = 1 + STG_OTHER_INTEGRATOR_REL * max(a, b)
            else:
                tol = max(1, STG_TOL_PER_2S * duration / 2000.0)
        else:
            tol = 0
        d = b - a
        fragile = model == "stg" and lab in common.STG_FRAGILE
        ok = abs(d) <= tol
        if not ok and not fragile and not other_constants:
            fails += 1
        rows.append({"instance": i, "label": lab, ref_name: a, other_name: b, "delta": d, "tol": tol,
                     "ok": ok, "fragile": fragile})
    verdict = ("not comparable (different model constants)" if other_constants else
               ("agree" if fails == 0 else f"{fails} mismatch(es)"))
    return {"model": model, "reference": ref_name, "other": other_name, "duration_ms": duration,
            "compared": len(rows), "verdict": verdict, "rows": rows}


def agreement(args, py, ns_exe, peer_recs, log):
    """Compare the sample counts of the smallest run of each peer/model with the reference."""
    out = []
    first = {}
    for r in peer_recs:
        if r.get("spike_counts") and (r["peer"], r["model"]) not in first:
            first[(r["peer"], r["model"])] = r
    for model in ("stg", "iaf_psc_exp", "izhikevich"):
        recs = [r for (p, m), r in first.items() if m == model]
        if not recs:
            continue
        k = args.sample
        refs = {}

        def reference(dur, dt, names=None):
            """Reference counts: STG -> the NumPy transcription of stg.hpp (bench/peers/
            stg_numpy.py) for the P04 neurons `names`; point models -> NEST at that duration."""
            key = (dur, dt, tuple(names or ()))
            if key not in refs:
                if model == "stg":
                    import stg_numpy
                    gl, ll = common.stg_table(16, "p04")
                    names_ = names or [ll[i % 16] for i in range(k)]
                    c, _ = stg_numpy.simulate(gl[[ll.index(x) for x in names_]], dur, dt)
                    refs[key] = ([int(x) for x in c], "numpy-reference", names_)
                else:
                    nest = [r for r in recs if r["peer"] == "nest" and r["duration"] == dur]
                    refs[key] = (nest[0]["spike_counts"] if nest else None, "nest",
                                 [f"I_e={c:g}" for c in (common.lif_current(k) if model == "iaf_psc_exp"
                                                         else common.izh_current(k))])
            return refs[key]

        for r in recs:
            if r["peer"] == "nest":
                continue
            dur, dt = r["duration"], r["dt"]
            names = r.get("sample_labels") if model == "stg" else None
            ref, ref_name, labels = reference(dur, dt, names)
            if ref is None:
                continue
            other_constants = "stg.hpp" not in str(r.get("constants", "stg.hpp"))
            res = compare(model, ref_name, ref, r["peer"], r["spike_counts"], dur, labels,
                          other_integrator="vmap" in r["peer"], other_constants=other_constants)
            out.append(res)
            log(f"  {model}: {r['peer']} vs {ref_name} ({dur:g} ms): {res['verdict']}")
        dur, dt = recs[0]["duration"], recs[0]["dt"]
        ref, ref_name, labels = reference(dur, dt)
        if ns_exe and not args.no_ns_agreement:
            cnt, errs = ns_counts(ns_exe, args.ns_simulate, model, k, dur, dt, log)
            if ref is not None and any(c is not None for c in cnt):  # no NEST run: no reference
                res = compare(model, ref_name, ref, "neurosweep", cnt, dur, labels)
                res["cli_errors"] = errs[:3]
                out.append(res)
                log(f"  {model}: neurosweep vs {ref_name}: {res['verdict']}")
            else:
                out.append({"model": model, "reference": ref_name, "other": "neurosweep",
                            "verdict": "neurosweep CLI gave no counts", "cli_errors": errs[:3]})
    return out


# ---------------------------------------------------------------------------------------------
# neurosweep: whole database builds, engine size scan, FP32 peak, FLOPs per step

# Whole-build workload: random draws over the P03 conductance ranges (uniform on [0, top grid
# level] of each of the 8 conductances, P03 Table 2 levels as in sweeps/prinz2003.json), float,
# the backend's default gating (table on the CPU), classification and HDF5 output as in any build.
# Short windows (50 ms transient + 150 ms analysis = 4000 steps) so that 1e6 instances take
# minutes; the cost per instance scales with the number of steps. The classifier's slowest
# resolvable period is lowered to 37.5 ms to accept the 150 ms window (its cost per instance is
# that of a normal build: the same feature extraction on fewer spikes).
P03_TOP = {"gNa": 500, "gCaT": 12.5, "gCaS": 10, "gA": 50, "gKCa": 25, "gKd": 125, "gH": 0.05, "gleak": 0.05}
DB_TRANSIENT_MS, DB_ANALYSIS_MS, DB_DT_MS = 50, 150, 0.05


def db_spec(n):
    return {"name": f"bench_db_{n}",
            "description": "run_bench.py whole-build benchmark: random draws over the P03 conductance ranges",
            "model": "stg", "dt": f"{DB_DT_MS:g} ms", "transient": f"{DB_TRANSIENT_MS} ms",
            "analysis": f"{DB_ANALYSIS_MS} ms", "seed": 7, "precision": "float",
            # the classifier's minimum window is 4 x slowest_period_ms (docs/CLASSIFIER.md)
            "classifier": {"slowest_period_ms": DB_ANALYSIS_MS / 4},
            "axes": [{"kind": "random", "count": n,
                      "params": {k: {"low": 0, "high": v} for k, v in P03_TOP.items()}}]}


def run_measured(cmd, timeout, log_path):
    """Run cmd in a fresh process (stdout+stderr to log_path). Returns a dict with rc, wall_s
    (launch to exit), peak_rss_mb of that process alone (os.wait4), launch_unix_s, timed_out."""
    t_launch = time.time()
    t0 = time.perf_counter()
    with open(log_path, "w") as f:
        try:
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        except OSError as e:
            return {"rc": None, "error": f"could not start: {e}"}
        killed = []

        def kill():
            killed.append(True)
            p.kill()

        killer = threading.Timer(timeout, kill)
        killer.start()
        _, status, ru = os.wait4(p.pid, 0)
        killer.cancel()
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall_s": wall, "peak_rss_mb": ru.ru_maxrss / 1024.0, "launch_unix_s": t_launch,
            "timed_out": bool(killed)}


def read_timings(path):
    """The `timings` attribute (JSON) of a finished database, via h5py; None when unavailable."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            t = f.attrs.get("timings")
        if isinstance(t, bytes):
            t = t.decode()
        return json.loads(t) if t else None
    except Exception:  # noqa: BLE001 - reported as missing, never fatal
        return None


def run_db_builds(args, ns_exe, log):
    out = []
    if not ns_exe:
        return [{"error": "no neurosweep executable (build*/neurosweep)"}]
    steps = round((DB_TRANSIENT_MS + DB_ANALYSIS_MS) / DB_DT_MS)
    tmp = tempfile.mkdtemp(prefix="ns-bench-db-")
    try:
        for th in args.db_threads:
            rate = None  # instances/s of the previous size, whole process
            for n in args.db_sizes:
                base = {"bench": "db_build", "model": "stg", "n": n, "threads": th, "precision": "float",
                        "gating": "default", "dt": DB_DT_MS, "steps": steps,
                        "transient_ms": DB_TRANSIENT_MS, "analysis_ms": DB_ANALYSIS_MS}
                if rate and n / rate > args.db_max_run_s:
                    base["skipped"] = (f"extrapolated {n / rate:.0f} s (from {rate:.0f} instances/s at the previous "
                                       f"size) > --db-max-run-s {args.db_max_run_s:g}")
                    log(f"  db build n={n} threads={th}: skipped ({base['skipped']})")
                    out.append(base)
                    continue
                spec_path = os.path.join(tmp, f"bench_db_{n}.json")
                with open(spec_path, "w") as f:
                    json.dump(db_spec(n), f, indent=1)
                db = os.path.join(tmp, f"bench_db_{n}_t{th}.h5")
                cmd = [ns_exe, "run", spec_path, "-o", db, "--threads", str(th), "--backend", "cpu", "--force"]
                log(f"  db build n={n} threads={th} ({(DB_TRANSIENT_MS + DB_ANALYSIS_MS):g} ms) ...")
                r = run_measured(cmd, args.db_max_run_s * 1.5 + 60, db + ".log")
                rec = {**base, **r, "command": "neurosweep run SPEC -o DB --threads %d --backend cpu --force" % th}
                tim = read_timings(db) if r.get("rc") == 0 else None
                if r.get("rc") != 0:
                    tail = open(db + ".log", errors="replace").read().strip().splitlines()[-3:]
                    rec["error"] = ("timed out" if r.get("timed_out") else f"exit {r.get('rc')}") + ": " + " | ".join(tail)
                    log(f"    {rec['error']}")
                elif not tim:
                    rec["error"] = "no timings attribute in the database (h5py missing?)"
                    log(f"    {rec['error']}")
                if tim:
                    rec["timings"] = tim
                    rec["db_bytes"] = os.path.getsize(db) if os.path.exists(db) else None
                    w = r["wall_s"]
                    rec["instances_per_s"] = n / w
                    rec["neuron_steps_per_s"] = n * steps / w  # whole build, launch to exit
                    rec["integrate_neuron_steps_per_s"] = tim.get("neuron_steps_per_s")
                    rec["us_per_instance"] = w / n * 1e6
                    fc = tim.get("first_chunk_unix_s")
                    rec["time_to_first_result_s"] = (fc - r["launch_unix_s"]) if fc and fc > 0 else None
                    rec["first_chunk_s_in_run"] = tim.get("first_chunk_s")
                    rec["chunk"] = tim.get("chunk")
                    rate = n / w
                    log(f"    wall {w:.2f} s, {n / w:.0f} instances/s, {n * steps / w:.3e} neuron-steps/s, "
                        f"peak RSS {r['peak_rss_mb']:.0f} MB, first result {fmt(rec['time_to_first_result_s'])} s")
                out.append(rec)
                for fn in os.listdir(tmp):  # keep the disk use bounded by one database
                    if fn.startswith(os.path.basename(db)) and not fn.endswith(".log"):
                        pth = os.path.join(tmp, fn)
                        shutil.rmtree(pth) if os.path.isdir(pth) else os.remove(pth)
                if "error" in rec:
                    break
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_engine_scan(benches, args, log):
    """stg_bench over instance counts (float, one gating, --engine-ms each) at 1 and all threads."""
    sb = [b for b in benches if os.path.basename(b) == "stg_bench"]
    if not sb:
        return [], ["engine size scan: no stg_bench executable"]
    out, notes = [], []
    threads = sorted({1, 2, os.cpu_count() or 1}) if (os.cpu_count() or 1) >= 2 else [1]
    steps = round(args.engine_ms / 0.05)
    rate = None  # neuron-steps/s at 1 thread, previous size
    for n in args.engine_sizes:
        if rate:
            pred = sum(n * steps / (rate * min(t, 2) * 0.9) for t in threads)
            if pred > args.ns_timeout:
                notes.append(f"engine scan n={n}: skipped (extrapolated {pred:.0f} s > --ns-timeout {args.ns_timeout:g})")
                log("  " + notes[-1])
                out.append({"bench": "engine_scan", "model": "stg", "n": n, "skipped": notes[-1]})
                continue
        cmd = [sb[0], "--json", "--model", "stg", "--dt", "0.05", "--precision", "float", "--gating",
               args.engine_gating, "--n", str(n), "--ms", f"{args.engine_ms:g}",
               "--threads", ",".join(map(str, threads))]
        log(f"  stg_bench {' '.join(cmd[1:])} ...")
        recs, err = run_json_lines(cmd, timeout=args.ns_timeout * 1.5 + 60)
        for r in recs:
            r.update({"bench": "engine_scan", "peer": "neurosweep", "command": " ".join(cmd[1:])})
            out.append(r)
            if r.get("threads") == 1:
                rate = r["neuron_steps_per_s"]
        if err:
            notes.append(f"engine scan n={n}: {err}")
            log(f"    {err}")
            break
        log("    " + ", ".join(f"{r['threads']} thr {r['neuron_steps_per_s']:.3e}" for r in recs))
    return out, notes


def run_peak_and_flops(args, build_dir, log):
    """fp32_peak (1..all threads) and stg_flops (FLOPs per STG step), from the build directory."""
    res = {"fp32_peak": [], "stg_flops": [], "notes": []}
    for name, cmd_args, key in (("fp32_peak", ["--json", "--seconds", "0.3" if args.quick else "1"], "fp32_peak"),
                                ("stg_flops", ["--json"], "stg_flops")):
        exe = os.path.join(build_dir, name) if build_dir else None
        if not exe or not os.access(exe, os.X_OK):
            res["notes"].append(f"{name}: not built (ninja -C BUILD {name}; needs -DNEUROSWEEP_BENCH=ON)")
            log("  " + res["notes"][-1])
            continue
        log(f"  {name} {' '.join(cmd_args)} ...")
        recs, err = run_json_lines([exe, *cmd_args], timeout=300)
        res[key] = recs
        if err:
            res["notes"].append(f"{name}: {err}")
            log("    " + err)
        for r in recs:
            if name == "fp32_peak":
                log(f"    {r['kernel']} {r['threads']} thr: {r['gflops']:.1f} GFLOP/s "
                    f"({r['ratio_to_theoretical']:.2f} x theoretical at {r['cpuinfo_mhz']:.0f} MHz)")
            else:
                log(f"    {r['gating']}: {r['flops_per_step_float']:.0f} FLOP/step float "
                    f"({r['arith_flops_excl_exp_log']} arithmetic + {r['exp']} exp + {r['log']} log)")
    return res


def fp32_fraction(ns_recs, peak):
    """Achieved GFLOP/s of the best float STG configurations vs the measured FP32 peak at the same
    thread count: FLOP/step (stg_flops, per gating) x neuron-steps/s / peak."""
    fl = {r["gating"]: r for r in peak.get("stg_flops", [])}
    pk = {(r["kernel"], r["threads"]): r["gflops"] for r in peak.get("fp32_peak", [])}
    best = {}
    for r in ns_recs:
        if (r.get("model") == "stg" and r.get("precision") == "float" and r.get("neuron_steps_per_s")
                and str(r.get("backend", "cpu")).startswith("cpu") and r.get("gating") in fl):
            k = (r["gating"], r.get("threads"))
            if k not in best or r["neuron_steps_per_s"] > best[k]["neuron_steps_per_s"]:
                best[k] = r
    rows = []
    for (g, t), r in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        fpstep = fl[g]["flops_per_step_float"]
        ach = fpstep * r["neuron_steps_per_s"] * 1e-9
        p_fma, p_ma = pk.get(("fma", t)), pk.get(("mul+add", t))
        rows.append({"gating": g, "threads": t, "n": r.get("n"), "neuron_steps_per_s": r["neuron_steps_per_s"],
                     "flops_per_step": fpstep, "achieved_gflops": ach, "peak_fma_gflops": p_fma,
                     "fraction_of_fma_peak": ach / p_fma if p_fma else None, "peak_muladd_gflops": p_ma,
                     "fraction_of_muladd_peak": ach / p_ma if p_ma else None})
    return rows


# ---------------------------------------------------------------------------------------------
# report

def fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 1e4 else f"{x:.{nd}e}"
    return str(x)


def best_ns(ns_recs, model, n, gating=None):
    """The neurosweep CPU record with the highest per-core throughput (same n when there is one)."""
    c = [r for r in ns_recs if r.get("model") == model and r.get("neuron_steps_per_s")
         and str(r.get("backend", "cpu")).startswith("cpu") and (gating is None or r.get("gating") == gating)]
    if not c:
        return None
    same = [r for r in c if r.get("n") == n] or c
    return max(same, key=lambda r: r["neuron_steps_per_s"] / max(1, r.get("threads") or 1))


def extra_sections(ns_recs, extra):
    """Markdown for the whole-build rows, the engine size scan, thread scaling, growth with the
    number of instances, time to first result, the FP32 peak and the fraction of it achieved."""
    L = []
    db = extra.get("db") or []
    if db:
        L.append("\n## Whole database build (`neurosweep run`: integration, classification, HDF5)\n")
        L.append(f"Workload: random STG neurons drawn uniformly over the P03 conductance ranges (0 to the top grid "
                 f"level of each of the 8 conductances), float, default gating, {DB_TRANSIENT_MS} ms transient + "
                 f"{DB_ANALYSIS_MS} ms analysis at dt {DB_DT_MS} ms ({round((DB_TRANSIENT_MS + DB_ANALYSIS_MS) / DB_DT_MS)} "
                 "steps), classification and HDF5 output as in every build, default chunk size. Each run is a fresh "
                 "process. wall = launch to exit (final merge included); instances/s and neuron-steps/s = n (x steps) / "
                 "wall; integrate only = the build's own `timings.neuron_steps_per_s` (integration time only); peak RSS "
                 "= that process's maximum resident set (`os.wait4`); time to first result = launch until the first "
                 "chunk is committed to the build store (`timings.first_chunk_unix_s` minus the launch time).\n")
        L.append("| n | threads | wall (s) | instances/s | neuron-steps/s | integrate only | peak RSS (MB) "
                 "| first result (s) | chunk | integrate / classify / write (s) |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in db:
            if r.get("timings"):
                t = r["timings"]
                L.append(f"| {r['n']} | {r['threads']} | {fmt(r['wall_s'])} | {fmt(r['instances_per_s'])} "
                         f"| {fmt(r['neuron_steps_per_s'])} | {fmt(r.get('integrate_neuron_steps_per_s'))} "
                         f"| {fmt(r['peak_rss_mb'])} | {fmt(r.get('time_to_first_result_s'))} | {r.get('chunk')} "
                         f"| {fmt(t.get('integrate_s'))} / {fmt(t.get('classify_s'))} / {fmt(t.get('write_s'))} |")
            else:
                L.append(f"| {r.get('n')} | {r.get('threads')} | | not run: {r.get('skipped') or r.get('error')} | | | | | | |")
        ok = [r for r in db if r.get("timings")]
        if ok:
            L.append("\n### Growth of time and memory with the number of instances (whole build)\n")
            L.append("Expected: time per instance constant (time linear in n), peak memory flat (work flows in "
                     "chunks; the final merge streams). Ratios are to the smallest n at the same thread count; at "
                     "small n the fixed start-up and merge costs raise the time per instance.\n")
            L.append("| threads | n | time per instance (us) | ratio | peak RSS (MB) | ratio |")
            L.append("|---:|---:|---:|---:|---:|---:|")
            for th in sorted({r["threads"] for r in ok}):
                rs = sorted([r for r in ok if r["threads"] == th], key=lambda r: r["n"])
                b = rs[0]
                for r in rs:
                    L.append(f"| {th} | {r['n']} | {fmt(r['us_per_instance'])} | {r['us_per_instance'] / b['us_per_instance']:.2f} "
                             f"| {fmt(r['peak_rss_mb'])} | {r['peak_rss_mb'] / b['peak_rss_mb']:.2f} |")
            L.append("\n### Time to first result\n")
            L.append("Launch of `neurosweep run` until its first chunk (default: 512 instances per thread) is "
                     "committed to disk: spec parsing, set-up, integration, classification and writing of one chunk. "
                     "`in run` is the same measured from the start of `run_build` (process start-up excluded).\n")
            L.append("| n | threads | chunk | first result (s) | in run (s) | whole build (s) |")
            L.append("|---:|---:|---:|---:|---:|---:|")
            for r in ok:
                L.append(f"| {r['n']} | {r['threads']} | {r.get('chunk')} | {fmt(r.get('time_to_first_result_s'))} "
                         f"| {fmt(r.get('first_chunk_s_in_run'))} | {fmt(r['wall_s'])} |")
    scan = [r for r in ns_recs if r.get("bench") == "engine_scan" and r.get("neuron_steps_per_s")]
    if scan:
        L.append(f"\n## Engine alone over instance counts (stg_bench, float, {scan[0].get('gating')} gating)\n")
        L.append("Integration only, cold start, dt 0.05 ms. Time per neuron-step should not depend on n (ratio "
                 "~1). stg_bench keeps every instance's outputs in memory, so its RSS grows with n by design "
                 "(a database build does not: see above).\n")
        L.append("| n | threads | steps | wall (s) | neuron-steps/s | per core | time/step ratio to smallest n | RSS (MB) |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        base = {}
        for r in sorted(scan, key=lambda r: (r["threads"], r["n"])):
            b = base.setdefault(r["threads"], r)
            L.append(f"| {r['n']} | {r['threads']} | {r.get('steps')} | {fmt(r.get('wall_s'))} | {fmt(r['neuron_steps_per_s'])} "
                     f"| {fmt(r['neuron_steps_per_s'] / r['threads'])} | {b['neuron_steps_per_s'] / r['neuron_steps_per_s']:.2f} "
                     f"| {fmt(r.get('peak_rss_mb'))} |")
    # thread scaling: engine (every (config, n) measured at 1 and more threads) and whole builds
    rows = []
    groups = {}
    for r in ns_recs:
        if r.get("model") == "stg" and r.get("neuron_steps_per_s") and r.get("threads"):
            groups.setdefault(("engine", r.get("precision"), r.get("gating"), r.get("n"), r.get("steps")), {})[r["threads"]] = r["neuron_steps_per_s"]
    for r in db:
        if r.get("timings"):
            groups.setdefault(("whole build", "float", "default", r["n"], r["steps"]), {})[r["threads"]] = r["instances_per_s"]
    for (what, prec, gat, n, _), by in sorted(groups.items(), key=lambda kv: (kv[0][0] != "engine", str(kv[0][1:]))):
        if 1 in by and len(by) > 1:
            t = max(by)
            rows.append(f"| {what} | {prec} {gat} | {n} | {fmt(by[1])} | {t} | {fmt(by[t])} | {by[t] / by[1]:.2f} "
                        f"| {by[t] / by[1] / t:.2f} |")
    if rows:
        L.append("\n## Thread scaling\n")
        L.append("Rate at 1 thread and at the most threads measured (engine: neuron-steps/s; whole build: "
                 "instances/s); speed-up = ratio, efficiency = speed-up / threads.\n")
        L.append("| workload | configuration | n | 1 thread | threads | rate | speed-up | efficiency |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|")
        L += rows
    pk = extra.get("peak") or {}
    if pk.get("fp32_peak"):
        p0 = pk["fp32_peak"][0]
        L.append("\n## FP32 peak of this CPU (bench/fp32_peak)\n")
        L.append(f"{p0.get('isa')}, {p0.get('lanes')} lanes, {p0.get('chains')} independent accumulator chains per "
                 "thread held in registers; GFLOP/s with an FMA = 2 flops; best of 3. theoretical = threads x "
                 f"{p0.get('fma_pipes_assumed')} FMA pipes x lanes x 2 x the /proc/cpuinfo clock "
                 f"({fmt(p0.get('cpuinfo_mhz'))} MHz); implied GHz = the clock the measurement implies. mul+add = "
                 "separate multiplies and adds (1 flop each), which neurosweep's host code executes outside its "
                 "explicit ns::fmadd calls (built with -ffp-contract=off).\n")
        L.append("| kernel | threads | GFLOP/s | theoretical | ratio | implied GHz | note |")
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for r in pk["fp32_peak"]:
            L.append(f"| {r['kernel']} | {r['threads']} | {fmt(r['gflops'])} | {fmt(r['theoretical_gflops'])} "
                     f"| {r['ratio_to_theoretical']:.2f} | {r['implied_ghz']:.2f} | {r['note']} |")
    if pk.get("stg_flops"):
        L.append("\n## Operations per STG step (bench/stg_flops, counted)\n")
        L.append("StgModel::step run with an operation-counting float (literal-only arithmetic excluded: the "
                 "compiler folds it). FLOP = add + sub + mul + div (a division counts 1) + exp and log calls at "
                 "their per-call cost in hd.hpp's Cephes polynomials (float: exp "
                 f"{pk['stg_flops'][0]['flops_per_exp_float']}, log {pk['stg_flops'][0]['flops_per_log_float']}; double: "
                 f"exp {pk['stg_flops'][0]['flops_per_exp_double']}, log {pk['stg_flops'][0]['flops_per_log_double']}). "
                 "cmp = comparisons with their selects (not FLOPs). engine = per analysis step of run_instance "
                 "(detector and V statistics included).\n")
        L.append("| gating | add | sub | mul | div | fma | cmp | exp | log | arithmetic (excl. exp/log) | FLOP/step float "
                 "| FLOP/step double | engine FLOP/step float |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in pk["stg_flops"]:
            L.append(f"| {r['gating']} | {r['add']} | {r['sub']} | {r['mul']} | {r['div']} | {r.get('fma', 0)} | {r['cmp']} | {r['exp']} "
                     f"| {r['log']} | {r['arith_flops_excl_exp_log']} | {r['flops_per_step_float']:.0f} "
                     f"| {r['flops_per_step_double']:.0f} | {r['engine_flops_per_step_float']:.0f} |")
    fr = extra.get("fraction") or []
    if fr:
        L.append("\n## Fraction of the measured FP32 peak (best float configuration per gating and thread count)\n")
        L.append("achieved = FLOP/step (float, above) x neuron-steps/s (the best float run of that gating and thread "
                 "count, any n); fraction = achieved / measured peak at the same thread count.\n")
        L.append("| gating | threads | n | neuron-steps/s | FLOP/step | achieved GFLOP/s | FMA peak | fraction "
                 "| mul+add peak | fraction |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in fr:
            f1 = f"{r['fraction_of_fma_peak']:.3f}" if r["fraction_of_fma_peak"] is not None else "-"
            f2 = f"{r['fraction_of_muladd_peak']:.3f}" if r["fraction_of_muladd_peak"] is not None else "-"
            L.append(f"| {r['gating']} | {r['threads']} | {r['n']} | {fmt(r['neuron_steps_per_s'])} | {r['flops_per_step']:.0f} "
                     f"| {fmt(r['achieved_gflops'])} | {fmt(r['peak_fma_gflops'])} | {f1} | {fmt(r['peak_muladd_gflops'])} | {f2} |")
    if pk.get("notes"):
        L.append("\nNotes: " + "; ".join(pk["notes"]) + "\n")
    nb = [r for r in ns_recs if r.get("bench") == "nestml_build"]
    nt = [r for r in ns_recs if r.get("bench") == "nestml"]
    if nb or nt:
        L.append("\n## NESTML plugins against the built-in models (bench/nestml_plugin_bench.py)\n")
        L.append("`neurosweep run --backend cpu`, float, DC over an I_e grid, dt 0.1 ms; whole process (spec, "
                 "integration, classification, database), best of the repeats, built-in and plugin alternated in "
                 "the same run; load average in the record. Target: time ratio <= 1.3 (issue 15).\n")
        if nb:
            L.append("| model | numeric solver | first build s | generate s | compile s | cached second start ms |")
            L.append("|---|---|---:|---:|---:|---:|")
            for r in nb:
                L.append(f"| {r['model']} | {r['numeric_solver']} | {r['first_build_s']:.1f} | {r['generate_s']:.1f} "
                         f"| {r['compile_s']:.1f} | {r['cached_start_s'] * 1000:.0f} |")
        if nt:
            L.append("\n| built-in model | n x ms | built-in neuron-steps/s | NESTML plugin neuron-steps/s "
                     "| time ratio plugin / built-in | load average |")
            L.append("|---|---|---:|---:|---:|---|")
            for r in nt:
                L.append(f"| {r['model']} | {r['n']} x {r['ms']:g} | {fmt(r['builtin_neuron_steps_per_s'])} "
                         f"| {fmt(r['plugin_neuron_steps_per_s'])} | {r['time_ratio_plugin_builtin']:.2f} "
                         f"| {', '.join(f'{x:.1f}' for x in r['load_average'])} |")
    net = [r for r in ns_recs if r.get("bench") == "network"]
    if net:
        L.append("\n## Spiking networks (network_bench: reduced Brunel model A; pd14_bench: PD14 at scale 0.1)\n")
        L.append("Per CPU second (the machine may be shared; CPU time is the per-core basis). NEST rows: NEST 3.10, "
                 "1 thread, from the reference files the tests use (their wall/CPU times were recorded when the "
                 "references were made, not in this run). docs/NETWORKS.md describes the workloads.\n")
        L.append("| workload | who | connectivity / pass | n | threads | neuron updates per CPU s "
                 "| synaptic events per CPU s | CPU s per biological s | connectivity MiB | state MiB |")
        L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in net:
            who = r.get("reference") or "neurosweep"
            L.append(f"| {r.get('model')} | {who} | {r.get('connectivity') or r.get('pass') or ''} | {r.get('n', '')} "
                     f"| {r.get('threads')} | {fmt(r.get('neuron_updates_per_cpu_s'))} | {fmt(r.get('synaptic_events_per_cpu_s'))} "
                     f"| {fmt(r.get('cpu_s_per_bio_s'))} | {fmt(r.get('connectivity_mib'))} | {fmt(r.get('state_mib'))} |")
    return L


def write_report(out_dir, info, ns_recs, ns_notes, peer_recs, agree, quick, extra=None):
    os.makedirs(out_dir, exist_ok=True)
    extra = extra or {}
    full = {"machine": info, "neurosweep": ns_recs, "neurosweep_notes": ns_notes, "peers": peer_recs,
            "agreement": agree, "db_builds": extra.get("db", []), "fp32_peak": (extra.get("peak") or {}).get("fp32_peak", []),
            "stg_flops": (extra.get("peak") or {}).get("stg_flops", []), "fp32_fraction": extra.get("fraction", []),
            "quick": quick, "provisional": info.get("provisional", True)}
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(full, f, indent=1)
    cols = ["engine", "model", "backend", "precision", "gating", "n", "threads", "dt", "duration", "steps",
            "wall_s", "compile_s", "neuron_steps_per_s", "per_core", "instances_per_s", "peak_rss_mb",
            "time_to_first_result_s", "gflops", "status"]
    rows = []
    for r in ns_recs:
        rows.append({**{c: r.get(c) for c in cols}, "engine": "neurosweep",
                     "per_core": (r.get("neuron_steps_per_s") or 0) / max(1, r.get("threads") or 1), "status": "ok"})
    for r in peer_recs:
        st = "ok" if r.get("neuron_steps_per_s") else (r.get("unsupported") and "unsupported: " + r["unsupported"]
                                                       or r.get("skipped") and "skipped: " + r["skipped"]
                                                       or "error: " + str(r.get("error")))
        rows.append({**{c: r.get(c) for c in cols}, "engine": r["peer"], "backend": "cpu",
                     "precision": r.get("precision", "double"),
                     "per_core": (r.get("neuron_steps_per_s") or 0) / max(1, r.get("threads") or 1)
                     if r.get("neuron_steps_per_s") else None, "status": st})
    for r in extra.get("db", []):
        st = "ok" if r.get("timings") else ("skipped: " + r["skipped"] if r.get("skipped") else "error: " + str(r.get("error")))
        rows.append({**{c: r.get(c) for c in cols}, "engine": "neurosweep run (whole build)", "backend": "cpu",
                     "duration": DB_TRANSIENT_MS + DB_ANALYSIS_MS,
                     "per_core": (r.get("neuron_steps_per_s") or 0) / max(1, r.get("threads") or 1) or None, "status": st})
    for r in (extra.get("peak") or {}).get("fp32_peak", []):
        rows.append({"engine": "fp32_peak " + r["kernel"], "model": r.get("isa"), "backend": "cpu", "precision": "float",
                     "threads": r["threads"], "gflops": r["gflops"], "status": "ok"})
    with open(os.path.join(out_dir, "latest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)

    L = []
    L.append("# Benchmark results" + (" (PROVISIONAL)" if info.get("provisional", True) else "") + "\n")
    L.append(f"Date {info['date']}, git {info.get('git_rev')}, {'quick' if quick else 'full'} mode. "
             f"CPU: {info.get('cpu_model_name')} ({info.get('nproc')} logical CPUs, SIMD "
             f"{','.join(info.get('cpu_simd', []))}), load average at start {tuple(round(x, 2) for x in info['loadavg_start'])}; "
             f"compiler: {info.get('gxx')}.\n")
    if info.get("provisional", True):
        L.append("**Provisional:** the machine was busy at the start (1-minute load average >= 0.6: other "
                 "work was running); timings can be off by a factor of 2 or more. Re-run on an idle machine "
                 "before quoting any number.\n")
    else:
        L.append("Taken on an otherwise idle machine (1-minute load average < 0.6 at the start). On a "
                 "virtual machine the clock still varies between runs (+-10-20 %): compare ratios within "
                 "one run.\n")
    L.append("neuron-steps/s = instances x time steps / integration wall time (compile/JIT excluded, "
             "reported separately). per core = divided by threads. STG: dt 0.05 ms; iaf_psc_exp and "
             "izhikevich: dt 0.1 ms. The JAX vmap peer integrates at 0.005 ms internally "
             "(its explicit scheme diverges at 0.01 ms); its steps are counted at 0.05 ms, so all STG "
             "figures measure the same simulated time.\n")
    L.append("## Throughput\n")
    L.append("| model | engine | n | threads | T (ms) | wall (s) | compile/JIT (s) | neuron-steps/s | per core "
             "| neurosweep/peer per core: best (direct gating) |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in ns_recs:
        T = (r["steps"] * (r.get("dt") or (0.05 if r.get("model") == "stg" else 0.1))) if r.get("steps") else None
        L.append(f"| {r.get('model')} | neurosweep {r.get('backend', '')} {r.get('precision', '')} {r.get('gating', '')} "
                 f"| {r.get('n')} | {r.get('threads')} | {fmt(T)} | {fmt(r.get('wall_s'))} | - | {fmt(r.get('neuron_steps_per_s'))} "
                 f"| {fmt((r.get('neuron_steps_per_s') or 0) / max(1, r.get('threads') or 1))} | |")
    for r in peer_recs:
        if r.get("neuron_steps_per_s"):
            pc = r["neuron_steps_per_s"] / max(1, r.get("threads") or 1)
            b = best_ns(ns_recs, r["model"], r["n"])
            bd = best_ns(ns_recs, r["model"], r["n"], "direct")
            ratio = "no neurosweep figure"
            if b:
                ratio = fmt(b["neuron_steps_per_s"] / max(1, b.get("threads") or 1) / pc)
                ratio += f" ({b.get('precision')} {b.get('gating')})"
                if bd and bd is not b:
                    ratio += f"; {fmt(bd['neuron_steps_per_s'] / max(1, bd.get('threads') or 1) / pc)} (direct)"
            L.append(f"| {r['model']} | {r['peer']} | {r['n']} | {r.get('threads')} | {fmt(r.get('duration'))} "
                     f"| {fmt(r.get('wall_s'))} | {fmt(r.get('compile_s'))} | {fmt(r['neuron_steps_per_s'])} | {fmt(pc)} | {ratio} |")
        else:
            why = r.get("unsupported") or r.get("skipped") or r.get("error")
            L.append(f"| {r.get('model')} | {r.get('peer')} | {r.get('n')} | {r.get('threads')} | | | | not run: {why} | | |")
    if ns_notes:
        L.append("\nneurosweep: " + "; ".join(ns_notes) + "\n")
    L += extra_sections(ns_recs, extra)
    L.append("\n## Agreement of spike counts (same instances)\n")
    L.append(f"Tolerances: STG same scheme |delta| <= {STG_TOL_PER_2S} per 2 s (min 1); STG other integrator "
             f"|delta| <= 1 + {int(STG_OTHER_INTEGRATOR_REL * 100)} %; iaf_psc_exp and izhikevich exact. "
             "LP4/LP5 are rounding-sensitive (reference section 7) and listed without counting as failures.\n")
    for a in agree:
        L.append(f"- {a['model']}: **{a['other']}** vs {a['reference']} ({a.get('compared', 0)} instances, "
                 f"{fmt(a.get('duration_ms'))} ms): {a['verdict']}")
        bad = [x for x in a.get("rows", []) if not x["ok"]]
        if bad:
            L.append("  - differing: " + ", ".join(f"{x['label']} {x[a['reference']]}->{x[a['other']]}"
                                                    + (" (fragile)" if x["fragile"] else "") for x in bad[:16]))
        if a.get("cli_errors"):
            L.append(f"  - CLI: {a['cli_errors'][0][:200]}")
    L.append("\n## Versions\n")
    vers = {}
    for r in peer_recs:
        vers.update({k: v for k, v in (r.get("versions") or {}).items() if v})
    L.append(", ".join(f"{k} {v}" for k, v in sorted(vers.items())) + "\n")
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1e3 instances, 200 ms: about 3 min")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--build", default=None, help="neurosweep build directory (default: newest build*)")
    ap.add_argument("--threads", default="1", help="comma list of thread counts for the peers")
    ap.add_argument("--max-run-s", type=float, default=None,
                    help="time limit per peer run (default 120 s, quick 45 s)")
    ap.add_argument("--ns-timeout", type=float, default=300)
    ap.add_argument("--sample", type=int, default=16)
    ap.add_argument("--only", default=None, help="comma list of peers, models or scripts to run")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-ns-agreement", action="store_true")
    ap.add_argument("--ns-simulate", default=NS_SIMULATE, help="neurosweep CLI template for one instance")
    ap.add_argument("--peers-venv", default=os.path.join(HERE, ".peers-venv"))
    ap.add_argument("--skip", default="", help="comma list of parts to skip: engine (stg_bench/point_bench "
                    "configurations), scan (engine over sizes), db (whole builds), peak (fp32_peak, stg_flops), peers")
    ap.add_argument("--db-sizes", default=None, help="whole-build sizes (default 1e3,1e4,1e5,1e6; quick 1e3,1e4)")
    ap.add_argument("--db-threads", default="1,all", help="thread counts of the whole builds ('all' = every core)")
    ap.add_argument("--db-max-run-s", type=float, default=None,
                    help="skip a whole build whose extrapolated time exceeds this (default 300 s, quick 60 s)")
    ap.add_argument("--engine-sizes", default=None, help="stg_bench sizes (default 1e3,1e4,1e5,1e6; quick 1e3,1e4)")
    ap.add_argument("--engine-ms", type=float, default=100.0, help="simulated ms per engine-scan run")
    ap.add_argument("--engine-gating", default="table", help="gating of the engine scan (table or direct)")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.max_run_s is None:
        args.max_run_s = 45.0 if args.quick else 120.0
    if args.db_max_run_s is None:
        args.db_max_run_s = 60.0 if args.quick else 300.0
    sizes_default = "1e3,1e4" if args.quick else "1e3,1e4,1e5,1e6"
    args.db_sizes = [int(float(x)) for x in (args.db_sizes or sizes_default).split(",")]
    args.engine_sizes = [int(float(x)) for x in (args.engine_sizes or sizes_default).split(",")]
    ncpu = os.cpu_count() or 1
    args.db_threads = sorted({ncpu if t.strip() == "all" else int(t) for t in args.db_threads.split(",")})
    skip = set(x.strip() for x in args.skip.split(",") if x.strip())
    bad = skip - {"engine", "scan", "db", "peak", "peers", "nestml"}
    if bad:
        ap.error(f"--skip {args.skip}: unknown part(s) {sorted(bad)}; expected engine, scan, db, peak, peers, nestml")
    if "peers" in skip:
        args.no_peers = True

    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", flush=True)

    ns_exe, benches = find_neurosweep(args.build)
    info = machine_info(ns_exe)
    log(f"machine: {info.get('cpu_model_name')}, {info.get('nproc')} CPUs, {info.get('gxx')}")
    ns_recs, ns_notes = [], []
    if "engine" not in skip:
        log("neurosweep benchmarks:")
        ns_recs, ns_notes = run_ns_benches(benches, args, log)
    if not ns_exe:
        ns_notes.append("no neurosweep executable (build*/neurosweep): agreement check skipped")
    extra = {}
    if "nestml" not in skip:
        log("NESTML plugins against the built-in models (bench/nestml_plugin_bench.py):")
        recs, notes = run_nestml_bench(args, ns_exe, log)
        ns_recs += recs
        ns_notes += notes
    if "scan" not in skip:
        log("neurosweep engine over instance counts:")
        scan, notes = run_engine_scan(benches, args, log)
        ns_recs += scan
        ns_notes += notes
    if "db" not in skip:
        log("neurosweep whole database builds:")
        extra["db"] = run_db_builds(args, ns_exe, log)
    if "peak" not in skip:
        log("FP32 peak and FLOPs per step:")
        bdir = args.build or (os.path.dirname(benches[0]) if benches else (os.path.dirname(ns_exe) if ns_exe else None))
        extra["peak"] = run_peak_and_flops(args, bdir, log)
        extra["fraction"] = fp32_fraction(ns_recs, extra["peak"])
        for r in extra["fraction"]:
            log(f"  {r['gating']} {r['threads']} thr: {r['achieved_gflops']:.1f} GFLOP/s = "
                f"{fmt(r['fraction_of_fma_peak'])} of the FMA peak, {fmt(r['fraction_of_muladd_peak'])} of mul+add")

    py = os.path.join(args.peers_venv, "bin", "python")
    peer_recs, agree = [], []
    if args.no_peers:
        pass
    elif not os.path.exists(py):
        ns_notes.append(f"peers not installed ({py} missing): run bash bench/peers/setup.sh")
        log(ns_notes[-1])
    else:
        nest_why = os.path.join(args.peers_venv, "nest-unavailable.txt")
        if os.path.exists(nest_why):
            info["nest_unavailable"] = open(nest_why).read()[-2000:]
        log("peers:")
        peer_recs = run_peers(args, py, log)
        log("agreement:")
        agree = agreement(args, py, ns_exe, peer_recs, log)
    info["loadavg_end"] = os.getloadavg()
    info["harness_wall_s"] = time.perf_counter() - t_start
    write_report(args.out, info, ns_recs, ns_notes, peer_recs, agree, args.quick, extra)
    log(f"wrote {os.path.join(args.out, 'latest.md')} (.json, .csv)")


if __name__ == "__main__":
    main()
