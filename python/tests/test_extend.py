"""`neurosweep run SPEC -o DB --extend`: a random or Sobol sample of N points grown to 2N keeps its
first N rows bit for bit (every /instances column, /spikes, /final_state), the new rows equal a
fresh build of the larger spec, and anything but a grown count is refused, naming the key."""
import copy
import json
import os

import h5py
import numpy as np
import pytest

from conftest import run_cli

# Izhikevich neurons (NEST's izhikevich): fast, and the drive range puts some silent and some
# tonic, so labels and spike counts differ between rows. Two sampled axes (a Sobol pair and a
# random drive) combined as a sample.
SAMPLE = {
    "name": "grow", "model": "izhikevich", "dt": "0.1 ms", "transient": "0 ms", "analysis": "500 ms",
    "seed": 11, "combine": "sample", "fixed": {"c": -65, "d": 8},
    "classifier": {"slowest_period_ms": 100},
    "axes": [
        {"kind": "sobol", "count": 16, "params": {"a": {"low": 0.01, "high": 0.1}, "b": {"low": 0.15, "high": 0.3}}},
        {"kind": "random", "count": 16, "params": {"I_e": {"low": 0, "high": 15}}},
    ],
    "output": {"spikes": 50, "final_state": True},
}


def spec_file(tmp_path, name, spec):
    p = tmp_path / name
    p.write_text(json.dumps(spec))
    return str(p)


def with_count(spec, n, axes=(0, 1)):
    s = copy.deepcopy(spec)
    for k in axes:
        s["axes"][k]["count"] = n
    return s


def table(path):
    """Every row-indexed dataset of a database as numpy arrays (columns, spikes, final states)."""
    with h5py.File(path, "r") as f:
        out = {f"instances/{k}": f["instances"][k][:] for k in f["instances"]}
        if "final_state" in f:
            out.update({f"final_state/{k}": f["final_state"][k][:] for k in f["final_state"]})
        o = f["spikes/offsets"][:]
        t = f["spikes/times"][:]
        out["spikes"] = [t[o[r]:o[r + 1]] for r in range(len(o) - 1)]
        attrs = {k: f.attrs[k] for k in f.attrs}
    return out, attrs


def assert_rows_equal(a, b, rows):
    for k in a:
        if k == "spikes":
            for r in range(rows.start, rows.stop):
                np.testing.assert_array_equal(a[k][r], b[k][r], err_msg=f"spikes of row {r}")
        else:
            # bit for bit: compare the bytes, so NaN features compare equal only if identical
            assert a[k][rows].tobytes() == b[k][rows].tobytes(), k


def build(binary, spec, out, *extra):
    return run_cli(binary, "run", spec, "-o", out, "-q", "--threads", "2", *extra)


def test_extend_sample_keeps_rows_and_equals_fresh_build(binary, tmp_path):
    s16 = spec_file(tmp_path, "s16.json", SAMPLE)
    s32 = spec_file(tmp_path, "s32.json", with_count(SAMPLE, 32))
    s48 = spec_file(tmp_path, "s48.json", with_count(SAMPLE, 48))
    db = str(tmp_path / "db.h5")
    build(binary, s16, db, "--chunk", "4")
    before, before_attrs = table(db)
    # chunks of 5: the prefix (16 rows) ends inside a chunk of the extension build
    build(binary, s32, db, "--extend", "--chunk", "5")
    after, attrs = table(db)
    fresh = str(tmp_path / "fresh.h5")
    build(binary, s32, fresh, "--chunk", "7")
    ref, ref_attrs = table(fresh)
    assert len(after["instances/index"]) == 32
    np.testing.assert_array_equal(after["instances/index"], np.arange(32))
    assert_rows_equal(before, after, slice(0, 16))   # the old rows, kept
    assert_rows_equal(ref, after, slice(0, 32))      # and everything equals a fresh 2N build
    assert attrs["spec_hash"] == ref_attrs["spec_hash"]
    assert json.loads(attrs["extended_from"]) == {"spec_hash": _py(before_attrs["spec_hash"]), "n_rows": 16}
    assert attrs["spec_hash"] != before_attrs["spec_hash"]
    # the rows differ among themselves (the test could fail): several labels / spike counts
    assert len(set(after["instances/n_spikes"].tolist())) > 3
    # grow again, 32 -> 48, from a build that is stopped after one chunk and resumed
    p = run_cli(binary, "run", s48, "-o", db, "-q", "--threads", "2", "--extend", "--chunk", "3",
                "--stop-after-chunks", "1", check=False)
    assert p.returncode == 0 and os.path.isdir(db + ".parts"), p.stderr
    assert table(db)[0]["instances/index"].size == 32  # untouched until the extension is finalized
    build(binary, s48, db, "--resume")
    grown, _ = table(db)
    fresh48 = str(tmp_path / "fresh48.h5")
    build(binary, s48, fresh48)
    assert_rows_equal(table(fresh48)[0], grown, slice(0, 48))


def _py(v):
    return v.decode() if isinstance(v, bytes) else v


def test_extend_first_axis_of_product(binary, tmp_path):
    """random axis (slowest) x grid axis: growing the random count appends whole rows blocks."""
    spec = {**SAMPLE, "combine": "product",
            "axes": [{"kind": "random", "count": 3, "params": {"a": {"low": 0.01, "high": 0.1}}},
                     {"kind": "grid", "param": "I_e", "values": [0, 5, 10]}]}
    small, big = copy.deepcopy(spec), copy.deepcopy(spec)
    big["axes"][0]["count"] = 5
    db, fresh = str(tmp_path / "p.h5"), str(tmp_path / "pf.h5")
    build(binary, spec_file(tmp_path, "p3.json", small), db, "--chunk", "2")
    before, _ = table(db)
    build(binary, spec_file(tmp_path, "p5.json", big), db, "--extend")
    build(binary, spec_file(tmp_path, "p5.json", big), fresh)
    after, _ = table(db)
    assert len(after["instances/index"]) == 15
    assert_rows_equal(before, after, slice(0, 9))
    assert_rows_equal(table(fresh)[0], after, slice(0, 15))


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(seed=12), "seed"),
    (lambda s: s["axes"][1]["params"]["I_e"].update(high=20), "axes[1]"),
    (lambda s: s["fixed"].update(d=6), "fixed"),
    (lambda s: s.update(analysis="600 ms"), "analysis"),
    (lambda s: [a.update(count=8) for a in s["axes"]], "axes[0].count: got 8; expected at least 16"),
    (lambda s: [a.update(count=16) for a in s["axes"]], "nothing to extend"),
])
def test_extend_refusals(binary, tmp_path, change, message):
    db = str(tmp_path / "db.h5")
    build(binary, spec_file(tmp_path, "s16.json", SAMPLE), db)
    with open(db, "rb") as f:
        original = f.read()
    s = with_count(SAMPLE, 32)
    change(s)
    p = run_cli(binary, "run", spec_file(tmp_path, "bad.json", s), "-o", db, "-q", "--extend", check=False)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
    assert "--extend" in p.stderr and "db.h5" in p.stderr, p.stderr
    with open(db, "rb") as f:
        assert f.read() == original  # nothing lost
    assert not os.path.exists(db + ".parts")


def test_extend_refuses_inner_product_axis_and_missing_db(binary, tmp_path):
    spec = {**SAMPLE, "combine": "product",
            "axes": [{"kind": "grid", "param": "I_e", "values": [0, 5]},
                     {"kind": "random", "count": 3, "params": {"a": {"low": 0.01, "high": 0.1}}}]}
    db = str(tmp_path / "p.h5")
    build(binary, spec_file(tmp_path, "p.json", spec), db)
    spec["axes"][1]["count"] = 6
    p = run_cli(binary, "run", spec_file(tmp_path, "p6.json", spec), "-o", db, "--extend", check=False)
    assert p.returncode != 0 and "only the first axis of a product can grow" in p.stderr, p.stderr
    p = run_cli(binary, "run", spec_file(tmp_path, "p6.json", spec), "-o", str(tmp_path / "nope.h5"), "--extend",
                check=False)
    assert p.returncode != 0 and "nothing to extend" in p.stderr, p.stderr
