"""`python -m neurosweep search` (python/neurosweep/search.py): determinism by seed, resume after
SIGKILL equal to an uninterrupted search, the NSGA-II Pareto set checked by brute force, the
default cost against its definition, and errors naming file, key and value."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import neurosweep
from neurosweep import search as S

from test_engine import HAVE_ENGINE, WHY  # the extension found (a failure under CI when not)

pytestmark = pytest.mark.skipif(not HAVE_ENGINE, reason=WHY)

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(neurosweep.__file__)))

IAF = {"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "100 ms", "analysis": "1000 ms",
       "classifier": {"slowest_period_ms": 200}}


def spec_file(tmp_path, search, base=IAF, name="s.json"):
    p = tmp_path / name
    p.write_text(json.dumps(dict(base, search=search)))
    return str(p)


def cli(*args, wait=True):
    env = dict(os.environ, PYTHONPATH=PKG_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "neurosweep", "search", *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def frames_equal(a, b):
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        x, y = a[c], b[c]
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.astype(str)) == list(y.astype(str)), c
        else:
            x, y = x.to_numpy(), y.to_numpy()
            assert x.dtype == y.dtype, c
            eq = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
            assert eq.all(), c


CMA = {"params": {"I_e": [0, 1000], "tau_m": {"low": 2, "high": 40, "scale": "log"}},
       "targets": {"label": "tonic", "rate_hz": {"value": 50, "tol": 2}, "isi_cv": [0, 0.1]},
       "method": "cma", "budget": 96, "population": 8, "stop_at_success": False}


def test_cma_search_is_deterministic_by_seed_and_reaches_the_target(tmp_path):
    s = spec_file(tmp_path, dict(CMA, seed=4))
    outs = []
    for k in range(2):
        out = str(tmp_path / f"r{k}.h5")
        assert S.run_search(s, out, quiet=True, backend="cpu")["evaluations"] == 96
        outs.append(S.load_result(out))
    frames_equal(outs[0], outs[1])
    df = outs[0]
    assert list(df.generation.unique()) == list(range(12)) and (df.groupby("generation").size() == 8).all()
    assert df.success.sum() >= 1
    ok = df[df.success == 1]
    assert (ok.label == "tonic").all() and ok.rate_hz.between(48, 52).all() and (ok.isi_cv <= 0.1).all()
    assert (df.I_e.between(0, 1000) & df.tau_m.between(2, 40)).all()
    s2 = spec_file(tmp_path, dict(CMA, seed=5), name="s2.json")
    S.run_search(s2, str(tmp_path / "r2.h5"), quiet=True, backend="cpu")
    assert not np.array_equal(S.load_result(str(tmp_path / "r2.h5")).I_e, df.I_e)


def test_default_cost_is_the_documented_sum():
    spec = S.SearchSpec(dict(IAF, search=CMA), "<t>")
    df = pd.DataFrame({"status": pd.Categorical(["ok", "ok", "ok", "diverged"]),
                       "label": pd.Categorical(["tonic", "tonic", "bursting", "tonic"]),
                       "rate_hz": [50.0, 55.0, 46.0, np.nan], "isi_cv": [0.05, 0.2, np.nan, 0.0]})
    # rate 50 +- 2 (half-width 2), isi_cv [0, 0.1] (half-width 0.05); label 10; missing 10
    np.testing.assert_allclose(spec.cost(df), [0.0, 1.5 + 2.0, 10 + 1.0 + 10, 10 + 10 + 0.0])
    np.testing.assert_allclose(spec.objectives(df), [[0, 0], [1.5, 2.0], [11, 20], [20, 10]])


def test_nsga2_returns_the_pareto_set_of_all_candidates(tmp_path):
    spec = {"params": {"I_e": [200, 1000], "tau_m": [2, 40]},
            "targets": {"rate_hz": {"value": 60, "tol": 1}, "latency_ms": {"value": 40, "tol": 1}},
            "method": "nsga2", "budget": 96, "population": 16, "seed": 2, "stop_at_success": False}
    s = spec_file(tmp_path, spec)
    out = str(tmp_path / "n.h5")
    S.run_search(s, out, quiet=True, backend="cpu")
    df = S.load_result(out)
    assert len(df) == 96 and df.generation.max() == 5
    obj = df[["objective_0", "objective_1"]].to_numpy()
    for i in range(len(df)):  # brute force: pareto == not dominated by any other candidate
        dominated = bool(np.any(np.all(obj <= obj[i], axis=1) & np.any(obj < obj[i], axis=1)))
        assert df.pareto[i] == (0 if dominated else 1), i
    assert 1 <= df.pareto.sum() < len(df)
    # the objectives conflict in part: the front improves on the first generation
    first = df[df.generation == 0][["objective_0", "objective_1"]].sum(axis=1).min()
    assert df[df.pareto == 1][["objective_0", "objective_1"]].sum(axis=1).min() <= first
    S.run_search(s, str(tmp_path / "n2.h5"), quiet=True, backend="cpu")
    frames_equal(df, S.load_result(str(tmp_path / "n2.h5")))


def test_resume_after_sigkill_equals_an_uninterrupted_search(tmp_path):
    stg = {"model": "stg", "dt": "0.05 ms", "transient": "2 s", "analysis": "10 s",
           "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0}}
    search = {"params": {"gCaS": [0, 12], "gKd": [20, 130]},
              "targets": {"label": "bursting", "burst_period_ms": {"value": 1000, "tol": 20}},
              "method": "cma", "budget": 640, "population": 64, "seed": 7, "stop_at_success": False}
    s = spec_file(tmp_path, search, base=stg)
    ref = str(tmp_path / "ref.h5")
    assert cli(s, "-o", ref, "-q", "--threads", "1", "--backend", "cpu").returncode == 0
    out = str(tmp_path / "k.h5")
    parts = tmp_path / "k.h5.parts"
    p = cli(s, "-o", out, "-q", "--threads", "1", "--backend", "cpu", wait=False)
    t0 = time.time()
    while time.time() - t0 < 60 and len(list(parts.glob("gen-*.npz"))) < 3 and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    stored = len(list(parts.glob("gen-*.npz")))
    assert p.returncode == -signal.SIGKILL and 3 <= stored < 10, f"killed with {stored} generations stored"
    assert not os.path.exists(out)
    r = cli(s, "-o", out, "-q", "--threads", "1", "--backend", "cpu")
    assert r.returncode == 2 and "--resume" in r.stderr
    r = cli(s, "-o", out, "--resume", "--threads", "1", "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    assert "(stored)" in r.stderr
    frames_equal(S.load_result(out), S.load_result(ref))
    assert S.load_result(out).attrs["summary"]["replayed_generations"] == stored
    assert not parts.exists()


@pytest.mark.parametrize("search,message", [
    ({"params": {"I_e": [5, 1]}, "targets": {"rate_hz": [1, 2]}}, r"search.params.I_e: got \[5, 1\]; expected low < high"),
    ({"params": {"I_e": {"low": 0, "high": 1, "scale": "log"}}, "targets": {"rate_hz": [1, 2]}},
     r"search.params.I_e.low: got 0; expected > 0 for a log scale"),
    ({"params": {"I_e": [0, 1]}, "targets": {"rate_hz": {"value": 1}}}, r"search.targets.rate_hz: got \{\"value\": 1\}"),
    ({"params": {"I_e": [0, 1]}, "targets": {"rate_hz": [1, 2]}, "method": "pso"}, r"search.method: got \"pso\""),
    ({"params": {"I_e": [0, 1]}, "targets": {"rate_hz": [1, 2]}, "budget": 0}, r"search.budget: got 0"),
    ({"params": {"I_e": [0, 1]}, "targets": {"rate_hz": [1, 2]}, "budgett": 5}, r"search.budgett: got 5; expected one of"),
    ({"params": {"I_ee": [0, 1]}, "targets": {"rate_hz": [1, 2]}}, r"search.params.I_ee: not a parameter of model iaf_psc_exp"),
    ({"params": {"I_e": [0, 1]}, "targets": {"rate": [1, 2]}}, r"search.targets.rate: not a feature of the classifier; valid: .*rate_hz"),
    ({"params": {"I_e": [0, 1]}, "targets": {"label": "bursty"}}, r"search.targets.label: got \"bursty\"; expected one of .*tonic"),
    ({"params": {"C_m": [-1, 1]}, "targets": {"rate_hz": [1, 2]}}, r"C_m.*out of bounds"),
])
def test_errors_name_file_key_and_value(tmp_path, search, message):
    s = spec_file(tmp_path, search)
    with pytest.raises(ValueError, match=message) as e:
        S.run_search(s, str(tmp_path / "e.h5"), quiet=True, backend="cpu")
    assert "s.json" in str(e.value) or "row" in str(e.value)


def test_refuses_existing_output_and_changed_spec_on_resume(tmp_path):
    s = spec_file(tmp_path, dict(CMA, budget=16, seed=1))
    out = str(tmp_path / "o.h5")
    S.run_search(s, out, quiet=True, backend="cpu")
    with pytest.raises(FileExistsError, match="--force"):
        S.run_search(s, out, quiet=True, backend="cpu")
    S.run_search(s, out, quiet=True, backend="cpu", force=True)
    foreign = tmp_path / "foreign.h5"
    foreign.write_text("not mine")
    with pytest.raises(FileExistsError, match="not a neurosweep search result"):
        S.run_search(s, str(foreign), quiet=True, backend="cpu", force=True)
    assert foreign.read_text() == "not mine"
    parts = tmp_path / "p.h5.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"spec_hash": "0000"}))
    with pytest.raises(ValueError, match="differs from the spec of the search"):
        S.run_search(s, str(tmp_path / "p.h5"), resume=True, quiet=True, backend="cpu")


def test_search_result_is_a_database(tmp_path, binary):
    """RESULT.h5 is a neurosweep database (docs/FORMAT.md): neurosweep.open, `neurosweep info` and
    `neurosweep query` (the C++ reader) read every candidate with its generation, cost,
    objectives, label and features; plot_map draws the candidates as points; the explorer's data
    layer aggregates them; the instance re-simulated from the file has the stored spike count."""
    from conftest import run_cli

    import neurosweep as ns
    s = spec_file(tmp_path, dict(CMA, budget=32, seed=3))
    out = str(tmp_path / "r.h5")
    summary = S.run_search(s, out, quiet=True, backend="cpu")
    db = ns.open(out)
    assert db.state == "complete" and db.n_rows == 32 and not db.is_grid
    df = db.to_pandas()
    res = S.load_result(out)
    frames_equal(df, res)
    assert res.attrs["summary"]["evaluations"] == 32 and res.attrs["summary"]["params"] == ["I_e", "tau_m"]
    assert df.index.tolist() == df["index"].tolist() == list(range(32))  # instance = evaluation number
    assert df.generation.tolist() == [k // 8 for k in range(32)] and df.candidate.tolist() == [k % 8 for k in range(32)]
    for c in ("I_e", "tau_m", "label", "status", "rate_hz", "cost", "objective_0", "objective_1", "pareto", "success"):
        assert c in df.columns, c
    assert db.units["I_e"] == "pA" and db.units["rate_hz"] == "Hz"
    # the cost stored (float32) is the documented cost of the stored features
    spec = S.load_search_spec(s)
    np.testing.assert_allclose(df.cost.to_numpy(), spec.cost(df).astype(np.float32), rtol=0)
    assert (df.success == (df.cost == 0)).all() and bool(df.success.sum()) == summary["success"]
    # the C++ reader: info counts, query rows equal the DataFrame's
    info = run_cli(binary, "info", out).stdout
    assert "instances:  32" in info and f"tonic: {int((df.label == 'tonic').sum())} " in info
    rows = json.loads(run_cli(binary, "query", out, "--where", "label == tonic and generation >= 1",
                              "--format", "json").stdout)
    want = df[(df.label == "tonic") & (df.generation >= 1)]
    assert [r["index"] for r in rows] == want.index.tolist()
    assert [r["cost"] for r in rows] == pytest.approx(want.cost.tolist(), rel=1e-6)
    assert [r["I_e"] for r in rows] == want.I_e.tolist()
    # plot: every candidate a point
    fig = ns.plot_map(db, "I_e", "tau_m", out=str(tmp_path / "m.png"))
    pts = sum(len(c.get_offsets()) for c in fig.axes[0].collections[:-1] if hasattr(c, "get_offsets"))
    assert pts == 32 and os.path.getsize(tmp_path / "m.png") > 5000
    # the explorer's data layer: a density over the two parameters counts every candidate
    pytest.importorskip("datashader")
    from neurosweep.explorer.data import ExplorerData
    d = ExplorerData(db, binary, cache_root=str(tmp_path / "cache"))
    assert not d.grid and d.params == ["I_e", "tau_m"]
    agg, _, _ = d.density("I_e", "tau_m", "label", d.select(""), 40, 40)
    assert int(agg.values.sum()) == 32
    assert d.select("success == 1").index.tolist() == df.index[df.success == 1].tolist()
    assert "search" not in d.selection_spec(df.reset_index(), "")
    # an instance re-simulated with the file's settings: its spike count is the stored one
    i = int(df.index[df.label == "tonic"][0])
    tr = ns.resimulate(db, i)
    assert int(tr.values["spike"].sum()) == int(df.n_spikes[i])
