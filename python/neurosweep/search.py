"""Search toward target activity: ``python -m neurosweep search SPEC -o RESULT.h5``.

A search spec is a sweep spec (model, dt, transient, analysis, fixed, classifier, ...) with a
``"search"`` section instead of axes (docs/SEARCH.md):

    "search": {
      "params":  {"gCaS": [0, 10], "gKd": {"low": 1, "high": 125, "scale": "log"}},
      "targets": {"label": "bursting",
                  "burst_period_ms": {"value": 1000, "tol": 20},
                  "duty_cycle": {"value": 0.30, "tol": 0.03},
                  "spikes_per_burst": {"min": 8, "max": 20}},
      "method": "cma",          // "cma" (the cma package), "nsga2" (DEAP), "random"
      "budget": 2000,           // evaluations at most
      "population": 16, "seed": 1
    }

Cost (default, documented in docs/SEARCH.md): the sum over the feature targets of the distance
outside the target range in units of the range's half-width (0 inside), plus ``label_penalty``
(10) when the label differs from the target label (or the integration failed), and
``missing_penalty`` (10) for a feature that is undefined (NaN) for the candidate. A candidate
succeeds when its cost is 0. NSGA-II minimises one objective per feature target (its distance,
plus the label term) and returns the Pareto set of all evaluated candidates.

Every evaluated candidate is kept (generation, cost, parameters, label, features). Generations
are written as they finish to ``RESULT.h5.parts/`` (each file renamed into place whole), so a
killed search loses at most the generation in flight; ``--resume`` replays the search from its
seed, takes the stored generations instead of recomputing them (checking that the replayed
candidates are the stored ones, bit for bit) and continues. The same spec and seed give the same
result. RESULT.h5 is written at the end as a neurosweep database (docs/FORMAT.md; one row per
candidate): ``neurosweep.open`` reads it, ``load_result`` gives it as a DataFrame with the summary.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random as _pyrandom
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .engine import Engine, _parse_json_with_comments

LEGACY_FORMAT = "neurosweep-search"  # results of earlier versions (replaced by --force only)
METHODS = ("cma", "nsga2", "random")
_SEARCH_KEYS = {"params", "targets", "method", "budget", "population", "seed", "sigma0", "x0",
                "stop_at_success", "label_penalty", "missing_penalty"}


class SearchSpecError(ValueError):
    """A bad search spec: the message names the file, the key and the value."""


# ---- the spec ---------------------------------------------------------------------------------
class Param:
    def __init__(self, name: str, low: float, high: float, scale: str):
        self.name, self.low, self.high, self.scale = name, float(low), float(high), scale

    def value(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube coordinate(s) -> parameter value(s)."""
        u = np.clip(u, 0.0, 1.0)
        if self.scale == "log":
            return self.low * (self.high / self.low) ** u
        return self.low + u * (self.high - self.low)

    def unit(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if self.scale == "log":
            return np.log(v / self.low) / math.log(self.high / self.low)
        return (v - self.low) / (self.high - self.low)


class Target:
    def __init__(self, feature: str, lo: float, hi: float):
        self.feature, self.lo, self.hi = feature, float(lo), float(hi)
        self.half = 0.5 * (self.hi - self.lo)

    def distance(self, x: np.ndarray, missing: float) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        d = np.maximum(0.0, np.maximum(self.lo - x, x - self.hi)) / self.half
        return np.where(np.isnan(x), missing, d)


class SearchSpec:
    """The "search" section, checked; every error names file, key and value."""

    def __init__(self, raw: Dict[str, Any], source: str):
        self.source = source
        self.raw = raw
        s = raw.get("search")
        if not isinstance(s, dict):
            self._err("search", s, 'an object {"params": ..., "targets": ..., "method": ..., "budget": ...}')
        for k in s:
            if k not in _SEARCH_KEYS:
                self._err(f"search.{k}", s[k], "one of the keys " + ", ".join(sorted(_SEARCH_KEYS)))
        if "axes" in raw and raw["axes"]:
            self._err("axes", "[...]", 'no axes: a search chooses the instances ("search.params")')
        ps = s.get("params")
        if not isinstance(ps, dict) or not ps:
            self._err("search.params", ps, 'an object name -> [low, high] or {"low", "high", "scale": "linear"|"log"}')
        self.params: List[Param] = []
        for name, v in ps.items():
            key = f"search.params.{name}"
            scale = "lin"
            if isinstance(v, dict):
                for k in v:
                    if k not in ("low", "high", "scale"):
                        self._err(f"{key}.{k}", v[k], 'one of "low", "high", "scale"')
                lo, hi, scale = v.get("low"), v.get("high"), v.get("scale", "lin")
            elif isinstance(v, list) and len(v) == 2:
                lo, hi = v
            else:
                self._err(key, v, '[low, high] or {"low": L, "high": H, "scale": "linear"|"log"}')
            for what, x in (("low", lo), ("high", hi)):
                if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
                    self._err(f"{key}.{what}", x, "a finite number")
            if scale not in ("linear", "lin", "log"):
                self._err(f"{key}.scale", scale, '"linear" (or "lin") or "log"')
            scale = "lin" if scale == "linear" else scale
            if not hi > lo:
                self._err(key, v, "low < high")
            if scale == "log" and not lo > 0:
                self._err(f"{key}.low", lo, "> 0 for a log scale")
            self.params.append(Param(name, lo, hi, scale))
        ts = s.get("targets")
        if not isinstance(ts, dict) or not ts:
            self._err("search.targets", ts, 'an object: "label" and/or feature -> {"value", "tol"} or {"min", "max"}')
        self.label: Optional[str] = None
        self.targets: List[Target] = []
        for name, v in ts.items():
            key = f"search.targets.{name}"
            if name == "label":
                if not isinstance(v, str):
                    self._err(key, v, "a label name (string)")
                self.label = v
                continue
            if isinstance(v, dict) and set(v) == {"value", "tol"}:
                c, t = v["value"], v["tol"]
                if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (c, t)) or not t > 0:
                    self._err(key, v, "finite value and tol > 0")
                lo, hi = c - t, c + t
            elif isinstance(v, dict) and set(v) == {"min", "max"}:
                lo, hi = v["min"], v["max"]
                if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (lo, hi)) or not hi > lo:
                    self._err(key, v, "finite min < max")
            elif isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v) and v[1] > v[0]:
                lo, hi = v
            else:
                self._err(key, v, '{"value": V, "tol": T}, {"min": A, "max": B} or [A, B] with A < B')
            self.targets.append(Target(name, lo, hi))
        self.method = s.get("method", "cma")
        if self.method not in METHODS:
            self._err("search.method", self.method, " or ".join(f'"{m}"' for m in METHODS))
        self.budget = s.get("budget", 1000)
        if not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1:
            self._err("search.budget", self.budget, "a whole number of evaluations >= 1")
        d = len(self.params)
        default_pop = 4 + int(3 * math.log(d)) if self.method == "cma" else 4 * ((4 + int(3 * math.log(d)) + 3) // 4)
        self.population = s.get("population", max(4, default_pop))
        if not isinstance(self.population, int) or isinstance(self.population, bool) or self.population < 2:
            self._err("search.population", self.population, "a whole number >= 2")
        if self.method == "nsga2" and self.population % 4:
            self._err("search.population", self.population, "a multiple of 4 for nsga2 (DEAP's selTournamentDCD)")
        self.seed = s.get("seed", raw.get("seed", 0))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            self._err("search.seed", self.seed, "a whole number >= 0")
        self.sigma0 = s.get("sigma0", 0.25)
        if not isinstance(self.sigma0, (int, float)) or not 0 < self.sigma0 <= 1:
            self._err("search.sigma0", self.sigma0, "a number in (0, 1] (unit-cube coordinates)")
        self.x0 = s.get("x0")
        if self.x0 is not None:
            if not isinstance(self.x0, dict) or set(self.x0) != {p.name for p in self.params}:
                self._err("search.x0", self.x0, "an object with a value for every search parameter")
            for p in self.params:
                if not p.low <= self.x0[p.name] <= p.high:
                    self._err(f"search.x0.{p.name}", self.x0[p.name], f"within [{p.low}, {p.high}]")
        self.stop_at_success = bool(s.get("stop_at_success", True))
        self.label_penalty = float(s.get("label_penalty", 10.0))
        self.missing_penalty = float(s.get("missing_penalty", 10.0))
        engine_spec = {k: v for k, v in raw.items() if k != "search"}
        self.engine_spec = engine_spec
        canon = json.dumps(raw, sort_keys=True, separators=(",", ":"))
        self.canonical = canon
        self.hash = hashlib.sha256(canon.encode()).hexdigest()[:16]

    def _err(self, key: str, value: Any, expected: str):
        raise SearchSpecError(f"{self.source}: {key}: got {json.dumps(value)}; expected {expected}")

    @property
    def names(self) -> List[str]:
        return [p.name for p in self.params]

    def values(self, u: np.ndarray) -> np.ndarray:
        """(n, d) unit-cube points -> (n, d) parameter values."""
        return np.column_stack([p.value(u[:, j]) for j, p in enumerate(self.params)])

    def terms(self, df) -> Tuple[np.ndarray, np.ndarray]:
        """The label term (n,) and the normalised distances (n, targets) of evaluated rows."""
        lab = np.zeros(len(df))
        if self.label is not None:
            lab = np.where(df["label"].astype(str).to_numpy() == self.label, 0.0, self.label_penalty)
        lab = np.where(df["status"].astype(str).to_numpy() != "ok", self.label_penalty, lab)
        dist = np.zeros((len(df), len(self.targets)))
        for k, t in enumerate(self.targets):
            dist[:, k] = t.distance(df[t.feature].to_numpy(), self.missing_penalty)
        return lab, dist

    def objectives(self, df) -> np.ndarray:
        """NSGA-II's objectives: per feature target its distance plus the label term."""
        lab, dist = self.terms(df)
        return lab[:, None] + dist if self.targets else lab[:, None]

    def cost(self, df) -> np.ndarray:
        """The default cost: label term + sum of normalised distances outside the ranges."""
        lab, dist = self.terms(df)
        return lab + dist.sum(axis=1)


def load_search_spec(path: str) -> SearchSpec:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise SearchSpecError(f"{path}: cannot read: {e.strerror}") from None
    raw = _parse_json_with_comments(text, path)
    if not isinstance(raw, dict):
        raise SearchSpecError(f"{path}: expected a JSON object")
    return SearchSpec(raw, path)


# ---- methods: ask/tell over unit-cube points -----------------------------------------------------
class _Cma:
    """CMA-ES from the cma package, with restarts (new seed, random start) while budget remains."""

    def __init__(self, spec: SearchSpec):
        import cma  # noqa: F401
        self.spec, self.restart = spec, 0
        self.rng = np.random.default_rng(spec.seed)
        self._new()

    def _new(self):
        import cma
        d = len(self.spec.params)
        if self.restart == 0 and self.spec.x0 is not None:
            x0 = [float(p.unit(self.spec.x0[p.name])) for p in self.spec.params]
        elif self.restart == 0:
            x0 = [0.5] * d
        else:
            x0 = list(self.rng.uniform(0.1, 0.9, d))
        # cma: seed 0 or None means "random"; ours are >= 0, so +1 (and per restart)
        self.es = cma.CMAEvolutionStrategy(x0, self.spec.sigma0, {
            "bounds": [0, 1], "popsize": self.spec.population, "seed": self.spec.seed * 1000 + self.restart + 1,
            "verbose": -9, "verb_log": 0, "verb_disp": 0})

    def ask(self) -> np.ndarray:
        if self.es.stop():
            self.restart += 1
            self._new()
        self.xs = self.es.ask()
        return np.clip(np.array(self.xs, dtype=float), 0.0, 1.0)

    def tell(self, cost: np.ndarray, objectives: np.ndarray):
        self.es.tell(self.xs, list(map(float, cost)))


class _Nsga2:
    """NSGA-II from DEAP (selNSGA2, selTournamentDCD, SBX crossover, polynomial mutation)."""

    def __init__(self, spec: SearchSpec):
        from deap import base, creator, tools
        self.spec, self.tools = spec, tools
        n_obj = max(1, len(spec.targets))
        fit, ind = f"NsFitnessMin{n_obj}", f"NsIndividual{n_obj}"
        if not hasattr(creator, fit):
            creator.create(fit, base.Fitness, weights=(-1.0,) * n_obj)
            creator.create(ind, list, fitness=getattr(creator, fit))
        self.Ind = getattr(creator, ind)
        self.rand = _pyrandom.Random(spec.seed)
        self.pop: Optional[list] = None
        self.pending: list = []

    def _with_rng(self, f, *a, **k):
        # DEAP's operators draw from the module `random`: run them on our seeded generator's state
        state = _pyrandom.getstate()
        _pyrandom.setstate(self.rand.getstate())
        try:
            return f(*a, **k)
        finally:
            self.rand.setstate(_pyrandom.getstate())
            _pyrandom.setstate(state)

    def ask(self) -> np.ndarray:
        d, mu, t = len(self.spec.params), self.spec.population, self.tools
        if self.pop is None:
            self.pending = [self.Ind(self.rand.random() for _ in range(d)) for _ in range(mu)]
        else:
            def breed():
                off = [self.Ind(list(x)) for x in t.selTournamentDCD(self.pop, len(self.pop))]
                for a, b in zip(off[::2], off[1::2]):
                    if self.rand.random() <= 0.9:
                        t.cxSimulatedBinaryBounded(a, b, eta=20.0, low=0.0, up=1.0)
                    t.mutPolynomialBounded(a, eta=20.0, low=0.0, up=1.0, indpb=1.0 / d)
                    t.mutPolynomialBounded(b, eta=20.0, low=0.0, up=1.0, indpb=1.0 / d)
                return off
            self.pending = self._with_rng(breed)
        return np.array([list(x) for x in self.pending], dtype=float)

    def tell(self, cost: np.ndarray, objectives: np.ndarray):
        for ind, o in zip(self.pending, objectives):
            ind.fitness.values = tuple(map(float, o))
        if self.pop is None:
            self.pop = self._with_rng(self.tools.selNSGA2, self.pending, len(self.pending))  # crowding distances
        else:
            self.pop = self._with_rng(self.tools.selNSGA2, self.pop + self.pending, self.spec.population)


class _Random:
    """Uniform random search in the unit cube (log parameters: log-uniform): the baseline."""

    def __init__(self, spec: SearchSpec):
        self.spec, self.rng = spec, np.random.default_rng(spec.seed)

    def ask(self) -> np.ndarray:
        return self.rng.random((self.spec.population, len(self.spec.params)))

    def tell(self, cost, objectives):
        pass


def _method(spec: SearchSpec):
    return {"cma": _Cma, "nsga2": _Nsga2, "random": _Random}[spec.method](spec)


# ---- the run ------------------------------------------------------------------------------------
def pareto_mask(obj: np.ndarray) -> np.ndarray:
    """Non-dominated rows of a (n, m) minimisation problem (duplicates all kept)."""
    n = len(obj)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated = np.all(obj <= obj[i], axis=1) & np.any(obj < obj[i], axis=1)
        if dominated.any():
            keep[i] = False
    return keep


def _write_atomic_npz(path: Path, **arrays):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run_search(spec_path: str, out: str, *, resume: bool = False, force: bool = False, backend: str = "auto",
               threads: int = 0, quiet: bool = False) -> Dict[str, Any]:
    """Runs (or resumes) a search; returns a summary dict. See the module docstring."""
    import pandas as pd

    spec = load_search_spec(spec_path)
    outp = Path(out)
    parts = Path(str(outp) + ".parts")
    if outp.exists() and not force:
        raise FileExistsError(f"{out}: exists; pass --force to replace it")
    if outp.exists() and force:
        _check_ours(outp)
    if parts.exists() and not resume:
        if not force:
            raise FileExistsError(f"{parts}: an unfinished search is there; continue it with --resume, or pass --force")
        _remove_parts(parts)
    if not outp.parent.is_dir():
        raise FileNotFoundError(f"-o {out}: directory {outp.parent} does not exist")
    eng = Engine(spec=spec.engine_spec, backend=backend, threads=threads)
    for p in spec.params:
        if p.name not in eng.param_names:
            raise SearchSpecError(f"{spec_path}: search.params.{p.name}: not a parameter of model {eng.model}; "
                                  f"valid: {', '.join(eng.param_names)}")
    for t in spec.targets:
        if t.feature not in eng.columns or t.feature in ("index", "status", "label"):
            raise SearchSpecError(f"{spec_path}: search.targets.{t.feature}: not a feature of the classifier; "
                                  f"valid: {', '.join(c for c in eng.columns if c not in ('index', 'status', 'label'))}")
    if spec.label is not None:
        labels = [c["enum_names"] for c in eng._columns if c["name"] == "label"][0]
        if spec.label not in labels:
            raise SearchSpecError(f"{spec_path}: search.targets.label: got {json.dumps(spec.label)}; "
                                  f"expected one of {', '.join(labels)}")
    # The box against the model's ranges and rules before any work: every corner (its first 4096).
    d = len(spec.params)
    corners = np.array([[(c >> j) & 1 for j in range(d)] for c in range(min(2 ** d, 4096))], dtype=float)
    try:
        eng.check(spec.values(corners), names=spec.names)
    except ValueError as e:
        raise SearchSpecError(f"{spec_path}: search.params: a corner of the search box is not admissible: {e}") from None
    manifest = {"format": "neurosweep-search", "spec_hash": spec.hash, "spec": spec.canonical}
    if resume and parts.exists():
        m = json.loads((parts / "manifest.json").read_text())
        if m.get("spec_hash") != spec.hash:
            raise SearchSpecError(f"{spec_path}: differs from the spec of the search in {parts} "
                                  f"(hash {spec.hash} vs {m.get('spec_hash')}); start anew with --force")
    else:
        parts.mkdir()
        (parts / "manifest.json").write_text(json.dumps(manifest))
    method = _method(spec)
    frames, evals, gen, success_at, t0 = [], 0, 0, None, time.time()
    replayed = 0
    while evals < spec.budget:
        u = method.ask()
        full = len(u) <= spec.budget - evals
        u = u[: spec.budget - evals]
        gfile = parts / f"gen-{gen:06d}.npz"
        if gfile.exists():
            df = _read_generation(gfile, u, gen, eng)
            replayed += 1
        else:
            df = eng.evaluate(spec.values(u), names=spec.names, index_offset=evals)
            df.insert(0, "candidate", np.arange(len(df), dtype=np.int32))
            df.insert(0, "generation", np.full(len(df), gen, dtype=np.int32))
            obj = spec.objectives(df)
            df["cost"] = spec.cost(df)
            for k in range(obj.shape[1]):
                df[f"objective_{k}"] = obj[:, k]
            _write_generation(gfile, u, df)
        cost = df["cost"].to_numpy()
        if full:
            method.tell(cost, df[[c for c in df.columns if c.startswith("objective_")]].to_numpy())
        frames.append(df)
        evals += len(df)
        if success_at is None and (cost == 0).any():
            success_at = evals - len(df) + int(np.argmax(cost == 0)) + 1
        if not quiet:
            best = min(float(f["cost"].min()) for f in frames)
            print(f"neurosweep search: generation {gen}: {evals}/{spec.budget} evaluations, best cost {best:.4g}"
                  + (" (stored)" if gen < replayed else ""), file=sys.stderr)
        gen += 1
        if success_at is not None and spec.stop_at_success:
            break
    df = pd.concat(frames, ignore_index=True)
    obj = df[[c for c in df.columns if c.startswith("objective_")]].to_numpy()
    df["pareto"] = pareto_mask(obj).astype(np.uint8)
    df["success"] = (df["cost"].to_numpy() == 0).astype(np.uint8)
    summary = {"evaluations": int(evals), "generations": int(gen),
               "success": success_at is not None, "evaluations_to_success": success_at,
               "best_cost": float(df["cost"].min()), "method": spec.method, "seed": spec.seed,
               "wall_s": time.time() - t0, "replayed_generations": replayed}
    _write_result(outp, spec, eng, df, summary)
    _remove_parts(parts)
    return summary


def _write_generation(path: Path, u: np.ndarray, df):
    """One generation, exactly (every column as its array; categoricals as codes)."""
    arrays = {"u": u, "columns": np.array(json.dumps([c for c in df.columns if not c.startswith("spike_times")]))}
    for k, c in enumerate(json.loads(str(arrays["columns"]))):
        v = df[c]
        arrays[f"c{k}"] = v.cat.codes.to_numpy() if hasattr(v, "cat") else v.to_numpy()
    _write_atomic_npz(path, **arrays)


def _read_generation(path: Path, u: np.ndarray, gen: int, eng):
    import pandas as pd
    enums = {c["name"]: c["enum_names"] for c in eng._columns if c["enum_names"]}
    with np.load(path, allow_pickle=False) as z:
        if not np.array_equal(z["u"], u):
            raise RuntimeError(f"{path}: the replayed generation {gen} differs from the stored one "
                               "(another version of cma, deap or numpy?); start anew with --force")
        data = {}
        for k, c in enumerate(json.loads(str(z["columns"]))):
            v = z[f"c{k}"]
            data[c] = pd.Categorical.from_codes(v.astype(np.int64), enums[c]) if c in enums else v
    return pd.DataFrame(data)


def _check_ours(p: Path):
    import h5py
    try:
        with h5py.File(p, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            ok = (fmt == "neurosweep" and "search" in f.attrs) or fmt == LEGACY_FORMAT
    except OSError:
        ok = False
    if not ok or not p.is_file() or p.is_symlink():
        raise FileExistsError(f"{p}: not a neurosweep search result; --force replaces only those")


def _remove_parts(parts: Path):
    for f in parts.iterdir():
        if not (f.name == "manifest.json" or f.name.startswith("gen-")):
            raise FileExistsError(f"{parts}: holds {f.name}, not a search build file; left untouched")
    shutil.rmtree(parts)


# The columns a search adds to the engine's (docs/SEARCH.md, "RESULT.h5").
_SEARCH_COLUMNS = {
    "generation": ("i4", "", "generation of the search that proposed the candidate (0, 1, ...)"),
    "candidate": ("i4", "", "position of the candidate within its generation"),
    "cost": ("f4", "", "default cost: label term + normalised distances outside the target ranges (docs/SEARCH.md)"),
    "pareto": ("u1", "", "1: non-dominated among all evaluated candidates (objectives objective_k)"),
    "success": ("u1", "", "1: cost 0 (every target met)"),
}


def _write_result(outp: Path, spec: SearchSpec, eng: Engine, df, summary):
    """RESULT.h5 as a neurosweep database (docs/FORMAT.md section 1, written by store.write_table):
    one row per evaluated candidate, instance index = evaluation number; the search's own
    columns and the root attribute `search` (summary) added."""
    from . import __version__
    from .store import write_table

    eng_cols = {c["name"]: c for c in eng._columns}
    units = {p["name"]: p["unit"] for p in eng.params}
    cols = [eng_cols["index"]]
    cols += [dict(name=c, dtype=_SEARCH_COLUMNS[c][0], units="", description=_SEARCH_COLUMNS[c][2], enum_names=[])
             for c in ("generation", "candidate")]
    cols += [dict(name=p, dtype="f8", units=units.get(p, ""), description="searched parameter", enum_names=[])
             for p in spec.names]
    cols += [c for c in eng._columns if c["name"] != "index"]
    obj = [c for c in df.columns if c.startswith("objective_")]
    cols += [dict(name="cost", dtype="f4", units="", description=_SEARCH_COLUMNS["cost"][2], enum_names=[])]
    for k, c in enumerate(obj):
        what = (spec.targets[k].feature if spec.targets else "label")
        cols.append(dict(name=c, dtype="f4", units="", enum_names=[],
                         description=f"NSGA-II objective {k}: distance of {what} outside its range + label term"))
    cols += [dict(name=c, dtype="u1", units="", description=_SEARCH_COLUMNS[c][2], enum_names=[])
             for c in ("pareto", "success")]
    data = {}
    for c in cols:
        v = df[c["name"]]
        data[c["name"]] = v.cat.codes.to_numpy() if hasattr(v, "cat") else v.to_numpy()
    from .simulate import _spec_duration_ms
    es = spec.engine_spec
    st = dict({"seed": es.get("seed", 0), "dt_ms": _spec_duration_ms(es, "dt"),
               "transient_ms": _spec_duration_ms(es, "transient") or 0.0,
               "analysis_ms": _spec_duration_ms(es, "analysis"), "precision": es.get("precision", "float"),
               "gating": es.get("gating", "")}, **eng.resolved)  # the engine's resolved values first
    attrs = {"model": eng.model, "seed": int(st["seed"]), "dt_ms": float(st["dt_ms"]),
             "transient_ms": float(st["transient_ms"]), "analysis_ms": float(st["analysis_ms"]),
             "precision": st["precision"], "gating": st["gating"], "backend": eng.backend, "device": eng.device,
             "software_version": __version__, "git_revision": "",
             "initial": _initial_attr(spec.engine_spec.get("initial", "cold")),
             "name": spec.raw.get("name") or outp.stem, "description": spec.raw.get("description", ""),
             "search": json.dumps(dict(summary, params=spec.names, label=spec.label,
                                       targets={t.feature: [t.lo, t.hi] for t in spec.targets}))}
    write_table(str(outp), cols, data, spec=spec.canonical, spec_hash=spec.hash, attrs=attrs)


def _initial_attr(init) -> str:
    """The `initial` root attribute as `neurosweep run` writes it (cold, explicit, thermalized)."""
    if isinstance(init, str):
        return init
    if isinstance(init, dict) and "thermalize" in init:
        return "thermalized"
    return "explicit"


def load_result(path: str):
    """A search result as a DataFrame (one row per evaluated candidate, index = the instance
    index, which is the evaluation number); the summary in df.attrs["summary"]. The file is a
    neurosweep database: ``neurosweep.open(path)`` reads it too (query, plots, explorer)."""
    from .database import Database

    db = Database(path)
    if "search" not in db.attrs:
        raise ValueError(f"{path}: a neurosweep database but not a search result (no root attribute 'search')")
    df = db.to_pandas()
    df.attrs["summary"] = json.loads(db.attrs["search"])
    df.attrs["spec"] = db.spec
    return df


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neurosweep search",
                                 description="Search parameters toward target activity (docs/SEARCH.md).")
    ap.add_argument("spec", help="search spec (JSON: engine settings + a \"search\" section)")
    ap.add_argument("-o", "--out", required=True, help="result file (HDF5)")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted search (OUT.parts/)")
    ap.add_argument("--force", action="store_true", help="replace an existing result or unfinished search")
    ap.add_argument("--backend", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    try:
        s = run_search(a.spec, a.out, resume=a.resume, force=a.force, backend=a.backend, threads=a.threads,
                       quiet=a.quiet)
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError, ImportError) as e:
        print(f"neurosweep search: error: {e}", file=sys.stderr)
        return 2
    if not a.quiet:
        print(json.dumps(s), file=sys.stderr)
    return 0
