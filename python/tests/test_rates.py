"""Database.rates(): population rate series (docs/FORMAT.md, /rates) as an xarray DataArray.

The files are written here with h5py in the documented layout (no model writes /rates without a
network or population build), so the reader is checked against the format text, with values from
a closed-form generator."""
import json

import h5py
import numpy as np
import pytest

import neurosweep as ns
from neurosweep.errors import CorruptDatabaseError, InstanceNotAvailableError

SERIES = ["E", "I", "X"]
NB = 5


def rate(i, s, b):
    return 100.0 * i + 10.0 * s + 0.5 * b


def write_db(path, first=0, n=6, bin_ms=2.0, t0=0.0, shape=None):
    schema = {"columns": [{"name": "index", "dtype": "u8", "units": "", "description": "", "enum_names": []}],
              "state_names": [], "state_units": [], "final_state": False, "max_spikes_stored": 0,
              "axes": [], "rates": {"series": SERIES, "n_bins": NB, "bin_ms": bin_ms, "t0_ms": t0}}
    vals = np.array([[rate(first + j, s, b) for s in range(len(SERIES)) for b in range(NB)]
                     for j in range(n)], dtype=np.float32)
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "neurosweep", "format_version": 1, "complete": 1,
                        "schema": json.dumps(schema), "spec": json.dumps({"model": "brunel"}),
                        "n_instances": n, "n_rows": n, "first_index": first})
        f["instances/index"] = np.arange(first, first + n, dtype=np.uint64)
        d = f.create_dataset("rates/values", data=vals if shape is None else np.zeros(shape, np.float32))
        d.attrs.update({"series": json.dumps(SERIES), "n_bins": NB, "bin_ms": bin_ms, "t0_ms": t0,
                        "units": "Hz"})


def test_rates_dataarray_dims_coords_values(tmp_path):
    p = tmp_path / "db.h5"
    write_db(p, bin_ms=2.0, t0=0.0)
    db = ns.open(p)
    assert db.rate_series == SERIES and db.rate_bins == NB and db.rate_bin_ms == 2.0
    r = db.rates()
    assert r.dims == ("instance", "population", "time")
    assert r.shape == (6, 3, NB)
    assert r.attrs["units"] == "Hz"
    np.testing.assert_array_equal(r.coords["time"].values, [0.0, 2.0, 4.0, 6.0, 8.0])
    assert list(r.coords["population"].values) == SERIES
    for i in range(6):
        for s in range(3):
            for b in range(NB):
                assert r.values[i, s, b] == np.float32(rate(i, s, b))
    assert "rates" in db.info()


def test_rates_instance_subset_in_given_order_and_population(tmp_path):
    p = tmp_path / "db.h5"
    write_db(p)
    db = ns.open(p)
    r = db.rates([4, 1, 4])
    np.testing.assert_array_equal(r.coords["instance"].values, [4, 1, 4])
    assert r.values[0, 2, 3] == np.float32(rate(4, 2, 3))
    assert r.values[1, 0, 0] == np.float32(rate(1, 0, 0))
    e = db.rates(2, population="I")
    assert e.dims == ("instance", "time") and e.values[0, 4] == np.float32(rate(2, 1, 4))
    with pytest.raises(KeyError, match="no population 'Z'"):
        db.rates(population="Z")
    with pytest.raises(InstanceNotAvailableError, match="instance 6 does not exist"):
        db.rates([6])


def test_rates_shape_mismatch_is_reported(tmp_path):
    p = tmp_path / "bad.h5"
    write_db(p, shape=(6, 7))
    with pytest.raises(CorruptDatabaseError, match=r"/rates/values has shape \(6, 7\)"):
        ns.open(p).rates()


def test_no_rates_is_a_clear_error(tmp_path):
    p = tmp_path / "db.h5"
    write_db(p)
    with h5py.File(p, "r+") as f:
        s = json.loads(f.attrs["schema"])
        del s["rates"]
        f.attrs["schema"] = json.dumps(s)
    with pytest.raises(KeyError, match="no population rates stored"):
        ns.open(p).rates()
