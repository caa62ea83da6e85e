"""Writer of a database table in the project's format (docs/FORMAT.md section 1), for results that
Python computes (`python -m neurosweep search`): the same root attributes, `/instances` layout
(chunked ~1 MiB, shuffle + gzip 4 + Fletcher32, HDF5 enum types for enum columns, fixed-length
UTF-8 strings, HDF5 1.10 file format) as the C++ writer, so `neurosweep info/query`,
`neurosweep.open()`, the plots and the explorer read it like a database of `neurosweep run`.

Only what such a table needs: no `/axes` (not a grid), no `/spikes`, `/final_state` or `/traces`.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Mapping, Sequence

import h5py
import numpy as np

_NP = {"f4": "<f4", "f8": "<f8", "i1": "i1", "u1": "u1", "i4": "<i4", "u4": "<u4", "u8": "<u8"}


def _str_attr(obj, name: str, text: str) -> None:
    """A fixed-length UTF-8 string attribute (FORMAT.md: no variable-length strings)."""
    b = text.encode("utf-8")
    obj.attrs.create(name, np.array(b if b else b"\0", dtype=f"S{max(1, len(b))}"),
                     dtype=h5py.string_dtype("utf-8", max(1, len(b))))


def _attr(obj, name: str, v: Any) -> None:
    if isinstance(v, bool):
        obj.attrs.create(name, np.int64(int(v)))
    elif isinstance(v, (int, np.integer)):
        obj.attrs.create(name, np.int64(v))
    elif isinstance(v, (float, np.floating)):
        obj.attrs.create(name, np.float64(v))
    else:
        _str_attr(obj, name, str(v))


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_table(path: str, columns: Sequence[Mapping[str, Any]], data: Mapping[str, np.ndarray], *,
                spec: str, spec_hash: str, attrs: Mapping[str, Any], created: str = "") -> None:
    """Writes `path` (to `path.tmp`, fsync'd, then renamed) as a complete database of
    len(data[columns[0]]) rows, instance indices 0..n-1.

    columns: the schema's columns in order, each {"name", "dtype" (f4 f8 i1 u1 i4 u4 u8), "units",
    "description", "enum_names"}; data: name -> values (enum columns: the integer codes, -1 =
    unclassified for a signed enum). attrs: caller attributes (model, seed, dt_ms, ...), written
    with their types as `neurosweep run` writes its own."""
    names = [c["name"] for c in columns]
    n = len(data[names[0]]) if names else 0
    schema = {"columns": [{"name": c["name"], "dtype": c["dtype"], "units": c.get("units", ""),
                           "description": c.get("description", ""), "enum_names": list(c.get("enum_names") or [])}
                          for c in columns],
              "state_names": [], "state_units": [], "final_state": False, "max_spikes_stored": 0, "axes": []}
    label_names: List[str] = []
    label_counts: Dict[str, int] = {}
    tmp = path + ".tmp"
    fapl_kw = {"libver": ("v110", "latest")}
    with h5py.File(tmp, "w", track_order=True, **fapl_kw) as f:
        g = f.create_group("instances", track_order=True)
        _str_attr(g, "columns", json.dumps(names))
        for c in schema["columns"]:
            v = np.asarray(data[c["name"]])
            if len(v) != n:
                raise ValueError(f"{path}: column {c['name']} has {len(v)} rows; expected {n}")
            base = np.dtype(_NP[c["dtype"]])
            v = v.astype(base, copy=False)
            enum = c["enum_names"]
            if enum:
                mapping = {k: i for i, k in enumerate(enum)}
                if base.kind == "i" and "unclassified" not in mapping:
                    mapping["unclassified"] = -1
                dt = h5py.enum_dtype(mapping, basetype=base)
            else:
                dt = base
            chunk = (max(1, min(n, (1 << 20) // base.itemsize)),) if n else None
            d = g.create_dataset(c["name"], shape=(n,), dtype=dt, chunks=chunk or True, shuffle=True,
                                 compression="gzip", compression_opts=4, fletcher32=True)
            if n:
                d[:] = v
            _str_attr(d, "units", c["units"])
            if c["description"]:
                _str_attr(d, "description", c["description"])
            if enum:
                _str_attr(d, "enum_names", json.dumps(enum))
            if c["name"] == "label" and enum:
                label_names = list(enum)
                codes, cnt = np.unique(v.astype(np.int64), return_counts=True)
                m = dict(zip(codes.tolist(), cnt.tolist()))
                label_counts = {k: int(m.get(i, 0)) for i, k in enumerate(enum)}
                if m.get(-1):
                    label_counts["unclassified"] = int(m[-1])
        now = utc_now()
        root = {"format": "neurosweep", "format_version": 1, "spec": spec, "spec_hash": spec_hash,
                "n_instances": n, "n_rows": n, "first_index": 0, "chunk_size": max(1, n),
                "axis_names": "[]", "max_spikes_stored": 0, "schema": json.dumps(schema),
                "label_names": json.dumps(label_names), "label_counts": json.dumps(label_counts),
                "created": created or now, "finalized": now}
        for k, v in attrs.items():
            if k not in root:
                _attr(f, k, v)
        for k, v in root.items():
            _attr(f, k, v)
        _attr(f, "complete", 1)  # last, as finalize does
        f.flush()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
