"""What the explorer shows, computed from the database file without loading it.

Memory does not grow with the database: grid maps read only the instances of the slice shown
(h5py point selections), density maps, fractions and histograms stream the columns in blocks of
`BLOCK` rows, and a query is run by the `neurosweep query` command itself (the same expression
language and the same rows as on the command line), which returns the matching indices (kept as one
sorted uint64 array: 8 bytes per selected instance).
"""
from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import h5py
import numpy as np

from ..database import Database, _read
from ..errors import NeurosweepError
from ..simulate import find_binary

#: Rows read at once when streaming a column (8 MB per float64 column).
BLOCK = 1 << 20


class ExplorerError(NeurosweepError):
    """A request the explorer cannot serve (unknown column, bad query, ...), named."""


@dataclass
class Selection:
    """Rows matching a query: `where` and the sorted instance indices (None: every row)."""

    where: str = ""
    index: Optional[np.ndarray] = None

    @property
    def all(self) -> bool:
        return self.index is None


class ExplorerData:
    """Read-only views of one database for the explorer (thread-safe: nothing stays open)."""

    def __init__(self, db: Database, binary: Optional[str] = None, use_cache: bool = True,
                 cache_root: Optional[str] = None, use_engine: bool = True):
        if db.state == "unfinished":
            raise ExplorerError(f"{db.path}: the build is unfinished ({db.chunks_done} of "
                                f"{db.chunks_total} chunks); finish it (neurosweep run --resume) first")
        self.db = db
        self.path = db._sources[0].path if db._sources else db.path
        self.binary = binary
        self.label_names = list(db.label_names)
        self.params = [c for c in db.columns
                       if db._colspec[c]["dtype"] == "f8" and not db.enum_names(c)]
        # maps over grid axes: a product of at least two grid/list/linked/categorical axes;
        # random, Sobol and search databases get densities over any two parameters
        self.grid = (db.is_grid and len(db.axes) >= 2
                     and not any(a.kind in ("random", "sobol") for a in db.axes))
        self.features = [c for c in db.columns if c not in self.params and c not in ("index",)
                         and not db.enum_names(c)]
        # sampled databases: densities, nearest-instance picks, fractions and histograms read the
        # columns from memory-mapped float32 copies (explorer/cache.py) instead of the gzip'd file
        self._cache = None
        self._cache_failed = use_cache is False or self.grid
        self._cache_lock = threading.Lock()
        self._engine = None
        self._engine_failed = not use_engine
        self.engine_error = ""
        self._aggs: "OrderedDict[tuple, tuple]" = OrderedDict()  # last aggregates (each w x h x labels)
        self.cache_root = cache_root

    def engine(self):
        """The in-process engine with the build's settings (neurosweep.Engine(spec=the database's
        spec), one thread), or None when the compiled engine is missing or refuses the spec (start
        axes, starts from another database): the instance panel then runs `neurosweep simulate`."""
        with self._cache_lock:
            if self._engine is None and not self._engine_failed:
                try:
                    from ..engine import Engine
                    eng = Engine(spec=self.db.spec, backend="cpu", threads=1)
                    if not eng.resolved or not hasattr(eng._eng, "trace"):
                        raise RuntimeError("the compiled engine predates Engine.trace; rebuild it")
                    self._engine = eng
                except Exception as e:  # noqa: BLE001 (any reason: fall back to the command)
                    self._engine_failed = True
                    self.engine_error = str(e)
            return self._engine

    def trace(self, i: int, every_ms: Optional[float] = None):
        """Instance i re-simulated with the build's settings: through the in-process engine when
        it is there (Engine.trace), else `neurosweep simulate` (neurosweep.resimulate)."""
        from ..simulate import resimulate

        eng = self.engine()
        if eng is not None:
            params = self.db.params_of(int(i), model_params=eng.param_names)
            # keyed by the instance index, as the build integrated it (random input: Poisson)
            tr = eng.trace(params, every_ms=every_ms, index=int(i))
            tr.instance = int(i)
            return tr
        return resimulate(self.db, int(i), binary=self.binary, every_ms=every_ms)

    def column_cache(self):
        """The ColumnCache of this database, or None (grid maps; cache disabled or not writable)."""
        with self._cache_lock:
            if self._cache is None and not self._cache_failed:
                from .cache import ColumnCache
                try:
                    c = ColumnCache(self.db, self.cache_root)
                    c._prepare_dir()
                    self._cache = c
                except (OSError, ValueError):
                    self._cache_failed = True
            return self._cache

    def prefetch(self, names: Sequence[str]) -> None:
        """Copies columns into the cache now (a background thread at server start)."""
        c = self.column_cache()
        if c is None:
            return
        for n in names:
            try:
                if n == "label":
                    c.codes(n)
                elif n in self.db._colspec:
                    c.values(n)
            except OSError:
                self._cache_failed = True
                return

    def _cached(self, name: str, sel: Optional["Selection"]):
        """Column `name` from the cache over every row or the selection's rows (None: no cache)."""
        c = self.column_cache()
        if c is None:
            return None
        if name not in self.db._colspec:
            raise ExplorerError(f"{self.db.path}: no column '{name}' (columns: {', '.join(self.db.columns)})")
        try:
            v = c.codes(name) if self.db.enum_names(name) else c.values(name)
        except OSError:
            self._cache_failed = True
            self._cache = None
            return None
        if sel is None or sel.all:
            return v
        return v[sel.index.astype(np.int64) - int(self.db.first_index)]

    # ---- raw reads -----------------------------------------------------------------------------
    def read_rows(self, name: str, index: np.ndarray) -> np.ndarray:
        """Values of column `name` at the given instance indices (any order)."""
        if name not in self.db._colspec:
            raise ExplorerError(f"{self.db.path}: no column '{name}' (columns: {', '.join(self.db.columns)})")
        idx = np.asarray(index, dtype=np.int64)
        rows = idx - int(self.db.first_index)
        if len(rows) == 0:
            return np.zeros(0)
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        uniq, inv = np.unique(srt, return_inverse=True)
        with h5py.File(self.path, "r") as f:
            vals = _read(f, self.path, f"instances/{name}", uniq)
        out = np.empty(len(idx), dtype=vals.dtype)
        out[order] = vals[inv]
        return out

    def blocks(self, names: Sequence[str], sel: Optional[Selection] = None,
               cached: bool = True) -> Iterator[Dict[str, np.ndarray]]:
        """Blocks of `names` (plus "__index__") over every row, or over the selection's rows: views
        of the column cache when there is one (float32 / int8 values), else read from the file."""
        for n in names:
            if n not in self.db._colspec:
                raise ExplorerError(f"{self.db.path}: no column '{n}' (columns: {', '.join(self.db.columns)})")
        first, n_rows = int(self.db.first_index), int(self.db.n_rows)
        maps = None
        if cached and self.column_cache() is not None:
            maps = {n: self._cached(n, None) for n in names}
            if any(v is None for v in maps.values()):
                maps = None
        if maps is not None:
            for a in range(0, n_rows, BLOCK):
                b = min(n_rows, a + BLOCK)
                keep = None
                if sel is not None and not sel.all:
                    lo, hi = np.searchsorted(sel.index, [first + a, first + b])
                    if lo == hi:
                        continue
                    keep = sel.index[lo:hi].astype(np.int64) - (first + a)
                idx = np.arange(first + a, first + b, dtype=np.uint64)
                out = {"__index__": idx if keep is None else idx[keep]}
                for nme in names:
                    out[nme] = maps[nme][a:b] if keep is None else maps[nme][a:b][keep]
                yield out
            return
        with h5py.File(self.path, "r") as f:
            for a in range(0, n_rows, BLOCK):
                b = min(n_rows, a + BLOCK)
                idx = np.arange(first + a, first + b, dtype=np.uint64)
                keep = None
                if sel is not None and not sel.all:
                    lo, hi = np.searchsorted(sel.index, [first + a, first + b])
                    if lo == hi:
                        continue
                    keep = sel.index[lo:hi].astype(np.int64) - (first + a)
                    idx = idx[keep]
                out = {"__index__": idx}
                for nme in names:
                    v = _read(f, self.path, f"instances/{nme}", slice(a, b))
                    out[nme] = v if keep is None else v[keep]
                yield out

    # ---- queries ---------------------------------------------------------------------------------
    def query(self, where: str, columns: Optional[Sequence[str]] = None, fmt: str = "csv") -> str:
        """`neurosweep query DB --where WHERE [--columns ...] --format FMT` (its text output;
        every column when columns is None)."""
        exe = find_binary(self.binary)
        cmd = [exe, "query", self.path, "--format", fmt]
        if columns:
            cmd += ["--columns", ",".join(columns)]
        if where.strip():
            cmd += ["--where", where]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise ExplorerError((p.stderr.strip() or p.stdout.strip()).replace(exe + ": ", ""))
        return p.stdout

    def select(self, where: str) -> Selection:
        """The rows matching `where` ('' : every row), by `neurosweep query`."""
        if not where.strip():
            return Selection()
        text = self.query(where, ("index",))
        lines = text.split("\n", 1)[1] if "\n" in text else ""
        idx = np.loadtxt(io.StringIO(lines), dtype=np.uint64, ndmin=1) if lines.strip() else np.zeros(0, np.uint64)
        return Selection(where, np.sort(idx))

    def count(self, sel: Selection) -> int:
        return int(self.db.n_rows) if sel.all else int(len(sel.index))

    # ---- summaries -------------------------------------------------------------------------------
    def label_fractions(self, sel: Selection) -> Dict[str, int]:
        """Counts per label name (unclassified included when present) of the selection."""
        if "label" not in self.db._colspec:
            return {}
        counts = np.zeros(len(self.label_names) + 1, dtype=np.int64)
        for b in self.blocks(["label"], sel):
            c = b["label"].astype(np.int64)
            c = np.where((c >= 0) & (c < len(self.label_names)), c, len(self.label_names))
            counts += np.bincount(c, minlength=len(counts))
        out = {n: int(counts[k]) for k, n in enumerate(self.label_names)}
        if counts[-1]:
            out["unclassified"] = int(counts[-1])
        return out

    def histograms(self, feature: str, sel: Selection, bins: int = 40):
        """(edges, {label: counts}) of a feature over the selection, per label (finite values)."""
        lo, hi = np.inf, -np.inf
        for b in self.blocks([feature], sel):
            v = b[feature][np.isfinite(b[feature])]
            if len(v):
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        if not np.isfinite(lo):
            return np.array([0.0, 1.0]), {}
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, bins + 1)
        names = self.label_names + ["unclassified"]
        out = {n: np.zeros(bins, dtype=np.int64) for n in names}
        cols = [feature] + (["label"] if "label" in self.db._colspec else [])
        for b in self.blocks(cols, sel):
            v = b[feature]
            lab = b["label"].astype(np.int64) if "label" in b else np.zeros(len(v), np.int64)
            lab = np.where((lab >= 0) & (lab < len(self.label_names)), lab, len(self.label_names))
            ok = np.isfinite(v)
            for k in np.unique(lab[ok]):
                out[names[k]] += np.histogram(v[ok & (lab == k)], bins=edges)[0]
        return edges, {n: c for n, c in out.items() if c.sum()}

    # ---- grid maps -------------------------------------------------------------------------------
    def grid_slice(self, x: str, y: str, fixed: Dict[str, int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Instance indices of the (y, x) positions of axes x, y with every other grid axis at
        position fixed[axis] (default 0): (ix, iy, index) flat arrays."""
        db = self.db
        if not db.is_grid:
            raise ExplorerError(db._not_grid_msg())
        ax, ay = db.axis(x), db.axis(y)
        if ax.name == ay.name:
            raise ExplorerError(f"the two map axes must differ (both are '{ax.name}')")
        base = 0
        for a in db.axes:
            if a.name in (ax.name, ay.name):
                continue
            p = int(fixed.get(a.name, 0))
            if not 0 <= p < a.size:
                raise ExplorerError(f"axis '{a.name}': position {p} outside 0..{a.size - 1}")
            base += p * a.stride
        iy, ix = np.meshgrid(np.arange(ay.size), np.arange(ax.size), indexing="ij")
        ix, iy = ix.ravel(), iy.ravel()
        index = (base + ix * ax.stride + iy * ay.stride).astype(np.uint64)
        return ix, iy, index

    def density(self, x: str, y: str, colour: str, sel: Selection, width: int = 400, height: int = 400,
                x_range: Optional[Tuple[float, float]] = None, y_range: Optional[Tuple[float, float]] = None):
        """Server-side aggregation of every selected row over parameters x, y: colour 'label' ->
        counts per label (xarray with a 'label' dimension, as datashader's count_cat), else the
        mean of feature `colour` per pixel. Returns (aggregate, x_range, y_range). From the
        column cache (explorer/cache.py: float32 memory maps, compiled kernel binning as
        datashader) when there is one, else streamed from the file through datashader."""
        if self.column_cache() is not None:
            try:
                return self._density_cached(x, y, colour, sel, width, height, x_range, y_range)
            except OSError:
                self._cache_failed, self._cache = True, None
        return self.density_streamed(x, y, colour, sel, width, height, x_range, y_range)

    @staticmethod
    def _fix_range(lo, hi) -> Tuple[float, float]:
        if lo is None or not np.isfinite(lo):
            lo, hi = 0.0, 1.0
        if hi <= lo:
            hi = lo + 1.0
        return float(lo), float(hi)

    def _template(self, x: str, y: str, colour: str, width: int, height: int, x_range, y_range):
        """An empty aggregate with datashader's dims and coordinates (pixel centres
        (k + 0.5 - t) / s with s = n / (hi - lo), t = -lo * s, as datashader's axis computes
        them), filled by the kernel; built here, not by datashader, whose first call compiles."""
        import xarray as xr

        def centres(lo, hi, n):
            s = n / (hi - lo)
            t = -lo * s
            return (np.arange(n) + 0.5 - t) / s
        coords = {y: centres(*y_range, height), x: centres(*x_range, width)}
        if colour == "label":
            names = self.label_names + ["unclassified"]
            coords["label"] = names
            return xr.DataArray(np.zeros((height, width, len(names)), np.uint32), coords=coords, dims=(y, x, "label"))
        return xr.DataArray(np.zeros((height, width), np.float64), coords=coords, dims=(y, x))

    def _density_cached(self, x, y, colour, sel, width, height, x_range, y_range):
        key = (x, y, colour, sel.where, width, height, x_range and tuple(x_range), y_range and tuple(y_range))
        with self._cache_lock:
            hit = self._aggs.get(key)
            if hit is not None:
                self._aggs.move_to_end(key)
                return hit
        out = self._aggregate_cached(x, y, colour, sel, width, height, x_range, y_range)
        with self._cache_lock:  # the last few views (a reset or a colour switched back: no pass)
            self._aggs[key] = out
            while len(self._aggs) > 8:
                self._aggs.popitem(last=False)
        return out

    def _aggregate_cached(self, x, y, colour, sel, width, height, x_range, y_range):
        from . import cache as C

        xs, ys = self._cached(x, sel), self._cached(y, sel)
        if x_range is None or y_range is None:
            if sel.all:
                rx, ry = self.column_cache().range(x), self.column_cache().range(y)
            else:
                rx, ry = [(float(np.nanmin(v)), float(np.nanmax(v))) if np.isfinite(v).any() else (None, None)
                          for v in (xs, ys)]
            x_range = x_range or self._fix_range(*rx)
            y_range = y_range or self._fix_range(*ry)
        tmpl = self._template(x, y, colour, width, height, x_range, y_range)
        if colour == "label":
            cats = (self._cached("label", sel) if "label" in self.db._colspec
                    else np.zeros(len(xs), np.int8))
            counts = C.count_cat(xs, ys, cats, len(self.label_names) + 1, x_range, y_range, width, height)
            return tmpl.copy(data=counts), x_range, y_range
        vs = self._cached(colour, sel)
        S, N = C.sum_count(xs, ys, vs, x_range, y_range, width, height)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(N > 0, S / np.maximum(N, 1), np.nan)
        return tmpl.copy(data=mean), x_range, y_range

    def nearest(self, x: str, y: str, px: float, py: float, x_range, y_range, sel: Selection) -> Optional[int]:
        """Instance index of the selected row nearest to (px, py) in the view's scaled units."""
        wx, wy = x_range[1] - x_range[0], y_range[1] - y_range[0]
        best, bi = np.inf, None
        for b in self.blocks([x, y], sel):
            dist = ((b[x] - px) / wx) ** 2 + ((b[y] - py) / wy) ** 2
            if not len(dist) or not np.isfinite(dist).any():
                continue
            k = int(np.nanargmin(dist))
            if dist[k] < best:
                best, bi = dist[k], int(b["__index__"][k])
        return bi

    def density_streamed(self, x: str, y: str, colour: str, sel: Selection, width: int = 400, height: int = 400,
                         x_range: Optional[Tuple[float, float]] = None,
                         y_range: Optional[Tuple[float, float]] = None):
        """The aggregation streamed from the file in blocks of BLOCK rows through datashader
        (without a cache; and the benchmark's reference)."""
        import datashader as ds
        import pandas as pd

        if x_range is None or y_range is None:
            r = {x: [np.inf, -np.inf], y: [np.inf, -np.inf]}
            for b in self.blocks([x, y], sel, cached=False):
                for c in (x, y):
                    v = b[c][np.isfinite(b[c])]
                    if len(v):
                        r[c] = [min(r[c][0], float(v.min())), max(r[c][1], float(v.max()))]
            for c in (x, y):
                if not np.isfinite(r[c][0]):
                    r[c] = [0.0, 1.0]
                if r[c][1] <= r[c][0]:
                    r[c][1] = r[c][0] + 1.0
            x_range = x_range or tuple(r[x])
            y_range = y_range or tuple(r[y])
        cvs = ds.Canvas(plot_width=width, plot_height=height, x_range=x_range, y_range=y_range)
        total = None
        names = self.label_names + ["unclassified"]
        if colour == "label":
            for b in self.blocks([x, y, "label"], sel, cached=False):
                lab = b["label"].astype(np.int64)
                lab = np.where((lab >= 0) & (lab < len(self.label_names)), lab, len(self.label_names))
                df = pd.DataFrame({x: b[x], y: b[y], "label": pd.Categorical.from_codes(lab, names)})
                a = cvs.points(df, x, y, agg=ds.count_cat("label"))
                total = a if total is None else total + a
        else:
            s = n = None
            for b in self.blocks([x, y, colour], sel, cached=False):
                df = pd.DataFrame({x: b[x], y: b[y], "v": b[colour].astype(np.float64)})
                a = cvs.points(df, x, y, agg=ds.summary(s=ds.sum("v"), n=ds.count("v")))
                s = a["s"] if s is None else s + a["s"]
                n = a["n"] if n is None else n + a["n"]
            if s is not None:
                total = (s / n.where(n > 0))
        return total, x_range, y_range

    # ---- instances and export --------------------------------------------------------------------
    def instance(self, i: int) -> Dict[str, object]:
        """Every column of instance i (enum columns by name)."""
        return self.db.row(int(i))

    def export(self, sel: Selection, out_dir: str, stem: Optional[str] = None) -> Dict[str, str]:
        """The selection as CSV (exactly `neurosweep query`'s rows), Parquet and a sweep spec with
        one linked (or list) axis holding the selected instances' parameters."""
        import pandas as pd

        os.makedirs(out_dir, exist_ok=True)
        stem = stem or f"{self.db.name}-selection"
        paths = {k: os.path.join(out_dir, f"{stem}.{e}") for k, e in
                 (("csv", "csv"), ("parquet", "parquet"), ("spec", "json"))}
        text = self.query(sel.where)
        with open(paths["csv"], "w") as fh:
            fh.write(text)
        df = pd.read_csv(io.StringIO(text))
        for c in df.columns:
            names = self.db.enum_names(c) if c in self.db._colspec else []
            if names:
                df[c] = pd.Categorical(df[c], categories=names + (["unclassified"] if c.startswith("label") else []))
        df.to_parquet(paths["parquet"], index=False)
        with open(paths["spec"], "w") as fh:
            json.dump(self.selection_spec(df, sel.where), fh, indent=1)
        return paths

    def selection_spec(self, df, where: str = "") -> dict:
        """A sweep spec re-running the selected instances: the build's spec with its axes
        replaced by one axis over the selected rows (kind "list" for one swept parameter, else
        "linked"); durations, dt and output can then be edited."""
        if len(df) == 0:
            raise ExplorerError("the selection is empty: nothing to export as a sweep spec")
        spec = copy.deepcopy(self.db.spec)
        params = [p for p in self.params if p in df.columns]
        if len(params) == 1:
            axis = {"kind": "list", "param": params[0], "values": [float(v) for v in df[params[0]]]}
        else:
            axis = {"kind": "linked", "name": "selection",
                    "params": {p: [float(v) for v in df[p]] for p in params}}
        spec["axes"] = [axis]
        spec.pop("combine", None)
        spec.pop("search", None)  # a search result: the selected candidates become a sweep
        out = spec.get("output")
        if isinstance(out, dict) and isinstance(out.get("traces"), dict):
            out["traces"].pop("instances", None)
            if not any(k in out["traces"] for k in ("per_label", "where")):
                out.pop("traces")
        spec["name"] = f"{self.db.name}-selection"
        spec["description"] = (f"{len(df)} instances of {os.path.basename(self.db.path)}"
                               + (f" where {where}" if where.strip() else ""))
        return spec
