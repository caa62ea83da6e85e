"""neurosweep.Engine: the engine of `neurosweep run` in memory (python/neurosweep/engine.py,
host/run/evaluate.hpp). Checked against databases built by the real `neurosweep run` (value
equality, spike times included), for batch-split determinism with random (Poisson) input, for its
errors, for releasing the GIL, and driven by real optimisers (cma, optuna)."""
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest

import neurosweep as ns

from conftest import SPECS

try:
    from neurosweep.engine import _load_extension
    _load_extension()
    HAVE_ENGINE, WHY = True, ""
except ImportError as e:  # pragma: no cover - reported as a skip
    HAVE_ENGINE, WHY = False, str(e)

if not HAVE_ENGINE and os.environ.get("CI"):  # CI builds the extension: a skip there would hide a failure
    raise RuntimeError("CI: the compiled engine neurosweep._engine is missing: " + WHY)
pytestmark = pytest.mark.skipif(not HAVE_ENGINE, reason=WHY)

# Poisson input keyed by (seed, instance index, step): a row's result depends on its index.
NOISY = dict(model="iaf_psc_exp", dt=0.1, transient=0, analysis=500, seed=11,
             fixed={"rate_ex": 8000.0, "weight_ex": 30.0}, classifier={"slowest_period_ms": 100})
# DC input, a fast target for the optimisers: firing rate as a function of I_e and tau_m.
DC = dict(model="iaf_psc_exp", dt=0.1, transient=100, analysis=1000, classifier={"slowest_period_ms": 200})


def same(a, b):
    """Equal values, NaN equal to NaN (arrays), categoricals by their names."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc":
        return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return a.shape == b.shape and bool(np.all(a == b))


def test_same_values_as_neurosweep_run(grid2):
    db = ns.open(grid2)
    ref = db.to_pandas()
    eng = ns.Engine(spec=os.path.join(SPECS, "grid2.json"), backend="cpu", spikes=64)
    got = eng.evaluate(ref[["gCaS", "gKd"]].reset_index(drop=True))
    assert len(got) == 16
    checked = 0
    for c in eng.columns:
        if c == "index":
            continue
        assert c in ref.columns, c
        if isinstance(ref[c].dtype, pd.CategoricalDtype):
            assert list(got[c].astype(str)) == list(ref[c].astype(str)), c
        else:
            assert same(got[c].to_numpy(), ref[c].to_numpy()), c
        checked += 1
    assert checked >= 10
    assert got.label.nunique() >= 2  # more than one kind of activity compared
    for i in range(16):
        assert same(got.spike_times[i], db.spikes(i)), f"spike times of instance {i}"
    assert sum(len(t) for t in got.spike_times) > 100


def test_inputs_dict_dataframe_array_agree_and_batch_split_is_deterministic():
    eng = ns.Engine(**NOISY, backend="cpu", spikes=100)
    ie = np.linspace(0.0, 400.0, 10)
    whole = eng.evaluate({"I_e": ie, "tau_m": np.full(10, 10.0)}, index_offset=1000)
    as_df = eng.evaluate(pd.DataFrame({"I_e": ie, "tau_m": 10.0}), index_offset=1000)
    as_arr = eng.evaluate(np.column_stack([ie, np.full(10, 10.0)]), names=["I_e", "tau_m"], index_offset=1000)
    for other in (as_df, as_arr):
        assert same(other.rate_hz, whole.rate_hz) and same(other.isi_cv, whole.isi_cv)
    parts = [eng.evaluate({"I_e": ie[:3]}, index_offset=1000), eng.evaluate({"I_e": ie[3:]}, index_offset=1003)]
    split = pd.concat(parts, ignore_index=True)
    assert same(split.rate_hz, whole.rate_hz)
    assert all(same(a, b) for a, b in zip(split.spike_times, whole.spike_times))
    assert list(split["index"]) == list(range(1000, 1010))
    shuffled = np.random.default_rng(0).permutation(10)
    sh = eng.evaluate({"I_e": ie[shuffled]}, index=1000 + shuffled)
    assert same(sh.rate_hz, whole.rate_hz.to_numpy()[shuffled])
    # The input is random: other indices give other trains (the checks above can fail).
    other = eng.evaluate({"I_e": ie}, index_offset=0)
    assert np.count_nonzero(other.rate_hz.to_numpy() != whole.rate_hz.to_numpy()) >= 5
    # A DataFrame's index is kept.
    assert list(eng.evaluate(pd.DataFrame({"I_e": [1.0, 2.0]}, index=[7, 3])).index) == [7, 3]


def test_errors_name_the_problem():
    eng = ns.Engine(**DC, backend="cpu")
    with pytest.raises(ValueError, match=r"'I_ee': not a parameter of model iaf_psc_exp; valid: .*I_e"):
        eng.evaluate({"I_ee": [1.0]})
    with pytest.raises(ValueError, match=r"'C_m', row 1: value -5 is out of bounds: C_m > 0"):
        eng.evaluate({"C_m": [250.0, -5.0]})
    with pytest.raises(ValueError, match=r"different lengths: I_e: 2, tau_m: 3"):
        eng.evaluate({"I_e": [1.0, 2.0], "tau_m": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"3 columns for 2 names"):
        eng.evaluate(np.zeros((4, 3)), names=["I_e", "tau_m"])
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2\)"):
        eng.evaluate(np.zeros((2, 2, 2)), names=["I_e", "tau_m"])
    with pytest.raises(TypeError, match=r"needs names="):
        eng.evaluate(np.zeros((4, 2)))
    with pytest.raises(TypeError, match=r"'I_e' is not numeric"):
        eng.evaluate({"I_e": ["a", "b"]})
    with pytest.raises(ValueError, match=r"index has shape"):
        eng.evaluate({"I_e": [1.0, 2.0]}, index=[1])
    with pytest.raises(TypeError, match=r"unknown setting\(s\) dtt"):
        ns.Engine(model="stg", dtt=0.05)
    with pytest.raises(ValueError, match=r"unknown model|model"):
        ns.Engine(model="nope", analysis=1000)
    with pytest.raises(ValueError, match=r"shorter than the classifier needs"):
        ns.Engine(model="stg", analysis=200)
    # nothing ran: a good call afterwards works
    assert eng.evaluate({"I_e": [0.0]}).label[0] == "silent"


def test_gil_is_released():
    eng = ns.Engine(model="stg", dt=0.05, transient=0, analysis=10000, backend="cpu", threads=1,
                    classifier={"slowest_period_ms": 2500})
    params = {"gKd": np.linspace(20, 120, 400)}
    t0 = time.perf_counter()
    eng.evaluate(params)
    alone = time.perf_counter() - t0
    box = {}
    th = threading.Thread(target=lambda: box.setdefault("df", eng.evaluate(params)))
    ticks = 0
    th.start()
    t0 = time.perf_counter()
    while th.is_alive():
        ticks += 1
    during = time.perf_counter() - t0
    th.join()
    assert len(box["df"]) == 400
    # With the GIL held the loop could not run while evaluate() integrates (>= 0.1 s here).
    assert alone > 0.1 and during > 0.5 * alone
    assert ticks > 20000, f"main thread ran {ticks} loop iterations in {during:.2f} s"


def test_cma_reaches_a_firing_rate_target():
    cma = pytest.importorskip("cma")
    eng = ns.Engine(**DC, backend="cpu")
    lo, hi = np.array([0.0, 5.0]), np.array([1000.0, 30.0])  # I_e (pA), tau_m (ms)

    def cost(x):
        df = eng.evaluate(lo + np.clip(np.asarray(x), 0, 1) * (hi - lo), names=["I_e", "tau_m"])
        return list(np.maximum(0.0, np.abs(df.rate_hz.to_numpy() - 50.0) - 2.0))  # 50 +- 2 Hz

    es = cma.CMAEvolutionStrategy([0.2, 0.2], 0.3, {"bounds": [0, 1], "seed": 5, "popsize": 8, "verbose": -9})
    best, evals = np.inf, 0
    while not es.stop() and evals < 400 and best > 0:
        xs = es.ask()
        c = cost(np.array(xs))
        evals += len(xs)
        es.tell(xs, c)
        best = min(best, min(c))
    assert best == 0.0, f"cma did not reach 50 +- 2 Hz in {evals} evaluations (best distance {best})"
    x = lo + np.clip(es.result.xbest, 0, 1) * (hi - lo)
    rate = eng.evaluate({"I_e": [x[0]], "tau_m": [x[1]]}).rate_hz[0]
    assert 48.0 <= rate <= 52.0


def test_optuna_tpe_reaches_a_firing_rate_target():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    eng = ns.Engine(**DC, backend="cpu")

    def objective(trial):
        df = eng.evaluate({"I_e": [trial.suggest_float("I_e", 0.0, 1000.0)],
                           "tau_m": [trial.suggest_float("tau_m", 5.0, 30.0)]})
        return float(max(0.0, abs(df.rate_hz[0] - 30.0) - 2.0))  # 30 +- 2 Hz

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    study.optimize(objective, n_trials=80, callbacks=[lambda s, t: s.stop() if s.best_value == 0.0 else None])
    assert study.best_value == 0.0, f"TPE best distance {study.best_value} after {len(study.trials)} trials"
    rate = eng.evaluate(study.best_params).rate_hz[0]
    assert 28.0 <= rate <= 32.0


# ---- one row's trace in memory; rate series ----------------------------------------------------
def test_trace_equals_neurosweep_simulate_and_feeds_the_explorer(binary, tmp_path):
    """Engine.trace (in memory, Evaluator::trace) = `neurosweep simulate`'s trace through
    ns.resimulate (another process, an HDF5 file in between), bit for bit, for an STG neuron of a
    database; the explorer's instance panel takes the in-process path when the engine is there."""
    import json

    from conftest import run_cli
    from neurosweep.explorer.data import ExplorerData

    spec = {"model": "stg", "dt": "0.05 ms", "transient": "500 ms", "analysis": "2 s", "seed": 3,
            "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
            "axes": [{"kind": "linked", "name": "k", "params": {"gCaS": [4.0, 8.0], "gKd": [50.0, 100.0]}}],
            "classifier": {"slowest_period_ms": 500}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    db_path = str(tmp_path / "s.h5")
    run_cli(binary, "run", str(tmp_path / "s.json"), "-o", db_path, "-q")
    db = ns.open(db_path)
    d = ExplorerData(db, binary)
    assert d.engine() is not None, d.engine_error
    for i in (0, 1):
        mine = d.trace(i, every_ms=0.5)
        ref = ns.resimulate(db, i, binary=binary, every_ms=0.5)
        assert mine.command == ["neurosweep.Engine.trace"] and ref.command[1] == "simulate"
        assert np.array_equal(mine.t, ref.t) and mine.t[0] == 0.0 and len(mine.t) == 4001
        assert sorted(mine.values) == sorted(ref.values)
        for k in ref.values:
            assert np.array_equal(mine.values[k], ref.values[k]), k
        assert mine.units == ref.units
    # the transient kept: t from -500 ms
    full = d.engine().trace({"gCaS": 4.0, "gKd": 50.0}, every_ms=0.5, keep_transient=True)
    assert full.t[0] == -500.0 and len(full.t) == 5001
    np.testing.assert_array_equal(full.values["V"][1000:], d.trace(0, every_ms=0.5).values["V"])
    with pytest.raises(ValueError, match="gFoo"):
        d.engine().trace({"gFoo": 1.0})


def test_stored_traces_of_poisson_instances_are_their_own(binary, tmp_path):
    """run's trace pass and `neurosweep simulate --spec --instance i` key the Poisson input by the
    instance index i, as the build did (they used key 0 before): the stored /traces/i shows
    instance i's stored spike count n_spikes (exact: same generator, same steps; the trace is
    sampled every step so no spike flag is skipped), and ns.resimulate(db, i) -- which goes
    through `simulate --spec --instance i` for Poisson-driven instances -- equals it bit for bit."""
    import json

    from conftest import run_cli

    spec = {"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "20 ms", "analysis": "400 ms", "seed": 5,
            "fixed": {"rate_ex": 8000.0, "weight_ex": 30.0}, "classifier": {"slowest_period_ms": 100},
            "axes": [{"kind": "list", "param": "I_e", "values": [0.0, 0.0, 0.0, 0.0, 0.0]}],
            "output": {"traces": {"instances": [0, 1, 2, 3, 4], "every": "0.1 ms"}}}
    (tmp_path / "p.json").write_text(json.dumps(spec))
    db_path = str(tmp_path / "p.h5")
    run_cli(binary, "run", str(tmp_path / "p.json"), "-o", db_path, "-q")
    db = ns.open(db_path)
    stored = db.to_pandas()["n_spikes"].to_numpy()
    assert len(set(stored.tolist())) > 1 and stored.min() > 0  # noise differs per instance
    counts = []
    for i in range(5):
        tr = db.stored_trace(i)
        flag = [k for k in tr if k.startswith("spike")]
        assert len(flag) == 1, sorted(tr)
        counts.append(int(np.asarray(tr[flag[0]][0]).sum()))
        ref = ns.resimulate(db, i, binary=binary, every_ms=0.1)
        assert ref.command[2] == "--spec", ref.command
        assert np.array_equal(ref.t, tr["t"][0]), i
        for k in ref.values:
            assert np.array_equal(ref.values[k], tr[k][0]), (i, k)
    assert counts == stored.tolist()


def _rate_model():
    """A registered model with population rate series (networks, population models), or None."""
    try:
        names = [m["name"] for m in ns.models()]
    except ns.NeurosweepError:
        return None
    for name in names:
        try:
            eng = ns.Engine(model=name, dt=0.1, transient=0, analysis=200, backend="cpu")
        except (ValueError, RuntimeError, TypeError):
            continue
        if eng.rate_series:
            return name, eng
    return None


def test_evaluate_rates_equal_the_database_rates(binary, tmp_path):
    """evaluate(rates=True) returns what `neurosweep run` stores in /rates: Database.rates() of a
    database built from the same instances equals it value for value, with the same dims,
    coordinates and attributes; the bin width follows output.rate_bin."""
    import json

    from conftest import run_cli

    found = _rate_model()
    if found is None:
        pytest.skip("no registered model has population rate series yet (networks, population models)")
    name, eng = found
    info = ns.model_info(name)
    p = next(q for q in info["parameters"] if not q["integer"] and q["default"] not in (None, 0))
    vals = [p["default"] * f for f in (1.0, 0.97, 1.03)]
    try:
        eng.check({p["name"]: vals})
    except ValueError:
        vals = [p["default"]] * 3
    spec = {"model": name, "dt": "0.1 ms", "transient": "0 ms", "analysis": "200 ms", "seed": 5,
            "axes": [{"kind": "list", "param": p["name"], "values": vals}], "output": {"rate_bin": "2 ms"}}
    (tmp_path / "r.json").write_text(json.dumps(spec))
    db_path = str(tmp_path / "r.h5")
    run_cli(binary, "run", str(tmp_path / "r.json"), "-o", db_path, "-q")
    want = ns.open(db_path).rates()
    eng = ns.Engine(spec=str(tmp_path / "r.json"), backend="cpu")
    df, got = eng.evaluate({p["name"]: vals}, rates=True)
    assert got.dims == want.dims and got.shape == want.shape and got.attrs == want.attrs
    assert got.attrs["bin_ms"] == 2.0 and got.sizes["time"] == 100
    for c in want.coords:
        np.testing.assert_array_equal(got.coords[c].values, want.coords[c].values)
    np.testing.assert_array_equal(got.values, want.values)
    assert float(np.abs(got.values).sum()) > 0  # something fired


def test_rates_refused_for_a_model_without_rate_series():
    eng = ns.Engine(**DC, backend="cpu")
    assert eng.rate_series == []
    with pytest.raises(ValueError, match="no population rate series"):
        eng.evaluate({"I_e": [400.0]}, rates=True)


def test_trace_of_a_noisy_instance_is_keyed_by_its_index(binary, tmp_path):
    """Poisson input (keyed by seed, instance index, step): the explorer's in-process trace of
    instance i is integrated with key i, as the build was, so its spikes are the instance's stored
    spike count; the same parameters with key 0 (what `neurosweep simulate` uses) give another
    train."""
    import json

    from conftest import run_cli
    from neurosweep.explorer.data import ExplorerData

    spec = {"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "500 ms", "seed": 11,
            "fixed": {"rate_ex": 8000.0, "weight_ex": 30.0}, "classifier": {"slowest_period_ms": 100},
            "axes": [{"kind": "list", "param": "I_e", "values": [0.0, 0.0, 0.0, 0.0]}]}
    (tmp_path / "n.json").write_text(json.dumps(spec))
    db_path = str(tmp_path / "n.h5")
    run_cli(binary, "run", str(tmp_path / "n.json"), "-o", db_path, "-q")
    db = ns.open(db_path)
    stored = db.to_pandas()["n_spikes"].to_numpy()
    assert len(set(stored.tolist())) > 1  # the noise differs per instance
    d = ExplorerData(db, binary)
    assert d.engine() is not None, d.engine_error
    for i in range(4):
        tr = d.trace(i)
        assert int(tr.values["spike"].sum()) == int(stored[i]), i
    key0 = d.engine().trace({"I_e": 0.0}, index=0)
    assert int(key0.values["spike"].sum()) == int(stored[0])
    assert not np.array_equal(key0.values["V_m"], d.trace(1).values["V_m"])
