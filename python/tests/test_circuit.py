"""Circuit databases (a spec with a `circuit` object): spikes of every cell, the stored circuit,
shards, re-simulation. Expected values come from the spec (tests/specs/circuit.json), from
docs/FORMAT.md (the /spikes layout, read here with plain h5py as an independent reader) and from
the per-cell spike counts the C++ classifier stage writes to /instances."""
import json
import os

import h5py
import numpy as np
import pytest

import neurosweep as ns
from conftest import SPECS

CELLS = ["ABPD", "LP", "PY"]


def test_spikes_of_every_cell_equal_the_per_cell_counts(circuit):
    db = ns.open(circuit)
    assert db.spike_cells == CELLS and db.n_spike_cells == 3
    df = db.to_pandas()
    assert len(df) == 4
    counts = db.spike_counts()
    assert counts.shape == (4, 3)
    for c, cell in enumerate(CELLS):
        n = df[f"{cell}.n_spikes"].to_numpy()
        # output.spikes = 1000 is more than any cell fires in 5 s: every detected spike is kept
        assert n.max() < 1000
        np.testing.assert_array_equal(counts[:, c], n.astype(np.int64))
        np.testing.assert_array_equal(db.spike_counts(cell), n.astype(np.int64))
        for i in range(4):
            t = db.spikes(i, cell)
            assert t.dtype == np.float32 and len(t) == n[i]
            assert np.all(np.diff(t) > 0) and (len(t) == 0 or (t[0] >= 0 and t[-1] <= 5000.0))
            np.testing.assert_array_equal(t, db.spikes(i, c))
    assert (counts > 0).sum() >= 9  # most trains are non-empty (the test would be vacuous otherwise)
    every = db.spikes(2)
    assert list(every) == CELLS
    np.testing.assert_array_equal(every["PY"], db.spikes(2, "PY"))
    with pytest.raises(KeyError, match="no cell 'AB'"):
        db.spikes(0, "AB")
    with pytest.raises(KeyError, match="out of range"):
        db.spikes(0, 3)


def test_spikes_layout_with_plain_h5py(circuit):
    """docs/FORMAT.md 1.2: offsets indexed by row * n_cells + cell, cell names in attributes."""
    db = ns.open(circuit)
    with h5py.File(circuit, "r") as f:
        g = f["spikes"]
        cells = json.loads(g.attrs["cells"])
        assert cells == CELLS and int(g.attrs["n_cells"]) == 3
        o = g["offsets"][:]
        assert len(o) == 4 * 3 + 1 and o[0] == 0 and o[-1] == len(g["times"])
        for r in range(4):
            for c, cell in enumerate(cells):
                k = r * len(cells) + c
                np.testing.assert_array_equal(g["times"][o[k]:o[k + 1]], db.spikes(r, cell))
        circ = json.loads(f.attrs["circuit"])
    assert circ == db.circuit


def test_circuit_description_recovers_the_wiring(circuit):
    db = ns.open(circuit)
    with open(os.path.join(SPECS, "circuit.json")) as fh:
        spec = json.load(fh)["circuit"]
    c = db.circuit
    assert [x["name"] for x in c["cells"]] == CELLS
    assert [x["neuron"] for x in c["cells"]] == ["ABPD2", "LP4", "PY1"]
    for s_spec, s in zip(spec["synapses"], c["synapses"]):
        assert (s["name"], s["pre"], s["post"], s["type"]) == (
            s_spec["name"], s_spec["pre"], s_spec["post"], s_spec["type"])
        assert s["strength_nS"] == float(s_spec["strength"].split()[0])
    assert c["roles"] == {"pacemaker": "ABPD", "LP": "LP", "PY": "PY"}
    # P04 Table 2: AB/PD 2 has gNa 100, gKCa 5 (mS/cm^2)
    assert c["cells"][0]["params"]["gNa"] == 100 and c["cells"][0]["params"]["gKCa"] == 5
    df = db.to_pandas()
    assert {"label_LP", "LP.burst_period_ms", "g_PYLP", "LP.gA"} <= set(df.columns)
    assert set(df["label"].astype(str)) <= set(db.label_names)
    ds = db.to_xarray()
    assert list(ds["LP"].values) == ["LP1", "LP4"] and list(ds["g_PYLP"].values) == [10, 30]


def test_shards_and_merge_keep_every_cell(circuit, circuit_shards):
    whole = ns.open(circuit)
    paths, merged = circuit_shards
    m = ns.open(merged)
    assert m.spike_cells == CELLS
    np.testing.assert_array_equal(m.spike_offsets(), whole.spike_offsets())
    np.testing.assert_array_equal(m.spike_times(), whole.spike_times())
    s1 = ns.open(paths[1])
    i = s1.first_index + 1
    for cell in CELLS:
        np.testing.assert_array_equal(s1.spikes(i, cell), whole.spikes(i, cell))
    with pytest.raises(ns.InstanceNotAvailableError, match="not in this shard"):
        s1.spikes(0, "LP")


def test_resimulation_of_a_circuit_instance(circuit, binary):
    """`simulate --spec` with the stored spec reproduces the stored trace (instance 3, written
    by `run` through the same reference integrator: 0 expected, 1e-9 mV allowed) and each cell's
    stored spike times (float32: 1e-3 ms, see test_database.py)."""
    db = ns.open(circuit)
    tr = ns.resimulate(db, 3, binary=binary, every_ms=0.5)
    stored = db.stored_trace(3)
    assert "LP.V" in tr.values and "s_PYLP" in tr.values and not any(k.startswith("#") for k in tr.values)
    np.testing.assert_allclose(tr.t, stored["t"][0], rtol=0, atol=1e-9)
    for k in ("ABPD.V", "LP.V", "PY.Ca", "s_LPPM"):
        np.testing.assert_allclose(tr.values[k], stored[k][0], rtol=0, atol=1e-9)
    for i in (0, 3):
        t = ns.resimulate(db, i, binary=binary, every_ms=10)
        assert [c["cell"] for c in t.settings["observed"]] == CELLS
        for c, cell in enumerate(CELLS):
            s = db.spikes(i, cell)
            assert len(s) > 3
            np.testing.assert_allclose(t.spike_times[c][:len(s)], s, rtol=0, atol=1e-3)


def test_plot_trace_marks_each_cells_stored_spikes(circuit, binary, tmp_path):
    import matplotlib.pyplot as plt

    db = ns.open(circuit)
    fig = ns.plot_trace(db, 3, binary=binary, every_ms=0.5, out=str(tmp_path / "c.png"))
    assert [a.get_ylabel() for a in fig.axes[::2]] == ["ABPD V (mV)", "LP V (mV)", "PY V (mV)"]
    for ax, cell in zip(fig.axes[::2], CELLS):
        marks = [ln for ln in ax.lines if ln.get_label().startswith("stored spike times")]
        assert len(marks) == 1 and marks[0].get_label() == f"stored spike times ({len(db.spikes(3, cell))})"
        # drawn in s (the 5 s window is longer than 2 s): ms = 1000 x, to rounding (1e-12 relative)
        np.testing.assert_allclose(np.asarray(marks[0].get_xdata()) * 1000.0,
                                   db.spikes(3, cell).astype(np.float64), rtol=1e-12, atol=0)
    plt.close(fig)
