"""BMTK PopNet networks as neurosweep sweeps (docs/POPULATIONS.md, "PopNet files").

PopNet (bmtk.simulator.popnet) runs SONATA networks of DiPDE populations. This module reads such a
network as PopNet does and writes a neurosweep spec for model ``dipde_network``:

- ``config.json`` (or a simulation config whose ``"network"`` names the circuit config), with its
  ``manifest`` variables; ``run.tstop`` (ms) and ``run.dt`` (PopNet passes it to DiPDE unconverted:
  seconds);
- the SONATA nodes (``nodes.h5`` + node-types CSV): nodes are grouped by ``node_type_id`` (PopNet's
  default ``group_by``); a node type with ``model_type`` ``population`` is an internal population
  whose DiPDE parameters come from its ``dynamics_params`` JSON in ``population_models_dir``
  (``tau_m`` s, ``v_min``/``v_max``/``dv`` V; ``update_method``, ``approx_order``, ``tol``,
  ``record`` are DiPDE solver settings); ``virtual`` node types are external populations;
- the SONATA edges (``edges.h5`` + edge-types CSV): one connection per (source type, target type)
  pair from the pair's first edge (PopNet's ``PopConnection.build``): ``syn_weight`` (V),
  ``nsyns``, ``delay`` (s);
- the ``pop_rates`` CSV inputs (space separated, header ``gid firing_rate``; gid = the external
  node type id; Hz).

Units: DiPDE's seconds and volts are converted to neurosweep's ms and mV here, and only here
(``_S_TO_MS``, ``_V_TO_MV``). The spec's parameters keep PopNet's names: internal populations
``<pop_name>`` (or ``<pop_name>_<node_type_id>`` when names repeat), connections
``<source>_to_<target>``; so any node-type or edge-type parameter is a sweep axis
(``"E.tau_m"``, ``"E_to_I.weight"``, ``"tON.rate"``).

``write_firing_rates`` writes one instance's rates in PopNet's ``firing_rates.csv`` layout
(space separated, no header, ``<node_type_id> <t in s> <rate in Hz>``), which
``bmtk.analyzer.firing_rates.plot_rates_popnet`` reads.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

_S_TO_MS = 1000.0  # DiPDE / PopNet seconds -> neurosweep ms
_V_TO_MV = 1000.0  # DiPDE volts -> neurosweep mV

# DiPDE InternalPopulation keywords that are solver settings, not model parameters.
_SOLVER_KEYS = {"update_method", "approx_order", "tol", "norm", "record", "initial_firing_rate",
                "metadata", "class", "module"}
_MODEL_KEYS = {"tau_m", "v_min", "v_max", "dv"}


class PopNetError(ValueError):
    """A PopNet file that cannot be read; the message names the file, the key and the value."""


def _resolve(value: str, manifest: Dict[str, str]) -> str:
    for _ in range(10):
        new = re.sub(r"\$\{?(\w+)\}?", lambda m: manifest.get("$" + m.group(1), m.group(0)), value)
        if new == value:
            break
        value = new
    return value


def _load_config(path: Path) -> Dict[str, Any]:
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PopNetError(f"{path}: cannot read the PopNet config: {e}") from e
    base = path.parent
    manifest = {k: v for k, v in cfg.get("manifest", {}).items()}
    manifest.setdefault("$BASE_DIR", str(base))
    for k, v in list(manifest.items()):
        v = _resolve(str(v), manifest)
        manifest[k] = str((base / v).resolve()) if not os.path.isabs(v) else v
    def fix(o):
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(v) for v in o]
        if isinstance(o, str) and "$" in o:
            return _resolve(o, manifest)
        return o
    cfg = fix(cfg)
    if isinstance(cfg.get("network"), str):  # simulation config -> circuit config
        net = Path(cfg["network"])
        net = net if net.is_absolute() else base / net
        circuit = _load_config(net)
        for k, v in circuit.items():
            cfg.setdefault(k, v)
    return cfg


def _read_csv(path: Path) -> List[Dict[str, str]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter=" ", skipinitialspace=True))
    except OSError as e:
        raise PopNetError(f"{path}: cannot read: {e}") from e
    return rows


def _number(path, key, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PopNetError(f"{path}: {key} = {value!r}: expected a number") from None
    if not math.isfinite(x):
        raise PopNetError(f"{path}: {key} = {value!r}: expected a finite number")
    return x


def _edges_of(edges_h5: Path):
    """Per edge: (source population, source node id, target population, target node id, edge type
    id, {attribute: value} of its SONATA edge group)."""
    import h5py
    out = []
    with h5py.File(edges_h5, "r") as f:
        for pop in f["edges"]:
            g = f["edges"][pop]
            src, trg = g["source_node_id"], g["target_node_id"]
            sp = src.attrs.get("node_population", b"")
            tp = trg.attrs.get("node_population", b"")
            sp = sp.decode() if isinstance(sp, bytes) else str(sp)
            tp = tp.decode() if isinstance(tp, bytes) else str(tp)
            gid = g["edge_group_id"][()] if "edge_group_id" in g else None
            gix = g["edge_group_index"][()] if "edge_group_index" in g else None
            groups = {}
            for k in g:
                if isinstance(g[k], h5py.Group) and k.isdigit():
                    groups[int(k)] = {a: g[k][a][()] for a in g[k] if isinstance(g[k][a], h5py.Dataset)}
            for n, (s_, t_, e_) in enumerate(zip(src[()], trg[()], g["edge_type_id"][()])):
                attrs = {}
                if gid is not None and int(gid[n]) in groups:
                    attrs = {a: v[int(gix[n])] for a, v in groups[int(gid[n])].items()}
                out.append((sp, int(s_), tp, int(t_), int(e_), attrs))
    return out


def read_popnet(config: "str | os.PathLike") -> Dict[str, Any]:
    """Reads a PopNet network (config.json and the files it names) into a neurosweep spec (dict)
    for model ``dipde_network``: transient 0, analysis = run.tstop, dt = run.dt, rates binned per
    time step. Raises PopNetError naming the file, the key and the value."""
    import h5py
    cfg_path = Path(config)
    cfg = _load_config(cfg_path)
    comps = cfg.get("components", {})
    pop_dir = Path(comps.get("population_models_dir", cfg_path.parent))
    nets = cfg.get("networks", {})
    # node types per SONATA node population (ids repeat across networks): (population, type id)
    types: Dict[tuple, Dict[str, str]] = {}
    node_group: Dict[tuple, tuple] = {}
    for nf in nets.get("nodes", []):
        rows = {int(r["node_type_id"]): r for r in _read_csv(Path(nf["node_types_file"]))}
        with h5py.File(nf["nodes_file"], "r") as f:
            for pop in f["nodes"]:
                for i, t in zip(f["nodes"][pop]["node_id"][()], f["nodes"][pop]["node_type_id"][()]):
                    if int(t) not in rows:
                        raise PopNetError(f"{nf['nodes_file']}: node {pop}:{int(i)}: node_type_id = {int(t)} is not "
                                          f"in {nf['node_types_file']}")
                    node_group[(pop, int(i))] = (pop, int(t))
                    types[(pop, int(t))] = rows[int(t)]
    if not types:
        raise PopNetError(f"{cfg_path}: networks.nodes: no nodes found")
    used = sorted(types)
    base = {k: re.sub(r"[^A-Za-z0-9_]", "_", types[k].get("pop_name") or f"{k[0]}_{k[1]}") for k in used}
    names = {k: base[k] if list(base.values()).count(base[k]) == 1 else f"{k[0]}_{base[k]}_{k[1]}" for k in used}
    internal, external = {}, {}
    for k in used:
        row = types[k]
        mt = row.get("model_type", "")
        if mt == "population":
            dp_path = pop_dir / row["dynamics_params"]
            try:
                dp = json.loads(dp_path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise PopNetError(f"{dp_path}: cannot read the dynamics_params of node type {k[0]}:{k[1]}: {e}") from e
            unknown = set(dp) - _MODEL_KEYS - _SOLVER_KEYS
            if unknown:
                raise PopNetError(f"{dp_path}: unknown DiPDE InternalPopulation keys {sorted(unknown)} "
                                  f"(known: {sorted(_MODEL_KEYS | _SOLVER_KEYS)})")
            tau = dp.get("tau_m", 0.02)
            if isinstance(tau, dict):
                if tau.get("distribution") != "delta":
                    raise PopNetError(f"{dp_path}: tau_m = {tau!r}: only a delta distribution is supported")
                tau = tau["weight"]
            internal[names[k]] = {
                "tau_m": _number(dp_path, "tau_m", tau) * _S_TO_MS,
                "v_min": _number(dp_path, "v_min", dp.get("v_min", -0.1)) * _V_TO_MV,
                "v_max": _number(dp_path, "v_max", dp.get("v_max", 0.02)) * _V_TO_MV,
                "dv": _number(dp_path, "dv", dp.get("dv", 1e-4)) * _V_TO_MV,
            }
        elif mt == "virtual":
            external[names[k]] = {"rate": 0.0}
        else:
            raise PopNetError(f"node type {k[0]}:{k[1]}: model_type = {mt!r}: expected 'population' or 'virtual'")
    # external rates: pop_rates CSV inputs (gid = the node type id within the input's node_set)
    for name, inp in cfg.get("inputs", {}).items():
        if inp.get("module") != "pop_rates":
            continue
        rpath = Path(inp["rates"])
        node_set = inp.get("node_set")
        for row in _read_csv(rpath):
            t = int(_number(rpath, "gid", row.get("gid")))
            cands = [k for k in used if k[1] == t and names[k] in external and (node_set in (None, k[0]))]
            if len(cands) != 1:
                raise PopNetError(f"{rpath}: gid = {t}: not the node_type_id of one virtual population of node_set "
                                  f"{node_set!r} ({sorted(f'{k[0]}:{k[1]}' for k in used if names[k] in external)})")
            external[names[cands[0]]]["rate"] = _number(rpath, "firing_rate", row.get("firing_rate"))
    # edges: one connection per (source type, target type), from the first edge (PopConnection.build)
    connections, seen = [], set()
    for ef in nets.get("edges", []):
        ep = ef["edge_types_file"]
        etypes = {int(r["edge_type_id"]): r for r in _read_csv(Path(ep))}
        for sp, s_, tp, t_, e_, attrs in _edges_of(Path(ef["edges_file"])):
            st, tt = node_group.get((sp, s_)), node_group.get((tp, t_))
            if st is None or tt is None:
                raise PopNetError(f"{ef['edges_file']}: edge {sp}:{s_} -> {tp}:{t_}: node not in the node files")
            if (st, tt) in seen:
                continue
            seen.add((st, tt))
            et = dict(etypes.get(e_, {}))
            et.update({a: v for a, v in attrs.items()})
            if names[tt] not in internal:
                raise PopNetError(f"{ef['edges_file']}: edge to {names[tt]}: the target must be a 'population' node type")
            connections.append({
                "source": names[st], "target": names[tt],
                "weight": _number(ep, "syn_weight", et.get("syn_weight")) * _V_TO_MV,
                "nsyns": _number(ep, "nsyns", et.get("nsyns", 1)),
                "delay": _number(ep, "delay", et.get("delay", 0)) * _S_TO_MS,
            })
    run = cfg.get("run", {})
    dt_ms = _number(cfg_path, "run.dt", run.get("dt", 0.001)) * _S_TO_MS  # PopNet: seconds
    tstop = _number(cfg_path, "run.tstop", run.get("tstop", 1000.0))      # ms
    return {
        "model": "dipde_network",
        "dt": f"{dt_ms:.12g} ms",
        "transient": "0 ms",
        "analysis": f"{tstop:.12g} ms",
        "precision": "double",
        "populations": {"internal": internal, "external": external, "connections": connections},
        "output": {"rate_bin": f"{dt_ms:.12g} ms"},
        "popnet": {"node_type_id": {names[k]: k[1] for k in used}},
    }


def write_spec(config, out, axes: Optional[list] = None) -> Dict[str, Any]:
    """read_popnet(config) with optional sweep axes, written as JSON to `out` (the "popnet" key,
    which the spec parser does not know, is moved to <out>.popnet.json)."""
    spec = read_popnet(config)
    ids = spec.pop("popnet")
    if axes:
        spec["axes"] = axes
    Path(out).write_text(json.dumps(spec, indent=1))
    Path(str(out) + ".popnet.json").write_text(json.dumps(ids, indent=1))
    return spec


def write_firing_rates(db, instance: int, out, node_type_ids: Dict[str, int]) -> None:
    """Rates of one instance of a dipde_network database in PopNet's firing_rates.csv layout:
    '<node_type_id> <t s> <rate Hz>' per record, space separated, no header, t = 0 first (rate 0,
    DiPDE's initial record). Times are bin ends (t0 + (b + 1) bin); with rate_bin = dt and no
    transient they are DiPDE's record times."""
    from .database import Database
    d = db if isinstance(db, Database) else Database(db)
    r = d.rates(instances=[instance])
    bin_ms = float(r.attrs["bin_ms"])
    t0 = float(r.attrs.get("t0_ms", 0.0))
    with open(out, "w") as f:
        for pop in r.coords["population"].values:
            pid = node_type_ids[str(pop)]
            vals = r.sel(population=pop).values[0]
            if t0 == 0.0:
                f.write(f"{pid} 0.0 0.0\n")
            for b, v in enumerate(vals):
                f.write(f"{pid} {(t0 + (b + 1) * bin_ms) / _S_TO_MS:.9g} {float(v):.9g}\n")
