"""Reading databases built by the real `neurosweep run` (fixtures in conftest.py).

Expected values come from the specs (tests/specs/*.json, evaluated here with numpy by the rules
of docs/SWEEP_SPEC.md), from docs/CLASSIFIER.md (label names, feature definitions) and from
the C++ reader (`neurosweep info`), never from this package's own output.
"""
import json
import os
import shutil
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

import neurosweep as ns
from conftest import SPECS, run_cli

# docs/CLASSIFIER.md, "Labels (value, name)"; docs/FORMAT.md section 1.1 (status)
LABELS = ["silent", "tonic", "bursting", "irregular_bursting", "irregular"]
STATUS = ["ok", "nonfinite", "diverged"]
FEATURES = ["rate_hz", "n_spikes", "isi_mean_ms", "isi_cv", "burst_period_ms",
            "burst_duration_ms", "duty_cycle", "spikes_per_burst", "n_bursts", "period_cv",
            "pattern_k", "v_min", "v_max", "v_rest"]


def spec(name):
    with open(os.path.join(SPECS, name)) as f:
        return json.load(f)


def linspace(ls):  # docs/SWEEP_SPEC.md: start + (stop - start) * j / (count - 1)
    j = np.arange(ls["count"])
    return ls["start"] + (ls["stop"] - ls["start"]) * j / (ls["count"] - 1)


# ---- DataFrame -------------------------------------------------------------------------------
def test_dataframe_shape_dtypes_and_values(grid2):
    db = ns.open(grid2)
    df = db.to_pandas()
    s = spec("grid2.json")
    n = 4 * 4
    assert db.complete and db.state == "complete"
    assert df.shape == (n, len(db.columns))
    assert list(df.columns[:4]) == ["index", "gCaS", "gKd", "status"]
    assert set(FEATURES) <= set(df.columns)
    assert df.index.name == "instance" and list(df.index) == list(range(n))
    assert (df["index"].to_numpy() == np.arange(n)).all()
    assert df["index"].dtype == np.uint64
    for c in ("gCaS", "gKd"):
        assert df[c].dtype == np.float64
    for c in FEATURES:
        assert df[c].dtype == np.float32, c
    assert isinstance(df["label"].dtype, pd.CategoricalDtype)
    assert list(df["label"].cat.categories) == LABELS
    assert list(df["status"].cat.categories) == STATUS
    # instance i = (gCaS digit i // 4, gKd digit i % 4), axis 0 slowest (SWEEP_SPEC.md)
    gcas, gkd = linspace(s["axes"][0]["linspace"]), linspace(s["axes"][1]["linspace"])
    np.testing.assert_array_equal(df["gCaS"].to_numpy(), np.repeat(gcas, 4))
    np.testing.assert_array_equal(df["gKd"].to_numpy(), np.tile(gkd, 4))
    assert df.attrs["units"]["gCaS"] == "mS/cm^2" and df.attrs["units"]["rate_hz"] == "Hz"
    # the labels agree with the writer's own counts (computed by the C++ side from the data)
    counts = json.loads(db.attrs["label_counts"])
    got = df["label"].value_counts()
    for name in LABELS:
        assert int(got.get(name, 0)) == int(counts.get(name, 0)), name
    # rate_hz = n_spikes * 1000 / analysis window (CLASSIFIER.md), float32 -> 1e-6 relative
    ok = df["status"] == "ok"
    np.testing.assert_allclose(df.loc[ok, "rate_hz"], df.loc[ok, "n_spikes"] * 1000.0 / 10000.0, rtol=1e-6)
    # around AB/PD 2 the 4 x 4 map is not all one label (otherwise the plots test nothing)
    assert df["label"].nunique() >= 2


def test_row_and_params_of(grid2):
    db = ns.open(grid2)
    r = db.row(6)
    assert r["index"] == 6 and r["label"] in LABELS + ["unclassified"]
    p = db.params_of(6, model_params=["gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH", "gleak"])
    s = spec("grid2.json")
    expect = dict(s["fixed"], gCaS=linspace(s["axes"][0]["linspace"])[1],
                  gKd=linspace(s["axes"][1]["linspace"])[2])
    assert p == pytest.approx(expect, rel=0, abs=0)


# ---- xarray ----------------------------------------------------------------------------------
def test_xarray_dims_and_coords_equal_the_grid_axes(grid2):
    db = ns.open(grid2)
    ds = db.to_xarray()
    s = spec("grid2.json")
    assert ds["label"].dims == ("gCaS", "gKd")
    assert dict(ds.sizes) == {"gCaS": 4, "gKd": 4}
    np.testing.assert_array_equal(ds["gCaS"].values, linspace(s["axes"][0]["linspace"]))
    np.testing.assert_array_equal(ds["gKd"].values, linspace(s["axes"][1]["linspace"]))
    assert ds["gCaS"].attrs["units"] == "mS/cm^2"
    assert ds["label"].attrs["enum_names"] == LABELS
    assert "present" not in ds  # complete file
    df = db.to_pandas()
    for i in range(16):
        row = ds.isel(gCaS=i // 4, gKd=i % 4)
        code = int(row["label"])
        assert (LABELS[code] if code >= 0 else None) == (None if pd.isna(df["label"][i]) else df["label"][i])
        a, b = float(row["rate_hz"]), float(df["rate_hz"][i])
        assert a == b or (np.isnan(a) and np.isnan(b))


def test_xarray_three_axes_log_spaced(grid3):
    ds = ns.open(grid3).to_xarray()
    s = spec("grid3.json")
    assert ds["label"].dims == ("gNa", "gCaS", "gKd")
    np.testing.assert_array_equal(ds["gNa"].values, s["axes"][0]["values"])
    np.testing.assert_allclose(ds["gCaS"].values, linspace(s["axes"][1]["linspace"]), rtol=1e-15)
    # logspace: exp(ln start + (ln stop - ln start) j / (count - 1)), ends exact (SWEEP_SPEC.md)
    np.testing.assert_allclose(ds["gKd"].values, [25.0, 50.0, 100.0], rtol=1e-13)
    assert ds["gKd"].values[0] == 25.0 and ds["gKd"].values[-1] == 100.0


def test_xarray_categorical_axis_has_preset_names(neurons):
    db = ns.open(neurons)
    ds = db.to_xarray()
    assert ds["label"].dims == ("neuron", "I_ext")
    assert list(ds["neuron"].values) == ["ABPD2", "LP2", "PY1"]
    np.testing.assert_array_equal(ds["I_ext"].values, [-0.5, 0.0, 0.5])
    # the presets' conductances are coordinates along the neuron axis; AB/PD 2 of Prinz et al.
    # (2004) Table 2 (the values sweeps/demo.json fixes): gNa 100, gCaS 6, gKd 100, gH 0.01
    ab = ds.sel(neuron="ABPD2")
    assert (float(ab["gNa"]), float(ab["gCaS"]), float(ab["gKd"]), float(ab["gH"])) == (100, 6, 100, 0.01)


def test_sample_sweep_has_no_grid(sample):
    db = ns.open(sample)
    assert not db.is_grid
    with pytest.raises(ns.NotAGridError, match="to_pandas"):
        db.to_xarray()
    df = db.to_pandas()
    assert len(df) == 8
    assert df["gNa"].between(50, 300).all() and df["gKd"].between(25, 125).all()


# ---- spikes ----------------------------------------------------------------------------------
def test_spike_offsets_consistent_with_n_spikes(grid2):
    db = ns.open(grid2)
    o = db.spike_offsets()
    df = db.to_pandas()
    assert len(o) == len(df) + 1 and o[0] == 0 and np.all(np.diff(o.astype(np.int64)) >= 0)
    kept = np.minimum(df["n_spikes"].to_numpy().astype(np.int64), db.max_spikes_stored)
    np.testing.assert_array_equal(np.diff(o.astype(np.int64)), kept)
    assert o[-1] == len(db.spike_times())
    assert kept.max() > 0
    for i in range(16):
        t = db.spikes(i)
        assert t.dtype == np.float32 and len(t) == kept[i]
        assert np.all(np.diff(t) > 0) and (len(t) == 0 or (t[0] >= 0 and t[-1] <= 10000.0))


def test_resimulation_reproduces_the_stored_instance(grid2, binary):
    """plot_trace re-simulates with the exact parameters: the stored trace of instance 9 (written
    by `neurosweep run` through the same reference integrator) and the stored spike times must
    come back. Tolerances: traces are float64 copies of the same float32 states (0 expected,
    1e-9 mV allowed); spike times are stored as float32, whose spacing below 16384 ms is
    <= 2^-10 ms, so 1e-3 ms."""
    db = ns.open(grid2)
    tr = ns.resimulate(db, 9, binary=binary, every_ms=0.5)
    stored = db.stored_trace(9)
    t_st, _ = stored["t"]
    np.testing.assert_allclose(tr.t, t_st, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tr.values["V"], stored["V"][0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(tr.values["Ca"], stored["Ca"][0], rtol=0, atol=1e-9)
    spiking = [i for i in range(16) if len(db.spikes(i)) > 3]
    assert spiking
    for i in spiking[:3]:
        t = ns.resimulate(db, i, binary=binary, every_ms=10).spike_times[0]
        s = db.spikes(i)
        np.testing.assert_allclose(t[:len(s)], s, rtol=0, atol=1e-3)


# ---- info ------------------------------------------------------------------------------------
def test_info_matches_the_cli(grid2, neurons, shards, unfinished, binary, quiet_unfinished):
    for path in (grid2, neurons, shards[1], unfinished):
        assert ns.open(path).info() == run_cli(binary, "info", path).stdout, path


# ---- shards and unfinished builds ------------------------------------------------------------
def test_shards_are_slices_of_the_whole(grid2, shards):
    full = ns.open(grid2).to_pandas()
    parts = [ns.open(p) for p in shards]
    assert [d.state for d in parts] == ["shard", "shard"] and all(d.complete for d in parts)
    assert parts[0].first_index == 0 and parts[1].first_index == parts[0].n_rows
    assert sum(d.n_rows for d in parts) == 16
    joined = pd.concat([d.to_pandas() for d in parts])
    cols = [c for c in full.columns]
    pd.testing.assert_frame_equal(joined[cols], full[cols])
    d1 = parts[1]
    ds = d1.to_xarray()
    present = ds["present"].values.ravel()
    np.testing.assert_array_equal(present, np.arange(16) >= d1.first_index)
    i = d1.first_index + 1
    np.testing.assert_array_equal(d1.spikes(i), ns.open(grid2).spikes(i))
    with pytest.raises(ns.InstanceNotAvailableError, match="not in this shard"):
        d1.spikes(0)


def test_unfinished_build_reads_what_is_done(grid2, unfinished):
    with pytest.warns(ns.UnfinishedDatabaseWarning, match="2 of 4 chunks done"):
        db = ns.open(unfinished)
    assert not db.complete and db.state == "unfinished"
    assert db.n_rows == 8 and db.n_instances == 16
    np.testing.assert_array_equal(db.instance_index, [0, 1, 2, 3, 8, 9, 10, 11])
    full = ns.open(grid2).to_pandas()
    df = db.to_pandas()
    pd.testing.assert_frame_equal(df, full.loc[[0, 1, 2, 3, 8, 9, 10, 11]], check_like=False)
    ds = db.to_xarray()
    np.testing.assert_array_equal(ds["present"].values.ravel(), np.isin(np.arange(16), db.instance_index))
    assert int(ds["label"].values.ravel()[4]) == -1 and np.isnan(ds["rate_hz"].values.ravel()[4])
    np.testing.assert_array_equal(db.spikes(9), ns.open(grid2).spikes(9))
    with pytest.raises(ns.InstanceNotAvailableError, match="not computed yet"):
        db.spikes(5)
    with pytest.warns(ns.UnfinishedDatabaseWarning):  # the parts directory itself opens too
        assert ns.open(unfinished + ".parts").n_rows == 8


# ---- errors ----------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    p = str(tmp_path / "nope.h5")
    with pytest.raises(ns.DatabaseNotFoundError, match="nope.h5: no such file"):
        ns.open(p)
    with pytest.raises(FileNotFoundError):  # also the builtin category
        ns.open(p)


def test_foreign_hdf5_and_non_hdf5_files(tmp_path):
    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
        f.attrs["creator"] = "someone else"
    with pytest.raises(ns.NotADatabaseError, match=r"foreign\.h5: not a neurosweep database.*'format'"):
        ns.open(p)
    with h5py.File(p, "a") as f:
        f.attrs["format"] = "nwb"
    with pytest.raises(ns.NotADatabaseError, match="format = 'nwb'"):
        ns.open(p)
    t = tmp_path / "text.h5"
    t.write_text("gNa,gKd\n1,2\n")
    with pytest.raises(ns.NotADatabaseError, match="text.h5: not an HDF5 file"):
        ns.open(t)


def test_newer_format_version_is_refused(grid2, tmp_path, quiet_unfinished):
    p = tmp_path / "future.h5"
    shutil.copy(grid2, p)
    with h5py.File(p, "a") as f:
        f.attrs["format_version"] = np.int64(ns.KNOWN_FORMAT_VERSION + 1)
    with pytest.raises(ns.FormatVersionError, match=r"future\.h5: format_version 2 is newer than this "
                                                    r"neurosweep package supports \(1\)"):
        ns.open(p)
    # the same for an unfinished build's manifest
    parts = tmp_path / "future2.h5.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"format": "neurosweep-parts", "format_version": 2}))
    with pytest.raises(ns.FormatVersionError, match="format_version 2"):
        ns.open(tmp_path / "future2.h5")


def test_large_random_axis_keeps_draws_in_instances_only(binary, dbdir):
    """A random axis with more than 65,536 values in all: /axes carries no per-draw datasets (and
    the schema attribute no values), the draws are the /instances columns, inside the spec's
    bounds and all distinct; the file still opens and converts."""
    from conftest import _build
    path = _build(binary, dbdir, "big_random.json")
    with h5py.File(path, "r") as f:
        ax = f["axes"][list(f["axes"])[0]]
        assert "gNa" not in ax and "gKd" not in ax
        assert int(ax.attrs["size"]) == 40000
        schema = json.loads(f.attrs["schema"])
        assert schema["axes"][0]["values"] == []
        gna = f["instances"]["gNa"][:]
        gkd = f["instances"]["gKd"][:]
    assert len(gna) == 40000
    assert gna.min() >= 50 and gna.max() <= 300 and gkd.min() >= 25 and gkd.max() <= 125
    assert len(np.unique(gna)) == 40000
    db = ns.open(path)
    assert len(db.to_pandas()) == 40000


# ---- sensitivity probe (issue 14; docs/SWEEP_SPEC.md "probe") ----------------------------------
def test_probe_columns_are_enums_and_agree_with_a_double_build(binary, dbdir):
    """label_probe equals the label of a separate double/direct build of the same spec, and
    robust is "yes" exactly when label and rate agree (5% or 2 spikes per window)."""
    from conftest import _build
    probed = _build(binary, dbdir, "probe.json")
    s = spec("probe.json")
    del s["probe"]
    s.update(precision="double", gating="direct")
    other_spec = os.path.join(str(dbdir), "probe_double.json")
    with open(other_spec, "w") as f:
        json.dump(s, f)
    other = os.path.join(str(dbdir), "probe_double.h5")
    run_cli(binary, "run", other_spec, "-o", other, "--threads", "2", "-q")
    a = ns.open(probed).to_pandas()
    b = ns.open(other).to_pandas()
    assert list(a["label_probe"].cat.categories) == LABELS
    assert list(a["robust"].cat.categories) == ["no", "yes"]
    assert (a["label_probe"].astype(str) == b["label"].astype(str)).all()
    slack = 2 * 1000.0 / 10000.0
    agree = (a["label"].astype(str) == b["label"].astype(str)) & (
        (a["rate_hz"] - b["rate_hz"]).abs() <= np.maximum(0.05 * np.maximum(a["rate_hz"], b["rate_hz"]), slack) + 1e-5)
    assert ((a["robust"] == "yes") == agree).all()
    with h5py.File(probed, "r") as f:
        assert f.attrs["probe"] in ("precision", b"precision")
