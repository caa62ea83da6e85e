"""Re-simulating one instance of a database through the `neurosweep simulate` command.

The database stores the spec (model, dt, durations, precision, gating, fixed parameters) and the
realised value of every swept parameter (float64 columns), so the command line below reproduces
the instance exactly (JSON numbers are written with Python's shortest round-trip repr, which
C++ parses back to the same double).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import h5py
import numpy as np

from .database import _py
from .errors import SimulateError

_HERE = os.path.dirname(os.path.abspath(__file__))


def find_binary(binary: Optional[str] = None) -> str:
    """Path of the `neurosweep` executable: `binary`, else $NEUROSWEEP_BIN, else `neurosweep` on
    PATH, else ./build/neurosweep, else build/neurosweep of the repository this package lives in
    (editable installs)."""
    cands = []
    if binary:
        cands.append(binary)
    elif os.environ.get("NEUROSWEEP_BIN"):
        cands.append(os.environ["NEUROSWEEP_BIN"])
    else:
        w = shutil.which("neurosweep")
        if w:
            cands.append(w)
        cands.append(os.path.join(os.getcwd(), "build", "neurosweep"))
        cands.append(os.path.join(os.path.dirname(os.path.dirname(_HERE)), "build", "neurosweep"))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise SimulateError(
        "cannot find the neurosweep executable (tried " + ", ".join(cands) +
        "); build it (cmake --build build) or set NEUROSWEEP_BIN=/path/to/neurosweep")


def _run(cmd: List[str], what: str) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise SimulateError(f"{what}: cannot run {cmd[0]}: {e}") from e
    if p.returncode != 0:
        raise SimulateError(f"{what}: `{' '.join(cmd)}` failed (exit {p.returncode}): "
                            f"{p.stderr.strip() or p.stdout.strip()}")
    return p


_PARAMS_CACHE: Dict[Tuple[str, str], Dict[str, float]] = {}


def model_defaults(model: str, binary: Optional[str] = None) -> Dict[str, float]:
    """Every parameter of `model` with its default value, as `neurosweep simulate` reports it."""
    exe = find_binary(binary)
    key = (exe, model)
    if key not in _PARAMS_CACHE:
        p = _run([exe, "simulate", "--model", model, "--dt", "0.05", "--duration", "0.05",
                  "--transient", "0"], f"model '{model}'")
        try:
            _PARAMS_CACHE[key] = {k: float(v) for k, v in json.loads(p.stdout.splitlines()[-1])["params"].items()}
        except (ValueError, KeyError, IndexError) as e:
            raise SimulateError(f"cannot read the parameters of model '{model}' from "
                                f"`neurosweep simulate`: {e}") from e
    return dict(_PARAMS_CACHE[key])


@dataclass
class Trace:
    """A re-simulated trace. `t` in ms from the start of the analysis window (negative during the
    transient, when it was kept); `values[name]` per state variable; `units[name]`."""

    instance: int
    t: np.ndarray
    values: Dict[str, np.ndarray]
    units: Dict[str, str]
    params: Dict[str, float]
    settings: dict
    command: List[str]

    @property
    def spike_times(self) -> List[np.ndarray]:
        """Spike times (ms from the start of the analysis window) per observed cell, as the
        simulate command detected them."""
        return [np.asarray(c.get("spike_times_ms", []), dtype=np.float64)
                for c in self.settings.get("observed", [])]


def _spec_duration_ms(spec: dict, key: str) -> Optional[float]:
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, dict):
        val, unit = float(v["value"]), v["unit"]
    else:
        m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*(ms|s)\s*", str(v))
        if not m:
            return None
        val, unit = float(m.group(1)), m.group(2)
    return val * (1000.0 if unit == "s" else 1.0)


def settings_of(db) -> Dict[str, object]:
    """dt, transient, analysis (ms), precision, gating and model of the build, from the caller
    attributes of `neurosweep run` (falling back to the spec and its documented defaults)."""
    a, s = db.attrs, db.spec
    def pick(attr, spec_key, default=None):
        if attr in a and a[attr] != "":
            return a[attr]
        v = _spec_duration_ms(s, spec_key) if spec_key in ("dt", "transient", "analysis") else s.get(spec_key)
        return default if v is None else v
    return {
        "model": pick("model", "model"),
        "dt_ms": float(pick("dt_ms", "dt")),
        "transient_ms": float(pick("transient_ms", "transient", 0.0)),
        "analysis_ms": float(pick("analysis_ms", "analysis")),
        "precision": str(pick("precision", "precision", "float")),
        "gating": str(pick("gating", "gating", "")),
    }


def resimulate(db, i: int, binary: Optional[str] = None, every_ms: Optional[float] = None,
               keep_transient: bool = False) -> Trace:
    """Re-run instance i of `db` through `neurosweep simulate` with the exact parameters and
    settings of the build; returns the state trace of the analysis window (and of the transient
    with keep_transient)."""
    exe = find_binary(binary)
    st = settings_of(db)
    init = db.spec.get("initial", "cold")
    start_axis = any(isinstance(a, dict) and "starts" in a for a in db.spec.get("axes", []))
    by_spec = (getattr(db, "circuit", None) is not None or start_axis or
               (isinstance(init, dict) and ("thermalize" in init or "from_database" not in init)))
    if by_spec and "parameter_file" not in db.spec:
        return _resimulate_spec(db, i, exe, st, every_ms, keep_transient)
    if init not in (None, "cold"):
        raise SimulateError(
            f"{db.path}: instance {i} starts from initial state {json.dumps(init)[:80]}; "
            f"`neurosweep simulate` starts cold, so it cannot reproduce this instance")
    defaults = model_defaults(st["model"], exe)
    params = db.params_of(i, model_params=defaults.keys())
    # Poisson input (the point models' rate_ex / rate_in, include/neurosweep/point/inputs.hpp) is
    # keyed by the spec's seed and the instance index: only `simulate --spec --instance i` draws
    # instance i's spike trains (plain `simulate` uses seed and index 0).
    if any(float(params.get(k, 0.0) or 0.0) > 0.0 for k in ("rate_ex", "rate_in")):
        if "parameter_file" in db.spec:
            raise SimulateError(
                f"{db.path}: instance {i} has Poisson input (rate_ex/rate_in) and the spec has a "
                f"parameter_file; `neurosweep simulate` cannot reproduce its random input")
        return _resimulate_spec(db, i, exe, st, every_ms, keep_transient)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SimulateError(f"{db.path}: parameters {unknown} are not parameters of model "
                            f"'{st['model']}' according to {exe}")
    dt = st["dt_ms"]
    every = dt if every_ms is None else max(dt, round(every_ms / dt) * dt)
    with tempfile.TemporaryDirectory(prefix="neurosweep-trace-") as tmp:
        pfile = os.path.join(tmp, "params.json")
        out = os.path.join(tmp, "trace.h5")
        with open(pfile, "w") as fh:
            json.dump(params, fh)  # repr of each float: exact round trip
        cmd = [exe, "simulate", "--model", st["model"], "--params", pfile,
               "--dt", repr(dt), "--transient", repr(st["transient_ms"]),
               "--duration", repr(st["analysis_ms"]), "--every", repr(every),
               "--precision", st["precision"], "-o", out]
        if st["gating"]:
            cmd += ["--gating", st["gating"]]
        _run(cmd, f"{db.path}: re-simulating instance {i}")
        with h5py.File(out, "r") as f:
            settings = json.loads(_py(f.attrs["settings"]))
            data = {k: f[k][:] for k in f.keys()}
            units = {k: str(_py(f[k].attrs.get("units", ""))) for k in f.keys()}
    t = data.pop("t") - st["transient_ms"]
    keep = slice(None) if keep_transient else (t >= -1e-9 * max(1.0, st["transient_ms"]))
    values = {k: v[keep] for k, v in data.items()}
    # simulate's own command line, with the parameter file spelled out for the record
    shown = cmd[:cmd.index("--params")] + [a for k, v in params.items() for a in ("-p", f"{k}={v!r}")] \
        + cmd[cmd.index("--params") + 2:-2]
    return Trace(int(i), t[keep], values, {k: units[k] for k in values}, params, settings, shown)


def _resimulate_spec(db, i: int, exe: str, st: Dict[str, object], every_ms: Optional[float],
                     keep_transient: bool) -> Trace:
    """Circuit objects, thermalised and explicit starts, start axes: `neurosweep simulate --spec SPEC
    --instance i` with the build's own spec (stored in the database), which expands instance i,
    its initial state and the settings exactly as `neurosweep run` did."""
    dt = float(st["dt_ms"])
    every = dt if every_ms is None else max(dt, round(every_ms / dt) * dt)
    with tempfile.TemporaryDirectory(prefix="neurosweep-trace-") as tmp:
        sfile = os.path.join(tmp, "spec.json")
        out = os.path.join(tmp, "trace.h5")
        with open(sfile, "w") as fh:
            json.dump(db.spec, fh)
        cmd = [exe, "simulate", "--spec", sfile, "--instance", str(int(i)), "--every", repr(every), "-o", out]
        _run(cmd, f"{db.path}: re-simulating instance {i}")
        with h5py.File(out, "r") as f:
            settings = json.loads(_py(f.attrs["settings"]))
            data = {k: f[k][:] for k in f.keys()}
            units = {k: str(_py(f[k].attrs.get("units", ""))) for k in f.keys()}
    params = {k: float(v) for k, v in settings.get("params", {}).items()}
    t = data.pop("t") - float(st["transient_ms"])
    keep = slice(None) if keep_transient else (t >= -1e-9 * max(1.0, float(st["transient_ms"])))
    values = {k: v[keep] for k, v in data.items()}
    shown = [exe, "simulate", "--spec", "<the database's spec>", "--instance", str(int(i)), "--every", repr(every)]
    return Trace(int(i), t[keep], values, {k: units[k] for k in values}, params, settings, shown)
