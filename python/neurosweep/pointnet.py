"""BMTK PointNet networks as neurosweep sweeps (docs/NETWORKS.md, "BMTK PointNet networks").

PointNet (bmtk.simulator.pointnet) runs SONATA networks of NEST point neurons. This module reads
such a network as PointNet does and writes a neurosweep spec for ``"model": "network"`` plus one
HDF5 file of edges and input spikes beside it:

- ``config.json`` (or a simulation config whose ``"network"`` names the circuit config) with its
  ``manifest`` (sonata.load_config); ``run.tstop`` (or ``run.duration``) and ``run.dt``, both in ms;
- nodes: one neurosweep population per (node population, ``node_type_id``) of non-virtual nodes
  (``model_type`` ``point_neuron``): ``model_template`` ``nest:<model>`` -> the registry model of
  the same name, its ``dynamics_params`` JSON (``components.point_neuron_models_dir``) -> the
  population's ``params`` (NEST's names and units, which are neurosweep's for these models);
- virtual nodes (``model_type`` ``virtual``): one spike-source population per node type, whose
  neurons emit the spike times of the config's ``inputs`` of ``input_type`` ``spikes`` (SONATA
  spikes file, ``module`` ``sonata``/``h5``; or ``csv``), exactly as BMTK's spike_generators do;
- edges: one projection per (source group, target group) with rule ``explicit``: the edge list
  (0-based indices within the neurosweep populations) and, per edge, PointNet's weight
  ``syn_weight x nsyns`` (bmtk/simulator/pointnet/sonata_adaptors.py, PointEdgeAdaptor.get_batches:
  one NEST connection per SONATA edge with that weight) and ``delay`` (edge dataset, else the edge
  type's column, else the synapse ``dynamics_params``, else NEST's default 1 ms). A weight or
  delay that is the same for every edge of a projection goes into the spec (sweepable as
  ``<src>-><tgt>.weight`` / ``.delay``); otherwise it is a dataset. ``weight_scale`` (1) scales
  the whole projection and is sweepable as ``<src>-><tgt>.weight_scale``.

Names: populations are the node types' ``pop_name`` (``<population>_<pop_name>_<node_type_id>``
when pop_names repeat), so ``E.tau_m``, ``E->I.weight_scale``, ``input->E.delay`` are sweep axes.

``write_spec(config, out)`` writes ``out`` (the spec) and ``<out without .json>.pointnet.h5``
(groups ``/projections/<src>-><tgt>`` with datasets source, target[, weight][, delay] and
``/inputs/<pop>`` with index, time) and ``<out>.pointnet.json`` (what maps to what: populations ->
(SONATA population, node_type_id, node ids)), to map a database's cells back to SONATA node ids.

Refused, with the file, key and value: node types whose ``model_template`` is not ``nest:<a
registry point model>`` (NESTML modules too: networks take registry models only), per-node
``dynamics_params`` or ``model_template`` in the nodes file, ``dynamics_params`` keys the model does
not have, edge ``model_template`` other than ``static_synapse``, synapse ``dynamics_params``
other than ``delay``/``weight``, a custom ``weight_function``, edges into virtual nodes, inputs
other than spike trains, spike times <= 0.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import sonata

# bmtk.simulator.pointnet.default_setters.synaptic_weights: these names are syn_weight * nsyns.
_BUILTIN_WEIGHT_FUNCTIONS = {"default_weight_fnc", "set_syn_weight", "wmax"}
_NEST_DEFAULT_DELAY_MS = 1.0  # NEST static_synapse default delay
_EDGES_SUFFIX = ".pointnet.h5"


class PointNetError(sonata.SonataError):
    """A PointNet file that neurosweep cannot run; the message names the file, the key and the value."""


def _point_models(binary: Optional[str]) -> Optional[Dict[str, List[str]]]:
    """Registry point models -> the parameters a network population may set (those before the
    model's input block), from `neurosweep models --json`; None when no binary is found (the spec
    parser checks the same names when it runs)."""
    try:
        from .models import model_info, models
        out = {}
        for m in models(binary):
            if m.get("kind") != "point_neuron":
                continue
            names = [p["name"] for p in model_info(m["name"], binary)["parameters"]]
            if "step_amplitude" in names:
                names = names[:names.index("step_amplitude")]
            out[m["name"]] = names
        return out
    except Exception:  # noqa: BLE001 - no binary: validation is left to the spec parser
        return None


def _read_json(path: Path, what: str) -> Dict[str, Any]:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PointNetError(f"{path}: cannot read the {what}: {e}") from e
    if not isinstance(d, dict):
        raise PointNetError(f"{path}: the {what} must be a JSON object, got {type(d).__name__}")
    return d


def _nodes_group_columns(nodes_file: str, population: str) -> List[str]:
    import h5py
    with h5py.File(nodes_file, "r") as f:
        g = f["nodes"][population]
        cols = []
        for k in g:
            if isinstance(g[k], h5py.Group) and k.isdigit():
                cols += list(g[k].keys())
        return cols


def _input_spikes(cfg: Dict[str, Any], cfg_path: Path) -> Dict[str, List[Tuple[np.ndarray, np.ndarray, str]]]:
    """Spike trains of the config's inputs: {node population: [(node_ids, times_ms, file)]}."""
    import h5py
    out: Dict[str, list] = {}
    for name, inp in cfg.get("inputs", {}).items():
        key = f"{cfg_path}: inputs.{name}"
        if inp.get("enabled", True) is False:
            continue
        if inp.get("input_type") != "spikes":
            raise PointNetError(f"{key}.input_type = {inp.get('input_type')!r}: neurosweep reads spike-train inputs "
                                f"only (input_type 'spikes'); current clamps and other inputs are not converted")
        module = inp.get("module")
        node_set = inp.get("node_set")
        pop = node_set.get("population") if isinstance(node_set, dict) else node_set
        if not isinstance(pop, str):
            raise PointNetError(f"{key}.node_set = {node_set!r}: expected a node population name "
                                f"(or {{\"population\": name}})")
        path = inp.get("input_file")
        if module in ("sonata", "h5", "hdf5"):
            try:
                f = h5py.File(path, "r")
            except OSError as e:
                raise PointNetError(f"{key}.input_file = {path!r}: cannot open: {e}") from e
            with f:
                if "spikes" not in f:
                    raise PointNetError(f"{path}: no /spikes group (a SONATA spikes file)")
                g = f["spikes"]
                if pop in g and isinstance(g[pop], h5py.Group):
                    g = g[pop]
                elif "node_ids" not in g and "gids" not in g:
                    raise PointNetError(f"{path}: /spikes has no population {pop!r} (node_set of inputs.{name}); "
                                        f"has {sorted(g.keys())}")
                ids = g["node_ids"][()] if "node_ids" in g else g["gids"][()]
                ts = g["timestamps"]
                units = ts.attrs.get("units", "ms")
                units = units.decode() if isinstance(units, bytes) else str(units)
                t = np.asarray(ts[()], dtype=np.float64)
                if units in ("s", "second", "seconds"):
                    t = t * 1000.0
                elif units not in ("ms", "millisecond", "milliseconds"):
                    raise PointNetError(f"{path}: /spikes/{pop}/timestamps units = {units!r}: expected 'ms' or 's'")
        elif module == "csv":
            import csv
            try:
                with open(path, newline="") as fh:
                    rows = list(csv.DictReader(fh, delimiter=" ", skipinitialspace=True))
            except OSError as e:
                raise PointNetError(f"{key}.input_file = {path!r}: cannot read: {e}") from e
            rows = [r for r in rows if r.get("population", pop) == pop]
            ids = np.array([int(sonata.number(path, "node_ids", r.get("node_ids"), PointNetError)) for r in rows])
            t = np.array([sonata.number(path, "timestamps", r.get("timestamps"), PointNetError) for r in rows])
        else:
            raise PointNetError(f"{key}.module = {module!r}: expected 'sonata', 'h5' or 'csv' (a spike-train file)")
        ids = np.asarray(ids, dtype=np.int64)
        bad = np.flatnonzero(~(t > 0) | ~np.isfinite(t))
        if bad.size:
            raise PointNetError(f"{path}: spike time {float(t[bad[0]])!r} ms of node {int(ids[bad[0]])}: expected > 0 ms "
                                f"(NEST's spike_generator refuses times <= 0; BMTK stops there too)")
        out.setdefault(pop, []).append((ids, t, str(path)))
    return out


def read_pointnet(config: "str | os.PathLike", binary: Optional[str] = None):
    """Reads a PointNet network (config.json and the files it names). Returns (spec, data, mapping):
    the spec (dict, file paths still to be set by write_spec), the arrays to write
    ({"projections": {name: {dataset: array}}, "inputs": {pop: {"index", "time"}}}) and the
    mapping of populations to SONATA nodes. Raises PointNetError naming the file, key and value."""
    cfg_path = Path(config)
    if cfg_path.is_dir():
        cfg_path = cfg_path / "config.json"
    cfg = sonata.load_config(cfg_path, PointNetError)
    comps = cfg.get("components", {})
    cell_dir = Path(comps.get("point_neuron_models_dir", cfg_path.parent))
    syn_dir = Path(comps.get("synaptic_models_dir", cfg_path.parent))
    nets = cfg.get("networks", {})
    types, node_group, files = sonata.node_types(nets, PointNetError)
    if not types:
        raise PointNetError(f"{cfg_path}: networks.nodes: no nodes found")
    used = sorted(types)
    names = sonata.names_of(used, types)
    registry = _point_models(binary)
    # members of each group, in node-id order: local index = position
    members: Dict[tuple, List[int]] = {k: [] for k in used}
    for (pop, nid), k in sorted(node_group.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        members[k].append(nid)
    local = {}
    for k, ids in members.items():
        for i, nid in enumerate(ids):
            local[(k[0], nid)] = i

    run = cfg.get("run", {})
    dt = sonata.number(cfg_path, "run.dt", run.get("dt", 0.1), PointNetError)
    tstop = run.get("tstop", run.get("duration"))
    if tstop is None:
        raise PointNetError(f"{cfg_path}: run: missing \"tstop\" (or \"duration\"), the simulated time in ms")
    tstop = sonata.number(cfg_path, "run.tstop", tstop, PointNetError)

    populations, virtual = [], {}
    mapping = {"populations": {}}
    for k in used:
        row = types[k]
        name = names[k]
        nodes_file, types_file = files[k]
        where = f"{types_file}: node_type_id {k[1]} (population {k[0]})"
        mt = row.get("model_type", "")
        mapping["populations"][name] = {"population": k[0], "node_type_id": k[1], "node_ids": members[k],
                                        "virtual": mt == "virtual"}
        if mt == "virtual":
            virtual[k] = name
            continue
        if mt not in ("point_neuron", "point_process", ""):
            raise PointNetError(f"{where}: model_type = {mt!r}: expected 'point_neuron' or 'virtual'")
        cols = _nodes_group_columns(nodes_file, k[0])
        for c in ("dynamics_params", "model_template", "model_type"):
            if c in cols:
                raise PointNetError(f"{nodes_file}: /nodes/{k[0]}: per-node {c!r}: neurosweep populations are "
                                    f"homogeneous (one parameter set per node type); put it in {types_file}")
        tmpl = row.get("model_template") or ""
        if not tmpl.startswith("nest:"):
            raise PointNetError(f"{where}: model_template = {tmpl!r}: expected 'nest:<model>' (a NEST point model)")
        model = tmpl[5:]
        if registry is not None and model not in registry:
            hint = (" (a NESTML model from components.nest_modules: neurosweep runs .nestml models as single-neuron "
                    "sweeps, docs/NESTML.md, but not yet as network populations)" if model.endswith("_nestml") else "")
            raise PointNetError(f"{where}: model_template = {tmpl!r}: neurosweep has no point model {model!r}{hint}; "
                                f"point models: {', '.join(sorted(registry))}")
        params: Dict[str, float] = {}
        dp = row.get("dynamics_params")
        if dp and dp != "NULL":
            dp_path = cell_dir / dp
            d = _read_json(dp_path, f"dynamics_params of node type {k[0]}:{k[1]}")
            for key, v in d.items():
                if registry is not None and key not in registry[model]:
                    raise PointNetError(f"{dp_path}: {key} = {v!r}: not a parameter of {model} "
                                        f"(valid: {', '.join(registry[model])})")
                params[key] = sonata.number(dp_path, key, v, PointNetError)
        pop = {"name": name, "model": model, "size": len(members[k]), "sample": min(len(members[k]), 1000),
               "params": params}
        populations.append(pop)

    # inputs: spike trains of the virtual node types
    spikes = _input_spikes(cfg, cfg_path)
    data: Dict[str, Any] = {"projections": {}, "inputs": {}}
    sources = []
    for k, name in sorted(virtual.items()):
        idx, tt = [], []
        for ids, t, path in spikes.get(k[0], []):
            for nid, ti in zip(ids.tolist(), t.tolist()):
                g = node_group.get((k[0], nid))
                if g is None:
                    raise PointNetError(f"{path}: node_ids {nid} of population {k[0]!r} is not in the node files")
                if g == k:
                    idx.append(local[(k[0], nid)])
                    tt.append(ti)
        data["inputs"][name] = {"index": np.asarray(idx, dtype=np.int64), "time": np.asarray(tt, dtype=np.float64)}
        sources.append({"name": name, "spike_times": {"file": None, "group": f"/inputs/{name}"},
                        "size": len(members[k]), "sample": min(len(members[k]), 1000)})
    for pop_name, lst in spikes.items():
        if not any(k[0] == pop_name for k in virtual):
            raise PointNetError(f"{lst[0][2]}: spikes for node population {pop_name!r}, which has no virtual nodes")

    # edges: per (source group, target group), PointNet's weight and delay per edge
    per_pair: Dict[tuple, Dict[str, list]] = {}
    for ef in nets.get("edges", []):
        ep = Path(ef["edge_types_file"])
        etypes = {int(r["edge_type_id"]): r for r in sonata.read_csv(ep, PointNetError)}
        checked = {}
        for sp, s_, tp, t_, e_, attrs in sonata.edges_of(Path(ef["edges_file"])):
            st, tt_ = node_group.get((sp, s_)), node_group.get((tp, t_))
            if st is None or tt_ is None:
                raise PointNetError(f"{ef['edges_file']}: edge {sp}:{s_} -> {tp}:{t_}: node not in the node files")
            if tt_ in virtual:
                raise PointNetError(f"{ef['edges_file']}: edge {sp}:{s_} -> {tp}:{t_}: the target is a virtual node")
            if e_ not in etypes:
                raise PointNetError(f"{ef['edges_file']}: edge_type_id = {e_} is not in {ep}")
            et = etypes[e_]
            if e_ not in checked:
                checked[e_] = _edge_type(ep, e_, et, syn_dir)
            syn_delay = checked[e_]
            w = attrs.get("syn_weight", et.get("syn_weight"))
            if w is None or w == "NULL":
                raise PointNetError(f"{ep}: edge_type_id {e_}: no syn_weight (neither an edge dataset nor the "
                                    f"edge-type column); PointNet stops with 'Could not find syn_weight value'")
            w = sonata.number(ep, f"edge_type_id {e_}: syn_weight", w, PointNetError)
            ns = attrs.get("nsyns", et.get("nsyns", 1))
            ns = 1 if ns in (None, "NULL") else sonata.number(ep, f"edge_type_id {e_}: nsyns", ns, PointNetError)
            d = attrs.get("delay", et.get("delay"))
            if d is None or d == "NULL":
                d = syn_delay
            d = sonata.number(ep, f"edge_type_id {e_}: delay", d, PointNetError)
            if not d >= dt - 1e-12:
                raise PointNetError(f"{ef['edges_file']}: edge {sp}:{s_} -> {tp}:{t_} (edge_type_id {e_}): delay = "
                                    f"{d} ms is below dt = {dt} ms (NEST refuses it; BMTK reports the same)")
            pp = per_pair.setdefault((st, tt_), {"source": [], "target": [], "weight": [], "delay": []})
            pp["source"].append(local[(sp, s_)])
            pp["target"].append(local[(tp, t_)])
            pp["weight"].append(w * ns)
            pp["delay"].append(d)

    projections = []
    for (st, tt_), pp in sorted(per_pair.items(), key=lambda kv: (names[kv[0][0]], names[kv[0][1]])):
        pname = f"{names[st]}->{names[tt_]}"
        pr: Dict[str, Any] = {"source": names[st], "target": names[tt_], "rule": "explicit", "file": None,
                              "group": f"/projections/{pname}", "weight_scale": 1}
        ds = {"source": np.asarray(pp["source"], dtype=np.int64), "target": np.asarray(pp["target"], dtype=np.int64)}
        w = np.asarray(pp["weight"], dtype=np.float64)
        d = np.asarray(pp["delay"], dtype=np.float64)
        if np.all(w == w[0]):
            pr["weight"] = float(w[0])
        else:
            ds["weight"] = w
        if np.all(d == d[0]):
            pr["delay"] = float(d[0])
        else:
            ds["delay"] = d
        data["projections"][pname] = ds
        projections.append(pr)

    spec = {
        "model": "network",
        "dt": f"{dt:.12g} ms",
        "transient": "0 ms",
        "analysis": f"{tstop:.12g} ms",
        "precision": "double",
        "seed": 1,
        "network": {"populations": populations + sources, "projections": projections},
        # every spike of the first 1000 neurons of each population (up to 1 kHz, at most 5000 per neuron)
        "output": {"spikes": max(1, min(5000, int(math.ceil(tstop)))), "rate_bin": "1 ms"},
    }
    return spec, data, mapping


def _edge_type(ep: Path, e_: int, et: Dict[str, str], syn_dir: Path) -> float:
    """Checks an edge type PointNet-wise; returns the delay its synapse dynamics_params give
    (NEST's default 1 ms without one)."""
    tmpl = et.get("model_template") or "static_synapse"
    tmpl = tmpl[5:] if tmpl.startswith("nest:") else tmpl
    if tmpl not in ("static_synapse", "NULL"):
        raise PointNetError(f"{ep}: edge_type_id {e_}: model_template = {et.get('model_template')!r}: neurosweep "
                            f"networks have static synapses only ('static_synapse')")
    wf = et.get("weight_function")
    if wf not in (None, "", "NULL") and wf not in _BUILTIN_WEIGHT_FUNCTIONS:
        raise PointNetError(f"{ep}: edge_type_id {e_}: weight_function = {wf!r}: a Python function neurosweep cannot "
                            f"run; only PointNet's built-in {sorted(_BUILTIN_WEIGHT_FUNCTIONS)} (syn_weight x nsyns)")
    delay = _NEST_DEFAULT_DELAY_MS
    dp = et.get("dynamics_params")
    if dp and dp != "NULL":
        path = syn_dir / dp
        d = _read_json(path, f"synapse dynamics_params of edge_type_id {e_}")
        for key, v in d.items():
            if key == "delay":
                delay = sonata.number(path, key, v, PointNetError)
            elif key in ("weight", "synapse_model", "model"):
                continue  # PointNet sets weight from syn_weight x nsyns and the model from model_template
            else:
                raise PointNetError(f"{path}: {key} = {v!r}: neurosweep's static synapses take no parameter besides "
                                    f"weight and delay (receptor ports and plasticity are not supported)")
    return delay


def write_spec(config, out, axes: Optional[list] = None, fixed: Optional[dict] = None,
               binary: Optional[str] = None) -> Dict[str, Any]:
    """read_pointnet(config) written as a spec to `out` (JSON), with optional sweep axes and fixed
    values; the edges and input spikes go to <out stem>.pointnet.h5 beside it (named relative to
    the spec), the population mapping to <out>.pointnet.json. Returns the spec."""
    import h5py
    spec, data, mapping = read_pointnet(config, binary)
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".json") else out.name
    h5 = out.parent / (stem + _EDGES_SUFFIX)
    with h5py.File(h5, "w") as f:
        f.attrs["format"] = "neurosweep pointnet edges"
        f.attrs["config"] = str(Path(config).resolve())
        for pname, ds in data["projections"].items():
            g = f.require_group("projections").create_group(pname)
            for k, v in ds.items():
                g.create_dataset(k, data=v)
        for pop, ds in data["inputs"].items():
            g = f.require_group("inputs").create_group(pop)
            for k, v in ds.items():
                g.create_dataset(k, data=v)
    for pr in spec["network"]["projections"]:
        pr["file"] = h5.name
    for pop in spec["network"]["populations"]:
        if "spike_times" in pop:
            pop["spike_times"]["file"] = h5.name
    if axes:
        spec["axes"] = axes
    if fixed:
        spec["fixed"] = fixed
    out.write_text(json.dumps(spec, indent=1))
    Path(str(out) + ".pointnet.json").write_text(json.dumps(mapping, indent=1))
    return spec


def bmtk_spikes(db, instance: int, mapping, out=None) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """The SONATA spike file of one instance (output.sonata_spikes) with BMTK's node ids: every
    spike of the simulated (non-virtual) node types, grouped per SONATA node population as BMTK
    PointNet writes output/spikes.h5 (/spikes/<population>/node_ids, timestamps in ms from the start
    of the simulation, sorted by time then node id, group attribute sorting = "by_time").

    db: a neurosweep.Database or its path; mapping: the <spec>.pointnet.json that write_spec wrote
    (path or dict); out: if given, the HDF5 file to write. Returns {population: (node_ids, times)}.
    Raises PointNetError when a population of the file is not in the mapping or a local index is
    outside its node list (the database was built from another network)."""
    import h5py
    from .database import Database
    from .database import open as open_db
    d = db if isinstance(db, Database) else open_db(str(db))
    where = str(mapping) if not isinstance(mapping, dict) else "<mapping>"
    m = mapping if isinstance(mapping, dict) else _read_json(Path(mapping), "the PointNet mapping")
    pops = m.get("populations")
    if not isinstance(pops, dict):
        raise PointNetError(f"{where}: no \"populations\" object (expected a <spec>.pointnet.json)")
    path = d.sonata_spikes_path(instance)
    with h5py.File(path, "r") as f:
        t0 = float(f.attrs.get("t0", 0.0))
    ids_of: Dict[str, List[np.ndarray]] = {}
    t_of: Dict[str, List[np.ndarray]] = {}
    for pop, (local, t) in d.sonata_spikes(instance).items():
        if pop not in pops:
            raise PointNetError(f"{path}: population {pop!r} is not in {where} (populations: {sorted(pops)})")
        e = pops[pop]
        if e.get("virtual"):
            continue
        node_ids = np.asarray(e["node_ids"], dtype=np.int64)
        local = np.asarray(local, dtype=np.int64)
        if local.size and (local.min() < 0 or local.max() >= node_ids.size):
            raise PointNetError(f"{path}: population {pop!r} has local index {int(local.max())}, but {where} lists "
                                f"{node_ids.size} node ids for it (a database of another network?)")
        ids_of.setdefault(e["population"], []).append(node_ids[local])
        t_of.setdefault(e["population"], []).append(np.asarray(t, dtype=np.float64) + t0)
    res = {}
    for sp in ids_of:
        ids, ts = np.concatenate(ids_of[sp]), np.concatenate(t_of[sp])
        order = np.lexsort((ids, ts))
        res[sp] = (ids[order].astype(np.uint64), ts[order])
    if out is not None:
        tmp = str(out) + ".tmp"
        with h5py.File(tmp, "w") as f:
            f.attrs["source"] = f"{d.path} instance {int(instance)} (neurosweep.pointnet.bmtk_spikes)"
            for sp, (ids, ts) in res.items():
                g = f.create_group(f"spikes/{sp}")
                g.attrs["sorting"] = "by_time"
                g.create_dataset("node_ids", data=ids)
                g.create_dataset("timestamps", data=ts).attrs["units"] = "ms"
        os.replace(tmp, out)
    return res


def main(argv=None) -> int:
    """`python -m neurosweep pointnet CONFIG -o SPEC.json [--axis JSON]... [--fixed NAME=VALUE]...`"""
    import argparse
    import sys
    ap = argparse.ArgumentParser(prog="python -m neurosweep pointnet",
                                 description="Convert a BMTK PointNet network (config.json or its folder) to a "
                                             "neurosweep network spec (docs/NETWORKS.md, 'BMTK PointNet networks').")
    ap.add_argument("config", help="PointNet config.json (simulation or circuit config), or the folder holding it")
    ap.add_argument("-o", "--output", required=True, help="spec to write (JSON); the edges go to <stem>.pointnet.h5")
    ap.add_argument("--axis", action="append", default=[], metavar="JSON",
                    help='a sweep axis, e.g. \'{"kind": "list", "param": "E->I.weight_scale", "values": [0.5, 1, 2]}\'')
    ap.add_argument("--fixed", action="append", default=[], metavar="NAME=VALUE", help="a fixed parameter value")
    ap.add_argument("--binary", help="the neurosweep executable (for the model checks; default: found as usual)")
    a = ap.parse_args(argv)
    try:
        axes = [json.loads(x) for x in a.axis]
    except json.JSONDecodeError as e:
        print(f"--axis: not JSON: {e}", file=sys.stderr)
        return 2
    fixed = {}
    for x in a.fixed:
        k, _, v = x.partition("=")
        try:
            fixed[k] = float(v)
        except ValueError:
            print(f"--fixed {x!r}: expected NAME=NUMBER", file=sys.stderr)
            return 2
    try:
        spec = write_spec(a.config, a.output, axes or None, fixed or None, a.binary)
    except PointNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    pops = spec["network"]["populations"]
    print(f"{a.output}: {len(pops)} populations ({sum(p['size'] for p in pops)} neurons), "
          f"{len(spec['network']['projections'])} projections")
    return 0


def spikes_main(argv=None) -> int:
    """`python -m neurosweep pointnet-spikes DB INSTANCE MAPPING -o SPIKES.h5` (bmtk_spikes)."""
    import argparse
    import sys
    ap = argparse.ArgumentParser(prog="python -m neurosweep pointnet-spikes",
                                 description="Write the SONATA spike file of one instance (output.sonata_spikes) with "
                                             "BMTK's node ids and node populations, as BMTK PointNet's output/spikes.h5.")
    ap.add_argument("db", help="the database (neurosweep run -o DB)")
    ap.add_argument("instance", type=int, help="an instance listed in output.sonata_spikes.instances")
    ap.add_argument("mapping", help="the <spec>.pointnet.json written by `python -m neurosweep pointnet`")
    ap.add_argument("-o", "--output", required=True, help="spike file to write (HDF5)")
    a = ap.parse_args(argv)
    try:
        res = bmtk_spikes(a.db, a.instance, a.mapping, a.output)
    except (PointNetError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{a.output}: " + ", ".join(f"{p} {len(v[0])} spikes" for p, v in res.items()))
    return 0
