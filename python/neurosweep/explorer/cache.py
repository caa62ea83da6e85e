"""Column cache of the explorer's densities: a column read once from the database into a
memory-mapped file, then aggregated in place.

A density over two parameters of a sampled database must touch every row at each redraw (a zoom
changes which rows fall into which pixel). Reading them from the HDF5 file means decompressing the
gzip'd columns each time (about 6 M rows/s on this project's 2-core machine: 3.35 s per redraw at
20 million rows). Instead, the first use of a column streams it once, block by block, into a flat
file of float32 (parameters, features) or int8 (label) values; later redraws map that file
(np.memmap) and aggregate it with a compiled (numba, parallel) kernel that bins exactly as
datashader's Canvas.points does (same scale and translation, same edge rule, NaN dropped).

Memory. The process's own (anonymous) memory does not grow with the database: the kernel's
output is one array per thread of width x height x categories. The cache files' pages are
clean file pages of the OS page cache: shared by every explorer process, evicted by the kernel
under memory pressure and re-read from disk, never swapped; they count in a process's RSS while
mapped and recently used (RssFile in /proc/PID/status, not RssAnon). Disk: 4 bytes per row per
cached numeric column, 1 per label (20 M rows: 80 MB per parameter).

Where: $NEUROSWEEP_CACHE, else $XDG_CACHE_HOME/neurosweep/explorer, else
~/.cache/neurosweep/explorer; one directory per database file (its real path, size, mtime and
spec hash), so a rewritten database gets a new cache and the old one is removed. Each file is
written to a temporary name and renamed, so a killed explorer never leaves a partial cache; a
cache that cannot be written (read-only home) makes the explorer stream the columns as before.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from typing import Dict, Optional, Tuple

import h5py
import numpy as np

from ..database import Database, _read

#: Rows read at once while a column is copied into the cache.
BLOCK = 1 << 20
_VERSION = 1


def cache_root() -> str:
    if os.environ.get("NEUROSWEEP_CACHE"):
        return os.environ["NEUROSWEEP_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "neurosweep", "explorer")


class ColumnCache:
    """Memory-mapped float32 / int8 copies of a complete database's columns (see module doc)."""

    def __init__(self, db: Database, root: Optional[str] = None):
        if db.state == "unfinished":
            raise ValueError(f"{db.path}: unfinished build: nothing to cache")
        self.db = db
        self.path = db._sources[0].path if db._sources else db.path
        real = os.path.realpath(self.path)
        st = os.stat(real)
        key = f"{real}|{st.st_size}|{st.st_mtime_ns}|{db.spec_hash}|{db.first_index}|{db.n_rows}|{_VERSION}"
        self.root = root or cache_root()
        self.dir = os.path.join(self.root, hashlib.sha256(key.encode()).hexdigest()[:24])
        self.source = real
        self._maps: Dict[str, np.ndarray] = {}
        self._meta: Dict[str, dict] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # ---- files ---------------------------------------------------------------------------------
    def _prepare_dir(self) -> None:
        if os.path.isdir(self.dir):
            return
        os.makedirs(self.root, exist_ok=True)
        # older caches of the same database file (rewritten since) are removed
        for d in os.listdir(self.root):
            mp = os.path.join(self.root, d, "source.json")
            try:
                with open(mp) as fh:
                    if json.load(fh).get("source") == self.source:
                        shutil.rmtree(os.path.join(self.root, d), ignore_errors=True)
            except (OSError, ValueError):
                continue
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "source.json"), "w") as fh:
            json.dump({"source": self.source, "spec_hash": self.db.spec_hash, "n_rows": self.db.n_rows}, fh)

    def _build(self, name: str, kind: str) -> None:
        """Streams column `name` into <dir>/<name>.<kind> and its finite min/max into .json."""
        self._prepare_dir()
        n = int(self.db.n_rows)
        dt = np.float32 if kind == "f4" else np.int8
        final = os.path.join(self.dir, f"{name}.{kind}")
        tmp = f"{final}.tmp-{os.getpid()}-{threading.get_ident()}"
        lo, hi = np.inf, -np.inf
        mm = np.memmap(tmp, dtype=dt, mode="w+", shape=(max(1, n),))
        try:
            with h5py.File(self.path, "r") as f:
                for a in range(0, n, BLOCK):
                    b = min(n, a + BLOCK)
                    v = _read(f, self.path, f"instances/{name}", slice(a, b))
                    if kind == "f4":
                        v = v.astype(np.float32)  # NaN stays NaN; the range is of the float32 values
                        fin = v[np.isfinite(v)]
                        if len(fin):
                            lo, hi = min(lo, float(fin.min())), max(hi, float(fin.max()))
                    else:
                        v = v.astype(np.int64)
                        v = np.clip(v, -1, 127).astype(np.int8)
                    mm[a:b] = v
            mm.flush()
            del mm
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        meta = {"n": n, "min": lo if np.isfinite(lo) else None, "max": hi if np.isfinite(hi) else None}
        mt = final + ".json.tmp"
        with open(mt, "w") as fh:
            json.dump(meta, fh)
        os.replace(mt, final + ".json")  # present = the column file before it is complete

    def _open(self, name: str, kind: str) -> np.ndarray:
        with self._lock:
            lk = self._locks.setdefault(name, threading.Lock())
        with lk:
            if name in self._maps:
                return self._maps[name]
            final = os.path.join(self.dir, f"{name}.{kind}")
            if not (os.path.exists(final) and os.path.exists(final + ".json")):
                self._build(name, kind)
            with open(final + ".json") as fh:
                meta = json.load(fh)
            n = int(self.db.n_rows)
            dt = np.float32 if kind == "f4" else np.int8
            if meta.get("n") != n or os.path.getsize(final) != max(1, n) * np.dtype(dt).itemsize:
                os.remove(final)
                self._build(name, kind)
                with open(final + ".json") as fh:
                    meta = json.load(fh)
            mm = np.memmap(final, dtype=dt, mode="r", shape=(max(1, n),))[:n]
            self._maps[name] = mm
            self._meta[name] = meta
            return mm

    # ---- API -----------------------------------------------------------------------------------
    def values(self, name: str) -> np.ndarray:
        """Column `name` as a read-only float32 memmap (NaN where undefined)."""
        return self._open(name, "f4")

    def codes(self, name: str) -> np.ndarray:
        """Enum column `name` (label) as a read-only int8 memmap of its codes (-1: unclassified)."""
        return self._open(name, "i1")

    def range(self, name: str) -> Tuple[Optional[float], Optional[float]]:
        """(min, max) of the finite float32 values of `name` (None, None when there are none)."""
        self.values(name)
        m = self._meta[name]
        return m["min"], m["max"]


# ---- aggregation kernels (numba), binning as datashader's Canvas.points ------------------------------
# datashader.glyphs.points: keep xmin <= x <= xmax (so NaN is dropped), pixel int(x * sx + tx),
# the upper edge into the last pixel; sx = w / (x1 - x0), tx = -x0 * sx. Module-level functions so
# that numba's on-disk cache (cache=True) spares later processes the compilation.
import numba as _nb  # noqa: E402 (datashader's dependency)


@_nb.njit(parallel=True, nogil=True, cache=True)
def _count_cat(xs, ys, cats, ncat, x0, x1, y0, y1, w, h, nth):
    sx = w / (x1 - x0)
    tx = -x0 * sx
    sy = h / (y1 - y0)
    ty = -y0 * sy
    n = xs.shape[0]
    out = np.zeros((nth, h, w, ncat), np.uint32)
    step = (n + nth - 1) // nth
    for t in _nb.prange(nth):
        for i in range(t * step, min(n, (t + 1) * step)):
            x = xs[i]
            y = ys[i]
            if x0 <= x <= x1 and y0 <= y <= y1:
                xx = int(x * sx + tx)
                yy = int(y * sy + ty)
                if xx >= w:
                    xx = w - 1
                if yy >= h:
                    yy = h - 1
                c = cats[i]
                if c < 0 or c >= ncat - 1:
                    c = ncat - 1
                out[t, yy, xx, c] += 1
    res = out[0].copy()
    for t in range(1, nth):
        res += out[t]
    return res


@_nb.njit(parallel=True, nogil=True, cache=True)
def _sum_count(xs, ys, vs, x0, x1, y0, y1, w, h, nth):
    sx = w / (x1 - x0)
    tx = -x0 * sx
    sy = h / (y1 - y0)
    ty = -y0 * sy
    n = xs.shape[0]
    s = np.zeros((nth, h, w), np.float64)
    c = np.zeros((nth, h, w), np.uint32)
    step = (n + nth - 1) // nth
    for t in _nb.prange(nth):
        for i in range(t * step, min(n, (t + 1) * step)):
            x = xs[i]
            y = ys[i]
            v = vs[i]
            if x0 <= x <= x1 and y0 <= y <= y1 and v == v:
                xx = int(x * sx + tx)
                yy = int(y * sy + ty)
                if xx >= w:
                    xx = w - 1
                if yy >= h:
                    yy = h - 1
                s[t, yy, xx] += v
                c[t, yy, xx] += 1
    S = s[0].copy()
    C = c[0].copy()
    for t in range(1, nth):
        S += s[t]
        C += c[t]
    return S, C


def _kernels():
    return _count_cat, _sum_count


#: Rows per thread at least: below, a thread team costs more than it saves (measured on the
#: loaded 2-core machine: 2 M rows took 0.09 s on one thread, 0.21-0.24 s with a team of two).
ROWS_PER_THREAD = 4 << 20


def _run(kernel, n: int, *args):
    import numba

    nth = max(1, min(int(numba.config.NUMBA_NUM_THREADS), n // ROWS_PER_THREAD))
    old = numba.get_num_threads()
    numba.set_num_threads(nth)  # this calling thread's team size
    try:
        return kernel(*args, nth)
    finally:
        numba.set_num_threads(old)


def _ro(a: np.ndarray) -> np.ndarray:
    """Read-only arrays throughout, so the kernels are compiled for one array type."""
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def count_cat(xs, ys, cats, ncat: int, x_range, y_range, w: int, h: int) -> np.ndarray:
    """(h, w, ncat) uint32 counts; category codes outside 0..ncat-2 go to ncat-1."""
    return _run(_kernels()[0], len(xs), _ro(xs), _ro(ys), _ro(cats), int(ncat), float(x_range[0]),
                float(x_range[1]), float(y_range[0]), float(y_range[1]), int(w), int(h))


def sum_count(xs, ys, vs, x_range, y_range, w: int, h: int):
    """(sum, count) per pixel, each (h, w), of the non-NaN values vs."""
    return _run(_kernels()[1], len(xs), _ro(xs), _ro(ys), _ro(vs), float(x_range[0]), float(x_range[1]),
                float(y_range[0]), float(y_range[1]), int(w), int(h))
