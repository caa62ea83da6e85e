"""`neurosweep refine DB -o DB2`: refinement where labels change, on a grid whose label boundary
is known by construction.

NEST's iaf_psc_delta with a constant current I_e from V_m = E_L: V(t) = E_L + I_e tau_m / C_m
(1 - exp(-t / tau_m)) (exact solution of C_m dV/dt = -(C_m / tau_m)(V - E_L) + I_e, NEST
iaf_psc_delta.cpp) reaches V_th only when I_e > I_rh = C_m (V_th - E_L) / tau_m (rheobase). Above
it the neuron fires with period t_ref + tau_m ln(1 / (1 - I_rh / I_e)); the classifier calls a
cell silent below min_spikes = 3 spikes (docs/CLASSIFIER.md), which within 1 s needs that period
below ~330 ms, i.e. I_e > I_rh (1 + e^-33): the label boundary is the rheobase hyperbola
I_e tau_m = C_m (V_th - E_L) = 3750 pA ms, to 1e-14. No lattice point used here lies within 0.1%
of it (asserted), so every label is known exactly.
"""
import copy
import json
import os

import h5py
import numpy as np
import pytest

from conftest import run_cli

K = 250.0 * 15.0  # C_m (V_th - E_L), pA ms
GRID = {
    "name": "rheobase", "model": "iaf_psc_delta", "dt": "0.1 ms", "transient": "0 ms",
    "analysis": "1 s", "seed": 1, "classifier": {"slowest_period_ms": 250},
    "axes": [
        {"kind": "grid", "param": "tau_m", "linspace": {"start": 6, "stop": 18, "count": 4}},
        {"kind": "grid", "param": "I_e", "linspace": {"start": 10, "stop": 1010, "count": 9}},
    ],
    "output": {"spikes": 5},
}


def silent_expected(tau, i_e):
    return i_e * tau < K


@pytest.fixture(scope="module")
def grid_db(binary, tmp_path_factory):
    d = tmp_path_factory.mktemp("refine")
    spec = d / "grid.json"
    spec.write_text(json.dumps(GRID))
    db = str(d / "grid.h5")
    run_cli(binary, "run", str(spec), "-o", db, "-q", "--threads", "2")
    return db


def refined(path):
    with h5py.File(path, "r") as f:
        g = f["refined/instances"]
        cols = {k: g[k][:] for k in g}
        names = json.loads(g["label"].attrs["enum_names"])
        summary = json.loads(f.attrs["refine"])
        grid = {k: f["instances"][k][:] for k in f["instances"]}
        o = f["refined/spikes/offsets"][:]
        cols["_spikes"] = [f["refined/spikes/times"][o[r]:o[r + 1]] for r in range(len(o) - 1)]
    return cols, grid, names, summary


def refine(binary, db, out, *extra, check=True):
    return run_cli(binary, "refine", db, "-o", out, "-q", "--threads", "2", *extra, check=check)


def test_refine_locates_rheobase_hyperbola(binary, grid_db, tmp_path):
    out = str(tmp_path / "ref.h5")
    refine(binary, grid_db, out, "--depth", "3", "--chunk", "16")
    r, grid, names, summary = refined(out)
    silent = names.index("silent")
    # the grid is kept as it was
    with h5py.File(grid_db, "r") as f:
        for k in f["instances"]:
            assert f["instances"][k][:].tobytes() == grid[k].tobytes(), k
    # level bookkeeping: level k points sit on the lattice of spacing 2^-k, not on a coarser one
    lv = r["level"]
    assert set(lv.tolist()) == {1, 2, 3} and summary["depth"] == 3
    for k in (1, 2, 3):
        pos = np.stack([r["pos_tau_m"][lv == k], r["pos_I_e"][lv == k]])
        assert np.all(pos * 2 ** k == np.round(pos * 2 ** k))
        assert np.all(np.any(pos * 2 ** (k - 1) != np.round(pos * 2 ** (k - 1)), axis=0))
    assert [L["points"] for L in summary["levels"]] == [int(np.sum(lv == k)) for k in (1, 2, 3)]
    assert summary["n_points"] == len(lv)
    # parameters follow the positions (the linspace formula), and every label is the rheobase's
    np.testing.assert_allclose(r["tau_m"], 6 + 4 * r["pos_tau_m"], rtol=1e-15)
    np.testing.assert_allclose(r["I_e"], 10 + 125 * r["pos_I_e"], rtol=1e-15)
    tau = np.concatenate([grid["tau_m"], r["tau_m"]])
    i_e = np.concatenate([grid["I_e"], r["I_e"]])
    lab = np.concatenate([grid["label"], r["label"]])
    assert np.min(np.abs(i_e * tau / K - 1)) > 1e-3  # no point on the boundary itself
    np.testing.assert_array_equal(lab == silent, silent_expected(tau, i_e))
    # on every grid row tau_m = const the boundary I* = K / tau_m is bracketed by two points
    # (grid or refined) 1/8 of the grid spacing (125 pA) apart
    for t in grid["tau_m"][::9]:
        star = K / t
        row = np.sort(i_e[tau == t])
        below, above = row[row < star].max(), row[row > star].min()
        assert above - below == pytest.approx(125 / 8), (t, below, above)
    # the refined points are a small part of a grid 8 times finer (25 x 65 = 1625 points)
    assert len(lv) < 0.25 * 25 * 65
    info = run_cli(binary, "info", out).stdout
    assert "/refined" in info and '"n_points":%d' % len(lv) in info, info


def test_refined_points_equal_a_finer_grid(binary, grid_db, tmp_path):
    """The same engine and settings: each refined row equals the row of the same point in a
    grid 8 times finer built by `neurosweep run` (all columns, spikes), bit for bit."""
    out = str(tmp_path / "ref.h5")
    refine(binary, grid_db, out, "--depth", "3")
    r, _, _, _ = refined(out)
    fine = copy.deepcopy(GRID)
    fine["axes"][0]["linspace"]["count"] = 25
    fine["axes"][1]["linspace"]["count"] = 65
    spec = tmp_path / "fine.json"
    spec.write_text(json.dumps(fine))
    fdb = str(tmp_path / "fine.h5")
    run_cli(binary, "run", str(spec), "-o", fdb, "-q", "--threads", "2")
    with h5py.File(fdb, "r") as f:
        fc = {k: f["instances"][k][:] for k in f["instances"]}
        o = f["spikes/offsets"][:]
        fs = [f["spikes/times"][o[k]:o[k + 1]] for k in range(len(o) - 1)]
    rows = (np.round(r["pos_tau_m"] * 8) * 65 + np.round(r["pos_I_e"] * 8)).astype(int)
    for k in fc:
        if k != "index":
            assert r[k].tobytes() == fc[k][rows].tobytes(), k
    for j, row in enumerate(rows):
        np.testing.assert_array_equal(r["_spikes"][j], fs[row])


def test_refine_budget_and_resume(binary, grid_db, tmp_path):
    out = str(tmp_path / "b.h5")
    refine(binary, grid_db, out, "--depth", "3", "--budget", "20")
    r, _, _, summary = refined(out)
    assert 0 < len(r["level"]) <= 20 and summary["budget_exhausted"] is True
    assert summary["budget"] == 20
    # a refinement stopped after one chunk of its first level, then resumed, equals a straight one
    full, part = str(tmp_path / "full.h5"), str(tmp_path / "part.h5")
    refine(binary, grid_db, full, "--depth", "2")
    p = refine(binary, grid_db, part, "--depth", "2", "--chunk", "4", "--stop-after-chunks", "1", check=False)
    assert p.returncode == 0 and not os.path.exists(part) and os.path.isdir(part + ".refine"), p.stderr
    assert "--resume" in p.stderr
    p = refine(binary, grid_db, part, "--depth", "2", check=False)
    assert p.returncode != 0 and "--resume" in p.stderr
    refine(binary, grid_db, part, "--depth", "2", "--resume")
    a, b = refined(full)[0], refined(part)[0]
    for k in a:
        if k != "_spikes":
            assert a[k].tobytes() == b[k].tobytes(), k
    assert not os.path.exists(part + ".refine")


def test_refine_errors(binary, grid_db, tmp_path):
    out = str(tmp_path / "e.h5")
    for depth in ("0", "17"):
        p = refine(binary, grid_db, out, "--depth", depth, check=False)
        assert p.returncode != 0 and f"--depth {depth}" in p.stderr, p.stderr
    p = refine(binary, grid_db, out, "--label", "lable", check=False)
    assert p.returncode != 0 and "no column 'lable'" in p.stderr and "label" in p.stderr, p.stderr
    p = refine(binary, grid_db, out, "--label", "rate_hz", check=False)
    assert p.returncode != 0 and "real numbers" in p.stderr, p.stderr
    p = refine(binary, grid_db, grid_db, check=False)
    assert p.returncode != 0 and "is the database being refined" in p.stderr, p.stderr
    # a sample (no grid) database
    sample = {**GRID, "combine": "sample",
              "axes": [{"kind": "random", "count": 4, "params": {"I_e": {"low": 0, "high": 900}}}]}
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(sample))
    sdb = str(tmp_path / "s.h5")
    run_cli(binary, "run", str(spec), "-o", sdb, "-q")
    p = refine(binary, sdb, out, check=False)
    assert p.returncode != 0 and "not a grid database" in p.stderr, p.stderr
    # a list axis is no grid axis
    lst = copy.deepcopy(GRID)
    lst["axes"][0] = {"kind": "list", "param": "tau_m", "values": [10, 6]}
    spec.write_text(json.dumps(lst))
    ldb = str(tmp_path / "l.h5")
    run_cli(binary, "run", str(spec), "-o", ldb, "-q")
    p = refine(binary, ldb, out, check=False)
    assert p.returncode != 0 and "axes[0] ('tau_m') is a list axis" in p.stderr, p.stderr
    # an existing output is kept without --force
    open(out, "w").write("keep")
    p = refine(binary, grid_db, out, check=False)
    assert p.returncode != 0 and "exists" in p.stderr and open(out).read() == "keep"
    p = refine(binary, grid_db, out, "--force", check=False)
    assert p.returncode != 0 and "not one" in p.stderr and open(out).read() == "keep"
    assert not os.path.exists(out + ".refine")


def test_plot_map_draws_refined_regions_at_finest_resolution(binary, grid_db, tmp_path):
    """plot_map of the refined database: a 25 x 65 raster (8 x the 4 x 9 grid) whose pixels
    disagree with the rheobase rule only right at the hyperbola (a pixel whose 3 x 3
    neighbourhood straddles it); the grid alone (refined="off") misplaces it by up to half a grid
    step, which this check catches."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import QuadMesh

    import neurosweep as ns

    out = str(tmp_path / "ref.h5")
    refine(binary, grid_db, out, "--depth", "3")
    db = ns.open(out)
    assert db.refine_info["depth"] == 3 and len(db.refined()) == db.refine_info["n_points"]
    silent = db.label_names.index("silent")
    tau = 6 + 0.5 * np.arange(25)[:, None]
    i_e = 10 + 15.625 * np.arange(65)[None, :]
    truth = silent_expected(tau, i_e)
    pad = np.pad(truth, 1, mode="edge")
    straddles = np.zeros_like(truth)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            straddles |= pad[dy:dy + 25, dx:dx + 65] != truth

    def raster(mode):
        fig, ax = plt.subplots()
        ns.plot_map(db, "I_e", "tau_m", ax=ax, refined=mode)
        mesh = [c for c in ax.collections if isinstance(c, QuadMesh)][0]
        a = np.asarray(mesh.get_array())
        plt.close(fig)
        return a

    fine = raster("points").reshape(25, 65)
    wrong = (fine == silent) != truth
    assert not np.any(wrong & ~straddles), np.argwhere(wrong & ~straddles)
    coarse = raster("off")
    assert coarse.size == 4 * 9
    up = coarse.reshape(4, 9)[(np.arange(25) + 4) // 8][:, (np.arange(65) + 4) // 8]
    assert np.any(((up == silent) != truth) & ~straddles)
    with pytest.raises(ValueError, match="refined="):
        ns.plot_map(db, "I_e", "tau_m", refined="yes")
