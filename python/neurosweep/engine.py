"""The engine of ``neurosweep run`` in memory: evaluate parameter vectors from Python.

    import neurosweep as ns
    eng = ns.Engine(model="stg", dt=0.05, transient="10 s", analysis="10 s",
                    backend="auto", precision="float")
    df = eng.evaluate({"gCaS": [4.0, 8.0], "gKd": [50.0, 100.0]})   # status, label, features

``evaluate`` runs exactly the code that ``neurosweep run`` runs for a chunk (the backend's chunk
run on all CPU cores or the GPU, the spec's initial states, the classifier stage; C++
``ns::Evaluator``, host/run/evaluate.hpp) with the GIL released, and returns a DataFrame: the
given parameter columns, ``index``, ``status`` and ``label`` (categoricals) and the classifier's
features (float32, NaN where undefined), and ``spike_times`` (one float32 array per row, ms from
the start of the analysis window) when the engine was made with ``spikes=N``.

Determinism: a row's result depends only on its parameters and its instance index (the key of
the counter-based random input of models that draw one, e.g. Poisson input of the point
neurons), never on the batch it came in or the thread count. The index of row r is
``index_offset + r`` unless ``index=`` gives one per row: split a batch into parts with their
offsets (or pass the indices) and the results are the same, bit for bit.

The compiled part (``neurosweep._engine``) is built by the project's CMake (cmake/python_engine.cmake)
into ``<build>/python/neurosweep/``; it is looked for beside this package, then in the directory
named by ``$NEUROSWEEP_ENGINE``, then in the build directory of ``$NEUROSWEEP_BIN``, then in the
repository's ``build/``.
"""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

_ENGINE_KEYS = ("model", "dt", "transient", "analysis", "seed", "precision", "gating", "integration",
                "constants", "fixed", "initial", "classifier", "probe", "parameter_file", "circuit",
                "rate_bin")
# Keys of a sweep spec that the engine does not use (the caller supplies the instances; of
# "output" only "rate_bin" is kept: the bins of the rate series).
_DROPPED_KEYS = ("name", "description", "axes", "combine", "search")


def _load_extension():
    try:
        from . import _engine  # type: ignore[attr-defined]
        return _engine
    except ImportError:
        pass
    here = Path(__file__).resolve().parent
    dirs: List[Path] = []
    if os.environ.get("NEUROSWEEP_ENGINE"):
        p = Path(os.environ["NEUROSWEEP_ENGINE"])
        dirs.append(p.parent if p.is_file() else p)
    if os.environ.get("NEUROSWEEP_BIN"):
        dirs.append(Path(os.environ["NEUROSWEEP_BIN"]).resolve().parent / "python" / "neurosweep")
    dirs.append(here.parent.parent / "build" / "python" / "neurosweep")
    for d in dirs:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            f = d / ("_engine" + suffix)
            if f.is_file():
                spec = importlib.util.spec_from_file_location("neurosweep._engine", f)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)  # type: ignore[union-attr]
                sys.modules["neurosweep._engine"] = mod
                return mod
    raise ImportError(
        "neurosweep.Engine: the compiled engine (neurosweep._engine) was not found; looked in "
        + ", ".join(str(d) for d in dirs)
        + ". Build it with scripts/setup.sh (it needs nanobind in .venv and Python headers) or set "
        "NEUROSWEEP_ENGINE to the directory holding _engine*.so")


def _duration(v: Any, key: str):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return {"value": float(v), "unit": "ms"}
    return v


class Engine:
    """An engine with fixed settings; ``evaluate`` runs batches of parameter vectors.

    Settings are those of a sweep spec (docs/SWEEP_SPEC.md): ``model``, ``dt``, ``transient``,
    ``analysis`` (numbers are ms, strings such as ``"10 s"`` as in a spec), ``seed``,
    ``precision``, ``gating``, ``integration``, ``constants``, ``fixed``, ``initial``,
    ``classifier``, ``probe``, ``parameter_file``, ``circuit``. ``spec=`` takes a spec (dict or
    path to a JSON file) as the base; keywords override it; its axes, output and search sections
    are ignored. ``backend``: "auto" (GPU when present), "cpu" or "cuda"; ``threads``: CPU
    threads (0: all cores); ``spikes``: spike times returned per row (0: none).
    """

    def __init__(self, model: Optional[str] = None, *, spec: Union[None, str, os.PathLike, Mapping] = None,
                 backend: str = "auto", threads: int = 0, spikes: int = 0, chunk: int = 0, **settings: Any):
        unknown = sorted(set(settings) - set(_ENGINE_KEYS))
        if unknown:
            raise TypeError(f"Engine: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(_ENGINE_KEYS)}")
        source = "<Engine>"
        base: Dict[str, Any] = {}
        if spec is not None:
            if isinstance(spec, Mapping):
                base = json.loads(json.dumps(dict(spec)))
            else:
                source = str(spec)
                try:
                    text = Path(spec).read_text()
                except OSError as e:
                    raise FileNotFoundError(f"Engine: spec {spec}: {e.strerror}") from None
                # the C++ parser reads comments; a spec with comments is parsed there whole
                base = _parse_json_with_comments(text, source)
        for k in _DROPPED_KEYS:
            base.pop(k, None)
        out = base.pop("output", None)
        if isinstance(out, Mapping) and "rate_bin" in out:
            base["output"] = {"rate_bin": out["rate_bin"]}
        if model is not None:
            base["model"] = model
        rate_bin = settings.pop("rate_bin", None)
        if rate_bin is not None:
            base["output"] = {"rate_bin": _duration(rate_bin, "rate_bin")}
        for k, v in settings.items():
            if v is not None:
                base[k] = v
        base.setdefault("dt", 0.05)
        base.setdefault("transient", 0.0)
        for k in ("dt", "transient", "analysis"):
            if k in base:
                base[k] = _duration(base[k], k)
        self.settings: Dict[str, Any] = base
        ext = _load_extension()
        self._ext = ext
        self._eng = ext.Engine(json.dumps(base), source, backend, int(threads), int(spikes), int(chunk))
        self._columns = self._eng.columns()
        self.params: List[Dict[str, Any]] = self._eng.params()
        self.param_names: List[str] = [p["name"] for p in self.params]
        # resolved settings (ms), as `neurosweep run` writes them as root attributes; rate series
        try:
            self.resolved: Dict[str, Any] = dict(self._eng.settings())
        except AttributeError:  # an extension built before settings() existed: rebuild it
            self.resolved = {}
        self.rate_series: List[str] = list(self.resolved.get("rate_series", []))

    # -- properties -------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self._eng.model

    @property
    def backend(self) -> str:
        """"cpu" or "cuda": the backend in use."""
        return self._eng.backend

    @property
    def device(self) -> str:
        return self._eng.device

    @property
    def notice(self) -> str:
        """Why backend "auto" chose what it chose ("" otherwise)."""
        return self._eng.notice

    @property
    def columns(self) -> List[str]:
        """Result columns (after the parameter columns): index, status, label, features."""
        return [c["name"] for c in self._columns]

    def __repr__(self) -> str:
        return f"Engine(model={self.model!r}, backend={self.backend!r}, device={self.device!r})"

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, params: Any, names: Optional[Sequence[str]] = None, *,
                 index: Optional[Sequence[int]] = None, index_offset: int = 0, rates: bool = False):
        """Evaluate a batch; returns a pandas DataFrame, one row per parameter vector.

        ``rates=True`` (networks and population models): returns ``(df, rates)``, ``rates`` the
        population rate series as ``Database.rates()`` gives them (xarray DataArray, dims
        instance x population x time, Hz; bins of the settings' ``rate_bin`` (a spec's
        ``output.rate_bin``), default 1 ms), equal to what ``neurosweep run`` stores in /rates.

        ``params``: a DataFrame (columns = parameter names), a dict name -> array (or scalar,
        for one row), or a 2-D array of shape (rows, len(names)) with ``names``. Parameters not
        given keep the settings' values (model defaults overridden by ``fixed``). Raises
        ValueError (neurosweep._engine.SpecError) for an unknown name or a value outside the
        model's range (naming parameter, row and value), ValueError for wrong shapes and
        TypeError for non-numeric columns; nothing runs then.
        """
        import pandas as pd

        t_call = time.perf_counter()
        if rates and not self.rate_series:
            raise ValueError(f"evaluate(rates=True): model {self.model!r} has no population rate series "
                             "(only networks and population models have them)")
        cols, block, row_index = self._block(params, names)
        n = block.shape[1]
        idx = None
        if index is not None:
            idx = np.ascontiguousarray(np.asarray(index), dtype=np.uint64)
            if idx.shape != (n,):
                raise ValueError(f"evaluate: index has shape {np.asarray(index).shape}; expected ({n},)")
        if int(index_offset) < 0:
            raise ValueError(f"evaluate: index_offset {index_offset}: must be >= 0")
        raw = self._eng.evaluate(cols, block, idx, int(index_offset))
        data: Dict[str, Any] = {c: block[j] for j, c in enumerate(cols)}
        for spec in self._columns:
            name, dt = spec["name"], spec["dtype"]
            v = np.frombuffer(raw[name], dtype=np.dtype(dt).newbyteorder("<"))
            if spec["enum_names"]:
                codes = v.astype(np.int64)
                codes = np.where((codes >= 0) & (codes < len(spec["enum_names"])), codes, -1)
                data[name] = pd.Categorical.from_codes(codes, categories=spec["enum_names"])
            else:
                data[name] = v.copy()
        if "__spike_counts" in raw:
            counts = np.frombuffer(raw["__spike_counts"], dtype="<u4")
            times = np.frombuffer(raw["__spike_times"], dtype="<f4")
            splits = np.split(times.copy(), np.cumsum(counts)[:-1]) if len(counts) else []
            cells = self._eng.spike_cells
            if cells:  # circuits: one train per cell
                for k, cell in enumerate(cells):
                    data[f"spike_times.{cell}"] = [splits[r * len(cells) + k] for r in range(n)]
            else:
                data["spike_times"] = splits
        df = pd.DataFrame(data, index=row_index)
        df.attrs["units"] = {c["name"]: c["units"] for c in self._columns}
        # seconds: check, integrate, classify (inside the engine) and the whole call
        df.attrs["timings"] = dict(raw["__timings"], call_s=time.perf_counter() - t_call)
        if rates:
            return df, self._rates(raw["__rates"], data["index"])
        return df

    def _rates(self, raw: bytes, index: np.ndarray):
        """The rate block of one call as Database.rates() returns /rates (same dims, coordinates,
        attributes)."""
        import xarray as xr

        ns_, nb = len(self.rate_series), int(self.resolved["rate_bins"])
        bin_ms = float(self.resolved["rate_bin_ms"])
        v = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(len(index), ns_, nb)
        t = 0.0 + bin_ms * np.arange(nb, dtype=np.float64)
        da = xr.DataArray(v, dims=("instance", "population", "time"),
                          coords={"instance": np.asarray(index, dtype=np.uint64), "population": list(self.rate_series),
                                  "time": t},
                          attrs={"units": "Hz", "bin_ms": bin_ms, "t0_ms": 0.0, "long_name": "population rate"})
        da.coords["time"].attrs["units"] = "ms"
        return da

    def trace(self, params: Mapping[str, float], every_ms: Optional[float] = None, keep_transient: bool = False,
              index: int = 0):
        """The state trace of one parameter vector (a dict name -> value; the others keep the
        settings' values), sampled every ``every_ms`` (rounded to whole steps; default dt), as a
        neurosweep.Trace (``t`` in ms from the start of the analysis window, ``values``,
        ``units``). In memory, on one thread: the path of ``neurosweep simulate`` (the reference
        integration, from the settings' initial state), so the same numbers as
        ``neurosweep.resimulate`` without a process and an HDF5 file in between. ``index``: the
        instance index keying the random input of models that draw one (Poisson input); 0 is what
        ``neurosweep simulate`` uses, instance i of a build was integrated with i."""
        from .simulate import Trace

        cols = [str(k) for k in params]
        vals = np.ascontiguousarray(np.array([[float(params[k])] for k in params], dtype=np.float64).reshape(len(cols), 1))
        dt = float(self.resolved.get("dt_ms") or 0.0)
        if not dt:
            raise RuntimeError("Engine.trace: the compiled engine is older than this package; rebuild it")
        steps = 1 if every_ms is None else max(1, int(round(float(every_ms) / dt)))
        raw = self._eng.trace(cols, vals, steps, int(index))
        data = {n: np.frombuffer(b, dtype="<f8").copy() for n, b in zip(raw["names"], raw["columns"])}
        units = dict(zip(raw["names"], raw["units"]))
        tr_ms = float(self.resolved["transient_ms"])
        t = data.pop("t") - tr_ms
        keep = slice(None) if keep_transient else (t >= -1e-9 * max(1.0, tr_ms))
        values = {k: v[keep] for k, v in data.items()}
        settings = dict(self.resolved, model=self.model, every_ms=steps * dt)
        return Trace(-1, t[keep], values, {k: units[k] for k in values}, {k: float(params[k]) for k in params},
                     settings, ["neurosweep.Engine.trace"])

    def check(self, params: Any, names: Optional[Sequence[str]] = None) -> None:
        """The checks of ``evaluate`` (names, shapes, types, ranges, rules) without running."""
        cols, block, _ = self._block(params, names)
        self._eng.check(cols, block)

    def _block(self, params: Any, names: Optional[Sequence[str]]):
        """(names, C-contiguous float64 block of shape (k, n), DataFrame index or None)."""
        import pandas as pd

        row_index = None
        if isinstance(params, pd.DataFrame):
            if names is not None:
                raise TypeError("evaluate: names= is for 2-D arrays; a DataFrame names its columns")
            cols = [str(c) for c in params.columns]
            arrays = [self._numeric(params[c].to_numpy(), c) for c in params.columns]
            row_index = params.index
        elif isinstance(params, Mapping):
            if names is not None:
                raise TypeError("evaluate: names= is for 2-D arrays; a dict names its entries")
            cols = [str(c) for c in params]
            arrays = [np.atleast_1d(self._numeric(np.asarray(v), c)) for c, v in params.items()]
            for c, a in zip(cols, arrays):
                if a.ndim != 1:
                    raise ValueError(f"evaluate: params[{c!r}] has shape {a.shape}; expected one value per row (1-D)")
            lens = {len(a) for a in arrays}
            if len(lens) > 1:
                raise ValueError("evaluate: the entries have different lengths: "
                                 + ", ".join(f"{c}: {len(a)}" for c, a in zip(cols, arrays)))
        else:
            a = np.asarray(params)
            if names is None:
                raise TypeError("evaluate: a plain array needs names= (one per column); or pass a DataFrame or a dict")
            cols = [str(c) for c in names]
            if a.ndim == 1 and len(cols) == a.shape[0]:
                a = a[None, :]
            if a.ndim != 2:
                raise ValueError(f"evaluate: params has shape {a.shape}; expected (rows, {len(cols)})")
            if a.shape[1] != len(cols):
                raise ValueError(f"evaluate: params has {a.shape[1]} columns for {len(cols)} names {cols}")
            a = self._numeric(a, "params")
            arrays = [a[:, j] for j in range(a.shape[1])]
        if not arrays:
            raise ValueError("evaluate: no parameters given")
        block = np.ascontiguousarray(np.stack(arrays).astype(np.float64, copy=False))
        return cols, block, row_index

    @staticmethod
    def _numeric(a: np.ndarray, name: str) -> np.ndarray:
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"evaluate: {name!r} is not numeric (dtype {a.dtype})")
        return a.astype(np.float64, copy=False)


def _parse_json_with_comments(text: str, source: str) -> Dict[str, Any]:
    """JSON with // and /* */ comments (as the spec parser accepts), outside strings."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        else:
            out.append(c)
        i += 1
    try:
        return json.loads("".join(out))
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}:{e.lineno}:{e.colno}: JSON syntax error: {e.msg}") from None
