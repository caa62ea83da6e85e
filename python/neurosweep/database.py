"""Reader of neurosweep databases (docs/FORMAT.md, format_version 1).

`open(path)` accepts
- a finalized database `DB.h5` (also a merged file),
- a shard file (a finalized database of a contiguous slice of the instances),
- an unfinished build: `DB.h5` whose build is still running or was interrupted (only
  `DB.h5.parts/` exists), or the parts directory itself; the chunk files done so far are read in
  index order and a `UnfinishedDatabaseWarning` says how many.

Everything is read with h5py; nothing is written.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import h5py
import numpy as np

from .errors import (CorruptDatabaseError, DatabaseNotFoundError, FormatVersionError,
                     InstanceNotAvailableError, NotADatabaseError, NotAGridError,
                     UnfinishedDatabaseWarning)

#: The newest database format_version this package can read (docs/FORMAT.md section 4).
KNOWN_FORMAT_VERSION = 1

_CHUNK_RE = re.compile(r"^chunk-(\d{6,})\.h5$")
_DTYPES = {"f4": np.float32, "f8": np.float64, "i1": np.int8, "u1": np.uint8, "i4": np.int32,
           "u4": np.uint32, "u8": np.uint64}


def _py(v: Any) -> Any:
    """HDF5 attribute value -> plain Python (str, int, float, list)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.bytes_):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        if v.shape == ():
            return _py(v[()])
        return [_py(x) for x in v]
    return v


def _h5_error(path: str, what: str, e: Exception) -> CorruptDatabaseError:
    """A CorruptDatabaseError naming the file and dataset; a checksum failure named as such."""
    msg = str(e)
    low = msg.lower()
    if "checksum" in low or "fletcher" in low or "filter returned failure" in low:
        return CorruptDatabaseError(
            f"{path}: {what}: checksum mismatch: the stored bytes were altered after they were "
            f"written (disk, copy or transfer error); these data cannot be trusted ({msg})")
    return CorruptDatabaseError(f"{path}: {what}: cannot be read (truncated or corrupt file: {msg})")


def _read(f: h5py.File, path: str, name: str, sel: Any = slice(None)) -> np.ndarray:
    """f[name][sel], with a missing dataset or a failed read (checksum) as CorruptDatabaseError
    naming the file and dataset."""
    try:
        ds = f[name]
    except KeyError as e:
        raise CorruptDatabaseError(f"{path}: dataset /{name} is missing (corrupt file)") from e
    except (OSError, RuntimeError) as e:
        raise _h5_error(path, f"dataset /{name}", e) from e
    try:
        return ds[sel]
    except (OSError, RuntimeError) as e:
        raise _h5_error(path, f"dataset /{name}", e) from e


def _cpp_str(v: Any) -> str:
    """An attribute value printed the way `neurosweep info` prints it (std::ostream defaults)."""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "-nan" if math.copysign(1.0, v) < 0 else "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return "%g" % v
    return str(v)


@dataclass(frozen=True)
class Axis:
    """One grid axis of a product sweep (docs/FORMAT.md section 1.5)."""

    name: str
    kind: str
    params: Tuple[str, ...]
    size: int
    stride: int
    values: Dict[str, np.ndarray] = field(compare=False)  # param -> values at each position
    labels: Optional[Tuple[str, ...]] = None  # categorical axes: the preset names

    @property
    def categorical(self) -> bool:
        return self.labels is not None and len(self.labels) == self.size

    def coordinate(self) -> np.ndarray:
        """The values that label the positions of this axis (see Database.to_xarray)."""
        if self.categorical:
            return np.asarray(self.labels, dtype=object)
        if len(self.params) == 1 and self.params[0] in self.values:
            v = self.values[self.params[0]]
            if len(np.unique(v)) == len(v):
                return v
        return np.arange(self.size)


@dataclass
class _Source:
    path: str
    first: int  # global index of the source's row 0
    n: int


class Database:
    """A neurosweep database opened for reading. Use `neurosweep.open(path)`.

    Attributes
    ----------
    path : the path as given
    state : "complete", "shard" or "unfinished"
    complete : True when every instance of this file's range is present (finalized file)
    n_instances : instances of the whole sweep
    n_rows : rows readable now
    first_index : global index of the first row (shards)
    attrs : root attributes (unfinished builds: the manifest's, like `neurosweep info`)
    spec : the sweep spec (dict, parsed from attrs["spec"])
    schema : the column schema (dict, docs/FORMAT.md)
    columns : names of the /instances columns, in order
    units : column name -> units string
    label_names : names of the label values 0, 1, ... (value -1 = unclassified)
    axes : list of Axis (grid sweeps; empty otherwise)
    """

    def __init__(self, path: "os.PathLike[str] | str"):
        self.path = os.fspath(path)
        self._cache: Dict[str, np.ndarray] = {}
        self._offsets: Optional[np.ndarray] = None
        p = self.path.rstrip("/") or self.path
        if os.path.isdir(p):
            self._open_parts(p)
        elif os.path.exists(p):
            self._open_file(p)
        elif os.path.isdir(p + ".parts"):
            self._open_parts(p + ".parts")
        else:
            raise DatabaseNotFoundError(
                f"{p}: no such file (and no unfinished build {p}.parts/): not a neurosweep database")
        self._finish_init()

    # ---- opening ---------------------------------------------------------------------------
    def _check_version(self, where: str, v: Any) -> int:
        if not isinstance(v, int):
            raise CorruptDatabaseError(f"{where}: format_version is {v!r}; expected an integer")
        if v > KNOWN_FORMAT_VERSION:
            raise FormatVersionError(
                f"{where}: format_version {v} is newer than this neurosweep package supports "
                f"({KNOWN_FORMAT_VERSION}); update the package (pip install -e python/)")
        if v < 1:
            raise CorruptDatabaseError(f"{where}: format_version {v} is not a valid version")
        return v

    def _open_file(self, p: str) -> None:
        if not h5py.is_hdf5(p):
            raise NotADatabaseError(f"{p}: not an HDF5 file, so not a neurosweep database")
        try:
            f = h5py.File(p, "r")
        except OSError as e:
            raise NotADatabaseError(f"{p}: cannot be opened as HDF5 (truncated or corrupt?): {e}") from e
        with f:
            try:
                attrs = {k: _py(v) for k, v in f.attrs.items()}
            except (OSError, RuntimeError) as e:
                raise _h5_error(p, "root attributes", e) from e
            fmt = attrs.get("format")
            if fmt is None:
                raise NotADatabaseError(
                    f"{p}: not a neurosweep database: this HDF5 file has no root attribute "
                    f"'format' (expected format = 'neurosweep')")
            if fmt == "neurosweep-chunk":
                raise NotADatabaseError(
                    f"{p}: is one chunk file of an unfinished build; open the build itself "
                    f"(DB.h5 or its DB.h5.parts directory)")
            if fmt != "neurosweep":
                raise NotADatabaseError(
                    f"{p}: not a neurosweep database: root attribute format = {fmt!r} "
                    f"(expected 'neurosweep')")
            self.format_version = self._check_version(p, attrs.get("format_version"))
            for key in ("schema", "spec", "n_instances", "n_rows", "first_index"):
                if key not in attrs:
                    raise CorruptDatabaseError(f"{p}: root attribute '{key}' is missing (corrupt file)")
            if attrs.get("complete") != 1:  # as the command-line tools: finalize writes it last
                raise CorruptDatabaseError(
                    f"{p}: database is not marked complete (root attribute complete = "
                    f"{attrs.get('complete')!r}; an interrupted finalize or merge?)")
            self.attrs = attrs
            self.schema = self._parse_json(p, "schema", attrs["schema"])
            self.n_instances = int(attrs["n_instances"])
            self.first_index = int(attrs["first_index"])
            self.n_rows = int(attrs["n_rows"])
            self.has_traces = "traces" in f
        self.data_path = p
        self.spec_hash = str(attrs.get("spec_hash", ""))
        if "shard_n" in attrs:
            self.state = "shard"
            self.shard_k, self.shard_n = int(attrs["shard_k"]), int(attrs["shard_n"])
        else:
            self.state = "complete"
            self.shard_k, self.shard_n = 0, 1
        self.chunks_done = self.chunks_total = 0
        self._sources = [_Source(p, self.first_index, self.n_rows)]
        self._chunk_file = False

    def _open_parts(self, parts: str) -> None:
        mp = os.path.join(parts, "manifest.json")
        if not os.path.exists(mp):
            raise NotADatabaseError(
                f"{parts}: directory without manifest.json: not a neurosweep build directory")
        try:
            with io.open(mp, "rb") as fh:
                m = json.loads(fh.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CorruptDatabaseError(f"{mp}: corrupt manifest (not valid JSON): {e}") from e
        if not isinstance(m, dict) or m.get("format") != "neurosweep-parts":
            raise NotADatabaseError(f"{mp}: not a neurosweep build manifest (format != 'neurosweep-parts')")
        self.format_version = self._check_version(mp, m.get("format_version"))
        try:
            self.schema = m["schema"]
            attrs = {}
            for k, v in m["attrs"].items():
                t = v["type"]
                if t == "int":
                    attrs[k] = int(v["value"])
                elif t == "float":
                    attrs[k] = float(v["text"]) if "text" in v else float(v["value"])
                else:
                    attrs[k] = str(v["value"])
            attrs["spec"] = m["spec"]
            attrs["spec_hash"] = m["spec_hash"]
            attrs["created"] = m["created"]
            attrs["software_version"] = m["software_version"]
            attrs["git_revision"] = m["git_revision"]
            cs = int(m["chunk_size"])
            attrs["chunk_size"] = cs
            self.spec_hash = m["spec_hash"]
            self.n_instances = int(m["n_instances"])
            b, e = int(m["chunk_begin"]), int(m["chunk_end"])
            self.shard_k, self.shard_n = int(m["shard_k"]), int(m["shard_n"])
        except (KeyError, TypeError, ValueError) as ex:
            raise CorruptDatabaseError(f"{mp}: corrupt manifest: missing or bad key {ex}") from ex
        if cs <= 0 or b > e:
            raise CorruptDatabaseError(f"{mp}: corrupt manifest: inconsistent chunk sizes")
        self.attrs = attrs
        self.state = "unfinished"
        self.data_path = parts
        self.first_index = b * cs
        self.chunks_total = e - b
        self._sources = []
        done = []  # one directory listing: O(chunks done), whatever the number of chunks
        for name in os.listdir(parts):
            mt = _CHUNK_RE.match(name)
            if mt and b <= int(mt.group(1)) < e and name == "chunk-%06d.h5" % int(mt.group(1)):
                done.append(int(mt.group(1)))
        for c in sorted(done):
            first = c * cs
            self._sources.append(_Source(os.path.join(parts, "chunk-%06d.h5" % c), first,
                                         min(self.n_instances, first + cs) - first))
        self.chunks_done = len(self._sources)
        self.n_rows = sum(s.n for s in self._sources)
        self.has_traces = False
        self._chunk_file = True
        shard = f" (shard {self.shard_k}/{self.shard_n})" if self.shard_n > 1 else ""
        warnings.warn(UnfinishedDatabaseWarning(
            f"{self.path}: unfinished build{shard}: {self.chunks_done} of {self.chunks_total} "
            f"chunks done, {self.n_rows} of {self.n_instances} instances readable; finish it with "
            f"`neurosweep run SPEC -o DB.h5 --resume`"), stacklevel=3)

    @staticmethod
    def _parse_json(where: str, key: str, text: Any) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError) as e:
            raise CorruptDatabaseError(f"{where}: attribute '{key}' is not valid JSON: {e}") from e

    def _finish_init(self) -> None:
        where = self.path
        try:
            cols = self.schema["columns"]
            self.columns: List[str] = [c["name"] for c in cols]
            self._colspec: Dict[str, dict] = {c["name"]: c for c in cols}
            self.units: Dict[str, str] = {c["name"]: c.get("units", "") for c in cols}
            self.max_spikes_stored = int(self.schema.get("max_spikes_stored", 0))
            # circuits: one spike train per instance and cell (docs/FORMAT.md, /spikes)
            self.spike_cells: List[str] = list(self.schema.get("spike_cells") or [])
            # networks and population models: population rate series (docs/FORMAT.md, /rates)
            rates = self.schema.get("rates") or {}
            self.rate_series: List[str] = list(rates.get("series") or [])
            self.rate_bins: int = int(rates.get("n_bins", 0))
            self.rate_bin_ms: float = float(rates.get("bin_ms", 0.0))
            self.rate_t0_ms: float = float(rates.get("t0_ms", 0.0))
            self.axes: List[Axis] = []
            sizes = [int(a["size"]) for a in self.schema.get("axes", [])]
            stride = 1
            strides = [0] * len(sizes)
            for k in range(len(sizes) - 1, -1, -1):
                strides[k] = stride
                stride *= sizes[k]
            for k, a in enumerate(self.schema.get("axes", [])):
                size = int(a["size"])
                vals = np.asarray(a.get("values", []), dtype=np.float64)
                params = tuple(a["params"])
                values = {}
                if len(vals) == size * len(params):
                    values = {p: vals[j * size:(j + 1) * size] for j, p in enumerate(params)}
                labels = tuple(a.get("labels") or ()) or None
                self.axes.append(Axis(a["name"], a["kind"], params, size,
                                      int(a.get("stride") or 0) or strides[k], values, labels))
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptDatabaseError(f"{where}: the column schema is malformed: {e}") from e
        self.spec = self._parse_json(where, "spec", self.attrs["spec"])
        lab = self._colspec.get("label")
        if lab and lab.get("enum_names"):
            self.label_names: List[str] = list(lab["enum_names"])
        elif "label_names" in self.attrs:
            self.label_names = list(self._parse_json(where, "label_names", self.attrs["label_names"]))
        else:
            self.label_names = []
        if self.state == "unfinished" and self.chunks_done:
            self._check_chunk(self._sources[0].path)

    def _check_chunk(self, path: str) -> None:
        with self._h5(path) as f:
            fmt = _py(f.attrs.get("format"))
            if fmt != "neurosweep-chunk" or _py(f.attrs.get("spec_hash")) != self.spec_hash:
                raise CorruptDatabaseError(
                    f"{path}: not a chunk of this build (format {fmt!r}, spec_hash "
                    f"{_py(f.attrs.get('spec_hash'))!r}, manifest spec_hash {self.spec_hash!r})")

    def _h5(self, path: str) -> h5py.File:
        try:
            return h5py.File(path, "r")
        except (OSError, RuntimeError) as e:
            raise _h5_error(path, "cannot open", e) from e

    # ---- basic properties --------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """True for a finalized file (complete database or shard)."""
        return self.state != "unfinished"

    @property
    def name(self) -> str:
        n = self.attrs.get("name") or (self.spec.get("name") if isinstance(self.spec, dict) else None)
        if n:
            return str(n)
        base = os.path.basename(self.path.rstrip("/"))
        for suf in (".parts", ".h5", ".hdf5"):
            if base.endswith(suf):
                base = base[: -len(suf)]
        return base

    @property
    def model(self) -> str:
        return str(self.attrs.get("model") or self.spec.get("model", ""))

    @property
    def is_grid(self) -> bool:
        if not self.axes or (isinstance(self.spec, dict) and self.spec.get("combine") == "sample"):
            return False  # zipped random/Sobol axes: instance i is draw i of every axis
        return int(np.prod([a.size for a in self.axes])) == self.n_instances

    def axis(self, name: str) -> Axis:
        """The grid axis named `name`, or the axis that sets parameter `name`."""
        for a in self.axes:
            if a.name == name:
                return a
        for a in self.axes:
            if name in a.params:
                return a
        raise KeyError(f"{self.path}: no grid axis '{name}' (axes: "
                       f"{', '.join(a.name for a in self.axes) or 'none'})")

    def __repr__(self) -> str:
        return (f"<neurosweep.Database {self.path!r} {self.state}: {self.n_rows} of "
                f"{self.n_instances} instances, {len(self.columns)} columns>")

    def __len__(self) -> int:
        return self.n_rows

    # context manager for symmetry with h5py (nothing stays open between calls)
    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._cache.clear()
        self._offsets = None

    # ---- rows --------------------------------------------------------------------------------
    @property
    def instance_index(self) -> np.ndarray:
        """Global instance index of every row (uint64)."""
        if "__index__" not in self._cache:
            parts = [np.arange(s.first, s.first + s.n, dtype=np.uint64) for s in self._sources]
            self._cache["__index__"] = (np.concatenate(parts) if parts
                                        else np.zeros(0, dtype=np.uint64))
        return self._cache["__index__"]

    def column(self, name: str) -> np.ndarray:
        """Raw values of one /instances column, one per row (enum columns: the integer codes)."""
        if name not in self._colspec:
            raise KeyError(f"{self.path}: no column '{name}' (columns: {', '.join(self.columns)})")
        if name not in self._cache:
            dt = _DTYPES.get(self._colspec[name]["dtype"])
            parts = []
            for s in self._sources:
                with self._h5(s.path) as f:
                    d = _read(f, s.path, f"instances/{name}")
                if len(d) != s.n:
                    raise CorruptDatabaseError(
                        f"{s.path}: column '{name}' has {len(d)} rows; expected {s.n} (corrupt file)")
                parts.append(d)
            arr = np.concatenate(parts) if parts else np.zeros(0, dtype=dt)
            if dt is not None and arr.dtype != dt:
                arr = arr.astype(dt)
            arr.setflags(write=False)
            self._cache[name] = arr
        return self._cache[name]

    def _cell(self, name: str, r: int):
        """Column `name` at row r: from the cached column when loaded, else one element read from
        its file (a row of a huge database without loading whole columns)."""
        if name in self._cache:
            return self._cache[name][r]
        if name not in self._colspec:
            raise KeyError(f"{self.path}: no column '{name}' (columns: {', '.join(self.columns)})")
        base = 0
        for s in self._sources:
            if r < base + s.n:
                with self._h5(s.path) as f:
                    v = _read(f, s.path, f"instances/{name}", r - base)
                dt = _DTYPES.get(self._colspec[name]["dtype"])
                return dt(v) if dt is not None else v
            base += s.n
        raise IndexError(f"{self.path}: row {r} out of range ({self.n_rows} rows)")

    def enum_names(self, name: str) -> List[str]:
        """Names of the values of an enum column ([] for a plain column)."""
        return list(self._colspec[name].get("enum_names") or [])

    def _row_of(self, i: int) -> int:
        i = int(i)
        if not 0 <= i < self.n_instances:
            raise InstanceNotAvailableError(
                f"{self.path}: instance {i} does not exist (the sweep has {self.n_instances} "
                f"instances, 0..{self.n_instances - 1})")
        base = 0
        for s in self._sources:
            if s.first <= i < s.first + s.n:
                return base + i - s.first
            base += s.n
        if self.state == "unfinished":
            raise InstanceNotAvailableError(
                f"{self.path}: instance {i} is not computed yet (unfinished build, "
                f"{self.chunks_done} of {self.chunks_total} chunks done)")
        raise InstanceNotAvailableError(
            f"{self.path}: instance {i} is not in this shard (rows hold instances "
            f"[{self.first_index}, {self.first_index + self.n_rows}))")

    def row(self, i: int) -> Dict[str, Any]:
        """Every column of instance i (global index) as a dict; enum columns give names."""
        r = self._row_of(i)
        out: Dict[str, Any] = {}
        for c in self.columns:
            v = self._cell(c, r)
            names = self.enum_names(c)
            if names:
                out[c] = names[int(v)] if 0 <= int(v) < len(names) else (
                    "unclassified" if c in ("label", "label_probe") and int(v) == -1 else int(v))
            else:
                out[c] = v.item()
        return out

    # ---- refined points (`neurosweep refine`, docs/FORMAT.md section 5) ----------------------
    @property
    def refine_info(self) -> Optional[Dict[str, Any]]:
        """The refinement summary (root attribute `refine`: depth, budget, label column, axes,
        points per level), or None for a database without refined points."""
        if "refine" not in self.attrs:
            return None
        return self._parse_json(self.path, "refine", self.attrs["refine"])

    def refined(self, columns: Optional[Sequence[str]] = None):
        """The points added by `neurosweep refine` as a pandas DataFrame: the /instances columns
        (label and status Categoricals, as in to_pandas) plus `level` (1..depth: spacing 2^-level
        of the grid's) and `pos_<axis>` (fractional grid index along each refined axis). Empty
        when the refinement found no cell to split."""
        import pandas as pd

        if self.refine_info is None:
            raise ValueError(f"{self.path}: has no refined points (build them with `neurosweep refine "
                             f"{self.path} -o REFINED.h5`)")
        try:
            with self._h5(self.data_path) as f:
                g = f["refined/instances"]
                cols = list(columns) if columns is not None else list(self._parse_json(
                    self.path, "refined columns", g.attrs["columns"]))
                data = {}
                for c in cols:
                    if c not in g:
                        raise ValueError(f"{self.path}: /refined has no column {c!r}")
                    v = g[c][:]
                    names = self.enum_names(c) if c in self._colspec else []
                    if names:
                        codes = v.astype(np.int64)
                        codes = np.where((codes >= 0) & (codes < len(names)), codes, -1)
                        data[c] = pd.Categorical.from_codes(codes, categories=names)
                    else:
                        data[c] = v
        except (OSError, RuntimeError) as e:
            raise _h5_error(self.path, "/refined", e) from e
        df = pd.DataFrame(data)
        df.attrs["source"] = self.path
        return df

    # ---- pandas ------------------------------------------------------------------------------
    def to_pandas(self, columns: Optional[Sequence[str]] = None):
        """Every readable instance as a pandas DataFrame, one row per instance.

        Index: the global instance index (name "instance"). Columns: the /instances columns in
        schema order (swept parameters float64, features float32 with NaN where undefined).
        Enum columns (label, status) are pandas Categoricals with their names; label -1
        (unclassified) becomes a missing value (NaN). `df.attrs["units"]` maps column -> units.
        """
        import pandas as pd

        cols = list(columns) if columns is not None else self.columns
        data = {}
        for c in cols:
            v = self.column(c)
            names = self.enum_names(c)
            if names:
                codes = v.astype(np.int64)
                codes = np.where((codes >= 0) & (codes < len(names)), codes, -1)
                data[c] = pd.Categorical.from_codes(codes, categories=names)
            else:
                data[c] = np.array(v)
        df = pd.DataFrame(data, index=pd.Index(self.instance_index, name="instance"))
        df.attrs["units"] = {c: self.units.get(c, "") for c in cols}
        df.attrs["source"] = self.path
        df.attrs["complete"] = self.complete
        return df

    # ---- xarray ------------------------------------------------------------------------------
    def grid_position(self, index: Optional[np.ndarray] = None) -> Tuple[np.ndarray, ...]:
        """Per-axis positions of instances (default: of every row): (i // stride) % size."""
        if not self.is_grid:
            raise NotAGridError(self._not_grid_msg())
        idx = self.instance_index if index is None else np.asarray(index, dtype=np.uint64)
        return tuple(((idx // np.uint64(a.stride)) % np.uint64(a.size)).astype(np.intp)
                     for a in self.axes)

    def _not_grid_msg(self) -> str:
        if not self.axes or self.spec.get("combine") == "sample":
            return (f"{self.path}: the sweep has no grid axes (combine "
                    f"{self.spec.get('combine', 'product')!r}, axes kinds "
                    f"{[a.get('kind') for a in self.spec.get('axes', [])]}); use to_pandas()")
        return (f"{self.path}: the grid axes ({' x '.join(str(a.size) for a in self.axes)}) do "
                f"not cover the {self.n_instances} instances; use to_pandas()")

    def to_xarray(self):
        """Grid sweeps: an xarray.Dataset with one dimension per grid axis (spec order).

        Dimension coordinates: the axis values (the single parameter's values, the preset names
        of a categorical axis, or positions 0..n-1 for linked axes and axes with repeated
        values); every parameter of an axis is also a coordinate along its dimension. Data
        variables: every other column. Enum columns (label, status) hold the integer codes with
        attrs `enum_names` / `flag_values` / `flag_meanings`. Positions whose instance is not in
        the file (shards, unfinished builds) are NaN (-1 for enum codes) and the boolean
        variable `present` marks the rows that are there.
        """
        import xarray as xr

        if not self.is_grid:
            raise NotAGridError(self._not_grid_msg())
        dims = [a.name for a in self.axes]
        shape = tuple(a.size for a in self.axes)
        pos = self.grid_position()
        full = self.n_rows == int(np.prod(shape))
        coords: Dict[str, Any] = {}
        axis_params = set()
        for a in self.axes:
            c = a.coordinate()
            cattrs = {"kind": a.kind, "params": list(a.params)}
            if len(a.params) == 1 and not a.categorical and c is a.values.get(a.params[0]):
                cattrs["units"] = self.units.get(a.params[0], "")
                cattrs["long_name"] = a.params[0]
            coords[a.name] = xr.Variable(a.name, c, cattrs)
            for p, v in a.values.items():
                axis_params.add(p)
                if p != a.name:
                    coords[p] = xr.Variable(a.name, v, {"units": self.units.get(p, "")})
        data_vars = {}
        # a start axis (no parameters) is stored as a column of its own name: the coordinate
        dims_set = set(dims)
        for c in self.columns:
            if c == "index" or c in axis_params or c in dims_set:
                continue
            v = self.column(c)
            names = self.enum_names(c)
            attrs = {"units": self.units.get(c, "")}
            if self._colspec[c].get("description"):
                attrs["description"] = self._colspec[c]["description"]
            if names:
                attrs.update(enum_names=names, flag_values=list(range(len(names))),
                             flag_meanings=" ".join(names))
            if full:
                arr = np.empty(shape, dtype=v.dtype)
            elif names:
                arr = np.full(shape, -1, dtype=np.int16)
            elif v.dtype.kind == "f":
                arr = np.full(shape, np.nan, dtype=v.dtype)
            else:
                arr = np.full(shape, np.nan, dtype=np.float64)
            arr[pos] = v
            data_vars[c] = xr.Variable(dims, arr, attrs)
        if not full:
            present = np.zeros(shape, dtype=bool)
            present[pos] = True
            data_vars["present"] = xr.Variable(dims, present)
        return xr.Dataset(data_vars, coords, attrs={
            "title": self.name, "source": self.path, "state": self.state,
            "complete": int(self.complete), "spec_hash": self.spec_hash,
            "model": self.model, "label_names": list(self.label_names)})

    # ---- spikes ------------------------------------------------------------------------------
    @property
    def circuit(self) -> Optional[Dict[str, Any]]:
        """The circuit of a `circuit`-object build (root attribute "circuit", docs/FORMAT.md):
        {"cells": [{"name", "neuron", "params"}], "synapses": [{"name", "pre", "post", "type",
        "strength_nS"}], "roles": {...}}; None for other models."""
        if "circuit" not in self.attrs:
            return None
        return self._parse_json(self.path, "circuit", self.attrs["circuit"])

    @property
    def n_spike_cells(self) -> int:
        """Spike trains stored per instance: the number of cells of a circuit, else 1."""
        return max(1, len(self.spike_cells))

    def _cell_index(self, cell: "int | str | None") -> int:
        if cell is None:
            return 0
        if isinstance(cell, str):
            if cell not in self.spike_cells:
                raise KeyError(f"{self.path}: no cell {cell!r} (cells with stored spikes: "
                               f"{', '.join(self.spike_cells) or 'none: a single-neuron database'})")
            return self.spike_cells.index(cell)
        c = int(cell)
        if not 0 <= c < self.n_spike_cells:
            raise KeyError(f"{self.path}: cell index {c} out of range (0..{self.n_spike_cells - 1}"
                           f"{': ' + ', '.join(self.spike_cells) if self.spike_cells else ''})")
        return c

    def spike_offsets(self) -> np.ndarray:
        """Ragged-array offsets over the readable rows and cells (length n_rows * n_spike_cells +
        1, uint64): the spikes of row r, cell c are spike_times()[offsets[k]:offsets[k + 1]] with
        k = r * n_spike_cells + c (single neurons: k = r)."""
        if self._offsets is None:
            if self.max_spikes_stored <= 0:
                raise KeyError(f"{self.path}: no spike times stored (output.spikes was 0)")
            nc = self.n_spike_cells
            out = [np.zeros(1, dtype=np.uint64)]
            base = np.uint64(0)
            for s in self._sources:
                with self._h5(s.path) as f:
                    o = _read(f, s.path, "spikes/offsets").astype(np.uint64)
                if len(o) != s.n * nc + 1 or o[0] != 0 or np.any(np.diff(o.astype(np.int64)) < 0):
                    raise CorruptDatabaseError(f"{s.path}: /spikes/offsets is inconsistent (corrupt file)")
                out.append(o[1:] + base)
                base = base + o[-1]
            self._offsets = np.concatenate(out)
            self._offsets.setflags(write=False)
        return self._offsets

    def spike_counts(self, cell: "int | str | None" = None) -> np.ndarray:
        """Number of spike times stored per row (<= max_spikes_stored). Circuits: of `cell` (name
        or index); cell=None gives an array of shape (n_rows, n_cells), columns in spike_cells
        order."""
        c = np.diff(self.spike_offsets().astype(np.int64))
        if not self.spike_cells:
            return c
        c = c.reshape(-1, self.n_spike_cells)
        return c if cell is None else c[:, self._cell_index(cell)]

    def spike_times(self) -> np.ndarray:
        """All stored spike times, flat (float32, ms from the start of the analysis window)."""
        if "__spikes__" not in self._cache:
            parts = []
            for s in self._sources:
                with self._h5(s.path) as f:
                    parts.append(_read(f, s.path, "spikes/times"))
            self._cache["__spikes__"] = (np.concatenate(parts) if parts
                                         else np.zeros(0, dtype=np.float32))
        return self._cache["__spikes__"]

    def spikes(self, i: int, cell: "int | str | None" = None):
        """Stored spike times of instance i (global index), ms from the start of the analysis
        window, ascending (at most max_spikes_stored of them).

        Circuits: `cell` (a name of spike_cells, e.g. "LP", or an index) gives that cell's
        times; cell=None gives a dict {cell name: times} of every cell. Single neurons: cell must
        be None or 0."""
        r = self._row_of(i)
        if self.spike_cells and cell is None:
            return {name: self.spikes(i, k) for k, name in enumerate(self.spike_cells)}
        nc = self.n_spike_cells
        k = r * nc + self._cell_index(cell)
        o = self.spike_offsets()
        a, b = int(o[k]), int(o[k + 1])
        if "__spikes__" in self._cache:
            return self._cache["__spikes__"][a:b]
        base = 0
        for s in self._sources:  # read only the slice of the one file that holds the row
            if r < base + s.n:
                oa = int(o[base * nc])
                with self._h5(s.path) as f:
                    return _read(f, s.path, "spikes/times", slice(a - oa, b - oa))
            base += s.n
        raise AssertionError("unreachable")

    # ---- SONATA spike files (output.sonata_spikes) --------------------------------------------
    def _sonata(self) -> Optional[Tuple[Dict[str, Any], str]]:
        """The attribute sonata_spikes (JSON) and its directory resolved against the database's, or
        None when the spec had no output.sonata_spikes."""
        raw = self.attrs.get("sonata_spikes")
        if raw is None:
            return None
        so = self._parse_json(self.path, "sonata_spikes", raw)
        d = so["dir"]
        if not os.path.isabs(d):
            d = os.path.join(os.path.dirname(os.path.abspath(self.path)), d)
        return so, d

    def sonata_spikes_path(self, i: int) -> str:
        """Path of the SONATA spike file of instance i written by output.sonata_spikes
        (docs/NETWORKS.md, "Outputs"): /spikes/<population>/node_ids, timestamps (ms from the start
        of the analysis window). Raises KeyError naming the instances that have one."""
        got = self._sonata()
        if got is None:
            raise KeyError(f"{self.path}: no SONATA spike files (the spec has no output.sonata_spikes)")
        have = self._sonata_listed(*got)
        if int(i) not in have:
            raise KeyError(f"{self.path}: instance {i} has no SONATA spike file; instances with one: {have}")
        return os.path.join(got[1], f"instance_{int(i)}.h5")

    def sonata_instances(self) -> List[int]:
        """The instances with a SONATA spike file (output.sonata_spikes): the explicit ones and those
        chosen by per_label / where (listed in <dir>/chosen.json by the build)."""
        got = self._sonata()
        return [] if got is None else self._sonata_listed(*got)

    @staticmethod
    def _sonata_listed(so: Dict[str, Any], d: str) -> List[int]:
        have = {int(x) for x in so["instances"]}
        if so.get("chosen"):
            path = os.path.join(d, so["chosen"])
            try:
                with io.open(path) as f:
                    have |= {int(x) for x in json.load(f)["instances"]}
            except (OSError, ValueError, KeyError) as e:
                raise KeyError(f"{path}: cannot read the instances chosen by output.sonata_spikes ({e})") from None
        return sorted(have)

    def sonata_spikes(self, i: int) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """Every spike of instance i from its SONATA spike file: {population: (node_ids, times_ms)}."""
        path = self.sonata_spikes_path(i)
        out = {}
        with h5py.File(path, "r") as f:
            for pop, g in f["spikes"].items():
                out[pop] = (g["node_ids"][()], g["timestamps"][()])
        return out

    # ---- stored traces -------------------------------------------------------------------------
    def stored_traces(self) -> List[int]:
        """Instances with a trace stored in /traces (output.traces of the spec)."""
        out = []
        for s in self._sources:
            with self._h5(s.path) as f:
                if "traces" in f:
                    out += [int(k) for k in f["traces"].keys()]
        return sorted(out)

    def stored_trace(self, i: int) -> Dict[str, Tuple[np.ndarray, str]]:
        """The stored trace of instance i: {name: (values, units)}, 't' in ms from the start of
        the analysis window."""
        self._row_of(i)
        for s in self._sources:
            with self._h5(s.path) as f:
                g = f.get(f"traces/{int(i)}")
                if g is not None:
                    return {k: (_read(f, s.path, f"traces/{int(i)}/{k}"), _py(g[k].attrs.get("units", "")))
                            for k in g.keys()}
        raise KeyError(f"{self.path}: no stored trace of instance {i} (stored: {self.stored_traces()})")

    # ---- info ----------------------------------------------------------------------------------
    def _counts(self, name: str) -> List[Tuple[str, int]]:
        names = self.enum_names(name)
        v = self.column(name).astype(np.int64)
        vals, cnt = np.unique(v, return_counts=True)
        m = dict(zip(vals.tolist(), cnt.tolist()))
        out = [(n, m.get(k, 0)) for k, n in enumerate(names)]
        signed_enum = bool(names) and self._colspec[name]["dtype"] == "i1"
        out += [("unclassified" if k == -1 and signed_enum and "unclassified" not in names else str(k), n)
                for k, n in sorted(m.items()) if k < 0 or k >= len(names)]
        return out

    def label_counts(self) -> Dict[str, int]:
        """Instances per label name, counted from the data (-1: 'unclassified')."""
        return dict(self._counts("label"))

    def info(self) -> str:
        """The text `neurosweep info DB` prints (same layout, same numbers)."""
        o = [f"{self.path}: neurosweep database (format {self.format_version}), "]
        if self.state == "unfinished":
            o.append(f"unfinished: {self.chunks_done} of {self.chunks_total} chunks done")
            if self.shard_n > 1:
                o.append(f" (shard {self.shard_k}/{self.shard_n})")
            o.append("\n")
        elif self.state == "shard":
            o.append(f"shard {self.shard_k}/{self.shard_n} (instances [{self.first_index}, "
                     f"{self.first_index + self.n_rows}))\n")
        else:
            o.append("complete\n")
        o.append(f"  instances:  {self.n_instances}")
        if self.n_rows != self.n_instances:
            o.append(f" ({self.n_rows} rows readable)")
        o.append(f"\n  spec hash:  {self.spec_hash}\n")
        for k in ("model", "seed", "backend", "device", "precision", "gating", "dt_ms",
                  "transient_ms", "analysis_ms", "initial", "starts", "created", "finalized", "software_version",
                  "git_revision", "chunk_size", "timings"):
            if k in self.attrs:
                v = _cpp_str(self.attrs[k])
                if v:
                    o.append(f"  {k}: {v}\n")
        cols = "".join(f" {c}" + (f" [{self.units[c]}]" if self.units.get(c) else "") + ","
                       for c in self.columns)
        o.append(f"  columns ({len(self.columns)}):" + cols[:-1] + "\n")
        groups = []
        if self.max_spikes_stored > 0:
            groups.append("spikes")
        if self.schema.get("final_state"):
            groups.append("final_state")
        if self.schema.get("axes"):
            groups.append("axes")
        if self.rate_series:
            groups.append("rates")
        if self.state != "unfinished" and self.has_traces:
            groups.append("traces")
        if groups:
            o.append("  groups:" + "".join(f" /{g}" for g in groups) + "\n")
        for title, col in (("labels", "label"), ("status", "status")):
            if col in self._colspec and self.enum_names(col):
                o.append(f"  {title}:\n")
                for n, c in self._counts(col):
                    pct = 100.0 * c / self.n_rows if self.n_rows else 0.0
                    o.append(f"    {n}: {c} ({pct:.2f}%)\n")
        return "".join(o)

    # ---- population rate series ----------------------------------------------------------------
    def rates(self, instances: "Optional[Iterable[int] | int]" = None,
              population: "Optional[str | Sequence[str]]" = None):
        """Population rate time series (networks, population models) as an xarray DataArray with
        dims ("instance", "population", "time"): Hz, coordinates instance = global indices,
        population = series names, time = bin starts in ms from the start of the analysis window
        (attrs bin_ms, t0_ms). `instances`: global indices (default: every readable row), in the
        order given; `population`: one name or a list (default: all)."""
        import xarray as xr
        if not self.rate_series:
            raise KeyError(f"{self.path}: no population rates stored (model {self.model!r} has no "
                           f"rate series; only networks and population models write /rates)")
        if instances is None:
            idx = self.instance_index.astype(np.int64)
            rows = np.arange(self.n_rows, dtype=np.int64)
        else:
            idx = np.atleast_1d(np.asarray(instances, dtype=np.int64))
            rows = np.array([self._row_of(int(i)) for i in idx], dtype=np.int64)
        nb, ns = self.rate_bins, len(self.rate_series)
        out = np.empty((len(rows), ns * nb), dtype=np.float32)
        base = 0
        for s in self._sources:
            sel = np.nonzero((rows >= base) & (rows < base + s.n))[0]
            if len(sel):
                local = rows[sel] - base
                order = np.argsort(local, kind="stable")
                with self._h5(s.path) as f:
                    try:
                        ds = f["rates/values"]
                    except KeyError as e:
                        raise CorruptDatabaseError(f"{s.path}: /rates/values is missing (corrupt file)") from e
                    if ds.ndim != 2 or ds.shape != (s.n, ns * nb):
                        raise CorruptDatabaseError(
                            f"{s.path}: /rates/values has shape {ds.shape}; the schema says "
                            f"({s.n}, {ns * nb}) (corrupt file)")
                    uniq, inv = np.unique(local[order], return_inverse=True)
                    try:
                        block = ds[uniq.tolist(), :]
                    except (OSError, RuntimeError) as e:
                        raise _h5_error(s.path, "rates/values", e) from e
                out[sel[order]] = block[inv]
            base += s.n
        t = self.rate_t0_ms + self.rate_bin_ms * np.arange(nb, dtype=np.float64)
        da = xr.DataArray(out.reshape(len(rows), ns, nb), dims=("instance", "population", "time"),
                          coords={"instance": idx.astype(np.uint64), "population": list(self.rate_series),
                                  "time": t},
                          attrs={"units": "Hz", "bin_ms": self.rate_bin_ms, "t0_ms": self.rate_t0_ms,
                                 "long_name": "population rate"})
        da.coords["time"].attrs["units"] = "ms"
        if population is not None:
            names = [population] if isinstance(population, str) else list(population)
            for n in names:
                if n not in self.rate_series:
                    raise KeyError(f"{self.path}: no population {n!r} (rate series: "
                                   f"{', '.join(self.rate_series)})")
            da = da.sel(population=population)
        return da

    # ---- parameters of an instance -------------------------------------------------------------
    def params_of(self, i: int, model_params: Optional[Iterable[str]] = None) -> Dict[str, float]:
        """Model parameters of instance i that the sweep sets: the spec's `fixed` values, then the
        realised values of the swept-parameter columns (exact float64). Parameters not listed
        keep the model defaults. `model_params`: the model's parameter names (columns named like
        them are parameters); default: the grid axes' parameters and every float64 column other
        than features."""
        r = self._row_of(i)
        out = {k: float(v) for k, v in (self.spec.get("fixed") or {}).items()}
        if model_params is not None:
            names = [c for c in self.columns if c in set(model_params)]
        else:
            names = [c for c in self.columns
                     if self._colspec[c]["dtype"] == "f8" and not self.enum_names(c)]
        for c in names:
            out[c] = float(self._cell(c, r))
        return out


def open(path: "os.PathLike[str] | str") -> Database:  # noqa: A001 (mirrors h5py.File / io.open)
    """Open a neurosweep database: DB.h5, a shard file, or an unfinished build (DB.h5 whose
    DB.h5.parts/ directory exists, or the parts directory). Raises DatabaseNotFoundError,
    NotADatabaseError, FormatVersionError or CorruptDatabaseError with the file named."""
    return Database(path)
