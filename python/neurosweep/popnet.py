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

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import sonata

_S_TO_MS = 1000.0  # DiPDE / PopNet seconds -> neurosweep ms
_V_TO_MV = 1000.0  # DiPDE volts -> neurosweep mV

# DiPDE InternalPopulation keywords that are solver settings, not model parameters.
_SOLVER_KEYS = {"update_method", "approx_order", "tol", "norm", "record", "initial_firing_rate",
                "metadata", "class", "module"}
_MODEL_KEYS = {"tau_m", "v_min", "v_max", "dv"}


class PopNetError(sonata.SonataError):
    """A PopNet file that cannot be read; the message names the file, the key and the value."""


def _load_config(path: Path) -> Dict[str, Any]:
    return sonata.load_config(path, PopNetError)


def _read_csv(path: Path) -> List[Dict[str, str]]:
    return sonata.read_csv(path, PopNetError)


def _number(path, key, value) -> float:
    return sonata.number(path, key, value, PopNetError)


_edges_of = sonata.edges_of


def read_popnet(config: "str | os.PathLike") -> Dict[str, Any]:
    """Reads a PopNet network (config.json and the files it names) into a neurosweep spec (dict)
    for model ``dipde_network``: transient 0, analysis = run.tstop, dt = run.dt, rates binned per
    time step. Raises PopNetError naming the file, the key and the value."""
    cfg_path = Path(config)
    cfg = _load_config(cfg_path)
    comps = cfg.get("components", {})
    pop_dir = Path(comps.get("population_models_dir", cfg_path.parent))
    nets = cfg.get("networks", {})
    # node types per SONATA node population (ids repeat across networks): (population, type id)
    types, node_group, _ = sonata.node_types(nets, PopNetError)
    if not types:
        raise PopNetError(f"{cfg_path}: networks.nodes: no nodes found")
    used = sorted(types)
    names = sonata.names_of(used, types)
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
