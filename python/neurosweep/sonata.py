"""SONATA network files as BMTK writes them: the parts that the PopNet and PointNet readers
(popnet.py, pointnet.py) share.

- ``load_config``: a BMTK ``config.json`` with its ``manifest`` variables (``$BASE_DIR``,
  ``${configdir}``, ...) resolved to absolute paths; a simulation config whose ``"network"`` names
  a circuit config is merged with it;
- ``read_csv``: node-type / edge-type CSVs (space separated, header row);
- ``number``: a finite number or an error naming the file, the key and the value;
- ``node_types``: every node of every ``networks.nodes`` file with its node type row;
- ``edges_of``: every edge of an edges file with its SONATA edge-group attributes.

Errors are ``SonataError`` (a ValueError) or the subclass the caller passes as ``err``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple, Type


class SonataError(ValueError):
    """A SONATA / BMTK file that cannot be read; the message names the file, the key and the value."""


def resolve(value: str, manifest: Dict[str, str]) -> str:
    for _ in range(10):
        new = re.sub(r"\$\{?(\w+)\}?", lambda m: manifest.get("$" + m.group(1), m.group(0)), value)
        if new == value:
            break
        value = new
    return value


def load_config(path: Path, err: Type[SonataError] = SonataError) -> Dict[str, Any]:
    path = Path(path)
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise err(f"{path}: cannot read the BMTK config: {e}") from e
    base = path.parent
    manifest = {k: v for k, v in cfg.get("manifest", {}).items()}
    # BMTK's built-in variables (bmtk.simulator.utils.config / sonata config)
    manifest.setdefault("$configdir", str(base.resolve()))
    manifest.setdefault("$workingdir", os.getcwd())
    manifest.setdefault("$configfname", path.name)
    manifest.setdefault("$BASE_DIR", str(base))
    for k, v in list(manifest.items()):
        if k == "$configfname":
            continue
        v = resolve(str(v), manifest)
        manifest[k] = str((base / v).resolve()) if not os.path.isabs(v) else v

    def fix(o):
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(v) for v in o]
        if isinstance(o, str) and "$" in o:
            return resolve(o, manifest)
        return o
    cfg = fix(cfg)
    if isinstance(cfg.get("network"), str):  # simulation config -> circuit config
        net = Path(cfg["network"])
        net = net if net.is_absolute() else base / net
        circuit = load_config(net, err)
        for k, v in circuit.items():
            cfg.setdefault(k, v)
    return cfg


def read_csv(path: Path, err: Type[SonataError] = SonataError) -> List[Dict[str, str]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter=" ", skipinitialspace=True))
    except OSError as e:
        raise err(f"{path}: cannot read: {e}") from e
    return rows


def number(path, key, value, err: Type[SonataError] = SonataError) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise err(f"{path}: {key} = {value!r}: expected a number") from None
    if not math.isfinite(x):
        raise err(f"{path}: {key} = {value!r}: expected a finite number")
    return x


def node_types(nets: Dict[str, Any], err: Type[SonataError] = SonataError):
    """The nodes of ``networks.nodes``: returns (types, node_group, files) with
    types[(population, node_type_id)] = the node-type CSV row, node_group[(population, node_id)] =
    (population, node_type_id), files[(population, node_type_id)] = (nodes file, node-types file)."""
    import h5py
    types: Dict[tuple, Dict[str, str]] = {}
    node_group: Dict[tuple, tuple] = {}
    files: Dict[tuple, tuple] = {}
    for nf in nets.get("nodes", []):
        rows = {int(r["node_type_id"]): r for r in read_csv(Path(nf["node_types_file"]), err)}
        try:
            f = h5py.File(nf["nodes_file"], "r")
        except OSError as e:
            raise err(f"{nf['nodes_file']}: cannot open the SONATA nodes file: {e}") from e
        with f:
            for pop in f["nodes"]:
                for i, t in zip(f["nodes"][pop]["node_id"][()], f["nodes"][pop]["node_type_id"][()]):
                    if int(t) not in rows:
                        raise err(f"{nf['nodes_file']}: node {pop}:{int(i)}: node_type_id = {int(t)} is not "
                                  f"in {nf['node_types_file']}")
                    node_group[(pop, int(i))] = (pop, int(t))
                    types[(pop, int(t))] = rows[int(t)]
                    files[(pop, int(t))] = (nf["nodes_file"], nf["node_types_file"])
    return types, node_group, files


def edges_of(edges_h5: Path) -> List[Tuple[str, int, str, int, int, Dict[str, Any]]]:
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


def names_of(keys, types: Dict[tuple, Dict[str, str]]) -> Dict[tuple, str]:
    """neurosweep population names for node groups (population, node_type_id): the ``pop_name``
    (identifier characters only), or ``<population>_<pop_name>_<node_type_id>`` when pop_names
    repeat."""
    used = sorted(keys)
    base = {k: re.sub(r"[^A-Za-z0-9_]", "_", types[k].get("pop_name") or f"{k[0]}_{k[1]}") for k in used}
    names = {k: base[k] if list(base.values()).count(base[k]) == 1 else f"{k[0]}_{base[k]}_{k[1]}" for k in used}
    for k, v in names.items():  # neurosweep identifiers start with a letter or _
        if v and v[0].isdigit():
            names[k] = "_" + v
    return names
