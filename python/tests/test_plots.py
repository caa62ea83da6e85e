"""Pictures: files written, the right colours in the right places, legends with label names,
axes with units. Expected contents are computed here from the DataFrame (pandas), not taken
from the plotting code."""
import io
import os
import subprocess
import sys
import warnings

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb

import neurosweep as ns
from neurosweep.cli import main as cli_main
from neurosweep.plots import trace_cells

LABELS = ["silent", "tonic", "bursting", "irregular_bursting", "irregular"]


def rgb_set(img):
    """Distinct RGB colours (0..255) of an image array."""
    a = np.round(np.asarray(img)[..., :3] * (255 if np.asarray(img).dtype.kind == "f" else 1)).astype(int)
    return {tuple(c) for c in a.reshape(-1, 3)}


def rgb255(colour):
    return tuple(int(round(255 * x)) for x in to_rgb(colour))


def axes_pixels(fig, ax, inset=3):
    """The rendered pixels inside ax (a few pixels in from the frame)."""
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    bb = ax.get_window_extent()
    h = img.shape[0]
    return img[int(h - bb.y1) + inset:int(h - bb.y0) - inset, int(bb.x0) + inset:int(bb.x1) - inset]


def test_label_colours_fixed_and_distinct():
    assert set(LABELS) <= set(ns.LABEL_COLOURS)
    cols = [rgb255(c) for c in ns.LABEL_COLOURS.values()]
    assert len(set(cols)) == len(cols)
    assert ns.label_colour("bursting") == ns.LABEL_COLOURS["bursting"]


def test_map_png_has_exactly_the_labels_present(grid2, tmp_path):
    db = ns.open(grid2)
    df = db.to_pandas()
    present = set(df["label"].dropna().unique())
    out = tmp_path / "map.png"
    fig = ns.plot_map(db, "gCaS", "gKd", out=str(out))
    assert out.stat().st_size > 5000
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 400
    ax = fig.axes[0]
    # inside the map: one solid colour per label that occurs, nothing else
    inside = rgb_set(axes_pixels(fig, ax))
    assert inside == {rgb255(ns.LABEL_COLOURS[n]) for n in present}
    # legend: every label name, with its count
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    counts = df["label"].value_counts()
    assert texts == [f"{n} ({int(counts.get(n, 0))})" for n in LABELS]
    assert ax.get_xlabel() == "gCaS (mS/cm$^{2}$)" and ax.get_ylabel() == "gKd (mS/cm$^{2}$)"
    # each cell has the colour of its instance's label: sample the cell centres
    px = axes_pixels(fig, ax, inset=0)
    for i in range(16):
        r, c = i // 4, i % 4  # gCaS digit -> x column, gKd digit -> y row (bottom = first)
        y = int(px.shape[0] * (1 - (c + 0.5) / 4))
        x = int(px.shape[1] * (r + 0.5) / 4)
        lab = df["label"][i]
        assert tuple(np.round(px[y, x] * 255).astype(int)) == rgb255(ns.LABEL_COLOURS[lab]), i
    plt.close(fig)


def test_map_of_three_axes_fixed_or_marginalised(grid3, tmp_path):
    db = ns.open(grid3)
    with pytest.raises(ValueError, match="gNa.*neither drawn nor fixed"):
        ns.plot_map(db, "gCaS", "gKd")
    with pytest.raises(ValueError, match="not a value of axis 'gNa'"):
        ns.plot_map(db, "gCaS", "gKd", fixed={"gNa": 150})
    df = db.to_pandas()
    fig = ns.plot_map(db, "gCaS", "gKd", fixed={"gNa": 300}, out=str(tmp_path / "fixed.png"))
    inside = rgb_set(axes_pixels(fig, fig.axes[0]))
    sub = df[df["gNa"] == 300]
    assert inside == {rgb255(ns.LABEL_COLOURS[n]) for n in sub["label"].dropna().unique()}
    assert "gNa = 300" in fig.axes[0].get_title()
    plt.close(fig)
    # marginalised: the fraction of bursting over gNa, as pandas computes it
    fig = ns.plot_map(db, "gCaS", "gKd", marginalise="bursting", out=str(tmp_path / "marg.png"))
    assert len(fig.axes) == 2  # map + colour bar
    mesh = fig.axes[0].collections[0]
    got = np.asarray(mesh.get_array()).reshape(3, 3)  # rows gKd, columns gCaS
    want = (df.assign(b=df["label"] == "bursting").groupby(["gKd", "gCaS"])["b"].mean()
            .unstack().to_numpy())
    np.testing.assert_array_equal(got, want)
    assert "fraction bursting" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_map_with_a_categorical_axis(neurons, tmp_path):
    fig = ns.plot_map(ns.open(neurons), "I_ext", "neuron", out=str(tmp_path / "n.png"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ABPD2", "LP2", "PY1"]
    assert ax.get_xlabel() == "I_ext (nA)"
    plt.close(fig)


def test_map_of_an_unfinished_build(unfinished, tmp_path, quiet_unfinished):
    fig = ns.plot_map(ns.open(unfinished), "gCaS", "gKd", out=str(tmp_path / "u.png"))
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[-1] == "not computed (8)"
    assert "unfinished: 8 of 16" in fig.axes[0].get_title()
    plt.close(fig)


def test_fractions(grid2, grid3, tmp_path):
    db = ns.open(grid2)
    df = db.to_pandas()
    out = tmp_path / "f.png"
    fig = ns.plot_fractions(db, out=str(out))
    assert out.stat().st_size > 3000
    ax = fig.axes[0]
    bars = ax.patches
    assert [t.get_text() for t in ax.get_yticklabels()] == LABELS
    frac = df["label"].value_counts(normalize=True)
    for name, bar in zip(LABELS, bars):
        assert bar.get_width() == pytest.approx(100 * frac.get(name, 0.0), abs=1e-9)
        assert to_rgb(bar.get_facecolor()) == to_rgb(ns.LABEL_COLOURS[name])
    plt.close(fig)
    # stacked along an axis: the stacks of each position add up to 1
    fig = ns.plot_fractions(ns.open(grid3), by="gKd", out=str(tmp_path / "fb.png"))
    heights = {}
    for p in fig.axes[0].patches:
        heights.setdefault(round(p.get_x(), 9), 0.0)
        heights[round(p.get_x(), 9)] += p.get_height()
    assert len(heights) == 3 and all(h == pytest.approx(1.0) for h in heights.values())
    plt.close(fig)


def test_feature_by_label(grid2, tmp_path):
    db = ns.open(grid2)
    df = db.to_pandas()
    fig = ns.plot_feature(db, "rate_hz", by="label", out=str(tmp_path / "r.png"))
    ax = fig.axes[0]
    fin = df[np.isfinite(df["rate_hz"])]
    n = fin.groupby("label", observed=True).size()
    want = [f"{k} (n={int(n[k])})" for k in LABELS if n.get(k, 0) > 0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == want
    assert ax.get_xlabel() == "rate_hz (Hz)" and ax.get_ylabel() == "instances"
    with pytest.raises(KeyError, match="no column 'nope'"):
        ns.plot_feature(db, "nope")
    plt.close(fig)


def test_trace_cells_generalise_to_circuits():
    u = lambda names: {n: ("mV" if n.startswith(("V", "AB.V", "LP.V", "PY.V")) else "uM") for n in names}  # noqa: E731
    assert trace_cells(["V", "Ca", "m_Na"], u(["V", "Ca", "m_Na"])) == [("", "V", "Ca")]
    assert trace_cells(["V_m", "w"], {"V_m": "mV", "w": "pA"}) == [("", "V_m", None)]
    names = ["AB.V", "AB.Ca", "LP.V", "LP.Ca", "PY.V", "PY.Ca"]
    assert trace_cells(names, u(names)) == [("AB", "AB.V", "AB.Ca"), ("LP", "LP.V", "LP.Ca"), ("PY", "PY.V", "PY.Ca")]
    names = ["V_0", "Ca_0", "V_1", "Ca_1"]
    assert trace_cells(names, u(names)) == [("0", "V_0", "Ca_0"), ("1", "V_1", "Ca_1")]


def test_trace_resimulated(grid2, binary, tmp_path):
    db = ns.open(grid2)
    out = tmp_path / "t.png"
    tr = ns.resimulate(db, 9, binary=binary, every_ms=0.5)
    fig = ns.plot_trace(db, 9, binary=binary, every_ms=0.5, out=str(out))
    assert out.stat().st_size > 5000
    assert len(fig.axes) == 2  # V and Ca of the one cell
    assert fig.axes[0].get_ylabel() == "V (mV)" and fig.axes[1].get_ylabel() == "[Ca] (µM)"
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_ydata(), tr.values["V"])
    np.testing.assert_allclose(line.get_xdata(), tr.t / 1000.0)  # drawn in s
    assert "time" in fig.axes[1].get_xlabel() and "(s)" in fig.axes[1].get_xlabel()
    plt.close(fig)


def test_trace_panels_per_cell_for_circuits(grid2, tmp_path):
    """A multi-cell trace (what a circuit model returns) gets one V + Ca panel pair per cell."""
    db = ns.open(grid2)
    t = np.linspace(0, 100, 201)
    vals, units = {}, {}
    for c in ("AB", "LP", "PY"):
        vals[f"{c}.V"], units[f"{c}.V"] = -50 + 10 * np.sin(t / 10), "mV"
        vals[f"{c}.Ca"], units[f"{c}.Ca"] = 0.05 + 0 * t, "uM"
    tr = ns.Trace(9, t, vals, units, db.params_of(9), {}, [])
    fig = ns.plot_trace(db, 9, trace=tr, out=str(tmp_path / "c.png"))
    assert len(fig.axes) == 6
    assert [a.get_ylabel() for a in fig.axes[::2]] == ["AB V (mV)", "LP V (mV)", "PY V (mV)"]
    plt.close(fig)


def test_cli(grid2, tmp_path, capsys, binary):
    out = tmp_path / "cli_map.png"
    assert cli_main([grid2, "--map", "gCaS", "gKd", "-o", str(out)]) == 0
    assert out.stat().st_size > 5000
    assert cli_main([grid2, "--fractions", "-o", str(tmp_path / "a.png")]) == 0
    assert cli_main([grid2, "--feature", "rate_hz", "-o", str(tmp_path / "b.png")]) == 0
    assert cli_main([grid2, "--trace", "9", "--binary", binary, "--window", "0", "3000",
                     "-o", str(tmp_path / "c.png")]) == 0
    for f in ("a.png", "b.png", "c.png"):
        assert (tmp_path / f).stat().st_size > 3000
    capsys.readouterr()
    assert cli_main([str(tmp_path / "missing.h5"), "--fractions"]) == 2
    assert "missing.h5: no such file" in capsys.readouterr().err
    assert cli_main([grid2, "--info"]) == 0
    assert capsys.readouterr().out == ns.open(grid2).info()
    # the installed console script / module entry point
    p = subprocess.run([sys.executable, "-m", "neurosweep.cli", grid2, "--map", "gCaS", "gKd",
                        "-o", str(tmp_path / "m2.png")], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ns.__file__))))
    assert p.returncode == 0, p.stderr
