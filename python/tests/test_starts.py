"""Databases with a start axis (docs/SWEEP_SPEC.md "Start axis"): the start column is a pandas
categorical, a dimension of the xarray map with the start labels as coordinates, selectable in
plots, and `resimulate` reproduces an instance from its own start."""
import os

import numpy as np
import pytest

import neurosweep as ns
from conftest import SPECS, run_cli


@pytest.fixture(scope="session")
def starts(binary, dbdir):
    out = os.path.join(str(dbdir), "starts.h5")
    run_cli(binary, "run", os.path.join(SPECS, "starts.json"), "-o", out, "--threads", "2", "-q", "--chunk", "5")
    return out


def test_start_column_and_axis(starts):
    db = ns.open(starts)
    df = db.to_pandas()
    assert list(df.start.cat.categories) == ["cold", "thermalize_1s"]
    # instance i = (gCaS digit * 2 + start digit) * 2 + gKd digit
    np.testing.assert_array_equal(df.start.cat.codes.to_numpy(), (np.arange(12) // 2) % 2)
    ax = db.axis("start")
    assert ax.kind == "categorical" and ax.params == () and ax.labels == ("cold", "thermalize_1s")
    ds = db.to_xarray()
    assert ds.label.dims == ("gCaS", "start", "gKd")
    assert list(ds.start.values) == ["cold", "thermalize_1s"]
    for s in ("cold", "thermalize_1s"):
        want = df[df.start == s].label.cat.codes.to_numpy().reshape(3, 2)
        np.testing.assert_array_equal(ds.label.sel(start=s).values, want)
    # the two starts give different networks' histories here (else nothing is tested)
    assert not np.array_equal(ds.rate_hz.sel(start="cold").values, ds.rate_hz.sel(start="thermalize_1s").values)


def test_map_at_one_start(starts, tmp_path):
    out = tmp_path / "map.png"
    ns.plot_map(ns.open(starts), "gCaS", "gKd", fixed={"start": "thermalize_1s"}, out=str(out))
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="start"):
        ns.plot_map(ns.open(starts), "gCaS", "gKd", fixed={"start": "warm"})


def test_resimulation_from_the_instances_start(starts, binary):
    """`simulate --spec` starts instance 5 (cold) and 6 (thermalised 1 s) from their own start: the
    stored traces (written by `run` through the same reference integrator) to 1e-9 mV."""
    db = ns.open(starts)
    df = db.to_pandas()
    assert df.start[5] == "cold" and df.start[6] == "thermalize_1s"
    for i in (5, 6):
        tr = ns.resimulate(db, i, binary=binary, every_ms=0.5)
        stored = db.stored_trace(i)
        np.testing.assert_allclose(tr.values["V"], stored["V"][0], rtol=0, atol=1e-9)
